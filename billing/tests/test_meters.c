/* The meters beside instance time and traffic, against a real
 * stratus-billing and PostgreSQL: allocated instance disk (disk_bytes in a
 * node's instance samples) and image storage (the control plane's storage
 * gauges), each accepted, kept at its hourly maximum, not counted twice on
 * a replay, shown in the usage API, and priced on a hand-computed month.
 *
 * The month (June 2025, 720 hours) priced by hand:
 *   instance i, disk 20 GiB for 50 hours (06-02 00:00 .. 06-04 01:59, a
 *   sample at :10 and :40 of each hour), then resized to 30 GiB for 10 hours:
 *   20 x 50 + 30 x 10 = 1300 GiB-hours = 1300/720 GiB-months at 0.08 EUR
 *   (80000 micro) = 144444.44... micro -> 0.14 EUR (140000 micro);
 *   images: 10 GiB for 100 hours = 1000/720 GiB-months at 0.05 EUR (50000
 *   micro) = 69444.44... micro -> 0.07 EUR (70000 micro);
 *   instance hours: 60 at 0.01 (10000 micro) = 600000 micro.
 * Net 810000 micro; no tax configured.
 *
 * Network bytes per port (July 2025), priced by hand: rx 12345 micro per
 * GiB, tx 90000; instance I has ports A (net0) and B (net1), instance J an
 * older node's NIC without a port id.
 *   I boot 1, 07-01 (seq: hour: A rx/tx, B rx/tx in GiB, cumulative):
 *     1: 10:10: 1/2, 0/0.5   2: 10:40: 3/2, 1/1.5   3: 11:10: 4/5, 1/2
 *     (sent 1 and 3, then 2 late: hour 10 of A goes from rx 1 to 3)
 *   I boot 2 (a VMM restart), 12:10: A 0.5/0.25 (counted from zero)
 *   I boot 3, 13:10 (no port ids): net0 1/1; 13:40: A 3/2 (no baseline:
 *     not per port); 14:10: A 4/4 (A +1/+2)
 *   J, 13:10, no port ids: 2/1.
 *   Port A: rx 4 + 0.5 + 1 = 5.5 GiB -> 67897.5 -> 0.07; tx 5 + 0.25 + 2
 *     = 7.25 GiB -> 652500 -> 0.65.  Port B: rx 1 -> 12345 -> 0.01; tx 2 ->
 *     0.18.  I's own lines keep the rest of its totals (rx 5 + 0.5 + 4 =
 *     9.5, tx 7 + 0.25 + 4 = 11.25): rx 3 GiB -> 37035 -> 0.04, tx 2 GiB ->
 *     0.18.  J: rx 2 -> 24690 -> 0.02, tx 1 -> 0.09.
 *   Net 0.04 + 0.18 + 0.07 + 0.65 + 0.01 + 0.18 + 0.02 + 0.09 = 1.24. */
#include "bl_test.h"
#include "st_test.h"

#include "stratus/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1LL << 30)
#define HOUR (3600LL * 1000000)
#define MIN (60LL * 1000000)

static bl_srv srv;

static int suite_init(void)
{
    static const char *const sets[] = {"retention.raw_days=3650", NULL};
    return bl_srv_start(&srv, "billing_meters", sets);
}

static int suite_clean(void)
{
    return bl_srv_stop(&srv);
}

static void post(const char *json, long want, st_resp *r)
{
    bl_post(&srv, json, NULL, r);
    st_assert_fmt(r->status == want, 0, __FILE__, __LINE__, "ingest answered %ld (want %ld): %s",
                  r->status, want, r->body ? r->body : "");
}

static long long jint(const st_resp *r, const char *k)
{
    return r->json ? json_integer_value(json_object_get(r->json, k)) : -1;
}

static long long disk_at(const char *inst, const char *hour)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT coalesce(sum(bytes), 0) FROM billing.disk_hourly WHERE instance_id = '%s'"
             " AND hour = '%s'",
             inst, hour);
    return bl_sql_int(&srv, q);
}

