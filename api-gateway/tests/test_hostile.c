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

static void test_gateway_listener(void)
{
    ST_ASSERT_HOSTILE("127.0.0.1", port_of(T.base), "/healthz", 3);
}
static void test_billing_listener(void)
{
    ST_ASSERT_HOSTILE("127.0.0.1", port_of(T.billing_url), "/healthz", 3);
}
static void test_images_api_listener(void)
{
    ST_ASSERT_HOSTILE("127.0.0.1", port_of(T.images_url), "/healthz", 3);
}

static void test_images_data_listener(void)
{
    ST_ASSERT_HOSTILE("127.0.0.1", port_of(T.images_data_url), "/healthz", 3);
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
