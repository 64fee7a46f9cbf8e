/*
 * httpguard.c - per-connection deadline, connection cap and JSON error pages
 * for libevent's evhttp (see httpguard.h for the rules).
 *
 * How it sees a connection without owning it. evhttp makes the bufferevent
 * through its bevcb; we attach a watch to it there: a callback on each of
 * its evbuffers and a timer. One loop turn later (evhttp has wrapped the
 * bufferevent in its connection by then, and set itself as the
 * bufferevent's callback argument) we learn the evhttp_connection from
 * bufferevent_getcb() and ask for its close callback, which is where the
 * watch ends (and tells the attacher, who cannot have that callback too).
 * The input buffer's callback starts the deadline when a request's first
 * bytes arrive; the output buffer's callback stops it when a reply starts
 * (evhttp replies only once the whole request is read), and spots
 * libevent's own HTML error page (always "Connection: close", written whole
 * before the write is enabled) to replace it with JSON. On a kept-alive
 * connection evhttp writes that page into an output buffer whose start is
 * frozen: the watch reads it with evbuffer_peek and empties it unfrozen.
 * When the deadline passes, or the connection is over the cap, the watch takes the
 * bufferevent over from evhttp, writes its JSON reply, and frees the
 * evhttp_connection once the reply is out.
 */
#include "stratus/httpguard.h"
#include "stratus/errcode.h"
#include "stratus/uuid.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_http_guard {
    int timeout_s;
    int max_conns;
    atomic_int nconns;
};

typedef struct watch {
    st_http_guard *g;
    struct bufferevent *bev;
    struct evhttp_connection *evcon;
    struct event *setup, *timer;
    struct evbuffer_cb_entry *in_ent, *out_ent;
    int in_request; /* a request has begun arriving; its reply has not begun */
    int responding; /* a reply is in the output buffer */
    int over_cap;
    int taken; /* the watch took the connection over */
    int rewriting;
    void (*closed)(struct evhttp_connection *evcon, void *arg); /* the attacher's hook */
    void *closed_arg;
} watch;

st_http_guard *st_http_guard_new(int timeout_s, int max_conns)
{
    st_http_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->timeout_s = timeout_s > 0 ? timeout_s : 30;
    g->max_conns = max_conns > 0 ? max_conns : 512;
    atomic_init(&g->nconns, 0);
    return g;
}

void st_http_guard_free(st_http_guard *g)
{
    free(g);
}

int st_http_guard_connections(const st_http_guard *g)
{
    return atomic_load(&((st_http_guard *)g)->nconns);
}

static st_err code_of(int status)
{
    switch (status) {
    case 408: return ST_E_TIMEOUT;
    case 413: return ST_E_PAYLOAD_TOO_LARGE;
    case 417: return ST_E_EXPECTATION_FAILED;
    case 501: return ST_E_NOT_IMPLEMENTED;
    case 503: return ST_E_UNAVAILABLE;
    default: return ST_E_INVALID_REQUEST;
    }
}

static const char *message_of(int status)
{
    switch (status) {
    case 408: return "the request took too long to arrive";
    case 413: return "the request head or body is too large";
    case 417: return "unsupported Expect header";
    case 501: return "method not implemented";
    case 503: return "too many connections; try again later";
    default: return "malformed HTTP request";
    }
}

/* A whole "Connection: close" reply with the documented error body. */
static void add_json_error(struct evbuffer *out, int status, const char *reason)
{
    char body[256], rid[ST_UUID_LEN + 1];
    int bl = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                      st_err_name(code_of(status)), message_of(status));
    st_uuid_v4(rid);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\nConnection: close\r\nX-Request-Id: %s\r\n"
                        "Server: stratus\r\nCache-Control: no-store\r\n"
                        "X-Content-Type-Options: nosniff\r\n\r\n%s",
                        status, reason, bl, rid, body);
}

