/*
 * network_overlay - two hosts, each converged by libstratus_net, with
 * tenants' ports as namespaces; the kernel, busybox udhcpc, ping and the
 * ip/bridge/nft tools judge.
 *
 * Layout (every name carries the pid):
 *   h1, h2    "hosts", joined by a veth underlay 10.99.0.1 <-> 10.99.0.2
 *   a1, a2    tenant A's ports on h1 and h2 (network A, VNI 100, 10.10.0.0/24)
 *   b1        tenant B's port on h1 (network B, VNI 200, the SAME CIDR)
 * Ports a1, a2 and b1 are veths put into the bridge by the same code that
 * puts a tap there; h1 also has a tap port (no VM behind it) for stratus-vmm.
 * The tests run in order and share this world; each names one behaviour.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"
#include "nl.h"
#include "st_proc.h"
#include "st_test.h"
#include <stratus/net.h>

static const char *H1, *H2, *A1, *A2, *B1, *UL1, *UL2, *TAP;
static char *dir1, *dir2, *script;

/* ---- the desired state of each host ---- */

static stn_sg_rule rules_a[3];
static struct in_addr members_a[2];
static stn_secgroup sg_a;
static stn_network nets1[2], nets2[1];
static stn_port ports1[3], ports2[1];
static stn_remote_port rem1[1], rem2[1];
static stn_state st1, st2;

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a;
}

static void net(stn_network *n, const char *id, uint32_t vni, const char *ul, const char *vtep)
{
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    n->vni = vni;
    n->mtu = 1450;
    snprintf(n->underlay_dev, sizeof n->underlay_dev, "%s", ul);
    n->local_vtep = ip(vtep);
    n->dhcp = 1;
    n->cidr = ip("10.10.0.0");
    n->prefix = 24;
    n->dhcp_ip = ip("10.10.0.2");
    n->gateway = ip("10.10.0.1");
    n->dns[0] = ip("10.10.0.3");
    n->n_dns = 1;
}

static void veth_port(stn_port *p, const char *id, const char *netid, const char *ifname,
                      int mac_tail, const char *addr, const char *ns)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->network_id, sizeof p->network_id, "%s", netid);
    p->kind = STN_PORT_VETH;
    snprintf(p->ifname, sizeof p->ifname, "%s", ifname);
    uint8_t mac[6] = {0x52, 0x54, 0x00, 0xaa, 0x00, (uint8_t)mac_tail};
    memcpy(p->mac, mac, 6);
    p->ips[0] = ip(addr);
    p->n_ips = 1;
    snprintf(p->sgs[0], sizeof p->sgs[0], "sg-a");
    p->n_sgs = 1;
    snprintf(p->peer_ifname, sizeof p->peer_ifname, "eth0");
    snprintf(p->peer_netns, sizeof p->peer_netns, "/run/netns/%s", ns);
}

