/* Rating and invoices against a real stratus-billing and PostgreSQL.
 *
 * The synthetic month (April 2025, 720 hours) is small enough to price by
 * hand; the expected lines below were worked out on paper (and checked with
 * exact fractions), not computed by the code under test:
 *   i1 m1.small runs all month: per hour 3.6e12 cycles, 100 MiB in, 50 MiB
 *      out, with a VMM restart (new boot id, counters from zero) on 04-10;
 *   i2 m1.large runs 04-05..04-24, sampled every 20 min: per hour 7.2e12
 *      cycles, 3 GiB in, 1.5 GiB out;
 *   10 GiB of images all month.
 * Tenant A is on plan "standard" (v1; v2 from 04-15 00:00) and moves to
 * "premium" at 04-20 12:00: segments of 336, 132 and 252 hours. Tenant B has
 * no assignment and gets the default plan (standard). */
#include "bl_test.h"
#include "st_test.h"

#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bl_srv srv;
static char ta[37], tb[37], i1[37], i2[37], i3[37], std_id[37], prem_id[37];
static char invoice_a[37];

static int suite_init(void)
{
    static const char *const sets[] = {"retention.raw_days=3650", NULL};
    if (bl_srv_start(&srv, "billing_invoice", sets) < 0)
        return -1;
    strcpy(ta, bl_uuid());
    strcpy(tb, bl_uuid());
    strcpy(i1, bl_uuid());
    strcpy(i2, bl_uuid());
    strcpy(i3, bl_uuid());
    return 0;
}

static int suite_clean(void)
{
    return bl_srv_stop(&srv);
}

/* Admin call that must answer want; returns the parsed body (caller frees r). */
static void admin(const char *method, const char *path, const char *body, long want, st_resp *r)
{
    bl_call(&srv, method, path, NULL, 1, body, NULL, r);
    st_assert_fmt(r->status == want, 1, __FILE__, __LINE__, "%s %s: %ld (want %ld) %s", method,
                  path, r->status, want, r->body ? r->body : "");
}

static void send_all(bl_json *j, int *count)
{
    st_resp r;
    bl_post(&srv, bl_json_end(j), NULL, &r);
    st_assert_fmt(r.status == 200, 1, __FILE__, __LINE__, "ingest: %ld %s", r.status, r.body);
    st_resp_free(&r);
    bl_json_free(j);
    *count = 0;
}

#define GIB (1LL << 30)
#define MIB (1LL << 20)

static void ingest_month(void)
{
    bl_json j;
    int n = 0;
    bl_json_begin(&j, bl_uuid());
    char b1[37], b2[37], b3[37], b4[37];
    strcpy(b1, bl_uuid());
    strcpy(b2, bl_uuid());
    strcpy(b3, bl_uuid());
    strcpy(b4, bl_uuid());
    int64_t apr = bl_t(2025, 4, 1, 0, 0, 0), hour = 3600LL * 1000000;
    /* i1: one sample per hour at :30; the VMM restarts before hour 216. */
    for (long long k = 1; k <= 720; k++) {
        int second = k > 216;
        long long c = second ? k - 216 : k;
        bl_tsample s = {.tenant = ta,
                        .instance = i1,
                        .boot = second ? b2 : b1,
                        .seq = c,
                        .at_us = apr + (k - 1) * hour + 30 * 60 * 1000000LL,
                        .cycles = c * 3600000000000LL,
                        .cpu_ns = c * 3600000000000LL,
                        .rx = c * 100 * MIB,
                        .tx = c * 50 * MIB,
                        .flavor = "m1.small"};
        bl_json_sample(&j, &s);
        if (++n == 500)
            send_all(&j, &n), bl_json_begin(&j, bl_uuid());
    }
    /* i2: every 20 minutes from 04-05 00:10 to 04-24 23:50. */
    for (long long k = 1; k <= 1440; k++) {
        bl_tsample s = {.tenant = ta,
                        .instance = i2,
                        .boot = b3,
                        .seq = k,
                        .at_us =
                            apr + 96 * hour + (k - 1) * 20 * 60 * 1000000LL + 10 * 60 * 1000000LL,
                        .cycles = k * 2400000000000LL,
                        .rx = k * GIB,
                        .tx = k * GIB / 2,
                        .flavor = "m1.large"};
        bl_json_sample(&j, &s);
        if (++n == 500)
            send_all(&j, &n), bl_json_begin(&j, bl_uuid());
    }
    /* Image storage, reported at :15 every hour. */
    for (long long k = 0; k < 720; k++) {
        bl_json_storage(&j, ta, apr + k * hour + 15 * 60 * 1000000LL, 10 * GIB);
        if (++n == 500)
            send_all(&j, &n), bl_json_begin(&j, bl_uuid());
    }
    /* Tenant B: two hours of a small instance, default plan. */
    for (long long k = 1; k <= 2; k++) {
        bl_tsample s = {.tenant = tb,
                        .instance = i3,
                        .boot = b4,
                        .seq = k,
                        .at_us = bl_t(2025, 4, 10, (int)k, 5, 0),
                        .cycles = k * 1000000000LL};
        bl_json_sample(&j, &s);
    }
    send_all(&j, &n);
}

