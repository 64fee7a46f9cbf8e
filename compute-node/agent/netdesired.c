/*
 * netdesired.c - parses the desired set's tenant networks: the top-level
 * `networks` (each with its subnets and the ports it has on other hosts)
 * and `security_groups` (rules, this host's ports in the group, the
 * group's member addresses everywhere); `routers` are netrouter.c's.
 *
 * Untrusted input, as in desired.c: every field is type-, length- and
 * range-checked, ids must be UUIDs, counts are bounded, and one bad entry
 * (or a network or group listed twice) refuses the whole set - a network
 * dropped silently would have its bridge torn down under running guests.
 * A subnet's DHCP server address (dhcp_ip) is the gateway's choice
 * (reserved in its database, never a port's); null means no DHCP server.
 * Keys the agent does not know are ignored. IPv6 subnets, members and
 * rules are accepted and marked (v4 = 0): the data plane serves IPv4 only.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stratus/json.h"
#include "stratus/uuid.h"

#define MAX_NETWORKS 4096
#define MAX_SUBNETS 16
#define MAX_REMOTES 65536 /* per network */
#define MAX_GROUPS 4096
#define MAX_GROUP_PORTS 4096
#define MAX_MEMBERS 65536
#define MAX_RULES 1024

static int uuid_of(json_t *v, char out[ND_ID_LEN])
{
    const char *s = json_string_value(v);
    if (!s || !st_uuid_valid(s))
        return -1;
    snprintf(out, ND_ID_LEN, "%s", s);
    return 0;
}

static int get_uuid(json_t *o, const char *k, int required, char out[ND_ID_LEN], char *err,
                    size_t errlen)
{
    json_t *v = json_object_get(o, k);
    out[0] = 0;
    if (!required && (!v || json_is_null(v)))
        return 0;
    if (uuid_of(v, out) < 0) {
        snprintf(err, errlen, "field '%s' must be a UUID", k);
        return -1;
    }
    return 0;
}

/* "a.b.c.d" (v4 = 1) or an IPv6 address (v4 = 0); -1 for anything else. */
static int addr_of(const char *s, struct in_addr *a, int *v4)
{
    unsigned char b6[16];
    if (!s || strlen(s) > 45)
        return -1;
    if (inet_pton(AF_INET, s, a) == 1) {
        *v4 = 1;
        return 0;
    }
    if (inet_pton(AF_INET6, s, b6) == 1) {
        a->s_addr = 0;
        *v4 = 0;
        return 0;
    }
    return -1;
}

static int get_ip4(json_t *o, const char *k, int required, struct in_addr *a, char *err,
                   size_t errlen)
{
    json_t *v = json_object_get(o, k);
    a->s_addr = 0;
    if (!required && (!v || json_is_null(v)))
        return 0;
    const char *s = json_string_value(v);
    if (!s || strlen(s) > 15 || inet_pton(AF_INET, s, a) != 1) {
        snprintf(err, errlen, "field '%s' must be an IPv4 address", k);
        return -1;
    }
    return 0;
}

