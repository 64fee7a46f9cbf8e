/*
 * l2pop.c - FDB and neighbour entries on the VXLAN devices (l2population).
 *
 * For every remote port of a network present here the VXLAN device gets
 *   - an FDB entry MAC -> remote VTEP (NTF_SELF, permanent), so a known MAC
 *     is sent to one VTEP and never flooded;
 *   - a neighbour entry IP -> MAC (permanent), which the device's ARP proxy
 *     answers locally: ARP requests never cross the overlay;
 * and, per distinct remote VTEP, an all-zeros FDB entry for the broadcast
 * that remains (DHCP is kept on its own host by nftables).
 *
 * Both sets are diffed against a dump as sorted arrays, so 10,000 entries
 * cost two sorts and one merge, and only the difference is sent.
 */
#include "internal.h"

#include <errno.h>
#include <linux/neighbour.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct ent {
    int ifindex;
    uint8_t mac[6];
    uint32_t ip; /* FDB: the VTEP; neighbour: the port's IP */
} ent;

typedef struct ents {
    ent *e;
    size_t n, cap;
    const int *vx; /* our VXLAN ifindexes */
    size_t n_vx;
    int oom;
} ents;

static void push(ents *l, int ifindex, const uint8_t mac[6], uint32_t ip)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        ent *n = realloc(l->e, cap * sizeof *n);
        if (!n) {
            l->oom = 1;
            return;
        }
        l->e = n;
        l->cap = cap;
    }
    ent *x = &l->e[l->n++];
    memset(x, 0, sizeof *x);
    x->ifindex = ifindex;
    memcpy(x->mac, mac, 6);
    x->ip = ip;
}

static int is_vx(const ents *l, int ifindex)
{
    for (size_t i = 0; i < l->n_vx; i++)
        if (l->vx[i] == ifindex)
            return 1;
    return 0;
}

static void got_fdb(const stn_neigh *n, void *data)
{
    ents *l = data;
    if (n->family == AF_BRIDGE && (n->flags & NTF_SELF) && n->has_dst && n->has_lladdr &&
        is_vx(l, n->ifindex))
        push(l, n->ifindex, n->lladdr, n->dst);
}

static void got_neigh(const stn_neigh *n, void *data)
{
    ents *l = data;
    static const uint8_t zero[6];
    if (n->family == AF_INET && n->has_dst && is_vx(l, n->ifindex))
        push(l, n->ifindex, n->has_lladdr ? n->lladdr : zero, n->dst);
}

/* FDB order: ifindex, mac, vtep. */
static int cmp_fdb(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    if (x->ifindex != y->ifindex)
        return x->ifindex < y->ifindex ? -1 : 1;
    int m = memcmp(x->mac, y->mac, 6);
    if (m)
        return m;
    return x->ip < y->ip ? -1 : x->ip > y->ip;
}

