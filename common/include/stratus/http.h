/*
 * http.h - the HTTP(S) server every Stratus service uses, on libevent.
 *
 * Shape. One listening socket per address, shared by `threads` worker threads;
 * each worker runs its own libevent loop and evhttp, so handlers may block on
 * the database (db.h) without stalling other workers. Handlers reply before
 * they return (a handler that forgets is answered 500), unless they hold the
 * request (st_http_hold) to answer it later from their worker's loop.
 *
 * Routing. Routes are "METHOD /path/{param}/..." patterns; a path that exists
 * with another method gets 405 with Allow, an unknown path 404, both as JSON
 * errors. Route patterns are also what /metrics labels and what the OpenAPI
 * completeness test compares against (st_http_server_routes()).
 *
 * Every response carries X-Request-Id (the client's, when it sent a sane one,
 * else a fresh UUID) and every error body has the shape
 *   {"error": {"code": "not_found", "message": "..."}}
 * whose code comes from the one table in errcode.h.
 * Request bodies over max_body bytes are refused by libevent with 413 before
 * a handler runs; JSON bodies are parsed with st_http_json_body(). Every
 * connection is watched by httpguard.h: once a request starts arriving it
 * must be in whole within timeout_s (else 408), at most max_conns are open
 * at once (else 503), and libevent's own error pages for malformed requests
 * (400, 413, 417, 501) go out as JSON errors like every other.
 * Query parameters, headers and path segments must be UTF-8: anything else
 * is a 400 before any handler sees it.
 *
 * TLS. With tls.cert and tls.key configured, every listener speaks HTTPS
 * (OpenSSL through bufferevent_openssl). Plain HTTP is only allowed on
 * loopback addresses unless http.allow_insecure is set.
 *
 * Built in: GET /healthz (calls the service's health function) and
 * GET /metrics (metrics.h; behind a bearer token when metrics_token is set).
 */
#ifndef STRATUS_HTTP_H
#define STRATUS_HTTP_H

#include "stratus/errcode.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct st_http_server st_http_server;
typedef struct st_http_req st_http_req;
typedef void (*st_http_handler)(st_http_req *req, void *arg);

typedef struct st_http_opts {
    const char *listen;    /* "127.0.0.1:8080", "[::1]:0", comma-separated list */
    const char *port_file; /* where to write the first listener's port, or NULL */
    const char *tls_cert;  /* PEM file, or NULL/"" for plain HTTP */
    const char *tls_key;
    int allow_insecure; /* plain HTTP on non-loopback addresses */
    int threads;        /* worker threads (>= 1) */
    size_t max_body;    /* bytes */
    int timeout_s;      /* idle timeout, and the deadline for a whole request */
    /* Once a request is in: how long its connection may wait on a write or the next request
     * (0: timeout_s). Longer for a server whose handlers may block its loop for a while (the
     * VMM's snapshot of a large guest): libevent's timers fire when the loop comes back, and
     * a connection whose timer ran out while the handler worked would lose its reply. */
    int idle_timeout_s;
    int max_conns;  /* simultaneous connections; more are told 503 (0: 512) */
    int access_log; /* one log line per request */
    int no_signals; /* do not handle SIGTERM/SIGINT/SIGHUP (several servers in a process) */
    /* SIGHUP: called on the main loop (st_service_reload for a service);
     * NULL: SIGHUP is ignored (it never stops the server). */
    void (*on_hup)(void);
    /* Load balancers whose X-Forwarded-For is believed ("10.0.0.0/8,::1"):
     * st_http_peer() is then the client they name (netaddr.h). */
    const char *trusted_proxies;
    /* GET /metrics: with a token set, only "Authorization: Bearer <token>"
     * may read it (else 401); without one it is open to whoever reaches the
     * listener, unless metrics_closed (then 401: a tenant-facing listener). */
    const char *metrics_token;
    int metrics_closed;
    /* /healthz: return 0 when healthy, else fill msg. NULL: always healthy. */
    int (*health)(void *arg, char *msg, size_t msglen);
    void *health_arg;
} st_http_opts;

st_http_server *st_http_server_new(const st_http_opts *opts, char *err, size_t errlen);
/* pattern: "GET /v1/instances/{id}". Returns 0, -1 on a malformed pattern. */
int st_http_route(st_http_server *s, const char *pattern, st_http_handler h, void *arg);
/* The access-log line of this request is written at debug unless it fails
 * (status >= 400); it is counted in the metrics either way. For calls
 * that come all the time (a node's poll and heartbeat). */
void st_http_quiet(st_http_req *r);
/* Binds, starts the workers and blocks until SIGTERM/SIGINT or stop. */
int st_http_server_run(st_http_server *s);
/* Asks a running server to stop (thread- and signal-safe). */
void st_http_server_stop(st_http_server *s);
void st_http_server_free(st_http_server *s);
/* The first listener's port once bound (0 before). */
int st_http_server_port(const st_http_server *s);
/* Calls fn for every route pattern ("GET /v1/x/{id}"), built-ins included. */
void st_http_server_routes(const st_http_server *s,
                           void (*fn)(const char *method, const char *path, void *arg), void *arg);