static const char *prices(long long cpu, long long rx, long long tx, long long st, long long dflt,
                          long long small, long long large)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"cpu_per_gcycle\":%lld,\"rx_per_gib\":%lld,\"tx_per_gib\":%lld,"
             "\"storage_per_gib_month\":%lld,\"instance_hour_default\":%lld,"
             "\"instance_hour\":{\"m1.small\":%lld,\"m1.large\":%lld}}",
             cpu, rx, tx, st, dflt, small, large);
    return buf;
}

static void make_plans(void)
{
    st_resp r;
    char body[1024], path[256];
    snprintf(body, sizeof body,
             "{\"name\":\"standard\",\"default\":true,"
             "\"effective_from\":\"2025-01-01T00:00:00Z\",\"prices\":%s}",
             prices(2000, 10000, 90000, 20000, 5000, 12000, 48000));
    admin("POST", "/v1/billing/plans", body, 201, &r);
    strcpy(std_id, json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    snprintf(body, sizeof body, "{\"effective_from\":\"2025-04-15T00:00:00Z\",\"prices\":%s}",
             prices(2500, 10000, 80000, 20000, 5000, 13000, 50000));
    snprintf(path, sizeof path, "/v1/billing/plans/%s/versions", std_id);
    admin("POST", path, body, 201, &r);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "versions")), 2);
    st_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"name\":\"premium\",\"effective_from\":"
             "\"2025-01-01T00:00:00Z\",\"prices\":%s}",
             prices(1500, 0, 60000, 25000, 4000, 20000, 70000));
    admin("POST", "/v1/billing/plans", body, 201, &r);
    strcpy(prem_id, json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/plans", ta);
    snprintf(body, sizeof body, "{\"plan_id\":\"%s\",\"effective_from\":\"2025-01-01T00:00:00Z\"}",
             std_id);
    admin("POST", path, body, 201, &r);
    st_resp_free(&r);
    snprintf(body, sizeof body, "{\"plan_id\":\"%s\",\"effective_from\":\"2025-04-20T12:00:00Z\"}",
             prem_id);
    admin("POST", path, body, 201, &r);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "assignments")), 2);
    st_resp_free(&r);
}

typedef struct want_line {
    const char *inst; /* "i1", "i2" or NULL (storage) */
    const char *item, *plan;
    int version;
    long long quantity, amount;
} want_line;

