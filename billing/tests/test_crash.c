/* Crash safety: the real stratus-billing is killed with SIGKILL again and
 * again while a sender streams ingest batches and retries each until it is
 * answered 200 (and sometimes sends an answered batch again, as a node does
 * when a reply is lost). Afterwards the usage and the invoice must equal the
 * ground truth exactly: nothing lost, nothing counted twice. Besides the
 * counters, every sample carries its instance's allocated disk (disk_bytes,
 * growing) and every batch an image-storage gauge of the tenant, so the
 * gauges' hourly maxima are checked under the same kills. Every NIC names
 * its port (two ports on even instances), but odd instances begin on an
 * "older node" whose first PORTS_FROM - 1 samples name none, so the per-port
 * bytes, and what stays on the instance's own lines, are checked too. */
#include "bl_test.h"
#include "st_test.h"

#include "stratus/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* MAX_KILLS bounds the test's time on a slow or loaded machine: a restart
 * there can take longer than the 30-100 ms between kills, and an unbounded
 * killer then lets one batch through per restart. Each kill also waits for
 * one more answered batch, so the kills are spread over the stream. */
enum { NINST = 20, NSAMPLES = 150, PER_BATCH = 5, RESET_AT = 80, MAX_KILLS = 40, PORTS_FROM = 11 };

static bl_srv srv;
static char tenant[37], inst[NINST][37], boots[NINST][2][37], ports[NINST][2][37];
static char **batches;
static int nbatches;
static volatile int sender_done;
static int transport_failures, resent, answered;
/* Ground truth of the gauges: the largest value reported in each hour. */
enum { NHOURS = NSAMPLES * 7 / 60 + 2 };
static long long disk_max[NINST][NHOURS], stor_max[NHOURS];

static long long disk_at(int i, int k)
{
    return (long long)(i + 1) * 37 * 1073741824LL + (long long)k * 1000003;
}

/* Counters of instance i after its k-th sample (k from 1); a VMM restart at RESET_AT. */
static long long cycles_at(int i, int k)
{
    return (k > RESET_AT ? k - RESET_AT : k) * (1000000000LL + i * 7919);
}
static long long rx_at(int i, int k)
{
    return (k > RESET_AT ? k - RESET_AT : k) * (3 * 1048576LL + i);
}

static void build_batches(void)
{
    strcpy(tenant, bl_uuid());
    for (int i = 0; i < NINST; i++) {
        strcpy(inst[i], bl_uuid());
        strcpy(boots[i][0], bl_uuid());
        strcpy(boots[i][1], bl_uuid());
        strcpy(ports[i][0], bl_uuid());
        strcpy(ports[i][1], bl_uuid());
    }
    int total = NINST * NSAMPLES;
    batches = calloc((size_t)(total / PER_BATCH + 2), sizeof *batches);
    bl_json j;
    int in = 0;
    int64_t t0 = bl_t(2025, 6, 1, 0, 0, 0);
    for (int k = 1; k <= NSAMPLES; k++) {
        for (int i = 0; i < NINST; i++) {
            int64_t at = t0 + (int64_t)k * 7 * 60 * 1000000 + i * 1000000;
            int hour = (int)((at - t0) / 3600000000LL);
            if (in == 0) {
                bl_json_begin(&j, bl_uuid());
                long long bytes = (100 + k % 7) * 1073741824LL + nbatches;
                bl_json_storage(&j, tenant, at, bytes);
                if (bytes > stor_max[hour])
                    stor_max[hour] = bytes;
            }
            if (disk_at(i, k) > disk_max[i][hour])
                disk_max[i][hour] = disk_at(i, k);
            int second = k > RESET_AT;
            bl_tsample s = {.tenant = tenant,
                            .instance = inst[i],
                            .boot = boots[i][second],
                            .seq = second ? k - RESET_AT : k,
                            .at_us = at,
                            .cycles = cycles_at(i, k),
                            .disk_bytes = disk_at(i, k),
                            .rx = rx_at(i, k),
                            .tx = rx_at(i, k) / 2,
                            .flavor = i % 2 ? "m1.large" : "m1.small"};
            if (!(i % 2) || k >= PORTS_FROM)
                s.port_a = ports[i][0];
            if (!(i % 2)) {
                s.port_b = ports[i][1];
                s.rx_b = rx_at(i, k) / 3;
                s.tx_b = rx_at(i, k) / 5;
            }
            bl_json_sample(&j, &s);
            if (++in == PER_BATCH) {
                batches[nbatches++] = strdup(bl_json_end(&j));
                bl_json_free(&j);
                in = 0;
            }
        }
    }
    if (in) {
        batches[nbatches++] = strdup(bl_json_end(&j));
        bl_json_free(&j);
    }
}

