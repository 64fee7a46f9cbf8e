/* Ingest against a real stratus-billing and PostgreSQL: idempotency, counter
 * resets, late and out-of-order samples, instance-hours, storage, malformed
 * batches, who may post, and the tenant usage API's isolation. */
#include "bl_test.h"
#include "st_test.h"

#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bl_srv srv;

static int suite_init(void)
{
    static const char *const sets[] = {"retention.raw_days=3650", NULL};
    return bl_srv_start(&srv, "billing_ingest", sets);
}

static int suite_clean(void)
{
    return bl_srv_stop(&srv);
}

static long long q_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long q_int(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return bl_sql_int(&srv, sql);
}

static long long hour_sum(const char *meter, const char *inst, int64_t hour)
{
    char h[ST_TIME_LEN];
    st_time_format(hour, h);
    return q_int("SELECT coalesce(sum(%s), 0) FROM billing.usage_hourly WHERE instance_id = '%s'"
                 " AND hour = '%s'",
                 meter, inst, h);
}

static long long total(const char *meter, const char *inst)
{
    return q_int("SELECT coalesce(sum(%s), 0) FROM billing.usage_hourly WHERE instance_id = '%s'",
                 meter, inst);
}

static void post_ok(const char *json, st_resp *r)
{
    bl_post(&srv, json, NULL, r);
    st_assert_fmt(r->status == 200, 0, __FILE__, __LINE__, "ingest answered %ld: %s", r->status,
                  r->body ? r->body : "");
}

static long long jint(const st_resp *r, const char *k)
{
    return r->json ? json_integer_value(json_object_get(r->json, k)) : -1;
}

/* A whole database fingerprint of everything ingest writes. */
static char *fingerprint(void)
{
    return bl_sql(
        &srv,
        "SELECT md5(concat("
        " (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM billing.samples t),"
        " (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM billing.streams t),"
        " (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM billing.usage_hourly t),"
        " (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM billing.storage_hourly t)))");
}

static void test_counter_reset_is_a_new_stream(void)
{
    char t[37], i[37], b1[37], b2[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b1, bl_uuid());
    strcpy(b2, bl_uuid());
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    bl_tsample s = {.tenant = t, .instance = i, .boot = b1};
    long long c1[] = {100, 250, 300}, m1[] = {5, 20, 40};
    for (int k = 0; k < 3; k++) {
        s.seq = k + 1, s.at_us = bl_t(2025, 3, 4, 10, m1[k], 0), s.cycles = c1[k],
        s.rx = c1[k] * 10;
        bl_json_sample(&j, &s);
    }
    /* The VMM restarted: a new boot id, counters from zero again. */
    s.boot = b2;
    long long c2[] = {40, 90};
    int64_t at2[] = {bl_t(2025, 3, 4, 10, 50, 0), bl_t(2025, 3, 4, 11, 10, 0)};
    for (int k = 0; k < 2; k++) {
        s.seq = k + 1, s.at_us = at2[k], s.cycles = c2[k], s.rx = c2[k] * 10;
        bl_json_sample(&j, &s);
    }
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 5);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 4, 10, 0, 0)), 300 + 40);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 4, 11, 0, 0)), 50);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), 390);
    ST_ASSERT_INT_EQ(total("rx_bytes", i), 3900);
}

static void test_replayed_batch_changes_nothing(void)
{
    char t[37], i[37], b[37], id[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    strcpy(id, bl_uuid());
    bl_json j;
    bl_json_begin(&j, id);
    bl_tsample s = {.tenant = t, .instance = i, .boot = b};
    for (int k = 0; k < 5; k++) {
        s.seq = k, s.at_us = bl_t(2025, 3, 5, 8 + k, 30, 0), s.cycles = 1000 * (k + 1);
        s.tx = 77 * k;
        bl_json_sample(&j, &s);
    }
    bl_json_storage(&j, t, bl_t(2025, 3, 5, 9, 0, 0), 1 << 30);
    const char *text = bl_json_end(&j);
    st_resp r;
    post_ok(text, &r);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 6);
    st_resp_free(&r);
    char *before = fingerprint();

    post_ok(text, &r); /* the same batch again: a retry after a lost reply */
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(r.json, "replayed")), 1);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 6);
    st_resp_free(&r);
    char *after = fingerprint();
    ST_ASSERT_STR_EQ(after, before);
    free(after);

    /* The same samples under a new batch id: every one is a duplicate. */
    char *again = strdup(text);
    memcpy(strstr(again, id), bl_uuid(), 36);
    post_ok(again, &r);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(r.json, "replayed")), 0);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 1); /* storage gauge: accepted, adds nothing */
    ST_ASSERT_INT_EQ(jint(&r, "duplicates"), 5);
    st_resp_free(&r);
    after = fingerprint();
    ST_ASSERT_STR_EQ(after, before);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), 5000);
    ST_ASSERT_INT_EQ(q_int("SELECT count(*) FROM billing.samples WHERE instance_id = '%s'", i), 5);
    free(after);
    free(again);
    free(before);
    bl_json_free(&j);
}

