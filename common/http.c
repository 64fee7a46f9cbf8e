/*
 * http.c - the HTTP(S) server (see http.h for the contract).
 *
 * Threads. st_http_server_run() binds the listening sockets, then starts
 * `threads` workers. Each worker owns an event_base and an evhttp that
 * accepts on its own dup() of every listening socket; the kernel hands each
 * new connection to whichever worker accepts first, and the connection stays
 * with that worker for its lifetime. The calling thread keeps a small event
 * loop of its own for SIGTERM/SIGINT; on a signal (or st_http_server_stop())
 * it asks every worker loop to exit, joins them and returns. A worker only
 * ever touches its own loop, so libevent needs no locking on the hot path.
 *
 * Requests. dispatch() turns an evhttp_request into an st_http_req on the
 * worker's stack: it splits the raw path into segments and percent-decodes
 * each one (so "%2F" stays inside a segment and cannot forge a route),
 * matches the routes, calls the handler, and then logs and counts the
 * request. All replies go through send_reply(), which adds X-Request-Id and
 * the other standard headers.
 *
 * Held requests. A request lives on the heap from dispatch() to its reply.
 * A handler that calls st_http_hold() returns without replying; the request
 * then waits on its worker's list until a callback on the same loop replies
 * (send_reply() finishes it: counted, logged, freed), or until the worker's
 * loop ends, when it is dropped unanswered after its cancel callback.
 */
#include "stratus/http.h"
#include "stratus/crypto.h"
#include "stratus/httpguard.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/metrics.h"
#include "stratus/netaddr.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SEGS 16
#define MAX_PARAMS 8
#define MAX_LISTENERS 8

typedef struct route {
    char method[8];
    char *pattern; /* path part, e.g. "/v1/instances/{id}" */
    char *segs[MAX_SEGS];
    int nseg;
    st_http_handler h;
    void *arg;
    st_metric *duration;
} route;

typedef struct worker {
    pthread_t th;
    struct event_base *base;
    struct evhttp *http;
    st_http_server *s;
    int started;
    struct st_http_req *held;  /* requests held past their handler (st_http_hold) */
    struct after_reply *after; /* st_http_after_reply() actions waiting on their reply */
} worker;

struct st_http_server {
    st_http_opts o;
    worker *embedded; /* st_http_server_attach(): the caller's loop, no threads */
    char *listen, *port_file, *tls_cert, *tls_key;
    char *metrics_token; /* NULL: none */
    route *routes;
    int nroutes, caproutes;
    int fds[MAX_LISTENERS];
    int nfds;
    int port;
    SSL_CTX *ssl;
    worker *workers;
    struct event_base *main_base;
    st_http_guard *guard; /* request deadline, connection cap, JSON error pages */
    st_cidr *trusted;     /* http.trusted_proxies */
    int ntrusted;
    worker *feeder; /* st_http_server_feed()'s private worker */
    int feed_fd;
    struct sockaddr_in feed_addr;
};

struct st_http_req {
    struct evhttp_request *ev;
    st_http_server *s;
    worker *w;
    const route *route;
    const char *method;
    char *path;
    struct evkeyvalq query;
    const char *pnames[MAX_PARAMS];
    char *pvals[MAX_PARAMS];
    int nparams;
    char reqid[65];
    char peer[64]; /* the client: the TCP peer, or who a trusted proxy says */
    char via[64];  /* the TCP peer when it is a trusted proxy, else "" */
    char *body;
    size_t body_len;
    int body_loaded;
    json_t *json;
    void *ctx;
    int replied;
    int quiet; /* st_http_quiet(): access line at debug when it succeeds */
    int status;
    size_t resp_bytes;
    int64_t t0; /* st_mono_us() when dispatched */
    /* st_http_hold(): answered later; while in_dispatch the handler still runs */
    int held, in_dispatch;
    void (*cancel)(st_http_req *r, void *arg);
    void *cancel_arg;
    struct st_http_req *hprev, *hnext;
};

static void req_finish(st_http_req *r);

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static void evthread_init(void)
{
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
}

/* ---- Routes ---- */

static int split_path(char *path, char **segs, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        segs[n++] = t;
    }
    return n;
}

int st_http_route(st_http_server *s, const char *pattern, st_http_handler h, void *arg)
{
    const char *sp = strchr(pattern, ' ');
    if (!sp || sp - pattern >= 8 || sp[1] != '/')
        return -1;
    if (s->nroutes == s->caproutes) {
        s->caproutes = s->caproutes ? s->caproutes * 2 : 32;
        s->routes = realloc(s->routes, sizeof(route) * (size_t)s->caproutes);
    }
    route *r = &s->routes[s->nroutes];
    memset(r, 0, sizeof *r);
    memcpy(r->method, pattern, (size_t)(sp - pattern));
    r->pattern = strdup(sp + 1);
    char *tmp = strdup(sp + 1);
    int n = split_path(tmp, r->segs, MAX_SEGS);
    if (n < 0) {
        free(tmp);
        free(r->pattern);
        return -1;
    }
    for (int i = 0; i < n; i++)
        r->segs[i] = strdup(r->segs[i]);
    free(tmp);
    r->nseg = n;
    r->h = h;
    r->arg = arg;
    char labels[256];
    snprintf(labels, sizeof labels, "route=\"%s %s\"", r->method, r->pattern);
    r->duration = st_histogram("stratus_http_request_duration_seconds",
                               "Time from request parsed to reply queued.", labels,
                               st_latency_buckets, st_latency_buckets_n);
    s->nroutes++;
    return 0;
}

