/*
 * network.c - libstratus's networking calls: networks, subnets, ports,
 * security groups and rules, routers and their interfaces, floating IPs,
 * and an instance's interfaces. Same shape as resources.c: each function
 * names its operation as openapi.json does (sdk_coverage reads them).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        sx_clear_error();                                                                          \
        if (!(cond))                                                                               \
            return sx_fail(STRATUS_EINVAL, "%s: bad arguments", __func__);                         \
    } while (0)

/* The body: the typed fields, then the caller's extra JSON object over them. */
static json_t *body_with(json_t *typed, const char *extra_json, int *bad)
{
    *bad = 0;
    if (!typed || !extra_json)
        return typed;
    json_t *x = json_loads(extra_json, 0, NULL);
    if (!json_is_object(x)) {
        json_decref(x);
        json_decref(typed);
        *bad = 1;
        return NULL;
    }
    json_object_update(typed, x);
    json_decref(x);
    return typed;
}

static int send_body(stratus_session *s, const sx_type *t, const char *op, const char *a0,
                     json_t *b, int bad, bool create, void **out)
{
    if (bad)
        return sx_fail(STRATUS_EINVAL, "extra_json is not a JSON object");
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {.op = op, .args = {a0}, .body = b, .create = create};
    int rc = out ? sx_get_obj(s, t, &q, out) : sx_do(s, &q);
    json_decref(b);
    return rc;
}

static int show(stratus_session *s, const sx_type *t, const char *op, const char *id, void **out)
{
    sx_req q = {.op = op, .args = {id}};
    return sx_get_obj(s, t, &q, out);
}

static int del(stratus_session *s, const char *op, const char *a0, const char *a1)
{
    sx_req q = {.op = op, .args = {a0, a1}};
    return sx_do(s, &q);
}

static int patch(stratus_session *s, const sx_type *t, const char *op, const char *id,
                 const char *patch_json, void **out)
{
    json_t *b = patch_json ? json_loads(patch_json, 0, NULL) : NULL;
    if (!json_is_object(b)) {
        json_decref(b);
        return sx_fail(STRATUS_EINVAL, "the patch is not a JSON object");
    }
    return send_body(s, t, op, id, b, 0, false, out);
}

static const sx_field f_network[] = {
    {"!id", SX_STR, offsetof(stratus_network, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_network, tenant_id), 0},
    {"name", SX_STR, offsetof(stratus_network, name), 0},
    {"mtu", SX_INT, offsetof(stratus_network, mtu), 0},
    {"shared", SX_BOOL, offsetof(stratus_network, shared), 0},
    {"external", SX_BOOL, offsetof(stratus_network, external), 0},
    {"is_default", SX_BOOL, offsetof(stratus_network, is_default), 0},
    {"status", SX_STR, offsetof(stratus_network, status), 0},
    {"network_type", SX_STR, offsetof(stratus_network, network_type), 0},
    {"segmentation_id", SX_INT, offsetof(stratus_network, segmentation_id), 0},
    {"created_at", SX_STR, offsetof(stratus_network, created_at), 0},
    {"updated_at", SX_STR, offsetof(stratus_network, updated_at), 0},
};
const sx_type sx_t_network = {"network", "networks", sizeof(stratus_network), f_network,
                              sizeof f_network / sizeof f_network[0]};

int stratus_network_create(stratus_session *s, const char *name, const char *extra_json,
                           stratus_network **out)
{
    CHECK(s && name && out);
    int bad;
    json_t *b = body_with(json_pack("{s:s}", "name", name), extra_json, &bad);
    return send_body(s, &sx_t_network, "POST /v1/networks", NULL, b, bad, true, (void **)out);
}

int stratus_network_show(stratus_session *s, const char *id, stratus_network **out)
{
    CHECK(s && id && out);
    return show(s, &sx_t_network, "GET /v1/networks/{id}", id, (void **)out);
}

int stratus_network_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_network, "GET /v1/networks", NULL, o, it);
}