/* Expected hourly usage of a stream: each delta goes to the later sample's hour. */
typedef struct gen {
    int64_t at;
    long long cyc, rx;
} gen;

static void test_out_of_order_samples_land_in_the_right_hour(void)
{
    enum { N = 40 };
    char t[37], i[37], b[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    gen g[N];
    long long cyc = 0, rx = 0;
    unsigned seed = 12345;
    for (int k = 0; k < N; k++) {
        seed = seed * 1103515245u + 12345u;
        cyc += 1000 + (seed >> 8) % 100000;
        rx += (seed >> 4) % 5000;
        g[k] = (gen){bl_t(2025, 3, 6, 0, 0, 0) + (int64_t)k * 11 * 60 * 1000000, cyc, rx};
    }
    long long want_c[12] = {0}, want_r[12] = {0};
    for (int k = 0; k < N; k++) {
        int h = (int)((g[k].at - bl_t(2025, 3, 6, 0, 0, 0)) / 3600000000LL);
        want_c[h] += g[k].cyc - (k ? g[k - 1].cyc : 0);
        want_r[h] += g[k].rx - (k ? g[k - 1].rx : 0);
    }
    /* Send in a shuffled order, 6 samples a batch, with some sent twice. */
    int order[N + 8];
    for (int k = 0; k < N; k++)
        order[k] = k;
    for (int k = N - 1; k > 0; k--) {
        seed = seed * 1103515245u + 12345u;
        int x = (int)((seed >> 8) % (unsigned)(k + 1)), tmp = order[k];
        order[k] = order[x];
        order[x] = tmp;
    }
    for (int k = 0; k < 8; k++)
        order[N + k] = order[k * 3];
    int sent = 0;
    while (sent < N + 8) {
        bl_json j;
        bl_json_begin(&j, bl_uuid());
        for (int k = 0; k < 6 && sent < N + 8; k++, sent++) {
            const gen *x = &g[order[sent]];
            bl_tsample s = {.tenant = t,
                            .instance = i,
                            .boot = b,
                            .seq = order[sent] + 1,
                            .at_us = x->at,
                            .cycles = x->cyc,
                            .rx = x->rx};
            bl_json_sample(&j, &s);
        }
        st_resp r;
        post_ok(bl_json_end(&j), &r);
        st_resp_free(&r);
        bl_json_free(&j);
    }
    for (int h = 0; h < 12; h++) {
        ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 6, h, 0, 0)), want_c[h]);
        ST_ASSERT_INT_EQ(hour_sum("rx_bytes", i, bl_t(2025, 3, 6, h, 0, 0)), want_r[h]);
    }
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), g[N - 1].cyc);
    ST_ASSERT_INT_EQ(q_int("SELECT count(*) FROM billing.samples WHERE instance_id = '%s'", i), N);
}