void st_http_server_routes(const st_http_server *s,
                           void (*fn)(const char *method, const char *path, void *arg), void *arg)
{
    for (int i = 0; i < s->nroutes; i++)
        fn(s->routes[i].method, s->routes[i].pattern, arg);
}

/* ---- Replies ---- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static void send_reply(st_http_req *r, int status, const char *ctype, struct evbuffer *body)
{
    if (r->replied) {
        st_error("http.double_reply", "handler replied twice to %s %s", r->method,
                 r->path ? r->path : "?");
        if (body)
            evbuffer_free(body);
        return;
    }
    r->replied = 1;
    r->status = status;
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    if (ctype)
        evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "X-Request-Id", r->reqid);
    evhttp_add_header(h, "Server", "stratus");
    if (!evhttp_find_header(h, "Cache-Control"))
        evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    r->resp_bytes = body ? evbuffer_get_length(body) : 0;
    /* libevent sends no body for HEAD and then no length either; say what
     * GET would send, as RFC 9110 asks */
    if (evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD && status >= 200 && status != 204 &&
        status != 304 && !evhttp_find_header(h, "Content-Length")) {
        char len[24];
        snprintf(len, sizeof len, "%zu", r->resp_bytes);
        evhttp_add_header(h, "Content-Length", len);
    }
    evhttp_send_reply(r->ev, status, reason(status), body);
    if (body)
        evbuffer_free(body);
    if (r->held && !r->in_dispatch)
        req_finish(r); /* a held request's reply: it is done now */
}

/* An after-reply action waits on its worker's list until its reply is out
 * (after_reply_cb runs it) or its connection closes first (conn_closed drops
 * it): libevent frees a request whose connection fails without calling its
 * on-complete callback, so the connection's end is the only word we get. */
typedef struct after_reply {
    void (*fn)(void *arg);
    void *arg;
    struct evhttp_connection *evcon;
    worker *w;
    struct after_reply *prev, *next;
} after_reply;

static void after_unlink(after_reply *a)
{
    if (a->prev)
        a->prev->next = a->next;
    else
        a->w->after = a->next;
    if (a->next)
        a->next->prev = a->prev;
}

static void after_reply_cb(struct evhttp_request *ev, void *arg)
{
    (void)ev;
    after_reply *a = arg;
    void (*fn)(void *) = a->fn;
    void *fn_arg = a->arg;
    after_unlink(a);
    free(a);
    fn(fn_arg);
}

/* The guard's word that evhttp frees evcon (on w's loop): actions still
 * waiting on it will never run. */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    worker *w = arg;
    for (after_reply *a = w->after, *next; a; a = next) {
        next = a->next;
        if (a->evcon != evcon)
            continue;
        st_debug("http.after_reply", "the connection closed before the reply was out: its "
                                     "after-reply action does not run");
        after_unlink(a);
        free(a);
    }
}

void st_http_after_reply(st_http_req *r, void (*fn)(void *arg), void *arg)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (!evcon) /* closed already: no reply will be written */
        return;
    after_reply *a = malloc(sizeof *a);
    if (!a) {
        st_error("http.after_reply", "out of memory: %s %s runs no after-reply action", r->method,
                 r->path ? r->path : "?");
        return;
    }
    *a = (after_reply){.fn = fn, .arg = arg, .evcon = evcon, .w = r->w, .next = r->w->after};
    if (a->next)
        a->next->prev = a;
    r->w->after = a;
    evhttp_request_set_on_complete_cb(r->ev, after_reply_cb, a);
}

void st_http_add_header(st_http_req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return evbuffer_add(data, buf, size);
}

void st_http_reply_json(st_http_req *r, int status, json_t *body)
{
    struct evbuffer *b = evbuffer_new();
    if (body) {
        json_dump_callback(body, dump_cb, b, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(body);
    }
    send_reply(r, status, body ? "application/json" : NULL, b);
}

void st_http_reply_raw(st_http_req *r, int status, const char *content_type, const void *buf,
                       size_t len)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, buf, len);
    send_reply(r, status, content_type, b);
}

typedef struct ref_release {
    void (*fn)(void *);
    void *arg;
} ref_release;

static void ref_cb(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    ref_release *rr = arg;
    rr->fn(rr->arg);
    free(rr);
}

