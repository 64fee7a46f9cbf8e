/* An invoice a provider can send, against a real stratus-billing and PostgreSQL.
 *
 * Each test names one property of issue 13 and checks it over HTTP, the
 * way the gateway calls billing:
 *   - a tenant no price plan covers is flagged as such in usage and drafts
 *     (never a silent 0.00);
 *   - time is billed per second with a per-plan minimum, or by whole hours;
 *   - (later tests) customer and seller records, tax, readable lines, CSV.
 * Expected amounts are worked out by hand in the comments, not computed by
 * the code under test. */
#include "bl_test.h"
#include "st_test.h"

#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bl_srv srv;

#define SELLER "Stratus Cloud GmbH"
static int suite_init(void)
{
    static const char *const sets[] = {"retention.raw_days=3650",
                                       "invoice.seller=" SELLER,
                                       "invoice.seller_address=Hauptstrasse 1\\n10115 Berlin",
                                       "invoice.seller_country=DE",
                                       "invoice.seller_tax_id=DE123456789",
                                       "invoice.seller_email=billing@stratus.example",
                                       "invoice.number_format=SC-{yyyy}-{n:5}",
                                       "invoice.payment_days=14",
                                       "tax.rates=DE=19,FR=20,CH=8.1",
                                       NULL};
    return bl_srv_start(&srv, "billing_sendable", sets);
}

static int suite_clean(void)
{
    return bl_srv_stop(&srv);
}

/* A call that must answer want; the caller frees r. */
static void call(const char *method, const char *path, const char *tenant, int cloud_admin,
                 const char *body, long want, st_resp *r)
{
    bl_call(&srv, method, path, tenant, cloud_admin, body, NULL, r);
    st_assert_fmt(r->status == want, 1, __FILE__, __LINE__, "%s %s: %ld (want %ld) %s", method,
                  path, r->status, want, r->body ? r->body : "");
}

static void post_batch(bl_json *j)
{
    st_resp r;
    bl_post(&srv, bl_json_end(j), NULL, &r);
    st_assert_fmt(r.status == 200, 1, __FILE__, __LINE__, "ingest: %ld %s", r.status, r.body);
    st_resp_free(&r);
    bl_json_free(j);
}

/* The id of the tenant's draft for month ("2025-03"), from its invoice list. */
static json_t *draft_of(const char *tenant, const char *month)
{
    st_resp r;
    call("GET", "/v1/billing/invoices", tenant, 0, NULL, 200, &r);
    json_t *found = NULL, *it;
    size_t k;
    json_array_foreach(json_object_get(r.json, "invoices"), k, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "period")), month) == 0)
            found = json_incref(it);
    }
    st_resp_free(&r);
    return found;
}

static char *doc(const char *id, const char *tenant, const char *fmt, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/billing/invoices/%s?format=%s", id, fmt);
    st_resp r;
    call("GET", path, tenant, 0, NULL, 200, &r);
    char *b = malloc(r.len + 1);
    memcpy(b, r.body, r.len + 1);
    if (len)
        *len = r.len;
    st_resp_free(&r);
    return b;
}

/* A document at path?format=fmt (malloc'd bytes). */
static char *doc_path(const char *path, const char *tenant, const char *fmt, size_t *len)
{
    char p[300];
    snprintf(p, sizeof p, "%s?format=%s", path, fmt);
    st_resp r;
    call("GET", p, tenant, 0, NULL, 200, &r);
    char *b = malloc(r.len + 1);
    memcpy(b, r.body, r.len + 1);
    *len = r.len;
    st_resp_free(&r);
    return b;
}

static void test_a_tenant_without_a_plan_is_flagged(void)
{
    /* No plan exists yet: a tenant's usage is not priced, and says so. */
    char t[37], inst[37], boot[37];
    strcpy(t, bl_uuid());
    strcpy(inst, bl_uuid());
    strcpy(boot, bl_uuid());
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    for (int k = 1; k <= 3; k++) {
        bl_tsample s = {.tenant = t,
                        .instance = inst,
                        .boot = boot,
                        .seq = k,
                        .at_us = bl_t(2025, 2, 3, 10, 20 * k, 0),
                        .cycles = k * 1000000000LL,
                        .flavor = "m1.small"};
        bl_json_sample(&j, &s);
    }
    post_batch(&j);
    st_resp r;
    call("GET", "/v1/billing/usage?from=2025-02-01T00:00:00Z&to=2025-03-01T00:00:00Z", t, 0, NULL,
         200, &r);
    ST_ASSERT_INT_EQ(json_is_null(json_object_get(r.json, "plan")), 1);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(r.json, "no_plan")), 1);
    st_resp_free(&r);
    json_t *d = draft_of(t, "2025-02");
    ST_ASSERT_INT_EQ_FATAL(d != NULL, 1);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(d, "no_plan")), 1);
    char id[37];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(d, "id")));
    json_decref(d);
    char *js = doc(id, t, "json", NULL);
    json_t *inv = json_loads(js, 0, NULL);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(inv, "no_plan")), 1);
    ST_ASSERT_INT_EQ(
        strstr(json_string_value(json_object_get(inv, "notice")), "NO PRICE PLAN") != NULL, 1);
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(inv, "lines"), k, l)
    {
        ST_ASSERT_INT_EQ(json_is_false(json_object_get(l, "priced")), 1);
        ST_ASSERT_INT_EQ(json_is_null(json_object_get(l, "plan")), 1);
    }
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(inv, "lines")) > 0, 1);
    json_decref(inv);
    free(js);
    char *csv = doc(id, t, "csv", NULL);
    ST_ASSERT_INT_EQ(strstr(csv, "NO PLAN") != NULL, 1);
    free(csv);
    size_t pl;
    char *pdf = doc(id, t, "pdf", &pl);
    char *text = bl_pdf_text(pdf, pl);
    ST_ASSERT_INT_EQ(strstr(text, "NO PRICE PLAN") != NULL, 1);
    free(text);
    free(pdf);

    /* The default plan deploy/run-cloud.sh makes (its body, verbatim in spirit):
     * from then on the same tenant is priced and no longer flagged. */
    call("POST", "/v1/billing/plans", NULL, 1,
         "{\"name\":\"default\",\"default\":true,\"effective_from\":\"2025-01-01T00:00:00Z\","
         "\"prices\":{\"cpu_per_gcycle\":0,\"rx_per_gib\":0,\"tx_per_gib\":90000,"
         "\"storage_per_gib_month\":50000,\"instance_hour_default\":10000,"
         "\"instance_hour\":{\"m1.tiny\":5000,\"m1.small\":20000},"
         "\"time_unit\":\"second\",\"min_seconds\":60}}",
         201, &r);
    st_resp_free(&r);
    call("GET", "/v1/billing/usage?from=2025-02-01T00:00:00Z&to=2025-03-01T00:00:00Z", t, 0, NULL,
         200, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r.json, "plan"), "name")),
                     "default");
    ST_ASSERT_INT_EQ(json_is_false(json_object_get(r.json, "no_plan")), 1);
    st_resp_free(&r);
    d = draft_of(t, "2025-02");
    ST_ASSERT_INT_EQ(json_is_false(json_object_get(d, "no_plan")), 1);
    /* samples at 10:20, 10:40 and 11:00: 2400 s of m1.small at 0.02/hour = 0.01333 -> 0.01 */
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(d, "total_micro")), 10000);
    json_decref(d);
}

