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
 *   - the security groups (IPv4 rules and members);
 *   - an external network flat on network.external_interface, and the
 *     routers placed here (netrouter.c).
 * The DHCP server's address is the one the gateway reserved for the
 * subnet (dhcp_ip, never given to a port); a subnet without one gets no
 * DHCP server here.
 *
 * With network.port_kind = veth, each port is a veth instead, its peer
 * eth<NIC index> in the namespace <network.guest_netns_dir>/<instance id>
 * (a namespace plays the guest); a port whose namespace does not exist
 * yet waits for it.
 *
 * A launch waits until its ports' taps exist (nd_net_ready), so no VMM is
 * started on a missing tap.
 *
 * The metadata service (network/'s stn_md, on network.metadata_port) runs
 * in the agent: every port gets a tag (FNV-1a of its id, probed past a
 * collision in id order, so the same in every process and the ruleset is
 * the same after a restart), and after each converge the service learns
 * (bridge, port address) -> tag and each tag's documents, its instance's:
 * id, name, the port's first fixed IP, the floating IP, the keypair's
 * public key and the decoded user_data. A tag that names another port now
 * is emptied before the service learns the new map.
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
#include <openssl/evp.h>

#include "stratus/metadata.h"
#include "stratus/net.h"

/* A metadata tag the service holds documents for, and the port it is for. */
typedef struct md_held {
    uint32_t tag;
    char port[ND_ID_LEN];
} md_held;

struct nd_net {
    stn_ctx *ctx;
    nd_netset set; /* the last desired set's networks and groups */
    int have_set;  /* a desired set arrived: before it, converging would tear all down */
    int busy, dirty, waiting;
    uv_timer_t t;
    stn_md *md;    /* the metadata service, or NULL */
    md_held *held; /* what md holds (touched by the one converge job only) */
    size_t n_held;
};

/* One port's metadata: its instance's documents, for tag. */
typedef struct md_item {
    uint32_t tag;
    char port[ND_ID_LEN];
    char inst[ND_ID_LEN];
    char name[256];
    char *ssh_key;
    unsigned char *user_data; /* decoded; NULL: none */
    size_t user_data_len;
    struct in_addr local, pub;
} md_item;

typedef struct net_job {
    uv_work_t w;
    nd_agent *a;
    stn_state s;
    stn_stats st;
    int rc;
    char err[512];
    md_item *md; /* one per port of s, same order */
    int md_rc;
    char md_err[512];
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
    nd_net_routers_free(s);
    free(s->networks);
    free(s->ports);
    free(s->remotes);
    free(s->sgs);
    memset(s, 0, sizeof *s);
}

static void md_free(md_item *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++) {
        free(m[i].ssh_key);
        free(m[i].user_data);
    }
    free(m);
}

/* base64 user_data -> bytes (NULL when absent, not base64 or too long). */
static unsigned char *unbase64(const char *b64, size_t *len)
{
    size_t n = b64 ? strlen(b64) : 0;
    if (!n || n % 4 || n > STN_MD_USER_DATA_MAX / 3 * 4 + 4)
        return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    int k = out ? EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n) : -1;
    if (k < 0) {
        free(out);
        return NULL;
    }
    for (size_t i = n; i > 0 && b64[i - 1] == '=' && k > 0; i--)
        k--; /* EVP_DecodeBlock counts the padding */
    if ((size_t)k > STN_MD_USER_DATA_MAX) {
        free(out);
        return NULL;
    }
    *len = (size_t)k;
    return out;
}

/* FNV-1a of the port id: a port's metadata tag is the same in every
 * process (so the ruleset is too), and probed past a collision. */
static uint32_t md_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h ? h : 1;
}

static int by_port_id(const void *x, const void *y, void *ctx)
{
    const stn_port *p = ctx;
    return strcmp(p[*(const size_t *)x].id, p[*(const size_t *)y].id);
}

/* Ports (and their metadata) in id order: the state, and so the ruleset,
 * does not depend on the order this process learnt its instances in (a
 * restarted agent adopts them in another). */
