/* Shared helpers of billing's integration tests (bl_test.h). */
#include "bl_test.h"
#include "st_pg.h"
#include "st_svc.h"
#include "st_test.h"

#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *bl_cli(bl_srv *s, const char *cmd, const char *arg, int *status)
{
    return bl_cli_env(s, "", cmd, arg, status);
}

char *bl_cli_env(bl_srv *s, const char *env, const char *cmd, const char *arg, int *status)
{
    char line[2048];
    snprintf(line, sizeof line, "%s STRATUS_BILLING_DB_URL='%s' '%s' %s %s 2>>'%s'", env,
             s->conninfo, st_svc_bin(ST_SVC_BILLING), cmd, arg ? arg : "", s->log);
    FILE *f = popen(line, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    size_t got;
    while ((got = fread(out + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap)
            out = realloc(out, cap *= 2);
    }
    out[n] = 0;
    int st = pclose(f);
    if (status)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

int bl_srv_launch(bl_srv *s)
{
    const char *sets[20];
    int n = 0;
    for (int i = 0; i < s->nsets && n < 18; i++)
        sets[n++] = s->sets[i];
    sets[n] = NULL;
    st_svc_opts o = {.conninfo = s->conninfo,
                     .dir = s->tmp,
                     .internal_token = BL_TEST_TOKEN,
                     .log_level = "info",
                     .sets = sets};
    return st_svc_start(&s->proc, ST_SVC_BILLING, &o, s->base, NULL);
}

int bl_srv_start(bl_srv *s, const char *tag, const char *const *sets)
{
    memset(s, 0, sizeof *s);
    s->conninfo = st_pg_fresh_db(tag);
    s->tmp = st_tmpdir(tag);
    snprintf(s->port_file, sizeof s->port_file, "%s/billing.port", s->tmp);
    snprintf(s->log, sizeof s->log, "%s/billing.log", s->tmp);
    for (int i = 0; sets && sets[i] && i < 16; i++)
        s->sets[s->nsets++] = sets[i];
    /* samples are posted as the control plane: which node may post what is
     * the gateway's to say (gateway_node_identity) */
    snprintf(s->token, sizeof s->token, "%s", BL_TEST_TOKEN);
    s->pg = st_pg_connect(s->conninfo);
    PQclear(PQexec(s->pg, "SET TIME ZONE 'UTC'"));
    return bl_srv_launch(s);
}

int bl_srv_stop(bl_srv *s)
{
    int rc = 0;
    if (s->proc.pid > 0) {
        int st = st_proc_stop(&s->proc, SIGTERM, 20000);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            /* A sanitizer report or a crash on the way out fails the suite. */
            fprintf(stderr, "stratus-billing exited with status 0x%x\n", st);
            st_proc_dump_log(&s->proc);
            rc = -1;
        }
        s->proc.pid = 0;
    }
    if (s->pg)
        PQfinish(s->pg);
    s->pg = NULL;
    if (s->conninfo) {
        st_pg_drop_db(s->conninfo);
        free(s->conninfo);
        s->conninfo = NULL;
    }
    if (s->tmp) {
        st_rmtree(s->tmp);
        free(s->tmp);
        s->tmp = NULL;
    }
    return rc;
}

void bl_post(bl_srv *s, const char *json, const char *token, st_resp *r)
{
    char url[128];
    snprintf(url, sizeof url, "%s/v1/billing/ingest", s->base);
    st_http(r, "POST", url, token ? token : s->token, json, NULL);
}

void bl_call(bl_srv *s, const char *method, const char *path, const char *tenant, int cloud_admin,
             const char *body, const char *accept, st_resp *r)
{
    char url[1024], th[96], ah[64], acc[128];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    const char *hdrs[6];
    int n = 0;
    if (tenant) {
        snprintf(th, sizeof th, "X-Stratus-Tenant: %s", tenant);
        hdrs[n++] = th;
        hdrs[n++] = "X-Stratus-Role: member";
    }
    snprintf(ah, sizeof ah, "X-Stratus-Cloud-Admin: %s", cloud_admin ? "true" : "false");
    hdrs[n++] = ah;
    if (accept) {
        snprintf(acc, sizeof acc, "Accept: %s", accept);
        hdrs[n++] = acc;
    }
    hdrs[n] = NULL;
    st_http(r, method, url, BL_TEST_TOKEN, body, hdrs);
}

char *bl_sql(bl_srv *s, const char *sql)
{
    return st_pg_scalar(s->pg, sql);
}

long long bl_sql_int(bl_srv *s, const char *sql)
{
    char *v = bl_sql(s, sql);
    long long x = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return x;
}

static void jput(bl_json *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (j->n + (size_t)n + 1 > j->cap) {
        while (j->n + (size_t)n + 1 > j->cap)
            j->cap = j->cap ? j->cap * 2 : 4096;
        j->p = realloc(j->p, j->cap);
    }
    va_start(ap, fmt);
    vsnprintf(j->p + j->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    j->n += (size_t)n;
}

void bl_json_begin(bl_json *j, const char *batch_id)
{
    memset(j, 0, sizeof *j);
    jput(j, "{\"batch_id\":\"%s\",\"samples\":[", batch_id);
}

void bl_json_sample(bl_json *j, const bl_tsample *t)
{
    char at[ST_TIME_LEN], pa[64] = "", nic_b[256] = "";
    st_time_format_us(t->at_us, at);
    if (t->port_a)
        snprintf(pa, sizeof pa, ",\"port_id\":\"%s\"", t->port_a);
    if (t->port_b)
        snprintf(nic_b, sizeof nic_b,
                 ",{\"id\":\"net1\",\"port_id\":\"%s\",\"rx_bytes\":%lld,\"rx_packets\":1,"
                 "\"tx_bytes\":%lld,\"tx_packets\":1}",
                 t->port_b, t->rx_b, t->tx_b);
    jput(j,
         "%s{\"tenant_id\":\"%s\",\"instance_id\":\"%s\",\"flavor\":\"%s\",\"state\":\"%s\","
         "\"boot_id\":\"%s\",\"seq\":%lld,\"sampled_at\":\"%s\",\"counters\":{\"boot_id\":\"%s\","
         "\"vcpus\":[{\"id\":0,\"cpu_time_ns\":%lld,\"cycles\":%lld}],"
         "\"cpu_time_ns_total\":%lld,\"cycles_total\":%lld,"
         "\"nics\":[{\"id\":\"net0\"%s,\"rx_bytes\":%lld,\"rx_packets\":%lld,\"tx_bytes\":%lld,"
         "\"tx_packets\":%lld}%s],\"disks\":[{\"id\":\"disk0\",\"read_bytes\":%lld,\"read_ops\":1,"
         "\"write_bytes\":%lld,\"write_ops\":1}],\"exits\":{\"io\":1}}",
         j->count++ ? "," : "", t->tenant, t->instance, t->flavor ? t->flavor : "m1.small",
         t->state ? t->state : "active", t->boot, t->seq, at, t->boot, t->cpu_ns, t->cycles,
         t->cpu_ns, t->cycles, pa, t->rx, t->rx / 1000, t->tx, t->tx / 1000, nic_b, t->rd, t->wr);
    if (t->disk_bytes)
        jput(j, ",\"disk_bytes\":%lld", t->disk_bytes);
    jput(j, "}");
}

void bl_json_storage(bl_json *j, const char *tenant, int64_t at_us, long long bytes)
{
    char at[ST_TIME_LEN];
    st_time_format_us(at_us, at);
    jput(j,
         "%s{\"kind\":\"storage\",\"tenant_id\":\"%s\",\"sampled_at\":\"%s\",\"image_bytes\":%lld}",
         j->count++ ? "," : "", tenant, at, bytes);
}

const char *bl_json_end(bl_json *j)
{
    jput(j, "]}");
    return j->p;
}

void bl_json_free(bl_json *j)
{
    free(j->p);
    memset(j, 0, sizeof *j);
}

int64_t bl_t(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000000;
}

const char *bl_uuid(void)
{
    static char ring[64][37];
    static int k;
    char *u = ring[k++ % 64];
    st_uuid_v4(u);
    return u;
}

long long bl_rollup_mismatches(bl_srv *s)
{
    return bl_sql_int(
        s, "SELECT (SELECT count(*) FROM (SELECT tenant_id, period, instance_id,"
           "   date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day,"
           "   sum(cpu_time_ns) a, sum(cpu_cycles) b, sum(rx_bytes) c, sum(tx_bytes) d,"
           "   sum(disk_write_ops) e FROM billing.usage_hourly GROUP BY 1, 2, 3, 4) h"
           "  FULL JOIN billing.usage_daily d USING (tenant_id, period, instance_id, day)"
           "  WHERE (h.a, h.b, h.c, h.d, h.e) IS DISTINCT FROM"
           "   (d.cpu_time_ns::numeric, d.cpu_cycles::numeric, d.rx_bytes::numeric,"
           "    d.tx_bytes::numeric, d.disk_write_ops::numeric))"
           " + (SELECT count(*) FROM (SELECT tenant_id, period, instance_id,"
           "   date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day, f AS flavor,"
           "   count(*) AS hours FROM billing.usage_hourly, unnest(flavors) f"
           "   GROUP BY 1, 2, 3, 4, 5) h"
           "  FULL JOIN billing.instance_hours_daily d USING (tenant_id, period, instance_id, day,"
           "   flavor) WHERE h.hours IS DISTINCT FROM d.hours)");
}

/* Python's csv module in strict mode reads the document; it prints the
 * number of data rows and the exact integer sum of the column. */
static const char csv_sum_py[] =
    "import csv, sys\n"
    "rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8'), strict=True))\n"
    "print(len(rows), sum(int(r[sys.argv[2]]) for r in rows))\n";

int bl_csv_sum(const char *csv, size_t len, const char *column, long long *rows, long long *sum)
{
    char *dir = st_tmpdir("billing_csv"), path[512], py[512], cmd[1400];
    snprintf(path, sizeof path, "%s/invoice.csv", dir);
    snprintf(py, sizeof py, "%s/sum.py", dir);
    FILE *f = fopen(path, "wb"), *g = fopen(py, "w");
    int rc = -1;
    if (f && g && fwrite(csv, 1, len, f) == len && fputs(csv_sum_py, g) >= 0) {
        fclose(f);
        fclose(g);
        f = g = NULL;
        snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'", py, path, column);
        FILE *p = popen(cmd, "r");
        if (p) {
            if (fscanf(p, "%lld %lld", rows, sum) == 2)
                rc = 0;
            if (pclose(p) != 0)
                rc = -1;
        }
    }
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    st_rmtree(dir);
    free(dir);
    return rc;
}

static int write_file(const char *path, const char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int bl_ubl_check(const char *xml, size_t xl, const char *json, const char *inv, char *out,
                 size_t outlen)
{
    char *dir = st_tmpdir("billing_ubl"), px[512], pj[512], pi[512], cmd[2200];
    snprintf(px, sizeof px, "%s/doc.xml", dir);
    snprintf(pj, sizeof pj, "%s/doc.json", dir);
    snprintf(pi, sizeof pi, "%s/invoice.json", dir);
    int rc = -1;
    snprintf(out, outlen, "could not run ubl_check.py");
    if (write_file(px, xml, xl) == 0 && write_file(pj, json, strlen(json)) == 0 &&
        (!inv || write_file(pi, inv, strlen(inv)) == 0)) {
        snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s' %s%s%s 2>&1", BL_UBL_CHECK, px, pj,
                 inv ? "'" : "", inv ? pi : "", inv ? "'" : "");
        FILE *p = popen(cmd, "r");
        if (p) {
            size_t n = fread(out, 1, outlen - 1, p);
            out[n] = 0;
            rc = pclose(p) == 0 && strncmp(out, "ok ", 3) == 0 ? 0 : -1;
        }
    }
    st_rmtree(dir);
    free(dir);
    return rc;
}

char *bl_pdf_text(const char *pdf, size_t len)
{
    char *tmp = st_tmpdir("billing_pdf"), path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/invoice.pdf", tmp);
    FILE *f = fopen(path, "wb");
    fwrite(pdf, 1, len, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "pdftotext -layout '%s' - 2>&1", path);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 20, n = 0, got;
    char *text = malloc(cap);
    while ((got = fread(text + n, 1, cap - n - 1, p)) > 0)
        n += got;
    text[n] = 0;
    ST_ASSERT_INT_EQ(pclose(p), 0);
    st_rmtree(tmp);
    free(tmp);
    return text;
}

void bl_assign_plan(bl_srv *s, const char *tenant, const char *plan)
{
    char path[128], body[160];
    st_resp r;
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/plans", tenant);
    snprintf(body, sizeof body, "{\"plan_id\":\"%s\",\"effective_from\":\"2025-01-01T00:00:00Z\"}",
             plan);
    bl_call(s, "POST", path, NULL, 1, body, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 201);
    st_resp_free(&r);
}
