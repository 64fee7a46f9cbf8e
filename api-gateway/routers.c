/*
 * routers.c - routers and floating IPs: the API and their state.
 *
 * A router's interfaces join the tenant's subnets (each holds its subnet's
 * gateway address); its external gateway, a port on an external network,
 * gives them egress (SNAT when enable_snat). A floating IP takes an
 * address from an external network and maps it one to one to a fixed IP of
 * one of the tenant's ports, where a router of the tenant joins that port's
 * subnet to the external network. The rules are in
 * migrations/0015_routers.sql; forwarding and NAT are the data plane's.
 */
#include "gateway.h"

#include <stdlib.h>

static const gw_field router_fields[] = {
    {.key = "name", .kind = 's'},
    {.key = "external_gateway_info", .kind = 'o', .nullable = 1},
    {.key = NULL}};
static const gw_field iface_fields[] = {{.key = "subnet_id", .kind = 's', .required = 1},
                                        {.key = NULL}};
static const gw_field fip_fields[] = {{.key = "floating_network_id", .kind = 's', .required = 1},
                                      {.key = "port_id", .kind = 's', .nullable = 1},
                                      {.key = "fixed_ip_address", .kind = 's'},
                                      {.key = "description", .kind = 's'},
                                      {.key = NULL}};
static const gw_field fip_update_fields[] = {{.key = "port_id", .kind = 's', .nullable = 1},
                                             {.key = "fixed_ip_address", .kind = 's'},
                                             {.key = "description", .kind = 's'},
                                             {.key = NULL}};

static void h_router_list(gw_ctx *c)
{
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('routers', coalesce(json_agg("
                          " iaas.router_json(r) ORDER BY r.created_at, r.id), '[]'))::text"
                          " FROM iaas.routers r WHERE r.tenant_id = $1",
                          c->p.tenant_id),
                 "router");
}

static void h_router_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_reply(c, 200,
                     gw_net_q(c,
                              "SELECT iaas.router_json(r)::text FROM iaas.routers r"
                              " WHERE r.tenant_id = $1 AND r.id = $2",
                              c->p.tenant_id, id),
                     "router");
}

static void h_router_create(gw_ctx *c)
{
    char *b = gw_net_body(c, router_fields);
    if (!b)
        return;
    gw_net_reply(c, 201,
                 gw_net_q(c, "SELECT iaas.show('router', iaas.router_create($1, $2::jsonb))::text",
                          c->p.tenant_id, b),
                 "router");
    free(b);
}

static void h_router_update(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, router_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT iaas.show('router', iaas.router_update($1, $2, $3::jsonb))::text",
                          c->p.tenant_id, id, b),
                 "router");
    free(b);
}

static void h_router_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_done(c, gw_net_x(c, "SELECT iaas.router_delete($1, $2)", c->p.tenant_id, id));
}

static void h_iface_add(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, iface_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c, "SELECT iaas.router_add_interface($1, $2, $3::jsonb)::text",
                          c->p.tenant_id, id, b),
                 "router");
    free(b);
}

static void h_iface_remove(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    const char *subnet = id ? gw_id_param(c, "subnet_id") : NULL;
    if (subnet)
        gw_net_done(c, gw_net_x(c, "SELECT iaas.router_remove_interface($1, $2, $3)",
                                c->p.tenant_id, id, subnet));
}

static void h_fip_list(gw_ctx *c)
{
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('floating_ips', coalesce(json_agg("
                          " iaas.fip_json(f) ORDER BY f.created_at, f.id), '[]'))::text"
                          " FROM iaas.floating_ips f WHERE f.tenant_id = $1",
                          c->p.tenant_id),
                 "floating IP");
}

static void h_fip_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_reply(c, 200,
                     gw_net_q(c,
                              "SELECT iaas.fip_json(f)::text FROM iaas.floating_ips f"
                              " WHERE f.tenant_id = $1 AND f.id = $2",
                              c->p.tenant_id, id),
                     "floating IP");
}

static void h_fip_create(gw_ctx *c)
{
    char *b = gw_net_body(c, fip_fields);
    if (!b)
        return;
    gw_net_reply(c, 201,
                 gw_net_q(c,
                          "SELECT iaas.show('floating_ip', iaas.fip_create($1, $2::jsonb))::text",
                          c->p.tenant_id, b),
                 "floating IP");
    free(b);
}

static void h_fip_update(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, fip_update_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(
        c, 200,
        gw_net_q(c, "SELECT iaas.show('floating_ip', iaas.fip_update($1, $2, $3::jsonb))::text",
                 c->p.tenant_id, id, b),
        "floating IP");
    free(b);
}

static void h_fip_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_done(c, gw_net_x(c, "SELECT iaas.fip_delete($1, $2)", c->p.tenant_id, id));
}

void gw_router_routes(gw *g)
{
    gw_route(g, "GET /v1/routers", GW_TENANT_READ, h_router_list);
    gw_route(g, "POST /v1/routers", GW_TENANT_WRITE, h_router_create);
    gw_route(g, "GET /v1/routers/{id}", GW_TENANT_READ, h_router_show);
    gw_route(g, "PATCH /v1/routers/{id}", GW_TENANT_WRITE, h_router_update);
    gw_route(g, "DELETE /v1/routers/{id}", GW_TENANT_WRITE, h_router_delete);
    gw_route(g, "POST /v1/routers/{id}/interfaces", GW_TENANT_WRITE, h_iface_add);
    gw_route(g, "DELETE /v1/routers/{id}/interfaces/{subnet_id}", GW_TENANT_WRITE, h_iface_remove);
    gw_route(g, "GET /v1/floating-ips", GW_TENANT_READ, h_fip_list);
    gw_route(g, "POST /v1/floating-ips", GW_TENANT_WRITE, h_fip_create);
    gw_route(g, "GET /v1/floating-ips/{id}", GW_TENANT_READ, h_fip_show);
    gw_route(g, "PATCH /v1/floating-ips/{id}", GW_TENANT_WRITE, h_fip_update);
    gw_route(g, "DELETE /v1/floating-ips/{id}", GW_TENANT_WRITE, h_fip_delete);
}
