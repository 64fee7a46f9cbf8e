/* Billing through the gateway, against real stratus-billing: a tenant's
 * usage and invoices (JSON, PDF, download, ETag), isolation between
 * tenants, admin-only plans, and a clear 503 when billing is down. */
#include "gwt.h"
#include "st_test.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A, B;
static char flavor[40], image[40], inst[40];
static char *node;

static int suite_init(void)
{
    gwt_start(&T, "gw_billing", NULL);
    gwt_make_tenant(&T, "bill-a", &A);
    gwt_make_tenant(&T, "bill-b", &B);
    gwt_make_catalog(&T, flavor, image);
    node = gwt_make_node(&T, "bill-node", 8, 8192, 100);
    return gwt_create_instance(&T, A.member, "metered", "m1.small", image, NULL, inst) != 202;
}

static int suite_clean(void)
{
    free(node);
    gwt_free_tenant(&A);
    gwt_free_tenant(&B);
    gwt_stop(&T);
    return 0;
}

static long long usage_cycles(const char *token)
{
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/billing/usage?granularity=month", token, NULL);
    long long sum = 0;
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(r.json, "usage"), i, it) sum +=
        json_integer_value(json_object_get(it, "cpu_cycles"));
    st_resp_free(&r);
    return sum;
}

static void test_usage_and_draft_invoice_reach_the_tenant(void)
{
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/billing/usage", A.reader, NULL), 200);
    ST_ASSERT_INT_EQ(usage_cycles(A.reader), 0);
    ST_ASSERT_INT_EQ(gwt_bill_sample(&T, A.id, inst, 1, 1000000000LL), 200);
    ST_ASSERT_INT_EQ(gwt_bill_sample(&T, A.id, inst, 2, 3000000000LL), 200);
    ST_ASSERT_INT_EQ(usage_cycles(A.reader), 3000000000LL);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/invoices", A.reader, NULL), 200);
    json_t *inv = json_array_get(json_object_get(r.json, "invoices"), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(inv);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(inv, "status")), "draft");
    char path[160], id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(inv, "id")));
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "tenant_id")), A.id);
    CU_ASSERT(json_array_size(json_object_get(r.json, "lines")) > 0);
    st_resp_free(&r);
    /* the PDF, with its ETag, and a conditional GET */
    char pdf[200];
    snprintf(pdf, sizeof pdf, "%s/download?format=pdf", path);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", pdf, A.reader, NULL), 200);
    char *ct = st_resp_header(&r, "Content-Type"), *cd = st_resp_header(&r, "Content-Disposition"),
         *etag = st_resp_header(&r, "ETag");
    ST_ASSERT_STR_EQ(ct, "application/pdf");
    CU_ASSERT_PTR_NOT_NULL(cd && strstr(cd, "attachment") ? cd : NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(etag);
    CU_ASSERT(r.len > 4 && memcmp(r.body, "%PDF", 4) == 0);
    st_resp_free(&r);
    char url[300], inm[200];
    snprintf(url, sizeof url, "%s%s", T.base, pdf);
    /* A draft prints the second it was generated, so its bytes (and tag)
     * change when a second passes between the two requests: then the 200
     * must carry a new tag, and the check is made again with that one. */
    for (int attempt = 0; attempt < 3; attempt++) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
        const char *h[] = {inm, NULL};
        st_http(&r, "GET", url, A.reader, NULL, h);
        char *now = r.status == 200 ? st_resp_header(&r, "ETag") : NULL;
        int changed = now && strcmp(now, etag) != 0;
        if (changed) {
            free(etag);
            etag = now;
        } else {
            free(now);
        }
        if (!changed || attempt == 2)
            break;
        st_resp_free(&r);
    }
    ST_ASSERT_INT_EQ(r.status, 304);
    st_resp_free(&r);
    free(ct);
    free(cd);
    free(etag);
    /* another tenant sees nothing of it */
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.admin, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/invoices", B.admin, NULL), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, id));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(usage_cycles(B.admin), 0);
}

static void test_plans_are_for_cloud_admins(void)
{
    const char *plan =
        "{\"name\":\"standard\",\"default\":true,\"prices\":{\"cpu_per_gcycle\":1000,"
        "\"rx_per_gib\":0,\"tx_per_gib\":10000,\"storage_per_gib_month\":20000,"
        "\"instance_hour_default\":5000}}";
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/billing/plans", A.admin, plan), 403);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/billing/plans", T.admin_token, plan), 201);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/billing/plans", A.admin, NULL), 403);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/plan", A.reader, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "standard"));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "POST", "/v1/billing/periods/2026-1x/issue", T.admin_token, NULL), 404);
}

static void test_the_billing_account_is_the_tenant_admins(void)
{
    const char *acct =
        "{\"legal_name\":\"Owner GmbH\",\"address\":\"Am Markt 1\\n01067 Dresden\","
        "\"country\":\"DE\",\"tax_id\":\"DE999999999\",\"email\":\"ap@owner.example\"}";
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/v1/billing/account", A.member, acct), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/v1/billing/account", A.reader, acct), 403);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "PUT", "/v1/billing/account", A.admin, acct), 200);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/account", A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "legal_name")), "Owner GmbH");
    st_resp_free(&r);
    /* another tenant's admin neither reads nor writes it; the cloud admin does both */
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/billing/account", B.admin, NULL), 404);
    char path[128];
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/account", A.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.admin, NULL), 403);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "tax_id")), "DE999999999");
    st_resp_free(&r);
}

static void test_billing_down_is_a_clear_503(void)
{
    st_proc_stop(&T.billing, SIGTERM, 10000);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/usage", A.reader, NULL), 503);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "unavailable");
    char *ra = st_resp_header(&r, "Retry-After");
    CU_ASSERT_PTR_NOT_NULL(ra);
    free(ra);
    st_resp_free(&r);
    /* the rest of the API does not care */
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/quotas", A.reader, NULL), 200);
}

static CU_TestInfo tests[] = {
    {"usage and a draft invoice reach the tenant, and only that tenant",
     test_usage_and_draft_invoice_reach_the_tenant},
    {"plans are for cloud admins; tenants see the plan in force", test_plans_are_for_cloud_admins},
    {"the billing account is the tenant admin's (and the cloud admin's)",
     test_the_billing_account_is_the_tenant_admins},
    {"billing being down is a clear 503", test_billing_down_is_a_clear_503},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"billing", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
