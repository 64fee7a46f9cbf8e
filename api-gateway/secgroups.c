/*
 * secgroups.c - security groups and their rules.
 *
 * A rule lets traffic in (ingress) or out (egress) of a port in the group:
 * an ethertype, a protocol (any, tcp, udp, icmp, icmpv6 or a number), a
 * port range (for icmp: type and code), and where from or to: a CIDR or the
 * members of a group. Every tenant has a group named "default", made on
 * first use (listing groups, or a port made without groups): everything
 * out, and in only from members of the default group itself. A new group
 * lets everything out and nothing in. Traffic is stateful: replies are
 * always let through (the data plane's business). Validation lives in
 * migrations/0012_networks.sql (iaas.sg_rule_create).
 */
#include "gateway.h"

#include <stdlib.h>

static const gw_field sg_fields[] = {{.key = "name", .kind = 's', .required = 1},
                                     {.key = "description", .kind = 's'},
                                     {.key = NULL}};
static const gw_field sg_update_fields[] = {
    {.key = "name", .kind = 's'}, {.key = "description", .kind = 's'}, {.key = NULL}};
static const gw_field rule_fields[] = {
    {.key = "security_group_id", .kind = 's', .required = 1},
    {.key = "direction", .kind = 's', .required = 1},
    {.key = "ethertype", .kind = 's'},
    {.key = "protocol", .kind = 's', .nullable = 1},
    {.key = "port_range_min", .kind = 'i', .min = 0, .max = 65535, .nullable = 1},
    {.key = "port_range_max", .kind = 'i', .min = 0, .max = 65535, .nullable = 1},
    {.key = "remote_ip_prefix", .kind = 's', .nullable = 1},
    {.key = "remote_group_id", .kind = 's', .nullable = 1},
    {.key = "description", .kind = 's'},
    {.key = NULL}};

static void h_sg_list(gw_ctx *c)
{
    PGresult *d = gw_net_q(c, "SELECT iaas.sg_default($1)", c->p.tenant_id);
    if (!d) {
        gw_net_reply(c, 200, NULL, "security group");
        return;
    }
    PQclear(d);
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('security_groups',"
                          " coalesce(json_agg(iaas.sg_json(g) ORDER BY"
                          " g.created_at, g.id), '[]'))::text"
                          " FROM iaas.security_groups g WHERE g.tenant_id = $1",
                          c->p.tenant_id),
                 "security group");
}

static void h_sg_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_reply(c, 200,
                     gw_net_q(c,
                              "SELECT iaas.sg_json(g)::text"
                              " FROM iaas.security_groups g"
                              " WHERE g.tenant_id = $1 AND g.id = $2",
                              c->p.tenant_id, id),
                     "security group");
}

static void h_sg_create(gw_ctx *c)
{
    char *b = gw_net_body(c, sg_fields);
    if (!b)
        return;
    gw_net_reply(c, 201,
                 gw_net_q(c,
                          "SELECT iaas.show('security_group',"
                          " iaas.sg_create($1, $2::jsonb))::text",
                          c->p.tenant_id, b),
                 "security group");
    free(b);
}

static void h_sg_update(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, sg_update_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT iaas.show('security_group',"
                          " iaas.sg_update($1, $2, $3::jsonb))::text",
                          c->p.tenant_id, id, b),
                 "security group");
    free(b);
}

static void h_sg_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_done(c, gw_net_x(c, "SELECT iaas.sg_delete($1, $2)", c->p.tenant_id, id));
}

static void h_rule_list(gw_ctx *c)
{
    const char *g = st_http_query(c->req, "security_group_id");
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('security_group_rules',"
                          " coalesce(json_agg(iaas.sg_rule_json(r) ORDER BY"
                          " r.created_at, r.id), '[]'))::text"
                          " FROM iaas.security_group_rules r WHERE r.tenant_id = $1"
                          " AND ($2::text IS NULL OR r.group_id::text = $2)",
                          c->p.tenant_id, g),
                 "security group rule");
}

static void h_rule_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_reply(c, 200,
                     gw_net_q(c,
                              "SELECT iaas.sg_rule_json(r)::text"
                              " FROM iaas.security_group_rules r"
                              " WHERE r.tenant_id = $1 AND r.id = $2",
                              c->p.tenant_id, id),
                     "security group rule");
}

static void h_rule_create(gw_ctx *c)
{
    char *b = gw_net_body(c, rule_fields);
    if (!b)
        return;
    gw_net_reply(c, 201,
                 gw_net_q(c,
                          "SELECT iaas.sg_rule_json(iaas.sg_rule_create($1,"
                          " $2::jsonb))::text",
                          c->p.tenant_id, b),
                 "security group rule");
    free(b);
}

static void h_rule_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    long long n = gw_net_x(c,
                           "DELETE FROM iaas.security_group_rules"
                           " WHERE tenant_id = $1 AND id = $2",
                           c->p.tenant_id, id);
    if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such security group rule");
    else
        gw_net_done(c, n);
}

void gw_secgroup_routes(gw *g)
{
    gw_route(g, "GET /v1/security-groups", GW_TENANT_READ, h_sg_list);
    gw_route(g, "POST /v1/security-groups", GW_TENANT_WRITE, h_sg_create);
    gw_route(g, "GET /v1/security-groups/{id}", GW_TENANT_READ, h_sg_show);
    gw_route(g, "PATCH /v1/security-groups/{id}", GW_TENANT_WRITE, h_sg_update);
    gw_route(g, "DELETE /v1/security-groups/{id}", GW_TENANT_WRITE, h_sg_delete);
    gw_route(g, "GET /v1/security-group-rules", GW_TENANT_READ, h_rule_list);
    gw_route(g, "POST /v1/security-group-rules", GW_TENANT_WRITE, h_rule_create);
    gw_route(g, "GET /v1/security-group-rules/{id}", GW_TENANT_READ, h_rule_show);
    gw_route(g, "DELETE /v1/security-group-rules/{id}", GW_TENANT_WRITE, h_rule_delete);
}
