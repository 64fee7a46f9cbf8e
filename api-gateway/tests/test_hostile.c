/* Hostile HTTP against every listener a gateway test brings up (the gateway,
 * billing, the image service's API and data listeners): malformed request
 * lines, huge heads, unknown methods and heads that trickle in get JSON
 * errors or are cut at the deadline, and each service serves on. Then text
 * that is not UTF-8 in query parameters and headers: a 400 from every
 * service, never a 500 or a 503. */
#include "gwt.h"
#include "st_rawhttp.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A;

static int suite_init(void)
{
    /* a 3 s deadline everywhere, so a trickled head is cut quickly */
    setenv("STRATUS_GATEWAY_HTTP_TIMEOUT", "3", 1);
    setenv("STRATUS_BILLING_HTTP_TIMEOUT", "3", 1);
    setenv("STRATUS_IMAGES_HTTP_TIMEOUT", "3", 1);
    gwt_start(&T, "gw_hostile", NULL);
    gwt_make_tenant(&T, "hostile", &A);
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    gwt_stop(&T);
    return 0;
}

static int port_of(const char *url)
{
    return atoi(strrchr(url, ':') + 1);
}

static void check(const char *what, int port)
{
    st_hostile h;
    st_hostile_listener("127.0.0.1", port, "/healthz", 10, &h);
    fprintf(stderr,
            "%s: line %d/%d version %d/%d huge %d/%d method %d/%d slow %d %.1fs %d/%d "
            "after %d\n",
            what, h.bad_line_status, h.bad_line_json, h.bad_version_status, h.bad_version_json,
            h.huge_head_status, h.huge_head_json, h.method_status, h.method_json, h.slow_closed,
            h.slow_secs, h.slow_status, h.slow_json, h.after_status);
    ST_ASSERT_INT_EQ(h.bad_line_status, 400);
    CU_ASSERT_TRUE(h.bad_line_json);
    CU_ASSERT_TRUE(h.bad_version_status >= 400 && h.bad_version_status <= 505);
    CU_ASSERT_TRUE(h.bad_version_json);
    CU_ASSERT_TRUE(h.huge_head_status == 400 || h.huge_head_status == 413 ||
                   h.huge_head_status == 431);
    CU_ASSERT_TRUE(h.huge_head_json);
    CU_ASSERT_TRUE(h.method_status >= 400 && h.method_status <= 501);
    CU_ASSERT_TRUE(h.method_json);
    CU_ASSERT_TRUE(h.slow_closed);
    CU_ASSERT_TRUE(h.slow_secs < 8.0); /* the 3 s deadline, not an idle timer */
    ST_ASSERT_INT_EQ(h.slow_status, 408);
    CU_ASSERT_TRUE(h.slow_json);
    ST_ASSERT_INT_EQ(h.after_status, 200);
}

static void test_gateway_listener(void)
{
    check("gateway", port_of(T.base));
}
static void test_billing_listener(void)
{
    check("billing", port_of(T.billing_url));
}
static void test_images_api_listener(void)
{
    check("images api", port_of(T.images_url));
}

static void test_images_data_listener(void)
{
    check("images data", port_of(T.images_data_url));
}

static void test_query_and_headers_that_are_not_utf8_get_400(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/instances?state=%ff", A.reader, NULL), 400);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/images?status=%ff", A.reader, NULL), 400);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
    st_resp_free(&r);
    /* the Idempotency-Key header of an instance create */
    char url[256];
    snprintf(url, sizeof url, "%s/v1/instances", T.base);
    const char *h[] = {"Idempotency-Key: \xff\xfe-key", NULL};
    st_http(&r, "POST", url, A.member, "{\"name\":\"x\",\"flavor\":\"none\",\"image\":\"none\"}",
            h);
    ST_ASSERT_INT_EQ(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "Idempotency-Key"));
    st_resp_free(&r);
    /* the image service and billing refuse it themselves too */
    snprintf(url, sizeof url, "%s/v1/images?status=%%ff", T.images_url);
    st_http(&r, "GET", url, T.internal_token, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    snprintf(url, sizeof url, "%s/healthz?x=%%ff", T.billing_url);
    st_http(&r, "GET", url, NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    /* and every service still answers */
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances?state=active", A.reader, NULL), 200);
}

static CU_TestInfo tests[] = {
    {"the gateway's listener: JSON errors, slow heads cut, serves on", test_gateway_listener},
    {"billing's listener: JSON errors, slow heads cut, serves on", test_billing_listener},
    {"the image API listener: JSON errors, slow heads cut, serves on", test_images_api_listener},
    {"the image data listener: JSON errors, slow heads cut, serves on", test_images_data_listener},
    {"query parameters and headers that are not UTF-8 get 400 everywhere",
     test_query_and_headers_that_are_not_utf8_get_400},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"hostile", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
