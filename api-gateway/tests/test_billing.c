/* Billing through the gateway, against real stratus-billing: a tenant's
 * usage and invoices (JSON, PDF, download, ETag), isolation between
 * tenants, admin-only plans, and a clear 503 when billing is down. */
#include "gwt.h"
#include "st_test.h"

#include "stratus/uuid.h"

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

/* Floating IPs held are billed per IP-hour from the gateway's record of
 * each hold (migration 0020), read by billing at rating: one IP held since
 * 2 h 50 min before the current hour's end (3 hours touched) and one
 * allocated and released at once (1 hour) are 4 IP-hours; at 3333 micro an
 * IP-hour that is 13332 micro, rounded to the cent: 0.01 (10000). */
static void test_floating_ips_are_billed_by_the_hour_held(void)
{
    st_resp r;
    char ext[40] = "", fip1[40] = "", fip2[40] = "", plan[40] = "", path[160];
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/networks", T.admin_token,
                              "{\"name\":\"bill-ext\",\"external\":true}"),
                     201);
    snprintf(ext, sizeof ext, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    char *b = st_jsonf("{s:s, s:s}", "network_id", ext, "cidr", "203.0.113.0/24");
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/subnets", T.admin_token, b), 201);
    free(b);
    b = st_jsonf("{s:s}", "floating_network_id", ext);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/floating-ips", A.member, b), 201);
    snprintf(fip1, sizeof fip1, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/floating-ips", A.member, b), 201);
    snprintf(fip2, sizeof fip2, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    free(b);
    ST_ASSERT_INT_EQ_FATAL(fip1[0] && fip2[0], 1);
    snprintf(path, sizeof path, "/v1/floating-ips/%s", fip2);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    /* fip1 was allocated at :10 two hours before this one (or at the month's
     * start, early on the 1st: this month's hours are what is billed) */
    char sql[400];
    snprintf(sql, sizeof sql,
             "UPDATE iaas.floating_ip_holds SET allocated_at = greatest(date_trunc('month', now(),"
             " 'UTC'), date_trunc('hour', now(), 'UTC') - interval '2 hours' + interval '10 min')"
             " WHERE id = '%s'",
             fip1);
    gwt_sql(&T, sql);
    char *h = gwt_sql_value(&T, "SELECT 1 + least(2, floor(extract(epoch FROM now() -"
                                " date_trunc('month', now(), 'UTC')) / 3600))::int");
    long long hours = h ? atoll(h) : -1;
    free(h);
    snprintf(path, sizeof path, "/v1/floating-ips/%s", fip1);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/billing/plans", T.admin_token,
                              "{\"name\":\"fip\",\"prices\":{\"cpu_per_gcycle\":0,"
                              "\"rx_per_gib\":0,\"tx_per_gib\":0,\"storage_per_gib_month\":0,"
                              "\"instance_hour_default\":0,\"floating_ip_hour\":3333}}"),
                     201);
    snprintf(plan, sizeof plan, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    char *month = gwt_sql_value(&T, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')");
    char body[200];
    snprintf(body, sizeof body, "{\"plan_id\":\"%s\",\"effective_from\":\"%s-01T00:00:00Z\"}", plan,
             month ? month : "");
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/plans", A.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, T.admin_token, body), 201);
    /* the usage API and the draft invoice */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/usage?granularity=hour", A.reader, NULL),
                     200);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(r.json, "totals"), "floating_ip_hours")),
        hours + 1);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/invoices", A.reader, NULL), 200);
    char id[40] = "";
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(r.json, "invoices"), k, it)
    {
        if (month && strcmp(json_string_value(json_object_get(it, "period")), month) == 0)
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(it, "id")));
    }
    st_resp_free(&r);
    free(month);
    ST_ASSERT_INT_EQ_FATAL(id[0] != 0, 1);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    long long q = -1, amount = -1, price = -1;
    json_array_foreach(json_object_get(r.json, "lines"), k, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "item")), "floating_ip_hours") == 0) {
            q = json_integer_value(json_object_get(it, "quantity"));
            price = json_integer_value(json_object_get(it, "unit_price_micro"));
            amount = json_integer_value(json_object_get(it, "amount_micro"));
        }
    }
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(q, hours + 1);
    ST_ASSERT_INT_EQ(price, 3333);
    /* rounded once to the cent, halves away from zero: 4 x 3333 = 13332 -> 10000 */
    ST_ASSERT_INT_EQ(amount, ((hours + 1) * 3333 + 5000) / 10000 * 10000);
    /* another tenant holds none */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/usage", B.admin, NULL), 200);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(r.json, "totals"), "floating_ip_hours")),
        0);
    st_resp_free(&r);
    /* until it allocates one: a floating IP alone makes a draft with its line */
    b = st_jsonf("{s:s}", "floating_network_id", ext);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/floating-ips", B.member, b), 201);
    free(b);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/invoices", B.admin, NULL), 200);
    /* one draft, this month's: a hold does not reach into a month not begun */
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "invoices")), 1);
    json_t *inv = json_array_get(json_object_get(r.json, "invoices"), 0);
    snprintf(id, sizeof id, "%s", inv ? json_string_value(json_object_get(inv, "id")) : "");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(id[0] != 0, 1);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, B.admin, NULL), 200);
    json_t *l0 = json_array_get(json_object_get(r.json, "lines"), 0);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "lines")), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(l0, "item")), "floating_ip_hours");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(l0, "quantity")), 1);
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