/*
 * The hand-priced month, May 2025. Plan "metered": time per second, 60 s
 * minimum a boot; m1.small 0.36/hour = 100 micro-units a second, m1.large
 * 1.44/hour = 400 a second; data out 0.09/GiB; the rest free. Plan
 * "hourly": whole hours, the same prices.
 * Tenant A (metered):
 *   a1 m1.small, one boot: a sample every 60 s from 05-02 10:00:00 to
 *      12:00:00 (120 intervals: 7200 s), then one at 12:10:00 "stopped"
 *      (600 s not billed); sends 10 GiB: 7200 x 100 = 0.72, 10 x 0.09 = 0.90
 *   a2 m1.small, two boots shorter than the minimum: 08:00:00 and
 *      08:00:30.5 (30.5 s -> 31 s -> 60 s); one sample alone (0 s -> 60 s):
 *      120 s x 100 = 12000 -> 0.01 (rounded once, on the line)
 *   a3 m1.large, two boots: 90 s exactly, and 61.4 s -> 62 s:
 *      152 s x 400 = 60800 -> 0.06
 *   net 1.69
 * Tenant B (hourly): b1 m1.small sampled 05-05 10:30, 11:00, 11:30: hours
 *   10 and 11, 2 x 0.36 = 0.72; sends 1 GiB: 0.09; net 0.81.
 * Tenant C (metered): c1 m1.small 05-06 10:00 to 11:00, 3600 s: net 0.36.
 * Tenant D (plan "reduced": metered, with its own tax rate of 7%): d1
 *   m1.large 05-07 09:00 to 09:15, 900 s x 400 = net 0.36.
 * Tax (seller in DE; tax.rates DE 19%, FR 20%):
 *   A, DE business:  19% of 1.69 = 0.3211 -> 0.32, gross 2.01
 *   B, FR business:  reverse charge, 0% of 0.81 = 0.00, gross 0.81
 *   C, FR consumer:  20% of 0.36 = 0.072 -> 0.07, gross 0.43
 *   D, DE consumer:  the plan's 7% of 0.36 = 0.0252 -> 0.03, gross 0.39
 */
static char ta[37], tb[37], tc[37], td[37], a1[37], a2[37], a3[37], b1[37], c1[37], d1[37];
#define GIB (1LL << 30)
#define SEC 1000000LL

static void sample(bl_json *j, const char *t, const char *inst, const char *boot, long long seq,
                   int64_t at, const char *flavor, const char *state, long long tx)
{
    bl_tsample s = {.tenant = t,
                    .instance = inst,
                    .boot = boot,
                    .seq = seq,
                    .at_us = at,
                    .flavor = flavor,
                    .state = state,
                    .tx = tx};
    bl_json_sample(j, &s);
}

static const char *plan_body_x(const char *name, const char *unit, int min, const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"name\":\"%s\",\"effective_from\":\"2025-01-01T00:00:00Z\",\"prices\":{"
             "\"cpu_per_gcycle\":0,\"rx_per_gib\":0,\"tx_per_gib\":90000,"
             "\"storage_per_gib_month\":0,\"instance_hour_default\":1000000,"
             "\"instance_hour\":{\"m1.small\":360000,\"m1.large\":1440000},"
             "\"time_unit\":\"%s\"%s%s}}",
             name, unit, min ? ",\"min_seconds\":60" : "", extra);
    return buf;
}

static const char *plan_body(const char *name, const char *unit, int min)
{
    return plan_body_x(name, unit, min, "");
}

static void assign(const char *tenant, const char *plan)
{
    bl_assign_plan(&srv, tenant, plan);
}