int stratus_network_next(stratus_iter *it, stratus_network **out)
{
    return sx_iter_next(it, &sx_t_network, (void **)out);
}

int stratus_network_update(stratus_session *s, const char *id, const char *patch_json,
                           stratus_network **out)
{
    CHECK(s && id && out);
    return patch(s, &sx_t_network, "PATCH /v1/networks/{id}", id, patch_json, (void **)out);
}

int stratus_network_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/networks/{id}", id, NULL);
}

void stratus_network_free(stratus_network *o)
{
    sx_free(&sx_t_network, o);
}

static const sx_field f_subnet[] = {
    {"!id", SX_STR, offsetof(stratus_subnet, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_subnet, tenant_id), 0},
    {"network_id", SX_STR, offsetof(stratus_subnet, network_id), 0},
    {"name", SX_STR, offsetof(stratus_subnet, name), 0},
    {"ip_version", SX_INT, offsetof(stratus_subnet, ip_version), 0},
    {"cidr", SX_STR, offsetof(stratus_subnet, cidr), 0},
    {"gateway_ip", SX_STR, offsetof(stratus_subnet, gateway_ip), 0},
    {"enable_dhcp", SX_BOOL, offsetof(stratus_subnet, enable_dhcp), 0},
    {"created_at", SX_STR, offsetof(stratus_subnet, created_at), 0},
    {"updated_at", SX_STR, offsetof(stratus_subnet, updated_at), 0},
};
const sx_type sx_t_subnet = {"subnet", "subnets", sizeof(stratus_subnet), f_subnet,
                             sizeof f_subnet / sizeof f_subnet[0]};

int stratus_subnet_create(stratus_session *s, const char *network_id, const char *cidr,
                          const char *extra_json, stratus_subnet **out)
{
    CHECK(s && network_id && cidr && out);
    int bad;
    json_t *b = body_with(json_pack("{s:s, s:s}", "network_id", network_id, "cidr", cidr),
                          extra_json, &bad);
    return send_body(s, &sx_t_subnet, "POST /v1/subnets", NULL, b, bad, true, (void **)out);
}

int stratus_subnet_show(stratus_session *s, const char *id, stratus_subnet **out)
{
    CHECK(s && id && out);
    return show(s, &sx_t_subnet, "GET /v1/subnets/{id}", id, (void **)out);
}

int stratus_subnet_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_subnet, "GET /v1/subnets", NULL, o, it);
}

int stratus_subnet_next(stratus_iter *it, stratus_subnet **out)
{
    return sx_iter_next(it, &sx_t_subnet, (void **)out);
}

int stratus_subnet_update(stratus_session *s, const char *id, const char *patch_json,
                          stratus_subnet **out)
{
    CHECK(s && id && out);
    return patch(s, &sx_t_subnet, "PATCH /v1/subnets/{id}", id, patch_json, (void **)out);
}

int stratus_subnet_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/subnets/{id}", id, NULL);
}

void stratus_subnet_free(stratus_subnet *o)
{
    sx_free(&sx_t_subnet, o);
}

static const sx_field f_port[] = {
    {"!id", SX_STR, offsetof(stratus_port, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_port, tenant_id), 0},
    {"network_id", SX_STR, offsetof(stratus_port, network_id), 0},
    {"name", SX_STR, offsetof(stratus_port, name), 0},
    {"mac_address", SX_STR, offsetof(stratus_port, mac_address), 0},
    {"instance_id", SX_STR, offsetof(stratus_port, instance_id), 0},
    {"device_owner", SX_STR, offsetof(stratus_port, device_owner), 0},
    {"vnic_type", SX_STR, offsetof(stratus_port, vnic_type), 0},
    {"model", SX_STR, offsetof(stratus_port, model), 0},
    {"status", SX_STR, offsetof(stratus_port, status), 0},
    {"created_at", SX_STR, offsetof(stratus_port, created_at), 0},
    {"updated_at", SX_STR, offsetof(stratus_port, updated_at), 0},
};
const sx_type sx_t_port = {"port", "ports", sizeof(stratus_port), f_port,
                           sizeof f_port / sizeof f_port[0]};