static void build_state(void)
{
    /* sg-a, a tenant's "default" group: all egress, ingress from members. */
    memset(rules_a, 0, sizeof rules_a);
    rules_a[0].direction = STN_EGRESS;
    rules_a[0].ethertype = 4;
    rules_a[1].direction = STN_INGRESS;
    rules_a[1].ethertype = 4;
    snprintf(rules_a[1].remote_group, sizeof rules_a[1].remote_group, "sg-a");
    /* a third rule, "ingress from anywhere", used only while spoofing is
     * tested, so that the security group cannot hide a hole in anti-spoofing */
    rules_a[2].direction = STN_INGRESS;
    rules_a[2].ethertype = 4;
    members_a[0] = ip("10.10.0.11");
    members_a[1] = ip("10.10.0.12");
    memset(&sg_a, 0, sizeof sg_a);
    snprintf(sg_a.id, sizeof sg_a.id, "sg-a");
    sg_a.rules = rules_a;
    sg_a.n_rules = 2;
    sg_a.members = members_a;
    sg_a.n_members = 2;

    net(&nets1[0], "net-a", 100, UL1, "10.99.0.1");
    net(&nets1[1], "net-b", 200, UL1, "10.99.0.1");
    net(&nets2[0], "net-a", 100, UL2, "10.99.0.2");

    veth_port(&ports1[0], "port-a1", "net-a", nt_name("pa"), 1, "10.10.0.11", A1);
    veth_port(&ports1[1], "port-b1", "net-b", nt_name("pb"), 3, "10.10.0.13", B1);
    ports1[1].mac[3] = 0xbb;
    memset(&ports1[2], 0, sizeof ports1[2]);
    snprintf(ports1[2].id, sizeof ports1[2].id, "port-tap");
    snprintf(ports1[2].network_id, sizeof ports1[2].network_id, "net-a");
    ports1[2].kind = STN_PORT_TAP;
    snprintf(ports1[2].ifname, sizeof ports1[2].ifname, "%s", TAP);
    memcpy(ports1[2].mac, (uint8_t[]){0x52, 0x54, 0x00, 0xaa, 0x00, 0x09}, 6);
    ports1[2].ips[0] = ip("10.10.0.19");
    ports1[2].n_ips = 1;
    ports1[2].owner = 4242;
    ports1[2].group = 4343;
    veth_port(&ports2[0], "port-a2", "net-a", nt_name("pa"), 2, "10.10.0.12", A2);

    memcpy(rem1[0].mac, ports2[0].mac, 6);
    snprintf(rem1[0].network_id, sizeof rem1[0].network_id, "net-a");
    rem1[0].ip = ip("10.10.0.12");
    rem1[0].vtep = ip("10.99.0.2");
    memcpy(rem2[0].mac, ports1[0].mac, 6);
    snprintf(rem2[0].network_id, sizeof rem2[0].network_id, "net-a");
    rem2[0].ip = ip("10.10.0.11");
    rem2[0].vtep = ip("10.99.0.1");

    st1 = (stn_state){nets1, 2, ports1, 3, rem1, 1, &sg_a, 1, 0, NULL, 0};
    st2 = (stn_state){nets2, 1, ports2, 1, rem2, 1, &sg_a, 1, 0, NULL, 0};
}

/* ---- converging a host from inside its namespace ---- */

typedef struct job {
    const char *dir;
    const stn_state *s;
    stn_stats stats;
    char err[256];
    int rc;
} job;

static int run_converge(void *arg)
{
    job *j = arg;
    stn_ctx *c;
    stn_options o = {.state_dir = j->dir};
    /* A fresh context each time: nothing survives in memory between calls,
     * exactly as after a restart (or kill -9) of the node agent. */
    j->rc = stn_open(&c, &o, j->err, sizeof j->err);
    if (j->rc == 0) {
        j->rc = stn_converge(c, j->s, &j->stats, j->err, sizeof j->err);
        stn_close(c);
    }
    return j->rc;
}

static job converge(const char *host, const char *dir, const stn_state *s)
{
    job j = {.dir = dir, .s = s};
    if (nt_in(host, run_converge, &j) < 0 && j.rc == 0)
        j.rc = -1;
    if (j.rc != 0)
        fprintf(stderr, "converge %s: %d %s\n", host, j.rc, j.err);
    return j;
}

static unsigned changes(const stn_stats *s)
{
    return s->links_added + s->links_changed + s->links_removed + s->fdb_added + s->fdb_removed +
           s->neigh_added + s->neigh_removed + s->addrs_added + s->addrs_removed + s->nft_applied +
           s->dhcp_started + s->dhcp_reloaded + s->dhcp_stopped;
}