static void release(watch *w)
{
    if (w->in_ent)
        evbuffer_remove_cb_entry(bufferevent_get_input(w->bev), w->in_ent);
    if (w->out_ent)
        evbuffer_remove_cb_entry(bufferevent_get_output(w->bev), w->out_ent);
    if (w->timer)
        event_free(w->timer);
    if (w->setup)
        event_free(w->setup);
    atomic_fetch_sub(&w->g->nconns, 1);
    free(w);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    watch *w = arg;
    if (w->closed)
        w->closed(evcon, w->closed_arg);
    release(w);
}

static void taken_written(struct bufferevent *bev, void *arg)
{
    (void)bev;
    watch *w = arg;
    evhttp_connection_free(w->evcon); /* calls on_close */
}

static void taken_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    watch *w = arg;
    evhttp_connection_free(w->evcon);
}

/* Empties buf even when its start is frozen (see peek_copy), leaving it
 * frozen as it was. */
static void drain_all(struct evbuffer *buf)
{
    size_t n = evbuffer_get_length(buf);
    if (n == 0 || evbuffer_drain(buf, n) == 0)
        return;
    evbuffer_unfreeze(buf, 1);
    evbuffer_drain(buf, n);
    evbuffer_freeze(buf, 1);
}

/* Takes the connection from evhttp: answers status and closes once sent. */
static void take_over(watch *w, int status, const char *reason)
{
    w->taken = 1;
    w->rewriting = 1;
    event_del(w->timer);
    bufferevent_setcb(w->bev, NULL, taken_written, taken_event, w);
    bufferevent_disable(w->bev, EV_READ);
    struct evbuffer *in = bufferevent_get_input(w->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    drain_all(bufferevent_get_output(w->bev));
    add_json_error(bufferevent_get_output(w->bev), status, reason);
    struct timeval tv = {5, 0};
    bufferevent_set_timeouts(w->bev, NULL, &tv);
    bufferevent_enable(w->bev, EV_WRITE);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    watch *w = arg;
    /* evhttp stops reading once a request is in whole and reads again only
     * after its reply: a request whole but unanswered at the deadline is one
     * a handler holds (http.h st_http_hold, a long-poll), not a slow client */
    if (w->in_request && !w->taken && !(bufferevent_get_enabled(w->bev) & EV_READ)) {
        w->in_request = 0;
        return;
    }
    if (w->in_request && !w->taken)
        take_over(w, 408, "Request Timeout");
}

static void start_deadline(watch *w)
{
    w->in_request = 1;
    struct timeval tv = {w->g->timeout_s, 0};
    event_add(w->timer, &tv);
}

static void in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    watch *w = arg;
    if (info->n_added && !w->in_request && !w->responding && !w->taken && w->evcon)
        start_deadline(w);
}

/* Copies the first n bytes of buf into dst; the count copied. Through
 * evbuffer_peek, not evbuffer_copyout: after an earlier reply on the
 * connection evhttp writes its error page into an output buffer whose start
 * is frozen, and copyout refuses such a buffer. */
static size_t peek_copy(struct evbuffer *buf, size_t off, char *dst, size_t n)
{
    struct evbuffer_iovec v[16];
    struct evbuffer_ptr p;
    if (evbuffer_ptr_set(buf, &p, off, EVBUFFER_PTR_SET) < 0)
        return 0;
    int nv = evbuffer_peek(buf, (ev_ssize_t)n, &p, v, 16);
    size_t got = 0;
    for (int i = 0; i < nv && i < 16 && got < n; i++) {
        size_t k = v[i].iov_len < n - got ? v[i].iov_len : n - got;
        memcpy(dst + got, v[i].iov_base, k);
        got += k;
    }
    return got;
}

/* libevent's error page (evhttp_send_error): "HTTP/1.1 400 Bad Request",
 * Content-Type text/html, an HTML body ending "</BODY></HTML>\n". */
static int is_libevent_error_page(struct evbuffer *buf)
{
    static const char tail[] = "</BODY></HTML>\n";
    char page[4097];
    size_t len = evbuffer_get_length(buf), tl = sizeof tail - 1;
    if (len < 32 || len > 4096)
        return 0;
    if (peek_copy(buf, 0, page, len) != len)
        return 0;
    page[len] = 0;
    if (memcmp(page, "HTTP/1.", 7) != 0 || memcmp(page + len - tl, tail, tl) != 0)
        return 0;
    const char *ct = strstr(page, "\r\nContent-Type: text/html\r\n");
    const char *html = strstr(page, "\r\n\r\n<HTML><HEAD>\n<TITLE>");
    return ct && html && ct < html;
}

