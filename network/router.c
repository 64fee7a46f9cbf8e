/*
 * router.c - tenant routers and floating IPs, as Neutron's legacy L3 agent
 * builds them: one network namespace per router.
 *
 * A router placed on this host is the namespace "str-<router id>" in
 * netns_dir (a bind mount of an nsfs inode, as `ip netns add` makes it, so
 * `ip netns exec str-<id>` works with the default /run/netns). It holds:
 *   - "qr-<vni>" per joined network: a veth whose host end "sr<hash>" is in
 *     the network's bridge (host.c creates the pair), with the router
 *     interface port's MAC and the subnet's gateway address;
 *   - "qg-<vni>" on the external network's bridge: the gateway port's MAC
 *     and address, and every floating IP as a /32 (so the namespace answers
 *     ARP for them on the external segment); an address newly put there is
 *     announced by gratuitous ARP (below);
 *   - IPv4 forwarding, a default route via the external subnet's gateway;
 *   - one nftables table `ip stratus_router`, replaced in one transaction:
 *     DNAT floating -> fixed in prerouting, SNAT fixed -> floating leaving
 *     qg, SNAT to the gateway address for a floating IP reached from
 *     inside (hairpin), and (enable_snat) the joined subnets -> the
 *     gateway address.
 *     Its comment carries the FNV-1a hash of the text, as nft.c does, so an
 *     unchanged router sends nothing.
 *
 * Ownership: every "str-*" entry in netns_dir is ours; one no router wants
 * is unmounted and unlinked (the kernel then destroys its legs, and host.c
 * deletes their host ends by alias). Everything inside a router namespace
 * is ours: a link there that no interface wants is deleted, an address or
 * default route that should not be there is removed. Converging twice sends
 * nothing the second time (router_changes counts what was sent).
 *
 * The work inside a namespace is done by the calling thread after
 * setns(CLONE_NEWNET) into it, with netlink and nftables sockets opened
 * there, and setns() back to where it was; the host's own socket is never
 * used there.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <netinet/if_ether.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stratus/crypto.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define NS_PREFIX "str-"

void stn_router_leg(char out[IFNAMSIZ], const char *router_id, const char *network_id)
{
    char key[2 * STN_ID_MAX + 2];
    snprintf(key, sizeof key, "%s/%s", router_id, network_id);
    uint64_t h = st_fnv1a64(key, strlen(key));
    snprintf(out, IFNAMSIZ, "sr%012" PRIx64, h & (uint64_t)0xffffffffffff);
}

void stn_router_ns_path(const stn_ctx *c, const char *router_id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" NS_PREFIX "%s", c->netns_dir, router_id);
}

/* ---- the namespaces ---- */

/* Whether path is a mounted network namespace. */
static int is_netns(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct statfs sf;
    int ok = fstatfs(fd, &sf) == 0 && sf.f_type == NSFS_MAGIC;
    close(fd);
    return ok;
}

static void ns_remove(const char *path)
{
    umount2(path, MNT_DETACH); /* fails harmlessly when it is not mounted */
    unlink(path);
}

/* A new network namespace bound at path, as `ip netns add` makes one: this
 * thread unshares, binds its namespace there and returns to its own. */
static int ns_create(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return stn_fail(err, errlen, "create %s: %s", path, strerror(errno));
    close(fd);
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
        unlink(path);
        return stn_fail(err, errlen, "own namespace: %s", strerror(errno));
    }
    int rc = 0;
    if (unshare(CLONE_NEWNET) < 0) {
        rc = stn_fail(err, errlen, "unshare: %s", strerror(errno));
    } else {
        if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
            rc = stn_fail(err, errlen, "bind %s: %s", path, strerror(errno));
        if (setns(self, CLONE_NEWNET) < 0)
            abort(); /* this thread would go on acting in the wrong namespace */
    }
    close(self);
    if (rc < 0)
        unlink(path);
    return rc;
}

static int wanted_ns(const stn_state *s, const char *name)
{
    for (size_t i = 0; i < s->n_routers; i++)
        if (strcmp(name + strlen(NS_PREFIX), s->routers[i].id) == 0)
            return 1;
    return 0;
}