/*
 * Embedded: serves on the caller's own event loop instead of worker threads, for a
 * process that already has one (stratus-vmm's control socket, on its event thread).
 * fd is a listening socket the caller made (any family: a unix socket, say); the
 * server takes it. Handlers run on base's thread; no signals are handled and
 * opts.listen, threads and port_file are not used. st_http_server_free() stops serving
 * (open connections are closed, held requests dropped) and leaves base to its owner.
 * Returns 0, or -1 with err.
 */
int st_http_server_attach(st_http_server *s, struct event_base *base, int fd, char *err,
                          size_t errlen);

/*
 * Serves one client connection whose bytes are data, through the real
 * parser, router and handlers, on a private loopback listener and event loop
 * (responses are read and discarded). For fuzzing and tests; returns 0, or
 * -1 when the loopback socket cannot be set up.
 */
int st_http_server_feed(st_http_server *s, const void *data, size_t n);

/* ---- Requests ---- */
const char *st_http_method(const st_http_req *r); /* "GET" */
const char *st_http_path(const st_http_req *r);   /* decoded path, no query */
const char *st_http_route_pattern(const st_http_req *r);
const char *st_http_param(const st_http_req *r, const char *name); /* {name} */
const char *st_http_query(const st_http_req *r, const char *name); /* ?name= */
const char *st_http_query_string(const st_http_req *r); /* raw, after '?'; NULL if none */
const char *st_http_header(const st_http_req *r, const char *name);
const char *st_http_request_id(const st_http_req *r);
/* The client's address, text: the TCP peer, or the client a trusted proxy
 * names (st_http_opts.trusted_proxies). */
const char *st_http_peer(const st_http_req *r);
/* Body bytes (NUL-terminated copy owned by the request) and length; NULL when out of memory. */
const char *st_http_body(st_http_req *r, size_t *len);
/*
 * The body as a JSON object; on failure replies 400 (or 415 for a non-JSON
 * content type) itself and returns NULL. The object belongs to the request.
 */
json_t *st_http_json_body(st_http_req *r);
/* Per-request slot for a service (e.g. the authenticated principal). */
void st_http_set_ctx(st_http_req *r, void *ctx);
void *st_http_ctx(const st_http_req *r);

/*
 * Keeps r open after its handler returns, for a reply that comes later (a
 * long-poll): a callback on the same worker's loop (st_http_loop) answers
 * through the st_http_reply_* calls below, after which r is gone. Until then
 * r stays valid; if the server stops first, cancel(r, arg) runs on the
 * worker's thread and r is dropped unanswered. The connection's request
 * deadline (http.timeout) stops once a request is held; the held request
 * still counts against http.max_connections.
 */
void st_http_hold(st_http_req *r, void (*cancel)(st_http_req *r, void *arg), void *arg);
/* The libevent loop of the worker serving r (struct event_base *). */
struct event_base *st_http_loop(const st_http_req *r);

/* fn(arg) runs on r's loop once its reply has been written to the connection: for an
 * action that must follow the answer (a process that exits once it has said so).
 * Call it before replying; at most once per request. It does not run when the
 * connection fails before the reply is out. */
void st_http_after_reply(st_http_req *r, void (*fn)(void *arg), void *arg);

/* ---- Responses (exactly one per request) ---- */
void st_http_add_header(st_http_req *r, const char *name, const char *value);
/* Steals body (may be NULL for an empty reply). */
void st_http_reply_json(st_http_req *r, int status, json_t *body);
void st_http_reply_raw(st_http_req *r, int status, const char *content_type, const void *buf,
                       size_t len);
/* Replies with len bytes at buf without copying them; release(arg) runs
 * once the connection no longer needs them (possibly on another thread). */
void st_http_reply_ref(st_http_req *r, int status, const char *content_type, const void *buf,
                       size_t len, void (*release)(void *arg), void *arg);
/* 1 when the request's If-None-Match names etag (a quoted entity tag; weak
 * and strong forms compare alike, as RFC 9110 says for GET) or is "*". */
int st_http_etag_matches(const st_http_req *r, const char *etag);
/* A conditional GET's whole check: sets the ETag header and, when the
 * request's If-None-Match names etag, replies 304 and returns 1. Otherwise
 * 0: the caller sends the body (any other headers it adds go with either). */
int st_http_not_modified(st_http_req *r, const char *etag);
__attribute__((format(printf, 4, 5))) void st_http_reply_error(st_http_req *r, int status,
                                                               st_err code, const char *fmt, ...);
int st_http_replied(const st_http_req *r);
int st_http_status(const st_http_req *r);

#endif
