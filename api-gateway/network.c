/*
 * network.c - tenant networks and subnets, and what every network file
 * shares: checking a body's fields and mapping the database's refusals.
 *
 * The rules live in PostgreSQL (migrations/0012_networks.sql onwards): each
 * write is one statement calling one function there, so it is one
 * transaction whoever runs it, and a handler here only checks the shape of
 * the body (keys, scalar types) and turns the answer into HTTP. Refusals
 * come back as SQLSTATEs: SX400 -> 400, SX403 -> 403, SX404 -> 404, SX409
 * -> 409, SXQ09 -> 409 quota_exceeded, with the function's message.
 *
 * Visibility (Neutron's): a tenant sees its own networks and subnets, and
 * those of networks the cloud admin made shared or external; it changes only
 * its own. Anything else is 404, like an id that never existed.
 */
#include "gateway.h"
#include "stratus/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_net_fail(gw_ctx *c)
{
    static const struct {
        const char *state;
        int status;
        st_err code;
    } map[] = {{"SX400", 400, ST_E_INVALID_REQUEST},
               {"SX403", 403, ST_E_FORBIDDEN},
               {"SX404", 404, ST_E_NOT_FOUND},
               {"SX409", 409, ST_E_CONFLICT},
               {"SXQ09", 409, ST_E_QUOTA_EXCEEDED}};
    const char *st = st_db_sqlstate(c->db);
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcmp(st, map[i].state) != 0)
            continue;
        /* the function's message alone: no "ERROR:  ", no CONTEXT lines */
        const char *m = st_db_error(c->db);
        const char *p = strstr(m, "ERROR:  ");
        m = p ? p + 8 : m;
        int n = (int)strcspn(m, "\n");
        st_http_reply_error(c->req, map[i].status, map[i].code, "%.*s", n, m);
        return 1;
    }
    return 0;
}

void gw_net_reply(gw_ctx *c, int status, PGresult *r, const char *what)
{
    if (!r) {
        if (!gw_net_fail(c))
            gw_fail_db(c);
        return;
    }
    gw_reply_json_text(c, status, r, what);
    PQclear(r);
}

void gw_net_done(gw_ctx *c, long long n)
{
    if (n >= 0)
        st_http_reply_json(c->req, 204, NULL);
    else if (!gw_net_fail(c))
        gw_fail_db(c);
}

int gw_fields_check(json_t *b, const gw_field *fields, char *err, size_t errlen)
{
    const char *keys[24];
    size_t k = 0;
    for (const gw_field *f = fields; f->key && k < 23; f++)
        keys[k++] = f->key;
    keys[k] = NULL;
    if (st_json_only_keys(b, keys, err, errlen) < 0)
        return -1;
    for (const gw_field *f = fields; f->key; f++) {
        json_t *v = json_object_get(b, f->key);
        if (!v) {
            if (f->required) {
                snprintf(err, errlen, "%s is required", f->key);
                return -1;
            }
            continue;
        }
        if (json_is_null(v) && f->nullable)
            continue;
        long long x;
        int flag;
        const char *s;
        switch (f->kind) {
        case 's':
            if (st_json_get_str(b, f->key, 0, 0, 255, &s, err, errlen) < 0)
                return -1;
            break;
        case 'b':
            if (st_json_get_bool(b, f->key, 0, &flag, err, errlen) < 0)
                return -1;
            break;
        case 'i':
            if (st_json_get_int(b, f->key, 0, f->min, f->max, &x, err, errlen) < 0)
                return -1;
            break;
        case 'a':
        case 'o':
            if (f->kind == 'a' ? !json_is_array(v) : !json_is_object(v)) {
                snprintf(err, errlen, "%s must be an %s", f->key,
                         f->kind == 'a' ? "array" : "object");
                return -1;
            }
            break;
        }
    }
    return 0;
}

char *gw_net_body(gw_ctx *c, const gw_field *fields)
{
    json_t *b = st_http_json_body(c->req);
    if (!b)
        return NULL;
    char err[256];
    if (gw_fields_check(b, fields, err, sizeof err) < 0) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "%s", err);
        return NULL;
    }
    char *text = json_dumps(b, JSON_COMPACT);
    if (!text)
        st_http_reply_error(c->req, 500, ST_E_INTERNAL, "out of memory");
    return text;
}

PGresult *gw_net_query(gw_ctx *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = NULL;
    for (int i = 0; i < 3 && !r; i++)
        if (!(r = st_db_query(c->db, sql, n, params)) && !st_db_retryable(c->db))
            break;
    return r;
}

long long gw_net_exec(gw_ctx *c, const char *sql, int n, const char *const *params)
{
    long long k = -1;
    for (int i = 0; i < 3 && k < 0; i++)
        if ((k = st_db_exec(c->db, sql, n, params)) < 0 && !st_db_retryable(c->db))
            break;
    return k;
}

const char *gw_net_admin(const gw_ctx *c)
{
    return c->p.cloud_admin ? "true" : "false";
}

/* ---- networks ---- */

#define NET_VISIBLE "(n.tenant_id = $1 OR n.shared OR n.external)"

static const gw_field net_fields[] = {{.key = "name", .kind = 's'},
                                      {.key = "mtu", .kind = 'i', .min = 68, .max = 1450},
                                      {.key = "shared", .kind = 'b'},
                                      {.key = "external", .kind = 'b'},
                                      {.key = NULL}};