void st_http_reply_ref(st_http_req *r, int status, const char *content_type, const void *buf,
                       size_t len, void (*release)(void *arg), void *arg)
{
    struct evbuffer *b = evbuffer_new();
    ref_release *rr = malloc(sizeof *rr);
    *rr = (ref_release){release, arg};
    if (evbuffer_add_reference(b, buf, len, ref_cb, rr) < 0) {
        free(rr);
        release(arg);
        evbuffer_add(b, "", 0);
    }
    send_reply(r, status, content_type, b);
}

int st_http_etag_matches(const st_http_req *r, const char *etag)
{
    const char *h = st_http_header(r, "If-None-Match");
    if (!h || !etag)
        return 0;
    if (etag[0] == 'W' && etag[1] == '/')
        etag += 2;
    size_t el = strlen(etag);
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *end = p;
        if (*p == '"') {
            end = strchr(p + 1, '"');
            end = end ? end + 1 : p + strlen(p);
        } else {
            while (*end && *end != ',')
                end++;
        }
        if ((size_t)(end - p) == el && memcmp(p, etag, el) == 0)
            return 1;
        if (end == p)
            break;
        p = end;
    }
    return 0;
}

int st_http_not_modified(st_http_req *r, const char *etag)
{
    st_http_add_header(r, "ETag", etag);
    if (!st_http_etag_matches(r, etag))
        return 0;
    st_http_reply_raw(r, 304, NULL, "", 0);
    return 1;
}

void st_http_reply_error(st_http_req *r, int status, st_err code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *m = json_string(msg);
    if (!m)
        m = json_string("(message was not valid UTF-8)");
    st_http_reply_json(
        r, status, json_pack("{s:{s:s, s:o}}", "error", "code", st_err_name(code), "message", m));
}

int st_http_replied(const st_http_req *r)
{
    return r->replied;
}
int st_http_status(const st_http_req *r)
{
    return r->status;
}

/* ---- Request accessors ---- */

const char *st_http_method(const st_http_req *r)
{
    return r->method;
}
const char *st_http_path(const st_http_req *r)
{
    return r->path;
}
const char *st_http_route_pattern(const st_http_req *r)
{
    return r->route ? r->route->pattern : NULL;
}
const char *st_http_request_id(const st_http_req *r)
{
    return r->reqid;
}
const char *st_http_peer(const st_http_req *r)
{
    return r->peer;
}
void st_http_set_ctx(st_http_req *r, void *ctx)
{
    r->ctx = ctx;
}
void *st_http_ctx(const st_http_req *r)
{
    return r->ctx;
}

const char *st_http_param(const st_http_req *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->pnames[i], name) == 0)
            return r->pvals[i];
    return NULL;
}

const char *st_http_query(const st_http_req *r, const char *name)
{
    return evhttp_find_header(&((st_http_req *)r)->query, name);
}

const char *st_http_query_string(const st_http_req *r)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->ev);
    return u ? evhttp_uri_get_query(u) : NULL;
}

const char *st_http_header(const st_http_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

const char *st_http_body(st_http_req *r, size_t *len)
{
    if (!r->body_loaded) {
        struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
        size_t n = evbuffer_get_length(in);
        r->body = malloc(n + 1);
        if (!r->body) {
            if (len)
                *len = 0;
            return NULL;
        }
        evbuffer_copyout(in, r->body, n);
        r->body[n] = 0;
        r->body_len = n;
        r->body_loaded = 1;
    }
    if (len)
        *len = r->body_len;
    return r->body;
}

json_t *st_http_json_body(st_http_req *r)
{
    if (r->json)
        return r->json;
    const char *ct = st_http_header(r, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        st_http_reply_error(r, 415, ST_E_UNSUPPORTED_MEDIA_TYPE,
                            "Content-Type must be application/json, not '%.64s'", ct);
        return NULL;
    }
    size_t len;
    const char *b = st_http_body(r, &len);
    char err[256];
    r->json = st_json_parse_object(b, len, err, sizeof err);
    if (!r->json)
        st_http_reply_error(r, 400, ST_E_INVALID_JSON, "%s", err);
    return r->json;
}

/* ---- Dispatch ---- */

static int reqid_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return n > 0;
}

/* 1 when s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            unsigned b = s[i + j];
            if (b < (j == 1 ? lo : 0x80) || b > (j == 1 ? hi : 0xBF))
                return 0;
        }
        i += k + 1;
    }
    return 1;
}

static int str_utf8_ok(const char *s)
{
    return utf8_ok((const unsigned char *)s, strlen(s));
}

/* Every service handles text only: a query parameter or header that is not
 * UTF-8 is refused here, once, before a handler could pass it on to the
 * database (which refuses it with an error that looked like ours). Replies
 * and returns -1 when one is found. */