static const want_line want_a[] = {
    {"i1", "instance_hours", "standard", 1, 336, 4030000},
    {"i1", "instance_hours", "standard", 2, 132, 1720000},
    {"i1", "instance_hours", "premium", 1, 252, 5040000},
    {"i1", "cpu_cycles", "standard", 1, 336 * 3600000000000LL, 2419200000},
    {"i1", "cpu_cycles", "standard", 2, 132 * 3600000000000LL, 1188000000},
    {"i1", "cpu_cycles", "premium", 1, 252 * 3600000000000LL, 1360800000},
    {"i1", "rx_bytes", "standard", 1, 336 * 100 * MIB, 330000},
    {"i1", "rx_bytes", "standard", 2, 132 * 100 * MIB, 130000},
    {"i1", "rx_bytes", "premium", 1, 252 * 100 * MIB, 0},
    {"i1", "tx_bytes", "standard", 1, 336 * 50 * MIB, 1480000},
    {"i1", "tx_bytes", "standard", 2, 132 * 50 * MIB, 520000},
    {"i1", "tx_bytes", "premium", 1, 252 * 50 * MIB, 740000},
    {"i2", "instance_hours", "standard", 1, 240, 11520000},
    {"i2", "instance_hours", "standard", 2, 132, 6600000},
    {"i2", "instance_hours", "premium", 1, 108, 7560000},
    {"i2", "cpu_cycles", "standard", 1, 240 * 7200000000000LL, 3456000000},
    {"i2", "cpu_cycles", "standard", 2, 132 * 7200000000000LL, 2376000000},
    {"i2", "cpu_cycles", "premium", 1, 108 * 7200000000000LL, 1166400000},
    {"i2", "rx_bytes", "standard", 1, 240 * 3 * GIB, 7200000},
    {"i2", "rx_bytes", "standard", 2, 132 * 3 * GIB, 3960000},
    {"i2", "rx_bytes", "premium", 1, 108 * 3 * GIB, 0},
    {"i2", "tx_bytes", "standard", 1, 240 * 3 * GIB / 2, 32400000},
    {"i2", "tx_bytes", "standard", 2, 132 * 3 * GIB / 2, 15840000},
    {"i2", "tx_bytes", "premium", 1, 108 * 3 * GIB / 2, 9720000},
    {NULL, "image_storage", "standard", 1, 336 * 10 * GIB, 90000},
    {NULL, "image_storage", "standard", 2, 132 * 10 * GIB, 40000},
    {NULL, "image_storage", "premium", 1, 252 * 10 * GIB, 90000},
};
#define WANT_A_TOTAL 12075410000LL

static const char *inst_of(const char *name)
{
    return !name ? NULL : strcmp(name, "i1") == 0 ? i1 : i2;
}

static json_t *find_line(json_t *lines, const want_line *w, const char *month)
{
    size_t k;
    json_t *l;
    json_array_foreach(lines, k, l)
    {
        const char *inst = json_string_value(json_object_get(l, "instance_id"));
        const char *want_inst = inst_of(w->inst);
        json_t *plan = json_object_get(l, "plan");
        if ((want_inst ? inst && strcmp(inst, want_inst) == 0 : inst == NULL) &&
            strcmp(json_string_value(json_object_get(l, "item")), w->item) == 0 &&
            strcmp(json_string_value(json_object_get(l, "usage_month")), month) == 0 &&
            json_is_object(plan) &&
            strcmp(json_string_value(json_object_get(plan, "name")), w->plan) == 0 &&
            json_integer_value(json_object_get(plan, "version")) == w->version)
            return l;
    }
    return NULL;
}

static json_t *get_json(const char *path, const char *tenant, long want)
{
    st_resp r;
    bl_call(&srv, "GET", path, tenant, 0, NULL, NULL, &r);
    st_assert_fmt(r.status == want, 1, __FILE__, __LINE__, "GET %s: %ld %s", path, r.status,
                  r.body);
    json_t *j = json_incref(r.json);
    st_resp_free(&r);
    return j;
}

/* The one draft of tenant t for period (from the list). */
static void draft_id(const char *t, const char *period, char out[37])
{
    json_t *list = get_json("/v1/billing/invoices", t, 200);
    size_t k;
    json_t *v;
    out[0] = 0;
    json_array_foreach(json_object_get(list, "invoices"), k,
                       v) if (strcmp(json_string_value(json_object_get(v, "period")), period) ==
                                  0 &&
                              strcmp(json_string_value(json_object_get(v, "status")), "draft") == 0)
        snprintf(out, 37, "%s", json_string_value(json_object_get(v, "id")));
    json_decref(list);
}

