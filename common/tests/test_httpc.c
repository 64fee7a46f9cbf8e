/* The one internal HTTP client (httpc.h) against common's own server over
 * real loopback sockets, plain and TLS: the request as sent, JSON replies,
 * JSON errors, timeouts, the body cap, a streaming sink, refused
 * connections and certificate checks. */
#include "st_proc.h"
#include "st_test.h"
#include "stratus/http.h"
#include "stratus/httpc.h"
#include "stratus/log.h"
#include "testsrv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static srv plain, tls;
static char *tmp, ca[512];

#define BIG (100u << 10)

/* Echoes what the client sent, with an ETag. */
static void h_echo(st_http_req *r, void *arg)
{
    size_t len = 0;
    const char *b = st_http_body(r, &len);
    st_http_add_header(r, "ETag", "\"v7\"");
    st_http_reply_json(r, 200,
                       json_pack("{s:s, s:s?, s:s?, s:s?, s:s#}", "method", st_http_method(r),
                                 "authorization", st_http_header(r, "Authorization"), "x_test",
                                 st_http_header(r, "X-Test"), "content_type",
                                 st_http_header(r, "Content-Type"), "body", b ? b : "", len));
}

static void h_conflict(st_http_req *r, void *arg)
{
    st_http_reply_error(r, 409, ST_E_CONFLICT, "it clashes with %s", "another");
}

static void h_slow(st_http_req *r, void *arg)
{
    usleep(1500 * 1000);
    st_http_reply_json(r, 200, json_pack("{s:b}", "late", 1));
}

static void h_big(st_http_req *r, void *arg)
{
    char *b = malloc(BIG);
    memset(b, 'x', BIG);
    st_http_reply_raw(r, 200, "text/plain", b, BIG);
    free(b);
}

static void routes(st_http_server *s)
{
    st_http_route(s, "GET /v1/echo", h_echo, NULL);
    st_http_route(s, "POST /v1/echo", h_echo, NULL);
    st_http_route(s, "GET /v1/conflict", h_conflict, NULL);
    st_http_route(s, "GET /v1/slow", h_slow, NULL);
    st_http_route(s, "GET /v1/big", h_big, NULL);
}

static int start(srv *s, const char *cert, const char *key)
{
    st_http_opts o = {
        .threads = 2, .max_body = 4096, .tls_cert = cert, .tls_key = key, .no_signals = 1};
    return srv_start(s, &o, routes);
}

static int suite_init(void)
{
    st_log_init("test", ST_LOG_ERROR);
    tmp = st_tmpdir("httpc");
    if (srv_self_signed(tmp) != 0)
        return -1;
    char key[512];
    snprintf(ca, sizeof ca, "%s/cert.pem", tmp);
    snprintf(key, sizeof key, "%s/key.pem", tmp);
    return start(&plain, NULL, NULL) || start(&tls, ca, key);
}

static int suite_clean(void)
{
    srv_stop(&plain);
    srv_stop(&tls);
    st_rmtree(tmp);
    free(tmp);
    return 0;
}

static char *url(const srv *s, const char *path)
{
    static __thread char u[512];
    snprintf(u, sizeof u, "%s%s", s->base, path);
    return u;
}

static void test_request_as_sent_and_json_reply(void)
{
    json_t *body = json_pack("{s:i}", "n", 3);
    const char *h[] = {"X-Test: yes", NULL};
    st_httpc_req q = {.method = "POST",
                      .url = url(&plain, "/v1/echo"),
                      .bearer = "sn_secret",
                      .headers = h,
                      .json = body};
    st_httpc_resp r;
    char err[256];
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 200);
    json_t *j = st_httpc_json(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "method")), "POST");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "authorization")), "Bearer sn_secret");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "x_test")), "yes");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "content_type")), "application/json");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "body")), "{\"n\":3}");
    ST_ASSERT_STR_EQ(r.etag, "\"v7\"");
    char *ct = st_httpc_header(&r, "content-type");
    ST_ASSERT_STR_EQ(ct, "application/json");
    free(ct);
    CU_ASSERT_PTR_NULL(st_httpc_header(&r, "X-Absent"));
    st_httpc_resp_free(&r);
    json_decref(body);

    /* a raw body is its body_len bytes, with its own type; no bearer, no header */
    q = (st_httpc_req){.method = "POST",
                       .url = url(&plain, "/v1/echo"),
                       .body = "abcdef",
                       .body_len = 3,
                       .content_type = "text/plain"};
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 200);
    j = st_httpc_json(&r);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "content_type")), "text/plain");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "body")), "abc");
    CU_ASSERT(json_is_null(json_object_get(j, "authorization")));
    st_httpc_resp_free(&r);
}

