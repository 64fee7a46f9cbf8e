/*
 * netrouter.c - routers and external networks on this host: the desired
 * set's top-level `routers` parsed, and turned into the data plane's
 * stn_router (network/router.c builds a namespace per router).
 *
 * The gateway places a router only on a node that reported an uplink
 * (node.conf network.external_interface, sent as external_uplink with the
 * heartbeat). An external network is realised flat on that uplink; a host
 * has one uplink, so only the first external network of the set gets it
 * (see README), and none does while the device is missing - converging a
 * state that names a missing uplink would fail the whole host.
 *
 * Untrusted input, as in netdesired.c: ids are UUIDs, MACs unicast,
 * addresses IPv4 (an IPv6 interface is kept, marked, and not served),
 * counts bounded, a router listed twice refuses the whole set.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stratus/uuid.h"

#define MAX_ROUTERS 4096
#define MAX_FIPS 65536 /* per router */

static int uuid_field(json_t *o, const char *k, int required, char out[ND_ID_LEN])
{
    json_t *v = json_object_get(o, k);
    const char *s = json_string_value(v);
    out[0] = 0;
    if (!required && (!v || json_is_null(v)))
        return 0;
    if (!s || !st_uuid_valid(s))
        return -1;
    snprintf(out, ND_ID_LEN, "%s", s);
    return 0;
}

static int ip4_field(json_t *o, const char *k, struct in_addr *a)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && strlen(s) <= 15 && inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

static int array_field(json_t *o, const char *k, size_t max, json_t **out)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > max)
        return -1;
    *out = v;
    return 0;
}

/* {"port_id", "network_id", "subnet_id", "mac", "ip_address"} */
static int parse_rport(json_t *o, nd_router_port *p)
{
    const char *mac = json_string_value(json_object_get(o, "mac"));
    const char *ip = json_string_value(json_object_get(o, "ip_address"));
    unsigned char b6[16];
    if (!json_is_object(o) || uuid_field(o, "port_id", 1, p->port_id) < 0 ||
        uuid_field(o, "network_id", 1, p->network_id) < 0 ||
        uuid_field(o, "subnet_id", 1, p->subnet_id) < 0 || !mac || strlen(mac) != 17 || !ip ||
        strlen(ip) > 45)
        return -1;
    for (int i = 0; i < 17; i++)
        p->mac[i] = (char)tolower((unsigned char)mac[i]);
    p->mac[17] = 0;
    if (!nd_mac_valid(p->mac))
        return -1;
    if (inet_pton(AF_INET, ip, &p->ip) == 1)
        p->v4 = 1;
    else if (inet_pton(AF_INET6, ip, b6) == 1)
        p->v4 = 0;
    else
        return -1;
    return 0;
}

static int parse_router(json_t *o, nd_router *r, char *err, size_t errlen)
{
    json_t *ifs, *fips, *gw = json_object_get(o, "gateway"), *snat;
    if (!json_is_object(o) || uuid_field(o, "id", 1, r->id) < 0) {
        snprintf(err, errlen, "must be an object with a UUID id");
        return -1;
    }
    snat = json_object_get(o, "enable_snat");
    if (snat && !json_is_null(snat) && !json_is_boolean(snat)) {
        snprintf(err, errlen, "field 'enable_snat' must be a boolean");
        return -1;
    }
    r->snat = !snat || json_is_null(snat) || json_is_true(snat);
    if (array_field(o, "interfaces", ND_MAX_ROUTER_IFS, &ifs) < 0 ||
        array_field(o, "floating_ips", MAX_FIPS, &fips) < 0) {
        snprintf(err, errlen, "interfaces (at most %d) and floating_ips must be arrays",
                 ND_MAX_ROUTER_IFS);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(ifs); i++) {
        if (parse_rport(json_array_get(ifs, i), &r->ifs[i]) < 0) {
            snprintf(err, errlen,
                     "interfaces[%zu] must be {port_id, network_id, subnet_id, mac, ip_address}",
                     i);
            return -1;
        }
        r->nifs = i + 1;
    }
    if (gw && !json_is_null(gw)) {
        if (parse_rport(gw, &r->gw) < 0) {
            snprintf(err, errlen,
                     "gateway must be null or {port_id, network_id, subnet_id, mac, ip_address}");
            return -1;
        }
        r->has_gw = 1;
    }
    r->fips = calloc(json_array_size(fips) + 1, sizeof *r->fips);
    if (!r->fips) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(fips); i++) {
        json_t *f = json_array_get(fips, i);
        nd_fip *x = &r->fips[i];
        if (!json_is_object(f) || uuid_field(f, "id", 1, x->id) < 0 ||
            ip4_field(f, "floating_ip_address", &x->floating) < 0 ||
            ip4_field(f, "fixed_ip_address", &x->fixed) < 0) {
            snprintf(err, errlen,
                     "floating_ips[%zu] must be {id, floating_ip_address, fixed_ip_address}", i);
            return -1;
        }
        r->nfips = i + 1;
    }
    return 0;
}