static void test_disk_is_billed_at_the_hourly_maximum_per_instance(void)
{
    char t[37], i1[37], i2[37], b1[37], b2[37], id[37];
    strcpy(t, bl_uuid());
    strcpy(i1, bl_uuid());
    strcpy(i2, bl_uuid());
    strcpy(b1, bl_uuid());
    strcpy(b2, bl_uuid());
    strcpy(id, bl_uuid());
    int64_t h10 = bl_t(2025, 3, 9, 10, 0, 0);
    bl_tsample s[] = {
        {.tenant = t,
         .instance = i1,
         .boot = b1,
         .seq = 1,
         .at_us = h10 + 5 * MIN,
         .disk_bytes = 10 * GIB},
        {.tenant = t,
         .instance = i1,
         .boot = b1,
         .seq = 2,
         .at_us = h10 + 35 * MIN,
         .disk_bytes = 20 * GIB}, /* resized within the hour */
        {.tenant = t,
         .instance = i1,
         .boot = b1,
         .seq = 3,
         .at_us = h10 + 65 * MIN,
         .disk_bytes = 20 * GIB},
        {.tenant = t,
         .instance = i2,
         .boot = b2,
         .seq = 1,
         .at_us = h10 + 20 * MIN,
         .disk_bytes = 5 * GIB},
    };
    bl_json j;
    bl_json_begin(&j, id);
    for (size_t k = 0; k < sizeof s / sizeof *s; k++)
        bl_json_sample(&j, &s[k]);
    st_resp r;
    post(bl_json_end(&j), 200, &r);
    ST_ASSERT_INT_EQ(jint(&r, "accepted"), 4);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(disk_at(i1, "2025-03-09 10:00+00"), 20 * GIB);
    ST_ASSERT_INT_EQ(disk_at(i1, "2025-03-09 11:00+00"), 20 * GIB);
    ST_ASSERT_INT_EQ(disk_at(i2, "2025-03-09 10:00+00"), 5 * GIB);
    /* the same batch again (a node's retry after a lost answer): a replay */
    post(j.p, 200, &r);
    ST_ASSERT_INT_EQ(r.json && json_is_true(json_object_get(r.json, "replayed")), 1);
    st_resp_free(&r);
    bl_json_free(&j);
    /* the same samples under a new batch id: duplicates, nothing added */
    bl_json_begin(&j, bl_uuid());
    for (size_t k = 0; k < sizeof s / sizeof *s; k++)
        bl_json_sample(&j, &s[k]);
    post(bl_json_end(&j), 200, &r);
    ST_ASSERT_INT_EQ(jint(&r, "duplicates"), 4);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(disk_at(i1, "2025-03-09 10:00+00"), 20 * GIB);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.disk_hourly"), 3);
    /* a new boot (VMM restart) with a smaller disk in hour 10 lowers nothing;
     * a larger one raises it */
    char b3[37];
    strcpy(b3, bl_uuid());
    bl_tsample lo = {.tenant = t,
                     .instance = i1,
                     .boot = b3,
                     .seq = 1,
                     .at_us = h10 + 50 * MIN,
                     .disk_bytes = 15 * GIB};
    bl_json_begin(&j, bl_uuid());
    bl_json_sample(&j, &lo);
    post(bl_json_end(&j), 200, &r);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(disk_at(i1, "2025-03-09 10:00+00"), 20 * GIB);
    bl_tsample hi = {.tenant = t,
                     .instance = i1,
                     .boot = b3,
                     .seq = 2,
                     .at_us = h10 + 55 * MIN,
                     .disk_bytes = 40 * GIB};
    bl_json_begin(&j, bl_uuid());
    bl_json_sample(&j, &hi);
    post(bl_json_end(&j), 200, &r);
    st_resp_free(&r);
    bl_json_free(&j);
    ST_ASSERT_INT_EQ(disk_at(i1, "2025-03-09 10:00+00"), 40 * GIB);
    /* the usage API: per instance and hour, and the total */
    char path[256];
    snprintf(path, sizeof path,
             "/v1/billing/usage?from=2025-03-09T00:00:00Z&to=2025-03-10T00:00:00Z"
             "&granularity=hour");
    bl_call(&srv, "GET", path, t, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    json_t *d = json_object_get(r.json, "disks");
    ST_ASSERT_INT_EQ(json_array_size(d), 3);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(r.json, "totals"), "disk_byte_hours")),
        65 * GIB);
    st_resp_free(&r);
    snprintf(path, sizeof path,
             "/v1/billing/usage?from=2025-03-09T00:00:00Z&to=2025-03-10T00:00:00Z"
             "&granularity=day&instance_id=%s",
             i2);
    bl_call(&srv, "GET", path, t, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    d = json_object_get(r.json, "disks");
    ST_ASSERT_INT_EQ(json_array_size(d), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(d, 0), "instance_id")), i2);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(json_array_get(d, 0), "byte_hours")),
                     5 * GIB);
    st_resp_free(&r);
    /* another tenant sees none of it */
    bl_call(&srv, "GET",
            "/v1/billing/usage?from=2025-03-09T00:00:00Z&to=2025-03-10T00:00:00Z"
            "&granularity=hour",
            bl_uuid(), 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "disks")), 0);
    st_resp_free(&r);
}