static int sort_ports(stn_state *s, md_item *md)
{
    size_t n = s->n_ports, *order = calloc(n + 1, sizeof *order);
    stn_port *p = malloc((n + 1) * sizeof *p);
    md_item *m = malloc((n + 1) * sizeof *m);
    if (!order || !p || !m) {
        free(order), free(p), free(m);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, by_port_id, s->ports);
    for (size_t k = 0; k < n; k++) {
        p[k] = s->ports[order[k]];
        m[k] = md[order[k]];
    }
    memcpy(s->ports, p, n * sizeof *p);
    memcpy(md, m, n * sizeof *m);
    free(order), free(p), free(m);
    return 0;
}

/* Tags in port id order, so a collision resolves the same way everywhere. */
static int md_tags(stn_state *s, md_item *md)
{
    size_t *order = calloc(s->n_ports + 1, sizeof *order);
    if (!order)
        return -1;
    for (size_t i = 0; i < s->n_ports; i++)
        order[i] = i;
    qsort_r(order, s->n_ports, sizeof *order, by_port_id, s->ports);
    for (size_t k = 0; k < s->n_ports; k++) {
        stn_port *p = &s->ports[order[k]];
        uint32_t t = md_hash(p->id);
        for (size_t j = 0; j < k; j++)
            if (s->ports[order[j]].md_tag == t) {
                t = t + 1 ? t + 1 : 1;
                j = (size_t)-1; /* look again from the start */
            }
        p->md_tag = md[order[k]].tag = t;
    }
    free(order);
    return 0;
}

/* Listed here, or migrating here (its ports are built before its incoming
 * VM starts, so the guest finds them when it arrives). */
static int wanted_here(const nd_inst *in)
{
    return (in->present || in->incoming_listed) && in->want.desired != ND_WANT_DELETED;
}

static int build(nd_agent *a, stn_state *s, md_item **mdp)
{
    const nd_netset *ns = &a->net->set;
    size_t nports = 0, nremotes = 0;
    int veth = !strcmp(a->c.port_kind, "veth");
    md_item *md = NULL;
    memset(s, 0, sizeof *s);
    *mdp = NULL;
    for (nd_inst *in = a->insts; in; in = in->next)
        if (wanted_here(in))
            nports += (size_t)in->want.o.nports;
    for (size_t i = 0; i < ns->n; i++)
        nremotes += ns->nets[i].nremotes * ND_MAX_FIXED_IPS;
    s->networks = calloc(ns->n + 1, sizeof *s->networks);
    s->ports = calloc(nports + 1, sizeof *s->ports);
    s->remotes = calloc(nremotes + 1, sizeof *s->remotes);
    s->sgs = calloc(ns->nsgs + 1, sizeof *s->sgs);
    md = calloc(nports + 1, sizeof *md);
    if (!s->networks || !s->ports || !s->remotes || !s->sgs || !md)
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
        if (n->external && !nd_net_uplink_for(&a->c, ns, n))
            continue; /* no uplink here for it */
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
        if (n->external) { /* flat: no VXLAN, no DHCP, no l2population */
            snprintf(o->uplink, sizeof o->uplink, "%s", a->c.external_if);
            o->dhcp = 0;
            continue;
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
            const nd_network *pn = nd_netset_find(ns, p->network_id);
            if (strcmp(p->vnic_type, "virtio") != 0 || !pn ||
                (pn->external && !nd_net_uplink_for(&a->c, ns, pn)))
                continue; /* direct (SR-IOV) ports have no tap; an unknown network: waits */
            stn_port *o = &s->ports[s->n_ports];
            if (veth) {
                /* the guest's namespace: until it exists, the port waits */
                o->kind = STN_PORT_VETH;
                snprintf(o->peer_ifname, sizeof o->peer_ifname, "eth%d", k);
                int n = snprintf(o->peer_netns, sizeof o->peer_netns, "%s/%s", a->c.guest_netns_dir,
                                 in->want.o.id);
                if (n < 0 || (size_t)n >= sizeof o->peer_netns || access(o->peer_netns, F_OK)) {
                    memset(o, 0, sizeof *o);
                    continue;
                }
            }
            s->n_ports++;
            snprintf(o->id, sizeof o->id, "%s", p->id);
            snprintf(o->network_id, sizeof o->network_id, "%s", p->network_id);
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
            /* the instance's documents, for the metadata service */
            md_item *m = &md[s->n_ports - 1];
            if (!a->net->md)
                continue;
            snprintf(m->port, sizeof m->port, "%s", p->id);
            snprintf(m->inst, sizeof m->inst, "%s", in->want.o.id);
            snprintf(m->name, sizeof m->name, "%s", in->want.name);
            m->local = o->n_ips ? o->ips[0] : (struct in_addr){0};
            m->pub = in->want.public_ipv4;
            if (in->want.ssh_key && !(m->ssh_key = strdup(in->want.ssh_key)))
                goto oom;
            m->user_data = unbase64(in->want.user_data, &m->user_data_len);
        }
    }
    if (nd_net_routers_build(ns, s) < 0)
        goto oom;
    if (sort_ports(s, md) < 0)
        goto oom;
    if (a->net->md) {
        s->metadata_port = (uint16_t)a->c.md_port;
        if (md_tags(s, md) < 0)
            goto oom;
    }
    *mdp = md;
    return 0;
