/*
 * netstep.c - the agent drives the host data plane (libstratus_net).
 *
 * Level-triggered like the rest of the agent: whenever the desired set
 * changes, and every interval.network_ms anyway (so a host whose devices
 * were wiped heals), the loop builds the WHOLE stn_state from what it holds
 * and a pool job calls stn_converge(), which adds what is missing, removes
 * what is no longer desired and leaves the rest alone. One converge at a
 * time; a change during one makes another follow it. Nothing is converged
 * before the first desired set arrives: an agent that just started knows
 * nothing yet, and converging that would tear down every guest's network.
 *
 * What the state holds:
 *   - a tap port (tap + the first 11 characters of the port id) for every
 *     virtio port of every listed instance whose order is not "deleted";
 *   - each network those ports are on, with its first IPv4 subnet for DHCP;
 *   - the networks' ports on other hosts whose host told its tunnel IP and
 *     that have an IPv4 address (FDB and neighbour entries);
 *   - the security groups (IPv4 rules and members).
 * The DHCP server's address is the one the gateway reserved for the
 * subnet (dhcp_ip, never given to a port); a subnet without one gets no
 * DHCP server here.
 *
 * A launch waits until its ports' taps exist (nd_net_ready), so no VMM is
 * started on a missing tap. The metadata seam (metadata_port, md_tag)
 * stays 0: the metadata service is not served yet.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/log.h"

#ifdef ND_HAVE_NET
#include "stratus/net.h"

struct nd_net {
    stn_ctx *ctx;
    nd_netset set; /* the last desired set's networks and groups */
    int have_set;  /* a desired set arrived: before it, converging would tear all down */
    int busy, dirty, waiting;
    uv_timer_t t;
};

typedef struct net_job {
    uv_work_t w;
    nd_agent *a;
    stn_state s;
    stn_stats st;
    int rc;
    char err[512];
} net_job;

/* ---- building the state ---- */

static int mac_bin(const char *s, uint8_t m[6])
{
    unsigned v[6];
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        m[i] = (uint8_t)v[i];
    return 0;
}

static void state_free(stn_state *s)
{
    for (size_t i = 0; i < s->n_sgs; i++) {
        free(s->sgs[i].rules);
        free(s->sgs[i].members);
    }
    free(s->networks);
    free(s->ports);
    free(s->remotes);
    free(s->sgs);
    memset(s, 0, sizeof *s);
}

static int wanted_here(const nd_inst *in)
{
    return in->present && in->want.desired != ND_WANT_DELETED;
}