/* udhcpc in a port namespace; the script records what the lease said. */
static int dhcp(const char *ns, char *lease, size_t cap)
{
    char out[512];
    snprintf(out, sizeof out, "%s/lease-%s", dir1, ns);
    unlink(out);
    nt_sh("ip -n %s link set eth0 up", ns); /* the guest brings its NIC up */
    nt_sh("ip netns exec %s env LEASE_OUT=%s timeout 15 busybox udhcpc -i eth0 -n -q -t 4 -T 1 -O "
          "mtu -s "
          "%s >/dev/null 2>&1",
          ns, out, script);
    FILE *f = fopen(out, "r");
    if (!f)
        return -1;
    size_t n = fread(lease, 1, cap - 1, f);
    lease[n] = '\0';
    fclose(f);
    return 0;
}

static int ping(const char *ns, const char *dst, const char *src)
{
    return nt_sh("ip netns exec %s ping -c 2 -i 0.2 -W 1 -q %s%s %s >/dev/null 2>&1", ns,
                 src ? "-I " : "", src ? src : "", dst);
}

/* ---- the world ---- */

static int suite_init(void)
{
    H1 = nt_name("snh1x");
    H2 = nt_name("snh2x");
    A1 = nt_name("sna1x");
    A2 = nt_name("sna2x");
    B1 = nt_name("snb1x");
    UL1 = nt_name("ul1x");
    UL2 = nt_name("ul2x");
    TAP = nt_name("tp");
    const char *all[] = {H1, H2, A1, A2, B1};
    for (int i = 0; i < 5; i++)
        if (nt_add(all[i]) < 0)
            return -1;
    if (nt_sh("ip link add %s netns %s type veth peer name %s netns %s && "
              "ip -n %s addr add 10.99.0.1/24 dev %s && ip -n %s link set %s up && "
              "ip -n %s addr add 10.99.0.2/24 dev %s && ip -n %s link set %s up",
              UL1, H1, UL2, H2, H1, UL1, H1, UL1, H2, UL2, H2, UL2) != 0)
        return -1;
    dir1 = st_tmpdir("netdp1");
    dir2 = st_tmpdir("netdp2");
    /* dnsmasq drops to nobody and re-reads its hosts file on SIGHUP */
    chmod(dir1, 0755);
    chmod(dir2, 0755);
    char p[512];
    snprintf(p, sizeof p, "%s/udhcpc.sh", dir1);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputs("#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n"
          "echo \"ip=$ip mask=$mask mtu=$mtu router=$router dns=$dns\" > \"$LEASE_OUT\"\n"
          "ip addr flush dev \"$interface\"\nip addr add \"$ip/$mask\" dev \"$interface\"\n",
          f);
    fclose(f);
    chmod(p, 0755);
    script = strdup(p);
    build_state();
    return 0;
}

static void kill_dnsmasq(const char *dir)
{
    nt_sh("for f in %s/dhcp-*.pid; do [ -f \"$f\" ] && kill -9 $(cat \"$f\") 2>/dev/null; done; "
          "true",
          dir);
}

static int suite_cleanup(void)
{
    if (getenv("NETWORK_TEST_KEEP"))
        return 0;
    kill_dnsmasq(dir1);
    kill_dnsmasq(dir2);
    nt_cleanup();
    st_rmtree(dir1);
    st_rmtree(dir2);
    free(dir1);
    free(dir2);
    free(script);
    return 0;
}

/* ---- tests ---- */

