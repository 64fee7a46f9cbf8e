/*
 * state.c - the context, validation of a desired state, the converge pass and
 * the teardown.
 *
 * Validation runs before anything is touched: every name that reaches the
 * kernel, an nftables script or a dnsmasq file is checked against a strict
 * alphabet here, so no caller string can inject a rule or a config line.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int stn_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

void stn_bridge_name(char out[IFNAMSIZ], uint32_t vni)
{
    snprintf(out, IFNAMSIZ, "stb%u", vni);
}

void stn_vxlan_name(char out[IFNAMSIZ], uint32_t vni)
{
    snprintf(out, IFNAMSIZ, "stv%u", vni);
}

const stn_network *stn_find_network(const stn_state *s, const char *id)
{
    for (size_t i = 0; i < s->n_networks; i++)
        if (strcmp(s->networks[i].id, id) == 0)
            return &s->networks[i];
    return NULL;
}

const stn_secgroup *stn_find_sg(const stn_state *s, const char *id)
{
    for (size_t i = 0; i < s->n_sgs; i++)
        if (strcmp(s->sgs[i].id, id) == 0)
            return &s->sgs[i];
    return NULL;
}

static int valid_id(const char *id)
{
    size_t n = strnlen(id, STN_ID_MAX);
    if (n == 0 || n >= STN_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

/* Interface names: [A-Za-z0-9_.-], 1..15, not starting with our own prefixes. */
static int valid_ifname(const char *s)
{
    size_t n = strnlen(s, IFNAMSIZ);
    if (n == 0 || n >= IFNAMSIZ)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return 0;
    }
    return strncmp(s, "stb", 3) != 0 && strncmp(s, "stv", 3) != 0;
}