int stratus_port_create(stratus_session *s, const char *network_id, const char *extra_json,
                        stratus_port **out)
{
    CHECK(s && network_id && out);
    int bad;
    json_t *b = body_with(json_pack("{s:s}", "network_id", network_id), extra_json, &bad);
    return send_body(s, &sx_t_port, "POST /v1/ports", NULL, b, bad, true, (void **)out);
}

int stratus_port_show(stratus_session *s, const char *id, stratus_port **out)
{
    CHECK(s && id && out);
    return show(s, &sx_t_port, "GET /v1/ports/{id}", id, (void **)out);
}

int stratus_port_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_port, "GET /v1/ports", NULL, o, it);
}

int stratus_port_next(stratus_iter *it, stratus_port **out)
{
    return sx_iter_next(it, &sx_t_port, (void **)out);
}

int stratus_port_update(stratus_session *s, const char *id, const char *patch_json,
                        stratus_port **out)
{
    CHECK(s && id && out);
    return patch(s, &sx_t_port, "PATCH /v1/ports/{id}", id, patch_json, (void **)out);
}

int stratus_port_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/ports/{id}", id, NULL);
}

void stratus_port_free(stratus_port *o)
{
    sx_free(&sx_t_port, o);
}

static const sx_field f_security_group[] = {
    {"!id", SX_STR, offsetof(stratus_security_group, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_security_group, tenant_id), 0},
    {"name", SX_STR, offsetof(stratus_security_group, name), 0},
    {"description", SX_STR, offsetof(stratus_security_group, description), 0},
    {"is_default", SX_BOOL, offsetof(stratus_security_group, is_default), 0},
    {"created_at", SX_STR, offsetof(stratus_security_group, created_at), 0},
    {"updated_at", SX_STR, offsetof(stratus_security_group, updated_at), 0},
};
const sx_type sx_t_security_group = {"security group", "security_groups",
                                     sizeof(stratus_security_group), f_security_group,
                                     sizeof f_security_group / sizeof f_security_group[0]};

int stratus_security_group_create(stratus_session *s, const char *name, const char *extra_json,
                                  stratus_security_group **out)
{
    CHECK(s && name && out);
    int bad;
    json_t *b = body_with(json_pack("{s:s}", "name", name), extra_json, &bad);
    return send_body(s, &sx_t_security_group, "POST /v1/security-groups", NULL, b, bad, true,
                     (void **)out);
}

int stratus_security_group_show(stratus_session *s, const char *id, stratus_security_group **out)
{
    CHECK(s && id && out);
    return show(s, &sx_t_security_group, "GET /v1/security-groups/{id}", id, (void **)out);
}

int stratus_security_group_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_security_group, "GET /v1/security-groups", NULL, o, it);
}

int stratus_security_group_next(stratus_iter *it, stratus_security_group **out)
{
    return sx_iter_next(it, &sx_t_security_group, (void **)out);
}

int stratus_security_group_update(stratus_session *s, const char *id, const char *patch_json,
                                  stratus_security_group **out)
{
    CHECK(s && id && out);
    return patch(s, &sx_t_security_group, "PATCH /v1/security-groups/{id}", id, patch_json,
                 (void **)out);
}

int stratus_security_group_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/security-groups/{id}", id, NULL);
}

void stratus_security_group_free(stratus_security_group *o)
{
    sx_free(&sx_t_security_group, o);
}