static void test_converge_builds_hosts(void)
{
    job j1 = converge(H1, dir1, &st1), j2 = converge(H2, dir2, &st2);
    ST_ASSERT_INT_EQ_FATAL(j1.rc, 0);
    ST_ASSERT_INT_EQ_FATAL(j2.rc, 0);
    /* bridge + vxlan per network, three ports on h1 */
    ST_ASSERT_INT_EQ(j1.stats.links_added, 7);
    ST_ASSERT_INT_EQ(j1.stats.dhcp_started, 2);
    ST_ASSERT_INT_EQ(j1.stats.nft_applied, 1);
    char *vx = nt_out("ip -n %s -d link show stv100", H1);
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "vxlan id 100 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "local 10.99.0.1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "dstport 4789 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "nolearning "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "proxy "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "master stb100 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "mtu 1450 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vx, "vxlan id 100 local 10.99.0.1 ")); /* no group */
    free(vx);
    char *pa = nt_out("ip -n %s link show %s", H1, ports1[0].ifname);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa, "master stb100 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(pa, "mtu 1450 "));
    free(pa);
    char *eth = nt_out("ip -n %s link show eth0", A1);
    CU_ASSERT_PTR_NOT_NULL(strstr(eth, "link/ether 52:54:00:aa:00:01 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(eth, "mtu 1450 "));
    free(eth);
}

static int open_tap_like_vmm(void *arg)
{
    const char *name = arg;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int hdr = 12, rc = ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
                               ioctl(fd, TUNSETOFFLOAD, 0) < 0
                           ? -1
                           : 0;
    close(fd);
    return rc;
}

static void test_tap_is_persistent_and_vmm_ready(void)
{
    char *t = nt_out("ip -n %s -d link show %s", H1, TAP);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "tun type tap pi off vnet_hdr on persist on"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "user 4242 group 4343"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "master stb100 "));
    free(t);
    /* stratus-vmm's own open sequence attaches to it. */
    ST_ASSERT_INT_EQ(nt_in(H1, open_tap_like_vmm, (void *)TAP), 0);
    /* and the tap is still there after the VMM closes it */
    ST_ASSERT_INT_EQ(nt_sh("ip -n %s link show %s >/dev/null 2>&1", H1, TAP), 0);
}

static void test_fdb_and_neighbours_for_remote_ports(void)
{
    char *f = nt_out("ip netns exec %s bridge fdb show dev stv100", H1);
    CU_ASSERT_PTR_NOT_NULL(strstr(f, "52:54:00:aa:00:02 dst 10.99.0.2 self permanent"));
    CU_ASSERT_PTR_NOT_NULL(strstr(f, "00:00:00:00:00:00 dst 10.99.0.2 self permanent"));
    free(f);
    char *n = nt_out("ip -n %s neigh show dev stv100", H1);
    CU_ASSERT_PTR_NOT_NULL(strstr(n, "10.10.0.12 lladdr 52:54:00:aa:00:02 PERMANENT"));
    free(n);
    char *f2 = nt_out("ip netns exec %s bridge fdb show dev stv100", H2);
    CU_ASSERT_PTR_NOT_NULL(strstr(f2, "52:54:00:aa:00:01 dst 10.99.0.1 self permanent"));
    free(f2);
}

static void test_udhcpc_gets_fixed_ip_and_mtu(void)
{
    char lease[256];
    ST_ASSERT_INT_EQ_FATAL(dhcp(A1, lease, sizeof lease), 0);
    ST_ASSERT_STR_EQ(lease, "ip=10.10.0.11 mask=24 mtu=1450 router=10.10.0.1 dns=10.10.0.3\n");
    ST_ASSERT_INT_EQ_FATAL(dhcp(A2, lease, sizeof lease), 0);
    ST_ASSERT_STR_EQ(lease, "ip=10.10.0.12 mask=24 mtu=1450 router=10.10.0.1 dns=10.10.0.3\n");
    ST_ASSERT_INT_EQ_FATAL(dhcp(B1, lease, sizeof lease), 0);
    ST_ASSERT_STR_EQ(lease, "ip=10.10.0.13 mask=24 mtu=1450 router=10.10.0.1 dns=10.10.0.3\n");
}

static void test_unknown_mac_gets_no_lease(void)
{
    /* A MAC the network does not know: anti-spoofing would drop it before
     * dnsmasq saw it, so this asks dnsmasq directly from h1's bridge side
     * through a throwaway veth that is not a port. */
    const char *x = nt_name("snxx"), *xv = nt_name("xv");
    ST_ASSERT_INT_EQ_FATAL(nt_add(x), 0);
    nt_sh("ip -n %s link add %s type veth peer name eth0 netns %s && ip -n %s link set %s "
          "master stb100 up && ip -n %s link set eth0 address 52:54:00:ee:ee:ee up",
          H1, xv, x, H1, xv, x);
    char lease[256];
    CU_ASSERT_NOT_EQUAL(dhcp(x, lease, sizeof lease), 0);
    nt_sh("ip -n %s link del %s; ip netns del %s", H1, xv, x);
}