static int check_text(st_http_req *r)
{
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->query, next)
    {
        if (!str_utf8_ok(kv->key) || !str_utf8_ok(kv->value)) {
            if (str_utf8_ok(kv->key))
                st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                                    "query parameter '%.64s' is not valid UTF-8", kv->key);
            else
                st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                                    "a query parameter name is not valid UTF-8");
            return -1;
        }
    }
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(r->ev), next)
    {
        if (!str_utf8_ok(kv->key) || !str_utf8_ok(kv->value)) {
            if (str_utf8_ok(kv->key))
                st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                                    "header '%.64s' is not valid UTF-8", kv->key);
            else
                st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                                    "a header name is not valid UTF-8");
            return -1;
        }
    }
    return 0;
}

static const char *method_name(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    default: return "OTHER";
    }
}

static void builtin_healthz(st_http_req *r, void *arg)
{
    st_http_server *s = arg;
    char msg[256] = "";
    if (s->o.health && s->o.health(s->o.health_arg, msg, sizeof msg) != 0)
        st_http_reply_json(r, 503, json_pack("{s:s, s:s}", "status", "unavailable", "reason", msg));
    else
        st_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void builtin_metrics(st_http_req *r, void *arg)
{
    st_http_server *s = arg;
    const char *tok = s->metrics_token;
    if (tok || s->o.metrics_closed) {
        const char *h = st_http_header(r, "Authorization");
        size_t tl = tok ? strlen(tok) : 0;
        if (!tok || !h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != tl ||
            !st_ct_equal(h + 7, tok, tl)) {
            st_http_add_header(r, "WWW-Authenticate", "Bearer realm=\"metrics\"");
            st_http_reply_error(r, 401, ST_E_UNAUTHORIZED,
                                tok ? "/metrics needs the operator's metrics token"
                                    : "/metrics is not served here without metrics.token");
            return;
        }
    }
    size_t len;
    char *text = st_metrics_render(&len);
    st_http_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

static void count_request(st_http_req *r, double secs)
{
    char labels[320];
    snprintf(labels, sizeof labels, "route=\"%s%s%s\",code=\"%d\"",
             r->route ? r->route->method : "", r->route ? " " : "",
             r->route ? r->route->pattern : "unmatched", r->status);
    st_metric_add(st_counter("stratus_http_requests_total", "HTTP requests answered.", labels), 1);
    if (r->route)
        st_metric_observe(r->route->duration, secs);
}

/* Sets r->peer to the client's address; when the TCP peer is a trusted
 * proxy, from X-Forwarded-For (all of its headers, in order). */
static void client_of(const st_http_server *s, struct evhttp_request *ev, const char *tcp_peer,
                      st_http_req *r)
{
    if (s->ntrusted == 0 || !st_cidr_match(s->trusted, s->ntrusted, tcp_peer)) {
        snprintf(r->peer, sizeof r->peer, "%s", tcp_peer);
        return;
    }
    char xff[2048] = "";
    size_t len = 0;
    int any = 0, whole = 1;
    struct evkeyval *h;
    TAILQ_FOREACH(h, evhttp_request_get_input_headers(ev), next)
    {
        if (evutil_ascii_strcasecmp(h->key, "X-Forwarded-For") != 0)
            continue;
        int n = snprintf(xff + len, sizeof xff - len, "%s%s", any ? "," : "", h->value);
        any = 1;
        if (n < 0 || (size_t)n >= sizeof xff - len) {
            whole = 0;
            break;
        }
        len += (size_t)n;
    }
    /* a header too long to hold whole is not believed at all */
    st_client_address(s->trusted, s->ntrusted, tcp_peer, any && whole ? xff : NULL, r->peer,
                      sizeof r->peer);
    snprintf(r->via, sizeof r->via, "%s", tcp_peer);
}

/* A fresh request id: a UUID from random bytes drawn a batch at a time per
 * thread, which spares a getrandom() call on every request. */
static void request_id(char out[ST_UUID_LEN + 1])
{
    static __thread uint8_t pool[512];
    static __thread size_t used = sizeof pool;
    if (used == sizeof pool) {
        st_random_bytes(pool, sizeof pool);
        used = 0;
    }
    st_uuid_format(pool + used, out);
    used += 16;
}

static void dispatch(struct evhttp_request *ev, void *arg)
{
    worker *w = arg;
    st_http_server *s = w->s;
    int64_t t0 = st_mono_us();
    st_http_req *r = calloc(1, sizeof *r);
    if (!r) {
        evhttp_send_error(ev, 500, NULL);
        return;
    }
    *r = (st_http_req){.ev = ev,
                       .s = s,
                       .w = w,
                       .t0 = t0,
                       .in_dispatch = 1,
                       .method = method_name(evhttp_request_get_command(ev))};
    TAILQ_INIT(&r->query);

    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(ev), "X-Request-Id");
    if (rid && reqid_ok(rid))
        snprintf(r->reqid, sizeof r->reqid, "%s", rid);
    else
        request_id(r->reqid);
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    char *peer_addr = NULL;
    ev_uint16_t peer_port = 0;
    if (conn)
        evhttp_connection_get_peer(conn, &peer_addr, &peer_port);
    client_of(s, ev, peer_addr ? peer_addr : "", r);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    char *segs[MAX_SEGS], *rawcopy = NULL;
    int nseg = -1;
    if (raw && raw[0] == '/') {
        rawcopy = strdup(raw);
        nseg = split_path(rawcopy, segs, MAX_SEGS);
    }
    r->path = strdup(raw ? raw : "");
    if (nseg < 0) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "malformed request path");
        goto done;
    }
    if (q && evhttp_parse_query_str(q, &r->query) < 0) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "malformed query string");
        goto done;
    }
    if (check_text(r) < 0)
        goto done;
    /* Decode each segment on its own; a decoded NUL or '/' is refused. */
    char *dec[MAX_SEGS];
    int ndec = 0, bad = 0;
    for (int i = 0; i < nseg; i++) {
        size_t dl = 0;
        dec[i] = evhttp_uridecode(segs[i], 0, &dl);
        ndec++;
        if (!dec[i] || strlen(dec[i]) != dl || strchr(dec[i], '/') || strcmp(dec[i], "..") == 0 ||
            !utf8_ok((const unsigned char *)dec[i], dl))
            bad = 1;
    }
    if (bad) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "malformed path segment");
    } else {
        int method_miss = 0;
        char allow[64] = "";
        int is_head = strcmp(r->method, "HEAD") == 0;
        for (int i = 0; i < s->nroutes && !r->route; i++) {
            const route *rt = &s->routes[i];
            if (rt->nseg != nseg)
                continue;
            int match = 1, np = 0;
            for (int k = 0; k < nseg && match; k++) {
                if (rt->segs[k][0] == '{') {
                    if (!dec[k][0])
                        match = 0;
                } else if (strcmp(rt->segs[k], dec[k]) != 0) {
                    match = 0;
                }
            }
            if (!match)
                continue;
            if (strcmp(rt->method, r->method) != 0 &&
                !(is_head && strcmp(rt->method, "GET") == 0)) {
                method_miss = 1;
                if (strlen(allow) + strlen(rt->method) + 3 < sizeof allow)
                    snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
                             allow[0] ? ", " : "", rt->method);
                continue;
            }
            for (int k = 0; k < nseg && np < MAX_PARAMS; k++) {
                if (rt->segs[k][0] == '{') {
                    static __thread char names[MAX_PARAMS][32];
                    size_t nl = strlen(rt->segs[k]) - 2;
                    snprintf(names[np], sizeof names[np], "%.*s", (int)nl, rt->segs[k] + 1);
                    r->pnames[np] = names[np];
                    r->pvals[np] = strdup(dec[k]);
                    np++;
                }
            }
            r->nparams = np;
            r->route = rt;
        }
        if (r->route) {
            r->route->h(r, r->route->arg);
            if (!r->replied && !r->held) {
                st_error("http.no_reply", "handler for %s %s did not reply", r->route->method,
                         r->route->pattern);
                st_http_reply_error(r, 500, ST_E_INTERNAL, "internal error");
            }
        } else if (method_miss) {
            st_http_add_header(r, "Allow", allow);
            st_http_reply_error(r, 405, ST_E_METHOD_NOT_ALLOWED, "%s is not allowed here; use %s",
                                r->method, allow);
        } else {
            st_http_reply_error(r, 404, ST_E_NOT_FOUND, "no such resource");
        }
    }
    for (int i = 0; i < ndec; i++)
        free(dec[i]);