static void test_synthetic_month_rates_to_the_micro_unit(void)
{
    make_plans();
    ingest_month();
    draft_id(ta, "2025-04", invoice_a);
    ST_ASSERT_INT_EQ_FATAL(strlen(invoice_a), 36);
    char path[256];
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", invoice_a);
    json_t *inv = get_json(path, ta, 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(inv, "status")), "draft");
    json_t *lines = json_object_get(inv, "lines");
    ST_ASSERT_INT_EQ(json_array_size(lines), 27);
    long long sum = 0;
    size_t k;
    json_t *l;
    json_array_foreach(lines, k, l) sum += json_integer_value(json_object_get(l, "amount_micro"));
    for (size_t w = 0; w < sizeof want_a / sizeof want_a[0]; w++) {
        json_t *got = find_line(lines, &want_a[w], "2025-04");
        st_assert_fmt(got != NULL, 0, __FILE__, __LINE__, "line %zu (%s %s %s v%d) missing", w,
                      want_a[w].inst ? want_a[w].inst : "-", want_a[w].item, want_a[w].plan,
                      want_a[w].version);
        if (!got)
            continue;
        ST_ASSERT_INT_EQ(json_integer_value(json_object_get(got, "quantity")), want_a[w].quantity);
        ST_ASSERT_INT_EQ(json_integer_value(json_object_get(got, "amount_micro")),
                         want_a[w].amount);
    }
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "total_micro")), WANT_A_TOTAL);
    ST_ASSERT_INT_EQ(sum, WANT_A_TOTAL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(inv, "total")), "12075.41");
    ST_ASSERT_INT_EQ(strstr(json_string_value(json_object_get(inv, "rounding")),
                            "rounded once to the nearest 0.01 EUR") != NULL,
                     1);
    json_decref(inv);

    /* Tenant B, on the default plan: 2 hours x 0.012 = 0.024 -> 0.02; 2 Gcycles -> 0.004 -> 0. */
    char idb[37];
    draft_id(tb, "2025-04", idb);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", idb);
    inv = get_json(path, tb, 200);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "total_micro")), 20000);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(inv, "lines")), 2);
    json_decref(inv);
}

static char *fetch(const char *id, const char *tenant, const char *fmt, size_t *len, long *status)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/billing/invoices/%s%s%s", id, fmt ? "?format=" : "",
             fmt ? fmt : "");
    st_resp r;
    bl_call(&srv, "GET", path, tenant, 0, NULL, NULL, &r);
    *status = r.status;
    char *b = malloc(r.len + 1);
    memcpy(b, r.body, r.len + 1);
    *len = r.len;
    st_resp_free(&r);
    return b;
}