static void test_ping_across_hosts_over_vxlan(void)
{
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
    ST_ASSERT_INT_EQ(ping(A2, "10.10.0.11", NULL), 0);
}

static void test_other_tenant_same_cidr_cannot_reach(void)
{
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
    CU_ASSERT_NOT_EQUAL(ping(B1, "10.10.0.11", NULL), 0);
    CU_ASSERT_NOT_EQUAL(ping(B1, "10.10.0.12", NULL), 0);
}

/* Packets a2 received; spoofed frames are judged by whether they arrive,
 * since their replies could never come back anyway. */
static long rx_a2(void)
{
    char *o = nt_out("ip netns exec %s cat /sys/class/net/eth0/statistics/rx_packets", A2);
    long v = atol(o);
    free(o);
    return v;
}

/* 20 echo requests from a1 (from src if given); how many reached a2. */
static long burst(const char *src)
{
    long before = rx_a2();
    nt_sh("ip netns exec %s ping -c 20 -i 0.01 -W 1 -q %s%s 10.10.0.12 >/dev/null 2>&1", A1,
          src ? "-I " : "", src ? src : "");
    return rx_a2() - before;
}

/* a1 needs no ARP for a2: only the frames under test leave it (a MAC
 * change flushes the neighbour table, permanent entries included). */
static void pin_a2(void)
{
    nt_sh("ip -n %s neigh replace 10.10.0.12 lladdr 52:54:00:aa:00:02 dev eth0 nud permanent", A1);
}

static void open_groups(int open)
{
    sg_a.n_rules = open ? 3 : 2;
    ST_ASSERT_INT_EQ(converge(H1, dir1, &st1).rc, 0);
    ST_ASSERT_INT_EQ(converge(H2, dir2, &st2).rc, 0);
    pin_a2();
}

static void test_spoofed_ip_is_dropped(void)
{
    open_groups(1);
    CU_ASSERT(burst(NULL) >= 20);
    nt_sh("ip -n %s addr add 10.10.0.66/24 dev eth0", A1);
    long got = burst("10.10.0.66");
    st_assert_fmt(got < 5, 0, __FILE__, __LINE__, "%ld spoofed packets reached a2", got);
    nt_sh("ip -n %s addr del 10.10.0.66/24 dev eth0", A1);
    open_groups(0);
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
}

static void test_spoofed_mac_is_dropped(void)
{
    open_groups(1);
    nt_sh("ip -n %s link set eth0 address 52:54:00:aa:00:77", A1);
    pin_a2();
    long got = burst(NULL);
    st_assert_fmt(got < 5, 0, __FILE__, __LINE__, "%ld spoofed frames reached a2", got);
    nt_sh("ip -n %s link set eth0 address 52:54:00:aa:00:01", A1);
    pin_a2();
    CU_ASSERT(burst(NULL) >= 20);
    open_groups(0);
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
}

