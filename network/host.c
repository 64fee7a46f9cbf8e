/*
 * host.c - converge the host's links and addresses.
 *
 * Desired links: per network a bridge "stb<vni>" and a VXLAN device
 * "stv<vni>" enslaved to it (an external network: its uplink instead, which
 * is only enslaved and set up, never created, renamed or deleted); per port
 * its tap or veth end enslaved to its network's bridge; per router leg a
 * veth "sr<hash>" in the network's bridge whose peer is in the router's
 * namespace (router.c makes the namespace first). Every one carries an ifalias "stratus:..." which
 * is how a later pass (in a new process, after a crash) knows the link is ours: a stratus link that
 * is not desired is deleted, a foreign link is never touched, and a foreign link squatting on a
 * wanted name is an error.
 *
 * A link whose kind or immutable parameters (VNI, local VTEP, port,
 * learning, proxy, tap flags) differ from the desired ones is deleted and
 * created again; mutable ones (master, MTU, up, alias) are set in place, one
 * RTM_NEWLINK carrying only what differs. A link that is right is not sent
 * any message, so converging twice sends nothing the second time.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add_link(const stn_link *l, void *data)
{
    stn_ctx *c = data;
    if (c->n_links == c->cap_links) {
        size_t cap = c->cap_links ? c->cap_links * 2 : 64;
        stn_link *n = realloc(c->links, cap * sizeof *n);
        if (!n)
            return; /* stn_reload_links() notices the short count */
        c->links = n;
        c->cap_links = cap;
    }
    c->links[c->n_links++] = *l;
}

int stn_reload_links(stn_ctx *c)
{
    c->n_links = 0;
    return stn_nl_links(c->nl, add_link, c);
}

const stn_link *stn_link_by_name(const stn_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_links; i++)
        if (strcmp(c->links[i].name, name) == 0)
            return &c->links[i];
    return NULL;
}

/* One desired link, flattened from networks, ports and router legs. */
typedef struct want {
    char name[IFNAMSIZ];
    char alias[128];  /* "" for an uplink: not ours, its alias is left alone */
    const char *kind; /* "bridge", "vxlan", "tun", "veth", "uplink" */
    char master[IFNAMSIZ];
    unsigned mtu; /* 0: left alone (an uplink) */
    const stn_network *net;
    const stn_port *port; /* kind "tun" */
    /* kind "veth": the peer, created in a namespace with a MAC */
    char peer[IFNAMSIZ];
    const char *peer_ns;
    char peer_ns_buf[STN_NETNS_PATH_MAX];
    uint8_t peer_mac[6];
} want;

/* The links a state asks for (at most stn_count_links(s)). */
static size_t count_wants(const stn_state *s)
{
    size_t n = 2 * s->n_networks + s->n_ports;
    for (size_t i = 0; i < s->n_routers; i++)
        n += s->routers[i].n_ifs + 1;
    return n;
}

static void leg(stn_ctx *c, want *x, const stn_state *s, const stn_router *r, const char *net_id,
                const uint8_t mac[6], int gw)
{
    const stn_network *net = stn_find_network(s, net_id);
    memset(x, 0, sizeof *x);
    stn_router_leg(x->name, r->id, net->id);
    snprintf(x->alias, sizeof x->alias, STN_ALIAS_RTR "%s", r->id);
    x->kind = "veth";
    stn_bridge_name(x->master, net->vni);
    x->mtu = net->mtu;
    x->net = net;
    snprintf(x->peer, sizeof x->peer, "%s%u", gw ? "qg-" : "qr-", net->vni);
    stn_router_ns_path(c, r->id, x->peer_ns_buf, sizeof x->peer_ns_buf);
    x->peer_ns = x->peer_ns_buf;
    memcpy(x->peer_mac, mac, 6);
}