static void test_late_sample_moves_usage_between_hours(void)
{
    char t[37], i[37], b[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    bl_tsample s = {.tenant = t, .instance = i, .boot = b};
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    s.seq = 1, s.at_us = bl_t(2025, 3, 7, 10, 10, 0), s.cycles = 100;
    bl_json_sample(&j, &s);
    s.seq = 3, s.at_us = bl_t(2025, 3, 7, 12, 10, 0), s.cycles = 300;
    bl_json_sample(&j, &s);
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 7, 10, 0, 0)), 100);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 7, 12, 0, 0)), 200);

    /* seq 2 arrives late: the 200 between seq 1 and 3 splits 150 / 50. */
    bl_json_begin(&j, bl_uuid());
    s.seq = 2, s.at_us = bl_t(2025, 3, 7, 11, 10, 0), s.cycles = 250;
    bl_json_sample(&j, &s);
    post_ok(bl_json_end(&j), &r);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 1);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 7, 10, 0, 0)), 100);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 7, 11, 0, 0)), 150);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 7, 12, 0, 0)), 50);

    /* seq 0, before everything: it becomes the first sample, counted from zero. */
    bl_json_begin(&j, bl_uuid());
    s.seq = 0, s.at_us = bl_t(2025, 3, 7, 9, 59, 0), s.cycles = 30;
    bl_json_sample(&j, &s);
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 7, 9, 0, 0)), 30);
    ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 7, 10, 0, 0)), 70);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), 300);
}

static void test_late_samples_in_one_gap_chain(void)
{
    char t[37], i[37], b[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    bl_tsample s = {.tenant = t, .instance = i, .boot = b};
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    s.seq = 1, s.at_us = bl_t(2025, 3, 13, 1, 0, 0), s.cycles = 100;
    bl_json_sample(&j, &s);
    s.seq = 10, s.at_us = bl_t(2025, 3, 13, 9, 0, 0), s.cycles = 1000;
    bl_json_sample(&j, &s);
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    /* One batch: three late samples in the gap (1, 10), one of them twice,
     * a repeat of the stored 10, and an append after it. */
    bl_json_begin(&j, bl_uuid());
    long long seqs[] = {7, 3, 5, 5, 10, 11};
    int hours[] = {7, 3, 5, 5, 9, 10};
    long long cyc[] = {700, 300, 500, 500, 1000, 1100};
    for (int k = 0; k < 6; k++) {
        s.seq = seqs[k], s.at_us = bl_t(2025, 3, 13, hours[k], 0, 0), s.cycles = cyc[k];
        bl_json_sample(&j, &s);
    }
    post_ok(bl_json_end(&j), &r);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 4);
    ST_ASSERT_INT_EQ(jint(&r, "duplicates"), 2);
    st_resp_free(&r);
    bl_json_free(&j);
    long long want[] = {0, 100, 0, 200, 0, 200, 0, 200, 0, 300, 100};
    for (int h = 0; h <= 10; h++)
        ST_ASSERT_INT_EQ(hour_sum("cpu_cycles", i, bl_t(2025, 3, 13, h, 0, 0)), want[h]);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), 1100);
}

static void test_instance_hours_by_flavor_and_state(void)
{
    char t[37], i[37], b[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    struct {
        int h, m;
        const char *flavor, *state;
    } sm[] = {
        {10, 10, "m1.small", "active"},  {10, 50, "m1.small", "active"},
        {11, 10, "m1.small", "active"},  {11, 40, "m1.large", "paused"},
        {12, 10, "m1.large", "stopped"}, {13, 5, "m1.large", "building"},
    };
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    for (int k = 0; k < 6; k++) {
        bl_tsample s = {.tenant = t,
                        .instance = i,
                        .boot = b,
                        .seq = k,
                        .at_us = bl_t(2025, 3, 8, sm[k].h, sm[k].m, 0),
                        .flavor = sm[k].flavor,
                        .state = sm[k].state,
                        .cycles = k};
        bl_json_sample(&j, &s);
    }
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    char q[512];
    snprintf(q, sizeof q,
             "SELECT string_agg(to_char(hour, 'HH24') || ':' || f, ','"
             " ORDER BY hour, f) FROM billing.usage_hourly, unnest(flavors) f"
             " WHERE instance_id = '%s'",
             i);
    char *rows = bl_sql(&srv, q);
    ST_ASSERT_STR_EQ(rows, "10:m1.small,11:m1.large,11:m1.small");
    free(rows);
}

static void test_storage_is_billed_at_the_hourly_maximum(void)
{
    char t[37];
    strcpy(t, bl_uuid());
    long long gib = 1LL << 30;
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    bl_json_storage(&j, t, bl_t(2025, 3, 9, 10, 5, 0), 1 * gib);
    bl_json_storage(&j, t, bl_t(2025, 3, 9, 10, 25, 0), 3 * gib);
    bl_json_storage(&j, t, bl_t(2025, 3, 9, 10, 45, 0), 2 * gib);
    bl_json_storage(&j, t, bl_t(2025, 3, 9, 11, 5, 0), 2 * gib);
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT sum(bytes) FROM billing.storage_hourly WHERE tenant_id = '%s'"
             " AND hour = '2025-03-09 10:00+00'",
             t);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, q), 3 * gib);
    /* A later, larger report for that hour raises it; a smaller one does not. */
    bl_json_begin(&j, bl_uuid());
    bl_json_storage(&j, t, bl_t(2025, 3, 9, 10, 55, 0), 5 * gib);
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    bl_json_begin(&j, bl_uuid());
    bl_json_storage(&j, t, bl_t(2025, 3, 9, 10, 56, 0), 4 * gib);
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, q), 5 * gib);
}

