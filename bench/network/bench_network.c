/*
 * bench_network - time to program a host at scale with libstratus_net,
 * beside ip/bridge/nft in batch mode doing the same in the same run.
 *
 *   bench_network [PORTS] [REMOTES] [NETWORKS]     (root; default 1000 10000 10)
 *
 * Two fresh namespaces, each with a veth as the underlay. In one, stn_converge()
 * builds NETWORKS bridges + VXLAN devices, PORTS taps, REMOTES remote ports
 * (an FDB entry and a neighbour entry each, plus a flood entry per VTEP) and
 * the nftables tables for all of it. In the other, `ip -batch`,
 * `bridge -batch` and `nft -f` build the same objects (the nft peer applies
 * the very text the library renders). Then: a second converge (nothing to
 * do) and one security group rule change (one nft transaction).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stratus/net.h>

#include "st_netns.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "failed: %s\n", cmd);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n_ports = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    size_t n_rem = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    size_t n_nets = argc > 3 ? strtoul(argv[3], NULL, 10) : 10;
    size_t n_vteps = 50; /* a multiple of NETWORKS: each VTEP then serves one network */
    if (geteuid() != 0) {
        fprintf(stderr, "bench_network needs root\n");
        return 77;
    }
    char nsa[32], nsb[32], dir[64], cmd[512];
    snprintf(nsa, sizeof nsa, "snbench%da", (int)getpid());
    snprintf(nsb, sizeof nsb, "snbench%db", (int)getpid());
    snprintf(dir, sizeof dir, "/tmp/stratus-bench-net-%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && for n in %s %s; do ip netns add $n && ip -n $n link add ul0 type "
             "veth peer name ul1 && ip -n $n addr add 192.0.2.1/24 dev ul0 && ip -n $n link set "
             "ul0 up; done",
             dir, nsa, nsb);
    if (sh(cmd) != 0)
        return 1;

    stn_network *nets = calloc(n_nets, sizeof *nets);
    stn_port *ports = calloc(n_ports, sizeof *ports);
    stn_remote_port *rem = calloc(n_rem, sizeof *rem);
    stn_sg_rule rules[2] = {
        {.direction = STN_EGRESS, .ethertype = 4},
        {.direction = STN_INGRESS, .ethertype = 4, .protocol = 6, .port_min = 22, .port_max = 22}};
    stn_secgroup sg = {.id = "default", .rules = rules, .n_rules = 2};
    for (size_t i = 0; i < n_nets; i++) {
        snprintf(nets[i].id, sizeof nets[i].id, "net%zu", i);
        nets[i].vni = 1000 + (uint32_t)i;
        nets[i].mtu = 1450;
        strcpy(nets[i].underlay_dev, "ul0");
        inet_pton(AF_INET, "192.0.2.1", &nets[i].local_vtep);
    }
    for (size_t i = 0; i < n_ports; i++) {
        stn_port *p = &ports[i];
        snprintf(p->id, sizeof p->id, "port%zu", i);
        snprintf(p->network_id, sizeof p->network_id, "net%zu", i % n_nets);
        snprintf(p->ifname, sizeof p->ifname, "tap%u", (unsigned)(i % 1000000));
        uint8_t mac[6] = {0x52, 0x54, 0, 1, (uint8_t)(i >> 8), (uint8_t)i};
        memcpy(p->mac, mac, 6);
        p->ips[0].s_addr = htonl(0x0a000000u | (uint32_t)(i + 10));
        p->n_ips = 1;
        strcpy(p->sgs[0], "default");
        p->n_sgs = 1;
    }
    for (size_t i = 0; i < n_rem; i++) {
        snprintf(rem[i].network_id, sizeof rem[i].network_id, "net%zu", i % n_nets);
        uint8_t mac[6] = {0x52, 0x54, 2, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        memcpy(rem[i].mac, mac, 6);
        rem[i].ip.s_addr = htonl(0x0a100000u | (uint32_t)i);
        rem[i].vtep.s_addr = htonl(0xc6336400u | (uint32_t)(1 + i % n_vteps));
    }
    stn_state st = {nets, n_nets, ports, n_ports, rem, n_rem, &sg, 1, 0, NULL, 0};

    /* --- the peer: ip / bridge / nft in batch mode --- */
    char f_links[128], f_fdb[128], f_neigh[128], f_nft[128];
    snprintf(f_links, sizeof f_links, "%s/links.ip", dir);
    snprintf(f_fdb, sizeof f_fdb, "%s/fdb.bridge", dir);
    snprintf(f_neigh, sizeof f_neigh, "%s/neigh.ip", dir);
    snprintf(f_nft, sizeof f_nft, "%s/rules.nft", dir);
    FILE *fl = fopen(f_links, "w"), *ff = fopen(f_fdb, "w"), *fn = fopen(f_neigh, "w");
    for (size_t i = 0; i < n_nets; i++) {
        fprintf(fl, "link add stb%u mtu 1450 type bridge\n", nets[i].vni);
        fprintf(fl,
                "link add stv%u mtu 1450 type vxlan id %u local 192.0.2.1 dev ul0 dstport 4789 "
                "nolearning proxy\n",
                nets[i].vni, nets[i].vni);
        fprintf(fl, "link set stv%u master stb%u up\nlink set stb%u up\n", nets[i].vni, nets[i].vni,
                nets[i].vni);
    }
    for (size_t i = 0; i < n_ports; i++) {
        fprintf(fl, "tuntap add dev tap%zu mode tap vnet_hdr\n", i);
        fprintf(fl, "link set tap%zu mtu 1450 master stb%zu up\n", i, 1000 + i % n_nets);
    }
    char b[INET_ADDRSTRLEN];
    for (size_t i = 0; i < n_rem; i++) {
        const uint8_t *m = rem[i].mac;
        unsigned vni = 1000 + (unsigned)(i % n_nets);
        inet_ntop(AF_INET, &rem[i].vtep, b, sizeof b);
        fprintf(ff, "fdb append %02x:%02x:%02x:%02x:%02x:%02x dev stv%u dst %s self permanent\n",
                m[0], m[1], m[2], m[3], m[4], m[5], vni, b);
        if (i < n_vteps) /* one flood entry per (network, VTEP) pair, as the library */
            fprintf(ff, "fdb append 00:00:00:00:00:00 dev stv%u dst %s self permanent\n", vni, b);
        inet_ntop(AF_INET, &rem[i].ip, b, sizeof b);
        fprintf(fn,
                "neigh replace %s lladdr %02x:%02x:%02x:%02x:%02x:%02x dev stv%u nud "
                "permanent\n",
                b, m[0], m[1], m[2], m[3], m[4], m[5], vni);
    }
    fclose(fl), fclose(ff), fclose(fn);
    char err[512];
    char *text = stn_nft_render(&st, err, sizeof err);
    if (!text) {
        fprintf(stderr, "render: %s\n", err);
        return 1;
    }
    FILE *fr = fopen(f_nft, "w");
    fputs(text, fr);
    fclose(fr);
    free(text);

    /* Each peer tool once, over its whole batch file, in namespace B. */
    const char *peer[4][2] = {{"ip -n %s -batch %s", f_links},
                              {"ip netns exec %s bridge -batch %s", f_fdb},
                              {"ip -n %s -batch %s", f_neigh},
                              {"ip netns exec %s nft -f %s", f_nft}};
    double pt[4];
    for (int k = 0; k < 4; k++) {
        snprintf(cmd, sizeof cmd, peer[k][0], nsb, peer[k][1]);
        double t = now_ms();
        sh(cmd);
        pt[k] = now_ms() - t;
    }

    /* --- libstratus_net --- */
    int self = st_netns_self();
    if (st_netns_enter(nsa) < 0)
        return 1;
    stn_ctx *c;
    stn_options o = {.state_dir = dir};
    stn_stats s1, s2, s3;
    if (stn_open(&c, &o, err, sizeof err) < 0) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    double l0 = now_ms();
    int rc = stn_converge(c, &st, &s1, err, sizeof err);
    double l1 = now_ms();
    rc |= stn_converge(c, &st, &s2, err, sizeof err);
    double l2 = now_ms();
    rules[1].port_max = 23;
    rc |= stn_converge(c, &st, &s3, err, sizeof err);
    double l3 = now_ms();
    stn_close(c);
    if (st_netns_return(self) < 0)
        return 1;
    if (rc)
        fprintf(stderr, "converge: %s\n", err);
    /* the nft peer for a single change: the same full transaction by the CLI */
    snprintf(cmd, sizeof cmd, peer[3][0], nsb, peer[3][1]);
    double p0 = now_ms();
    sh(cmd);
    double p1 = now_ms();

    printf("network bench: %zu ports (taps), %zu remote ports on %zu VTEPs, %zu networks\n",
           n_ports, n_rem, n_vteps, n_nets);
    printf("  libstratus_net, cold converge          %8.1f ms  (%u links, %u fdb, %u neigh, "
           "nft %u)\n",
           l1 - l0, s1.links_added + s1.links_changed, s1.fdb_added, s1.neigh_added,
           s1.nft_applied);
    printf("  peer ip+bridge+nft batch, same objects %8.1f ms  (links %.1f, fdb %.1f, neigh "
           "%.1f, nft %.1f)\n",
           pt[0] + pt[1] + pt[2] + pt[3], pt[0], pt[1], pt[2], pt[3]);
    printf("  libstratus_net, converge again (no-op) %8.1f ms  (%u changes)\n", l2 - l1,
           s2.links_added + s2.links_changed + s2.fdb_added + s2.neigh_added + s2.nft_applied);
    printf("  one security group rule change         %8.1f ms  (nft -f of the same ruleset: "
           "%.1f ms)\n",
           l3 - l2, p1 - p0);

    snprintf(cmd, sizeof cmd, "ip netns del %s; ip netns del %s; rm -rf %s", nsa, nsb, dir);
    sh(cmd);
    return rc ? 1 : 0;
}