static size_t wants(stn_ctx *c, const stn_state *s, want *w)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_networks; i++) {
        const stn_network *net = &s->networks[i];
        want *b = &w[n++], *v = &w[n++];
        memset(b, 0, 2 * sizeof *b);
        stn_bridge_name(b->name, net->vni);
        snprintf(b->alias, sizeof b->alias, STN_ALIAS_NET "%s", net->id);
        b->kind = "bridge";
        b->mtu = net->mtu;
        b->net = net;
        if (net->uplink[0]) {
            /* flat: the uplink itself joins the bridge (and keeps its MTU) */
            snprintf(v->name, sizeof v->name, "%s", net->uplink);
            v->kind = "uplink";
        } else {
            stn_vxlan_name(v->name, net->vni);
            snprintf(v->alias, sizeof v->alias, STN_ALIAS_NET "%s", net->id);
            v->kind = "vxlan";
            v->mtu = net->mtu;
        }
        memcpy(v->master, b->name, IFNAMSIZ);
        v->net = net;
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        const stn_port *p = &s->ports[i];
        const stn_network *net = stn_find_network(s, p->network_id);
        want *x = &w[n++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", p->ifname);
        snprintf(x->alias, sizeof x->alias, STN_ALIAS_PORT "%s", p->id);
        x->kind = p->kind == STN_PORT_TAP ? "tun" : "veth";
        stn_bridge_name(x->master, net->vni);
        x->mtu = net->mtu;
        x->net = net;
        x->port = p;
        if (p->kind == STN_PORT_VETH) {
            snprintf(x->peer, sizeof x->peer, "%s", p->peer_ifname);
            x->peer_ns = p->peer_netns;
            memcpy(x->peer_mac, p->mac, 6);
        }
    }
    for (size_t i = 0; i < s->n_routers; i++) {
        const stn_router *r = &s->routers[i];
        for (size_t k = 0; k < r->n_ifs; k++)
            leg(c, &w[n++], s, r, r->ifs[k].network_id, r->ifs[k].mac, 0);
        if (r->ext_network_id[0])
            leg(c, &w[n++], s, r, r->ext_network_id, r->gw_mac, 1);
    }
    return n;
}

static int ours(const stn_link *l)
{
    return strncmp(l->alias, "stratus:", 8) == 0;
}

/* Whether an existing link of the right kind has the right fixed parameters. */
static int fits(const stn_link *l, const want *w)
{
    if (strcmp(w->kind, "uplink") == 0)
        return 1; /* the operator's device: whatever it is */
    if (strcmp(l->kind, w->kind) != 0)
        return 0;
    if (strcmp(w->kind, "vxlan") == 0)
        return l->has_vxlan && l->vx_vni == w->net->vni &&
               l->vx_local == w->net->local_vtep.s_addr && l->vx_port == 4789 && !l->vx_learning &&
               l->vx_proxy && l->vx_group == 0;
    if (strcmp(w->kind, "tun") == 0)
        return l->has_tun && l->tun_type == IFF_TAP && !l->tun_pi && l->tun_vnet_hdr &&
               l->tun_persist && !l->tun_mq && l->tun_owner == (uint32_t)w->port->owner &&
               l->tun_group == (uint32_t)w->port->group;
    return 1;
}

static int nl_do(stn_ctx *c, struct nlmsghdr *m, char *err, size_t errlen, const char *what,
                 const char *name)
{
    int rc = stn_nl_do(c->nl, m);
    if (rc < 0)
        return stn_fail(err, errlen, "%s %s: %s", what, name, strerror(-rc));
    return 0;
}

static int create(stn_ctx *c, const want *w, char *err, size_t errlen)
{
    void *buf = stn_nl_buf(c->nl);
    if (strcmp(w->kind, "bridge") == 0)
        return nl_do(c, stn_msg_newlink_bridge(buf, stn_nl_seq(c->nl), w->name, w->mtu), err,
                     errlen, "create bridge", w->name);
    if (strcmp(w->kind, "vxlan") == 0) {
        const stn_link *u = stn_link_by_name(c, w->net->underlay_dev);
        if (!u)
            return stn_fail(err, errlen, "network %s: underlay device %s not found", w->net->id,
                            w->net->underlay_dev);
        return nl_do(c,
                     stn_msg_newlink_vxlan(buf, stn_nl_seq(c->nl), w->name, w->net->vni,
                                           w->net->local_vtep.s_addr, u->index, w->mtu),
                     err, errlen, "create vxlan", w->name);
    }
    if (strcmp(w->kind, "tun") == 0) {
        int rc = stn_tap_create(w->name, w->port->owner, w->port->group);
        return rc < 0 ? stn_fail(err, errlen, "create tap %s: %s", w->name, strerror(-rc)) : 0;
    }
    if (strcmp(w->kind, "uplink") == 0)
        return stn_fail(err, errlen, "network %s: uplink %s not found", w->net->id, w->name);
    int fd = open(w->peer_ns, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return stn_fail(err, errlen, "%s: namespace %s: %s", w->name, w->peer_ns, strerror(errno));
    int rc = nl_do(
        c, stn_msg_newlink_veth(buf, stn_nl_seq(c->nl), w->name, w->mtu, w->peer, fd, w->peer_mac),
        err, errlen, "create veth", w->name);
    close(fd);
    return rc;
}

static int is_wanted(const want *w, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(w[i].name, name) == 0)
            return 1;
    return 0;
}