int stn_converge_router_ns(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen)
{
    char path[STN_NETNS_PATH_MAX];
    if (s->n_routers && mkdir(c->netns_dir, 0755) < 0 && errno != EEXIST)
        return stn_fail(err, errlen, "%s: %s", c->netns_dir, strerror(errno));
    DIR *d = opendir(c->netns_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strncmp(e->d_name, NS_PREFIX, strlen(NS_PREFIX)) == 0 && !wanted_ns(s, e->d_name)) {
                snprintf(path, sizeof path, "%s/%s", c->netns_dir, e->d_name);
                ns_remove(path);
                st->routers_removed++;
            }
        closedir(d);
    }
    for (size_t i = 0; i < s->n_routers; i++) {
        stn_router_ns_path(c, s->routers[i].id, path, sizeof path);
        if (is_netns(path))
            continue;
        ns_remove(path); /* a file left by a crash between create and bind */
        int rc = ns_create(path, err, errlen);
        if (rc < 0)
            return rc;
        st->routers_added++;
    }
    return 0;
}

/* ---- nftables of one router ---- */

static const char *ip4(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void fip_map(FILE *f, const stn_router *r, const char *name, int in)
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    fprintf(f, "\tmap %s {\n\t\ttype ipv4_addr : ipv4_addr\n", name);
    for (size_t k = 0; k < r->n_fips; k++) {
        struct in_addr from = in ? r->fips[k].floating : r->fips[k].fixed;
        struct in_addr to = in ? r->fips[k].fixed : r->fips[k].floating;
        fprintf(f, "%s%s : %s", k ? ", " : "\t\telements = { ", ip4(from, a), ip4(to, b));
    }
    if (r->n_fips)
        fputs(" }\n", f);
    fputs("\t}\n", f);
}

static char *render(const stn_state *s, const stn_router *r, const char *comment)
{
    char *text = NULL;
    size_t len = 0;
    char b[INET_ADDRSTRLEN];
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fprintf(f,
            "table ip stratus_router\ndelete table ip stratus_router\n"
            "table ip stratus_router {\n\tcomment \"%s\"\n",
            comment);
    fip_map(f, r, "fip_in", 1);
    fip_map(f, r, "fip_out", 0);
    fputs("\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n", f);
    if (r->n_fips)
        fputs("\t\tdnat to ip daddr map @fip_in\n", f);
    fputs("\t}\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
          f);
    if (r->ext_network_id[0]) {
        const stn_network *e = stn_find_network(s, r->ext_network_id);
        if (r->n_fips) {
            fprintf(f, "\t\toifname \"qg-%u\" snat to ip saddr map @fip_out\n", e->vni);
            /* hairpin: a guest behind the router reaching a floating IP
             * leaves as the gateway address, so the reply comes back
             * through the router to be un-NATed (as Neutron does) */
            fprintf(f, "\t\tiifname != \"qg-%u\" ct status dnat snat to %s\n", e->vni,
                    ip4(r->gw_ip, b));
        }
        if (r->snat && r->n_ifs) {
            fprintf(f, "\t\toifname \"qg-%u\" ip saddr { ", e->vni);
            for (size_t k = 0; k < r->n_ifs; k++) {
                struct in_addr net = {r->ifs[k].ip.s_addr &
                                      htonl(0xffffffffu << (32 - r->ifs[k].prefix))};
                fprintf(f, "%s%s/%u", k ? ", " : "", ip4(net, b), r->ifs[k].prefix);
            }
            fprintf(f, " } snat to %s\n", ip4(r->gw_ip, b));
        }
    }
    fputs("\t}\n}\n", f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *stn_router_nft_render(const stn_state *s, const stn_router *r, char *err, size_t errlen)
{
    if (stn_validate(s, err, errlen) < 0)
        return NULL;
    char *body = render(s, r, "");
    if (!body) {
        stn_fail(err, errlen, "out of memory");
        return NULL;
    }
    char comment[40];
    snprintf(comment, sizeof comment, "stratus:%016" PRIx64, st_fnv1a64(body, strlen(body)));
    free(body);
    char *text = render(s, r, comment);
    if (!text)
        stn_fail(err, errlen, "out of memory");
    return text;
}

/* Applies text unless the kernel's table already carries its hash. */
static int router_nft(const char *text, unsigned *changes, char *err, size_t errlen)
{
    const char *h = strstr(text, "comment \"") + strlen("comment \"");
    char want[40];
    snprintf(want, sizeof want, "%.*s", (int)strcspn(h, "\""), h);
    struct nft_ctx *n = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!n)
        return stn_fail(err, errlen, "nft_ctx_new failed");
    nft_ctx_buffer_output(n);
    nft_ctx_buffer_error(n);
    int rc = 0;
    char have[40] = "";
    if (nft_run_cmd_from_buffer(n, "list table ip stratus_router") == 0) {
        const char *o = nft_ctx_get_output_buffer(n);
        const char *c = o ? strstr(o, "comment \"stratus:") : NULL;
        if (c) {
            c += strlen("comment \"");
            snprintf(have, sizeof have, "%.*s", (int)strcspn(c, "\""), c);
        }
    }
    if (strcmp(have, want) != 0) {
        nft_ctx_free(n);
        n = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!n)
            return stn_fail(err, errlen, "nft_ctx_new failed");
        nft_ctx_buffer_output(n);
        nft_ctx_buffer_error(n);
        if (nft_run_cmd_from_buffer(n, text) != 0) {
            const char *e = nft_ctx_get_error_buffer(n);
            rc = stn_fail(err, errlen, "router nftables transaction refused: %.300s", e ? e : "");
        } else
            (*changes)++;
    }
    nft_ctx_free(n);
    return rc;
}