oom:
    md_free(md, nports);
    state_free(s);
    return -1;
}

/* ---- the converge job ---- */

/* The metadata service around a converge. A tag whose documents are for
 * another port now (a hash collision moved it) or for no port is emptied
 * BEFORE the service learns the new (bridge, address) -> tag map, so no
 * caller is ever answered with another instance's documents; the
 * documents are put after. */
static void md_forget(net_job *j)
{
    struct nd_net *n = j->a->net;
    size_t keep = 0;
    for (size_t i = 0; i < n->n_held; i++) {
        int same = 0;
        for (size_t k = 0; k < j->s.n_ports && !same; k++)
            same = j->md[k].tag == n->held[i].tag && !strcmp(j->md[k].port, n->held[i].port);
        if (same)
            n->held[keep++] = n->held[i];
        else
            stn_md_remove(n->md, n->held[i].tag);
    }
    n->n_held = keep;
}

static void md_learn(net_job *j)
{
    struct nd_net *n = j->a->net;
    j->md_rc = stn_md_sync(n->md, &j->s, j->md_err, sizeof j->md_err);
    md_held *h = realloc(n->held, (j->s.n_ports + 1) * sizeof *h);
    if (!h) {
        j->md_rc = -ENOMEM;
        snprintf(j->md_err, sizeof j->md_err, "out of memory");
        return; /* the tags held stay listed: the next pass forgets them */
    }
    n->held = h;
    n->n_held = 0;
    for (size_t k = 0; k < j->s.n_ports; k++) {
        const md_item *m = &j->md[k];
        stn_md_doc d = {.tag = m->tag,
                        .instance_id = m->inst,
                        .hostname = m->name,
                        .local_ipv4 = m->local,
                        .public_ipv4 = m->pub,
                        .ssh_key = m->ssh_key,
                        .user_data = m->user_data,
                        .user_data_len = m->user_data_len};
        char e[256];
        if (stn_md_put(n->md, &d, e, sizeof e) < 0) {
            j->md_rc = -EINVAL;
            snprintf(j->md_err, sizeof j->md_err, "instance %s: %s", m->inst, e);
            stn_md_remove(n->md, m->tag);
            continue;
        }
        n->held[n->n_held].tag = m->tag;
        snprintf(n->held[n->n_held++].port, sizeof n->held->port, "%s", m->port);
    }
}

static void net_run(uv_work_t *w)
{
    net_job *j = w->data;
    if (j->a->net->md)
        md_forget(j);
    j->rc = stn_converge(j->a->net->ctx, &j->s, &j->st, j->err, sizeof j->err);
    if (j->a->net->md)
        md_learn(j);
}