static void rewrite_error_page(watch *w, struct evbuffer *buf)
{
    char line[64] = "";
    size_t n =
        evbuffer_get_length(buf) < sizeof line - 1 ? evbuffer_get_length(buf) : sizeof line - 1;
    n = peek_copy(buf, 0, line, n);
    line[n] = 0;
    int status = atoi(line + 9);
    if (status < 400 || status > 599)
        status = 400;
    char *reason = line + 13, *eol = strstr(reason, "\r\n");
    if (eol)
        *eol = 0;
    else
        reason = "Error";
    char r[64];
    snprintf(r, sizeof r, "%.40s", reason);
    w->rewriting = 1;
    drain_all(buf);
    add_json_error(buf, status, r);
    w->rewriting = 0;
}

static void out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    watch *w = arg;
    if (w->rewriting || w->taken)
        return;
    if (info->n_added) {
        char head[13];
        /* "100 Continue" is not the reply: the body is still to come */
        if (info->n_added >= 12 && peek_copy(buf, info->orig_size, head, 12) == 12 &&
            memcmp(head, "HTTP/1.1 100", 12) == 0)
            return;
        if (w->in_request) {
            w->in_request = 0;
            event_del(w->timer);
        }
        w->responding = 1;
        if (is_libevent_error_page(buf))
            rewrite_error_page(w, buf);
    }
    if (info->n_deleted && evbuffer_get_length(buf) == 0 && w->responding) {
        w->responding = 0;
        /* a pipelined request already read in starts its own deadline */
        if (evbuffer_get_length(bufferevent_get_input(w->bev)) > 0)
            start_deadline(w);
    }
}

/* One loop turn after the accept: evhttp's connection now owns the
 * bufferevent (or has already dropped it). */
static void on_setup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    watch *w = arg;
    bufferevent_data_cb rcb = NULL, wcb = NULL;
    bufferevent_event_cb ecb = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(w->bev, &rcb, &wcb, &ecb, &cbarg);
    struct bufferevent *bev = w->bev;
    if (!rcb && !ecb) { /* evhttp freed it already */
        release(w);
        bufferevent_decref(bev);
        return;
    }
    w->evcon = cbarg;
    evhttp_connection_set_closecb(w->evcon, on_close, w);
    bufferevent_decref(bev); /* evhttp's connection holds it now */
    if (w->over_cap)
        take_over(w, 503, "Service Unavailable");
    else
        start_deadline(w); /* the first request (and a TLS handshake) from the accept */
}

void st_http_guard_attach(st_http_guard *g, struct event_base *base, struct bufferevent *bev,
                          void (*closed)(struct evhttp_connection *evcon, void *arg), void *arg)
{
    watch *w = calloc(1, sizeof *w);
    if (!w || !bev) {
        free(w);
        return;
    }
    w->g = g;
    w->bev = bev;
    w->closed = closed;
    w->closed_arg = arg;
    int n = atomic_fetch_add(&g->nconns, 1) + 1;
    w->over_cap = n > g->max_conns;
    w->timer = evtimer_new(base, on_timer, w);
    w->setup = event_new(base, -1, 0, on_setup, w);
    w->in_ent = evbuffer_add_cb(bufferevent_get_input(bev), in_cb, w);
    w->out_ent = evbuffer_add_cb(bufferevent_get_output(bev), out_cb, w);
    bufferevent_incref(bev); /* until on_setup has seen what became of it */
    event_active(w->setup, 0, 0);
}

static struct bufferevent *plain_bevcb(struct event_base *base, void *arg)
{
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev)
        st_http_guard_attach(arg, base, bev, NULL, NULL);
    return bev;
}

void st_http_guard_evhttp(st_http_guard *g, struct evhttp *http)
{
    evhttp_set_bevcb(http, plain_bevcb, g);
}