static const sx_field f_security_group_rule[] = {
    {"!id", SX_STR, offsetof(stratus_security_group_rule, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_security_group_rule, tenant_id), 0},
    {"security_group_id", SX_STR, offsetof(stratus_security_group_rule, security_group_id), 0},
    {"direction", SX_STR, offsetof(stratus_security_group_rule, direction), 0},
    {"ethertype", SX_STR, offsetof(stratus_security_group_rule, ethertype), 0},
    {"protocol", SX_STR, offsetof(stratus_security_group_rule, protocol), 0},
    {"port_range_min", SX_INT, offsetof(stratus_security_group_rule, port_range_min), 0},
    {"port_range_max", SX_INT, offsetof(stratus_security_group_rule, port_range_max), 0},
    {"remote_ip_prefix", SX_STR, offsetof(stratus_security_group_rule, remote_ip_prefix), 0},
    {"remote_group_id", SX_STR, offsetof(stratus_security_group_rule, remote_group_id), 0},
    {"description", SX_STR, offsetof(stratus_security_group_rule, description), 0},
    {"created_at", SX_STR, offsetof(stratus_security_group_rule, created_at), 0},
};
const sx_type sx_t_security_group_rule = {
    "security group rule", "security_group_rules", sizeof(stratus_security_group_rule),
    f_security_group_rule, sizeof f_security_group_rule / sizeof f_security_group_rule[0]};

int stratus_security_group_rule_create(stratus_session *s, const char *security_group_id,
                                       const char *direction, const char *extra_json,
                                       stratus_security_group_rule **out)
{
    CHECK(s && security_group_id && direction && out);
    int bad;
    json_t *b = body_with(
        json_pack("{s:s, s:s}", "security_group_id", security_group_id, "direction", direction),
        extra_json, &bad);
    return send_body(s, &sx_t_security_group_rule, "POST /v1/security-group-rules", NULL, b, bad,
                     true, (void **)out);
}

int stratus_security_group_rule_show(stratus_session *s, const char *id,
                                     stratus_security_group_rule **out)
{
    CHECK(s && id && out);
    return show(s, &sx_t_security_group_rule, "GET /v1/security-group-rules/{id}", id,
                (void **)out);
}

int stratus_security_group_rule_list(stratus_session *s, const stratus_list_opts *o,
                                     stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_security_group_rule, "GET /v1/security-group-rules", NULL, o, it);
}

int stratus_security_group_rule_next(stratus_iter *it, stratus_security_group_rule **out)
{
    return sx_iter_next(it, &sx_t_security_group_rule, (void **)out);
}

int stratus_security_group_rule_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/security-group-rules/{id}", id, NULL);
}

void stratus_security_group_rule_free(stratus_security_group_rule *o)
{
    sx_free(&sx_t_security_group_rule, o);
}

static const sx_field f_router[] = {
    {"!id", SX_STR, offsetof(stratus_router, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_router, tenant_id), 0},
    {"name", SX_STR, offsetof(stratus_router, name), 0},
    {"status", SX_STR, offsetof(stratus_router, status), 0},
    {"created_at", SX_STR, offsetof(stratus_router, created_at), 0},
    {"updated_at", SX_STR, offsetof(stratus_router, updated_at), 0},
};
const sx_type sx_t_router = {"router", "routers", sizeof(stratus_router), f_router,
                             sizeof f_router / sizeof f_router[0]};

int stratus_router_create(stratus_session *s, const char *name, const char *extra_json,
                          stratus_router **out)
{
    CHECK(s && name && out);
    int bad;
    json_t *b = body_with(json_pack("{s:s}", "name", name), extra_json, &bad);
    return send_body(s, &sx_t_router, "POST /v1/routers", NULL, b, bad, true, (void **)out);
}

int stratus_router_show(stratus_session *s, const char *id, stratus_router **out)
{
    CHECK(s && id && out);
    return show(s, &sx_t_router, "GET /v1/routers/{id}", id, (void **)out);
}

int stratus_router_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_router, "GET /v1/routers", NULL, o, it);
}

int stratus_router_next(stratus_iter *it, stratus_router **out)
{
    return sx_iter_next(it, &sx_t_router, (void **)out);
}