static void make_month(void)
{
    static int done;
    if (done++)
        return;
    strcpy(ta, bl_uuid());
    strcpy(tb, bl_uuid());
    strcpy(a1, bl_uuid());
    strcpy(a2, bl_uuid());
    strcpy(a3, bl_uuid());
    strcpy(b1, bl_uuid());
    strcpy(tc, bl_uuid());
    strcpy(td, bl_uuid());
    strcpy(c1, bl_uuid());
    strcpy(d1, bl_uuid());
    st_resp r;
    char metered[37], hourly[37], reduced[37];
    call("POST", "/v1/billing/plans", NULL, 1, plan_body("metered", "second", 1), 201, &r);
    strcpy(metered, json_string_value(json_object_get(r.json, "id")));
    ST_ASSERT_STR_EQ(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(r.json, "versions"), 0), "prices"),
            "time_unit")),
        "second");
    st_resp_free(&r);
    call("POST", "/v1/billing/plans", NULL, 1, plan_body("hourly", "hour", 0), 201, &r);
    strcpy(hourly, json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    call("POST", "/v1/billing/plans", NULL, 1,
         plan_body_x("reduced", "second", 1, ",\"tax_rate_bp\":700"), 201, &r);
    strcpy(reduced, json_string_value(json_object_get(r.json, "id")));
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(json_object_get(r.json, "versions"), 0), "prices"),
            "tax_rate_bp")),
        700);
    st_resp_free(&r);
    assign(ta, metered);
    assign(tb, hourly);
    assign(tc, metered);
    assign(td, reduced);

    bl_json j;
    bl_json_begin(&j, bl_uuid());
    const char *boot = bl_uuid();
    int64_t t0 = bl_t(2025, 5, 2, 10, 0, 0);
    for (int k = 0; k <= 120; k++)
        sample(&j, ta, a1, boot, k + 1, t0 + k * 60 * SEC, "m1.small", "active", k * (GIB / 12));
    sample(&j, ta, a1, boot, 122, bl_t(2025, 5, 2, 12, 10, 0), "m1.small", "stopped", 10 * GIB);
    boot = bl_uuid();
    sample(&j, ta, a2, boot, 1, bl_t(2025, 5, 3, 8, 0, 0), "m1.small", "active", 0);
    sample(&j, ta, a2, boot, 2, bl_t(2025, 5, 3, 8, 0, 30) + 500000, "m1.small", "active", 0);
    sample(&j, ta, a2, bl_uuid(), 1, bl_t(2025, 5, 4, 9, 0, 0), "m1.small", "active", 0);
    boot = bl_uuid();
    sample(&j, ta, a3, boot, 1, bl_t(2025, 5, 10, 0, 0, 0), "m1.large", "active", 0);
    sample(&j, ta, a3, boot, 2, bl_t(2025, 5, 10, 0, 1, 30), "m1.large", "active", 0);
    boot = bl_uuid();
    sample(&j, ta, a3, boot, 1, bl_t(2025, 5, 11, 0, 0, 0), "m1.large", "active", 0);
    sample(&j, ta, a3, boot, 2, bl_t(2025, 5, 11, 0, 1, 1) + 400000, "m1.large", "active", 0);
    boot = bl_uuid();
    sample(&j, tb, b1, boot, 1, bl_t(2025, 5, 5, 10, 30, 0), "m1.small", "active", 0);
    sample(&j, tb, b1, boot, 2, bl_t(2025, 5, 5, 11, 0, 0), "m1.small", "active", GIB / 2);
    sample(&j, tb, b1, boot, 3, bl_t(2025, 5, 5, 11, 30, 0), "m1.small", "active", GIB);
    boot = bl_uuid();
    sample(&j, tc, c1, boot, 1, bl_t(2025, 5, 6, 10, 0, 0), "m1.small", "active", 0);
    sample(&j, tc, c1, boot, 2, bl_t(2025, 5, 6, 11, 0, 0), "m1.small", "active", 0);
    boot = bl_uuid();
    sample(&j, td, d1, boot, 1, bl_t(2025, 5, 7, 9, 0, 0), "m1.large", "active", 0);
    sample(&j, td, d1, boot, 2, bl_t(2025, 5, 7, 9, 15, 0), "m1.large", "active", 0);
    post_batch(&j);
}

/* The draft's JSON document of tenant for May 2025. */
static json_t *may_invoice(const char *tenant, char id[37])
{
    json_t *d = draft_of(tenant, "2025-05");
    ST_ASSERT_INT_EQ_FATAL(d != NULL, 1);
    snprintf(id, 37, "%s", json_string_value(json_object_get(d, "id")));
    json_decref(d);
    char *js = doc(id, tenant, "json", NULL);
    json_t *inv = json_loads(js, 0, NULL);
    free(js);
    return inv;
}

static json_t *line_of(json_t *inv, const char *inst, const char *item)
{
    size_t k;
    json_t *l, *found = NULL;
    json_array_foreach(json_object_get(inv, "lines"), k, l)
    {
        const char *li = json_string_value(json_object_get(l, "instance_id"));
        if (((!inst && !li) || (inst && li && strcmp(li, inst) == 0)) &&
            strcmp(json_string_value(json_object_get(l, "item")), item) == 0) {
            st_assert_fmt(found == NULL, 1, __FILE__, __LINE__, "two %s lines", item);
            found = l;
        }
    }
    st_assert_fmt(found != NULL, 1, __FILE__, __LINE__, "no %s line for %s", item,
                  inst ? inst : "-");
    return found;
}

