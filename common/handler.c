/*
 * handler.c - the route wrapper of handler.h: connection, caller, handler,
 * connection back; and the replies every service's handlers share.
 */
#include "stratus/handler.h"
#include "stratus/log.h"
#include "stratus/uuid.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_api_route {
    st_api *api;
    int access;
    st_any_fn h;
    struct st_api_route *next;
} route;

static void run(st_http_req *r, void *arg)
{
    route *ro = arg;
    st_api *a = ro->api;
    alignas(max_align_t) unsigned char who[ST_CALL_WHO_MAX];
    memset(who, 0, a->who_size);
    st_call c = {.req = r, .svc = a->svc, .access = ro->access, .who = who, .h = ro->h};
    c.db = st_db_get(a->pool, 5000);
    if (!c.db) {
        st_error("db.unavailable", "%s", st_db_pool_error(a->pool));
        st_http_add_header(r, "Retry-After", "1");
        st_http_reply_error(r, 503, ST_E_UNAVAILABLE, "the database is unavailable; retry shortly");
        return;
    }
    if (!a->auth || a->auth(&c) == 0) {
        if (a->dispatch)
            a->dispatch(&c);
        else
            ((st_call_fn)c.h)(&c);
    }
    st_db_put(c.db);
}

void st_api_route(st_api *a, const char *pattern, int access, st_any_fn h)
{
    route *ro = malloc(sizeof *ro);
    if (!ro || a->who_size > ST_CALL_WHO_MAX) {
        fprintf(stderr, "st_api_route: out of memory or who_size too large\n");
        abort();
    }
    *ro = (route){a, access, h, a->routes};
    a->routes = ro;
    if (st_http_route(a->http, pattern, run, ro) < 0) {
        fprintf(stderr, "bad route pattern '%s'\n", pattern);
        abort();
    }
}

void st_api_free(st_api *a)
{
    while (a->routes) {
        route *n = a->routes->next;
        free(a->routes);
        a->routes = n;
    }
}

void st_call_release_db(st_call *c)
{
    st_db_put(c->db);
    c->db = NULL;
}

void st_reply_db_error(st_http_req *r, st_db *db, const char *what)
{
    st_log_fields(ST_LOG_ERROR, "db.error",
                  json_pack("{s:s, s:s, s:s, s:s?}", "error", st_db_error(db), "sqlstate",
                            st_db_sqlstate(db), "request_id", st_http_request_id(r), "what", what));
    if (st_db_conn_lost(db)) {
        st_http_add_header(r, "Retry-After", "1");
        st_http_reply_error(r, 503, ST_E_UNAVAILABLE, "the database connection was lost; retry");
    } else {
        st_http_reply_error(r, 500, ST_E_INTERNAL, "internal error (request %s)",
                            st_http_request_id(r));
    }
}

const char *st_req_uuid_param(st_http_req *r, const char *name, const char *what)
{
    const char *v = st_http_param(r, name);
    if (!v || !st_uuid_valid(v)) {
        st_http_reply_error(r, 404, ST_E_NOT_FOUND, "no such %s", what);
        return NULL;
    }
    return v;
}

int st_req_page(st_http_req *r, char limit[16], const char **marker)
{
    const char *l = st_http_query(r, "limit");
    long n = 100;
    if (l) {
        char *end;
        n = strtol(l, &end, 10);
        if (*end || n < 1 || n > 1000) {
            st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                                "limit must be an integer from 1 to 1000");
            return -1;
        }
    }
    snprintf(limit, 16, "%ld", n);
    *marker = st_http_query(r, "marker");
    if (*marker && !st_uuid_valid(*marker)) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "marker must be an id from a list");
        return -1;
    }
    return 0;
}