int stratus_router_update(stratus_session *s, const char *id, const char *patch_json,
                          stratus_router **out)
{
    CHECK(s && id && out);
    return patch(s, &sx_t_router, "PATCH /v1/routers/{id}", id, patch_json, (void **)out);
}

int stratus_router_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/routers/{id}", id, NULL);
}

void stratus_router_free(stratus_router *o)
{
    sx_free(&sx_t_router, o);
}

static const sx_field f_floating_ip[] = {
    {"!id", SX_STR, offsetof(stratus_floating_ip, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_floating_ip, tenant_id), 0},
    {"floating_network_id", SX_STR, offsetof(stratus_floating_ip, floating_network_id), 0},
    {"floating_ip_address", SX_STR, offsetof(stratus_floating_ip, floating_ip_address), 0},
    {"port_id", SX_STR, offsetof(stratus_floating_ip, port_id), 0},
    {"fixed_ip_address", SX_STR, offsetof(stratus_floating_ip, fixed_ip_address), 0},
    {"router_id", SX_STR, offsetof(stratus_floating_ip, router_id), 0},
    {"status", SX_STR, offsetof(stratus_floating_ip, status), 0},
    {"description", SX_STR, offsetof(stratus_floating_ip, description), 0},
    {"created_at", SX_STR, offsetof(stratus_floating_ip, created_at), 0},
    {"updated_at", SX_STR, offsetof(stratus_floating_ip, updated_at), 0},
};
const sx_type sx_t_floating_ip = {"floating ip", "floating_ips", sizeof(stratus_floating_ip),
                                  f_floating_ip, sizeof f_floating_ip / sizeof f_floating_ip[0]};

int stratus_floating_ip_create(stratus_session *s, const char *floating_network_id,
                               const char *extra_json, stratus_floating_ip **out)
{
    CHECK(s && floating_network_id && out);
    int bad;
    json_t *b =
        body_with(json_pack("{s:s}", "floating_network_id", floating_network_id), extra_json, &bad);
    return send_body(s, &sx_t_floating_ip, "POST /v1/floating-ips", NULL, b, bad, true,
                     (void **)out);
}

int stratus_floating_ip_show(stratus_session *s, const char *id, stratus_floating_ip **out)
{
    CHECK(s && id && out);
    return show(s, &sx_t_floating_ip, "GET /v1/floating-ips/{id}", id, (void **)out);
}

int stratus_floating_ip_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_floating_ip, "GET /v1/floating-ips", NULL, o, it);
}

int stratus_floating_ip_next(stratus_iter *it, stratus_floating_ip **out)
{
    return sx_iter_next(it, &sx_t_floating_ip, (void **)out);
}

int stratus_floating_ip_update(stratus_session *s, const char *id, const char *patch_json,
                               stratus_floating_ip **out)
{
    CHECK(s && id && out);
    return patch(s, &sx_t_floating_ip, "PATCH /v1/floating-ips/{id}", id, patch_json, (void **)out);
}

int stratus_floating_ip_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/floating-ips/{id}", id, NULL);
}

void stratus_floating_ip_free(stratus_floating_ip *o)
{
    sx_free(&sx_t_floating_ip, o);
}

static const sx_field f_router_interface[] = {
    {"id", SX_STR, offsetof(stratus_router_interface, id), 0},
    {"tenant_id", SX_STR, offsetof(stratus_router_interface, tenant_id), 0},
    {"!subnet_id", SX_STR, offsetof(stratus_router_interface, subnet_id), 0},
    {"port_id", SX_STR, offsetof(stratus_router_interface, port_id), 0},
};
const sx_type sx_t_router_interface = {"router interface", "interfaces",
                                       sizeof(stratus_router_interface), f_router_interface,
                                       sizeof f_router_interface / sizeof f_router_interface[0]};
/* An instance's interfaces are ports, listed under "interfaces". */
const sx_type sx_t_interface = {"port", "interfaces", sizeof(stratus_port), f_port,
                                sizeof f_port / sizeof f_port[0]};