static void test_disk_bytes_is_validated(void)
{
    char at[] = "2025-03-09T10:00:00Z";
    char body[1024];
    const char *fmt =
        "{\"batch_id\":\"%s\",\"samples\":[{\"tenant_id\":\"%s\",\"instance_id\":\"%s\","
        "\"flavor\":\"m1.small\",\"state\":\"active\",\"boot_id\":\"%s\",\"seq\":1,"
        "\"sampled_at\":\"%s\",\"counters\":{\"cpu_time_ns_total\":1,\"cycles_total\":1},"
        "\"disk_bytes\":%s}]}";
    const char *bad[] = {"-1", "1.5", "\"10\"", "null", "9223372036854775808"};
    long long before = bl_sql_int(&srv, "SELECT count(*) FROM billing.batches");
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char id[37], t[37], i[37], b[37];
        strcpy(id, bl_uuid());
        strcpy(t, bl_uuid());
        strcpy(i, bl_uuid());
        strcpy(b, bl_uuid());
        snprintf(body, sizeof body, fmt, id, t, i, b, at, bad[k]);
        st_resp r;
        post(body, 422, &r);
        ST_ASSERT_INT_EQ(r.body && strstr(r.body, "disk_bytes") != NULL, 1);
        st_resp_free(&r);
    }
    /* a storage gauge carries image_bytes, never disk_bytes */
    char id[37], t[37];
    strcpy(id, bl_uuid());
    strcpy(t, bl_uuid());
    snprintf(body, sizeof body,
             "{\"batch_id\":\"%s\",\"samples\":[{\"kind\":\"storage\",\"tenant_id\":\"%s\","
             "\"sampled_at\":\"%s\",\"image_bytes\":1,\"disk_bytes\":1}]}",
             id, t, at);
    st_resp r;
    post(body, 422, &r);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, "disk_bytes") != NULL, 1);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.batches"), before);
}

