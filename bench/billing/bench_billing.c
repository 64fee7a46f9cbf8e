/*
 * bench_billing.c - stratus-billing ingest beside PostgreSQL's COPY, and the
 * time to render one tenant's monthly invoice with 1,000 instances.
 *
 *   bench_billing ADMIN_CONNINFO STRATUS_BILLING [SAMPLES] [INSTANCES] [PER_BATCH]
 *                 [STREAMS] [CADENCE_S]
 *
 * Two cases, each in a fresh database of the same cluster:
 *   1. SAMPLES (1,000,000) cumulative samples of INSTANCES (1,000)
 *      instances of one tenant, one every CADENCE_S (10) seconds per
 *      instance, as a node agent sends them;
 *   2. the same number spread evenly over last month: every sample opens a
 *      new instance-hour, the most rollup work a sample can cause.
 * Every sample carries 2 vCPUs, a NIC and a disk as the VMM reports them.
 * Batches hold PER_BATCH samples (1,000): STREAMS instances (100) x
 * PER_BATCH/STREAMS consecutive samples each.
 *   peer: one COPY of the same rows, same columns, into a twin of
 *         billing.samples (same primary key, same monthly partition);
 *   ours: the real stratus-billing; 4 client threads post every batch over
 *         HTTP with a node token, timed from the first request to the last 200.
 * Then the invoice of case 2's tenant for that month (1,000 instances, ~720,000
 * hourly rows, ~4,000 lines): the draft rated and rendered live in each
 * format, issuing the month, and the issued PDF as stored. Nothing here
 * asserts speed; it prints ours beside the peer.
 */