int stratus_router_interface_add(stratus_session *s, const char *router_id, const char *subnet_id,
                                 stratus_router_interface **out)
{
    CHECK(s && router_id && subnet_id && out);
    return send_body(s, &sx_t_router_interface, "POST /v1/routers/{id}/interfaces", router_id,
                     json_pack("{s:s}", "subnet_id", subnet_id), 0, false, (void **)out);
}

int stratus_router_interface_remove(stratus_session *s, const char *router_id,
                                    const char *subnet_id)
{
    CHECK(s && router_id && subnet_id);
    return del(s, "DELETE /v1/routers/{id}/interfaces/{subnet_id}", router_id, subnet_id);
}

void stratus_router_interface_free(stratus_router_interface *o)
{
    sx_free(&sx_t_router_interface, o);
}

int stratus_instance_interface_list(stratus_session *s, const char *instance_id, stratus_iter **it)
{
    CHECK(s && instance_id && it);
    return sx_iter_new(s, &sx_t_interface, "GET /v1/instances/{id}/interfaces", instance_id, NULL,
                       it);
}

int stratus_instance_interface_attach(stratus_session *s, const char *instance_id,
                                      const char *attach_json, stratus_port **out)
{
    CHECK(s && instance_id && attach_json && out);
    json_t *b = json_loads(attach_json, 0, NULL);
    if (!json_is_object(b)) {
        json_decref(b);
        return sx_fail(STRATUS_EINVAL, "attach_json is not a JSON object");
    }
    return send_body(s, &sx_t_port, "POST /v1/instances/{id}/interfaces", instance_id, b, 0, false,
                     (void **)out);
}

int stratus_instance_interface_detach(stratus_session *s, const char *instance_id,
                                      const char *port_id)
{
    CHECK(s && instance_id && port_id);
    return del(s, "DELETE /v1/instances/{id}/interfaces/{port_id}", instance_id, port_id);
}

/* ---- billing administration: the billing service's documents as text ---- */

static int doc_q(stratus_session *s, const char *op, const char *a0, const char *query,
                 const char *body_json, bool create, char **json)
{
    *json = NULL;
    json_t *b = NULL;
    if (body_json) {
        b = json_loads(body_json, 0, NULL);
        if (!json_is_object(b)) {
            json_decref(b);
            return sx_fail(STRATUS_EINVAL, "the body is not a JSON object");
        }
    }
    sx_req q = {.op = op, .args = {a0}, .query = query, .body = b, .create = create};
    sx_resp r;
    int rc = sx_call(s, &q, &r);
    json_decref(b);
    if (rc < 0)
        return rc;
    if (!json_is_object(r.json) && !json_is_array(r.json))
        rc = sx_fail(STRATUS_EPROTO, "%s: reply is not JSON", op);
    else if (!(*json = json_dumps(r.json, JSON_COMPACT)))
        rc = sx_fail(STRATUS_ENOMEM, NULL);
    sx_resp_free(&r);
    return rc;
}

static int doc(stratus_session *s, const char *op, const char *a0, const char *body_json,
               bool create, char **json)
{
    return doc_q(s, op, a0, NULL, body_json, create, json);
}

int stratus_plan_current(stratus_session *s, char **json)
{
    CHECK(s && json);
    return doc(s, "GET /v1/billing/plan", NULL, NULL, false, json);
}

int stratus_plan_list(stratus_session *s, char **json)
{
    CHECK(s && json);
    return doc(s, "GET /v1/billing/plans", NULL, NULL, false, json);
}

int stratus_plan_create(stratus_session *s, const char *body_json, char **json)
{
    CHECK(s && body_json && json);
    return doc(s, "POST /v1/billing/plans", NULL, body_json, true, json);
}

int stratus_plan_show(stratus_session *s, const char *id, char **json)
{
    CHECK(s && id && json);
    return doc(s, "GET /v1/billing/plans/{id}", id, NULL, false, json);
}

