/* The gateway as an HTTP server: hostile bodies get clear 4xx and the
 * server stays up; HTTPS; the loopback-only rule for plain HTTP; two
 * gateways on one database agree; and the gateway survives its database
 * restarting. */
#include "gwt.h"
#include "st_oas.h"
#include "st_pg.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static gwt T;
static gwt_tenant A;

static int suite_init(void)
{
    const char *set[] = {"http.max_body=65536", "auth.signin_user_limit=3", NULL};
    gwt_start(&T, "gw_http", set);
    gwt_make_tenant(&T, "web", &A);
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    gwt_stop(&T);
    return 0;
}

static void assert_alive(void)
{
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/healthz", NULL, NULL), 200);
}

static void test_malformed_bodies_get_400_with_a_message(void)
{
    const char *bad[] = {
        "{\"name\": ", /* truncated */
        "[1, 2, 3]",   /* not an object */
        "\"just a string\"",
        "{\"name\": \"a\", \"name\": \"b\"}", /* duplicate key */
        "{\"name\": \"\xff\xfe\"}",           /* invalid UTF-8 */
        "{\"name\": 1e999999}",
        "",
    };
    const char *routes[] = {"/v1/instances", "/v1/keypairs", "/v1/auth/tokens", "/v1/api-keys"};
    for (size_t k = 0; k < sizeof routes / sizeof *routes; k++)
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            st_resp r;
            char url[256];
            snprintf(url, sizeof url, "%s%s", T.base, routes[k]);
            st_http_n(&r, "POST", url, A.member, bad[i], strlen(bad[i]), NULL);
            st_assert_fmt(r.status == 400, 0, __FILE__, __LINE__, "%s body %zu: %ld %s", routes[k],
                          i, r.status, r.body);
            const char *msg =
                json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
            st_assert_fmt(msg && *msg, 0, __FILE__, __LINE__, "%s body %zu: no message", routes[k],
                          i);
            st_resp_free(&r);
        }
    /* nesting far beyond any real request */
    size_t depth = 20000;
    char *deep = malloc(2 * depth + 16);
    size_t n = 0;
    deep[n++] = '{';
    memcpy(deep + n, "\"a\":", 4);
    n += 4;
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    st_resp r;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/keypairs", T.base);
    st_http_n(&r, "POST", url, A.member, deep, n, NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    free(deep);
    assert_alive();
}

static void test_oversized_and_mistyped_bodies(void)
{
    size_t big = 200 * 1024;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    memcpy(huge, "{\"name\":\"", 9);
    memcpy(huge + big - 2, "\"}", 2);
    char url[256];
    snprintf(url, sizeof url, "%s/v1/keypairs", T.base);
    st_resp r;
    st_http_n(&r, "POST", url, A.member, huge, big, NULL);
    ST_ASSERT_INT_EQ(r.status, 413);
    st_resp_free(&r);
    free(huge);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    st_http(&r, "POST", url, A.member, "name=x", form);
    ST_ASSERT_INT_EQ(r.status, 415);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "unsupported_media_type");
    st_resp_free(&r);
    /* a field of the wrong type, and an unknown field, name themselves */
    gwt_call(&T, &r, "POST", "/v1/keypairs", A.member, "{\"name\":[],\"public_key\":\"x\"}");
    ST_ASSERT_INT_EQ(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "'name'"));
    st_resp_free(&r);
    gwt_call(&T, &r, "POST", "/v1/keypairs", A.member, "{\"nmae\":\"x\",\"public_key\":\"x\"}");
    ST_ASSERT_INT_EQ(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "'nmae'"));
    st_resp_free(&r);
    /* enormous headers are refused without harm */
    size_t hl = 64 * 1024;
    char *hdr = malloc(hl + 16);
    memcpy(hdr, "X-Junk: ", 8);
    memset(hdr + 8, 'x', hl);
    hdr[8 + hl] = 0;
    const char *hs[] = {hdr, NULL};
    snprintf(url, sizeof url, "%s/v1/instances", T.base);
    st_http(&r, "GET", url, A.member, NULL, hs);
    CU_ASSERT(r.status == 0 || (r.status >= 400 && r.status < 500));
    st_resp_free(&r);
    free(hdr);
    assert_alive();
}