static int delete_one(stn_ctx *c, const stn_link *l, char *err, size_t errlen)
{
    /* ENODEV: gone already (a router leg dies with its namespace) */
    int rc = stn_nl_do(c->nl, stn_msg_dellink(stn_nl_buf(c->nl), stn_nl_seq(c->nl), l->index));
    if (rc < 0 && rc != -ENODEV)
        return stn_fail(err, errlen, "delete %s: %s", l->name, strerror(-rc));
    return 0;
}

/* Deletes the links c->links[doomed[0..n)]. Each RTM_DELLINK of one link
 * waits out an RCU grace period in the kernel (about 20 ms a link on a busy
 * host: 998 taps took 20 s), so two or more go as one group delete. */
static int delete_links(stn_ctx *c, const size_t *doomed, size_t n, char *err, size_t errlen)
{
    int bulk = n > 1;
    for (size_t i = 0; i < c->n_links && bulk; i++) {
        const stn_link *l = &c->links[i];
        if (l->group != STN_DOOMED_GROUP)
            continue;
        int mine = 0;
        for (size_t k = 0; k < n && !mine; k++)
            mine = doomed[k] == i;
        if (mine)
            continue;
        if (!ours(l)) {
            bulk = 0;
            break;
        }
        int rc = stn_nl_do(
            c->nl, stn_msg_setlink_group(stn_nl_buf(c->nl), stn_nl_seq(c->nl), l->index, 0));
        if (rc < 0 && rc != -ENODEV)
            return stn_fail(err, errlen, "regroup %s: %s", l->name, strerror(-rc));
    }
    for (size_t k = 0; k < n; k++) {
        const stn_link *l = &c->links[doomed[k]];
        if (!bulk) {
            int rc = delete_one(c, l, err, errlen);
            if (rc < 0)
                return rc;
            continue;
        }
        int rc = stn_nl_do(c->nl, stn_msg_setlink_group(stn_nl_buf(c->nl), stn_nl_seq(c->nl),
                                                        l->index, STN_DOOMED_GROUP));
        if (rc < 0 && rc != -ENODEV)
            return stn_fail(err, errlen, "mark %s: %s", l->name, strerror(-rc));
    }
    if (!bulk)
        return 0;
    int rc = stn_nl_do(
        c->nl, stn_msg_dellink_group(stn_nl_buf(c->nl), stn_nl_seq(c->nl), STN_DOOMED_GROUP));
    if (rc == -ENODEV) /* every one had gone already */
        return 0;
    if (rc == -EOPNOTSUPP) /* a kind without dellink: one at a time */
        for (size_t k = 0; k < n; k++)
            if ((rc = delete_one(c, &c->links[doomed[k]], err, errlen)) < 0)
                return rc;
    return rc < 0 ? stn_fail(err, errlen, "delete %zu links: %s", n, strerror(-rc)) : 0;
}