#define LINE_IS(inv, inst, item, q, amount)                                                        \
    do {                                                                                           \
        json_t *l_ = line_of(inv, inst, item);                                                     \
        if (l_) {                                                                                  \
            ST_ASSERT_INT_EQ(json_integer_value(json_object_get(l_, "quantity")), q);              \
            ST_ASSERT_INT_EQ(json_integer_value(json_object_get(l_, "amount_micro")), amount);     \
        }                                                                                          \
    } while (0)

static void test_time_is_billed_per_second_with_a_minimum(void)
{
    make_month();
    char id[37];
    json_t *inv = may_invoice(ta, id);
    LINE_IS(inv, a1, "instance_seconds", 7200, 720000);
    LINE_IS(inv, a1, "tx_bytes", 10 * GIB, 900000);
    LINE_IS(inv, a2, "instance_seconds", 120, 10000);
    LINE_IS(inv, a3, "instance_seconds", 152, 60000);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(inv, "lines")), 4);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "net_micro")), 1690000);
    json_t *l = line_of(inv, a1, "instance_seconds");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(l, "unit")), "second");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(l, "billing_unit")), "hour");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(l, "billing_quantity")), "2.000000");
    json_decref(inv);
    /* Whole hours remain a plan option. */
    inv = may_invoice(tb, id);
    LINE_IS(inv, b1, "instance_hours", 2, 720000);
    LINE_IS(inv, b1, "tx_bytes", GIB, 90000);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(inv, "lines")), 2);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "net_micro")), 810000);
    json_decref(inv);
    /* A minimum needs per-second time. */
    st_resp r;
    call("POST", "/v1/billing/plans", NULL, 1, plan_body("bad", "hour", 1), 400, &r);
    st_resp_free(&r);
}

/* A gateway call for a tenant user with a role (bl_call's is "member"). */
static void as_role(const char *method, const char *path, const char *tenant, const char *role,
                    const char *body, long want, st_resp *r)
{
    char url[512], th[96], rh[64];
    snprintf(url, sizeof url, "%s%s", srv.base, path);
    snprintf(th, sizeof th, "X-Stratus-Tenant: %s", tenant);
    snprintf(rh, sizeof rh, "X-Stratus-Role: %s", role);
    const char *hdrs[] = {th, rh, "X-Stratus-Cloud-Admin: false", NULL};
    st_http(r, method, url, BL_TEST_TOKEN, body, hdrs);
    st_assert_fmt(r->status == want, 1, __FILE__, __LINE__, "%s %s as %s: %ld (want %ld) %s",
                  method, path, role, r->status, want, r->body ? r->body : "");
}

#define ACCOUNT_A                                                                                  \
    "{\"legal_name\":\"Alpha Analytik AG\",\"address\":\"Marienplatz 8\\n80331 Muenchen\","        \
    "\"country\":\"DE\",\"tax_id\":\"DE811111111\",\"email\":\"ap@alpha.example\"}"
#define ACCOUNT_C                                                                                  \
    "{\"legal_name\":\"Claire Chevalier\",\"address\":\"3 quai Rambaud\\n69002 Lyon\","            \
    "\"country\":\"FR\",\"email\":\"claire@chevalier.example\"}"
#define ACCOUNT_D                                                                                  \
    "{\"legal_name\":\"Dieter Dorn\",\"address\":\"Am Markt 2\\n01067 Dresden\","                  \
    "\"country\":\"DE\",\"email\":\"dieter@dorn.example\"}"
#define ACCOUNT_B                                                                                  \
    "{\"legal_name\":\"Bureau Beta SARL\",\"address\":\"12 rue de la Paix\\n75002 Paris\","        \
    "\"country\":\"FR\",\"tax_id\":\"FR40303265045\",\"email\":\"compta@beta.example\"}"

static int64_t day_of(const char *ymd)
{
    int y, m, d;
    if (!ymd || sscanf(ymd, "%d-%d-%d", &y, &m, &d) != 3)
        return -1;
    return bl_t(y, m, d, 0, 0, 0);
}

static char may_a[37], may_b[37];

static void test_accounts_are_the_tenant_admins_and_cloud_admins(void)
{
    make_month();
    st_resp r;
    as_role("PUT", "/v1/billing/account", ta, "member", ACCOUNT_A, 403, &r);
    st_resp_free(&r);
    as_role("GET", "/v1/billing/account", ta, "reader", NULL, 404, &r);
    st_resp_free(&r);
    /* every field is checked; nothing is stored on a refusal */
    const char *bad[] = {
        "{\"legal_name\":\"X\",\"address\":\"a\",\"country\":\"de\",\"email\":\"a@b.c\"}",
        "{\"legal_name\":\"X\",\"address\":\"a\",\"country\":\"DE\",\"email\":\"nobody\"}",
        "{\"legal_name\":\"X\",\"address\":\"a\",\"country\":\"DE\",\"email\":\"a@b.c\",\"vat\":1}",
        "{\"legal_name\":\"\",\"address\":\"a\",\"country\":\"DE\",\"email\":\"a@b.c\"}",
        ("{\"legal_name\":\"X\",\"address\":\"a\",\"country\":\"DE\",\"email\":\"a@b.c\","
         "\"tax_id\":\"DE<1>\"}"),
        "{\"legal_name\":\"X\\u0007\",\"address\":\"a\",\"country\":\"DE\",\"email\":\"a@b.c\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        as_role("PUT", "/v1/billing/account", ta, "admin", bad[i], 400, &r);
        ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
        st_resp_free(&r);
    }
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.accounts"), 0);
    as_role("PUT", "/v1/billing/account", ta, "admin", ACCOUNT_A, 200, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "country")), "DE");
    st_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/account", tb);
    call("PUT", path, NULL, 1, ACCOUNT_B, 200, &r);
    st_resp_free(&r);
    as_role("PUT", "/v1/billing/account", tc, "admin", ACCOUNT_C, 200, &r);
    st_resp_free(&r);
    as_role("PUT", "/v1/billing/account", td, "admin", ACCOUNT_D, 200, &r);
    st_resp_free(&r);
    /* a tenant reads its own, any role; never another's */
    as_role("GET", "/v1/billing/account", tb, "reader", NULL, 200, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "legal_name")), "Bureau Beta SARL");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "address")),
                     "12 rue de la Paix\n75002 Paris");
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/account?tenant_id=%s", ta);
    as_role("GET", path, tb, "admin", NULL, 403, &r);
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/account", ta);
    as_role("GET", path, tb, "admin", NULL, 403, &r);
    st_resp_free(&r);
}