static void test_every_format_carries_every_line(void)
{
    size_t jl, cl, hl, pl;
    long st;
    char *json = fetch(invoice_a, ta, NULL, &jl, &st);
    ST_ASSERT_INT_EQ_FATAL(st, 200);
    json_t *inv = json_loads(json, 0, NULL);
    json_t *lines = json_object_get(inv, "lines");
    char *csv = fetch(invoice_a, ta, "csv", &cl, &st);
    ST_ASSERT_INT_EQ(st, 200);
    char *html = fetch(invoice_a, ta, "html", &hl, &st);
    ST_ASSERT_INT_EQ(st, 200);
    char *pdf = fetch(invoice_a, ta, "pdf", &pl, &st);
    ST_ASSERT_INT_EQ(st, 200);
    ST_ASSERT_INT_EQ(memcmp(pdf, "%PDF-", 5), 0);
    /* Accept works like ?format=. */
    st_resp r;
    char path[128];
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", invoice_a);
    bl_call(&srv, "GET", path, ta, 0, NULL, "text/csv", &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    char *ct = st_resp_header(&r, "Content-Type");
    ST_ASSERT_INT_EQ(ct && strncmp(ct, "text/csv", 8) == 0, 1);
    free(ct);
    st_resp_free(&r);

    char *text = bl_pdf_text(pdf, pl);

    size_t k;
    json_t *l;
    json_array_foreach(lines, k, l)
    {
        const char *inst = json_string_value(json_object_get(l, "instance_id"));
        const char *amount = json_string_value(json_object_get(l, "amount"));
        const char *desc = json_string_value(json_object_get(l, "description"));
        char am[32];
        snprintf(am, sizeof am, "%lld",
                 (long long)json_integer_value(json_object_get(l, "amount_micro")));
        /* CSV: the row of line k+1 holds its instance and its amount in micro-units. */
        char key[128];
        snprintf(key, sizeof key, ",2025-04,line,%zu,%s,%s,", k + 1, inst ? inst : "",
                 json_string_value(json_object_get(l, "item")));
        const char *row = strstr(csv, key);
        st_assert_fmt(row && strstr(row, am) && strstr(row, am) < strchr(row, '\n'), 0, __FILE__,
                      __LINE__, "CSV row for line %zu missing or without amount %s", k + 1, am);
        st_assert_fmt(strstr(html, desc) != NULL, 0, __FILE__, __LINE__, "HTML misses \"%s\"",
                      desc);
        /* PDF: a text line whose first token is the line number, holding the
         * instance and ending in the amount. */
        int found = 0;
        for (char *s = text; s && *s && !found;) {
            char *e = strchr(s, '\n');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)(n < 511 ? n : 511), s);
            long first = strtol(line, NULL, 10);
            size_t ll = strlen(line);
            while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\f'))
                line[--ll] = 0;
            size_t al = strlen(amount);
            if (first == (long)(k + 1) && strstr(line, inst ? inst : " - ") && ll >= al &&
                strcmp(line + ll - al, amount) == 0)
                found = 1;
            s = e ? e + 1 : NULL;
        }
        st_assert_fmt(found, 0, __FILE__, __LINE__, "pdftotext does not show line %zu (%s, %s)",
                      k + 1, inst ? inst : "-", amount);
    }
    ST_ASSERT_INT_EQ(strstr(text, "12075.41 EUR") != NULL, 1);
    /* no total row: the data rows (lines, and a 0% tax row) sum to the total */
    long long rows = 0, sum = 0;
    ST_ASSERT_INT_EQ(bl_csv_sum(csv, cl, "amount_micro", &rows, &sum), 0);
    ST_ASSERT_INT_EQ(rows, (long long)json_array_size(lines) + 1);
    ST_ASSERT_INT_EQ(sum, 12075410000LL);
    free(text);
    json_decref(inv);
    free(json);
    free(csv);
    free(html);
    free(pdf);
}

static void test_tenants_see_only_their_invoices(void)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", invoice_a);
    json_t *j = get_json(path, tb, 404); /* B asks for A's invoice: as if it did not exist */
    json_decref(j);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s/download?format=pdf", invoice_a);
    j = get_json(path, tb, 404);
    json_decref(j);
    j = get_json("/v1/billing/invoices/8c9d9c1a-0000-8000-8000-000000000000", ta, 404);
    json_decref(j);
    j = get_json("/v1/billing/invoices/not-an-id", ta, 404);
    json_decref(j);
    j = get_json("/v1/billing/invoices", tb, 200);
    json_t *v;
    size_t k;
    json_array_foreach(json_object_get(j, "invoices"), k, v)
        ST_ASSERT_INT_EQ(strcmp(json_string_value(json_object_get(v, "id")), invoice_a) != 0, 1);
    json_decref(j);
    /* Admin-only routes refuse tenants. */
    st_resp r;
    bl_call(&srv, "POST", "/v1/billing/periods/2025-04/issue", ta, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    bl_call(&srv, "GET", "/v1/billing/plans", ta, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    /* A tenant may read the plan it is on. */
    bl_call(&srv, "GET", "/v1/billing/plan", ta, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "name")), "premium");
    st_resp_free(&r);
}