int nd_routers_parse(json_t *root, nd_netset *s, char *err, size_t errlen)
{
    json_t *arr;
    char e[200];
    if (array_field(root, "routers", MAX_ROUTERS, &arr) < 0) {
        snprintf(err, errlen, "desired set: routers must be an array of at most %d", MAX_ROUTERS);
        return -1;
    }
    s->routers = calloc(json_array_size(arr) + 1, sizeof *s->routers);
    if (!s->routers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        nd_router *r = &s->routers[i];
        s->nrouters = i + 1; /* counted first: a half-parsed entry is freed too */
        if (parse_router(json_array_get(arr, i), r, e, sizeof e) < 0) {
            snprintf(err, errlen, "desired set: routers[%zu]: %s", i, e);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(s->routers[k].id, r->id)) {
                snprintf(err, errlen, "desired set: router %s listed twice", r->id);
                return -1;
            }
    }
    return 0;
}

void nd_routers_free(nd_netset *s)
{
    for (size_t i = 0; i < s->nrouters; i++)
        free(s->routers[i].fips);
    free(s->routers);
    s->routers = NULL;
    s->nrouters = 0;
}

#ifdef ND_HAVE_NET
#include "stratus/net.h"

int nd_net_uplink_for(const nd_conf *c, const nd_netset *ns, const nd_network *n)
{
    if (!n->external || !c->external_if[0] || if_nametoindex(c->external_if) == 0)
        return 0;
    for (size_t i = 0; i < ns->n; i++)
        if (ns->nets[i].external)
            return &ns->nets[i] == n; /* the first external network only */
    return 0;
}

static const stn_network *in_state(const stn_state *s, const char *id)
{
    for (size_t i = 0; i < s->n_networks; i++)
        if (!strcmp(s->networks[i].id, id))
            return &s->networks[i];
    return NULL;
}

/* The IPv4 subnet p's address is on: its prefix and gateway. */
static const nd_subnet *subnet_of(const nd_netset *ns, const nd_router_port *p)
{
    const nd_network *n = nd_netset_find(ns, p->network_id);
    for (size_t k = 0; n && k < n->nsubnets; k++)
        if (!strcmp(n->subnets[k].id, p->subnet_id) && n->subnets[k].v4 &&
            n->subnets[k].prefix >= 8 && n->subnets[k].prefix <= 30)
            return &n->subnets[k];
    return NULL;
}

static void mac_of(const char *s, uint8_t m[6])
{
    unsigned v[6] = {0};
    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
    for (int i = 0; i < 6; i++)
        m[i] = (uint8_t)v[i];
}

int nd_net_routers_build(const nd_netset *ns, stn_state *s)
{
    s->routers = calloc(ns->nrouters + 1, sizeof *s->routers);
    if (!s->routers)
        return -1;
    for (size_t i = 0; i < ns->nrouters; i++) {
        const nd_router *r = &ns->routers[i];
        stn_router *o = &s->routers[s->n_routers++];
        snprintf(o->id, sizeof o->id, "%s", r->id);
        for (size_t k = 0; k < r->nifs && o->n_ifs < STN_MAX_ROUTER_IFS; k++) {
            const nd_router_port *p = &r->ifs[k];
            const stn_network *n = in_state(s, p->network_id);
            const nd_subnet *sb = subnet_of(ns, p);
            int dup = 0;
            for (size_t j = 0; j < o->n_ifs; j++)
                dup |= !strcmp(o->ifs[j].network_id, p->network_id);
            if (!p->v4 || !n || n->uplink[0] || !sb || dup)
                continue; /* one subnet per network on the data plane */
            stn_router_if *x = &o->ifs[o->n_ifs++];
            snprintf(x->network_id, sizeof x->network_id, "%s", p->network_id);
            mac_of(p->mac, x->mac);
            x->ip = p->ip;
            x->prefix = (uint8_t)sb->prefix;
        }
        const stn_network *e = r->has_gw && r->gw.v4 ? in_state(s, r->gw.network_id) : NULL;
        const nd_subnet *esb = e && e->uplink[0] ? subnet_of(ns, &r->gw) : NULL;
        if (!esb)
            continue; /* no gateway here: the router routes between its subnets only */
        snprintf(o->ext_network_id, sizeof o->ext_network_id, "%s", r->gw.network_id);
        mac_of(r->gw.mac, o->gw_mac);
        o->gw_ip = r->gw.ip;
        o->gw_prefix = (uint8_t)esb->prefix;
        o->ext_gateway = esb->gateway;
        o->snat = r->snat;
        o->fips = calloc(r->nfips + 1, sizeof *o->fips);
        if (!o->fips)
            return -1;
        for (size_t k = 0; k < r->nfips; k++) {
            int dup = r->fips[k].floating.s_addr == r->gw.ip.s_addr;
            for (size_t j = 0; j < o->n_fips; j++)
                dup |= o->fips[j].floating.s_addr == r->fips[k].floating.s_addr ||
                       o->fips[j].fixed.s_addr == r->fips[k].fixed.s_addr;
            if (!dup && r->fips[k].floating.s_addr && r->fips[k].fixed.s_addr) {
                o->fips[o->n_fips].floating = r->fips[k].floating;
                o->fips[o->n_fips++].fixed = r->fips[k].fixed;
            }
        }
    }
    return 0;
}

void nd_net_routers_free(stn_state *s)
{
    for (size_t i = 0; i < s->n_routers; i++)
        free(s->routers[i].fips);
    free(s->routers);
    s->routers = NULL;
    s->n_routers = 0;
}
#endif