static void test_the_issued_invoice_names_both_parties_and_its_terms(void)
{
    st_resp r;
    /* February (the first test's tenant) must be issued before May. */
    call("POST", "/v1/billing/periods/2025-05/issue", NULL, 1, NULL, 409, &r);
    st_resp_free(&r);
    call("POST", "/v1/billing/periods/2025-02/issue", NULL, 1, NULL, 201, &r);
    st_resp_free(&r);
    /* The preview says exactly what issuing will produce, and stores nothing. */
    call("GET", "/v1/billing/periods/2025-05/preview", NULL, 1, NULL, 200, &r);
    json_t *pv = json_incref(r.json);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(pv, "issuable")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pv, "invoices")), 4);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pv, "first_number")), 2);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pv, "total_micro")),
                     2010000 + 810000 + 430000 + 390000);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.invoices"), 1);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT next_invoice_number FROM billing.state"), 2);
    call("POST", "/v1/billing/periods/2025-05/issue", NULL, 1, NULL, 201, &r);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "invoices")), 4);
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(pv, "tenants"), k, t)
    {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM billing.invoices WHERE tenant_id = '%s' AND number = %lld"
                 " AND total_micro = %lld AND number_text = '%s'",
                 json_string_value(json_object_get(t, "tenant_id")),
                 (long long)json_integer_value(json_object_get(t, "number")),
                 (long long)json_integer_value(json_object_get(t, "total_micro")),
                 json_string_value(json_object_get(t, "number_text")));
        st_assert_fmt(bl_sql_int(&srv, sql) == 1, 0, __FILE__, __LINE__,
                      "the preview of tenant %zu differs from what was issued", k);
    }
    json_decref(pv);
    /* the month's total is what the customers owe: the gross */
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "total_micro")),
                     2010000 + 810000 + 430000 + 390000);
    st_resp_free(&r);
    json_t *inv = may_invoice(ta, may_a);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(inv, "status")), "issued");
    /* the number through invoice.number_format: SC-{yyyy}-{n:5} */
    const char *num = json_string_value(json_object_get(inv, "number_text"));
    char want[64];
    snprintf(want, sizeof want, "SC-%.4s-%05lld",
             json_string_value(json_object_get(inv, "issue_date")),
             (long long)json_integer_value(json_object_get(inv, "number")));
    ST_ASSERT_STR_EQ(num, want);
    int64_t issued = day_of(json_string_value(json_object_get(inv, "issue_date")));
    int64_t due = day_of(json_string_value(json_object_get(inv, "due_date")));
    ST_ASSERT_INT_EQ(issued > 0 && due - issued == 14LL * 24 * 3600 * SEC, 1);
    json_t *seller = json_object_get(inv, "seller"), *buyer = json_object_get(inv, "buyer");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(seller, "name")), SELLER);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(seller, "address")),
                     "Hauptstrasse 1\n10115 Berlin");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(seller, "tax_id")), "DE123456789");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(buyer, "name")), "Alpha Analytik AG");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(buyer, "tax_id")), "DE811111111");
    ST_ASSERT_INT_EQ(json_string_value(json_object_get(inv, "payment_terms")) != NULL, 1);
    char due_text[11];
    snprintf(due_text, sizeof due_text, "%s", json_string_value(json_object_get(inv, "due_date")));
    char number[64];
    snprintf(number, sizeof number, "%s", num);
    json_decref(inv);
    json_decref(may_invoice(tb, may_b));

    /* Every legal field in the PDF, as pdftotext reads it. */
    size_t pl;
    char *pdf = doc(may_a, ta, "pdf", &pl);
    char *text = bl_pdf_text(pdf, pl);
    const char *fields[] = {SELLER,
                            "Hauptstrasse 1",
                            "10115 Berlin",
                            "VAT/tax ID: DE123456789",
                            "billing@stratus.example",
                            "Alpha Analytik AG",
                            "Marienplatz 8",
                            "80331 Muenchen",
                            "VAT/tax ID: DE811111111",
                            "ap@alpha.example",
                            number,
                            "Issue date: ",
                            due_text,
                            "Payment terms: ",
                            "Service period: 2025-05"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        st_assert_fmt(strstr(text, fields[i]) != NULL, 0, __FILE__, __LINE__,
                      "the PDF lacks \"%s\"", fields[i]);
    free(text);
    free(pdf);
    /* A later change of the account never alters the issued invoice. */
    char *before = doc(may_a, ta, "json", NULL);
    as_role("PUT", "/v1/billing/account", ta, "admin",
            "{\"legal_name\":\"Renamed\",\"address\":\"x\",\"country\":\"DE\",\"email\":\"a@b.c\"}",
            200, &r);
    st_resp_free(&r);
    char *after = doc(may_a, ta, "json", NULL);
    ST_ASSERT_STR_EQ(after, before);
    free(before);
    free(after);
    as_role("PUT", "/v1/billing/account", ta, "admin", ACCOUNT_A, 200, &r);
    st_resp_free(&r);
}

