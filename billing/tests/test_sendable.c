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

static int suite_init(void)
{
    static const char *const sets[] = {"retention.raw_days=3650", NULL};
    return bl_srv_start(&srv, "billing_sendable", sets);
}

static int suite_clean(void) { return bl_srv_stop(&srv); }

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

/* pdftotext -layout of a PDF (malloc'd text). */
static char *pdf_text(const char *pdf, size_t len)
{
    char *tmp = st_tmpdir("billing_sendable_pdf"), path[512], cmd[1200];
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
        bl_tsample s = {.tenant = t, .instance = inst, .boot = boot, .seq = k,
                        .at_us = bl_t(2025, 2, 3, 10, 20 * k, 0), .cycles = k * 1000000000LL,
                        .flavor = "m1.small"};
        bl_json_sample(&j, &s);
    }
    post_batch(&j);
    st_resp r;
    call("GET", "/v1/billing/usage?from=2025-02-01T00:00:00Z&to=2025-03-01T00:00:00Z", t, 0,
         NULL, 200, &r);
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
    ST_ASSERT_INT_EQ(strstr(json_string_value(json_object_get(inv, "notice")), "NO PRICE PLAN") != NULL, 1);
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
    char *text = pdf_text(pdf, pl);
    ST_ASSERT_INT_EQ(strstr(text, "NO PRICE PLAN") != NULL, 1);
    free(text);
    free(pdf);

    /* The default plan deploy/run-cloud.sh makes (its body, verbatim in spirit):
     * from then on the same tenant is priced and no longer flagged. */
    call("POST", "/v1/billing/plans", NULL, 1,
         "{\"name\":\"default\",\"default\":true,\"effective_from\":\"2025-01-01T00:00:00Z\","
         "\"prices\":{\"cpu_per_gcycle\":0,\"rx_per_gib\":0,\"tx_per_gib\":90000,"
         "\"storage_per_gib_month\":50000,\"instance_hour_default\":10000,"
         "\"instance_hour\":{\"m1.tiny\":5000,\"m1.small\":20000}}}", 201, &r);
    st_resp_free(&r);
    call("GET", "/v1/billing/usage?from=2025-02-01T00:00:00Z&to=2025-03-01T00:00:00Z", t, 0,
         NULL, 200, &r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r.json, "plan"), "name")),
                     "default");
    ST_ASSERT_INT_EQ(json_is_false(json_object_get(r.json, "no_plan")), 1);
    st_resp_free(&r);
    d = draft_of(t, "2025-02");
    ST_ASSERT_INT_EQ(json_is_false(json_object_get(d, "no_plan")), 1);
    /* samples at 10:20, 10:40 and 11:00: two instance-hours of m1.small at 0.02 */
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(d, "total_micro")), 40000);
    json_decref(d);
}

static CU_TestInfo tests[] = {
    {"a tenant without a plan is flagged, never priced at zero silently",
     test_a_tenant_without_a_plan_is_flagged},
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