static int post_once(const char *body)
{
    int port = st_read_port(srv.port_file);
    if (!port)
        return -1;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/billing/ingest", port);
    st_resp r;
    st_http(&r, "POST", url, srv.token, body, NULL);
    long st = r.status;
    st_resp_free(&r);
    if (st != 200 && st != 0 && st != 503)
        fprintf(stderr, "crash test: unexpected status %ld\n", st);
    return st == 200 ? 0 : -1;
}

static void *sender(void *arg)
{
    unsigned seed = 42;
    for (int b = 0; b < nbatches; b++) {
        while (post_once(batches[b]) < 0) {
            __atomic_add_fetch(&transport_failures, 1, __ATOMIC_RELAXED);
            usleep(20000);
        }
        /* A node whose reply was lost sends the batch again. */
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 5 == 0) {
            while (post_once(batches[b]) < 0)
                usleep(20000);
            resent++;
        }
        __atomic_add_fetch(&answered, 1, __ATOMIC_RELAXED);
    }
    sender_done = 1;
    return NULL;
}

static int suite_init(void)
{
    static const char *const sets[] = {"retention.raw_days=3650", "http.threads=2", NULL};
    build_batches();
    return bl_srv_start(&srv, "billing_crash", sets);
}

static int suite_clean(void)
{
    for (int i = 0; i < nbatches; i++)
        free(batches[i]);
    free(batches);
    return bl_srv_stop(&srv);
}

static __int128 div_round(__int128 n, __int128 d)
{
    return (2 * n + d) / (2 * d); /* n >= 0 here */
}

/* One traffic line's amount at price micro-units per GiB, rounded to the cent. */
static long long gib_line(long long bytes, long long price)
{
    return (long long)(div_round((__int128)bytes * price, ((__int128)1 << 30) * 10000) * 10000);
}

static long long port_sum(const char *col, const char *port)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT coalesce(sum(%s), 0) FROM billing.port_usage_hourly"
             " WHERE port_id = '%.36s'",
             col, port);
    return bl_sql_int(&srv, q);
}