/* The issued invoice's tax block: net, one rate, tax, gross. */
static void taxed(const char *tenant, int rate_bp, long long net, long long tax, int reverse)
{
    char id[37];
    json_t *inv = may_invoice(tenant, id);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(inv, "status")), "issued");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "net_micro")), net);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "tax_micro")), tax);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "gross_micro")), net + tax);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(inv, "total_micro")), net + tax);
    json_t *taxes = json_object_get(inv, "taxes");
    ST_ASSERT_INT_EQ(json_array_size(taxes), 1);
    json_t *g = json_array_get(taxes, 0);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(g, "rate_bp")), rate_bp);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(g, "net_micro")), net);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(g, "tax_micro")), tax);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(inv, "reverse_charge")), reverse);
    ST_ASSERT_INT_EQ(json_is_string(json_object_get(inv, "reverse_charge_note")), reverse);
    /* lines are net, and their sum is the net */
    long long sum = 0;
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(inv, "lines"), k, l)
    {
        sum += json_integer_value(json_object_get(l, "amount_micro"));
        ST_ASSERT_INT_EQ(json_integer_value(json_object_get(l, "tax_rate_bp")), rate_bp);
    }
    ST_ASSERT_INT_EQ(sum, net);
    json_decref(inv);
}

static void test_a_hand_priced_month_is_taxed_exactly(void)
{
    taxed(ta, 1900, 1690000, 320000, 0);
    taxed(tb, 0, 810000, 0, 1);
    taxed(tc, 2000, 360000, 70000, 0);
    taxed(td, 700, 360000, 30000, 0);
    /* A's lines, exact: per second, minimums, and the line rounding */
    char id[37];
    json_t *inv = may_invoice(ta, id);
    LINE_IS(inv, a1, "instance_seconds", 7200, 720000);
    LINE_IS(inv, a2, "instance_seconds", 120, 10000);
    LINE_IS(inv, a3, "instance_seconds", 152, 60000);
    LINE_IS(inv, a1, "tx_bytes", 10 * GIB, 900000);
    json_decref(inv);
    /* The PDF prints the tax block and the reverse charge. */
    size_t pl;
    char *pdf = doc(may_a, ta, "pdf", &pl);
    char *text = bl_pdf_text(pdf, pl);
    const char *want_a[] = {"Net total: 1.69 EUR", "Tax 19% on 1.69 EUR: 0.32 EUR",
                            "Tax total: 0.32 EUR", "Total due (gross): 2.01 EUR"};
    for (size_t i = 0; i < sizeof want_a / sizeof *want_a; i++)
        st_assert_fmt(strstr(text, want_a[i]) != NULL, 0, __FILE__, __LINE__,
                      "A's PDF lacks \"%s\"", want_a[i]);
    free(text);
    free(pdf);
    pdf = doc(may_b, tb, "pdf", &pl);
    text = bl_pdf_text(pdf, pl);
    const char *want_b[] = {"Tax 0% on 0.81 EUR: 0.00 EUR (reverse charge)",
                            "Total due (gross): 0.81 EUR",
                            "Reverse charge: VAT to be accounted",
                            "VAT/tax ID: FR40303265045",
                            "Bureau Beta SARL",
                            "75002 Paris"};
    for (size_t i = 0; i < sizeof want_b / sizeof *want_b; i++)
        st_assert_fmt(strstr(text, want_b[i]) != NULL, 0, __FILE__, __LINE__,
                      "B's PDF lacks \"%s\"", want_b[i]);
    free(text);
    free(pdf);
}

static void test_lines_are_readable_and_the_csv_sums_to_the_total(void)
{
    /* the flavor beside the id on every line of an instance */
    char id[37];
    json_t *inv = may_invoice(ta, id);
    json_t *l = line_of(inv, a1, "tx_bytes");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(l, "instance_flavor")), "m1.small");
    l = line_of(inv, a3, "instance_seconds");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(l, "instance_flavor")), "m1.large");
    /* no gateway schema in this database: names are unknown, never made up */
    ST_ASSERT_INT_EQ(json_is_null(json_object_get(l, "instance_name")), 1);
    json_decref(inv);
    struct {
        const char *tenant, *id;
        long long rows, gross;
    } want[] = {{ta, may_a, 5, 2010000}, {tb, may_b, 3, 810000}};
    for (int i = 0; i < 2; i++) {
        size_t cl;
        char *csv = doc(want[i].id, want[i].tenant, "csv", &cl);
        long long rows = 0, sum = 0;
        ST_ASSERT_INT_EQ(bl_csv_sum(csv, cl, "amount_micro", &rows, &sum), 0);
        ST_ASSERT_INT_EQ(rows, want[i].rows); /* lines and one tax row, no total row */
        ST_ASSERT_INT_EQ(sum, want[i].gross);
        ST_ASSERT_INT_EQ(strstr(csv, ",total,") == NULL, 1);
        free(csv);
    }
    /* the PDF's rows show the flavor beside the id */
    size_t pl;
    char *pdf = doc(may_a, ta, "pdf", &pl);
    char *text = bl_pdf_text(pdf, pl);
    char *at = strstr(text, a3), *eol = at ? strchr(at, '\n') : NULL,
         *fl = at ? strstr(at, "m1.large") : NULL;
    st_assert_fmt(at && fl && (!eol || fl < eol), 0, __FILE__, __LINE__,
                  "the PDF's row of %s lacks its flavor: %.200s", a3, at ? at : text);
    free(text);
    free(pdf);
}