/* An issued invoice of last month as UBL 2.1 XML (e-invoicing), through the
 * gateway's billing proxy; only to its tenant. */
static void test_an_issued_invoice_reaches_the_tenant_as_ubl(void)
{
    char *month =
        gwt_sql_value(&T, "SELECT to_char((now() AT TIME ZONE 'UTC') - interval '1 month',"
                          " 'YYYY-MM')");
    char *at = gwt_sql_value(&T, "SELECT (extract(epoch FROM date_trunc('month', now(), 'UTC')"
                                 " - interval '1 month' + interval '1 hour') * 1000000)::bigint");
    ST_ASSERT_INT_EQ_FATAL(month && at, 1);
    char other[40];
    st_uuid_v4(other);
    ST_ASSERT_INT_EQ(gwt_bill_sample_at(&T, B.id, other, 1, 2000000000LL, atoll(at)), 200);
    char path[200];
    snprintf(path, sizeof path, "/v1/billing/periods/%s/issue", month);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, T.admin_token, NULL), 201);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/invoices", B.reader, NULL), 200);
    char id[40] = "", number[64] = "";
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(r.json, "invoices"), k, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "period")), month) == 0) {
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(it, "id")));
            snprintf(number, sizeof number, "%s",
                     json_string_value(json_object_get(it, "number_text")));
        }
    }
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(id[0] != 0, 1);
    snprintf(path, sizeof path, "/v1/billing/invoices/%s?format=ubl", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, B.reader, NULL), 200);
    char *ct = st_resp_header(&r, "Content-Type"), want[100];
    ST_ASSERT_STR_EQ(ct ? ct : "", "application/xml");
    free(ct);
    snprintf(want, sizeof want, "<cbc:ID>%s</cbc:ID>", number);
    ST_ASSERT_INT_EQ(r.body && strncmp(r.body, "<?xml", 5) == 0 && strstr(r.body, want), 1);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, "<Invoice xmlns=") != NULL, 1);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
    free(month);
    free(at);
}

static CU_TestInfo tests[] = {
    {"usage and a draft invoice reach the tenant, and only that tenant",
     test_usage_and_draft_invoice_reach_the_tenant},
    {"plans are for cloud admins; tenants see the plan in force", test_plans_are_for_cloud_admins},
    {"the billing account is the tenant admin's (and the cloud admin's)",
     test_the_billing_account_is_the_tenant_admins},
    {"floating IPs are billed by the hour held", test_floating_ips_are_billed_by_the_hour_held},
    {"an issued invoice reaches the tenant as UBL",
     test_an_issued_invoice_reaches_the_tenant_as_ubl},
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