static void test_https_with_a_configured_certificate(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
             "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
             T.dir, T.dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    char cert[400], key[400];
    snprintf(cert, sizeof cert, "tls.cert=%s/cert.pem", T.dir);
    snprintf(key, sizeof key, "tls.key=%s/key.pem", T.dir);
    const char *set[] = {cert, key, NULL};
    gwt tls;
    gwt_start_peer(&tls, &T, set);
    char base[sizeof tls.base];
    memcpy(base, tls.base, sizeof base);
    snprintf(tls.base, sizeof tls.base, "https%.58s", base + 4); /* http:// -> https:// */
    st_oas_watch(tls.base, st_oas_gateway_doc());                /* its replies are checked too */
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&tls, &r, "GET", "/v1/auth/whoami", A.member, NULL), 200);
    st_resp_free(&r);
    /* curl, the real client, agrees */
    snprintf(cmd, sizeof cmd, "curl -sk -o /dev/null -w '%%{http_code}' %s/healthz", tls.base);
    FILE *p = popen(cmd, "r");
    char code[8] = "";
    CU_ASSERT_PTR_NOT_NULL(fgets(code, sizeof code, p));
    pclose(p);
    ST_ASSERT_STR_EQ(code, "200");
    gwt_stop(&tls);
}

static void test_plain_http_off_loopback_is_refused(void)
{
    char db[600];
    snprintf(db, sizeof db, "db.url=%s", T.conninfo);
    char *argv[] = {(char *)st_build_path("api-gateway/stratus-gateway"),
                    "--listen",
                    "0.0.0.0:0",
                    "--set",
                    db,
                    NULL};
    st_proc p;
    char log[300];
    snprintf(log, sizeof log, "%s/offloopback.log", T.dir);
    CU_ASSERT_FATAL(st_proc_start(&p, argv, NULL, log) == 0);
    int st = st_proc_stop(&p, 0, 10000); /* signal 0: just wait for it to exit */
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

/* /metrics is for the operator: without metrics.token the gateway's public
 * port does not serve it at all; with one, only that bearer token reads it
 * (a tenant's or cloud admin's session is not it). */
static void test_metrics_need_the_operator_token(void)
{
    char url[128];
    st_resp r;
    snprintf(url, sizeof url, "%s/metrics", T.base);
    st_http(&r, "GET", url, NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "unauthorized");
    CU_ASSERT_PTR_NULL(strstr(r.body, "http_requests_total"));
    st_resp_free(&r);
    st_http(&r, "GET", url, T.admin_token, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    gwt g2;
    const char *set[] = {"auth.signin_user_limit=3", "metrics.token=scrape-me-0123456789", NULL};
    gwt_start_peer(&g2, &T, set);
    snprintf(url, sizeof url, "%s/metrics", g2.base);
    st_http(&r, "GET", url, "scrape-me-0123456789", NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "# TYPE "));
    st_resp_free(&r);
    st_http(&r, "GET", url, A.member, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    st_http(&r, "GET", url, "scrape-me-012345678", NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    gwt_stop(&g2);
}

static void test_two_gateways_share_one_truth(void)
{
    gwt g2;
    const char *set[] = {"auth.signin_user_limit=3", NULL}; /* as the first gateway */
    gwt_start_peer(&g2, &T, set);
    /* an object made through one is seen through the other */
    st_resp r;
    char *b = st_jsonf("{s:s, s:s}", "name", "shared", "public_key",
                       "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII5fDoSwCs3Zg73Sao6zV8"
                       "+UVKL99sup7rLMCqj9zP75");
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/keypairs", A.member, b), 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/keypairs/%s",
             json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    free(b);
    ST_ASSERT_INT_EQ(gwt_status(&g2, "GET", path, A.member, NULL), 200);
    /* a sign-out through one is honoured by the other */
    char *tok = gwt_signin(&g2, "web-reader", "password-123", NULL);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", "/v1/auth/tokens/current", tok, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&g2, "GET", "/v1/auth/whoami", tok, NULL), 401);
    free(tok);
    /* rate limits are one limit across gateways */
    char uid[40];
    gwt_make_user(&T, "spread-guesser", "right-password", uid);
    CU_ASSERT_PTR_NULL(gwt_signin(&T, "spread-guesser", "x", NULL));
    CU_ASSERT_PTR_NULL(gwt_signin(&g2, "spread-guesser", "x", NULL));
    CU_ASSERT_PTR_NULL(gwt_signin(&T, "spread-guesser", "x", NULL));
    b = st_jsonf("{s:s, s:s}", "name", "spread-guesser", "password", "right-password");
    ST_ASSERT_INT_EQ(gwt_status(&g2, "POST", "/v1/auth/tokens", NULL, b), 429);
    free(b);
    gwt_stop(&g2);
}

static void test_survives_a_database_restart(void)
{
    /* its own cluster, so restarting it disturbs no other test */
    char *dir = st_tmpdir("gwpg");
    char cmd[1024], pg[512];
    snprintf(pg, sizeof pg, "%s", st_source_path("deploy/pg.sh"));
    snprintf(cmd, sizeof cmd, "PG_SOCKET_SHARED=1 PG_FSYNC=off '%s' start %s >/dev/null", pg, dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    gwt setup = {0}, own;
    setup.dir = dir;
    setup.conninfo = malloc(600);
    snprintf(setup.conninfo, 600, "host=%s/socket user=postgres dbname=postgres", dir);
    char *out = NULL;
    CU_ASSERT_FATAL(gwt_cli(&setup, "bootstrap-admin", "admin", "admin-password-1\n", &out) == 0);
    free(out);
    gwt_start_peer(&own, &setup, NULL);
    free(setup.conninfo);
    char *tok = gwt_signin(&own, "admin", "admin-password-1", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    ST_ASSERT_INT_EQ(gwt_status(&own, "GET", "/v1/flavors", tok, NULL), 200);

    snprintf(cmd, sizeof cmd, "'%s' stop %s", pg, dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    /* down: a clear 503, and the process stays up */
    long s = gwt_status(&own, "GET", "/v1/flavors", tok, NULL);
    ST_ASSERT_INT_EQ(s, 503);
    ST_ASSERT_INT_EQ(gwt_status(&own, "GET", "/healthz", NULL, NULL), 503);
    snprintf(cmd, sizeof cmd, "PG_SOCKET_SHARED=1 '%s' start %s >/dev/null", pg, dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    /* up again: served on the first try, no restart of the gateway */
    ST_ASSERT_INT_EQ(gwt_status(&own, "GET", "/v1/flavors", tok, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_status(&own, "GET", "/healthz", NULL, NULL), 200);
    free(tok);
    gwt_stop(&own);
    snprintf(cmd, sizeof cmd, "'%s' stop %s", pg, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pg stop failed\n");
    st_rmtree(dir);
    free(dir);
}

static CU_TestInfo tests[] = {
    {"/metrics needs the operator's metrics token", test_metrics_need_the_operator_token},
    {"malformed bodies get 400 with a message; server stays up",
     test_malformed_bodies_get_400_with_a_message},
    {"oversized, mistyped and huge-header requests get 4xx", test_oversized_and_mistyped_bodies},
    {"HTTPS with a configured certificate", test_https_with_a_configured_certificate},
    {"plain HTTP off loopback is refused at start", test_plain_http_off_loopback_is_refused},
    {"two gateways on one database share one truth", test_two_gateways_share_one_truth},
    {"the gateway survives its database restarting", test_survives_a_database_restart},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"http", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
