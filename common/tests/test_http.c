/* The HTTP server over real loopback sockets: routing, errors, limits,
 * request IDs, built-ins, TLS, and the plain-HTTP-on-loopback rule. */
#include "st_httpc.h"
#include "st_proc.h"
#include "st_rawhttp.h"
#include "st_test.h"
#include "stratus/http.h"
#include "stratus/httpguard.h"
#include "stratus/log.h"
#include "testsrv.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static srv plain, tls, proxied, guarded;
static char *tmp;

static void h_echo(st_http_req *r, void *arg)
{
    st_http_reply_json(r, 200,
                       json_pack("{s:s, s:s?, s:s?}", "id", st_http_param(r, "id"), "q",
                                 st_http_query(r, "q"), "route", st_http_route_pattern(r)));
}

static void h_json(st_http_req *r, void *arg)
{
    json_t *b = st_http_json_body(r);
    if (!b)
        return;
    st_http_reply_json(r, 201, json_incref(b));
}

static void h_forgets(st_http_req *r, void *arg) {}

static void h_bodiless(st_http_req *r, void *arg)
{
    st_http_reply_json(r, strcmp(st_http_method(r), "DELETE") == 0 ? 204 : 202, NULL);
}

static int after_ran, after_ran_at_reply, big_after_ran;

static void mark_after(void *arg)
{
    __atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
}

/* A reply larger than a client's socket buffers can hold unread, with an
 * after-reply action. */
static char big_body[16 << 20];
static void h_big(st_http_req *r, void *arg)
{
    (void)arg;
    st_http_after_reply(r, mark_after, &big_after_ran);
    st_http_reply_raw(r, 200, "application/octet-stream", big_body, sizeof big_body);
}

static void h_peer(st_http_req *r, void *arg)
{
    st_http_reply_json(r, 200, json_pack("{s:s}", "peer", st_http_peer(r)));
}

static int healthy = 1;
static int health(void *arg, char *msg, size_t n)
{
    if (!healthy)
        snprintf(msg, n, "told to be sick");
    return healthy ? 0 : -1;
}

static void routes(st_http_server *s)
{
    st_http_route(s, "GET /v1/things/{id}", h_echo, NULL);
    st_http_route(s, "DELETE /v1/things/{id}", h_echo, NULL);
    st_http_route(s, "POST /v1/things", h_json, NULL);
    st_http_route(s, "GET /v1/forgets", h_forgets, NULL);
    st_http_route(s, "GET /v1/peer", h_peer, NULL);
    st_http_route(s, "GET /v1/big", h_big, NULL);
    st_http_route(s, "POST /v1/bodiless", h_bodiless, NULL);
    st_http_route(s, "DELETE /v1/bodiless", h_bodiless, NULL);
}

static int start_with(srv *s, const char *cert, const char *key, const char *trusted, int timeout_s,
                      int max_conns)
{
    st_http_opts o = {.threads = 2,
                      .max_body = 4096,
                      .tls_cert = cert,
                      .tls_key = key,
                      .health = health,
                      .no_signals = 1,
                      .trusted_proxies = trusted,
                      .timeout_s = timeout_s,
                      .max_conns = max_conns};
    return srv_start(s, &o, routes);
}

static int start(srv *s, const char *cert, const char *key, const char *trusted)
{
    return start_with(s, cert, key, trusted, 0, 0);
}

static int suite_init(void)
{
    st_log_init("test", ST_LOG_ERROR);
    tmp = st_tmpdir("http");
    if (srv_self_signed(tmp) != 0)
        return -1;
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s/cert.pem", tmp);
    snprintf(key, sizeof key, "%s/key.pem", tmp);
    /* proxied: loopback and 10.0.0.0/8 are load balancers it believes */
    return start(&plain, NULL, NULL, NULL) || start(&tls, cert, key, NULL) ||
           start(&proxied, NULL, NULL, "127.0.0.1/32, 10.0.0.0/8") ||
           start_with(&guarded, NULL, NULL, NULL, 2, 6); /* 2 s deadline, 6 connections */
}

static int suite_clean(void)
{
    srv_stop(&plain);
    srv_stop(&tls);
    srv_stop(&proxied);
    srv_stop(&guarded);
    st_rmtree(tmp);
    free(tmp);
    return 0;
}