static int build(nd_agent *a, stn_state *s)
{
    const nd_netset *ns = &a->net->set;
    size_t nports = 0, nremotes = 0;
    memset(s, 0, sizeof *s);
    for (nd_inst *in = a->insts; in; in = in->next)
        if (wanted_here(in))
            nports += (size_t)in->want.o.nports;
    for (size_t i = 0; i < ns->n; i++)
        nremotes += ns->nets[i].nremotes * ND_MAX_FIXED_IPS;
    s->networks = calloc(ns->n + 1, sizeof *s->networks);
    s->ports = calloc(nports + 1, sizeof *s->ports);
    s->remotes = calloc(nremotes + 1, sizeof *s->remotes);
    s->sgs = calloc(ns->nsgs + 1, sizeof *s->sgs);
    if (!s->networks || !s->ports || !s->remotes || !s->sgs)
        goto oom;
    for (size_t i = 0; i < ns->nsgs; i++) {
        const nd_secgroup *g = &ns->sgs[i];
        stn_secgroup *o = &s->sgs[s->n_sgs++];
        snprintf(o->id, sizeof o->id, "%s", g->id);
        o->rules = calloc(g->nrules + 1, sizeof *o->rules);
        o->members = calloc(g->nmembers + 1, sizeof *o->members);
        if (!o->rules || !o->members)
            goto oom;
        memcpy(o->members, g->members, g->nmembers * sizeof *g->members);
        o->n_members = g->nmembers;
        for (size_t r = 0; r < g->nrules; r++) {
            const nd_sg_rule *x = &g->rules[r];
            if (!x->v4)
                continue; /* ports carry no IPv6 */
            stn_sg_rule *y = &o->rules[o->n_rules++];
            y->direction = x->egress ? STN_EGRESS : STN_INGRESS;
            y->ethertype = 4;
            y->protocol = x->protocol;
            if ((x->protocol == 6 || x->protocol == 17) && x->port_min >= 0) {
                y->port_min = (uint16_t)x->port_min;
                y->port_max = (uint16_t)x->port_max;
            }
            if (x->remote_prefix >= 0) {
                y->remote_cidr = x->remote_net;
                y->remote_prefix = (uint8_t)x->remote_prefix;
            }
            snprintf(y->remote_group, sizeof y->remote_group, "%s", x->remote_group);
        }
    }
    for (size_t i = 0; i < ns->n; i++) {
        const nd_network *n = &ns->nets[i];
        stn_network *o = &s->networks[s->n_networks++];
        snprintf(o->id, sizeof o->id, "%s", n->id);
        o->vni = n->vni;
        o->mtu = (unsigned)n->mtu;
        snprintf(o->underlay_dev, sizeof o->underlay_dev, "%s", a->c.underlay_dev);
        inet_pton(AF_INET, a->c.tunnel_ip, &o->local_vtep);
        for (size_t k = 0; k < n->nsubnets; k++) {
            const nd_subnet *sb = &n->subnets[k];
            if (!sb->v4)
                continue;
            /* the gateway reserves the server's address; none: no server */
            o->dhcp = sb->dhcp && sb->dhcp_ip.s_addr;
            o->cidr = sb->net;
            o->prefix = (uint8_t)sb->prefix;
            o->dhcp_ip = sb->dhcp_ip;
            o->gateway = sb->gateway;
            memcpy(o->dns, sb->dns, sizeof o->dns);
            o->n_dns = (size_t)sb->ndns;
            for (int r = 0; r < sb->nroutes; r++) {
                o->routes[r].dst = sb->routes[r].dst;
                o->routes[r].prefix = (uint8_t)sb->routes[r].prefix;
                o->routes[r].via = sb->routes[r].via;
            }
            o->n_routes = (size_t)sb->nroutes;
            break; /* the first IPv4 subnet */
        }
        for (size_t k = 0; k < n->nremotes; k++) {
            const nd_remote_port *r = &n->remotes[k];
            if (!r->tunnel.s_addr || r->tunnel.s_addr == o->local_vtep.s_addr)
                continue;
            for (int q = 0; q < r->nfixed_ips; q++) {
                stn_remote_port *y = &s->remotes[s->n_remotes];
                if (inet_pton(AF_INET, r->fixed_ips[q].ip_address, &y->ip) != 1)
                    continue;
                snprintf(y->network_id, sizeof y->network_id, "%s", n->id);
                mac_bin(r->mac, y->mac);
                y->vtep = r->tunnel;
                s->n_remotes++;
            }
        }
    }
    for (nd_inst *in = a->insts; in; in = in->next) {
        if (!wanted_here(in))
            continue;
        for (int k = 0; k < in->want.o.nports; k++) {
            const nd_port *p = &in->want.o.ports[k];
            if (strcmp(p->vnic_type, "virtio") != 0 || !nd_netset_find(ns, p->network_id))
                continue; /* direct (SR-IOV) ports have no tap; an unknown network: waits */
            stn_port *o = &s->ports[s->n_ports++];
            snprintf(o->id, sizeof o->id, "%s", p->id);
            snprintf(o->network_id, sizeof o->network_id, "%s", p->network_id);
            o->kind = STN_PORT_TAP;
            nd_port_tap(p->id, o->ifname);
            mac_bin(p->mac, o->mac);
            for (int q = 0; q < p->nfixed_ips && o->n_ips < STN_MAX_IPS; q++)
                if (inet_pton(AF_INET, p->fixed_ips[q].ip_address, &o->ips[o->n_ips]) == 1)
                    o->n_ips++;
            for (size_t g = 0; g < ns->nsgs && o->n_sgs < STN_MAX_SGS; g++)
                for (size_t m = 0; m < ns->sgs[g].nports; m++)
                    if (!strcmp(ns->sgs[g].port_ids[m], p->id)) {
                        snprintf(o->sgs[o->n_sgs++], STN_ID_MAX, "%s", ns->sgs[g].id);
                        break;
                    }
            o->owner = geteuid(); /* the VMMs run as the agent's user */
            o->group = getegid();
        }
    }
    return 0;
oom:
    state_free(s);
    return -1;
}

/* ---- the converge job ---- */

