/*
 * ports.c - ports: a MAC on a network with fixed IPs and security groups,
 * bound to an instance or free.
 *
 * A port gets a MAC in OpenStack's fa:16:3e prefix, unique cloud-wide, and
 * its addresses from its network's subnets (migrations/0012: automatic ones
 * under the subnet's row lock, after the last one handed out, so two
 * concurrent allocations never share an address and a freed one is not
 * handed out again at once). It may be on the tenant's own network or on a
 * network the cloud admin shared; any other network is 404. Ports that
 * belong to a router or a floating IP are changed through those, not here.
 */
#include "gateway.h"

#include <stdlib.h>

static const gw_field port_fields[] = {{.key = "network_id", .kind = 's', .required = 1},
                                       {.key = "name", .kind = 's'},
                                       {.key = "fixed_ips", .kind = 'a'},
                                       {.key = "security_groups", .kind = 'a'},
                                       {.key = "vnic_type", .kind = 's'},
                                       {.key = "model", .kind = 's'},
                                       {.key = NULL}};
static const gw_field port_update_fields[] = {{.key = "name", .kind = 's'},
                                              {.key = "fixed_ips", .kind = 'a'},
                                              {.key = "security_groups", .kind = 'a'},
                                              {.key = NULL}};

static void h_port_list(gw_ctx *c)
{
    const char *net = st_http_query(c->req, "network_id");
    const char *inst = st_http_query(c->req, "instance_id");
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('ports', coalesce(json_agg("
                          " iaas.port_json(p) ORDER BY p.created_at, p.id),"
                          " '[]'))::text FROM iaas.ports p WHERE p.tenant_id = $1"
                          " AND ($2::text IS NULL OR p.network_id::text = $2)"
                          " AND ($3::text IS NULL OR p.instance_id::text = $3)",
                          c->p.tenant_id, net, inst),
                 "port");
}

static void h_port_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_reply(c, 200,
                     gw_net_q(c,
                              "SELECT iaas.port_json(p)::text FROM iaas.ports p"
                              " WHERE p.tenant_id = $1 AND p.id = $2",
                              c->p.tenant_id, id),
                     "port");
}

static void h_port_create(gw_ctx *c)
{
    char *b = gw_net_body(c, port_fields);
    if (!b)
        return;
    gw_net_reply(c, 201,
                 gw_net_q(c,
                          "SELECT iaas.show('port', iaas.port_create($1, $2::jsonb,"
                          " '', NULL))::text",
                          c->p.tenant_id, b),
                 "port");
    free(b);
}

static void h_port_update(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, port_update_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT iaas.show('port', iaas.port_update($1, $2,"
                          " $3::jsonb))::text",
                          c->p.tenant_id, id, b),
                 "port");
    free(b);
}

static void h_port_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_done(c, gw_net_x(c, "SELECT iaas.port_delete($1, $2)", c->p.tenant_id, id));
}

int gw_instance_nics(gw_ctx *c, const char *id, const gw_create_req *q)
{
    char *nets = q->networks ? json_dumps(q->networks, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *ports = q->ports ? json_dumps(q->ports, JSON_COMPACT) : NULL;
    long long n = st_db_x(c->db, "SELECT iaas.instance_nics($1, $2, $3::jsonb, $4::jsonb)",
                          c->p.tenant_id, id, nets, ports);
    free(nets);
    free(ports);
    if (n >= 0)
        return 0;
    return gw_net_fail(c) ? 1 : -1;
}

/* ---- an instance's interfaces ---- */

static const gw_field nic_fields[] = {{.key = "network_id", .kind = 's'},
                                      {.key = "fixed_ip", .kind = 's'},
                                      {.key = "port_id", .kind = 's'},
                                      {.key = NULL}};

static void h_nic_list(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('interfaces', (SELECT coalesce(json_agg("
                          " iaas.port_json(p) ORDER BY p.bound_at, p.id), '[]')"
                          " FROM iaas.ports p WHERE p.instance_id = i.id))::text"
                          " FROM iaas.instances i WHERE i.id = $2 AND i.tenant_id = $1"
                          " AND i.state <> 'deleted'",
                          c->p.tenant_id, id),
                 "instance");
}

static void h_nic_attach(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, nic_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT iaas.show('port', iaas.instance_attach($1, $2, $3::jsonb))::text",
                          c->p.tenant_id, id, b),
                 "port");
    free(b);
}

static void h_nic_detach(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    const char *port = id ? gw_id_param(c, "port_id") : NULL;
    if (port)
        gw_net_done(
            c, gw_net_x(c, "SELECT iaas.instance_detach($1, $2, $3)", c->p.tenant_id, id, port));
}

void gw_port_routes(gw *g)
{
    gw_route(g, "GET /v1/instances/{id}/interfaces", GW_TENANT_READ, h_nic_list);
    gw_route(g, "POST /v1/instances/{id}/interfaces", GW_TENANT_WRITE, h_nic_attach);
    gw_route(g, "DELETE /v1/instances/{id}/interfaces/{port_id}", GW_TENANT_WRITE, h_nic_detach);
    gw_route(g, "GET /v1/ports", GW_TENANT_READ, h_port_list);
    gw_route(g, "POST /v1/ports", GW_TENANT_WRITE, h_port_create);
    gw_route(g, "GET /v1/ports/{id}", GW_TENANT_READ, h_port_show);
    gw_route(g, "PATCH /v1/ports/{id}", GW_TENANT_WRITE, h_port_update);
    gw_route(g, "DELETE /v1/ports/{id}", GW_TENANT_WRITE, h_port_delete);
}