done:
    free(rawcopy);
    r->in_dispatch = 0;
    if (r->held && !r->replied) {
        /* answered later, on this worker's loop (st_http_hold) */
        r->hnext = w->held;
        if (w->held)
            w->held->hprev = r;
        w->held = r;
        return;
    }
    r->held = 0;
    req_finish(r);
}

/* Frees what a request owns (not its evhttp_request: libevent's). */
static void req_free(st_http_req *r)
{
    for (int i = 0; i < r->nparams; i++)
        free(r->pvals[i]);
    evhttp_clear_headers(&r->query);
    json_decref(r->json);
    free(r->body);
    free(r->path);
    free(r);
}

static void held_unlink(st_http_req *r)
{
    if (r->hprev)
        r->hprev->hnext = r->hnext;
    else if (r->w->held == r)
        r->w->held = r->hnext;
    if (r->hnext)
        r->hnext->hprev = r->hprev;
    r->hprev = r->hnext = NULL;
}

/* After the reply: count and log the request, free it. */
static void req_finish(st_http_req *r)
{
    if (r->held)
        held_unlink(r);
    st_http_server *s = r->s;
    double secs = (double)(st_mono_us() - r->t0) / 1e6;
    count_request(r, secs);
    st_log_level lvl = r->quiet && r->status < 400 ? ST_LOG_DEBUG : ST_LOG_INFO;
    if (s->o.access_log && st_log_enabled(lvl))
        st_log_fields(lvl, "http.request",
                      json_pack("{s:s, s:s, s:i, s:f, s:I, s:s, s:s, s:s*}", "method", r->method,
                                "path", r->path ? r->path : "", "status", r->status, "ms",
                                secs * 1000.0, "bytes", (json_int_t)r->resp_bytes, "request_id",
                                r->reqid, "peer", r->peer, "via", r->via[0] ? r->via : NULL));
    req_free(r);
}