static void test_malformed_batches_store_nothing(void)
{
    char *before = fingerprint();
    char t[37], t2[37], i[37], b[37];
    strcpy(t, bl_uuid());
    strcpy(t2, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    bl_json good, future, two;
    bl_tsample s = {.tenant = t,
                    .instance = i,
                    .boot = b,
                    .seq = 1,
                    .at_us = bl_t(2025, 3, 10, 1, 0, 0),
                    .cycles = 10};
    bl_json_begin(&good, bl_uuid());
    bl_json_sample(&good, &s);
    bl_json_end(&good);
    /* A valid sample followed by one from the far future: all refused. */
    bl_json_begin(&future, bl_uuid());
    bl_json_sample(&future, &s);
    s.seq = 2, s.at_us = st_now_us() + 3600LL * 1000000;
    bl_json_sample(&future, &s);
    bl_json_end(&future);
    /* One stream reported for two tenants. */
    bl_json_begin(&two, bl_uuid());
    s.seq = 1, s.at_us = bl_t(2025, 3, 10, 1, 0, 0);
    bl_json_sample(&two, &s);
    s.seq = 2, s.tenant = t2;
    bl_json_sample(&two, &s);
    bl_json_end(&two);
    char truncated[256];
    snprintf(truncated, sizeof truncated, "%.200s", good.p);
    struct {
        const char *body;
        long status;
        const char *code;
    } cases[] = {
        {truncated, 400, "invalid_json"},
        {"{\"batch_id\":\"x\",\"samples\":[]}", 422, "invalid_batch"},
        {"{\"samples\":[{}]}", 422, "invalid_batch"},
        {future.p, 422, "invalid_batch"},
        {two.p, 422, "invalid_batch"},
        {"", 400, "invalid_json"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        st_resp r;
        bl_post(&srv, cases[k].body, NULL, &r);
        st_assert_fmt(r.status == cases[k].status &&
                          strcmp(st_resp_error_code(&r), cases[k].code) == 0,
                      0, __FILE__, __LINE__, "case %zu: %ld %s", k, r.status, r.body);
        st_resp_free(&r);
    }
    char *after = fingerprint();
    ST_ASSERT_STR_EQ(after, before);
    free(after);
    free(before);
    /* And the good batch still goes in afterwards. */
    st_resp r;
    post_ok(good.p, &r);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 1);
    st_resp_free(&r);
    bl_json_free(&good);
    bl_json_free(&future);
    bl_json_free(&two);
}

static void test_samples_older_than_retention_are_stale(void)
{
    char t[37], i[37], b[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    bl_tsample s = {.tenant = t,
                    .instance = i,
                    .boot = b,
                    .seq = 1,
                    .at_us = bl_t(2001, 1, 1, 0, 0, 0),
                    .cycles = 10};
    bl_json_sample(&j, &s);
    s.seq = 2, s.at_us = bl_t(2025, 3, 11, 0, 0, 0), s.cycles = 25;
    bl_json_sample(&j, &s);
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    ST_ASSERT_INT_EQ(jint(&r, "stale"), 1);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 1);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), 25);
}

