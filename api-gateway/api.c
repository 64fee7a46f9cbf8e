/*
 * api.c - the wrapper every gateway route runs in.
 *
 * gw_route() registers an st_http handler that (1) borrows a database
 * connection, (2) authenticates the bearer token unless the route is public,
 * (3) checks the route's access level against the principal, (4) runs the
 * handler, and (5) returns the connection. Role failures inside the caller's
 * own tenant are 403 (the caller already knows the tenant); objects of other
 * tenants never get that far, since every tenant-scoped query filters on the
 * caller's tenant and finds nothing: 404.
 */
#include "gateway.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gw_route_arg {
    gw *g;
    gw_access access;
    gw_handler h;
    struct gw_route_arg *next;
} route_arg;

static int allowed(gw_ctx *c, gw_access a)
{
    const gw_principal *p = &c->p;
    switch (a) {
    case GW_PUBLIC:
    case GW_USER: return 1;
    case GW_NODE: return p->node_id[0] != 0;
    case GW_CLOUD_ADMIN: return p->cloud_admin;
    case GW_TENANT_READ: return p->tenant_id[0] != 0;
    case GW_TENANT_WRITE:
        return p->tenant_id[0] && (!strcmp(p->role, "admin") || !strcmp(p->role, "member"));
    case GW_TENANT_ADMIN: return p->tenant_id[0] && !strcmp(p->role, "admin");
    }
    return 0;
}

static const char *denial(gw_access a)
{
    switch (a) {
    case GW_NODE: return "this call is for compute nodes";
    case GW_CLOUD_ADMIN: return "this call needs a cloud administrator";
    case GW_TENANT_WRITE: return "your role in this tenant is read-only";
    case GW_TENANT_ADMIN: return "this call needs the tenant's admin role";
    default: return "this call needs a token scoped to a tenant";
    }
}

static void run_route(st_http_req *r, void *arg)
{
    route_arg *ra = arg;
    gw_ctx c = {.gw = ra->g, .req = r};
    /* Nodes poll and heartbeat all the time: their successful calls are
     * counted in /metrics and logged at debug, not one info line each. */
    if (ra->access == GW_NODE)
        st_http_quiet(r);
    c.db = st_db_get(ra->g->db, 5000);
    if (!c.db) {
        st_error("db.unavailable", "%s", st_db_pool_error(ra->g->db));
        st_http_add_header(r, "Retry-After", "1");
        st_http_reply_error(r, 503, ST_E_UNAVAILABLE, "the database is unavailable; retry shortly");
        return;
    }
    if (ra->access != GW_PUBLIC) {
        if (gw_authenticate(&c, st_http_header(r, "Authorization")) < 0)
            goto out;
        /* Node credentials only open node routes, user tokens only user routes. */
        if ((ra->access == GW_NODE) != (c.p.node_id[0] != 0)) {
            st_http_reply_error(r, 403, ST_E_FORBIDDEN, "%s",
                                ra->access == GW_NODE
                                    ? denial(GW_NODE)
                                    : "node credentials cannot call the tenant API");
            goto out;
        }
        if (!allowed(&c, ra->access)) {
            st_http_reply_error(r, 403, ST_E_FORBIDDEN, "%s", denial(ra->access));
            goto out;
        }
    }
    st_http_set_ctx(r, &c);
    ra->h(&c);
out:
    st_db_put(c.db);
}

void gw_route(gw *g, const char *pattern, gw_access access, gw_handler h)
{
    route_arg *ra = malloc(sizeof *ra);
    *ra = (route_arg){g, access, h, g->routes};
    g->routes = ra;
    if (st_http_route(g->http, pattern, run_route, ra) < 0) {
        fprintf(stderr, "bad route pattern '%s'\n", pattern);
        abort();
    }
}

void gw_routes_free(gw *g)
{
    while (g->routes) {
        route_arg *n = g->routes->next;
        free(g->routes);
        g->routes = n;
    }
}

void gw_fail_db(gw_ctx *c)
{
    st_log_fields(ST_LOG_ERROR, "db.error",
                  json_pack("{s:s, s:s, s:s}", "error", st_db_error(c->db), "sqlstate",
                            st_db_sqlstate(c->db), "request_id", st_http_request_id(c->req)));
    if (st_db_conn_lost(c->db)) {
        st_http_add_header(c->req, "Retry-After", "1");
        st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE,
                            "the database connection was lost; retry");
    } else {
        st_http_reply_error(c->req, 500, ST_E_INTERNAL, "internal error (request %s)",
                            st_http_request_id(c->req));
    }
}

void gw_fail_db_or_conflict(gw_ctx *c)
{
    if (strcmp(st_db_sqlstate(c->db), "SX409") == 0) {
        /* The trigger's message names the states; strip libpq's "ERROR:  ". */
        const char *m = st_db_error(c->db);
        const char *p = strstr(m, "ERROR:  ");
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "%s", p ? p + 8 : m);
        return;
    }
    gw_fail_db(c);
}

const char *gw_id_param(gw_ctx *c, const char *name)
{
    const char *v = st_http_param(c->req, name);
    if (!v || !st_uuid_valid(v)) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such %s", name);
        return NULL;
    }
    return v;
}

void gw_reply_json_text(gw_ctx *c, int status, PGresult *r, const char *what)
{
    const char *v = r ? st_db_val(r, 0, 0) : NULL;
    if (!v)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such %s", what);
    else
        st_http_reply_raw(c->req, status, "application/json", v, strlen(v));
}

json_t *gw_body(gw_ctx *c, const char *const *allowed_keys)
{
    json_t *b = st_http_json_body(c->req);
    if (!b)
        return NULL;
    char err[256];
    if (allowed_keys && st_json_only_keys(b, allowed_keys, err, sizeof err) < 0) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "%s", err);
        return NULL;
    }
    return b;
}

const char *gw_id_and_flag(gw_ctx *c, const char *flag, int *value)
{
    const char *const keys[] = {flag, NULL};
    const char *id = gw_id_param(c, "id");
    if (!id)
        return NULL;
    json_t *b = gw_body(c, keys);
    if (!b)
        return NULL;
    char err[256];
    if (gw_check(c, st_json_get_bool(b, flag, 1, value, err, sizeof err), err) < 0)
        return NULL;
    return id;
}

PGresult *gw_one_row(gw_ctx *c, PGresult *r, const char *what)
{
    if (!r) {
        gw_fail_db(c);
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such %s", what);
        return NULL;
    }
    return r;
}

int gw_check(gw_ctx *c, int rc, const char *err)
{
    if (rc < 0)
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "%s", err);
    return rc;
}

int gw_page(gw_ctx *c, char limit[16], const char **marker)
{
    const char *l = st_http_query(c->req, "limit");
    long n = 100;
    if (l) {
        char *end;
        n = strtol(l, &end, 10);
        if (*end || n < 1 || n > 1000) {
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "limit must be an integer from 1 to 1000");
            return -1;
        }
    }
    snprintf(limit, 16, "%ld", n);
    *marker = st_http_query(c->req, "marker");
    if (*marker && !st_uuid_valid(*marker)) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "marker must be an id from a list");
        return -1;
    }
    return 0;
}