void st_http_hold(st_http_req *r, void (*cancel)(st_http_req *r, void *arg), void *arg)
{
    r->held = 1;
    r->cancel = cancel;
    r->cancel_arg = arg;
    r->ctx = NULL; /* the handler's context lives on its stack */
}

struct event_base *st_http_loop(const st_http_req *r)
{
    return r->w->base;
}

/* The worker's loop has ended (the server stops): requests still held are
 * dropped unanswered; libevent frees their connections with the evhttp. */
static void drop_held(worker *w)
{
    while (w->held) {
        st_http_req *r = w->held;
        held_unlink(r);
        if (r->cancel)
            r->cancel(r, r->cancel_arg);
        req_free(r);
    }
}

/* ---- Server ---- */

st_http_server *st_http_server_new(const st_http_opts *o, char *err, size_t errlen)
{
    pthread_once(&evthread_once, evthread_init);
    st_http_server *s = calloc(1, sizeof *s);
    s->o = *o;
    s->listen = strdup(o->listen && *o->listen ? o->listen : "127.0.0.1:8080");
    s->port_file = o->port_file && *o->port_file ? strdup(o->port_file) : NULL;
    s->tls_cert = o->tls_cert && *o->tls_cert ? strdup(o->tls_cert) : NULL;
    s->tls_key = o->tls_key && *o->tls_key ? strdup(o->tls_key) : NULL;
    s->metrics_token = o->metrics_token && *o->metrics_token ? strdup(o->metrics_token) : NULL;
    if (s->o.threads < 1)
        s->o.threads = 1;
    if (s->o.max_body == 0)
        s->o.max_body = 1 << 20;
    if (s->o.timeout_s <= 0)
        s->o.timeout_s = 30;
    if (s->o.max_conns <= 0)
        s->o.max_conns = 512;
    s->guard = st_http_guard_new(s->o.timeout_s, s->o.max_conns);
    for (int i = 0; i < MAX_LISTENERS; i++)
        s->fds[i] = -1;
    char perr[200];
    s->ntrusted = st_cidr_parse_list(o->trusted_proxies, &s->trusted, perr, sizeof perr);
    if (s->ntrusted < 0) {
        snprintf(err, errlen, "http.trusted_proxies: %s", perr);
        s->ntrusted = 0;
        st_http_server_free(s);
        return NULL;
    }
    if (s->tls_cert || s->tls_key) {
        if (!s->tls_cert || !s->tls_key) {
            snprintf(err, errlen, "TLS needs both a certificate and a key");
            st_http_server_free(s);
            return NULL;
        }
        s->ssl = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(s->ssl, TLS1_2_VERSION);
        SSL_CTX_set_options(s->ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
        if (SSL_CTX_use_certificate_chain_file(s->ssl, s->tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(s->ssl, s->tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(s->ssl) != 1) {
            char e[256];
            ERR_error_string_n(ERR_get_error(), e, sizeof e);
            snprintf(err, errlen, "TLS certificate/key (%s, %s): %s", s->tls_cert, s->tls_key, e);
            st_http_server_free(s);
            return NULL;
        }
    }
    st_http_route(s, "GET /healthz", builtin_healthz, s);
    st_http_route(s, "GET /metrics", builtin_metrics, s);
    return s;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

static int bind_one(st_http_server *s, const char *spec, char *err, size_t errlen)
{
    char host[256], port[16];
    const char *colon = strrchr(spec, ':');
    if (!colon) {
        snprintf(err, errlen, "listen address '%s' needs host:port", spec);
        return -1;
    }
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof host || strlen(colon + 1) >= sizeof port) {
        snprintf(err, errlen, "listen address '%s' is too long", spec);
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = 0;
    snprintf(port, sizeof port, "%s", colon + 1);
    char *h = host;
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    int gai = getaddrinfo(*h ? h : NULL, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "listen address '%s': %s", spec, gai_strerror(gai));
        return -1;
    }
    if (!s->ssl && !s->o.allow_insecure && !is_loopback(ai->ai_addr)) {
        snprintf(err, errlen,
                 "refusing plain HTTP on non-loopback address '%s': configure "
                 "tls.cert and tls.key (or http.allow_insecure for a trusted network)",
                 spec);
        freeaddrinfo(ai);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* TCP_NODELAY on the listener is inherited by every accepted socket:
     * without it a response written in pieces (headers, then a large body)
     * can stall on Nagle's algorithm against the client's delayed ACK. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "listen on '%s': %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    if (s->nfds == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    s->fds[s->nfds++] = fd;
    return 0;
}

/* libevent moves at most 16 KiB per read or write call by default, so a
 * 50 KB list took four writev()s and four trips round the event loop. */
#define MAX_SINGLE_IO (256 * 1024)

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    worker *w = arg;
    st_http_server *s = w->s;
    struct bufferevent *bev;
    if (s->ssl) {
        SSL *ssl = SSL_new(s->ssl);
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (bev) {
        bufferevent_set_max_single_write(bev, MAX_SINGLE_IO);
        bufferevent_set_max_single_read(bev, MAX_SINGLE_IO);
        st_http_guard_attach(s->guard, base, bev, conn_closed, w);
    }
    return bev;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    event_base_dispatch(w->base);
    drop_held(w);
    return NULL;
}

/* w's evhttp on w->base, accepting on s's listeners. */
static int worker_http(st_http_server *s, worker *w, char *err, size_t errlen)
{
    w->s = s;
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (!w->http) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS);
    /* a reply names its own type; one without a body has none (libevent
     * would call it text/html; charset=ISO-8859-1) */
    evhttp_set_default_content_type(w->http, NULL);
    evhttp_set_max_body_size(w->http, (ev_ssize_t)s->o.max_body);
    evhttp_set_max_headers_size(w->http, 32 * 1024);
    evhttp_set_timeout(w->http, s->o.idle_timeout_s > 0 ? s->o.idle_timeout_s : s->o.timeout_s);
    evhttp_set_gencb(w->http, dispatch, w);
    evhttp_set_bevcb(w->http, bevcb, w);
    for (int i = 0; i < s->nfds; i++) {
        int fd = fcntl(s->fds[i], F_DUPFD_CLOEXEC, 0);
        if (fd < 0 || !evhttp_accept_socket_with_handle(w->http, fd)) {
            snprintf(err, errlen, "cannot accept on listener: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int worker_setup(st_http_server *s, worker *w, char *err, size_t errlen)
{
    /* The changelist folds the add/delete pairs a request makes on its
     * connection's events within one loop turn into one epoll_ctl. */
    struct event_config *ec = event_config_new();
    if (ec)
        event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec)
        event_config_free(ec);
    return worker_http(s, w, err, errlen);
}

int st_http_server_attach(st_http_server *s, struct event_base *base, int fd, char *err,
                          size_t errlen)
{
    pthread_once(&evthread_once, evthread_init);
    if (s->embedded || s->nfds == MAX_LISTENERS) {
        snprintf(err, errlen, "the server serves already");
        close(fd);
        return -1;
    }
    s->fds[s->nfds++] = fd;
    s->embedded = calloc(1, sizeof(worker));
    if (!s->embedded) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->embedded->base = base;
    return worker_http(s, s->embedded, err, errlen);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    st_http_server *s = arg;
    st_info("http.stop", "signal %d: shutting down", (int)sig);
    event_base_loopbreak(s->main_base);
}

void st_http_quiet(st_http_req *r)
{
    r->quiet = 1;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    st_http_server *s = arg;
    if (s->o.on_hup)
        s->o.on_hup();
}

int st_http_server_run(st_http_server *s)
{
    char err[512];
    char *list = strdup(s->listen), *save = NULL;
    for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        while (*a == ' ')
            a++;
        if (s->nfds == MAX_LISTENERS || bind_one(s, a, err, sizeof err) < 0) {
            st_error("http.listen", "%s", s->nfds == MAX_LISTENERS ? "too many listeners" : err);
            free(list);
            return -1;
        }
    }
    free(list);
    s->main_base = event_base_new();
    s->workers = calloc((size_t)s->o.threads, sizeof(worker));
    for (int i = 0; i < s->o.threads; i++) {
        if (worker_setup(s, &s->workers[i], err, sizeof err) < 0) {
            st_error("http.listen", "%s", err);
            return -1;
        }
    }
    struct event *sterm = evsignal_new(s->main_base, SIGTERM, on_signal, s);
    struct event *sint = evsignal_new(s->main_base, SIGINT, on_signal, s);
    struct event *shup = evsignal_new(s->main_base, SIGHUP, on_hup, s);
    if (!s->o.no_signals) {
        event_add(sterm, NULL);
        event_add(sint, NULL);
        event_add(shup, NULL);
    }
    for (int i = 0; i < s->o.threads; i++) {
        if (pthread_create(&s->workers[i].th, NULL, worker_main, &s->workers[i]) == 0)
            s->workers[i].started = 1;
    }
    if (s->port_file) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s.tmp", s->port_file);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%d\n", s->port);
            fclose(f);
            rename(tmp, s->port_file);
        } else {
            st_error("http.port_file", "cannot write %s: %s", tmp, strerror(errno));
        }
    }
    st_info("http.listen", "listening on %s (port %d, %s, %d threads)", s->listen, s->port,
            s->ssl ? "https" : "http", s->o.threads);
    /* Keeps the loop alive until a signal or st_http_server_stop(). */
    struct event *keep = event_new(s->main_base, -1, EV_PERSIST, NULL, NULL);
    struct timeval day = {86400, 0};
    event_add(keep, &day);
    event_base_dispatch(s->main_base);
    event_free(keep);
    for (int i = 0; i < s->o.threads; i++)
        if (s->workers[i].base)
            event_base_loopexit(s->workers[i].base, NULL);
    for (int i = 0; i < s->o.threads; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].th, NULL);
    event_free(sterm);
    event_free(sint);
    event_free(shup);
    st_info("http.stopped", "server stopped");
    return 0;
}

/* The feeder: a worker like the others, accepting on its own loopback
 * listener; the caller's thread runs its loop until the client sees EOF. */
static int feeder_setup(st_http_server *s)
{
    s->feed_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s->feed_fd < 0 || bind(s->feed_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s->feed_fd, 16) < 0 || getsockname(s->feed_fd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    s->feed_addr = a;
    s->feeder = calloc(1, sizeof(worker));
    char err[256];
    int saved[MAX_LISTENERS], n = s->nfds;
    memcpy(saved, s->fds, sizeof saved);
    s->fds[0] = s->feed_fd;
    s->nfds = 1;
    int rc = worker_setup(s, s->feeder, err, sizeof err);
    memcpy(s->fds, saved, sizeof saved);
    s->nfds = n;
    if (rc == 0)
        evhttp_set_timeout(s->feeder->http, 1);
    return rc;
}

int st_http_server_feed(st_http_server *s, const void *data, size_t n)
{
    pthread_once(&evthread_once, evthread_init);
    if (!s->feeder && feeder_setup(s) < 0)
        return -1;
    /* Non-blocking from the start: a signal (libFuzzer's timeout alarm, say)
     * must not be able to make connect() fail with EINTR. The connection
     * completes once the server's loop accepts it, below. */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c < 0)
        return -1;
    if (connect(c, (struct sockaddr *)&s->feed_addr, sizeof s->feed_addr) < 0 &&
        errno != EINPROGRESS && errno != EINTR) {
        close(c);
        return -1;
    }
    /* Write what fits without blocking, then say "no more"; loop the server
     * and drain its answers until it closes the connection. */
    const char *p = data;
    size_t left = n;
    int shut = 0;
    char sink[16384];
    for (int rounds = 0; rounds < 20000; rounds++) {
        if (left > 0) {
            ssize_t w = write(c, p, left);
            if (w > 0) {
                p += w;
                left -= (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR && errno != ENOTCONN) {
                left = 0; /* ENOTCONN: still connecting; try again next round */
            }
        }
        if (left == 0 && !shut && shutdown(c, SHUT_WR) == 0)
            shut = 1;
        event_base_loop(s->feeder->base, EVLOOP_NONBLOCK);
        ssize_t r = read(c, sink, sizeof sink);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR && errno != ENOTCONN))
            break;
        if (r < 0)
            usleep(50);
    }
    /* Close with a reset, not a FIN: no TIME_WAIT is left behind, so millions
     * of fed connections cannot exhaust the loopback's ephemeral ports. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c);
    /* let the server notice the close and free the connection */
    for (int i = 0; i < 4; i++)
        event_base_loop(s->feeder->base, EVLOOP_NONBLOCK);
    return 0;
}

