/*
 * httpguard.h - what every libevent HTTP listener needs against hostile
 * clients, in one place (http.h's servers use it; so does any evhttp a
 * component sets up itself, like the VMM's control socket).
 *
 * For each connection:
 *  - A deadline for a whole request. Once a request's first byte arrives, the
 *    request (head and body) must be in within timeout_s, or the client is
 *    answered 408 and the connection closed; a new connection's first
 *    request (TLS handshake included) within timeout_s of the accept. libevent's own timeout is an
 *    idle timer that every byte resets, so without this a client sending one
 *    header line every few seconds kept its connection for ever. Idle
 *    keep-alive connections stay governed by libevent's idle timeout.
 *  - A cap on simultaneous connections (max_conns, per guard): a connection
 *    over it is answered 503 at once and closed.
 *  - JSON errors. libevent answers malformed requests itself (400, 413,
 *    417, 501) with HTML pages, and has no hook for them in 2.1; the guard
 *    rewrites such a page, in the connection's output buffer before it is
 *    sent, into the documented {"error":{"code","message"}} body.
 * The same rules as the image store's data listener (image-store/data.c).
 */
#ifndef STRATUS_HTTPGUARD_H
#define STRATUS_HTTPGUARD_H

struct evhttp;
struct evhttp_connection;
struct event_base;
struct bufferevent;

typedef struct st_http_guard st_http_guard;

/* timeout_s: the deadline for a whole request (>= 1); max_conns: the cap
 * (>= 1). The guard must outlive every connection it watches. */
st_http_guard *st_http_guard_new(int timeout_s, int max_conns);
void st_http_guard_free(st_http_guard *g);
/* Watches a bufferevent made for an incoming evhttp connection (call it in
 * an evhttp bevcb, on the bufferevent the callback returns). The guard takes
 * the connection's close callback; closed(evcon, arg), when not NULL, runs in
 * its place as evhttp frees the connection, on the connection's loop. */
void st_http_guard_attach(st_http_guard *g, struct event_base *base, struct bufferevent *bev,
                          void (*closed)(struct evhttp_connection *evcon, void *arg), void *arg);
/* For an evhttp set up outside http.h: sets its bevcb to make plain socket
 * bufferevents watched by g. */
void st_http_guard_evhttp(st_http_guard *g, struct evhttp *http);
/* Connections open now. */
int st_http_guard_connections(const st_http_guard *g);

#endif
