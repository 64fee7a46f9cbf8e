/*
 * billing_proxy.c - tenants' and admins' billing calls, forwarded to
 * stratus-billing unchanged (its API is everything under /v1/billing, designed to be
 * proxied: see billing/README.md) with the caller as principal.
 *
 * The routes are listed one by one rather than forwarded by prefix, so the
 * gateway decides who may call what before billing sees the request, the
 * OpenAPI document describes each, and the isolation test reaches each.
 * Nodes send samples to billing directly, with their one node credential
 * (common/nodeauth.h), not through the gateway.
 */
#include "gateway.h"

#include <stdio.h>
#include <string.h>

/* The request's own path and query, forwarded as they came (the path was
 * matched by a route pattern, so it holds only what the pattern allows). */
static void forward(gw_ctx *c, const char *method, int body)
{
    const char *q = st_http_query_string(c->req);
    char path[1024];
    /* re-encode nothing: route parameters were checked by the handlers below */
    snprintf(path, sizeof path, "%s%s%s", st_http_path(c->req), q ? "?" : "", q ? q : "");
    gw_proxy(c, &c->gw->billing, method, path, body);
}

/* Parameterised routes must carry a UUID where billing expects one. */
static int id_ok(gw_ctx *c, const char *name)
{
    return gw_id_param(c, name) != NULL;
}

static void h_get(gw_ctx *c)
{
    forward(c, "GET", 0);
}
static void h_post(gw_ctx *c)
{
    forward(c, "POST", 1);
}
static void h_get_id(gw_ctx *c)
{
    if (id_ok(c, "id"))
        forward(c, "GET", 0);
}
static void h_patch_id(gw_ctx *c)
{
    if (id_ok(c, "id"))
        forward(c, "PATCH", 1);
}
static void h_delete_id(gw_ctx *c)
{
    if (id_ok(c, "id"))
        forward(c, "DELETE", 0);
}
static void h_post_id(gw_ctx *c)
{
    if (id_ok(c, "id"))
        forward(c, "POST", 1);
}
static void h_tenant_plans_get(gw_ctx *c)
{
    if (id_ok(c, "tenant_id"))
        forward(c, "GET", 0);
}
static void h_tenant_plans_post(gw_ctx *c)
{
    if (id_ok(c, "tenant_id"))
        forward(c, "POST", 1);
}

static void h_put(gw_ctx *c)
{
    forward(c, "PUT", 1);
}
static void h_tenant_account_get(gw_ctx *c)
{
    if (id_ok(c, "tenant_id"))
        forward(c, "GET", 0);
}
static void h_tenant_account_put(gw_ctx *c)
{
    if (id_ok(c, "tenant_id"))
        forward(c, "PUT", 1);
}

static int period_ok(const char *p)
{
    return p && strlen(p) == 7 && p[4] == '-' && strspn(p, "0123456789-") == 7;
}

static void h_issue(gw_ctx *c)
{
    if (!period_ok(st_http_param(c->req, "period"))) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such period (YYYY-MM)");
        return;
    }
    forward(c, "POST", 1);
}

static void h_preview(gw_ctx *c)
{
    if (!period_ok(st_http_param(c->req, "period"))) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such period (YYYY-MM)");
        return;
    }
    forward(c, "GET", 0);
}

void gw_billing_routes(gw *g)
{
    /* the tenant's own usage and invoices (any role) */
    gw_route(g, "GET /v1/billing/usage", GW_TENANT_READ, h_get);
    gw_route(g, "GET /v1/billing/invoices", GW_TENANT_READ, h_get);
    gw_route(g, "GET /v1/billing/invoices/{id}", GW_TENANT_READ, h_get_id);
    gw_route(g, "GET /v1/billing/invoices/{id}/download", GW_TENANT_READ, h_get_id);
    gw_route(g, "GET /v1/billing/plan", GW_TENANT_READ, h_get);
    gw_route(g, "GET /v1/billing/credit-notes", GW_TENANT_READ, h_get);
    gw_route(g, "GET /v1/billing/credit-notes/{id}", GW_TENANT_READ, h_get_id);
    /* the tenant's billing account (the invoice's buyer): its admin changes it */
    gw_route(g, "GET /v1/billing/account", GW_TENANT_READ, h_get);
    gw_route(g, "PUT /v1/billing/account", GW_TENANT_ADMIN, h_put);
    /* the cloud's prices, plans and months */
    gw_route(g, "GET /v1/billing/plans", GW_CLOUD_ADMIN, h_get);
    gw_route(g, "POST /v1/billing/plans", GW_CLOUD_ADMIN, h_post);
    gw_route(g, "GET /v1/billing/plans/{id}", GW_CLOUD_ADMIN, h_get_id);
    gw_route(g, "PATCH /v1/billing/plans/{id}", GW_CLOUD_ADMIN, h_patch_id);
    gw_route(g, "DELETE /v1/billing/plans/{id}", GW_CLOUD_ADMIN, h_delete_id);
    gw_route(g, "POST /v1/billing/plans/{id}/versions", GW_CLOUD_ADMIN, h_post_id);
    gw_route(g, "GET /v1/billing/tenants/{tenant_id}/plans", GW_CLOUD_ADMIN, h_tenant_plans_get);
    gw_route(g, "POST /v1/billing/tenants/{tenant_id}/plans", GW_CLOUD_ADMIN, h_tenant_plans_post);
    gw_route(g, "GET /v1/billing/tenants/{tenant_id}/account", GW_CLOUD_ADMIN,
             h_tenant_account_get);
    gw_route(g, "PUT /v1/billing/tenants/{tenant_id}/account", GW_CLOUD_ADMIN,
             h_tenant_account_put);
    gw_route(g, "POST /v1/billing/invoices/{id}/credit-notes", GW_CLOUD_ADMIN, h_post_id);
    gw_route(g, "GET /v1/billing/periods", GW_CLOUD_ADMIN, h_get);
    gw_route(g, "POST /v1/billing/periods/{period}/issue", GW_CLOUD_ADMIN, h_issue);
    gw_route(g, "GET /v1/billing/periods/{period}/preview", GW_CLOUD_ADMIN, h_preview);
}
