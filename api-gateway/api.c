/*
 * api.c - the gateway's hooks into the route wrapper every route runs in
 * (common/handler.h), and the replies its handlers share.
 *
 * gw_route() registers a route with common's wrapper, which (1) borrows a
 * database connection, (2) authenticates the bearer token unless the route is public,
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

/* st_api.auth: the bearer token's principal, and whether the route's
 * access level admits it (403 otherwise). */
static int authorize(st_call *sc)
{
    gw_access access = (gw_access)sc->access;
    /* Nodes poll and heartbeat all the time: their successful calls are
     * counted in /metrics and logged at debug, not one info line each. */
    if (access == GW_NODE)
        st_http_quiet(sc->req);
    if (access == GW_PUBLIC)
        return 0;
    gw_ctx c = {.gw = sc->svc, .req = sc->req, .db = sc->db};
    if (gw_authenticate(&c, st_http_header(sc->req, "Authorization")) < 0)
        return -1;
    /* Node credentials only open node routes, user tokens only user routes. */
    if ((access == GW_NODE) != (c.p.node_id[0] != 0)) {
        st_http_reply_error(sc->req, 403, ST_E_FORBIDDEN, "%s",
                            access == GW_NODE ? denial(GW_NODE)
                                              : "node credentials cannot call the tenant API");
        return -1;
    }
    if (!allowed(&c, access)) {
        st_http_reply_error(sc->req, 403, ST_E_FORBIDDEN, "%s", denial(access));
        return -1;
    }
    *(gw_principal *)sc->who = c.p;
    return 0;
}

/* st_api.dispatch: gateway handlers take a gw_ctx. */
static void dispatch(st_call *sc)
{
    gw_ctx c = {.gw = sc->svc, .req = sc->req, .db = sc->db, .p = *(gw_principal *)sc->who};
    ((gw_handler)sc->h)(&c);
}

void gw_route(gw *g, const char *pattern, gw_access access, gw_handler h)
{
    g->api.http = g->http;
    g->api.pool = g->db;
    g->api.svc = g;
    g->api.who_size = sizeof(gw_principal);
    g->api.auth = authorize;
    g->api.dispatch = dispatch;
    st_api_route(&g->api, pattern, (int)access, (st_any_fn)h);
}

void gw_routes_free(gw *g)
{
    st_api_free(&g->api);
}

void gw_fail_db(gw_ctx *c)
{
    st_reply_db_error(c->req, c->db, NULL);
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

const char *gw_request_id(const gw_ctx *c)
{
    return c->req ? st_http_request_id(c->req) : "gateway";
}

const char *gw_id_param(gw_ctx *c, const char *name)
{
    return st_req_uuid_param(c->req, name, name);
}

void gw_reply_json_text(gw_ctx *c, int status, PGresult *r, const char *what)
{
    const char *v = r ? st_db_val(r, 0, 0) : NULL;
    if (!v)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such %s", what);
    else
        st_http_reply_raw(c->req, status, "application/json", v, strlen(v));
}

void gw_reply_query(gw_ctx *c, int status, PGresult *r, const char *what)
{
    if (!r) {
        gw_fail_db(c);
        return;
    }
    gw_reply_json_text(c, status, r, what);
    PQclear(r);
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
    return st_req_page(c->req, limit, marker);
}