#include "billing.h"
#include "rating.h"
#include "stratus/httpc.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
static int CLIENTS = 4;                  /* BENCH_CLIENTS overrides */
static const char *server_threads = "4"; /* BENCH_SERVER_THREADS overrides */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void bput(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)n + 1 > b->cap) {
        b->cap = (b->n + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static PGconn *connect_or_die(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect %s: %s", ci, PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* ---- The data set ---- */

static long nsamples = 1000000, ninst = 1000, per_batch = 1000, streams = 100;
static char tenant[37], (*inst)[37], (*boot)[37], (*nic_port)[37];
static char **bodies;
static long nbodies;
static buf copy_rows;

static int64_t cadence_us;  /* time between two samples of an instance */
static int64_t month_start; /* last month, the one every sample is in */
static char month_text[8], month_date[11], next_date[11];

static int64_t sample_time(long k) /* k from 0 */
{
    return month_start + cadence_us * k + 1000000; /* from the 1st, 00:00:01 */
}

static void sample_json(buf *b, long i, long k, int first)
{
    long long c = (long long)(k + 1);
    char at[ST_TIME_LEN];
    st_time_format_us(sample_time(k), at);
    bput(b,
         "%s{\"tenant_id\":\"%s\",\"instance_id\":\"%s\",\"flavor\":\"m1.small\",\"state\":"
         "\"active\",\"boot_id\":\"%s\",\"seq\":%lld,\"sampled_at\":\"%s\",\"counters\":{"
         "\"boot_id\":\"%s\",\"vcpus\":[{\"id\":0,\"cpu_time_ns\":%lld,\"cycles\":%lld},"
         "{\"id\":1,\"cpu_time_ns\":%lld,\"cycles\":%lld}],\"cpu_time_ns_total\":%lld,"
         "\"cycles_total\":%lld,\"nics\":[{\"id\":\"net0\",\"port_id\":\"%s\",\"rx_bytes\":%lld,"
         "\"rx_packets\":%lld,"
         "\"tx_bytes\":%lld,\"tx_packets\":%lld}],\"disks\":[{\"id\":\"disk0\",\"read_bytes\":%lld,"
         "\"read_ops\":%lld,\"write_bytes\":%lld,\"write_ops\":%lld}],\"exits\":{\"io\":%lld,"
         "\"mmio\":%lld,\"hlt\":%lld}}}",
         first ? "" : ",", tenant, inst[i], boot[i], c, at, boot[i], c * 1000000000, c * 2900000000,
         c * 900000000, c * 2600000000, c * 1900000000, c * 5500000000, nic_port[i], c * 52428800,
         c * 4000, c * 10485760, c * 2000, c * 4096000, c * 100, c * 8192000, c * 200, c * 50,
         c * 70, c * 900);
    /* The same row for COPY, in billing.samples column order (the NIC's port last). */
    bput(&copy_rows,
         "%s\t%s\t%lld\t%s\t%s\tm1.small\tactive\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld"
         "\t%lld\t%lld\t%s\t{%s}\t{%lld}\t{%lld}\n",
         inst[i], boot[i], c, at, tenant, c * 1900000000, c * 5500000000, c * 52428800, c * 4000,
         c * 10485760, c * 2000, c * 4096000, c * 100, c * 8192000, c * 200, inst[0], nic_port[i],
         c * 52428800, c * 10485760);
}

static void generate(void)
{
    for (long i = 0; i < nbodies; i++)
        free(bodies[i]);
    free(bodies);
    free(copy_rows.p);
    copy_rows = (buf){0};
    nbodies = 0;
    free(inst);
    free(boot);
    free(nic_port);
    st_uuid_v4(tenant);
    inst = calloc((size_t)ninst, sizeof *inst);
    boot = calloc((size_t)ninst, sizeof *boot);
    nic_port = calloc((size_t)ninst, sizeof *nic_port);
    for (long i = 0; i < ninst; i++) {
        st_uuid_v4(inst[i]);
        st_uuid_v4(boot[i]);
        st_uuid_v4(nic_port[i]);
    }
    long per = nsamples / ninst, rounds = per_batch / streams;
    bodies = calloc((size_t)(nsamples / per_batch + ninst + 2), sizeof *bodies);
    /* Walk time forward: for each slice of `rounds` samples, every group of
     * `streams` instances makes one batch. */
    for (long k0 = 0; k0 < per; k0 += rounds) {
        for (long g = 0; g < ninst; g += streams) {
            buf b = {0};
            char id[37];
            st_uuid_v4(id);
            bput(&b, "{\"batch_id\":\"%s\",\"samples\":[", id);
            int first = 1;
            for (long i = g; i < g + streams && i < ninst; i++)
                for (long k = k0; k < k0 + rounds && k < per; k++, first = 0)
                    sample_json(&b, i, k, first);
            bput(&b, "]}");
            bodies[nbodies++] = b.p;
        }
    }
}

/* ---- The peer: COPY ---- */

static double run_copy(const char *ci)
{
    PGconn *c = connect_or_die(ci);
    exec_or_die(c, "CREATE TABLE copy_samples (LIKE billing.samples INCLUDING DEFAULTS)"
                   " PARTITION BY RANGE (sampled_at)");
    exec_or_die(c,
                "ALTER TABLE copy_samples ADD PRIMARY KEY (instance_id, boot_id, seq, sampled_at)");
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TABLE copy_samples_m PARTITION OF copy_samples"
             " FOR VALUES FROM ('%s 00:00+00') TO ('%s 00:00+00')",
             month_date, next_date);
    exec_or_die(c, sql);
    double t0 = now_s();
    PGresult *r = PQexec(c, "COPY copy_samples FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("COPY: %s", PQerrorMessage(c));
    PQclear(r);
    const size_t chunk = 1 << 20;
    for (size_t off = 0; off < copy_rows.n; off += chunk) {
        size_t n = copy_rows.n - off < chunk ? copy_rows.n - off : chunk;
        if (PQputCopyData(c, copy_rows.p + off, (int)n) != 1)
            die("COPY data: %s", PQerrorMessage(c));
    }
    if (PQputCopyEnd(c, NULL) != 1)
        die("COPY end: %s", PQerrorMessage(c));
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("COPY: %s", PQerrorMessage(c));
    PQclear(r);
    double t = now_s() - t0;
    exec_or_die(c, "DROP TABLE copy_samples");
    PQfinish(c);
    return t;
}

/* ---- Ours: HTTP ingest ---- */

static char base[64], post_token[200];
static long next_body;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* One call through the internal client (common's httpc.h); out must be freed. */
static long http(const char *method, const char *path, const char *token, const char *const *hdrs,
                 const char *body, st_httpc_resp *out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    st_httpc_req q = {.method = method,
                      .url = url,
                      .bearer = token,
                      .headers = hdrs,
                      .body = body,
                      .body_len = body ? strlen(body) : 0,
                      .timeout_ms = 300000,
                      .max_body = (size_t)1 << 30};
    char err[512];
    long st = st_httpc(&q, out, err, sizeof err);
    if (!st)
        fprintf(stderr, "%s\n", err);
    return st;
}

static void *client(void *arg)
{
    for (;;) {
        pthread_mutex_lock(&mu);
        long i = next_body < nbodies ? next_body++ : -1;
        pthread_mutex_unlock(&mu);
        if (i < 0)
            break;
        st_httpc_resp out;
        long st = http("POST", "/v1/billing/ingest", post_token, NULL, bodies[i], &out);
        if (st != 200)
            die("ingest answered %ld: %s", st, out.body);
        st_httpc_resp_free(&out);
    }
    return NULL;
}

static pid_t start_billing(const char *bin, const char *ci, const char *dir)
{
    char pf[256], log[256];
    snprintf(pf, sizeof pf, "%s/port", dir);
    snprintf(log, sizeof log, "%s/billing.log", dir);
    unlink(pf);
    char threads_set[64];
    snprintf(threads_set, sizeof threads_set, "http.threads=%s", server_threads);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("STRATUS_BILLING_DB_URL", ci, 1);
        freopen(log, "a", stderr);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--port-file", pf, "--set",
              "http.access_log=false", "--set", "auth.internal_token=bench", "--set",
              "maintenance.interval=0", "--set", threads_set, "--set", "db.pool_size=16", "--set",
              "log.level=warn", "serve", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        FILE *f = fopen(pf, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port) {
            snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
            usleep(100000);
            return pid;
        }
        usleep(50000);
    }
    die("stratus-billing did not start (see %s)", log);
    return -1;
}

static double timed_get(const char *path, size_t *bytes)
{
    static const char *const hdrs[] = {"X-Stratus-Cloud-Admin: true", NULL};
    st_httpc_resp out;
    double t0 = now_s();
    long st = http("GET", path, "bench", hdrs, NULL, &out);
    double t = now_s() - t0;
    if (st != 200)
        die("GET %s: %ld %s", path, st, out.body);
    *bytes = out.len;
    st_httpc_resp_free(&out);
    return t;
}

typedef struct result {
    double copy, ingest;
    long hourly, ihours;
    size_t json_bytes;
} result;

static const char *admin_ci, *bin;
static char ci[512];
static pid_t pid;
static char dir[] = "/tmp/stratus-bench-billing.XXXXXX";

/* A fresh database, COPY of the rows, then stratus-billing ingesting them. */
static void run_case(const char *db_name, result *res)
{
    fprintf(stderr, "%s: generating %ld samples, one every %lld s per instance...\n", db_name,
            nsamples, (long long)(cadence_us / 1000000));
    generate();
    res->json_bytes = 0;
    for (long i = 0; i < nbodies; i++)
        res->json_bytes += strlen(bodies[i]);
    PGconn *admin = connect_or_die(admin_ci);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
    exec_or_die(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
    exec_or_die(admin, sql);
    PQfinish(admin);
    snprintf(ci, sizeof ci, "%s dbname=%s", admin_ci, db_name);

    /* The schema, through the CLI's migrations. Batches are posted as the
     * control plane (the internal token): a node's batches add one
     * placement query to the gateway's functions, which this database
     * does not have. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "STRATUS_BILLING_DB_URL='%s' STRATUS_BILLING_LOG_LEVEL=warn "
             "'%s' migrate",
             ci, bin);
    if (system(cmd) != 0)
        die("migrate failed");
    snprintf(post_token, sizeof post_token, "bench");
    PGconn *db = connect_or_die(ci);
    snprintf(sql, sizeof sql, "SELECT billing.ensure_partitions(ARRAY['%s'::date, '%s'::date])",
             month_date, next_date);
    exec_or_die(db, sql);

    fprintf(stderr, "%s: COPY of the same rows...\n", db_name);
    res->copy = run_copy(ci);
    exec_or_die(db, "CHECKPOINT");

    pid = start_billing(bin, ci, dir);
    st_httpc_resp out;
    static const char *const admin_hdrs[] = {"X-Stratus-Cloud-Admin: true", NULL};
    if (http("POST", "/v1/billing/plans", "bench", admin_hdrs,
             "{\"name\":\"standard\",\"default\":true,\"effective_from\":\"2026-01-01T00:00:00Z\","
             "\"prices\":{\"cpu_per_gcycle\":2000,\"rx_per_gib\":10000,\"tx_per_gib\":90000,"
             "\"storage_per_gib_month\":20000,\"instance_hour_default\":12000}}",
             &out) != 201)
        die("plan: %s", out.body);
    st_httpc_resp_free(&out);

    fprintf(stderr, "%s: ingest over HTTP...\n", db_name);
    next_body = 0;
    pthread_t th[MAX_CLIENTS];
    double t0 = now_s();
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&th[i], NULL, client, NULL);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    res->ingest = now_s() - t0;

    PGresult *r = PQexec(db, "SELECT (SELECT count(*) FROM billing.samples),"
                             " (SELECT count(*) FROM billing.usage_hourly),"
                             " (SELECT sum(cardinality(flavors)) FROM billing.usage_hourly)");
    long stored = atol(PQgetvalue(r, 0, 0));
    res->hourly = atol(PQgetvalue(r, 0, 1));
    res->ihours = atol(PQgetvalue(r, 0, 2));
    PQclear(r);
    PQfinish(db);
    if (stored != nsamples)
        die("stored %ld samples, sent %ld", stored, nsamples);
}

static void stop_billing(void)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void print_case(const char *what, const result *r)
{
    printf("\n%s\n", what);
    printf("  data: %ld samples = %ld instances x %ld, %ld batches of %ld (%ld instances x %ld "
           "samples), %.0f MB of JSON, %d HTTP clients, %s server threads\n",
           nsamples, ninst, nsamples / ninst, nbodies, per_batch, streams, per_batch / streams,
           (double)r->json_bytes / 1e6, CLIENTS, server_threads);
    printf("  %-36s %8.2f s  %9.0f samples/s\n", "COPY into a billing.samples twin:", r->copy,
           (double)nsamples / r->copy);
    printf("  %-36s %8.2f s  %9.0f samples/s  = %.0f%% of COPY (target >= 30%%)\n",
           "stratus-billing POST /ingest:", r->ingest, (double)nsamples / r->ingest,
           100.0 * r->copy / r->ingest);
    printf("  (ingest also wrote %ld hourly rollup rows and %ld instance-hours)\n", r->hourly,
           r->ihours);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage: bench_billing ADMIN_CONNINFO STRATUS_BILLING [SAMPLES] [INSTANCES] "
            "[PER_BATCH] [STREAMS] [CADENCE_S]");
    admin_ci = argv[1];
    bin = argv[2];
    long cadence_s = 10;
    if (argc > 3)
        nsamples = atol(argv[3]);
    if (argc > 4)
        ninst = atol(argv[4]);
    if (argc > 5)
        per_batch = atol(argv[5]);
    if (argc > 6)
        streams = atol(argv[6]);
    if (argc > 7)
        cadence_s = atol(argv[7]);
    if (ninst < 1 || streams < 1 || per_batch < streams || nsamples < ninst || cadence_s < 1)
        die("bad sizes");
    if (getenv("BENCH_CLIENTS"))
        CLIENTS = atoi(getenv("BENCH_CLIENTS"));
    if (CLIENTS < 1 || CLIENTS > MAX_CLIENTS)
        die("BENCH_CLIENTS must be 1..%d", MAX_CLIENTS);
    if (getenv("BENCH_SERVER_THREADS"))
        server_threads = getenv("BENCH_SERVER_THREADS");
    month_start = bl_month_add(bl_month_floor(st_now_us()), -1);
    bl_month_format(month_start, month_text);
    bl_date_format(month_start, month_date);
    bl_date_format(bl_month_add(month_start, 1), next_date);
    if (!mkdtemp(dir))
        die("mkdtemp");

    /* 1. A node's cadence: every instance sampled every few seconds. */
    result live;
    cadence_us = cadence_s * 1000000LL;
    run_case("bench_billing_live", &live);
    stop_billing();

    /* 2. The same number of samples spread over all of last month: every sample
     * opens a new instance-hour (the most rollup work per sample), and the
     * month the invoice is rendered from. */
    result month;
    cadence_us = (bl_month_add(month_start, 1) - month_start) / (nsamples / ninst);
    run_case("bench_billing_month", &month);

    char id[37], path[256];
    bl_invoice_id(tenant, month_start, id);
    static const char *const fmts[] = {"json", "csv", "html", "pdf"};
    static const char *const admin_hdrs[] = {"X-Stratus-Cloud-Admin: true", NULL};
    double t_fmt[4];
    size_t bytes[4];
    for (int f = 0; f < 4; f++) {
        snprintf(path, sizeof path, "/v1/billing/invoices/%s?format=%s&tenant_id=%s", id, fmts[f],
                 tenant);
        t_fmt[f] = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            double t = timed_get(path, &bytes[f]);
            if (t < t_fmt[f])
                t_fmt[f] = t;
        }
    }
    st_httpc_resp out;
    double t0 = now_s();
    snprintf(path, sizeof path, "/v1/billing/periods/%s/issue", month_text);
    if (http("POST", path, "bench", admin_hdrs, "", &out) != 201)
        die("issue: %s", out.body);
    double t_issue = now_s() - t0;
    st_httpc_resp_free(&out);
    size_t pdf_bytes;
    snprintf(path, sizeof path, "/v1/billing/invoices/%s?format=pdf&tenant_id=%s", id, tenant);
    double t_issued_pdf = timed_get(path, &pdf_bytes);
    PGconn *db = connect_or_die(ci);
    PGresult *r = PQexec(db, "SELECT jsonb_array_length(doc_json::jsonb -> 'lines'),"
                             " (SELECT count(*) FROM billing.usage_hourly) FROM billing.invoices");
    long lines = PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : -1;
    long rows = PQntuples(r) ? atol(PQgetvalue(r, 0, 1)) : -1;
    PQclear(r);
    PQfinish(db);
    stop_billing();

    printf("\nstratus-billing ingest vs PostgreSQL COPY: same rows, same cluster, same run\n");
    char what[128];
    snprintf(what, sizeof what, "1. a sample every %ld s per instance (a node's cadence)",
             cadence_s);
    print_case(what, &live);
    print_case("2. samples spread over a month (every sample a new instance-hour: worst case)",
               &month);
    printf("\none tenant's invoice for %s from case 2: %ld instances, %ld hourly rows, %ld lines"
           " (best of 3, over HTTP)\n",
           month_text, ninst, rows, lines);
    for (int f = 0; f < 4; f++)
        printf("  draft %-4s rated and rendered live:  %6.3f s  (%zu bytes)   target < 1 s\n",
               fmts[f], t_fmt[f], bytes[f]);
    printf("  issue the month (rate, render 4 formats, store): %.3f s\n", t_issue);
    printf("  issued pdf, as stored:                %6.3f s  (%zu bytes)\n", t_issued_pdf,
           pdf_bytes);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