void st_http_server_stop(st_http_server *s)
{
    if (s->main_base)
        event_base_loopbreak(s->main_base);
}

int st_http_server_port(const st_http_server *s)
{
    return s->port;
}

void st_http_server_free(st_http_server *s)
{
    if (!s)
        return;
    for (int i = 0; s->workers && i < s->o.threads; i++) {
        if (s->workers[i].http)
            evhttp_free(s->workers[i].http);
        if (s->workers[i].base)
            event_base_free(s->workers[i].base);
    }
    free(s->workers);
    if (s->embedded) { /* its loop is the caller's */
        drop_held(s->embedded);
        if (s->embedded->http)
            evhttp_free(s->embedded->http);
        free(s->embedded);
    }
    free(s->trusted);
    if (s->feeder) {
        drop_held(s->feeder);
        evhttp_free(s->feeder->http);
        event_base_free(s->feeder->base);
        free(s->feeder);
        close(s->feed_fd);
    }
    st_http_guard_free(s->guard);
    for (int i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    for (int i = 0; i < s->nroutes; i++) {
        free(s->routes[i].pattern);
        for (int k = 0; k < s->routes[i].nseg; k++)
            free(s->routes[i].segs[k]);
    }
    free(s->routes);
    if (s->main_base)
        event_base_free(s->main_base);
    if (s->ssl)
        SSL_CTX_free(s->ssl);
    free(s->listen);
    free(s->port_file);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->metrics_token);
    free(s);
}