static void test_error_status_carries_the_json_error(void)
{
    st_httpc_req q = {.url = url(&plain, "/v1/conflict")};
    st_httpc_resp r;
    char err[256] = "untouched", m[256];
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 409);
    ST_ASSERT_STR_EQ(err, ""); /* err is for calls that got no answer */
    ST_ASSERT_STR_EQ(st_httpc_err_msg(&r, m, sizeof m), "it clashes with another");
    ST_ASSERT_STR_EQ(st_httpc_err_code(&r), "conflict");
    st_httpc_resp_free(&r);

    /* an unknown path: common's server answers 404 in JSON too */
    q.url = url(&plain, "/v1/nowhere");
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 404);
    ST_ASSERT_STR_EQ(st_httpc_err_code(&r), "not_found");
    st_httpc_resp_free(&r);
}

static void test_timeout_gives_no_status_and_says_so(void)
{
    st_httpc_req q = {.url = url(&plain, "/v1/slow"), .timeout_ms = 200};
    st_httpc_resp r;
    char err[256];
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "timed out"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/v1/slow"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.body);
    ST_ASSERT_INT_EQ(r.len, 0);
    st_httpc_resp_free(&r);
}

static size_t count_sink(void *arg, const char *data, size_t len)
{
    size_t *n = arg;
    for (size_t i = 0; i < len; i++)
        *n += data[i] == 'x';
    return len;
}

static void test_oversize_reply_fails_unless_sunk(void)
{
    st_httpc_req q = {.url = url(&plain, "/v1/big"), .max_body = BIG - 1};
    st_httpc_resp r;
    char err[256];
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "too large"));
    st_httpc_resp_free(&r);

    q.max_body = BIG; /* exactly at the cap is fine */
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 200);
    ST_ASSERT_INT_EQ(r.len, BIG);
    st_httpc_resp_free(&r);

    /* a sink gets every byte whatever the cap, and nothing is buffered */
    size_t n = 0;
    q = (st_httpc_req){
        .url = url(&plain, "/v1/big"), .max_body = 10, .sink = count_sink, .sink_arg = &n};
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 200);
    ST_ASSERT_INT_EQ(n, BIG);
    ST_ASSERT_INT_EQ(r.len, 0);
    st_httpc_resp_free(&r);
}

static size_t refusing_sink(void *arg, const char *data, size_t len)
{
    return 0;
}

static void test_a_sink_can_stop_the_transfer(void)
{
    st_httpc_req q = {.url = url(&plain, "/v1/big"), .sink = refusing_sink};
    st_httpc_resp r;
    char err[256];
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 0);
    CU_ASSERT_NOT_EQUAL(err[0], 0);
    st_httpc_resp_free(&r);
}

static void test_connection_refused(void)
{
    /* a port that was just free and has no listener */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/echo", ntohs(a.sin_port));
    st_httpc_req q = {.url = u};
    st_httpc_resp r;
    char err[256];
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, u));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "onnect"));
    st_httpc_resp_free(&r);
    /* and the same thread's next call works: nothing stuck in its handle */
    q.url = url(&plain, "/v1/echo");
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 200);
    st_httpc_resp_free(&r);
}

static void test_tls_checks_the_server_certificate(void)
{
    st_httpc_req q = {.url = url(&tls, "/v1/echo"), .ca_file = ca};
    st_httpc_resp r;
    char err[256];
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(st_httpc_json(&r), "method")), "GET");
    st_httpc_resp_free(&r);

    /* a self-signed certificate the system does not trust is refused */
    q.ca_file = NULL;
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strcasestr(err, "certificate"));
    st_httpc_resp_free(&r);

    /* unless the caller (a test) says not to check */
    q.insecure = 1;
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 200);
    st_httpc_resp_free(&r);

    /* only http and https: no file:// through a URL a peer chose */
    q = (st_httpc_req){.url = "file:///etc/passwd"};
    ST_ASSERT_INT_EQ(st_httpc(&q, &r, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(r.len, 0);
    st_httpc_resp_free(&r);
}

static CU_TestInfo tests[] = {
    {"the request as sent (bearer, headers, JSON or raw body), the JSON reply",
     test_request_as_sent_and_json_reply},
    {"a non-2xx status carries the JSON error's message and code",
     test_error_status_carries_the_json_error},
    {"a timeout gives status 0 and says so", test_timeout_gives_no_status_and_says_so},
    {"a reply over the cap fails; a sink gets it all", test_oversize_reply_fails_unless_sunk},
    {"a sink can stop the transfer", test_a_sink_can_stop_the_transfer},
    {"a refused connection gives status 0 and the URL", test_connection_refused},
    {"TLS checks the server's certificate against ca_file", test_tls_checks_the_server_certificate},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"httpc", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