int stn_converge_links(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen)
{
    size_t *doomed = NULL;
    size_t cap = count_wants(s);
    want *w = calloc(cap ? cap : 1, sizeof *w);
    if (!w)
        return stn_fail(err, errlen, "out of memory");
    size_t n = wants(c, s, w);
    int rc = stn_reload_links(c);
    if (rc < 0) {
        stn_fail(err, errlen, "dump links: %s", strerror(-rc));
        goto out;
    }
    /* Remove ours that are not wanted or do not fit; ports before bridges
     * does not matter: deleting a bridge releases its ports. */
    doomed = calloc(c->n_links ? c->n_links : 1, sizeof *doomed);
    if (!doomed) {
        rc = stn_fail(err, errlen, "out of memory");
        goto out;
    }
    size_t ndoomed = 0;
    for (size_t i = 0; i < c->n_links; i++) {
        const stn_link *l = &c->links[i];
        int del = 0;
        if (ours(l) && !is_wanted(w, n, l->name))
            del = 1;
        for (size_t j = 0; j < n && !del; j++)
            if (strcmp(w[j].name, l->name) == 0 && !fits(l, &w[j])) {
                if (!ours(l) && strcmp(l->kind, w[j].kind) != 0) {
                    rc = stn_fail(err, errlen, "%s exists and is not a stratus %s", l->name,
                                  w[j].kind);
                    goto out;
                }
                del = 1;
            }
        if (del)
            doomed[ndoomed++] = i;
    }
    if ((rc = delete_links(c, doomed, ndoomed, err, errlen)) < 0)
        goto out;
    st->links_removed += (unsigned)ndoomed;
    if ((rc = stn_reload_links(c)) < 0)
        goto out;
    for (size_t j = 0; j < n; j++)
        if (!stn_link_by_name(c, w[j].name)) {
            if ((rc = create(c, &w[j], err, errlen)) < 0)
                goto out;
            st->links_added++;
        }
    if ((rc = stn_reload_links(c)) < 0)
        goto out;
    /* Mutable settings, bridges first so ports can join them. */
    for (size_t j = 0; j < n; j++) {
        const stn_link *l = stn_link_by_name(c, w[j].name);
        if (!l) {
            rc = stn_fail(err, errlen, "%s vanished while converging", w[j].name);
            goto out;
        }
        int master = -1;
        if (w[j].master[0]) {
            const stn_link *m = stn_link_by_name(c, w[j].master);
            if (!m) {
                rc = stn_fail(err, errlen, "bridge %s missing", w[j].master);
                goto out;
            }
            if (l->master != m->index)
                master = m->index;
        }
        unsigned mtu = w[j].mtu && l->mtu != w[j].mtu ? w[j].mtu : 0;
        const char *alias = w[j].alias[0] && strcmp(l->alias, w[j].alias) != 0 ? w[j].alias : NULL;
        int down = !(l->flags & IFF_UP);
        if (master < 0 && !mtu && !alias && !down)
            continue;
        rc = nl_do(
            c,
            stn_msg_setlink(stn_nl_buf(c->nl), stn_nl_seq(c->nl), l->index, master, mtu, 1, alias),
            err, errlen, "set", l->name);
        if (rc < 0)
            goto out;
        st->links_changed++;
    }
    rc = stn_reload_links(c);
out:
    free(doomed);
    free(w);
    return rc < 0 ? rc : 0;
}

/* ---- addresses: the DHCP server's /32 on its network's bridge ---- */

typedef struct addr_list {
    stn_addr *a;
    size_t n, cap;
} addr_list;

static void add_addr(const stn_addr *a, void *data)
{
    addr_list *l = data;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        stn_addr *n = realloc(l->a, cap * sizeof *n);
        if (!n)
            return;
        l->a = n;
        l->cap = cap;
    }
    l->a[l->n++] = *a;
}

int stn_converge_addrs(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen)
{
    addr_list have = {0};
    int rc = stn_nl_addrs(c->nl, add_addr, &have);
    if (rc < 0) {
        free(have.a);
        return stn_fail(err, errlen, "dump addresses: %s", strerror(-rc));
    }
    for (size_t i = 0; i < s->n_networks && rc >= 0; i++) {
        const stn_network *net = &s->networks[i];
        char br[IFNAMSIZ];
        stn_bridge_name(br, net->vni);
        const stn_link *l = stn_link_by_name(c, br);
        if (!l)
            continue;
        int found = 0;
        for (size_t k = 0; k < have.n && rc >= 0; k++) {
            if (have.a[k].ifindex != l->index)
                continue;
            if (net->dhcp && have.a[k].local == net->dhcp_ip.s_addr && have.a[k].prefix == 32) {
                found = 1;
                continue;
            }
            rc = nl_do(c,
                       stn_msg_addr(stn_nl_buf(c->nl), stn_nl_seq(c->nl), 0, l->index,
                                    have.a[k].local, have.a[k].prefix),
                       err, errlen, "remove address from", br);
            st->addrs_removed++;
        }
        if (rc >= 0 && net->dhcp && !found) {
            rc = nl_do(c,
                       stn_msg_addr(stn_nl_buf(c->nl), stn_nl_seq(c->nl), 1, l->index,
                                    net->dhcp_ip.s_addr, 32),
                       err, errlen, "add address to", br);
            st->addrs_added++;
        }
    }
    free(have.a);
    return rc < 0 ? rc : 0;
}