/* ---- inside one router namespace ---- */

typedef struct ns_links {
    stn_link l[STN_MAX_ROUTER_IFS + 8];
    size_t n;
    int overflow;
} ns_links;

static void got_link(const stn_link *l, void *data)
{
    ns_links *x = data;
    if (x->n < sizeof x->l / sizeof x->l[0])
        x->l[x->n++] = *l;
    else
        x->overflow = 1;
}

typedef struct ns_addrs {
    stn_addr *more; /* floating IPs can be many */
    size_t n_more, cap_more;
    int oom;
} ns_addrs;

static void got_addr(const stn_addr *a, void *data)
{
    ns_addrs *x = data;
    if (x->n_more == x->cap_more) {
        size_t cap = x->cap_more ? 2 * x->cap_more : 64;
        stn_addr *m = realloc(x->more, cap * sizeof *m);
        if (!m) {
            x->oom = 1;
            return;
        }
        x->more = m;
        x->cap_more = cap;
    }
    x->more[x->n_more++] = *a;
}

typedef struct ns_routes {
    stn_rt r[16];
    size_t n;
} ns_routes;

static void got_route(const stn_rt *r, void *data)
{
    ns_routes *x = data;
    /* only default routes of the main table matter here */
    if (r->table == RT_TABLE_MAIN && r->dst_len == 0 && r->type == RTN_UNICAST &&
        x->n < sizeof x->r / sizeof x->r[0])
        x->r[x->n++] = *r;
}

static const stn_link *ns_link(const ns_links *x, const char *name)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->l[i].name, name) == 0)
            return &x->l[i];
    return NULL;
}

/* One wanted link in the namespace. */
typedef struct ns_want {
    char name[IFNAMSIZ];
    const uint8_t *mac; /* NULL for lo */
    unsigned mtu;
} ns_want;

static int nl_do(stn_nl *nl, struct nlmsghdr *m, unsigned *changes, char *err, size_t errlen,
                 const char *what, const char *name)
{
    int rc = stn_nl_do(nl, m);
    if (rc < 0)
        return stn_fail(err, errlen, "%s %s: %s", what, name, strerror(-rc));
    (*changes)++;
    return 0;
}

static int write_sysctl(const char *path, unsigned *changes, char *err, size_t errlen)
{
    char v[8] = "";
    FILE *f = fopen(path, "re");
    if (f) {
        if (!fgets(v, sizeof v, f))
            v[0] = '\0';
        fclose(f);
    }
    if (strcmp(v, "1\n") == 0)
        return 0;
    f = fopen(path, "we");
    if (!f || fputs("1\n", f) < 0 || fclose(f) != 0)
        return stn_fail(err, errlen, "%s cannot be set", path);
    (*changes)++;
    return 0;
}