static void test_issued_invoice_never_changes(void)
{
    st_resp r;
    admin("POST", "/v1/billing/periods/2025-04/issue", NULL, 201, &r);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "invoices")), 2);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "first_number")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "last_number")), 2);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "total_micro")),
                     WANT_A_TOTAL + 20000);
    st_resp_free(&r);
    admin("POST", "/v1/billing/periods/2025-04/issue", NULL, 409, &r);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "already_issued");
    st_resp_free(&r);

    static const char *const fmts[] = {"json", "csv", "html", "pdf"};
    char *before[4];
    size_t blen[4];
    long st;
    for (int f = 0; f < 4; f++) {
        before[f] = fetch(invoice_a, ta, fmts[f], &blen[f], &st);
        ST_ASSERT_INT_EQ(st, 200);
    }
    json_t *inv = json_loads(before[0], 0, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(inv, "status")), "issued");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "total_micro")), WANT_A_TOTAL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(inv, "id")), invoice_a);
    json_decref(inv);

    /* Late usage for April arrives after the issue, plus the first May hour. */
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    char b5[37];
    strcpy(b5, bl_uuid());
    bl_tsample s = {.tenant = ta,
                    .instance = i1,
                    .boot = b5,
                    .seq = 1,
                    .at_us = bl_t(2025, 4, 30, 23, 40, 0),
                    .cycles = 2000000000000LL};
    bl_json_sample(&j, &s);
    s.seq = 2, s.at_us = bl_t(2025, 5, 1, 0, 40, 0), s.cycles = 3000000000000LL;
    bl_json_sample(&j, &s);
    bl_post(&srv, bl_json_end(&j), NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
    bl_json_free(&j);

    for (int f = 0; f < 4; f++) {
        size_t len;
        char *after = fetch(invoice_a, ta, fmts[f], &len, &st);
        st_assert_fmt(len == blen[f] && memcmp(after, before[f], len) == 0, 0, __FILE__, __LINE__,
                      "issued %s document changed after late samples", fmts[f]);
        free(after);
        free(before[f]);
    }
    /* The database refuses to change an issued invoice, even by hand. */
    PGresult *pr = PQexec(srv.pg, "UPDATE billing.invoices SET total_micro = 0");
    ST_ASSERT_INT_EQ(PQresultStatus(pr) == PGRES_FATAL_ERROR, 1);
    ST_ASSERT_INT_EQ(strstr(PQresultErrorMessage(pr), "immutable") != NULL, 1);
    PQclear(pr);

    /* The late April usage is on May's draft, rated at April's (premium) prices:
     * 2000 Gcycles x 0.0015 = 3.00; May's own hour: 1000 Gcycles = 1.50 and
     * one m1.small hour 0.02. April 30 23:00 was billed already: no second hour. */
    char may[37];
    draft_id(ta, "2025-05", may);
    char path[256];
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", may);
    inv = get_json(path, ta, 200);
    json_t *lines = json_object_get(inv, "lines");
    ST_ASSERT_INT_EQ(json_array_size(lines), 3);
    want_line late = {"i1", "cpu_cycles", "premium", 1, 2000000000000LL, 3000000};
    json_t *l = find_line(lines, &late, "2025-04");
    ST_ASSERT_INT_EQ_FATAL(l != NULL, 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(l, "amount_micro")), 3000000);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(l, "late")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "total_micro")), 4520000);
    json_decref(inv);

    /* Months are issued in order and numbered without gaps. */
    admin("POST", "/v1/billing/periods/2025-06/issue", NULL, 409, &r);
    ST_ASSERT_INT_EQ(strstr(r.body, "2025-05") != NULL, 1);
    st_resp_free(&r);
    admin("POST", "/v1/billing/periods/2026-12/issue", NULL, 409, &r); /* not over yet */
    st_resp_free(&r);
    admin("POST", "/v1/billing/periods/2025-05/issue", NULL, 201, &r);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "first_number")), 3);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "invoices")), 1);
    st_resp_free(&r);
    admin("GET", "/v1/billing/periods", NULL, 200, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "issued_through")), "2025-05");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "next_invoice_number")), 4);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT max(number) - min(number) + 1 - count(*)"
                                      " FROM billing.invoices"),
                     0);
    /* A cloud admin reads any invoice by id. */
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", invoice_a);
    bl_call(&srv, "GET", path, NULL, 1, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
}