/* A router leg's host-side name: "sr" and 12 hex digits. */
static int is_leg_name(const char *s)
{
    if (strlen(s) != 14 || strncmp(s, "sr", 2) != 0)
        return 0;
    for (int i = 2; i < 14; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int valid_prefix(uint8_t p)
{
    return p >= 8 && p <= 30;
}

static int validate_router(const stn_state *s, size_t i, char *err, size_t errlen)
{
    const stn_router *r = &s->routers[i];
    if (!valid_id(r->id))
        return stn_fail(err, errlen, "router %zu: bad id", i);
    for (size_t j = 0; j < i; j++)
        if (strcmp(s->routers[j].id, r->id) == 0)
            return stn_fail(err, errlen, "router %s: listed twice", r->id);
    if (r->n_ifs > STN_MAX_ROUTER_IFS)
        return stn_fail(err, errlen, "router %s: too many interfaces", r->id);
    for (size_t k = 0; k < r->n_ifs; k++) {
        const stn_router_if *x = &r->ifs[k];
        const stn_network *n = stn_find_network(s, x->network_id);
        if (!n || n->uplink[0])
            return stn_fail(err, errlen, "router %s: interface %zu: unknown or external network",
                            r->id, k);
        if ((x->mac[0] & 1) || !x->ip.s_addr || !valid_prefix(x->prefix))
            return stn_fail(err, errlen, "router %s: interface %zu: bad MAC, address or prefix",
                            r->id, k);
        for (size_t j = 0; j < k; j++)
            if (strcmp(r->ifs[j].network_id, x->network_id) == 0)
                return stn_fail(err, errlen, "router %s: network %s joined twice", r->id,
                                x->network_id);
    }
    if (!r->ext_network_id[0]) {
        if (r->n_fips)
            return stn_fail(err, errlen, "router %s: floating IPs need an external gateway", r->id);
        return 0;
    }
    const stn_network *e = stn_find_network(s, r->ext_network_id);
    if (!e || !e->uplink[0])
        return stn_fail(err, errlen, "router %s: gateway network is unknown or not external",
                        r->id);
    if ((r->gw_mac[0] & 1) || !r->gw_ip.s_addr || !valid_prefix(r->gw_prefix))
        return stn_fail(err, errlen, "router %s: bad gateway MAC, address or prefix", r->id);
    if (r->n_fips && !r->fips)
        return stn_fail(err, errlen, "router %s: floating IPs missing", r->id);
    for (size_t k = 0; k < r->n_fips; k++) {
        const stn_fip *f = &r->fips[k];
        if (!f->floating.s_addr || !f->fixed.s_addr || f->floating.s_addr == r->gw_ip.s_addr)
            return stn_fail(err, errlen, "router %s: floating IP %zu is invalid", r->id, k);
        for (size_t j = 0; j < k; j++)
            if (r->fips[j].floating.s_addr == f->floating.s_addr ||
                r->fips[j].fixed.s_addr == f->fixed.s_addr)
                return stn_fail(err, errlen, "router %s: floating IP %zu repeats an address", r->id,
                                k);
    }
    return 0;
}

int stn_validate(const stn_state *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n_networks; i++) {
        const stn_network *n = &s->networks[i];
        if (!valid_id(n->id))
            return stn_fail(err, errlen, "network %zu: bad id", i);
        if (n->vni == 0 || n->vni > 0xffffff)
            return stn_fail(err, errlen, "network %s: VNI %u out of range", n->id, n->vni);
        if (n->mtu < 576 || n->mtu > 9000)
            return stn_fail(err, errlen, "network %s: MTU %u out of range", n->id, n->mtu);
        if (n->uplink[0]) {
            if (!valid_ifname(n->uplink) || is_leg_name(n->uplink) || n->dhcp)
                return stn_fail(err, errlen,
                                "network %s: bad uplink, or DHCP on an external "
                                "network",
                                n->id);
        } else if (!valid_ifname(n->underlay_dev) || !n->local_vtep.s_addr)
            return stn_fail(err, errlen, "network %s: bad underlay", n->id);
        if (n->dhcp && (n->prefix < 8 || n->prefix > 30 || !n->dhcp_ip.s_addr))
            return stn_fail(err, errlen, "network %s: bad subnet for DHCP", n->id);
        if (n->n_dns > STN_MAX_DNS || n->n_routes > STN_MAX_ROUTES)
            return stn_fail(err, errlen, "network %s: too many DNS servers or routes", n->id);
        for (size_t j = 0; j < i; j++)
            if (s->networks[j].vni == n->vni || strcmp(s->networks[j].id, n->id) == 0 ||
                (n->uplink[0] && strcmp(s->networks[j].uplink, n->uplink) == 0))
                return stn_fail(err, errlen, "network %s: duplicate id, VNI or uplink", n->id);
    }
    for (size_t i = 0; i < s->n_sgs; i++) {
        const stn_secgroup *g = &s->sgs[i];
        if (!valid_id(g->id) || stn_find_sg(s, g->id) != g)
            return stn_fail(err, errlen, "security group %zu: bad or duplicate id", i);
        for (size_t r = 0; r < g->n_rules; r++) {
            const stn_sg_rule *x = &g->rules[r];
            if ((x->direction != STN_INGRESS && x->direction != STN_EGRESS) ||
                (x->ethertype != 4 && x->ethertype != 6) || x->protocol < 0 || x->protocol > 255 ||
                x->remote_prefix > 32 || x->port_max < x->port_min ||
                (x->remote_group[0] &&
                 (!valid_id(x->remote_group) || !stn_find_sg(s, x->remote_group))))
                return stn_fail(err, errlen, "security group %s: rule %zu is invalid", g->id, r);
        }
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        const stn_port *p = &s->ports[i];
        if (!valid_id(p->id) || !valid_ifname(p->ifname) || is_leg_name(p->ifname))
            return stn_fail(err, errlen, "port %zu: bad id or interface name", i);
        for (size_t k = 0; k < s->n_networks; k++)
            if (strcmp(s->networks[k].uplink, p->ifname) == 0)
                return stn_fail(err, errlen, "port %s: its interface is an uplink", p->id);
        if (!stn_find_network(s, p->network_id))
            return stn_fail(err, errlen, "port %s: unknown network", p->id);
        if (p->kind != STN_PORT_TAP && p->kind != STN_PORT_VETH)
            return stn_fail(err, errlen, "port %s: unknown kind", p->id);
        if (p->kind == STN_PORT_VETH && (!valid_ifname(p->peer_ifname) || !p->peer_netns[0]))
            return stn_fail(err, errlen, "port %s: veth needs a peer name and namespace", p->id);
        if ((p->mac[0] & 1) || p->n_ips > STN_MAX_IPS || p->n_sgs > STN_MAX_SGS)
            return stn_fail(err, errlen, "port %s: bad MAC, IPs or groups", p->id);
        for (size_t k = 0; k < p->n_sgs; k++)
            if (!stn_find_sg(s, p->sgs[k]))
                return stn_fail(err, errlen, "port %s: unknown security group", p->id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->ports[j].id, p->id) == 0 || strcmp(s->ports[j].ifname, p->ifname) == 0)
                return stn_fail(err, errlen, "port %s: duplicate id or interface", p->id);
    }
    for (size_t i = 0; i < s->n_remotes; i++) {
        const stn_network *n = stn_find_network(s, s->remotes[i].network_id);
        if (!n || n->uplink[0] || !s->remotes[i].vtep.s_addr || (s->remotes[i].mac[0] & 1))
            return stn_fail(err, errlen, "remote port %zu: bad network, VTEP or MAC", i);
    }
    if (s->n_routers && !s->routers)
        return stn_fail(err, errlen, "routers missing");
    for (size_t i = 0; i < s->n_routers; i++) {
        int rc = validate_router(s, i, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int stn_open(stn_ctx **out, const stn_options *opt, char *err, size_t errlen)
{
    stn_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return stn_fail(err, errlen, "out of memory");
    c->state_dir = strdup(opt && opt->state_dir ? opt->state_dir : "/var/lib/stratus/net");
    c->dnsmasq = strdup(opt && opt->dnsmasq ? opt->dnsmasq : "dnsmasq");
    c->netns_dir = strdup(opt && opt->netns_dir ? opt->netns_dir : "/run/netns");
    if (c->netns_dir && (c->netns_dir[0] != '/' || strlen(c->netns_dir) > 256)) {
        stn_close(c);
        return stn_fail(err, errlen, "netns_dir must be an absolute path of at most 256 bytes");
    }
    int rc = stn_nl_open(&c->nl);
    if (rc < 0 || !c->state_dir || !c->dnsmasq || !c->netns_dir) {
        stn_close(c);
        stn_fail(err, errlen, "netlink socket: %s", strerror(rc < 0 ? -rc : ENOMEM));
        return rc < 0 ? rc : -ENOMEM;
    }
    *out = c;
    return 0;
}

void stn_close(stn_ctx *c)
{
    if (!c)
        return;
    stn_nl_close(c->nl);
    free(c->links);
    free(c->state_dir);
    free(c->dnsmasq);
    free(c->netns_dir);
    free(c);
}

/* br_netfilter hands bridged IPv4 to the inet table: security groups need it. */
static int bridge_nf_on(char *err, size_t errlen)
{
    const char *p = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    FILE *f = fopen(p, "re");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    if (v == 1)
        return 0;
    f = fopen(p, "we");
    if (!f || fputs("1\n", f) < 0 || fclose(f) != 0)
        return stn_fail(err, errlen, "%s cannot be set: security groups need br_netfilter", p);
    return 0;
}

int stn_converge(stn_ctx *c, const stn_state *s, stn_stats *stats, char *err, size_t errlen)
{
    stn_stats local;
    stn_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    int rc = stn_validate(s, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = bridge_nf_on(err, errlen)) < 0 ||
        (rc = stn_converge_router_ns(c, s, st, err, errlen)) < 0 ||
        (rc = stn_converge_links(c, s, st, err, errlen)) < 0 ||
        (rc = stn_converge_addrs(c, s, st, err, errlen)) < 0 ||
        (rc = stn_converge_l2pop(c, s, st, err, errlen)) < 0 ||
        (rc = stn_converge_nft(c, s, st, err, errlen)) < 0 ||
        (rc = stn_converge_dhcp(c, s, st, err, errlen)) < 0 ||
        (rc = stn_converge_routers(c, s, st, err, errlen)) < 0)
        return rc;
    return 0;
}

/* The converge steps with an empty state (each removes what it owns and no
 * state wants), then the nftables tables, which an empty state would keep
 * (empty, with their base chains). br_netfilter's sysctl is left as is: it
 * is the host's, and other bridges may rely on it. */
int stn_teardown(stn_ctx *c, stn_stats *stats, char *err, size_t errlen)
{
    stn_stats local;
    stn_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    const stn_state none = {0};
    int rc;
    if ((rc = stn_converge_router_ns(c, &none, st, err, errlen)) < 0 ||
        (rc = stn_converge_links(c, &none, st, err, errlen)) < 0 ||
        (rc = stn_converge_dhcp(c, &none, st, err, errlen)) < 0 ||
        (rc = stn_nft_remove(st, err, errlen)) < 0)
        return rc;
    return 0;
}