static void test_disk_and_images_priced_to_the_cent(void)
{
    char t[37], inst[37], boot[37];
    strcpy(t, bl_uuid());
    strcpy(inst, bl_uuid());
    strcpy(boot, bl_uuid());
    /* the tenant's own plan: other tests' tenants stay unpriced */
    st_resp r;
    bl_call(&srv, "POST", "/v1/billing/plans", NULL, 1,
            "{\"name\":\"meters\",\"effective_from\":\"2025-01-01T00:00:00Z\",\"prices\":"
            "{\"cpu_per_gcycle\":0,\"rx_per_gib\":0,\"tx_per_gib\":0,"
            "\"storage_per_gib_month\":50000,\"instance_hour_default\":10000,"
            "\"disk_per_gib_month\":80000}}",
            NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 201);
    char plan[37];
    snprintf(plan, sizeof plan, "%s", json_string_value(json_object_get(r.json, "id")));
    json_t *v0 = json_array_get(json_object_get(r.json, "versions"), 0);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(v0, "prices"), "disk_per_gib_month")),
        80000);
    st_resp_free(&r);
    bl_assign_plan(&srv, t, plan);
    char path[128];

    int64_t start = bl_t(2025, 6, 2, 0, 0, 0);
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    long long seq = 0;
    for (int h = 0; h < 60; h++)
        for (int m = 10; m <= 40; m += 30) {
            bl_tsample s = {.tenant = t,
                            .instance = inst,
                            .boot = boot,
                            .seq = ++seq,
                            .at_us = start + h * HOUR + m * MIN,
                            .disk_bytes = (h < 50 ? 20 : 30) * GIB};
            bl_json_sample(&j, &s);
        }
    for (int h = 0; h < 100; h++)
        bl_json_storage(&j, t, start + h * HOUR + 15 * MIN, 10 * GIB);
    post(bl_json_end(&j), 200, &r);
    st_resp_free(&r);
    bl_json_free(&j);

    bl_call(&srv, "GET", "/v1/billing/invoices", t, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    const char *id = NULL;
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(r.json, "invoices"), k, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "period")), "2025-06") == 0)
            id = json_string_value(json_object_get(it, "id"));
    }
    ST_ASSERT_INT_EQ_FATAL(id != NULL, 1);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", id);
    st_resp_free(&r);
    bl_call(&srv, "GET", path, t, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    long long disk = -1, images = -1, hours = -1, dq = -1, sq = -1;
    const char *dunit = NULL, *dinst = NULL, *dqty = NULL;
    json_array_foreach(json_object_get(r.json, "lines"), k, it)
    {
        const char *item = json_string_value(json_object_get(it, "item"));
        long long a = json_integer_value(json_object_get(it, "amount_micro"));
        if (strcmp(item, "disk_storage") == 0) {
            disk = a;
            dq = json_integer_value(json_object_get(it, "quantity"));
            dunit = json_string_value(json_object_get(it, "billing_unit"));
            dinst = json_string_value(json_object_get(it, "instance_id"));
            dqty = json_string_value(json_object_get(it, "billing_quantity"));
            ST_ASSERT_INT_EQ(json_integer_value(json_object_get(it, "unit_price_micro")), 80000);
        } else if (strcmp(item, "image_storage") == 0) {
            images = a;
            sq = json_integer_value(json_object_get(it, "quantity"));
        } else if (strcmp(item, "instance_hours") == 0) {
            hours = a;
        }
    }
    ST_ASSERT_INT_EQ(dq, 1300 * GIB);
    ST_ASSERT_INT_EQ(disk, 140000);
    ST_ASSERT_STR_EQ(dunit ? dunit : "", "GiB-month");
    ST_ASSERT_STR_EQ(dinst ? dinst : "", inst);
    ST_ASSERT_STR_EQ(dqty ? dqty : "", "1.805556"); /* 1300 / 720 */
    ST_ASSERT_INT_EQ(sq, 1000 * GIB);
    ST_ASSERT_INT_EQ(images, 70000);
    ST_ASSERT_INT_EQ(hours, 600000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "net_micro")), 810000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "total_micro")), 810000);
    st_resp_free(&r);
    /* the CSV carries the disk line, and sums to the total */
    bl_call(&srv, "GET", path, t, 0, NULL, "text/csv", &r);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, "disk_storage") != NULL, 1);
    long long rows = 0, sum = 0;
    ST_ASSERT_INT_EQ(bl_csv_sum(r.body, r.len, "amount_micro", &rows, &sum), 0);
    ST_ASSERT_INT_EQ(sum, 810000);
    st_resp_free(&r);
}

