/*
 * handler.h - the skeleton every service's API handler runs in.
 *
 * A service describes itself once (st_api: its HTTP server, database pool,
 * context and how it tells who calls) and registers each route with the
 * access level it needs, in the service's own terms. For every request the
 * wrapper
 *   1. borrows a database connection (503 unavailable, Retry-After, when
 *      the pool has none within 5 s),
 *   2. asks the service's auth() who the caller is and whether the route's
 *      access level lets them in (auth replies 401/403 itself and returns -1),
 *   3. runs the handler with an st_call (request, connection, service
 *      context, the caller), and
 *   4. gives the connection back, whatever the handler did.
 * So a handler never sees an unauthenticated request and never manages the
 * connection. st_reply_db_error() is the one mapping of a failed statement
 * to a reply: 503 when the connection was lost (retry), 500 otherwise (our
 * error, logged with the request id).
 */
#ifndef STRATUS_HANDLER_H
#define STRATUS_HANDLER_H

#include "stratus/db.h"
#include "stratus/http.h"

#include <stddef.h>

/* The most bytes a service's caller record (st_api.who_size) may take. */
#define ST_CALL_WHO_MAX 1024

typedef void (*st_any_fn)(void);

typedef struct st_call {
    st_http_req *req;
    st_db *db;   /* borrowed for the call; NULL after st_call_release_db() */
    void *svc;   /* st_api.svc: the service's context */
    int access;  /* the route's access level (the service's enum) */
    void *who;   /* the caller, as auth() filled it: st_api.who_size bytes, zeroed first */
    st_any_fn h; /* the route's handler, for st_api.dispatch */
} st_call;

typedef void (*st_call_fn)(st_call *c);

typedef struct st_api {
    st_http_server *http;
    st_db_pool *pool;
    void *svc;
    size_t who_size; /* <= ST_CALL_WHO_MAX */
    /* Who calls, and may they use a route of c->access: 0, or -1 after
     * replying. NULL: every route is open. */
    int (*auth)(st_call *c);
    /* How a handler is called: NULL when handlers are st_call_fn; a
     * service whose handlers take a context of their own calls c->h here. */
    void (*dispatch)(st_call *c);
    struct st_api_route *routes; /* what st_api_route() allocated */
} st_api;

/* Registers pattern ("GET /v1/x/{id}") with an access level and a handler
 * (an st_call_fn, or what st_api.dispatch calls); aborts on a malformed
 * pattern, a programming error. */
void st_api_route(st_api *a, const char *pattern, int access, st_any_fn h);
/* Frees what st_api_route() allocated (after the server stopped). */
void st_api_free(st_api *a);

/* Gives the connection back before the handler ends (before slow work
 * that needs none); c->db is NULL afterwards. */
void st_call_release_db(st_call *c);
/* Replies 503 (connection lost: retry) or 500 (request id in the message)
 * for a failed statement on db, logging it with what (may be NULL). */
void st_reply_db_error(st_http_req *r, st_db *db, const char *what);
/* The path parameter name when it is a UUID; otherwise replies 404
 * "no such <what>" and returns NULL. */
const char *st_req_uuid_param(st_http_req *r, const char *name, const char *what);
/* ?limit= (1..1000, default 100) as text and ?marker= (a UUID, or NULL);
 * 0, or -1 after replying 400. */
int st_req_page(st_http_req *r, char limit[16], const char **marker);

#endif