static int changed(const stn_stats *x)
{
    return x->links_added || x->links_changed || x->links_removed || x->fdb_added ||
           x->fdb_removed || x->neigh_added || x->neigh_removed || x->addrs_added ||
           x->addrs_removed || x->nft_applied || x->dhcp_started || x->dhcp_reloaded ||
           x->dhcp_stopped || x->routers_added || x->routers_removed || x->router_changes;
}

static void net_done(uv_work_t *w, int status)
{
    net_job *j = w->data;
    nd_agent *a = j->a;
    struct nd_net *n = a->net;
    n->busy = 0;
    nd_metric_inc("net_converges", j->rc == 0 ? "ok" : "failed");
    if (j->md_rc < 0)
        st_warn("node.net", "metadata: %s", j->md_err);
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
    md_free(j->md, j->s.n_ports);
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
    if (!j || build(a, &j->s, &j->md) < 0) {
        free(j);
        st_warn("node.net", "out of memory building the network state");
        return;
    }
    j->a = a;
    j->w.data = j;
    n->busy = 1;
    if (uv_queue_work(a->loop, &j->w, net_run, net_done) != 0) {
        n->busy = 0;
        md_free(j->md, j->s.n_ports);
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
    if (strcmp(c->port_kind, "tap") && strcmp(c->port_kind, "veth")) {
        snprintf(err, sizeof err, "network.port_kind must be tap or veth, not '%.100s'",
                 c->port_kind);
        goto off;
    }
    if (c->md_port < 0 || c->md_port > 65535) {
        snprintf(err, sizeof err, "network.metadata_port must be 0..65535");
        goto off;
    }
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
    stn_options opt = {.state_dir = c->net_state_dir,
                       .dnsmasq = c->dnsmasq[0] ? c->dnsmasq : NULL,
                       .netns_dir = c->netns_dir[0] ? c->netns_dir : NULL};
    if (!n || stn_open(&n->ctx, &opt, err, sizeof err) < 0) {
        free(n);
        goto off;
    }
    if (c->md_port && stn_md_start(&n->md, (uint16_t)c->md_port, err, sizeof err) < 0) {
        stn_close(n->ctx);
        free(n);
        goto off;
    }
    a->net = n;
    a->c.net_on = 1;
    uv_timer_init(a->loop, &n->t);
    n->t.data = a;
    uv_timer_start(&n->t, on_net_timer, (uint64_t)c->net_ms, (uint64_t)c->net_ms);
    st_info("node.net",
            "data plane on: tunnel %s on %s, state %s, external uplink %s, %s ports, metadata %s",
            c->tunnel_ip, c->underlay_dev, c->net_state_dir,
            c->external_if[0] ? c->external_if : "none", c->port_kind, n->md ? "on" : "off");
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
    if (a->net->md)
        stn_md_stop(a->net->md);
    free(a->net->held);
    stn_close(a->net->ctx);
    nd_netset_free(&a->net->set);
    free(a->net);
    a->net = NULL;
}

int nd_net_teardown(const nd_conf *c)
{
    char err[512];
    stn_ctx *ctx;
    stn_stats st;
    stn_options opt = {.state_dir = c->net_state_dir,
                       .dnsmasq = c->dnsmasq[0] ? c->dnsmasq : NULL,
                       .netns_dir = c->netns_dir[0] ? c->netns_dir : NULL};
    if (stn_open(&ctx, &opt, err, sizeof err) < 0) {
        st_error("node.net", "teardown: %s", err);
        return -1;
    }
    int rc = stn_teardown(ctx, &st, err, sizeof err);
    stn_close(ctx);
    if (rc < 0) {
        st_error("node.net", "teardown: %s", err);
        return -1;
    }
    st_info("node.net",
            "torn down: %u links, %u router namespaces, %u DHCP servers, nftables tables %s",
            st.links_removed, st.routers_removed, st.dhcp_stopped,
            st.nft_applied ? "removed" : "kept");
    return 0;
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

int nd_net_teardown(const nd_conf *c)
{
    st_error("node.net", "teardown-network: this agent was built without network/");
    return -1;
}
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