static void net_run(uv_work_t *w)
{
    net_job *j = w->data;
    j->rc = stn_converge(j->a->net->ctx, &j->s, &j->st, j->err, sizeof j->err);
}

static int changed(const stn_stats *x)
{
    return x->links_added || x->links_changed || x->links_removed || x->fdb_added ||
           x->fdb_removed || x->neigh_added || x->neigh_removed || x->addrs_added ||
           x->addrs_removed || x->nft_applied || x->dhcp_started || x->dhcp_reloaded ||
           x->dhcp_stopped;
}

static void net_done(uv_work_t *w, int status)
{
    net_job *j = w->data;
    nd_agent *a = j->a;
    struct nd_net *n = a->net;
    n->busy = 0;
    nd_metric_inc("net_converges", j->rc == 0 ? "ok" : "failed");
    if (j->rc < 0) {
        st_warn("node.net", "converge: %s", j->err);
    } else if (changed(&j->st)) {
        const stn_stats *x = &j->st;
        st_log_fields(
            ST_LOG_INFO, "node.net",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "networks", (json_int_t)j->s.n_networks, "ports", (json_int_t)j->s.n_ports,
                      "links_added", (json_int_t)x->links_added, "links_changed",
                      (json_int_t)x->links_changed, "links_removed", (json_int_t)x->links_removed,
                      "fdb_added", (json_int_t)x->fdb_added, "fdb_removed",
                      (json_int_t)x->fdb_removed, "neigh_added", (json_int_t)x->neigh_added,
                      "neigh_removed", (json_int_t)x->neigh_removed, "addrs_changed",
                      (json_int_t)(x->addrs_added + x->addrs_removed), "nft_applied",
                      (json_int_t)x->nft_applied, "dhcp_started", (json_int_t)x->dhcp_started,
                      "dhcp_reloaded", (json_int_t)x->dhcp_reloaded, "dhcp_stopped",
                      (json_int_t)x->dhcp_stopped, "remotes", (json_int_t)j->s.n_remotes));
    }
    state_free(&j->s);
    free(j);
    if (a->stopping)
        return;
    if (n->dirty)
        nd_net_kick(a);
    else if (n->waiting) {
        n->waiting = 0;
        nd_reconcile_kick(a); /* a launch waits for its taps: decide again */
    }
}

void nd_net_kick(nd_agent *a)
{
    struct nd_net *n = a->net;
    if (!n || a->stopping || !n->have_set)
        return;
    if (n->busy) {
        n->dirty = 1;
        return;
    }
    n->dirty = 0;
    net_job *j = calloc(1, sizeof *j);
    if (!j || build(a, &j->s) < 0) {
        free(j);
        st_warn("node.net", "out of memory building the network state");
        return;
    }
    j->a = a;
    j->w.data = j;
    n->busy = 1;
    if (uv_queue_work(a->loop, &j->w, net_run, net_done) != 0) {
        n->busy = 0;
        state_free(&j->s);
        free(j);
    }
}

void nd_net_desired(nd_agent *a, nd_netset *set)
{
    if (!a->net)
        return;
    nd_netset_free(&a->net->set);
    a->net->set = *set;
    a->net->have_set = 1;
    memset(set, 0, sizeof *set); /* moved */
    nd_net_kick(a);
}

int nd_net_ready(nd_agent *a, const nd_order *o)
{
    if (!a->net)
        return 1; /* no data plane here: the launch finds out itself */
    for (int i = 0; i < o->nports; i++) {
        char tap[16];
        if (strcmp(o->ports[i].vnic_type, "virtio") != 0)
            continue;
        nd_port_tap(o->ports[i].id, tap);
        if (if_nametoindex(tap) == 0) {
            a->net->waiting = 1;
            return 0;
        }
    }
    return 1;
}

static void on_net_timer(uv_timer_t *t)
{
    nd_net_kick(t->data);
}