static void h_network_list(gw_ctx *c)
{
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('networks', coalesce(json_agg("
                          " iaas.network_json(n, $2) ORDER BY n.created_at, n.id),"
                          " '[]'))::text FROM iaas.networks n"
                          " WHERE " NET_VISIBLE,
                          c->p.tenant_id, gw_net_admin(c)),
                 "network");
}

static void h_network_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_reply(c, 200,
                     gw_net_q(c,
                              "SELECT iaas.network_json(n, $2)::text"
                              " FROM iaas.networks n WHERE " NET_VISIBLE " AND n.id = $3",
                              c->p.tenant_id, gw_net_admin(c), id),
                     "network");
}

static void h_network_create(gw_ctx *c)
{
    char *b = gw_net_body(c, net_fields);
    if (!b)
        return;
    gw_net_reply(c, 201,
                 gw_net_q(c,
                          "SELECT iaas.network_json(iaas.network_create($1, $2,"
                          " $3::jsonb, false), $2)::text",
                          c->p.tenant_id, gw_net_admin(c), b),
                 "network");
    free(b);
}

static void h_network_update(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, net_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT iaas.network_json(iaas.network_update($1, $2,"
                          " $3, $4::jsonb), $2)::text",
                          c->p.tenant_id, gw_net_admin(c), id, b),
                 "network");
    free(b);
}

static void h_network_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_done(c, gw_net_x(c, "SELECT iaas.network_delete($1, $2)", c->p.tenant_id, id));
}

/* ---- subnets ---- */

#define SUBNET_VISIBLE                                                                             \
    " FROM iaas.subnets s JOIN iaas.networks n ON n.id = s.network_id WHERE " NET_VISIBLE

static const gw_field subnet_fields[] = {{.key = "network_id", .kind = 's', .required = 1},
                                         {.key = "name", .kind = 's'},
                                         {.key = "ip_version", .kind = 'i', .min = 4, .max = 6},
                                         {.key = "cidr", .kind = 's', .required = 1},
                                         {.key = "gateway_ip", .kind = 's', .nullable = 1},
                                         {.key = "dns_nameservers", .kind = 'a'},
                                         {.key = "allocation_pools", .kind = 'a'},
                                         {.key = "host_routes", .kind = 'a'},
                                         {.key = "enable_dhcp", .kind = 'b'},
                                         {.key = NULL}};
static const gw_field subnet_update_fields[] = {{.key = "name", .kind = 's'},
                                                {.key = "dns_nameservers", .kind = 'a'},
                                                {.key = "host_routes", .kind = 'a'},
                                                {.key = "enable_dhcp", .kind = 'b'},
                                                {.key = NULL}};

static void h_subnet_list(gw_ctx *c)
{
    const char *net = st_http_query(c->req, "network_id");
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT json_build_object('subnets', coalesce(json_agg("
                          " iaas.subnet_json(s) ORDER BY s.created_at, s.id),"
                          " '[]'))::text" SUBNET_VISIBLE
                          " AND ($2::text IS NULL OR s.network_id::text = $2)",
                          c->p.tenant_id, net),
                 "subnet");
}

static void h_subnet_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_reply(c, 200,
                     gw_net_q(c, "SELECT iaas.subnet_json(s)::text" SUBNET_VISIBLE " AND s.id = $2",
                              c->p.tenant_id, id),
                     "subnet");
}

static void h_subnet_create(gw_ctx *c)
{
    char *b = gw_net_body(c, subnet_fields);
    if (!b)
        return;
    gw_net_reply(c, 201,
                 gw_net_q(c,
                          "SELECT iaas.subnet_json(iaas.subnet_create($1,"
                          " $2::jsonb))::text",
                          c->p.tenant_id, b),
                 "subnet");
    free(b);
}

static void h_subnet_update(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    char *b = id ? gw_net_body(c, subnet_update_fields) : NULL;
    if (!b)
        return;
    gw_net_reply(c, 200,
                 gw_net_q(c,
                          "SELECT iaas.subnet_json(iaas.subnet_update($1, $2,"
                          " $3::jsonb))::text",
                          c->p.tenant_id, id, b),
                 "subnet");
    free(b);
}

static void h_subnet_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        gw_net_done(c, gw_net_x(c, "SELECT iaas.subnet_delete($1, $2)", c->p.tenant_id, id));
}

void gw_network_routes(gw *g)
{
    gw_route(g, "GET /v1/networks", GW_TENANT_READ, h_network_list);
    gw_route(g, "POST /v1/networks", GW_TENANT_WRITE, h_network_create);
    gw_route(g, "GET /v1/networks/{id}", GW_TENANT_READ, h_network_show);
    gw_route(g, "PATCH /v1/networks/{id}", GW_TENANT_WRITE, h_network_update);
    gw_route(g, "DELETE /v1/networks/{id}", GW_TENANT_WRITE, h_network_delete);
    gw_route(g, "GET /v1/subnets", GW_TENANT_READ, h_subnet_list);
    gw_route(g, "POST /v1/subnets", GW_TENANT_WRITE, h_subnet_create);
    gw_route(g, "GET /v1/subnets/{id}", GW_TENANT_READ, h_subnet_show);
    gw_route(g, "PATCH /v1/subnets/{id}", GW_TENANT_WRITE, h_subnet_update);
    gw_route(g, "DELETE /v1/subnets/{id}", GW_TENANT_WRITE, h_subnet_delete);
}