static char *url(const srv *s, const char *path)
{
    static char u[512];
    snprintf(u, sizeof u, "%s%s", s->base, path);
    return u;
}

static void test_route_params_are_decoded_per_segment(void)
{
    st_resp r;
    st_http(&r, "GET", url(&plain, "/v1/things/a%20b?q=x%26y"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "id")), "a b");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "q")), "x&y");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "route")), "/v1/things/{id}");
    st_resp_free(&r);
    /* an encoded slash cannot make a segment that forges another route */
    st_http(&r, "GET", url(&plain, "/v1/things/a%2Fb"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
}

static void test_unknown_path_404_and_wrong_method_405_as_json(void)
{
    st_resp r;
    st_http(&r, "GET", url(&plain, "/v1/nothing"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "not_found");
    CU_ASSERT_TRUE(json_is_string(json_object_get(json_object_get(r.json, "error"), "message")));
    st_resp_free(&r);
    st_http(&r, "PUT", url(&plain, "/v1/things/1"), NULL, "{}", NULL);
    ST_ASSERT_INT_EQ(r.status, 405);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "method_not_allowed");
    char *allow = st_resp_header(&r, "Allow");
    ST_ASSERT_STR_EQ(allow, "GET, DELETE");
    free(allow);
    st_resp_free(&r);
}

static void test_request_id_echoed_or_generated(void)
{
    st_resp r;
    const char *h[] = {"X-Request-Id: trace-123", NULL};
    st_http(&r, "GET", url(&plain, "/v1/things/1"), NULL, NULL, h);
    char *id = st_resp_header(&r, "X-Request-Id");
    ST_ASSERT_STR_EQ(id, "trace-123");
    free(id);
    st_resp_free(&r);
    const char *bad[] = {"X-Request-Id: <script>", NULL};
    st_http(&r, "GET", url(&plain, "/v1/things/1"), NULL, NULL, bad);
    id = st_resp_header(&r, "X-Request-Id");
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    ST_ASSERT_INT_EQ(strlen(id), 36);
    free(id);
    st_resp_free(&r);
}

static void test_bad_bodies_get_clear_4xx_and_server_stays_up(void)
{
    st_resp r;
    st_http(&r, "POST", url(&plain, "/v1/things"), NULL, "{\"a\":", NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_json");
    st_resp_free(&r);
    const char *xml[] = {"Content-Type: text/xml", NULL};
    st_http_n(&r, "POST", url(&plain, "/v1/things"), NULL, "<a/>", 4, xml);
    ST_ASSERT_INT_EQ(r.status, 415);
    st_resp_free(&r);
    size_t big = 64 * 1024;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    st_http_n(&r, "POST", url(&plain, "/v1/things"), NULL, huge, big, NULL);
    ST_ASSERT_INT_EQ(r.status, 413);
    st_resp_free(&r);
    free(huge);
    st_http(&r, "POST", url(&plain, "/v1/things"), NULL, "{\"ok\":true}", NULL);
    ST_ASSERT_INT_EQ(r.status, 201);
    CU_ASSERT_TRUE(json_is_true(json_object_get(r.json, "ok")));
    st_resp_free(&r);
}

static void test_handler_without_reply_gets_500(void)
{
    st_resp r;
    st_http(&r, "GET", url(&plain, "/v1/forgets"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 500);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "internal");
    st_resp_free(&r);
}

/* A reply without a body says no Content-Type, rather than the one libevent
 * would add by default (text/html; charset=ISO-8859-1). */
static void test_bodiless_replies_have_no_content_type(void)
{
    static const char *const methods[] = {"POST", "DELETE"};
    for (int i = 0; i < 2; i++) {
        st_resp r;
        st_http(&r, methods[i], url(&plain, "/v1/bodiless"), NULL, NULL, NULL);
        ST_ASSERT_INT_EQ(r.status, i ? 204 : 202);
        char *ct = st_resp_header(&r, "Content-Type");
        st_assert_fmt(ct == NULL, 0, __FILE__, __LINE__, "%s: Content-Type %s", methods[i],
                      ct ? ct : "");
        free(ct);
        st_resp_free(&r);
    }
}

static void test_healthz_and_metrics(void)
{
    st_resp r;
    st_http(&r, "GET", url(&plain, "/healthz"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
    healthy = 0;
    st_http(&r, "GET", url(&plain, "/healthz"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 503);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "reason")), "told to be sick");
    st_resp_free(&r);
    healthy = 1;
    st_http(&r, "GET", url(&plain, "/metrics"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body,
                                  "stratus_http_requests_total{route=\"GET /v1/things/{id}\","
                                  "code=\"200\"}"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.body, "# TYPE stratus_http_request_duration_seconds histogram"));
    st_resp_free(&r);
}

static void test_https_serves_the_same_routes(void)
{
    st_resp r;
    st_http(&r, "GET", url(&tls, "/v1/things/42"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "id")), "42");
    st_resp_free(&r);
    /* plain HTTP to the TLS port does not get an answer */
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/things/42", st_http_server_port(tls.s));
    st_http(&r, "GET", u, NULL, NULL, NULL);
    CU_ASSERT_NOT_EQUAL(r.status, 200);
    st_resp_free(&r);
}

/* The client address srv s sees for a request with these X-Forwarded-For
 * headers (NULL-terminated "X-Forwarded-For: ..." lines); malloc'd. */
static char *peer_seen(const srv *s, const char *const *headers)
{
    st_resp r;
    st_http(&r, "GET", url(s, "/v1/peer"), NULL, NULL, headers);
    CU_ASSERT_EQUAL(r.status, 200);
    char *p = strdup(r.json ? json_string_value(json_object_get(r.json, "peer")) : "?");
    st_resp_free(&r);
    return p;
}

#define ASSERT_PEER(srv_, want, ...)                                                               \
    do {                                                                                           \
        const char *h_[] = {__VA_ARGS__, NULL};                                                    \
        char *p_ = peer_seen(srv_, h_);                                                            \
        ST_ASSERT_STR_EQ(p_, want);                                                                \
        free(p_);                                                                                  \
    } while (0)

static void test_client_address_behind_trusted_proxies(void)
{
    /* no trusted proxies: the header is anyone's to write, and ignored */
    ASSERT_PEER(&plain, "127.0.0.1", "X-Forwarded-For: 203.0.113.7");
    /* from a trusted proxy: the rightmost hop it did not add itself */
    ASSERT_PEER(&proxied, "203.0.113.7", "X-Forwarded-For: 203.0.113.7");
    ASSERT_PEER(&proxied, "203.0.113.7", "X-Forwarded-For: 198.51.100.1, 203.0.113.7");
    ASSERT_PEER(&proxied, "203.0.113.7", "X-Forwarded-For: 203.0.113.7, 10.1.2.3");
    ASSERT_PEER(&proxied, "203.0.113.7", "X-Forwarded-For: 198.51.100.1",
                "X-Forwarded-For: 203.0.113.7, 10.9.9.9");
    /* spellings proxies use: ports, brackets, v4 in v6 */
    ASSERT_PEER(&proxied, "203.0.113.7", "X-Forwarded-For: 203.0.113.7:5123");
    ASSERT_PEER(&proxied, "2001:db8::1", "X-Forwarded-For: [2001:DB8::1]:443");
    ASSERT_PEER(&proxied, "203.0.113.9", "X-Forwarded-For: ::ffff:203.0.113.9");
    /* malformed entries stop the walk at the last address known good */
    ASSERT_PEER(&proxied, "10.1.2.3", "X-Forwarded-For: 203.0.113.7, bogus, 10.1.2.3");
    ASSERT_PEER(&proxied, "127.0.0.1", "X-Forwarded-For: not-an-address");
    ASSERT_PEER(&proxied, "127.0.0.1", "X-Forwarded-For: ");
    /* every hop trusted: the leftmost */
    ASSERT_PEER(&proxied, "10.0.0.5", "X-Forwarded-For: 10.0.0.5, 10.0.0.6");
    /* no header: the proxy itself */
    ASSERT_PEER(&proxied, "127.0.0.1", "X-Other: 1");
    /* a range that does not parse stops the server from starting */
    char err[256];
    st_http_opts o = {
        .listen = "127.0.0.1:0", .threads = 1, .no_signals = 1, .trusted_proxies = "10.0.0.0/33"};
    CU_ASSERT_PTR_NULL(st_http_server_new(&o, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "http.trusted_proxies"));
}

static void test_plain_http_refused_off_loopback(void)
{
    char err[256];
    st_http_opts o = {.listen = "0.0.0.0:0", .threads = 1, .no_signals = 1};
    st_http_server *s = st_http_server_new(&o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ST_ASSERT_INT_EQ(st_http_server_run(s), -1);
    st_http_server_free(s);
}

/* Text a handler could pass to the database is UTF-8 or refused up front. */
static void test_text_that_is_not_utf8_is_a_400(void)
{
    st_resp r;
    st_http(&r, "GET", url(&plain, "/v1/things/x?q=%ff"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "'q'"));
    st_resp_free(&r);
    st_http(&r, "GET", url(&plain, "/v1/things/x?q=%c0%af"), NULL, NULL, NULL); /* overlong */
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    st_http(&r, "GET", url(&plain, "/v1/things/x?q=%ed%a0%80"), NULL, NULL, NULL); /* surrogate */
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    st_http(&r, "GET", url(&plain, "/v1/things/%ff"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    const char *h[] = {"Idempotency-Key: \xff\xfe", NULL};
    st_http(&r, "GET", url(&plain, "/v1/things/x"), NULL, NULL, h);
    ST_ASSERT_INT_EQ(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "Idempotency-Key"));
    st_resp_free(&r);
    /* well-formed UTF-8 passes: e-acute, a CJK character, an emoji */
    st_http(&r, "GET", url(&plain, "/v1/things/%c3%a9?q=%e4%b8%ad%f0%9f%98%80"), NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "q")),
                     "\xe4\xb8\xad\xf0\x9f\x98\x80");
    st_resp_free(&r);
}

/* What libevent answers itself (malformed heads, huge heads, unknown
 * methods) is a JSON error too; a head that trickles in is cut at the
 * deadline; the server keeps serving. */
static void test_malformed_http_gets_json_errors_and_slow_heads_are_cut(void)
{
    ST_ASSERT_HOSTILE("127.0.0.1", st_http_server_port(guarded.s), "/healthz", 2);
    /* a connection that never sends a request is cut at the deadline too */
    int fd = st_raw_connect("127.0.0.1", st_http_server_port(guarded.s));
    st_raw silent = {0};
    st_raw_read(fd, 6000, &silent);
    close(fd);
    CU_ASSERT_TRUE(silent.closed);
    CU_ASSERT_TRUE(silent.secs < 5.0);
    st_raw_free(&silent);
    /* an oversized body is a JSON 413 as well */
    st_raw r;
    static const char big[] = "POST /v1/things HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    st_raw_send("127.0.0.1", st_http_server_port(guarded.s), big, sizeof big - 1, 3000, &r);
    ST_ASSERT_INT_EQ(r.status, 413);
    ST_ASSERT_STR_EQ(st_raw_error_code(&r), "payload_too_large");
    st_raw_free(&r);
}

/* On a kept-alive connection, after a first reply, an oversized body is a
 * JSON 413 too (libevent's HTML page follows another reply in the buffer). */
static void test_oversized_body_after_a_reply_is_json(void)
{
    int fd = st_raw_connect("127.0.0.1", st_http_server_port(guarded.s));
    CU_ASSERT_FATAL(fd >= 0);
    static const char first[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char big[] = "POST /v1/things HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    CU_ASSERT(write(fd, first, sizeof first - 1) == (ssize_t)(sizeof first - 1));
    usleep(200 * 1000);
    CU_ASSERT(write(fd, big, sizeof big - 1) == (ssize_t)(sizeof big - 1));
    st_raw r = {0};
    st_raw_read(fd, 3000, &r);
    close(fd);
    ST_ASSERT_INT_EQ(r.status, 200);
    const char *second = r.body ? strstr(r.body, "HTTP/1.1 413") : NULL;
    CU_ASSERT_PTR_NOT_NULL(second);
    if (second) {
        CU_ASSERT_PTR_NOT_NULL(strstr(second, "Content-Type: application/json"));
        CU_ASSERT_PTR_NOT_NULL(strstr(second, "\"payload_too_large\""));
        CU_ASSERT_PTR_NULL(strstr(second, "<HTML>"));
    }
    st_raw_free(&r);
}

/* At most max_conns connections: one more is told 503 (JSON) and closed;
 * once one closes, a new one is served. */
static void test_connections_over_the_cap_get_503(void)
{
    int port = st_http_server_port(guarded.s), fds[6];
    for (int i = 0; i < 6; i++)
        fds[i] = st_raw_connect("127.0.0.1", port);
    usleep(100000);
    st_raw r;
    static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    st_raw_send("127.0.0.1", port, get, sizeof get - 1, 3000, &r);
    ST_ASSERT_INT_EQ(r.status, 503);
    ST_ASSERT_STR_EQ(st_raw_error_code(&r), "unavailable");
    CU_ASSERT_TRUE(r.closed);
    st_raw_free(&r);
    for (int i = 0; i < 6; i++)
        close(fds[i]);
    usleep(100000);
    st_raw_send("127.0.0.1", port, get, sizeof get - 1, 300, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_raw_free(&r);
}

/* An evhttp a component sets up itself on a Unix socket (as the VMM's
 * control API does), guarded with st_http_guard_evhttp(): the same JSON
 * errors and deadline. */
static void *uds_loop(void *arg)
{
    event_base_dispatch(arg);
    return NULL;
}

static void h_stop(st_http_req *r, void *arg)
{
    (void)arg;
    st_http_after_reply(r, mark_after, &after_ran);
    st_http_reply_json(r, 204, NULL);
    after_ran_at_reply = __atomic_load_n(&after_ran, __ATOMIC_ACQUIRE);
}

/* A handler that holds its loop past the server's timeout_s, as the VMM's snapshot does. */
static void h_slow(st_http_req *r, void *arg)
{
    (void)arg;
    usleep(3000000);
    st_http_reply_json(r, 200, json_pack("{s:b}", "slow", 1));
}

/* The embedded server (st_http_server_attach, as stratus-vmm's control socket
 * uses it): the caller's loop, a Unix socket, the same routing, errors and
 * guard; an after-reply action runs once the reply is out, not before; a
 * handler holding the loop past timeout_s still answers within
 * idle_timeout_s; free leaves the loop to its owner. */
static void test_attached_to_the_callers_loop_on_a_unix_socket(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char path[sizeof sa.sun_path];
    CU_ASSERT_FATAL(strlen(tmp) + 10 < sizeof path);
    memcpy(path, tmp, strlen(tmp));
    memcpy(path + strlen(tmp), "/ctl.sock", 10);
    memcpy(sa.sun_path, path, sizeof path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                    listen(fd, 16) == 0);
    char err[256];
    st_http_opts o = {.timeout_s = 2, .idle_timeout_s = 10, .max_conns = 8, .no_signals = 1};
    st_http_server *s = st_http_server_new(&o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_FATAL(st_http_route(s, "PUT /stop", h_stop, NULL) == 0);
    CU_ASSERT_FATAL(st_http_route(s, "GET /slow", h_slow, NULL) == 0);
    struct event_base *base = event_base_new();
    CU_ASSERT_FATAL(st_http_server_attach(s, base, fd, err, sizeof err) == 0);
    struct event *keep = event_new(base, -1, EV_PERSIST, NULL, NULL);
    struct timeval day = {86400, 0};
    event_add(keep, &day);
    pthread_t th;
    pthread_create(&th, NULL, uds_loop, base);

    st_raw r;
    const char *put = "PUT /stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n";
    st_raw_send(path, 0, put, strlen(put), 3000, &r);
    ST_ASSERT_INT_EQ(r.status, 204);
    CU_ASSERT(r.head && strstr(r.head, "X-Request-Id: "));
    st_raw_free(&r);
    for (int i = 0; i < 100 && !__atomic_load_n(&after_ran, __ATOMIC_ACQUIRE); i++)
        usleep(10000);
    CU_ASSERT_TRUE(__atomic_load_n(&after_ran, __ATOMIC_ACQUIRE));
    CU_ASSERT_FALSE(after_ran_at_reply); /* queued, not yet written, when the handler replied */
    const char *post = "POST /stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n";
    st_raw_send(path, 0, post, strlen(post), 3000, &r);
    ST_ASSERT_INT_EQ(r.status, 405);
    CU_ASSERT(r.head && strstr(r.head, "Allow: PUT"));
    ST_ASSERT_STR_EQ(st_raw_error_code(&r), "method_not_allowed");
    st_raw_free(&r);

    /* a handler holding the loop 3 s, past timeout_s (2) but within idle_timeout_s (10): its
     * reply still goes out (with the idle limit at timeout_s the connection was closed) */
    const char *slow = "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    st_raw_send(path, 0, slow, strlen(slow), 8000, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_raw_free(&r);

    ST_ASSERT_HOSTILE(path, 0, "/healthz", 2);
    event_base_loopbreak(base);
    pthread_join(th, NULL);
    st_http_server_free(s);
    /* the loop is still the caller's, and still works */
    CU_ASSERT_EQUAL(event_base_loop(base, EVLOOP_NONBLOCK), 0);
    event_free(keep);
    event_base_free(base);
    unlink(path);
}

/* A client that asks for a reply too big for the socket buffers and leaves
 * once it has begun: the write fails, the after-reply action never runs, and
 * what held it is freed with the connection (LeakSanitizer says so at exit);
 * the server serves on. */
static void test_after_reply_action_dropped_when_the_client_leaves(void)
{
    int fd = st_raw_connect("127.0.0.1", st_http_server_port(plain.s));
    CU_ASSERT_FATAL(fd >= 0);
    static const char get[] = "GET /v1/big HTTP/1.1\r\nHost: x\r\n\r\n";
    CU_ASSERT_FATAL(write(fd, get, sizeof get - 1) == (ssize_t)(sizeof get - 1));
    char head[16] = "";
    size_t got = 0;
    for (int i = 0; i < 300 && got < sizeof head - 1; i++) {
        ssize_t n = recv(fd, head + got, sizeof head - 1 - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else
            usleep(10000);
    }
    ST_ASSERT_STR_EQ(head, "HTTP/1.1 200 OK");
    close(fd); /* with most of the reply unread: a reset */
    usleep(500000);
    CU_ASSERT_FALSE(__atomic_load_n(&big_after_ran, __ATOMIC_ACQUIRE));
    st_raw r;
    static const char health[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    st_raw_send("127.0.0.1", st_http_server_port(plain.s), health, sizeof health - 1, 3000, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_raw_free(&r);
}

static CU_TestInfo tests[] = {
    {"route parameters are decoded per segment", test_route_params_are_decoded_per_segment},
    {"unknown path 404, wrong method 405 with Allow, JSON errors",
     test_unknown_path_404_and_wrong_method_405_as_json},
    {"X-Request-Id is echoed when sane, generated otherwise", test_request_id_echoed_or_generated},
    {"malformed, mistyped and oversized bodies get 4xx; server stays up",
     test_bad_bodies_get_clear_4xx_and_server_stays_up},
    {"a handler that does not reply is answered 500", test_handler_without_reply_gets_500},
    {"a reply without a body has no Content-Type", test_bodiless_replies_have_no_content_type},
    {"/healthz reflects health, /metrics counts requests", test_healthz_and_metrics},
    {"HTTPS serves the same routes", test_https_serves_the_same_routes},
    {"plain HTTP off loopback is refused", test_plain_http_refused_off_loopback},
    {"the client address behind trusted proxies", test_client_address_behind_trusted_proxies},
    {"query parameters, headers and paths that are not UTF-8 get 400",
     test_text_that_is_not_utf8_is_a_400},
    {"malformed HTTP gets JSON errors; slow heads are cut at the deadline",
     test_malformed_http_gets_json_errors_and_slow_heads_are_cut},
    {"connections over the cap get 503 and the server recovers",
     test_connections_over_the_cap_get_503},
    {"an oversized body after a kept-alive reply is a JSON 413",
     test_oversized_body_after_a_reply_is_json},
    {"attached to the caller's loop on a Unix socket: routes, errors, guard, after-reply",
     test_attached_to_the_callers_loop_on_a_unix_socket},
    {"an after-reply action whose client leaves before the reply is out is dropped, not leaked",
     test_after_reply_action_dropped_when_the_client_leaves},
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