static int has_addr(const ns_addrs *h, int ifindex, uint32_t ip, uint8_t prefix)
{
    for (size_t k = 0; k < h->n_more; k++)
        if (h->more[k].ifindex == ifindex && h->more[k].local == ip && h->more[k].prefix == prefix)
            return 1;
    return 0;
}

/* Whether (ifindex, ip, prefix) is one the router wants. */
static int addr_wanted(const stn_router *r, const ns_links *x, const stn_state *s,
                       const stn_addr *a)
{
    for (size_t k = 0; k < r->n_ifs; k++) {
        char name[IFNAMSIZ];
        snprintf(name, sizeof name, "qr-%u", stn_find_network(s, r->ifs[k].network_id)->vni);
        const stn_link *l = ns_link(x, name);
        if (l && l->index == a->ifindex)
            return a->local == r->ifs[k].ip.s_addr && a->prefix == r->ifs[k].prefix;
    }
    if (r->ext_network_id[0]) {
        char name[IFNAMSIZ];
        snprintf(name, sizeof name, "qg-%u", stn_find_network(s, r->ext_network_id)->vni);
        const stn_link *l = ns_link(x, name);
        if (l && l->index == a->ifindex) {
            if (a->local == r->gw_ip.s_addr && a->prefix == r->gw_prefix)
                return 1;
            for (size_t k = 0; k < r->n_fips; k++)
                if (a->local == r->fips[k].floating.s_addr && a->prefix == 32)
                    return 1;
            return 0;
        }
    }
    return 1; /* lo's own, or a link about to go */
}

/* Announces ip at mac on ifindex: a gratuitous ARP request and a gratuitous
 * reply, both broadcast with sender = target = ip (what `arping -U` and
 * `arping -A` send; some devices heed only one of the two). The outside's
 * caches that still hold the address at another MAC (a floating IP that
 * lived on another router) are corrected at once instead of when they
 * expire; a host with no entry makes none (arp_accept 0). Best effort, as
 * Neutron's: a lost one leaves the cache to expire as before. */
static void announce(int ifindex, const uint8_t mac[6], uint32_t ip)
{
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (fd < 0)
        return;
    struct sockaddr_ll to = {.sll_family = AF_PACKET,
                             .sll_protocol = htons(ETH_P_ARP),
                             .sll_ifindex = ifindex,
                             .sll_halen = ETH_ALEN};
    memset(to.sll_addr, 0xff, ETH_ALEN);
    for (int op = 0; op < 2; op++) {
        struct ether_arp a = {0};
        a.arp_hrd = htons(ARPHRD_ETHER);
        a.arp_pro = htons(ETHERTYPE_IP);
        a.arp_hln = ETH_ALEN;
        a.arp_pln = 4;
        a.arp_op = htons(op ? ARPOP_REPLY : ARPOP_REQUEST);
        memcpy(a.arp_sha, mac, ETH_ALEN);
        memcpy(a.arp_spa, &ip, 4);
        memcpy(a.arp_tha, op ? to.sll_addr : (uint8_t[ETH_ALEN]){0}, ETH_ALEN);
        memcpy(a.arp_tpa, &ip, 4);
        (void)sendto(fd, &a, sizeof a, 0, (struct sockaddr *)&to, sizeof to);
    }
    close(fd);
}