/* Issue June and July "by hand" up to the crash point: step 1 done, no
 * invoice stored. Maintenance finishes June; issuing July again finishes it. */
static void test_half_issued_month_is_finished(void)
{
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    char b[37];
    strcpy(b, bl_uuid());
    for (int m = 6; m <= 7; m++) {
        bl_tsample s = {.tenant = tb,
                        .instance = i3,
                        .boot = b,
                        .seq = m,
                        .at_us = bl_t(2025, m, 2, 3, 0, 0),
                        .cycles = m * 1000000000LL};
        bl_json_sample(&j, &s);
    }
    st_resp r;
    bl_post(&srv, bl_json_end(&j), NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
    bl_json_free(&j);
    for (int m = 6; m <= 7; m++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "WITH s AS (UPDATE billing.state SET issued_through = '2025-%02d-01',"
                 " issue_started_at = '2025-%02d-01 09:00+00' RETURNING 1)"
                 " INSERT INTO billing.issue_queue SELECT DISTINCT '2025-%02d-01'::date, tenant_id"
                 " FROM billing.usage_hourly, s WHERE period = '2025-%02d-01' RETURNING 1",
                 m, m + 1, m, m);
        char *v = bl_sql(&srv, sql);
        ST_ASSERT_STR_EQ(v, "1");
        free(v);
        if (m == 7)
            break;
        admin("GET", "/v1/billing/periods", NULL, 200, &r);
        ST_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(r.json, "issuing"), 0)),
                         "2025-06");
        st_resp_free(&r);
        char path[128];
        snprintf(path, sizeof path, "/v1/billing/plans/%s", prem_id);
        admin("PATCH", path, "{\"default\":true}", 409, &r); /* not while issuing */
        st_resp_free(&r);
        int status;
        char *out = bl_cli(&srv, "maintenance", NULL, &status);
        ST_ASSERT_INT_EQ(status, 0);
        free(out);
        ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.issue_queue"), 0);
        ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT number FROM billing.invoices"
                                          " WHERE period = '2025-06-01'"),
                         4);
    }
    admin("POST", "/v1/billing/periods/2025-07/issue", NULL, 201, &r);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "invoices")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "first_number")), 5);
    st_resp_free(&r);
    char *when = bl_sql(&srv, "SELECT issued_at FROM billing.invoices WHERE number = 5");
    ST_ASSERT_STR_EQ(when, "2025-08-01 09:00:00+00"); /* the issue time of step 1 */
    free(when);
    admin("POST", "/v1/billing/periods/2025-07/issue", NULL, 409, &r);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT max(number) - min(number) + 1 - count(*)"
                                      " FROM billing.invoices"),
                     0);
    ST_ASSERT_INT_EQ(bl_rollup_mismatches(&srv), 0);
}