int stratus_plan_update(stratus_session *s, const char *id, const char *patch_json, char **json)
{
    CHECK(s && id && patch_json && json);
    return doc(s, "PATCH /v1/billing/plans/{id}", id, patch_json, false, json);
}

int stratus_plan_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/billing/plans/{id}", id, NULL);
}

int stratus_plan_version_create(stratus_session *s, const char *plan_id, const char *body_json,
                                char **json)
{
    CHECK(s && plan_id && body_json && json);
    return doc(s, "POST /v1/billing/plans/{id}/versions", plan_id, body_json, true, json);
}

int stratus_tenant_plan_list(stratus_session *s, const char *tenant_id, char **json)
{
    CHECK(s && tenant_id && json);
    return doc(s, "GET /v1/billing/tenants/{tenant_id}/plans", tenant_id, NULL, false, json);
}

int stratus_tenant_plan_assign(stratus_session *s, const char *tenant_id, const char *body_json,
                               char **json)
{
    CHECK(s && tenant_id && body_json && json);
    return doc(s, "POST /v1/billing/tenants/{tenant_id}/plans", tenant_id, body_json, true, json);
}

int stratus_period_list(stratus_session *s, char **json)
{
    CHECK(s && json);
    return doc(s, "GET /v1/billing/periods", NULL, NULL, false, json);
}

int stratus_period_issue(stratus_session *s, const char *period, char **json)
{
    return stratus_period_issue_flags(s, period, 0, json);
}

int stratus_period_issue_flags(stratus_session *s, const char *period, unsigned int flags,
                               char **json)
{
    CHECK(s && period && json && !(flags & ~STRATUS_ISSUE_CONFIRM_EMPTY));
    return doc_q(s, "POST /v1/billing/periods/{period}/issue", period,
                 flags & STRATUS_ISSUE_CONFIRM_EMPTY ? "confirm_empty=true" : NULL, NULL, false,
                 json);
}

int stratus_period_preview(stratus_session *s, const char *period, char **json)
{
    CHECK(s && period && json);
    return doc(s, "GET /v1/billing/periods/{period}/preview", period, NULL, false, json);
}

int stratus_billing_account_get(stratus_session *s, char **json)
{
    CHECK(s && json);
    return doc(s, "GET /v1/billing/account", NULL, NULL, false, json);
}

int stratus_billing_account_set(stratus_session *s, const char *body_json, char **json)
{
    CHECK(s && body_json && json);
    return doc(s, "PUT /v1/billing/account", NULL, body_json, false, json);
}

int stratus_tenant_billing_account_get(stratus_session *s, const char *tenant_id, char **json)
{
    CHECK(s && tenant_id && json);
    return doc(s, "GET /v1/billing/tenants/{tenant_id}/account", tenant_id, NULL, false, json);
}

int stratus_tenant_billing_account_set(stratus_session *s, const char *tenant_id,
                                       const char *body_json, char **json)
{
    CHECK(s && tenant_id && body_json && json);
    return doc(s, "PUT /v1/billing/tenants/{tenant_id}/account", tenant_id, body_json, false, json);
}

int stratus_credit_note_list(stratus_session *s, char **json)
{
    CHECK(s && json);
    return doc(s, "GET /v1/billing/credit-notes", NULL, NULL, false, json);
}

int stratus_credit_note_show(stratus_session *s, const char *id, char **json)
{
    CHECK(s && id && json);
    return doc(s, "GET /v1/billing/credit-notes/{id}", id, NULL, false, json);
}

int stratus_credit_note_create(stratus_session *s, const char *invoice_id, const char *body_json,
                               char **json)
{
    CHECK(s && invoice_id && body_json && json);
    return doc(s, "POST /v1/billing/invoices/{id}/credit-notes", invoice_id, body_json, true, json);
}

int stratus_openapi_get(stratus_session *s, char **json)
{
    CHECK(s && json);
    return doc(s, "GET /v1/openapi.json", NULL, NULL, false, json);
}