/* "addr/prefix"; the host bits are cleared. */
static int cidr_of(const char *s, struct in_addr *net, int *prefix, int *v4)
{
    char buf[64];
    if (!s || strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *slash = strchr(buf, '/');
    if (!slash || !slash[1] || strlen(slash + 1) > 3)
        return -1;
    *slash = 0;
    for (const char *p = slash + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    int pfx = atoi(slash + 1);
    if (addr_of(buf, net, v4) < 0 || pfx > (*v4 ? 32 : 128))
        return -1;
    *prefix = pfx;
    if (*v4)
        net->s_addr &= pfx ? htonl(~0u << (32 - pfx)) : 0;
    return 0;
}

/* *out: the array, or NULL when absent or null (jansson reads NULL as an
 * empty array: size 0). */
static int get_array(json_t *o, const char *k, size_t max, json_t **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > max) {
        snprintf(err, errlen, "field '%s' must be an array of at most %zu", k, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_fixed_ips(json_t *o, nd_fixed_ip *ips, int *n, char *err, size_t errlen)
{
    json_t *arr;
    if (get_array(o, "fixed_ips", ND_MAX_FIXED_IPS, &arr, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *ip = json_array_get(arr, i);
        struct in_addr a;
        int v4;
        const char *s = json_string_value(json_object_get(ip, "ip_address"));
        if (!json_is_object(ip) ||
            get_uuid(ip, "subnet_id", 1, ips[i].subnet_id, err, errlen) < 0 ||
            addr_of(s, &a, &v4) < 0) {
            snprintf(err, errlen,
                     "fixed_ips[%zu] must be {\"subnet_id\": UUID, \"ip_address\": IP}", i);
            return -1;
        }
        snprintf(ips[i].ip_address, sizeof ips[i].ip_address, "%s", s);
        *n = (int)i + 1;
    }
    return 0;
}

static int parse_subnet(json_t *o, nd_subnet *s, char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    if (get_uuid(o, "id", 1, s->id, err, errlen) < 0)
        return -1;
    if (cidr_of(json_string_value(json_object_get(o, "cidr")), &s->net, &s->prefix, &s->v4) < 0) {
        snprintf(err, errlen, "field 'cidr' must be ADDRESS/PREFIX");
        return -1;
    }
    if (!s->v4)
        return 0; /* kept by id: IPv6 is not served here */
    if (s->prefix > 30) {
        snprintf(err, errlen, "field 'cidr' must be /30 or wider");
        return -1;
    }
    json_t *dhcp = json_object_get(o, "enable_dhcp");
    if (dhcp && !json_is_null(dhcp) && !json_is_boolean(dhcp)) {
        snprintf(err, errlen, "field 'enable_dhcp' must be a boolean");
        return -1;
    }
    s->dhcp = !dhcp || json_is_null(dhcp) || json_is_true(dhcp);
    if (get_ip4(o, "gateway_ip", 0, &s->gateway, err, errlen) < 0 ||
        get_ip4(o, "dhcp_ip", 0, &s->dhcp_ip, err, errlen) < 0)
        return -1;
    uint32_t h = ntohl(s->dhcp_ip.s_addr), net = ntohl(s->net.s_addr);
    if (s->dhcp_ip.s_addr && (h <= net || h >= (net | (0xffffffffu >> s->prefix)) ||
                              s->dhcp_ip.s_addr == s->gateway.s_addr)) {
        snprintf(err, errlen,
                 "field 'dhcp_ip' must be a host address of the subnet, not the gateway");
        return -1;
    }
    json_t *a;
    if (get_array(o, "dns_nameservers", ND_MAX_DNS, &a, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *t = json_string_value(json_array_get(a, i));
        if (!t || strlen(t) > 15 || inet_pton(AF_INET, t, &s->dns[i]) != 1) {
            snprintf(err, errlen, "dns_nameservers[%zu] must be an IPv4 address", i);
            return -1;
        }
        s->ndns = (int)i + 1;
    }
    if (get_array(o, "host_routes", ND_MAX_ROUTES, &a, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *r = json_array_get(a, i);
        nd_route4 *rt = &s->routes[i];
        int v4 = 0;
        char e[128];
        if (!json_is_object(r) ||
            cidr_of(json_string_value(json_object_get(r, "destination")), &rt->dst, &rt->prefix,
                    &v4) < 0 ||
            !v4 || get_ip4(r, "nexthop", 1, &rt->via, e, sizeof e) < 0) {
            snprintf(err, errlen,
                     "host_routes[%zu] must be {\"destination\": IPv4 CIDR, \"nexthop\": IPv4}", i);
            return -1;
        }
        s->nroutes = (int)i + 1;
    }
    if (get_array(o, "allocation_pools", ND_MAX_POOLS, &a, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *p = json_array_get(a, i);
        char e[128];
        if (!json_is_object(p) || get_ip4(p, "start", 1, &s->pool_lo[i], e, sizeof e) < 0 ||
            get_ip4(p, "end", 1, &s->pool_hi[i], e, sizeof e) < 0 ||
            ntohl(s->pool_lo[i].s_addr) > ntohl(s->pool_hi[i].s_addr)) {
            snprintf(err, errlen, "allocation_pools[%zu] must be {\"start\": IPv4, \"end\": IPv4}",
                     i);
            return -1;
        }
        s->npools = (int)i + 1;
    }
    return 0;
}

static int parse_remote(json_t *o, nd_remote_port *r, char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    const char *mac = json_string_value(json_object_get(o, "mac"));
    if (get_uuid(o, "id", 1, r->id, err, errlen) < 0 ||
        get_uuid(o, "host_id", 1, r->host_id, err, errlen) < 0 ||
        get_ip4(o, "tunnel_ip", 0, &r->tunnel, err, errlen) < 0)
        return -1;
    if (!mac || strlen(mac) != 17) {
        snprintf(err, errlen, "field 'mac' must be a unicast aa:bb:cc:dd:ee:ff");
        return -1;
    }
    for (int i = 0; i < 17; i++)
        r->mac[i] = (char)tolower((unsigned char)mac[i]);
    if (!nd_mac_valid(r->mac)) {
        snprintf(err, errlen, "field 'mac' must be a unicast aa:bb:cc:dd:ee:ff");
        return -1;
    }
    return parse_fixed_ips(o, r->fixed_ips, &r->nfixed_ips, err, errlen);
}

static int parse_network(json_t *o, nd_network *n, char *err, size_t errlen)
{
    long long v;
    char e[200];
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    if (get_uuid(o, "id", 1, n->id, err, errlen) < 0 ||
        st_json_get_int(o, "vni", ST_JSON_REQUIRED, 1, 16777215, &v, err, errlen) < 0)
        return -1;
    n->vni = (uint32_t)v;
    if (st_json_get_int(o, "mtu", ST_JSON_REQUIRED, 68, 65535, &v, err, errlen) < 0)
        return -1;
    n->mtu = (int)v;
    json_t *ext = json_object_get(o, "external");
    if (ext && !json_is_null(ext) && !json_is_boolean(ext)) {
        snprintf(err, errlen, "field 'external' must be a boolean");
        return -1;
    }
    n->external = json_is_true(ext);
    json_t *subs, *rems;
    if (get_array(o, "subnets", MAX_SUBNETS, &subs, err, errlen) < 0 ||
        get_array(o, "remote_ports", MAX_REMOTES, &rems, err, errlen) < 0)
        return -1;
    n->subnets = calloc(json_array_size(subs) + 1, sizeof *n->subnets);
    n->remotes = calloc(json_array_size(rems) + 1, sizeof *n->remotes);
    if (!n->subnets || !n->remotes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(subs); i++) {
        if (parse_subnet(json_array_get(subs, i), &n->subnets[i], e, sizeof e) < 0) {
            snprintf(err, errlen, "subnets[%zu]: %s", i, e);
            return -1;
        }
        n->nsubnets = i + 1;
    }
    for (size_t i = 0; i < json_array_size(rems); i++) {
        if (parse_remote(json_array_get(rems, i), &n->remotes[i], e, sizeof e) < 0) {
            snprintf(err, errlen, "remote_ports[%zu]: %s", i, e);
            return -1;
        }
        n->nremotes = i + 1;
    }
    return 0;
}

/* protocol: null/"any" -> 0, "icmp" 1, "tcp" 6, "udp" 17, "icmpv6" 58, "0".."255" */
static int proto_of(json_t *v, int *out)
{
    static const struct {
        const char *name;
        int num;
    } names[] = {{"any", 0}, {"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"icmpv6", 58}};
    if (!v || json_is_null(v)) {
        *out = 0;
        return 0;
    }
    const char *s = json_string_value(v);
    if (json_is_integer(v)) {
        long long n = json_integer_value(v);
        if (n < 0 || n > 255)
            return -1;
        *out = (int)n;
        return 0;
    }
    if (!s || !*s || strlen(s) > 8)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].num;
            return 0;
        }
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    if (strlen(s) > 3 || atoi(s) > 255)
        return -1;
    *out = atoi(s);
    return 0;
}

static int parse_rule(json_t *o, nd_sg_rule *r, char *err, size_t errlen)
{
    long long v;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    const char *dir = json_string_value(json_object_get(o, "direction"));
    const char *eth = json_string_value(json_object_get(o, "ethertype"));
    if (get_uuid(o, "id", 1, r->id, err, errlen) < 0 ||
        get_uuid(o, "remote_group_id", 0, r->remote_group, err, errlen) < 0)
        return -1;
    if (!dir || (strcmp(dir, "ingress") && strcmp(dir, "egress"))) {
        snprintf(err, errlen, "field 'direction' must be ingress or egress");
        return -1;
    }
    r->egress = !strcmp(dir, "egress");
    if (!eth || (strcmp(eth, "IPv4") && strcmp(eth, "IPv6"))) {
        snprintf(err, errlen, "field 'ethertype' must be IPv4 or IPv6");
        return -1;
    }
    r->v4 = !strcmp(eth, "IPv4");
    if (proto_of(json_object_get(o, "protocol"), &r->protocol) < 0) {
        snprintf(err, errlen, "field 'protocol' must be null, a name or 0..255");
        return -1;
    }
    r->port_min = r->port_max = -1;
    if (st_json_get_int(o, "port_range_min", ST_JSON_OPTIONAL, 0, 65535, &v, err, errlen) < 0)
        return -1;
    if (json_is_integer(json_object_get(o, "port_range_min")))
        r->port_min = (int)v;
    if (st_json_get_int(o, "port_range_max", ST_JSON_OPTIONAL, 0, 65535, &v, err, errlen) < 0)
        return -1;
    if (json_is_integer(json_object_get(o, "port_range_max")))
        r->port_max = (int)v;
    if ((r->port_min < 0) != (r->port_max < 0) ||
        ((r->protocol == 6 || r->protocol == 17) && r->port_min > r->port_max)) {
        snprintf(err, errlen,
                 "port_range_min and port_range_max must be given together, min <= max");
        return -1;
    }
    r->remote_prefix = -1;
    json_t *pfx = json_object_get(o, "remote_ip_prefix");
    if (pfx && !json_is_null(pfx)) {
        int v4 = 0, p = 0;
        if (cidr_of(json_string_value(pfx), &r->remote_net, &p, &v4) < 0 || v4 != r->v4) {
            snprintf(err, errlen,
                     "field 'remote_ip_prefix' must be a CIDR of the rule's ethertype");
            return -1;
        }
        r->remote_prefix = v4 ? p : -1;
    }
    return 0;
}

static int parse_group(json_t *o, nd_secgroup *g, char *err, size_t errlen)
{
    char e[200];
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    if (get_uuid(o, "id", 1, g->id, err, errlen) < 0)
        return -1;
    json_t *ports, *mem, *rules;
    if (get_array(o, "port_ids", MAX_GROUP_PORTS, &ports, err, errlen) < 0 ||
        get_array(o, "member_ips", MAX_MEMBERS, &mem, err, errlen) < 0 ||
        get_array(o, "rules", MAX_RULES, &rules, err, errlen) < 0)
        return -1;
    g->port_ids = calloc(json_array_size(ports) + 1, sizeof *g->port_ids);
    g->members = calloc(json_array_size(mem) + 1, sizeof *g->members);
    g->rules = calloc(json_array_size(rules) + 1, sizeof *g->rules);
    if (!g->port_ids || !g->members || !g->rules) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(ports); i++) {
        if (uuid_of(json_array_get(ports, i), g->port_ids[i]) < 0) {
            snprintf(err, errlen, "port_ids[%zu] must be a UUID", i);
            return -1;
        }
        g->nports = i + 1;
    }
    for (size_t i = 0; i < json_array_size(mem); i++) {
        struct in_addr a;
        int v4;
        if (addr_of(json_string_value(json_array_get(mem, i)), &a, &v4) < 0) {
            snprintf(err, errlen, "member_ips[%zu] must be an IP address", i);
            return -1;
        }
        if (v4)
            g->members[g->nmembers++] = a;
    }
    for (size_t i = 0; i < json_array_size(rules); i++) {
        if (parse_rule(json_array_get(rules, i), &g->rules[i], e, sizeof e) < 0) {
            snprintf(err, errlen, "rules[%zu]: %s", i, e);
            return -1;
        }
        g->nrules = i + 1;
    }
    return 0;
}

int nd_netset_parse(json_t *root, nd_netset *out, char *err, size_t errlen)
{
    char e[256];
    memset(out, 0, sizeof *out);
    json_t *nets, *sgs;
    if (get_array(root, "networks", MAX_NETWORKS, &nets, e, sizeof e) < 0 ||
        get_array(root, "security_groups", MAX_GROUPS, &sgs, e, sizeof e) < 0) {
        snprintf(err, errlen, "desired set: %s", e);
        return -1;
    }
    out->nets = calloc(json_array_size(nets) + 1, sizeof *out->nets);
    out->sgs = calloc(json_array_size(sgs) + 1, sizeof *out->sgs);
    if (!out->nets || !out->sgs) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(nets); i++) {
        nd_network *n = &out->nets[i];
        out->n = i + 1; /* counted first: a half-parsed entry is freed too */
        if (parse_network(json_array_get(nets, i), n, e, sizeof e) < 0) {
            snprintf(err, errlen, "desired set: networks[%zu]: %s", i, e);
            goto fail;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out->nets[k].id, n->id) || out->nets[k].vni == n->vni) {
                snprintf(err, errlen, "desired set: networks[%zu] repeats the id or VNI of [%zu]",
                         i, k);
                goto fail;
            }
    }
    for (size_t i = 0; i < json_array_size(sgs); i++) {
        nd_secgroup *g = &out->sgs[i];
        out->nsgs = i + 1;
        if (parse_group(json_array_get(sgs, i), g, e, sizeof e) < 0) {
            snprintf(err, errlen, "desired set: security_groups[%zu]: %s", i, e);
            goto fail;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out->sgs[k].id, g->id)) {
                snprintf(err, errlen, "desired set: security group %s listed twice", g->id);
                goto fail;
            }
    }
    if (nd_routers_parse(root, out, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    nd_netset_free(out);
    return -1;
}

void nd_netset_free(nd_netset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->nets[i].subnets);
        free(s->nets[i].remotes);
    }
    for (size_t i = 0; i < s->nsgs; i++) {
        free(s->sgs[i].port_ids);
        free(s->sgs[i].members);
        free(s->sgs[i].rules);
    }
    free(s->nets);
    free(s->sgs);
    nd_routers_free(s);
    memset(s, 0, sizeof *s);
}

const nd_network *nd_netset_find(const nd_netset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->nets[i].id, id))
            return &s->nets[i];
    return NULL;
}