/* Shaped like a node credential (common/nodeauth.h); no gateway here knows it. */
#define NODE_CRED "stn_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_ingest_needs_a_credential(void)
{
    const char *body = "{\"batch_id\":\"0b8a1f43-5d36-4a2e-9d1c-1f0e2d3c4b5a\",\"samples\":[]}";
    st_resp r;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/billing/ingest", srv.base);
    st_http(&r, "POST", url, NULL, body, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    bl_post(&srv, body, BL_TEST_TOKEN "x", &r);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    /* a node the gateway does not know (here: no gateway at all) */
    bl_post(&srv, body, NODE_CRED, &r);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    /* billing issues no node credentials of its own any more */
    int status;
    char *out = bl_cli(&srv, "node-add", "node-2", &status);
    ST_ASSERT_INT_EQ(status, 2);
    free(out);
    const char *hdr[] = {"Content-Type: text/plain", NULL};
    st_http(&r, "POST", url, srv.token, body, hdr);
    ST_ASSERT_INT_EQ(r.status, 415);
    st_resp_free(&r);
}

static void test_usage_api_shows_only_the_callers_tenant(void)
{
    char a[37], bt[37], i[37], b[37];
    strcpy(a, bl_uuid());
    strcpy(bt, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    for (int k = 0; k < 4; k++) {
        bl_tsample s = {.tenant = a,
                        .instance = i,
                        .boot = b,
                        .seq = k,
                        .at_us = bl_t(2025, 3, 12, 10 + k / 2, 10 + k, 0),
                        .cycles = 1000 * (k + 1),
                        .tx = 10 * (k + 1)};
        bl_json_sample(&j, &s);
    }
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);

    const char *path = "/v1/billing/usage?from=2025-03-12T00:00:00Z&to=2025-03-13T00:00:00Z"
                       "&granularity=hour";
    bl_call(&srv, "GET", path, a, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    json_t *items = json_object_get(r.json, "usage");
    ST_ASSERT_INT_EQ_FATAL(json_array_size(items), 2);
    json_t *h10 = json_array_get(items, 0), *h11 = json_array_get(items, 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(h10, "start")), "2025-03-12T10:00:00Z");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(h10, "cpu_cycles")), 2000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(h11, "cpu_cycles")), 2000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(h11, "instance_hours")), 1);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(r.json, "totals"), "tx_bytes")), 40);
    st_resp_free(&r);

    bl_call(&srv, "GET", "/v1/billing/usage?from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z", a,
            0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "usage")), 1); /* one day */
    json_t *day = json_array_get(json_object_get(r.json, "usage"), 0);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(day, "cpu_cycles")), 4000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(day, "instance_hours")), 2);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(day, "tx_bytes")), 40);
    st_resp_free(&r);

    bl_call(&srv, "GET", path, bt, 0, NULL, NULL, &r); /* another tenant sees nothing */
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "usage")), 0);
    st_resp_free(&r);

    char p2[512];
    snprintf(p2, sizeof p2, "%s&tenant_id=%s", path, a);
    bl_call(&srv, "GET", p2, bt, 0, NULL, NULL, &r); /* naming a tenant needs a cloud admin */
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    bl_call(&srv, "GET", p2, NULL, 1, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "usage")), 2);
    st_resp_free(&r);

    bl_call(&srv, "GET", "/v1/billing/usage?granularity=week", a, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    bl_call(&srv, "GET",
            "/v1/billing/usage?from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z"
            "&granularity=hour",
            a, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    char url[256];
    snprintf(url, sizeof url, "%s/v1/billing/usage", srv.base);
    st_http(&r, "GET", url, NODE_CRED, NULL, NULL); /* a node credential is not the gateway's */
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
}

static void test_daily_rollups_match_the_hourly_ones(void)
{
    /* Everything ingested so far: resets, late samples, flavors, replays. */
    ST_ASSERT_INT_EQ(bl_rollup_mismatches(&srv), 0);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.usage_daily") > 0, 1);
}

/*
 * Retention: a maintenance pass drops raw partitions past the window but
 * keeps the rollups; a late sample whose predecessor aged out is dropped
 * as stale, because the interval it would split is already billed whole.
 */
static void test_retention_drops_raw_samples_keeps_usage(void)
{
    char t[37], i[37], b[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(b, bl_uuid());
    int64_t day = 24 * 3600000000LL, now = st_now_us();
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    bl_tsample s = {
        .tenant = t, .instance = i, .boot = b, .seq = 1, .at_us = now - 420 * day, .cycles = 100};
    bl_json_sample(&j, &s);
    s.seq = 3, s.at_us = now - 200 * day, s.cycles = 300;
    bl_json_sample(&j, &s);
    st_resp r;
    post_ok(bl_json_end(&j), &r);
    st_resp_free(&r);
    bl_json_free(&j);
    char part[64], q[256];
    time_t old = (time_t)((now - 420 * day) / 1000000);
    struct tm tm;
    gmtime_r(&old, &tm);
    snprintf(part, sizeof part, "billing.samples_%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
    snprintf(q, sizeof q, "SELECT to_regclass('%s') IS NOT NULL", part);
    char *v = bl_sql(&srv, q);
    ST_ASSERT_STR_EQ(v, "t");
    free(v);
    int status;
    char *out =
        bl_cli_env(&srv, "STRATUS_BILLING_RETENTION_RAW_DAYS=300", "maintenance", NULL, &status);
    ST_ASSERT_INT_EQ(status, 0);
    free(out);
    v = bl_sql(&srv, q);
    ST_ASSERT_STR_EQ(v, "f"); /* the old month's raw samples are gone */
    free(v);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), 300); /* its usage is not */

    bl_json_begin(&j, bl_uuid());
    s.seq = 2, s.at_us = now - 250 * day, s.cycles = 250;
    bl_json_sample(&j, &s);
    post_ok(bl_json_end(&j), &r);
    ST_ASSERT_INT_EQ(jint(&r, "stale"), 1);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i), 300);

    /* The server made that month's partition once; a sample for it now
     * (inside the server's own window) finds it gone, re-creates it, retries. */
    char i2[37];
    strcpy(i2, bl_uuid());
    bl_json_begin(&j, bl_uuid());
    bl_tsample s2 = {.tenant = t,
                     .instance = i2,
                     .boot = b,
                     .seq = 1,
                     .at_us = now - 420 * day + 3600000000LL,
                     .cycles = 7};
    bl_json_sample(&j, &s2);
    post_ok(bl_json_end(&j), &r);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 1);
    st_resp_free(&r);
    bl_json_free(&j);
    v = bl_sql(&srv, q);
    ST_ASSERT_STR_EQ(v, "t");
    free(v);
    ST_ASSERT_INT_EQ(total("cpu_cycles", i2), 7);
}