/* C's May invoice: one line, 0.36 net at FR 20%: 0.07 tax, 0.43 gross. */
static void test_a_credit_note_corrects_an_invoice_that_never_changes(void)
{
    char id[37], path[160];
    json_decref(may_invoice(tc, id));
    char *json_before = doc(id, tc, "json", NULL);
    size_t pl;
    char *pdf_before = doc(id, tc, "pdf", &pl);
    long long invoices = bl_sql_int(&srv, "SELECT next_invoice_number FROM billing.state");
    st_resp r;
    snprintf(path, sizeof path, "/v1/billing/invoices/%s/credit-notes", id);
    /* a tenant may not; a line cannot be over-credited */
    call("POST", path, tc, 0, "{\"reason\":\"x\",\"all\":true}", 403, &r);
    st_resp_free(&r);
    call("POST", path, NULL, 1,
         "{\"reason\":\"x\",\"lines\":[{\"line\":1,\"amount_micro\":360001}]}", 400, &r);
    st_resp_free(&r);
    call("POST", path, NULL, 1, "{\"reason\":\"x\",\"lines\":[{\"line\":2,\"amount_micro\":1}]}",
         400, &r);
    st_resp_free(&r);
    /* 0.10 of the line: tax 20% of 0.10 = 0.02 */
    call("POST", path, NULL, 1,
         "{\"reason\":\"an hour of outage\",\"lines\":[{\"line\":1,\"amount_micro\":100000}]}", 201,
         &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "number_text")), "CN-000001");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "invoice_id")), id);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "net_micro")), 100000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "tax_micro")), 20000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "total_micro")), 120000);
    char cn1[37];
    snprintf(cn1, sizeof cn1, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    /* the rest: 0.26 net; tax of 0.36 credited in all is 0.07, less 0.02 = 0.05 */
    call("POST", path, NULL, 1, "{\"reason\":\"cancelled\",\"all\":true}", 201, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "number_text")), "CN-000002");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "net_micro")), 260000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "tax_micro")), 50000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "total_micro")), 310000);
    st_resp_free(&r);
    call("POST", path, NULL, 1, "{\"reason\":\"again\",\"all\":true}", 409, &r);
    st_resp_free(&r);
    /* the balance: 0.43 - 0.12 - 0.31 = 0 */
    call("GET", "/v1/billing/invoices", tc, 0, NULL, 200, &r);
    json_t *it = json_array_get(json_object_get(r.json, "invoices"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(it, "id")), id);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(it, "total_micro")), 430000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(it, "credited_micro")), 430000);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(it, "balance_micro")), 0);
    st_resp_free(&r);
    /* the original never changed; invoice numbers were not touched */
    char *json_after = doc(id, tc, "json", NULL);
    size_t pl2;
    char *pdf_after = doc(id, tc, "pdf", &pl2);
    ST_ASSERT_STR_EQ(json_after, json_before);
    ST_ASSERT_INT_EQ(pl2 == pl && memcmp(pdf_after, pdf_before, pl) == 0, 1);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT next_invoice_number FROM billing.state"), invoices);
    free(json_before);
    free(json_after);
    free(pdf_before);
    free(pdf_after);
    /* the tenant lists and reads its credit notes; another tenant cannot */
    call("GET", "/v1/billing/credit-notes", tc, 0, NULL, 200, &r);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "credit_notes")), 2);
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/credit-notes/%s", cn1);
    call("GET", path, tc, 0, NULL, 200, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "reason")), "an hour of outage");
    st_resp_free(&r);
    call("GET", path, ta, 0, NULL, 404, &r);
    st_resp_free(&r);
    /* its PDF names the invoice it corrects, both parties and the amounts */
    char *pdf = doc_path(path, tc, "pdf", &pl);
    char *text = bl_pdf_text(pdf, pl);
    const char *fields[] = {"Credit note CN-000001",
                            "Corrects invoice: SC-",
                            SELLER,
                            "VAT/tax ID: DE123456789",
                            "Claire Chevalier",
                            "69002 Lyon",
                            "Reason: an hour of outage",
                            "Tax 20% on 0.10 EUR: 0.02 EUR",
                            "Total credited (gross): 0.12 EUR"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        st_assert_fmt(strstr(text, fields[i]) != NULL, 0, __FILE__, __LINE__,
                      "the credit note's PDF lacks \"%s\"", fields[i]);
    free(text);
    free(pdf);
    ST_ASSERT_INT_EQ(bl_sql_int(&srv, "SELECT count(*) FROM billing.credit_notes"), 2);
}

/* The UBL export of A's (DE, 19%) and B's (FR business, reverse charge)
 * May invoices and of C's first credit note, each checked against its JSON
 * by ubl_check.py; a draft has none. */