static void test_security_group_change_takes_effect(void)
{
    /* Without its ingress rule, a2 no longer accepts a1's ping ... */
    sg_a.n_rules = 1;
    ST_ASSERT_INT_EQ_FATAL(converge(H2, dir2, &st2).rc, 0);
    CU_ASSERT_NOT_EQUAL(ping(A1, "10.10.0.12", NULL), 0);
    /* ... while a2's own (egress) traffic still flows, its replies stateful. */
    ST_ASSERT_INT_EQ(ping(A2, "10.10.0.11", NULL), 0);
    /* ICMP from one CIDR only, not a1's. */
    rules_a[1].remote_group[0] = '\0';
    rules_a[1].protocol = 1;
    rules_a[1].remote_cidr = ip("10.10.0.128");
    rules_a[1].remote_prefix = 25;
    sg_a.n_rules = 2;
    ST_ASSERT_INT_EQ_FATAL(converge(H2, dir2, &st2).rc, 0);
    CU_ASSERT_NOT_EQUAL(ping(A1, "10.10.0.12", NULL), 0);
    rules_a[1].remote_cidr = ip("10.10.0.0");
    rules_a[1].remote_prefix = 24;
    ST_ASSERT_INT_EQ_FATAL(converge(H2, dir2, &st2).rc, 0);
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
    /* back to the default group */
    rules_a[1].protocol = 0;
    rules_a[1].remote_prefix = 0;
    snprintf(rules_a[1].remote_group, sizeof rules_a[1].remote_group, "sg-a");
    ST_ASSERT_INT_EQ_FATAL(converge(H2, dir2, &st2).rc, 0);
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
}

/* What the data plane consists of on a host, as the kernel's own tools print
 * it. FDB: only the permanent entries (learned ones come and go with
 * traffic), sorted and unique, because a dump that spans several reads can
 * list an entry twice while the bridge learns; the kernel keeps one
 * (MAC, VTEP) per VXLAN device, and the library dedups its own dump too.
 * The bridge port timers `ip -d` prints (hold, message age, forward delay)
 * count down on their own, so they are cut from the dump. */
static void snapshot(const char *host, const char *file)
{
    nt_sh("ip netns exec %s sh -c 'nft list ruleset; bridge fdb show | grep permanent | sort -u; "
          "ip neigh show nud permanent; ip link show; ip -d link show type vxlan; "
          "ip -d link show type tun; ip -4 addr show' 2>&1 "
          "| sed -E 's/[a-z_]+_timer +[0-9.]+//g' > %s",
          host, file);
}

static void test_converging_twice_changes_nothing(void)
{
    char b1[600], b2[600], a1[600], a2[600];
    snprintf(b1, sizeof b1, "%s/before-h1", dir1);
    snprintf(b2, sizeof b2, "%s/before-h2", dir1);
    snprintf(a1, sizeof a1, "%s/after-h1", dir1);
    snprintf(a2, sizeof a2, "%s/after-h2", dir1);
    snapshot(H1, b1);
    snapshot(H2, b2);
    job j1 = converge(H1, dir1, &st1), j2 = converge(H2, dir2, &st2);
    ST_ASSERT_INT_EQ(j1.rc, 0);
    ST_ASSERT_INT_EQ(j2.rc, 0);
    ST_ASSERT_INT_EQ(changes(&j1.stats), 0);
    ST_ASSERT_INT_EQ(changes(&j2.stats), 0);
    snapshot(H1, a1);
    snapshot(H2, a2);
    ST_ASSERT_INT_EQ(nt_sh("diff %s %s >&2", b1, a1), 0);
    ST_ASSERT_INT_EQ(nt_sh("diff %s %s >&2", b2, a2), 0);
    /* one table of each family, and no rule twice */
    char *rs = nt_out("ip netns exec %s nft list ruleset | grep -c '^table'", H1);
    ST_ASSERT_STR_EQ(rs, "2\n");
    free(rs);
    /* no line twice within one chain, set or map */
    char *dup = nt_out("ip netns exec %s nft list ruleset | awk '/(chain|set|map) /{c=$2} "
                       "/^\\t\\t[^\\t]/{print c \" \" $0}' | sort | uniq -d | grep -c .",
                       H1);
    ST_ASSERT_STR_EQ(dup, "0\n");
    free(dup);
}

static void test_iperf3_across_hosts(void)
{
    ST_ASSERT_INT_EQ_FATAL(nt_sh("ip netns exec %s iperf3 -s -1 -D", A2), 0);
    usleep(300 * 1000);
    char *o = nt_out("ip netns exec %s iperf3 -c 10.10.0.12 -t 1 -f g 2>&1 | grep receiver", A1);
    fprintf(stderr, "iperf3 a1 -> a2 over VXLAN: %s", o);
    CU_ASSERT_PTR_NOT_NULL(strstr(o, "Gbits/sec"));
    free(o);
}