int nd_net_start(nd_agent *a)
{
    const nd_conf *c = &a->c;
    char err[512];
    int required = !strcmp(c->net_enabled, "true");
    if (!strcmp(c->net_enabled, "false"))
        return 0;
    if (!c->tunnel_ip[0] || !c->underlay_dev[0]) {
        snprintf(err, sizeof err,
                 "no tunnel IP / underlay device (network.tunnel_ip, "
                 "network.underlay_dev) and none could be found");
        goto off;
    }
    /* dnsmasq drops to nobody and re-reads its hosts file on SIGHUP: its
     * directory (and the state directory it is in, by default) must be
     * traversable; neither can be listed. */
    int rc = nd_mkdirs(c->net_state_dir, 0711);
    if (rc == 0 && chmod(c->net_state_dir, 0711) < 0)
        rc = -errno;
    char def[4300];
    snprintf(def, sizeof def, "%s/net", c->state_dir);
    if (rc == 0 && !strcmp(def, c->net_state_dir) && chmod(c->state_dir, 0711) < 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(err, sizeof err, "%.400s: %s", c->net_state_dir, strerror(-rc));
        goto off;
    }
    struct nd_net *n = calloc(1, sizeof *n);
    stn_options opt = {.state_dir = c->net_state_dir, .dnsmasq = c->dnsmasq[0] ? c->dnsmasq : NULL};
    if (!n || stn_open(&n->ctx, &opt, err, sizeof err) < 0) {
        free(n);
        goto off;
    }
    a->net = n;
    a->c.net_on = 1;
    uv_timer_init(a->loop, &n->t);
    n->t.data = a;
    uv_timer_start(&n->t, on_net_timer, (uint64_t)c->net_ms, (uint64_t)c->net_ms);
    st_info("node.net", "data plane on: tunnel %s on %s, state %s", c->tunnel_ip, c->underlay_dev,
            c->net_state_dir);
    return 0;
off:
    if (required) {
        st_error("node.net", "network.enabled is true but: %s", err);
        return -1;
    }
    st_warn("node.net", "tenant networks off on this node: %s", err);
    return 0;
}

void nd_net_stop(nd_agent *a, uv_close_cb cb)
{
    if (a->net)
        uv_close((uv_handle_t *)&a->net->t, cb);
}

void nd_net_free(nd_agent *a)
{
    if (!a->net)
        return;
    stn_close(a->net->ctx);
    nd_netset_free(&a->net->set);
    free(a->net);
    a->net = NULL;
}

#else /* built without network/ */

void nd_net_kick(nd_agent *a) {}

void nd_net_desired(nd_agent *a, nd_netset *set) {}

int nd_net_ready(nd_agent *a, const nd_order *o)
{
    return 1;
}

int nd_net_start(nd_agent *a)
{
    if (!strcmp(a->c.net_enabled, "true")) {
        st_error("node.net", "network.enabled is true but this agent was built without network/");
        return -1;
    }
    return 0;
}

void nd_net_stop(nd_agent *a, uv_close_cb cb) {}

void nd_net_free(nd_agent *a) {}
#endif

/* ---- the tunnel IP and underlay device when not configured ---- */

/* The local address the kernel would use to reach the gateway's host. */
static int route_src(const char *gw_url, struct in_addr *src)
{
    char host[256] = "", port[16] = "80";
    const char *p = strstr(gw_url, "://");
    p = p ? p + 3 : gw_url;
    size_t n = strcspn(p, ":/");
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, p, n);
    if (p[n] == ':')
        snprintf(port, sizeof port, "%.*s", (int)strcspn(p + n + 1, "/"), p + n + 1);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return -1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    int rc = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
                     getsockname(fd, (struct sockaddr *)&me, &len) == 0
                 ? 0
                 : -1;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    if (rc == 0)
        *src = me.sin_addr;
    return rc;
}

void nd_net_detect(nd_conf *c)
{
    struct ifaddrs *ifs = NULL, *i;
    struct in_addr want = {0};
    if (c->tunnel_ip[0] && inet_pton(AF_INET, c->tunnel_ip, &want) != 1) {
        st_warn("node.net", "network.tunnel_ip %s is not an IPv4 address", c->tunnel_ip);
        c->tunnel_ip[0] = 0;
        return;
    }
    if (!c->tunnel_ip[0]) {
        if (route_src(c->gw_url, &want) < 0)
            return;
        inet_ntop(AF_INET, &want, c->tunnel_ip, sizeof c->tunnel_ip);
    }
    if (c->underlay_dev[0] || getifaddrs(&ifs) < 0)
        return;
    for (i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == want.s_addr &&
            strlen(i->ifa_name) < sizeof c->underlay_dev) {
            snprintf(c->underlay_dev, sizeof c->underlay_dev, "%s", i->ifa_name);
            break;
        }
    freeifaddrs(ifs);
}