static void test_issued_documents_export_as_ubl(void)
{
    char out[1024];
    struct {
        const char *tenant, *id;
        int lines;
    } inv[] = {{ta, may_a, 4}, {tb, may_b, 2}};
    for (int i = 0; i < 2; i++) {
        size_t xl;
        char *xml = doc(inv[i].id, inv[i].tenant, "ubl", &xl);
        char *json = doc(inv[i].id, inv[i].tenant, "json", NULL);
        int rc = bl_ubl_check(xml, xl, json, NULL, out, sizeof out);
        st_assert_fmt(rc == 0, 0, __FILE__, __LINE__, "invoice %d: %s", i, out);
        char want[16];
        snprintf(want, sizeof want, "ok %d\n", inv[i].lines);
        ST_ASSERT_STR_EQ(out, want);
        /* the reverse charge is category AE with its reason; A's rate is S 19% */
        ST_ASSERT_INT_EQ(strstr(xml, i ? "<cbc:ID>AE</cbc:ID><cbc:Percent>0</cbc:Percent>"
                                         "<cbc:TaxExemptionReasonCode>VATEX-EU-AE"
                                       : "<cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent>") != NULL,
                         1);
        free(xml);
        free(json);
    }
    /* the credit note: a UBL CreditNote referring to its invoice */
    st_resp r;
    call("GET", "/v1/billing/credit-notes", tc, 0, NULL, 200, &r);
    json_t *cn = json_array_get(json_object_get(r.json, "credit_notes"), 0);
    char path[160], inv_id[37];
    snprintf(path, sizeof path, "/v1/billing/credit-notes/%s",
             json_string_value(json_object_get(cn, "id")));
    snprintf(inv_id, sizeof inv_id, "%s", json_string_value(json_object_get(cn, "invoice_id")));
    st_resp_free(&r);
    size_t xl, jl;
    char *xml = doc_path(path, tc, "ubl", &xl), *json = doc_path(path, tc, "json", &jl);
    char *ij = doc(inv_id, tc, "json", NULL);
    int rc = bl_ubl_check(xml, xl, json, ij, out, sizeof out);
    st_assert_fmt(rc == 0, 0, __FILE__, __LINE__, "credit note: %s", out);
    ST_ASSERT_INT_EQ(strstr(xml, "<CreditNote xmlns=") != NULL, 1);
    free(xml);
    free(json);
    free(ij);
    /* a draft is no e-invoice (a fresh tenant's open month); an unknown format is refused */
    char t[37], i[37], bt[37];
    strcpy(t, bl_uuid());
    strcpy(i, bl_uuid());
    strcpy(bt, bl_uuid());
    bl_tsample smp = {.tenant = t,
                      .instance = i,
                      .boot = bt,
                      .seq = 1,
                      .at_us = bl_t(2025, 8, 3, 10, 0, 0),
                      .rx = 1};
    bl_json j;
    bl_json_begin(&j, bl_uuid());
    bl_json_sample(&j, &smp);
    bl_post(&srv, bl_json_end(&j), NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
    bl_json_free(&j);
    json_t *d = draft_of(t, "2025-08");
    ST_ASSERT_INT_EQ_FATAL(d != NULL, 1);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s?format=ubl",
             json_string_value(json_object_get(d, "id")));
    call("GET", path, t, 0, NULL, 409, &r);
    st_resp_free(&r);
    json_decref(d);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s?format=xml", may_a);
    call("GET", path, ta, 0, NULL, 400, &r);
    st_resp_free(&r);
}

static void test_an_empty_month_is_issued_only_on_confirmation(void)
{
    st_resp r;
    call("GET", "/v1/billing/periods/2025-06/preview", NULL, 1, NULL, 200, &r);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(r.json, "empty")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "invoices")), 0);
    st_resp_free(&r);
    call("POST", "/v1/billing/periods/2025-06/issue", NULL, 1, NULL, 409, &r);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "empty_month");
    st_resp_free(&r);
    char *thr = bl_sql(&srv, "SELECT issued_through FROM billing.state");
    ST_ASSERT_STR_EQ(thr, "2025-05-01"); /* nothing moved */
    free(thr);
    call("POST", "/v1/billing/periods/2025-06/issue?confirm_empty=true", NULL, 1, NULL, 201, &r);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "invoices")), 0);
    st_resp_free(&r);
    call("GET", "/v1/billing/periods/2025-06/preview", NULL, 1, NULL, 409, &r);
    st_resp_free(&r);
}

static CU_TestInfo tests[] = {
    {"a tenant without a plan is flagged, never priced at zero silently",
     test_a_tenant_without_a_plan_is_flagged},
    {"time is billed per second with a minimum; whole hours remain",
     test_time_is_billed_per_second_with_a_minimum},
    {"billing accounts are the tenant admin's and the cloud admin's",
     test_accounts_are_the_tenant_admins_and_cloud_admins},
    {"the issued invoice names both parties, its number, dates and terms",
     test_the_issued_invoice_names_both_parties_and_its_terms},
    {"a hand-priced month is taxed exactly: net, tax per rate, gross, reverse charge",
     test_a_hand_priced_month_is_taxed_exactly},
    {"lines show flavors (and names) beside ids; the CSV sums to the total",
     test_lines_are_readable_and_the_csv_sums_to_the_total},
    {"a credit note corrects an issued invoice, which never changes",
     test_a_credit_note_corrects_an_invoice_that_never_changes},
    {"issued invoices and credit notes export as UBL 2.1 (EN 16931), matching the JSON",
     test_issued_documents_export_as_ubl},
    {"an empty month is issued only on explicit confirmation",
     test_an_empty_month_is_issued_only_on_confirmation},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sendable", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    st_log_init("test", ST_LOG_ERROR);
    return st_test_main(argc, argv, suites);
}