/* The agent killed at any point of a converge: the next one, from a new
 * process, leaves the host exactly as a clean converge does. */
static void test_kill_9_mid_converge_then_converge(void)
{
    char clean[600], after[600];
    snprintf(clean, sizeof clean, "%s/clean-h1", dir1);
    snprintf(after, sizeof after, "%s/after-kill-h1", dir1);
    snapshot(H1, clean);
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* another state (no remotes, a narrower group) and back, forever */
            for (;;) {
                st1.n_remotes = 0;
                sg_a.n_rules = 1;
                converge(H1, dir1, &st1);
                st1.n_remotes = 1;
                sg_a.n_rules = 2;
                converge(H1, dir1, &st1);
            }
        }
        usleep((useconds_t)(60 + 70 * round) * 1000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        job j = converge(H1, dir1, &st1);
        ST_ASSERT_INT_EQ(j.rc, 0);
        snapshot(H1, after);
        ST_ASSERT_INT_EQ(nt_sh("diff %s %s >&2", clean, after), 0);
        j = converge(H1, dir1, &st1);
        ST_ASSERT_INT_EQ(changes(&j.stats), 0);
    }
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
}

static void test_removed_remote_port_is_unlearned(void)
{
    st1.n_remotes = 0;
    job j = converge(H1, dir1, &st1);
    ST_ASSERT_INT_EQ(j.rc, 0);
    ST_ASSERT_INT_EQ(j.stats.fdb_removed, 2);
    ST_ASSERT_INT_EQ(j.stats.neigh_removed, 1);
    CU_ASSERT_NOT_EQUAL(ping(A1, "10.10.0.12", NULL), 0);
    st1.n_remotes = 1;
    j = converge(H1, dir1, &st1);
    ST_ASSERT_INT_EQ(j.stats.fdb_added, 2);
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
}

static void test_wiped_host_is_rebuilt(void)
{
    /* A reboot: devices, rules and servers gone (the ports' namespaces stay:
     * they are the guests). */
    kill_dnsmasq(dir1);
    nt_sh("ip -n %s link del stb100; ip -n %s link del stv100; ip -n %s link del stb200; "
          "ip -n %s link del stv200; ip -n %s link del %s; ip -n %s link del %s; "
          "ip -n %s link del %s; ip netns exec %s nft flush ruleset",
          H1, H1, H1, H1, H1, ports1[0].ifname, H1, ports1[1].ifname, H1, TAP, H1);
    CU_ASSERT_NOT_EQUAL(ping(A2, "10.10.0.11", NULL), 0);
    job j = converge(H1, dir1, &st1);
    ST_ASSERT_INT_EQ_FATAL(j.rc, 0);
    ST_ASSERT_INT_EQ(j.stats.links_added, 7);
    ST_ASSERT_INT_EQ(j.stats.dhcp_started, 2);
    char lease[256];
    ST_ASSERT_INT_EQ_FATAL(dhcp(A1, lease, sizeof lease), 0);
    ST_ASSERT_STR_EQ(lease, "ip=10.10.0.11 mask=24 mtu=1450 router=10.10.0.1 dns=10.10.0.3\n");
    ST_ASSERT_INT_EQ(ping(A2, "10.10.0.11", NULL), 0);
    ST_ASSERT_INT_EQ(changes(&(job){0}.stats), 0);
    j = converge(H1, dir1, &st1);
    ST_ASSERT_INT_EQ(changes(&j.stats), 0);
}

