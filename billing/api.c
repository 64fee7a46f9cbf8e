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
 */
#include "billing.h"

#include "stratus/handler.h"

#include "stratus/uuid.h"

#include <string.h>
#include <strings.h>

void bl_routes(st_http_server *s, bl_ctx *ctx)
{
    st_http_route(s, "POST /v1/billing/ingest", bl_ingest_handler, ctx);
    bl_usage_routes(s, ctx);
    bl_plans_routes(s, ctx);
    bl_invoice_routes(s, ctx);
    bl_account_routes(s, ctx);
    bl_credit_routes(s, ctx);
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

st_db *bl_db(st_http_req *req, bl_ctx *ctx)
{
    st_db *db = st_db_get(ctx->pool, 5000);
    if (!db)
        st_http_reply_error(req, 503, ST_E_UNAVAILABLE, "database unavailable");
    return db;
}

void bl_reply_db(st_http_req *req, st_db *db, const char *what)
{
    st_reply_db_error(req, db, what);
}