/* With auth.gateway_from naming another address, the service token is
 * refused from here: for tenant calls and for samples alike. */
static void test_service_token_only_from_the_gateway(void)
{
    static const char *const sets[] = {"auth.gateway_from=192.0.2.1/32", NULL};
    bl_srv other;
    ST_ASSERT_INT_EQ_FATAL(bl_srv_start(&other, "billing_from", sets), 0);
    st_resp r;
    bl_call(&other, "GET", "/v1/billing/usage", bl_uuid(), 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    bl_post(&other, "{\"batch_id\":\"2b8a1f43-5d36-4a2e-9d1c-1f0e2d3c4b5a\",\"samples\":[]}", NULL,
            &r);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(bl_srv_stop(&other), 0);
}

static CU_TestInfo tests[] = {
    {"a new boot id is a counter reset: nothing lost, nothing twice",
     test_counter_reset_is_a_new_stream},
    {"a replayed or duplicated batch changes nothing", test_replayed_batch_changes_nothing},
    {"out-of-order samples land in the right hour",
     test_out_of_order_samples_land_in_the_right_hour},
    {"a late sample moves usage between hours", test_late_sample_moves_usage_between_hours},
    {"several late samples in one gap chain", test_late_samples_in_one_gap_chain},
    {"instance-hours count billable hours by flavor", test_instance_hours_by_flavor_and_state},
    {"storage is billed at the hourly maximum", test_storage_is_billed_at_the_hourly_maximum},
    {"malformed batches are refused and store nothing", test_malformed_batches_store_nothing},
    {"samples older than the retention window are stale",
     test_samples_older_than_retention_are_stale},
    {"ingest needs a credential", test_ingest_needs_a_credential},
    {"the service token is refused from addresses other than the gateway's",
     test_service_token_only_from_the_gateway},
    {"the usage API shows only the caller's tenant", test_usage_api_shows_only_the_callers_tenant},
    {"daily rollups match the hourly ones", test_daily_rollups_match_the_hourly_ones},
    {"retention drops raw samples and keeps usage", test_retention_drops_raw_samples_keeps_usage},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"ingest", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    st_log_init("test", ST_LOG_ERROR);
    return st_test_main(argc, argv, suites);
}