static void test_removed_network_is_torn_down(void)
{
    /* Tenant B leaves h1: its bridge, VXLAN, port and dnsmasq go. */
    st1.n_networks = 1;
    ports1[1] = ports1[2];
    st1.n_ports = 2;
    /* The three go in one group delete: tenant A's bridge, left in that
     * group as by a run killed between marking and deleting, must stay. */
    ST_ASSERT_INT_EQ_FATAL(nt_sh("ip -n %s link set stb100 group %u", H1, STN_DOOMED_GROUP), 0);
    job j = converge(H1, dir1, &st1);
    ST_ASSERT_INT_EQ(j.rc, 0);
    ST_ASSERT_INT_EQ(j.stats.links_removed, 3);
    ST_ASSERT_INT_EQ(j.stats.dhcp_stopped, 1);
    CU_ASSERT_NOT_EQUAL(nt_sh("ip -n %s link show stb200 >/dev/null 2>&1", H1), 0);
    CU_ASSERT_EQUAL(nt_sh("ip -n %s link show dev stb100 group default | grep -q stb100", H1), 0);
    ST_ASSERT_INT_EQ(ping(A1, "10.10.0.12", NULL), 0);
}

static void test_foreign_link_in_delete_group_survives(void)
{
    /* An operator's link that happens to sit in the group used for bulk
     * deletes is never swept along: the host is emptied one link at a time. */
    ST_ASSERT_INT_EQ_FATAL(
        nt_sh("ip -n %s link add xforeign type bridge && ip -n %s link set xforeign group %u", H1,
              H1, STN_DOOMED_GROUP),
        0);
    st1.n_networks = 0;
    st1.n_ports = 0;
    st1.n_remotes = 0;
    job j = converge(H1, dir1, &st1);
    ST_ASSERT_INT_EQ(j.rc, 0);
    CU_ASSERT(j.stats.links_removed >= 3);
    CU_ASSERT_NOT_EQUAL(nt_sh("ip -n %s link show stb100 >/dev/null 2>&1", H1), 0);
    CU_ASSERT_EQUAL(nt_sh("ip -n %s link show xforeign >/dev/null 2>&1", H1), 0);
}

static CU_TestInfo tests[] = {
    {"converge builds bridges, VXLAN devices and ports", test_converge_builds_hosts},
    {"a tap port is persistent, owned and opens like stratus-vmm opens it",
     test_tap_is_persistent_and_vmm_ready},
    {"FDB and neighbour entries exist for every remote port",
     test_fdb_and_neighbours_for_remote_ports},
    {"udhcpc in a port gets its fixed IP, MTU, router and DNS", test_udhcpc_gets_fixed_ip_and_mtu},
    {"an unknown MAC gets no lease", test_unknown_mac_gets_no_lease},
    {"ports on two hosts ping each other over VXLAN", test_ping_across_hosts_over_vxlan},
    {"another tenant's port with the same CIDR cannot reach them",
     test_other_tenant_same_cidr_cannot_reach},
    {"a spoofed source IP is dropped", test_spoofed_ip_is_dropped},
    {"a spoofed source MAC is dropped", test_spoofed_mac_is_dropped},
    {"a security group rule change takes effect", test_security_group_change_takes_effect},
    {"converging twice (from a new context) changes nothing",
     test_converging_twice_changes_nothing},
    {"iperf3 runs across hosts over VXLAN", test_iperf3_across_hosts},
    {"after kill -9 mid-converge, the next converge restores the host exactly",
     test_kill_9_mid_converge_then_converge},
    {"a remote port removed from the state is unlearned", test_removed_remote_port_is_unlearned},
    {"a wiped host is rebuilt", test_wiped_host_is_rebuilt},
    {"a network no longer on the host is torn down", test_removed_network_is_torn_down},
    {"a foreign link in the bulk-delete group survives an emptied host",
     test_foreign_link_in_delete_group_survives},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"overlay", suite_init, suite_cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    const char *tools[] = {"ip", "bridge", "nft", "ping", "busybox", "dnsmasq", "iperf3", NULL};
    nt_require(tools);
    return st_test_main(argc, argv, suites);
}