static void test_plan_changes_are_checked(void)
{
    st_resp r;
    char path[256], body[1024];
    snprintf(path, sizeof path, "/v1/billing/plans/%s/versions", std_id);
    /* Not a whole hour. */
    snprintf(body, sizeof body, "{\"effective_from\":\"2026-12-01T00:30:00Z\",\"prices\":%s}",
             prices(1, 1, 1, 1, 1, 1, 1));
    admin("POST", path, body, 400, &r);
    st_resp_free(&r);
    /* In an issued month: history that was billed cannot be re-priced. */
    snprintf(body, sizeof body, "{\"effective_from\":\"2025-05-01T00:00:00Z\",\"prices\":%s}",
             prices(1, 1, 1, 1, 1, 1, 1));
    admin("POST", path, body, 409, &r);
    st_resp_free(&r);
    /* Negative prices, unknown fields, bad flavors. */
    admin("POST", path,
          "{\"effective_from\":\"2026-12-01T00:00:00Z\",\"prices\":"
          "{\"cpu_per_gcycle\":-1,\"rx_per_gib\":1,\"tx_per_gib\":1,\"storage_per_gib_month\":1,"
          "\"instance_hour_default\":1}}",
          400, &r);
    st_resp_free(&r);
    admin("POST", path,
          "{\"effective_from\":\"2026-12-01T00:00:00Z\",\"prices\":"
          "{\"cpu_per_gcycle\":1,\"rx_per_gib\":1,\"tx_per_gib\":1,\"storage_per_gib_month\":1,"
          "\"instance_hour_default\":1,\"instance_hour\":{\"bad flavor\":3}}}",
          400, &r);
    st_resp_free(&r);
    snprintf(body, sizeof body, "{\"name\":\"standard\",\"prices\":%s}",
             prices(1, 1, 1, 1, 1, 1, 1));
    admin("POST", "/v1/billing/plans", body, 409, &r); /* name taken */
    st_resp_free(&r);
    /* A future version is fine and shows up. */
    snprintf(body, sizeof body, "{\"effective_from\":\"2026-12-01T00:00:00Z\",\"prices\":%s}",
             prices(1, 1, 1, 1, 1, 1, 1));
    admin("POST", path, body, 201, &r);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "versions")), 3);
    st_resp_free(&r);
    /* Plans in use or default cannot be deleted; an unused one can. */
    snprintf(path, sizeof path, "/v1/billing/plans/%s", prem_id);
    admin("DELETE", path, NULL, 409, &r);
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/plans/%s", std_id);
    admin("DELETE", path, NULL, 409, &r);
    st_resp_free(&r);
    snprintf(body, sizeof body, "{\"name\":\"spare\",\"prices\":%s}", prices(1, 1, 1, 1, 1, 1, 1));
    admin("POST", "/v1/billing/plans", body, 201, &r);
    char spare[37];
    strcpy(spare, json_string_value(json_object_get(r.json, "id")));
    /* Created after July was issued: its first version starts in August. */
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(
                         json_array_get(json_object_get(r.json, "versions"), 0), "effective_from")),
                     "2025-08-01T00:00:00Z");
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/plans/%s", spare);
    admin("PATCH", path, "{\"description\":\"kept for later\"}", 200, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "description")), "kept for later");
    st_resp_free(&r);
    admin("DELETE", path, NULL, 204, &r);
    st_resp_free(&r);
    admin("GET", path, NULL, 404, &r);
    st_resp_free(&r);
    admin("GET", "/v1/billing/plans", NULL, 200, &r);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "plans")), 2);
    st_resp_free(&r);
    /* Assigning into an issued month is refused too. */
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/plans", tb);
    snprintf(body, sizeof body, "{\"plan_id\":\"%s\",\"effective_from\":\"2025-04-01T00:00:00Z\"}",
             prem_id);
    admin("POST", path, body, 409, &r);
    st_resp_free(&r);
}

static CU_TestInfo tests[] = {
    {"a synthetic month rates to the micro-unit", test_synthetic_month_rates_to_the_micro_unit},
    {"JSON, CSV, HTML and PDF carry every line", test_every_format_carries_every_line},
    {"tenants see only their own invoices", test_tenants_see_only_their_invoices},
    {"an issued invoice never changes; late usage goes to the next",
     test_issued_invoice_never_changes},
    {"a half-issued month is finished, numbers without gaps", test_half_issued_month_is_finished},
    {"plan changes are validated", test_plan_changes_are_checked},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"invoice", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    st_log_init("test", ST_LOG_ERROR);
    return st_test_main(argc, argv, suites);
}