static int converge_inside(const stn_state *s, const stn_router *r, unsigned *changes, char *err,
                           size_t errlen)
{
    stn_nl *nl = NULL;
    ns_links *have = calloc(1, sizeof *have);
    ns_addrs *addrs = calloc(1, sizeof *addrs);
    ns_routes routes = {0};
    ns_want w[STN_MAX_ROUTER_IFS + 2];
    size_t nw = 0;
    int rc = 0;
    char *text = NULL;
    if (!have || !addrs) {
        rc = stn_fail(err, errlen, "out of memory");
        goto out;
    }
    if ((rc = stn_nl_open(&nl)) < 0) {
        rc = stn_fail(err, errlen, "router %s: netlink: %s", r->id, strerror(-rc));
        goto out;
    }
    snprintf(w[nw].name, IFNAMSIZ, "lo");
    w[nw].mac = NULL;
    w[nw++].mtu = 0;
    for (size_t k = 0; k < r->n_ifs; k++) {
        const stn_network *n = stn_find_network(s, r->ifs[k].network_id);
        snprintf(w[nw].name, IFNAMSIZ, "qr-%u", n->vni);
        w[nw].mac = r->ifs[k].mac;
        w[nw++].mtu = n->mtu;
    }
    if (r->ext_network_id[0]) {
        const stn_network *n = stn_find_network(s, r->ext_network_id);
        snprintf(w[nw].name, IFNAMSIZ, "qg-%u", n->vni);
        w[nw].mac = r->gw_mac;
        w[nw++].mtu = n->mtu;
    }
    /* Links: extra ones go, wanted ones get their MAC, MTU and up. */
    if ((rc = stn_nl_links(nl, got_link, have)) < 0 || have->overflow) {
        rc = stn_fail(err, errlen, "router %s: dump links: %s", r->id,
                      rc < 0 ? strerror(-rc) : "too many");
        goto out;
    }
    for (size_t i = 0; i < have->n; i++) {
        /* only veths are ours to delete: a module's fallback device (sit0,
         * gre0...) appears in every namespace and cannot be */
        int keep = strcmp(have->l[i].kind, "veth") != 0;
        for (size_t j = 0; j < nw && !keep; j++)
            keep = strcmp(have->l[i].name, w[j].name) == 0;
        if (!keep &&
            (rc = nl_do(nl, stn_msg_dellink(stn_nl_buf(nl), stn_nl_seq(nl), have->l[i].index),
                        changes, err, errlen, "delete", have->l[i].name)) < 0 &&
            rc != -ENODEV)
            goto out;
    }
    for (size_t j = 0; j < nw; j++) {
        const stn_link *l = ns_link(have, w[j].name);
        if (!l) {
            rc = stn_fail(err, errlen, "router %s: %s missing", r->id, w[j].name);
            goto out;
        }
        if (w[j].mac && (!l->has_addr || memcmp(l->addr, w[j].mac, 6) != 0) &&
            (rc = nl_do(nl, stn_msg_setlink_mac(stn_nl_buf(nl), stn_nl_seq(nl), l->index, w[j].mac),
                        changes, err, errlen, "set MAC of", l->name)) < 0)
            goto out;
        unsigned mtu = w[j].mtu && l->mtu != w[j].mtu ? w[j].mtu : 0;
        if ((mtu || !(l->flags & IFF_UP)) &&
            (rc = nl_do(nl,
                        stn_msg_setlink(stn_nl_buf(nl), stn_nl_seq(nl), l->index, -1, mtu, 1, NULL),
                        changes, err, errlen, "set", l->name)) < 0)
            goto out;
    }
    have->n = 0;
    if ((rc = stn_nl_links(nl, got_link, have)) < 0) {
        rc = stn_fail(err, errlen, "router %s: dump links: %s", r->id, strerror(-rc));
        goto out;
    }
    /* Forwarding before addresses: a floating IP never answers un-NATed. */
    if ((rc = write_sysctl("/proc/sys/net/ipv4/ip_forward", changes, err, errlen)) < 0)
        goto out;
    /* The NAT table before the addresses too, for the same reason. */
    if (!(text = stn_router_nft_render(s, r, err, errlen))) {
        rc = -EINVAL;
        goto out;
    }
    if ((rc = router_nft(text, changes, err, errlen)) < 0)
        goto out;
    /* Addresses: remove what is not wanted, then add what is missing. */
    if ((rc = stn_nl_addrs(nl, got_addr, addrs)) < 0 || addrs->oom) {
        rc = stn_fail(err, errlen, "router %s: dump addresses: %s", r->id,
                      rc < 0 ? strerror(-rc) : "out of memory");
        goto out;
    }
    for (size_t k = 0; k < addrs->n_more; k++)
        if (!addr_wanted(r, have, s, &addrs->more[k]) &&
            (rc = nl_do(nl,
                        stn_msg_addr(stn_nl_buf(nl), stn_nl_seq(nl), 0, addrs->more[k].ifindex,
                                     addrs->more[k].local, addrs->more[k].prefix),
                        changes, err, errlen, "remove address in router", r->id)) < 0)
            goto out;
    for (size_t j = 1; j < nw; j++) {
        const stn_link *l = ns_link(have, w[j].name);
        int gw = w[j].name[1] == 'g';
        size_t n_want = gw ? 1 + r->n_fips : 1;
        for (size_t q = 0; q < n_want; q++) {
            uint32_t ip;
            uint8_t prefix;
            if (!gw) {
                ip = r->ifs[j - 1].ip.s_addr;
                prefix = r->ifs[j - 1].prefix;
            } else if (q == 0) {
                ip = r->gw_ip.s_addr;
                prefix = r->gw_prefix;
            } else {
                ip = r->fips[q - 1].floating.s_addr;
                prefix = 32;
            }
            if (has_addr(addrs, l->index, ip, prefix))
                continue;
            if ((rc = nl_do(nl,
                            stn_msg_addr(stn_nl_buf(nl), stn_nl_seq(nl), 1, l->index, ip, prefix),
                            changes, err, errlen, "add address in router", r->id)) < 0)
                goto out;
            if (gw)
                announce(l->index, r->gw_mac, ip);
        }
    }
    /* The default route: via the external subnet's gateway, or none. */
    if ((rc = stn_nl_routes(nl, got_route, &routes)) < 0) {
        rc = stn_fail(err, errlen, "router %s: dump routes: %s", r->id, strerror(-rc));
        goto out;
    }
    const stn_link *qg = NULL;
    if (r->ext_network_id[0] && r->ext_gateway.s_addr) {
        char name[IFNAMSIZ];
        snprintf(name, sizeof name, "qg-%u", stn_find_network(s, r->ext_network_id)->vni);
        qg = ns_link(have, name);
    }
    int found = 0;
    for (size_t k = 0; k < routes.n; k++) {
        if (qg && !found && routes.r[k].gateway == r->ext_gateway.s_addr &&
            routes.r[k].oif == qg->index) {
            found = 1;
            continue;
        }
        if ((rc = nl_do(nl,
                        stn_msg_route(stn_nl_buf(nl), stn_nl_seq(nl), 0, 0, 0, routes.r[k].gateway,
                                      routes.r[k].oif),
                        changes, err, errlen, "remove default route in router", r->id)) < 0)
            goto out;
    }
    if (qg && !found &&
        (rc = nl_do(nl,
                    stn_msg_route(stn_nl_buf(nl), stn_nl_seq(nl), 1, 0, 0, r->ext_gateway.s_addr,
                                  qg->index),
                    changes, err, errlen, "add default route in router", r->id)) < 0)
        goto out;
    rc = 0;
out:
    free(text);
    stn_nl_close(nl);
    if (addrs)
        free(addrs->more);
    free(addrs);
    free(have);
    return rc;
}

int stn_converge_routers(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen)
{
    if (!s->n_routers)
        return 0;
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return stn_fail(err, errlen, "own namespace: %s", strerror(errno));
    /* One router failing does not keep the others from converging; the
     * first failure is the one reported. */
    int first = 0;
    for (size_t i = 0; i < s->n_routers; i++) {
        char path[STN_NETNS_PATH_MAX], e[512];
        int rc;
        stn_router_ns_path(c, s->routers[i].id, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
            rc = stn_fail(e, sizeof e, "router %s: enter %s: %s", s->routers[i].id, path,
                          strerror(errno));
        } else {
            rc = converge_inside(s, &s->routers[i], &st->router_changes, e, sizeof e);
            if (setns(self, CLONE_NEWNET) < 0)
                abort(); /* the rest of the pass would act on the wrong host */
        }
        if (fd >= 0)
            close(fd);
        if (rc < 0 && !first) {
            first = rc;
            if (err && errlen)
                snprintf(err, errlen, "%s", e);
        }
    }
    close(self);
    return first;
}
