/*
 * api.c - the HTTP surface of stratus-billing: routes and who may call them.
 *
 * Three kinds of caller (README.md "HTTP API" has every route):
 *   - nodes post samples for instances placed on them, with the one node
 *     credential the gateway issued (nodes.c, common/nodeauth.h);
 *   - the gateway, for a tenant, with the shared service token and the
 *     X-Stratus-* principal headers (common/internal.h): usage, invoices;
 *   - the gateway, for a cloud admin (X-Stratus-Cloud-Admin: true): plans,
 *     assignments, issuing a month, and any tenant's
 *     usage and invoices.
 * A tenant never learns of another tenant's objects: their invoice ids
 * answer 404 exactly like ids that do not exist.
 * Every route runs in common's route wrapper (handler.h): authorize()
 * checks the route's bl_access, the wrapper lends the handler a database
 * connection and takes it back.
 */
#include "billing.h"

#include "stratus/handler.h"
#include "stratus/uuid.h"

#include <string.h>
#include <strings.h>

/* st_api.auth: the caller, checked against the route's bl_access. */
static int authorize(st_call *c)
{
    bl_ctx *ctx = c->svc;
    bl_who *w = c->who;
    switch ((bl_access)c->access) {
    case BL_ADMIN: return bl_auth_admin(c->req, ctx, &w->p);
    case BL_TENANT: return bl_auth_tenant(c->req, ctx, &w->p, w->tenant);
    case BL_ANY_TENANT:
        if (st_internal_auth(c->req, ctx->internal_token, &w->p) < 0)
            return -1;
        if (st_http_query(c->req, "tenant_id") || !w->p.cloud_admin || w->p.tenant[0])
            return bl_auth_tenant(c->req, ctx, &w->p, w->tenant);
        return 0;
    case BL_SENDER: return bl_sender_auth(c->req, ctx, c->db, &w->sender);
    }
    return -1;
}

void bl_route(bl_ctx *ctx, const char *pattern, bl_access access, st_call_fn h)
{
    st_api_route(&ctx->api, pattern, (int)access, (st_any_fn)h);
}

void bl_routes(st_http_server *s, bl_ctx *ctx)
{
    ctx->api = (st_api){
        .http = s, .pool = ctx->pool, .svc = ctx, .who_size = sizeof(bl_who), .auth = authorize};
    bl_route(ctx, "POST /v1/billing/ingest", BL_SENDER, bl_ingest_handler);
    bl_usage_routes(ctx);
    bl_plans_routes(ctx);
    bl_invoice_routes(ctx);
    bl_account_routes(ctx);
    bl_credit_routes(ctx);
}

int bl_auth_tenant(st_http_req *req, bl_ctx *ctx, st_principal *p, char tenant[37])
{
    if (st_internal_auth(req, ctx->internal_token, p) < 0)
        return -1;
    const char *q = st_http_query(req, "tenant_id");
    if (q) {
        if (!st_uuid_valid(q)) {
            st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "tenant_id must be a UUID");
            return -1;
        }
        if (!p->cloud_admin && strcasecmp(q, p->tenant) != 0) {
            st_http_reply_error(req, 403, ST_E_FORBIDDEN, "only cloud admins may name a tenant");
            return -1;
        }
    } else if (p->tenant[0]) {
        q = p->tenant;
    } else {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "X-Stratus-Tenant (or tenant_id for a cloud admin) is required");
        return -1;
    }
    for (int i = 0; i < 36; i++)
        tenant[i] = (char)(q[i] >= 'A' && q[i] <= 'F' ? q[i] + 32 : q[i]);
    tenant[36] = 0;
    return 0;
}

int bl_auth_admin(st_http_req *req, bl_ctx *ctx, st_principal *p)
{
    if (st_internal_auth(req, ctx->internal_token, p) < 0)
        return -1;
    if (!p->cloud_admin) {
        st_http_reply_error(req, 403, ST_E_FORBIDDEN, "this needs a cloud admin");
        return -1;
    }
    return 0;
}

void bl_reply_db(st_http_req *req, st_db *db, const char *what)
{
    st_reply_db_error(req, db, what);
}