static long long port_rx(const char *port, const char *hour)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT coalesce(sum(rx_bytes), 0) FROM billing.port_usage_hourly"
             " WHERE port_id = '%s' AND hour = '%s'",
             port, hour);
    return bl_sql_int(&srv, q);
}

/* An instance sample with net0's bytes, naming its port when port_a. */
static bl_tsample port_sample(const char *t, const char *inst, const char *boot, long long seq,
                              int64_t at, long long rx, long long tx, const char *port_a)
{
    return (bl_tsample){.tenant = t,
                        .instance = inst,
                        .boot = boot,
                        .seq = seq,
                        .at_us = at,
                        .rx = rx,
                        .tx = tx,
                        .port_a = port_a};
}

static void post_samples(const bl_tsample *s, size_t n, const char *batch_id, const char *field,
                         long long want)
{
    bl_json j;
    bl_json_begin(&j, batch_id ? batch_id : bl_uuid());
    for (size_t k = 0; k < n; k++)
        bl_json_sample(&j, &s[k]);
    st_resp r;
    post(bl_json_end(&j), 200, &r);
    if (field)
        ST_ASSERT_INT_EQ(jint(&r, field), want);
    st_resp_free(&r);
    bl_json_free(&j);
}

static void test_bytes_per_port_priced_to_the_cent(void)
{
    char t[37], i[37], jn[37], b1[37], b2[37], b3[37], bj[37], pa[37], pb[37], plan[37];
    const char *ids[] = {t, i, jn, b1, b2, b3, bj, pa, pb};
    for (size_t k = 0; k < sizeof ids / sizeof *ids; k++)
        strcpy((char *)ids[k], bl_uuid());
    st_resp r;
    bl_call(&srv, "POST", "/v1/billing/plans", NULL, 1,
            "{\"name\":\"ports\",\"effective_from\":\"2025-01-01T00:00:00Z\",\"prices\":"
            "{\"cpu_per_gcycle\":0,\"rx_per_gib\":12345,\"tx_per_gib\":90000,"
            "\"storage_per_gib_month\":0,\"instance_hour_default\":0}}",
            NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 201);
    snprintf(plan, sizeof plan, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    bl_assign_plan(&srv, t, plan);
    char path[160];

    int64_t h10 = bl_t(2025, 7, 1, 10, 0, 0);
    const long long G = GIB;
    bl_tsample s1[] = {
        port_sample(t, i, b1, 1, h10 + 10 * MIN, G, 2 * G, pa),
        port_sample(t, i, b1, 2, h10 + 40 * MIN, 3 * G, 2 * G, pa),
        port_sample(t, i, b1, 3, h10 + 70 * MIN, 4 * G, 5 * G, pa),
    };
    const long long b_rx[] = {0, G, G}, b_tx[] = {G / 2, 3 * G / 2, 2 * G};
    for (int k = 0; k < 3; k++) {
        s1[k].port_b = pb;
        s1[k].rx_b = b_rx[k];
        s1[k].tx_b = b_tx[k];
    }
    /* 1 and 3 first; 2 arrives late and splits the interval (1, 3] */
    bl_tsample first[] = {s1[0], s1[2]};
    post_samples(first, 2, NULL, "accepted", 2);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 10:00+00"), G);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 11:00+00"), 3 * G);
    char late_id[37];
    strcpy(late_id, bl_uuid());
    post_samples(&s1[1], 1, late_id, "accepted", 1);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 10:00+00"), 3 * G);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 11:00+00"), G);
    ST_ASSERT_INT_EQ(port_rx(pb, "2025-07-01 10:00+00"), G);
    ST_ASSERT_INT_EQ(port_rx(pb, "2025-07-01 11:00+00"), 0);
    /* a replayed batch and the same samples again change nothing */
    post_samples(&s1[1], 1, late_id, NULL, 0);
    post_samples(s1, 3, NULL, "duplicates", 3);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 10:00+00"), 3 * G);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 11:00+00"), G);
    /* a VMM restart: a new boot counts from zero; boot 3 begins on an older
     * node (no port ids), so its first interval with them has no baseline */
    bl_tsample s2[] = {
        port_sample(t, i, b2, 1, h10 + 130 * MIN, G / 2, G / 4, pa),
        port_sample(t, i, b3, 1, h10 + 190 * MIN, G, G, NULL),
        port_sample(t, i, b3, 2, h10 + 220 * MIN, 3 * G, 2 * G, pa),
        port_sample(t, i, b3, 3, h10 + 250 * MIN, 4 * G, 4 * G, pa),
        port_sample(t, jn, bj, 1, h10 + 190 * MIN, 2 * G, G, NULL),
    };
    post_samples(s2, 5, NULL, "accepted", 5);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 12:00+00"), G / 2);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 13:00+00"), 0);
    ST_ASSERT_INT_EQ(port_rx(pa, "2025-07-01 14:00+00"), G);
    ST_ASSERT_INT_EQ(bl_rollup_mismatches(&srv), 0);

    bl_call(&srv, "GET", "/v1/billing/invoices", t, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    char id[37] = "";
    snprintf(id, sizeof id, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(r.json, "invoices"), 0), "id")));
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", id);
    bl_call(&srv, "GET", path, t, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    /* (instance, port, item) -> quantity and amount, by hand */
    struct {
        const char *inst, *port, *item;
        long long q, amount;
        int seen;
    } want[] = {
        {i, NULL, "rx_bytes", 3 * G, 40000, 0},    {i, NULL, "tx_bytes", 2 * G, 180000, 0},
        {i, pa, "rx_bytes", 11 * G / 2, 70000, 0}, {i, pa, "tx_bytes", 29 * G / 4, 650000, 0},
        {i, pb, "rx_bytes", G, 10000, 0},          {i, pb, "tx_bytes", 2 * G, 180000, 0},
        {jn, NULL, "rx_bytes", 2 * G, 20000, 0},   {jn, NULL, "tx_bytes", G, 90000, 0},
    };
    size_t k, nw = sizeof want / sizeof *want;
    json_t *l;
    json_array_foreach(json_object_get(r.json, "lines"), k, l)
    {
        const char *item = json_string_value(json_object_get(l, "item"));
        const char *inst = json_string_value(json_object_get(l, "instance_id"));
        const char *port = json_string_value(json_object_get(l, "port_id"));
        if (strcmp(item, "rx_bytes") && strcmp(item, "tx_bytes"))
            continue;
        int found = 0;
        for (size_t w = 0; w < nw; w++)
            if (!strcmp(want[w].inst, inst) && !strcmp(want[w].item, item) &&
                (want[w].port ? port && !strcmp(want[w].port, port) : !port)) {
                found = 1;
                want[w].seen++;
                ST_ASSERT_INT_EQ(json_integer_value(json_object_get(l, "quantity")), want[w].q);
                ST_ASSERT_INT_EQ(json_integer_value(json_object_get(l, "amount_micro")),
                                 want[w].amount);
                if (port)
                    ST_ASSERT_INT_EQ(
                        strstr(json_string_value(json_object_get(l, "description")), port) != NULL,
                        1);
            }
        st_assert_fmt(found, 0, __FILE__, __LINE__, "unexpected line %s %s %s", inst, item,
                      port ? port : "-");
    }
    for (size_t w = 0; w < nw; w++)
        st_assert_fmt(want[w].seen == 1, 0, __FILE__, __LINE__, "line %zu seen %d times", w,
                      want[w].seen);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "net_micro")), 1240000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "total_micro")), 1240000);
    st_resp_free(&r);
    /* CSV: a port_id column, summing to the total; HTML and PDF name the ports */
    bl_call(&srv, "GET", path, t, 0, NULL, "text/csv", &r);
    long long rows = 0, sum = 0;
    ST_ASSERT_INT_EQ(bl_csv_sum(r.body, r.len, "amount_micro", &rows, &sum), 0);
    ST_ASSERT_INT_EQ(sum, 1240000);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, ",port_id,") != NULL, 1);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, pb) != NULL, 1);
    st_resp_free(&r);
    bl_call(&srv, "GET", path, t, 0, NULL, "text/html", &r);
    char needle[64];
    snprintf(needle, sizeof needle, "<br>port %s", pa);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, needle) != NULL, 1);
    snprintf(needle, sizeof needle, "<br>port %s", pb);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, needle) != NULL, 1);
    st_resp_free(&r);
    bl_call(&srv, "GET", path, t, 0, NULL, "application/pdf", &r);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    char *text = bl_pdf_text(r.body, r.len);
    ST_ASSERT_INT_EQ(strstr(text, pa) != NULL, 1);
    ST_ASSERT_INT_EQ(strstr(text, pb) != NULL, 1);
    free(text);
    st_resp_free(&r);
}

