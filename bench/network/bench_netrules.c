/*
 * bench_netrules - the per-packet cost of the host's nftables at scale:
 * one flow between two ports, with only those two ports' rules on the host,
 * beside the same flow with PORTS ports and a security group each (sets and
 * verdict maps, as the library renders them), and beside the same flow with
 * the tables deleted. Measured in the same run, interleaved.
 *
 *   bench_netrules [PORTS] [ROUNDS] [SECONDS]    (root; default 1000 5 3)
 *
 * A fresh namespace plays the host (underlay veth, NETWORKS = 10 overlay
 * networks, no DHCP); two more play the guests, on veth ports (the library's
 * tap path with a veth) of network 0, their addresses set by hand. The
 * other PORTS - 2 ports are persistent taps spread over the networks, each
 * with a group of its own: ssh from anywhere, 80-443 from a /16, anything
 * from its own members, all egress. The host is converged once with every
 * port; then each run first puts in place one state's nftables transaction
 * (the text stn_nft_render() gives, by nft -f), so only the rules differ. The flow's two ports
 * share a group (anything from members) in both states. iperf3 TCP Gbit/s and UDP 64-byte frames/s
 * received, A -> B.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stratus/net.h>

#include "st_netns.h"

#include "dhcpprobe.h"

#define N_NETS 10

static char hns[32], gns[2][32], dir[64];

static int sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "failed: %s\n", cmd);
    return rc;
}

static char *out(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return strdup("");
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                break;
            b = nb;
        }
    }
    pclose(p);
    if (b)
        b[n] = 0;
    return b ? b : strdup("");
}

/* iperf3 A -> B: TCP Gbit/s (udp 0) or UDP 64 B frames/s received. */
static double iperf(int udp, int secs)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ip netns exec %s iperf3 -s -D -1 -B 10.0.0.3 >/dev/null 2>&1",
             gns[1]);
    if (sh(cmd) != 0)
        return -1;
    usleep(300000);
    snprintf(cmd, sizeof cmd, "ip netns exec %s iperf3 -c 10.0.0.3 -t %d -J %s 2>/dev/null", gns[0],
             secs, udp ? "-u -l 64 -b 0" : "");
    char *o = out(cmd);
    json_t *j = json_loads(o, 0, NULL), *end = json_object_get(j, "end");
    free(o);
    double v = -1;
    if (!udp)
        v = json_number_value(
                json_object_get(json_object_get(end, "sum_received"), "bits_per_second")) /
            1e9;
    else {
        json_t *s = json_object_get(end, "sum");
        double t = json_number_value(json_object_get(s, "seconds"));
        if (t > 0)
            v = (json_number_value(json_object_get(s, "packets")) -
                 json_number_value(json_object_get(s, "lost_packets"))) /
                t;
    }
    json_decref(j);
    usleep(200000);
    return v;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void range(char *s, size_t n, double *v, int k, const char *fmt)
{
    qsort(v, (size_t)k, sizeof *v, cmpd);
    char a[32], b[32], c[32];
    snprintf(a, sizeof a, fmt, v[0]);
    snprintf(b, sizeof b, fmt, v[k / 2]);
    snprintf(c, sizeof c, fmt, v[k - 1]);
    snprintf(s, n, "%.24s / %.24s / %.24s", a, b, c);
}

/* Chains, set/map elements and rules (lines) of the rendered ruleset. */
static void shape(const stn_state *s, int *chains, int *lines)
{
    char err[256];
    char *t = stn_nft_render(s, err, sizeof err);
    *chains = *lines = 0;
    for (char *p = t; p && *p; p++) {
        if (*p == '\n')
            (*lines)++;
        if (!strncmp(p, "chain ", 6) && (p == t || p[-1] == ' ' || p[-1] == '\t'))
            (*chains)++;
    }
    free(t);
}