static void test_kill_9_during_ingest_loses_nothing(void)
{
    /* A plan with prices that make every line's rounding matter. */
    st_resp r;
    bl_call(&srv, "POST", "/v1/billing/plans", NULL, 1,
            "{\"name\":\"flat\",\"default\":true,\"effective_from\":\"2025-01-01T00:00:00Z\","
            "\"prices\":{\"cpu_per_gcycle\":3333,\"rx_per_gib\":12345,\"tx_per_gib\":54321,"
            "\"storage_per_gib_month\":4999,\"instance_hour_default\":7777,"
            "\"disk_per_gib_month\":7001,\"instance_hour\":{\"m1.large\":31111}}}",
            NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 201);
    st_resp_free(&r);

    pthread_t th;
    pthread_create(&th, NULL, sender, NULL);
    unsigned seed = 7;
    int kills = 0;
    while (!sender_done && kills < MAX_KILLS) {
        int a0 = __atomic_load_n(&answered, __ATOMIC_RELAXED);
        while (!sender_done && __atomic_load_n(&answered, __ATOMIC_RELAXED) == a0)
            usleep(5000);
        seed = seed * 1103515245u + 12345u;
        usleep(30000 + (seed >> 8) % 70000);
        if (sender_done)
            break;
        st_proc_stop(&srv.proc, SIGKILL, 1000);
        kills++;
        ST_ASSERT_INT_EQ_FATAL(bl_srv_launch(&srv), 0);
    }
    pthread_join(th, NULL);
    fprintf(stderr, "crash test: %d batches, %d kill -9, %d failed sends retried, %d resent\n",
            nbatches, kills, transport_failures, resent);
    ST_ASSERT_INT_EQ(kills >= 5, 1);
    char *rb = bl_sql(&srv, "SELECT xact_rollback FROM pg_stat_database"
                            " WHERE datname = current_database()");
    fprintf(stderr, "crash test: %s transactions rolled back so far (killed mid-batch)\n",
            rb ? rb : "?");
    free(rb);

    /* Ground truth per instance: the two boots' last counters. */
    long long want_total = 0;
    char q[512];
    for (int i = 0; i < NINST; i++) {
        long long cyc = cycles_at(i, RESET_AT) + cycles_at(i, NSAMPLES);
        /* net0 (port A), and net1 (port B) on even instances */
        long long rx_a = rx_at(i, RESET_AT) + rx_at(i, NSAMPLES);
        long long tx_a = rx_at(i, RESET_AT) / 2 + rx_at(i, NSAMPLES) / 2;
        long long rx_b = i % 2 ? 0 : rx_at(i, RESET_AT) / 3 + rx_at(i, NSAMPLES) / 3;
        long long tx_b = i % 2 ? 0 : rx_at(i, RESET_AT) / 5 + rx_at(i, NSAMPLES) / 5;
        long long rx = rx_a + rx_b, tx = tx_a + tx_b;
        /* odd: up to sample PORTS_FROM no port ids, so no per-port baseline */
        long long own_rx = i % 2 ? rx_at(i, PORTS_FROM) : 0;
        long long own_tx = i % 2 ? rx_at(i, PORTS_FROM) / 2 : 0;
        ST_ASSERT_INT_EQ(port_sum("rx_bytes", ports[i][0]), rx_a - own_rx);
        ST_ASSERT_INT_EQ(port_sum("tx_bytes", ports[i][0]), tx_a - own_tx);
        ST_ASSERT_INT_EQ(port_sum("rx_bytes", ports[i][1]), rx_b);
        ST_ASSERT_INT_EQ(port_sum("tx_bytes", ports[i][1]), tx_b);
        snprintf(q, sizeof q,
                 "SELECT sum(cpu_cycles) FROM billing.usage_hourly WHERE instance_id = '%.36s'",
                 inst[i]);
        ST_ASSERT_INT_EQ(bl_sql_int(&srv, q), cyc);
        snprintf(q, sizeof q,
                 "SELECT sum(rx_bytes) FROM billing.usage_hourly WHERE instance_id = '%.36s'",
                 inst[i]);
        ST_ASSERT_INT_EQ(bl_sql_int(&srv, q), rx);
        snprintf(q, sizeof q,
                 "SELECT sum(tx_bytes) FROM billing.usage_hourly WHERE instance_id = '%.36s'",
                 inst[i]);
        ST_ASSERT_INT_EQ(bl_sql_int(&srv, q), tx);
        /* Instance-hours: the distinct hours its samples fell in. */
        long long hours = 0, last = -1;
        for (int k = 1; k <= NSAMPLES; k++) {
            long long h = ((long long)k * 7 * 60 + i) / 3600;
            if (h != last)
                hours++, last = h;
        }
        long long hp = i % 2 ? 31111 : 7777;
        want_total += (long long)(div_round((__int128)hours * hp, 10000) * 10000);
        want_total +=
            (long long)(div_round((__int128)cyc * 3333, (__int128)1000000000 * 10000) * 10000);
        /* traffic: a line per port, the instance's own lines the rest */
        want_total += gib_line(own_rx, 12345) + gib_line(own_tx, 54321);
        want_total += gib_line(rx_a - own_rx, 12345) + gib_line(tx_a - own_tx, 54321);
        want_total += gib_line(rx_b, 12345) + gib_line(tx_b, 54321);
    }
    /* The gauges: each hour at its largest report, per instance and for images
     * (June 2025: 720 hours in the month). */
    __int128 month = (__int128)720 << 30;
    long long stor_bh = 0;
    for (int h = 0; h < NHOURS; h++)
        stor_bh += stor_max[h];
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT sum(bytes) FROM billing.storage_hourly"), stor_bh);
    want_total += (long long)(div_round((__int128)stor_bh * 4999, month * 10000) * 10000);
    for (int i = 0; i < NINST; i++) {
        long long bh = 0;
        for (int h = 0; h < NHOURS; h++)
            bh += disk_max[i][h];
        snprintf(q, sizeof q,
                 "SELECT sum(bytes) FROM billing.disk_hourly WHERE instance_id = '%.36s'", inst[i]);
        ST_ASSERT_INT_EQ(bl_sql_int(&srv, q), bh);
        want_total += (long long)(div_round((__int128)bh * 7001, month * 10000) * 10000);
    }
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.samples"), NINST * NSAMPLES);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.batches"), nbatches);
    ST_ASSERT_INT_EQ(bl_rollup_mismatches(&srv), 0);

    bl_call(&srv, "GET", "/v1/billing/invoices", tenant, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    json_t *inv = json_array_get(json_object_get(r.json, "invoices"), 0);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "total_micro")), want_total);
    st_resp_free(&r);
}

static CU_TestInfo tests[] = {
    {"kill -9 during a stream of ingest loses and doubles nothing",
     test_kill_9_during_ingest_loses_nothing},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"crash", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    st_log_init("test", ST_LOG_ERROR);
    return st_test_main(argc, argv, suites);
}