static void test_port_id_is_validated(void)
{
    const char *fmt =
        "{\"batch_id\":\"%s\",\"samples\":[{\"tenant_id\":\"%s\",\"instance_id\":\"%s\","
        "\"flavor\":\"m1.small\",\"state\":\"active\",\"boot_id\":\"%s\",\"seq\":1,"
        "\"sampled_at\":\"2025-03-09T10:00:00Z\",\"counters\":{\"cpu_time_ns_total\":1,"
        "\"cycles_total\":1,\"nics\":[%s]}}]}";
    const char *bad[] = {
        "{\"id\":\"net0\",\"port_id\":\"x\",\"rx_bytes\":1,\"rx_packets\":1,\"tx_bytes\":1,"
        "\"tx_packets\":1}",
        "{\"id\":\"net0\",\"port_id\":7,\"rx_bytes\":1,\"rx_packets\":1,\"tx_bytes\":1,"
        "\"tx_packets\":1}",
        /* one port for two NICs */
        "{\"id\":\"net0\",\"port_id\":\"3f1c2b4a-0d5e-4f6a-8b7c-9d0e1f2a3b4c\",\"rx_bytes\":1,"
        "\"rx_packets\":1,\"tx_bytes\":1,\"tx_packets\":1},{\"id\":\"net1\",\"port_id\":"
        "\"3f1c2b4a-0d5e-4f6a-8b7c-9d0e1f2a3b4c\",\"rx_bytes\":1,\"rx_packets\":1,\"tx_bytes\":1,"
        "\"tx_packets\":1}",
    };
    long long before = bl_sql_int(&srv, "SELECT count(*) FROM billing.batches");
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char body[2048], id[37], t[37], in[37], b[37];
        strcpy(id, bl_uuid());
        strcpy(t, bl_uuid());
        strcpy(in, bl_uuid());
        strcpy(b, bl_uuid());
        snprintf(body, sizeof body, fmt, id, t, in, b, bad[k]);
        st_resp r;
        post(body, 422, &r);
        ST_ASSERT_INT_EQ(r.body && strstr(r.body, "port_id") != NULL, 1);
        st_resp_free(&r);
    }
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.batches"), before);
}

static CU_TestInfo tests[] = {
    {"allocated disk: each hour at its largest, per instance; replays add nothing",
     test_disk_is_billed_at_the_hourly_maximum_per_instance},
    {"disk_bytes is validated and only in instance samples", test_disk_bytes_is_validated},
    {"instance disk and images priced by hand to the cent",
     test_disk_and_images_priced_to_the_cent},
    {"network bytes per port: late, replayed, reset and older samples; priced by hand",
     test_bytes_per_port_priced_to_the_cent},
    {"a NIC's port_id is validated", test_port_id_is_validated},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"meters", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    st_log_init("test", ST_LOG_ERROR);
    return st_test_main(argc, argv, suites);
}