int main(int argc, char **argv)
{
    size_t n_ports = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5, secs = argc > 3 ? atoi(argv[3]) : 3;
    if (geteuid() != 0 || n_ports < 2 || rounds < 1 || rounds > 32 || secs < 1) {
        fprintf(stderr, "usage (root): bench_netrules [PORTS>=2] [ROUNDS<=32] [SECONDS]\n");
        return 77;
    }
    int pid = (int)getpid();
    snprintf(hns, sizeof hns, "nbrh-%d", pid);
    snprintf(gns[0], sizeof gns[0], "nbra-%d", pid);
    snprintf(gns[1], sizeof gns[1], "nbrb-%d", pid);
    snprintf(dir, sizeof dir, "/tmp/stratus-bench-rules-%d", pid);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && ip netns add %s && ip netns add %s && ip netns add %s && ip -n %s "
             "link add ul0 type veth peer name ul1 && ip -n %s addr add 192.0.2.1/24 dev ul0 && "
             "ip -n %s link set ul0 up && ip -n %s link set lo up && ip -n %s link set lo up",
             dir, hns, gns[0], gns[1], hns, hns, hns, gns[0], gns[1]);
    if (sh(cmd) != 0)
        return 1;

    stn_network nets[N_NETS];
    memset(nets, 0, sizeof nets);
    for (int i = 0; i < N_NETS; i++) {
        snprintf(nets[i].id, sizeof nets[i].id, "net%d", i);
        nets[i].vni = 2000 + (uint32_t)i;
        nets[i].mtu = 1450;
        strcpy(nets[i].underlay_dev, "ul0");
        inet_pton(AF_INET, "192.0.2.1", &nets[i].local_vtep);
        nets[i].cidr.s_addr = htonl(0x0a000000u | (uint32_t)i << 16);
        nets[i].prefix = 16;
    }
    stn_port *ports = calloc(n_ports, sizeof *ports);
    stn_secgroup *sgs = calloc(n_ports, sizeof *sgs);
    stn_sg_rule *rules = calloc(n_ports * 4, sizeof *rules);
    for (size_t i = 0; i < n_ports; i++) {
        stn_port *p = &ports[i];
        int flow = i < 2;
        snprintf(p->id, sizeof p->id, "port%zu", i);
        snprintf(p->network_id, sizeof p->network_id, "net%zu", flow ? 0 : i % N_NETS);
        uint8_t mac[6] = {0x52, 0x54, 0, 7, (uint8_t)(i >> 8), (uint8_t)i};
        memcpy(p->mac, mac, 6);
        /* net k is 10.k.0.0/16; the flow is 10.0.0.2 -> 10.0.0.3 */
        p->ips[0].s_addr =
            htonl(0x0a000000u | (uint32_t)(flow ? 0 : i % N_NETS) << 16 | (uint32_t)(i + 2));
        p->n_ips = 1;
        if (flow) {
            p->kind = STN_PORT_VETH;
            snprintf(p->ifname, sizeof p->ifname, "nbrv%u", (unsigned)i);
            strcpy(p->peer_ifname, "eth0");
            snprintf(p->peer_netns, sizeof p->peer_netns, "/run/netns/%s", gns[i]);
        } else {
            snprintf(p->ifname, sizeof p->ifname, "nbrt%u", (unsigned)(i % 1000000));
        }
        /* the flow's ports share group sg0; every other port has its own */
        size_t g = flow ? 0 : i - 1;
        snprintf(p->sgs[0], sizeof p->sgs[0], "sg%zu", g);
        p->n_sgs = 1;
        if (i == 1)
            continue;
        stn_secgroup *s = &sgs[g];
        stn_sg_rule *r = &rules[g * 4];
        snprintf(s->id, sizeof s->id, "sg%zu", g);
        s->rules = r;
        r[0] = (stn_sg_rule){.direction = STN_EGRESS, .ethertype = 4};
        r[1] = (stn_sg_rule){.direction = STN_INGRESS, .ethertype = 4};
        snprintf(r[1].remote_group, sizeof r[1].remote_group, "sg%zu", g);
        if (flow) {
            s->n_rules = 2;
        } else {
            r[2] = (stn_sg_rule){.direction = STN_INGRESS,
                                 .ethertype = 4,
                                 .protocol = 6,
                                 .port_min = 22,
                                 .port_max = 22};
            r[3] = (stn_sg_rule){.direction = STN_INGRESS,
                                 .ethertype = 4,
                                 .protocol = 6,
                                 .port_min = 80,
                                 .port_max = 443,
                                 .remote_cidr.s_addr = htonl(0x0a010000u),
                                 .remote_prefix = 16};
            s->n_rules = 4;
        }
    }
    /* small: the flow's two ports (network 0, group sg0); big: all of them */
    stn_state small = {nets, 1, ports, 2, NULL, 0, sgs, 1, 0, NULL, 0};
    stn_state big = {nets, N_NETS, ports, n_ports, NULL, 0, sgs, n_ports - 1, 0, NULL, 0};
    int ch_s, ln_s, ch_b, ln_b;
    shape(&small, &ch_s, &ln_s);
    shape(&big, &ch_b, &ln_b);
    /* The links of all ports stay (a converge to the small state would
     * delete 998 taps, one RTM_DELLINK and RCU grace period each); only the
     * ruleset changes: each state's transaction, as stn_converge() renders
     * and applies it, by nft -f. */
    char f_small[256], f_big[256];
    const stn_state *st2[2] = {&small, &big};
    char *fcmd[2] = {f_small, f_big};
    for (int k = 0; k < 2; k++) {
        char path[128], err2[256];
        snprintf(path, sizeof path, "%s/%s.nft", dir, k ? "big" : "small");
        char *text = stn_nft_render(st2[k], err2, sizeof err2);
        FILE *f = text ? fopen(path, "w") : NULL;
        if (!f) {
            fprintf(stderr, "render: %s\n", err2);
            return 1;
        }
        fputs(text, f);
        fclose(f);
        free(text);
        snprintf(fcmd[k], 256, "nft -f %s", path);
    }

    int self = st_netns_self();
    char err[512];
    stn_ctx *c;
    stn_options o = {.state_dir = dir};
    if (st_netns_enter(hns) < 0 || stn_open(&c, &o, err, sizeof err) < 0) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    int rc = stn_converge(c, &big, NULL, err, sizeof err);
    if (st_netns_return(self) < 0 || rc < 0) {
        fprintf(stderr, "converge: %s\n", err);
        return 1;
    }
    snprintf(cmd, sizeof cmd,
             "ip -n %s addr add 10.0.0.2/16 dev eth0 && ip -n %s link set eth0 up && ip -n %s "
             "addr add 10.0.0.3/16 dev eth0 && ip -n %s link set eth0 up && ip netns exec %s ping "
             "-c1 -W3 10.0.0.3 >/dev/null",
             gns[0], gns[0], gns[1], gns[1], gns[0]);
    if (sh(cmd) != 0)
        return 1;

    enum { S_SMALL, S_BIG, S_BARE, S_N };
    static const char *const s_name[S_N] = {"the flow's 2 ports' rules only", "all ports' rules",
                                            "nft tables deleted"};
    double tcp[S_N][32], udp[S_N][32], conv[S_N][32];
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < S_N; k++) {
            if (st_netns_enter(hns) < 0)
                return 1;
            double t0 = bench_ms();
            if (k == S_BARE)
                rc = sh("nft delete table bridge stratus && nft delete table inet stratus");
            else
                rc = sh(k == S_SMALL ? f_small : f_big);
            conv[k][r] = bench_ms() - t0;
            if (st_netns_return(self) < 0 || rc != 0) {
                fprintf(stderr, "state %d: %s\n", k, rc ? err : "setns");
                return 1;
            }
            tcp[k][r] = iperf(0, secs);
            udp[k][r] = iperf(1, secs);
        }
    /* Emptying the host: stn_converge() to an empty state deletes every
     * link (one group delete), beside the same number of taps deleted one
     * RTM_DELLINK each by `ip -batch`, as the library did before. */
    if (st_netns_enter(hns) < 0)
        return 1;
    stn_stats est = {0};
    double t0 = bench_ms();
    rc = stn_converge(c, &(stn_state){0}, &est, err, sizeof err);
    double empty_ms = bench_ms() - t0;
    if (st_netns_return(self) < 0 || rc < 0) {
        fprintf(stderr, "empty: %s\n", err);
        return 1;
    }
    stn_close(c);
    char batch[2][96];
    for (int k = 0; k < 2; k++) {
        snprintf(batch[k], sizeof batch[k], "%s/%s.batch", dir, k ? "del" : "add");
        FILE *f = fopen(batch[k], "w");
        if (!f)
            return 1;
        for (unsigned i = 0; i < est.links_removed; i++)
            fprintf(f, k ? "link del nbrp%u\n" : "tuntap add dev nbrp%u mode tap\n", i);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "ip -n %s -batch %s", hns, batch[0]);
    if (sh(cmd) != 0)
        return 1;
    snprintf(cmd, sizeof cmd, "ip -n %s -batch %s", hns, batch[1]);
    t0 = bench_ms();
    if (sh(cmd) != 0)
        return 1;
    double peer_ms = bench_ms() - t0;
    char *up = out("uptime");
    printf("per-packet rule cost: one flow (iperf3 A -> B, two veth ports on one bridge), %d "
           "rounds of %d s interleaved; min / median / max\n",
           rounds, secs);
    printf("  %-34s %-10s %-24s %s\n", "host's nftables", "", "TCP Gbit/s",
           "UDP 64 B frames/s received");
    for (int k = 0; k < S_N; k++) {
        char s1[96], s2[96], what[64];
        range(s1, sizeof s1, tcp[k], rounds, "%.2f");
        range(s2, sizeof s2, udp[k], rounds, "%.0f");
        snprintf(what, sizeof what, "%zu ports",
                 k == S_SMALL ? (size_t)2
                 : k == S_BIG ? n_ports
                              : (size_t)0);
        printf("  %-34s %-10s %-24s %s\n", s_name[k], k == S_BARE ? "" : what, s1, s2);
    }
    char s1[96], s2[96];
    range(s1, sizeof s1, conv[S_SMALL], rounds, "%.0f");
    range(s2, sizeof s2, conv[S_BIG], rounds, "%.0f");
    printf("  ruleset: 2 ports %d chains, %d lines; %zu ports %d chains, %d lines (a packet "
           "takes the same path in both: map lookup -> its port's chain -> its group's chain)\n",
           ch_s, ln_s, n_ports, ch_b, ln_b);
    printf("  the ruleset put in place before each run (nft -f, one transaction), ms: 2 ports %s; "
           "%zu ports %s\n",
           s1, n_ports, s2);
    printf(
        "  host emptied by stn_converge() (%u links, one group delete): %.0f ms; the same number "
        "of taps deleted one RTM_DELLINK each (ip -batch): %.0f ms\n",
        est.links_removed, empty_ms, peer_ms);
    printf("  load after: %s", up);
    free(up);
    snprintf(cmd, sizeof cmd, "ip netns del %s; ip netns del %s; ip netns del %s; rm -rf %s", hns,
             gns[0], gns[1], dir);
    sh(cmd);
    free(ports), free(sgs), free(rules);
    return 0;
}