/* Neighbour order: ifindex, ip (the MAC is the value). */
static int cmp_neigh(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    if (x->ifindex != y->ifindex)
        return x->ifindex < y->ifindex ? -1 : 1;
    return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static void dedup(ents *l, int (*cmp)(const void *, const void *))
{
    if (!l->n)
        return;
    qsort(l->e, l->n, sizeof *l->e, cmp);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (cmp(&l->e[i], &l->e[k - 1]) != 0)
            l->e[k++] = l->e[i];
    l->n = k;
}

static int send_one(stn_ctx *c, int fdb, int add, const ent *e, char *err, size_t errlen)
{
    void *buf = stn_nl_buf(c->nl);
    uint32_t seq = stn_nl_seq(c->nl);
    struct nlmsghdr *m = fdb ? stn_msg_fdb(buf, seq, add, e->ifindex, e->mac, e->ip)
                             : stn_msg_neigh(buf, seq, add, e->ifindex, e->ip, e->mac);
    int rc = stn_nl_do(c->nl, m);
    if (rc < 0 && !(rc == -ENOENT && !add))
        return stn_fail(err, errlen, "%s %s entry: %s", add ? "add" : "remove",
                        fdb ? "fdb" : "neighbour", strerror(-rc));
    return 0;
}

/* Sends the difference of two sorted sets; for neighbours a changed MAC is a
 * replace (an add with NLM_F_REPLACE). */
static int diff(stn_ctx *c, int fdb, const ents *want, const ents *have, unsigned *added,
                unsigned *removed, char *err, size_t errlen)
{
    int (*cmp)(const void *, const void *) = fdb ? cmp_fdb : cmp_neigh;
    size_t i = 0, j = 0;
    while (i < want->n || j < have->n) {
        int d = i == want->n ? 1 : j == have->n ? -1 : cmp(&want->e[i], &have->e[j]);
        int rc = 0;
        if (d < 0) {
            rc = send_one(c, fdb, 1, &want->e[i++], err, errlen);
            (*added)++;
        } else if (d > 0) {
            rc = send_one(c, fdb, 0, &have->e[j++], err, errlen);
            (*removed)++;
        } else {
            if (!fdb && memcmp(want->e[i].mac, have->e[j].mac, 6) != 0) {
                rc = send_one(c, fdb, 1, &want->e[i], err, errlen);
                (*added)++;
            }
            i++, j++;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int stn_converge_l2pop(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen)
{
    int *vx = calloc(s->n_networks + 1, sizeof *vx);
    int *by_net = calloc(s->n_networks + 1, sizeof *by_net);
    ents want_f = {0}, want_n = {0}, have_f = {0}, have_n = {0};
    int rc = 0;
    if (!vx || !by_net) {
        rc = stn_fail(err, errlen, "out of memory");
        goto out;
    }
    size_t n_vx = 0;
    for (size_t i = 0; i < s->n_networks; i++) {
        char name[IFNAMSIZ];
        stn_vxlan_name(name, s->networks[i].vni);
        const stn_link *l = stn_link_by_name(c, name);
        by_net[i] = l ? l->index : 0;
        if (l)
            vx[n_vx++] = l->index;
    }
    static const uint8_t zero[6];
    for (size_t r = 0; r < s->n_remotes; r++) {
        const stn_remote_port *p = &s->remotes[r];
        const stn_network *net = stn_find_network(s, p->network_id);
        int idx = by_net[net - s->networks];
        if (!idx)
            continue;
        push(&want_f, idx, p->mac, p->vtep.s_addr);
        push(&want_f, idx, zero, p->vtep.s_addr);
        push(&want_n, idx, p->mac, p->ip.s_addr);
    }
    dedup(&want_f, cmp_fdb);
    dedup(&want_n, cmp_neigh);
    have_f.vx = have_n.vx = vx;
    have_f.n_vx = have_n.n_vx = n_vx;
    if (n_vx) {
        if ((rc = stn_nl_neighs(c->nl, AF_BRIDGE, got_fdb, &have_f)) < 0 ||
            (rc = stn_nl_neighs(c->nl, AF_INET, got_neigh, &have_n)) < 0) {
            rc = stn_fail(err, errlen, "dump neighbours: %s", strerror(-rc));
            goto out;
        }
    }
    if (want_f.oom || want_n.oom || have_f.oom || have_n.oom) {
        rc = stn_fail(err, errlen, "out of memory");
        goto out;
    }
    dedup(&have_f, cmp_fdb);
    dedup(&have_n, cmp_neigh);
    /* Neighbours first: removing a MAC's FDB entry while its neighbour
     * entry still answers ARP would send traffic nowhere for a moment. */
    rc = diff(c, 0, &want_n, &have_n, &st->neigh_added, &st->neigh_removed, err, errlen);
    if (rc >= 0)
        rc = diff(c, 1, &want_f, &have_f, &st->fdb_added, &st->fdb_removed, err, errlen);
out:
    free(vx);
    free(by_net);
    free(want_f.e);
    free(want_n.e);
    free(have_f.e);
    free(have_n.e);
    return rc < 0 ? rc : 0;
}
