/*
 * network_router - a tenant router and a floating IP, converged by
 * libstratus_net on the host that has the external uplink, for a guest on
 * ANOTHER host (across VXLAN). Real tools judge: udhcpc, ping, curl against
 * busybox httpd whose CGI prints the peer address the server saw, iperf3.
 *
 * Layout (every name carries the pid):
 *   h1, h2   "hosts", veth underlay 10.99.0.1 <-> 10.99.0.2
 *   g1       the guest: a port on h1 in network A (VNI 100, 10.10.0.0/24)
 *   g2       another guest of the tenant: a port on h2 in network C (VNI 300,
 *            10.30.0.0/24), the router's second subnet
 *   out      "outside": 203.0.113.10/24, wired to h2's uplink (a veth), the
 *            external network E (VNI 999, 203.0.113.0/24, flat)
 *   router   on h2, namespace str-<id> in h2's netns_dir: qr-100 holds
 *            10.10.0.1 (the subnet's gateway), qr-300 10.30.0.1, qg-999 203.0.113.2
 *            (the gateway port) and the floating IP 203.0.113.20 -> 10.10.0.11
 * h1 knows the router's interface as a remote port (l2population), h2 the
 * guest; a router's interface is a port like any other to the overlay.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"
#include "st_proc.h"
#include "st_test.h"
#include <stratus/net.h>

static const char *H1, *H2, *G1, *G2, *OUT, *UL1, *UL2, *UP;
static char *dir1, *dir2, *nsdir1, *nsdir2, *www, *script, *rns;

static stn_sg_rule rules[3];
static stn_secgroup sg;
static stn_network nets1[1], nets2[3];
static stn_port ports1[1], ports2[1];
static stn_remote_port rem1[1], rem2[1];
static stn_fip fips[1];
static stn_router rtr;
static stn_state st1, st2;

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a;
}

static const uint8_t MAC_G1[6] = {0x52, 0x54, 0x00, 0xaa, 0x00, 0x01};
static const uint8_t MAC_QR[6] = {0xfa, 0x16, 0x3e, 0x00, 0x01, 0x01};
static const uint8_t MAC_QG[6] = {0xfa, 0x16, 0x3e, 0x00, 0x02, 0x02};
#define MAC_QG_TEXT "fa:16:3e:00:02:02" /* MAC_QG as ip(8) prints it */
static const uint8_t MAC_QR3[6] = {0xfa, 0x16, 0x3e, 0x00, 0x03, 0x03};
static const uint8_t MAC_G2[6] = {0x52, 0x54, 0x00, 0xbb, 0x00, 0x02};

static void net_a(stn_network *n, const char *ul, const char *vtep)
{
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "net-a");
    n->vni = 100;
    n->mtu = 1450;
    snprintf(n->underlay_dev, sizeof n->underlay_dev, "%s", ul);
    n->local_vtep = ip(vtep);
    n->dhcp = 1;
    n->cidr = ip("10.10.0.0");
    n->prefix = 24;
    n->dhcp_ip = ip("10.10.0.2");
    n->gateway = ip("10.10.0.1");
}

static void veth_port(stn_port *p, const char *id, const char *net, const uint8_t mac[6],
                      const char *addr, const char *ns)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->network_id, sizeof p->network_id, "%s", net);
    p->kind = STN_PORT_VETH;
    snprintf(p->ifname, sizeof p->ifname, "%s", nt_name(id[6] == '1' ? "pg" : "pq"));
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
    memset(rules, 0, sizeof rules);
    rules[0].direction = STN_EGRESS;
    rules[0].ethertype = 4;
    rules[1].direction = STN_INGRESS;
    rules[1].ethertype = 4;
    snprintf(rules[1].remote_group, sizeof rules[1].remote_group, "sg-a");
    /* what a tenant adds to reach its instance from outside */
    rules[2].direction = STN_INGRESS;
    rules[2].ethertype = 4;
    memset(&sg, 0, sizeof sg);
    snprintf(sg.id, sizeof sg.id, "sg-a");
    sg.rules = rules;
    sg.n_rules = 3;

    net_a(&nets1[0], UL1, "10.99.0.1");
    net_a(&nets2[0], UL2, "10.99.0.2");
    net_a(&nets2[1], UL2, "10.99.0.2");
    snprintf(nets2[1].id, sizeof nets2[1].id, "net-c");
    nets2[1].vni = 300;
    nets2[1].cidr = ip("10.30.0.0");
    nets2[1].dhcp_ip = ip("10.30.0.2");
    nets2[1].gateway = ip("10.30.0.1");
    memset(&nets2[2], 0, sizeof nets2[2]);
    snprintf(nets2[2].id, sizeof nets2[2].id, "net-ext");
    nets2[2].vni = 999;
    nets2[2].mtu = 1500;
    snprintf(nets2[2].uplink, sizeof nets2[2].uplink, "%s", UP);

    veth_port(&ports1[0], "port-g1", "net-a", MAC_G1, "10.10.0.11", G1);
    veth_port(&ports2[0], "port-g2", "net-c", MAC_G2, "10.30.0.12", G2);

    /* h1 reaches the router's interface over VXLAN; h2 reaches the guest */
    memset(rem1, 0, sizeof rem1);
    snprintf(rem1[0].network_id, sizeof rem1[0].network_id, "net-a");
    memcpy(rem1[0].mac, MAC_QR, 6);
    rem1[0].ip = ip("10.10.0.1");
    rem1[0].vtep = ip("10.99.0.2");
    memset(rem2, 0, sizeof rem2);
    snprintf(rem2[0].network_id, sizeof rem2[0].network_id, "net-a");
    memcpy(rem2[0].mac, MAC_G1, 6);
    rem2[0].ip = ip("10.10.0.11");
    rem2[0].vtep = ip("10.99.0.1");

    memset(&rtr, 0, sizeof rtr);
    snprintf(rtr.id, sizeof rtr.id, "rtr-%d", (int)getpid());
    snprintf(rtr.ifs[0].network_id, sizeof rtr.ifs[0].network_id, "net-a");
    memcpy(rtr.ifs[0].mac, MAC_QR, 6);
    rtr.ifs[0].ip = ip("10.10.0.1");
    rtr.ifs[0].prefix = 24;
    snprintf(rtr.ifs[1].network_id, sizeof rtr.ifs[1].network_id, "net-c");
    memcpy(rtr.ifs[1].mac, MAC_QR3, 6);
    rtr.ifs[1].ip = ip("10.30.0.1");
    rtr.ifs[1].prefix = 24;
    rtr.n_ifs = 2;
    snprintf(rtr.ext_network_id, sizeof rtr.ext_network_id, "net-ext");
    memcpy(rtr.gw_mac, MAC_QG, 6);
    rtr.gw_ip = ip("203.0.113.2");
    rtr.gw_prefix = 24;
    rtr.ext_gateway = ip("203.0.113.1");
    rtr.snat = 1;
    fips[0].floating = ip("203.0.113.20");
    fips[0].fixed = ip("10.10.0.11");
    rtr.fips = fips;
    rtr.n_fips = 0; /* the floating IP comes later */

    st1 = (stn_state){.networks = nets1,
                      .n_networks = 1,
                      .ports = ports1,
                      .n_ports = 1,
                      .remotes = rem1,
                      .n_remotes = 1,
                      .sgs = &sg,
                      .n_sgs = 1};
    st2 = (stn_state){.networks = nets2,
                      .n_networks = 3,
                      .ports = ports2,
                      .n_ports = 1,
                      .remotes = rem2,
                      .n_remotes = 1,
                      .sgs = &sg,
                      .n_sgs = 1,
                      .routers = &rtr,
                      .n_routers = 1};
}

/* ---- converging a host from inside its namespace ---- */

typedef struct job {
    const char *dir, *nsdir;
    const stn_state *s;
    stn_stats stats;
    char err[256];
    int rc;
    int teardown; /* stn_teardown() instead of stn_converge() */
} job;

static int run_converge(void *arg)
{
    job *j = arg;
    stn_ctx *c;
    stn_options o = {.state_dir = j->dir, .netns_dir = j->nsdir};
    j->rc = stn_open(&c, &o, j->err, sizeof j->err);
    if (j->rc == 0) {
        j->rc = j->teardown ? stn_teardown(c, &j->stats, j->err, sizeof j->err)
                            : stn_converge(c, j->s, &j->stats, j->err, sizeof j->err);
        stn_close(c);
    }
    return j->rc;
}

static job run_job(int host, int teardown)
{
    /* each host its own netns_dir, as each host has its own /run/netns */
    job j = {.dir = host == 1 ? dir1 : dir2,
             .nsdir = host == 1 ? nsdir1 : nsdir2,
             .s = host == 1 ? &st1 : &st2,
             .teardown = teardown};
    if (nt_in(host == 1 ? H1 : H2, run_converge, &j) < 0 && j.rc == 0)
        j.rc = -1;
    if (j.rc != 0)
        fprintf(stderr, "converge h%d: %d %s\n", host, j.rc, j.err);
    return j;
}

static job converge(int host)
{
    return run_job(host, 0);
}

static unsigned changes(const stn_stats *s)
{
    return s->links_added + s->links_changed + s->links_removed + s->fdb_added + s->fdb_removed +
           s->neigh_added + s->neigh_removed + s->addrs_added + s->addrs_removed + s->nft_applied +
           s->dhcp_started + s->dhcp_reloaded + s->dhcp_stopped + s->routers_added +
           s->routers_removed + s->router_changes;
}

/* A command's output inside the router's namespace. */
static char *in_router(const char *cmd)
{
    return nt_out("nsenter --net=%s %s 2>&1", rns, cmd);
}

/* What the peer at url says it saw as our address (busybox httpd's CGI). */
static char *seen_from(const char *ns, const char *url)
{
    char *o = nt_out("ip netns exec %s curl -s --max-time 3 %s", ns, url);
    o[strcspn(o, "\n")] = '\0';
    return o;
}

static int ping(const char *ns, const char *dst)
{
    return nt_sh("ip netns exec %s ping -c 2 -i 0.2 -W 1 -q %s >/dev/null 2>&1", ns, dst);
}

/* ---- the world ---- */

static int suite_init(void)
{
    H1 = nt_name("srh1x");
    H2 = nt_name("srh2x");
    G1 = nt_name("srg1x");
    G2 = nt_name("srg2x");
    OUT = nt_name("srout");
    UL1 = nt_name("ul1x");
    UL2 = nt_name("ul2x");
    UP = nt_name("upx");
    const char *all[] = {H1, H2, G1, G2, OUT};
    for (int i = 0; i < 5; i++)
        if (nt_add(all[i]) < 0)
            return -1;
    if (nt_sh("ip link add %s netns %s type veth peer name %s netns %s && "
              "ip -n %s addr add 10.99.0.1/24 dev %s && ip -n %s link set %s up && "
              "ip -n %s addr add 10.99.0.2/24 dev %s && ip -n %s link set %s up",
              UL1, H1, UL2, H2, H1, UL1, H1, UL1, H2, UL2, H2, UL2) != 0)
        return -1;
    /* the external segment: h2's uplink <-> out's eth0 */
    if (nt_sh("ip link add %s netns %s type veth peer name eth0 netns %s && "
              "ip -n %s addr add 203.0.113.10/24 dev eth0 && ip -n %s link set eth0 up",
              UP, H2, OUT, OUT, OUT) != 0)
        return -1;
    dir1 = st_tmpdir("netrt1");
    dir2 = st_tmpdir("netrt2");
    chmod(dir1, 0755);
    chmod(dir2, 0755);
    char p[600];
    snprintf(p, sizeof p, "%s/netns", dir2);
    nsdir2 = strdup(p);
    snprintf(p, sizeof p, "%s/netns", dir1);
    nsdir1 = strdup(p);
    /* a web root whose CGI answers with the address the server saw */
    snprintf(p, sizeof p, "%s/www", dir1);
    www = strdup(p);
    snprintf(p, sizeof p, "%s/www/cgi-bin", dir1);
    if (nt_sh("mkdir -p %s", p) != 0)
        return -1;
    char cgi[700];
    snprintf(cgi, sizeof cgi, "%s/who", p);
    FILE *w = fopen(cgi, "w");
    if (!w)
        return -1;
    /* busybox httpd listens on IPv6: the peer comes as [::ffff:a.b.c.d] */
    fputs("#!/bin/sh\na=${REMOTE_ADDR#[::ffff:}\n"
          "printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"${a%]}\"\n",
          w);
    fclose(w);
    chmod(cgi, 0755);
    snprintf(p, sizeof p, "%s/udhcpc.sh", dir1);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputs("#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n"
          "echo \"ip=$ip mask=$mask router=$router\" > \"$LEASE_OUT\"\n"
          "ip addr flush dev \"$interface\"\nip addr add \"$ip/$mask\" dev \"$interface\"\n"
          "ip route replace default via \"$router\" dev \"$interface\"\n",
          f);
    fclose(f);
    chmod(p, 0755);
    script = strdup(p);
    build_state();
    snprintf(p, sizeof p, "%s/str-%s", nsdir2, rtr.id);
    rns = strdup(p);
    /* every end serves the CGI on :8080 */
    if (nt_sh("ip netns exec %s busybox httpd -p 8080 -h %s && "
              "ip netns exec %s busybox httpd -p 8080 -h %s && "
              "ip netns exec %s busybox httpd -p 8080 -h %s",
              OUT, www, G1, www, G2, www) != 0)
        return -1;
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
    nt_sh("for f in %s/str-*; do [ -e \"$f\" ] && umount -l \"$f\"; done; true", nsdir2);
    nt_cleanup();
    st_rmtree(dir1);
    st_rmtree(dir2);
    free(dir1);
    free(dir2);
    free(nsdir1);
    free(nsdir2);
    free(www);
    free(script);
    free(rns);
    return 0;
}

/* ---- tests ---- */

static void test_converge_builds_router(void)
{
    job j1 = converge(1), j2 = converge(2);
    ST_ASSERT_INT_EQ_FATAL(j1.rc, 0);
    ST_ASSERT_INT_EQ_FATAL(j2.rc, 0);
    ST_ASSERT_INT_EQ(j2.stats.routers_added, 1);
    /* h2: stb100 + stv100, stb300 + stv300, stb999 (the uplink is not
     * created), g2's port, three legs */
    ST_ASSERT_INT_EQ(j2.stats.links_added, 9);
    /* g2 is configured by hand (DHCP is g1's test) */
    ST_ASSERT_INT_EQ(nt_sh("ip -n %s addr add 10.30.0.12/24 dev eth0 && ip -n %s link set eth0 up "
                           "&& ip -n %s route add default via 10.30.0.1",
                           G2, G2, G2),
                     0);
    char *up = nt_out("ip -n %s link show %s", H2, UP);
    CU_ASSERT_PTR_NOT_NULL(strstr(up, "master stb999 "));
    free(up);
    char *a = in_router("ip -o addr show");
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "qr-100    inet 10.10.0.1/24 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "qg-999    inet 203.0.113.2/24 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "qr-300    inet 10.30.0.1/24 "));
    CU_ASSERT_PTR_NULL(strstr(a, "203.0.113.20"));
    free(a);
    char *l = in_router("ip link show");
    CU_ASSERT_PTR_NOT_NULL(strstr(l, "link/ether fa:16:3e:00:01:01 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(l, "link/ether fa:16:3e:00:02:02 "));
    free(l);
    char *r = in_router("ip route show default");
    ST_ASSERT_STR_EQ(r, "default via 203.0.113.1 dev qg-999 proto static \n");
    free(r);
    char *fw = in_router("cat /proc/sys/net/ipv4/ip_forward");
    ST_ASSERT_STR_EQ(fw, "1\n");
    free(fw);
    /* no router on h1, and nothing in h1's ruleset about one */
    char *t = nt_out("ip netns exec %s nft list tables", H1);
    CU_ASSERT_PTR_NULL(strstr(t, "stratus_router"));
    free(t);
}

static void test_guest_gets_lease_with_router(void)
{
    char out[600], lease[256] = "";
    snprintf(out, sizeof out, "%s/lease-g1", dir1);
    nt_sh("ip -n %s link set eth0 up", G1);
    nt_sh("ip netns exec %s env LEASE_OUT=%s timeout 15 busybox udhcpc -i eth0 -n -q -t 4 -T 1 "
          "-s %s >/dev/null 2>&1",
          G1, out, script);
    FILE *f = fopen(out, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(lease, 1, sizeof lease - 1, f);
    lease[n] = '\0';
    fclose(f);
    ST_ASSERT_STR_EQ(lease, "ip=10.10.0.11 mask=24 router=10.10.0.1\n");
}

static void test_guest_reaches_outside_through_snat(void)
{
    /* across VXLAN to the router on h2, out of its gateway */
    ST_ASSERT_INT_EQ(ping(G1, "10.10.0.1"), 0);
    ST_ASSERT_INT_EQ(ping(G1, "203.0.113.10"), 0);
    char *who = seen_from(G1, "http://203.0.113.10:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.2");
    free(who);
    /* and nothing from outside reaches the guest: it has no floating IP */
    CU_ASSERT_NOT_EQUAL(ping(OUT, "10.10.0.11"), 0);
}

static void test_subnets_route_to_each_other(void)
{
    /* g1 on h1 (across VXLAN to the router) and g2 on the router's host:
     * routed between the router's two subnets, each seeing the other's own
     * address (no NAT between them) */
    char *who = seen_from(G1, "http://10.30.0.12:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "10.10.0.11");
    free(who);
    who = seen_from(G2, "http://10.10.0.11:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "10.30.0.12");
    free(who);
    /* and g2 leaves through the same router's SNAT */
    who = seen_from(G2, "http://203.0.113.10:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.2");
    free(who);
}

static void test_floating_ip_reaches_guest(void)
{
    /* The outside still holds the floating IP at another router's MAC (it
     * lived there before); the new router announces it (gratuitous ARP),
     * so the entry changes at once, before the outside sends anything. The
     * sleep outlasts the neighbour entry's 1 s lock time, during which the
     * kernel ignores an update. */
    ST_ASSERT_INT_EQ_FATAL(
        nt_sh("ip -n %s neigh replace 203.0.113.20 lladdr 02:00:00:00:de:ad dev eth0 nud stale",
              OUT),
        0);
    usleep(1100 * 1000);
    rtr.n_fips = 1;
    job j = converge(2);
    ST_ASSERT_INT_EQ_FATAL(j.rc, 0);
    CU_ASSERT(j.stats.router_changes >= 2); /* the /32 and the NAT table */
    ST_ASSERT_INT_EQ(j.stats.links_added + j.stats.links_removed + j.stats.routers_added, 0);
    char *a = in_router("ip -o addr show dev qg-999");
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "inet 203.0.113.20/32 "));
    free(a);
    char *n = NULL;
    for (int i = 0; i < 50; i++) { /* the frame crosses two namespaces' bridges */
        free(n);
        n = nt_out("ip -n %s neigh show 203.0.113.20 dev eth0", OUT);
        if (n && strstr(n, MAC_QG_TEXT))
            break;
        usleep(20 * 1000);
    }
    CU_ASSERT_PTR_NOT_NULL(n ? strstr(n, MAC_QG_TEXT) : NULL);
    free(n);
    /* the outside reaches the guest at its floating IP, and the guest sees
     * the outside's own address */
    ST_ASSERT_INT_EQ(ping(OUT, "203.0.113.20"), 0);
    char *who = seen_from(OUT, "http://203.0.113.20:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.10");
    free(who);
    /* the guest now leaves as its floating IP, not the router's address */
    who = seen_from(G1, "http://203.0.113.10:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.20");
    free(who);
    /* from inside, the floating IP works too (hairpin): g2 from the other
     * subnet and g1 itself come in as the router's gateway address */
    who = seen_from(G2, "http://203.0.113.20:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.2");
    free(who);
    who = seen_from(G1, "http://203.0.113.20:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.2");
    free(who);
}

static void test_security_group_still_guards_floating_ip(void)
{
    /* without "ingress from anywhere" the default group lets only members in */
    sg.n_rules = 2;
    ST_ASSERT_INT_EQ_FATAL(converge(1).rc, 0);
    CU_ASSERT_NOT_EQUAL(ping(OUT, "203.0.113.20"), 0);
    char *who = seen_from(OUT, "http://203.0.113.20:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "");
    free(who);
    /* egress is still allowed, replies stateful */
    ST_ASSERT_INT_EQ(ping(G1, "203.0.113.10"), 0);
    sg.n_rules = 3;
    ST_ASSERT_INT_EQ_FATAL(converge(1).rc, 0);
    ST_ASSERT_INT_EQ(ping(OUT, "203.0.113.20"), 0);
}

static void test_iperf3_from_outside_to_floating_ip(void)
{
    ST_ASSERT_INT_EQ_FATAL(nt_sh("ip netns exec %s iperf3 -s -1 -D", G1), 0);
    usleep(300 * 1000);
    char *o = nt_out("ip netns exec %s iperf3 -c 203.0.113.20 -t 1 -f g 2>&1 | grep receiver", OUT);
    fprintf(stderr, "iperf3 outside -> floating IP -> guest (router on the other host): %s", o);
    CU_ASSERT_PTR_NOT_NULL(strstr(o, "Gbits/sec"));
    free(o);
}

/* What h2 and the router consist of, as the kernel's own tools print it. */
static void snapshot(const char *file)
{
    nt_sh("(ip netns exec %s sh -c 'nft list ruleset; ip link show; ip -4 addr show; "
          "bridge fdb show | grep permanent | sort -u; ip neigh show nud permanent'; "
          "nsenter --net=%s sh -c 'nft list ruleset; ip link show; ip -4 addr show; ip route; "
          "sysctl net.ipv4.ip_forward') > %s 2>&1",
          H2, rns, file);
}

static void test_converging_twice_changes_nothing(void)
{
    char b[600], a[600];
    snprintf(b, sizeof b, "%s/before", dir1);
    snprintf(a, sizeof a, "%s/after", dir1);
    snapshot(b);
    job j1 = converge(1), j2 = converge(2);
    ST_ASSERT_INT_EQ(j1.rc, 0);
    ST_ASSERT_INT_EQ(j2.rc, 0);
    ST_ASSERT_INT_EQ(changes(&j1.stats), 0);
    ST_ASSERT_INT_EQ(changes(&j2.stats), 0);
    snapshot(a);
    ST_ASSERT_INT_EQ(nt_sh("diff %s %s >&2", b, a), 0);
    char *n = in_router("nft list tables");
    ST_ASSERT_STR_EQ(n, "table ip stratus_router\n");
    free(n);
}

static void test_removed_floating_ip_stops(void)
{
    rtr.n_fips = 0;
    job j = converge(2);
    ST_ASSERT_INT_EQ_FATAL(j.rc, 0);
    char *a = in_router("ip -o addr show dev qg-999");
    CU_ASSERT_PTR_NULL(strstr(a, "203.0.113.20"));
    free(a);
    CU_ASSERT_NOT_EQUAL(ping(OUT, "203.0.113.20"), 0);
    char *who = seen_from(OUT, "http://203.0.113.20:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "");
    free(who);
    /* the guest still gets out, as the router's address again */
    who = seen_from(G1, "http://203.0.113.10:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.2");
    free(who);
}

static void test_snat_off_routes_fixed_ip(void)
{
    /* enable_snat false: the guest's own address goes out (the outside is
     * given a route back to it through the router) */
    rtr.snat = 0;
    ST_ASSERT_INT_EQ_FATAL(converge(2).rc, 0);
    nt_sh("ip -n %s route add 10.10.0.0/24 via 203.0.113.2", OUT);
    char *who = seen_from(G1, "http://203.0.113.10:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "10.10.0.11");
    free(who);
    nt_sh("ip -n %s route del 10.10.0.0/24", OUT);
    rtr.snat = 1;
    ST_ASSERT_INT_EQ_FATAL(converge(2).rc, 0);
    who = seen_from(G1, "http://203.0.113.10:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, "203.0.113.2");
    free(who);
}

static void test_wiped_router_is_rebuilt(void)
{
    /* the namespace gone (a reboot empties /run): the next pass rebuilds it */
    nt_sh("umount -l %s && rm -f %s", rns, rns);
    CU_ASSERT_NOT_EQUAL(ping(G1, "203.0.113.10"), 0);
    job j = converge(2);
    ST_ASSERT_INT_EQ_FATAL(j.rc, 0);
    ST_ASSERT_INT_EQ(j.stats.routers_added, 1);
    ST_ASSERT_INT_EQ(ping(G1, "203.0.113.10"), 0);
    j = converge(2);
    ST_ASSERT_INT_EQ(changes(&j.stats), 0);
}

static void test_bad_router_states_are_refused(void)
{
    char err[256];
    stn_state s = st2;
    stn_router r = rtr;
    s.routers = &r;
    /* a floating IP without a gateway */
    r.ext_network_id[0] = '\0';
    r.n_fips = 1;
    CU_ASSERT(stn_validate(&s, err, sizeof err) < 0);
    /* an interface on the external network */
    r = rtr;
    snprintf(r.ifs[0].network_id, sizeof r.ifs[0].network_id, "net-ext");
    CU_ASSERT(stn_validate(&s, err, sizeof err) < 0);
    /* a gateway on an overlay network */
    r = rtr;
    snprintf(r.ext_network_id, sizeof r.ext_network_id, "net-a");
    CU_ASSERT(stn_validate(&s, err, sizeof err) < 0);
    /* two floating IPs for one fixed IP */
    r = rtr;
    stn_fip two[2] = {fips[0], fips[0]};
    two[1].floating = ip("203.0.113.21");
    r.fips = two;
    r.n_fips = 2;
    CU_ASSERT(stn_validate(&s, err, sizeof err) < 0);
    two[1].fixed = ip("10.10.0.12");
    ST_ASSERT_INT_EQ(stn_validate(&s, err, sizeof err), 0);
    /* an id that would escape netns_dir */
    r = rtr;
    snprintf(r.id, sizeof r.id, "../x");
    CU_ASSERT(stn_validate(&s, err, sizeof err) < 0);
    /* DHCP on an external network */
    stn_network n2[3] = {nets2[0], nets2[1], nets2[2]};
    n2[2].dhcp = 1;
    n2[2].prefix = 24;
    n2[2].dhcp_ip = ip("203.0.113.3");
    s = st2;
    s.networks = n2;
    CU_ASSERT(stn_validate(&s, err, sizeof err) < 0);
}

static void test_removed_router_is_torn_down(void)
{
    st2.n_routers = 0;
    st2.n_networks = 2; /* the external network leaves h2 too */
    job j = converge(2);
    ST_ASSERT_INT_EQ_FATAL(j.rc, 0);
    ST_ASSERT_INT_EQ(j.stats.routers_removed, 1);
    CU_ASSERT_NOT_EQUAL(nt_sh("test -e %s", rns), 0);
    char *l = nt_out("ip -n %s link show", H2);
    CU_ASSERT_PTR_NULL(strstr(l, "stb999"));
    CU_ASSERT_PTR_NULL(strstr(l, "stratus:rtr"));
    CU_ASSERT_PTR_NULL(strstr(l, ": sr"));
    /* the uplink itself stays, released */
    CU_ASSERT_PTR_NOT_NULL(strstr(l, UP));
    free(l);
    CU_ASSERT_NOT_EQUAL(ping(G1, "203.0.113.10"), 0);
    j = converge(2);
    ST_ASSERT_INT_EQ(changes(&j.stats), 0);
}

static void test_teardown_removes_everything(void)
{
    /* the router and the external network back on h2, then h2 torn down */
    st2.n_routers = 1;
    st2.n_networks = 3;
    job j = converge(2);
    ST_ASSERT_INT_EQ_FATAL(j.rc, 0);
    ST_ASSERT_INT_EQ_FATAL(nt_sh("test -e %s", rns), 0);
    char *l = nt_out("ip -n %s link show", H2);
    CU_ASSERT_PTR_NOT_NULL(strstr(l, "master stb999"));
    free(l);
    ST_ASSERT_INT_EQ_FATAL(nt_sh("ls %s/dhcp-*.pid >/dev/null 2>&1", dir2), 0);
    j = run_job(2, 1);
    ST_ASSERT_INT_EQ_FATAL(j.rc, 0);
    ST_ASSERT_INT_EQ(j.stats.routers_removed, 1);
    CU_ASSERT(j.stats.links_removed >= 5); /* 3 bridges, 2 VXLAN devices, the port */
    CU_ASSERT(j.stats.dhcp_stopped >= 1);
    ST_ASSERT_INT_EQ(j.stats.nft_applied, 1);
    CU_ASSERT_NOT_EQUAL(nt_sh("test -e %s", rns), 0);
    /* no server, config, pid file, hosts or leases (its log stays) */
    char *left = nt_out("ls %s | grep '^dhcp-' | grep -v '\\.log$'", dir2);
    ST_ASSERT_STR_EQ(left, "");
    free(left);
    l = nt_out("ip -n %s link show", H2);
    CU_ASSERT_PTR_NULL(strstr(l, "stratus:"));
    CU_ASSERT_PTR_NULL(strstr(l, "master"));
    CU_ASSERT_PTR_NOT_NULL(strstr(l, UP)); /* the uplink stays, released */
    free(l);
    char *t = nt_out("ip netns exec %s nft list tables", H2);
    ST_ASSERT_STR_EQ(t, "");
    free(t);
    /* again: nothing left to do */
    j = run_job(2, 1);
    ST_ASSERT_INT_EQ(j.rc, 0);
    ST_ASSERT_INT_EQ(changes(&j.stats), 0);
}

static CU_TestInfo tests[] = {
    {"converge builds the router namespace, its legs, addresses, route and forwarding",
     test_converge_builds_router},
    {"udhcpc in the guest gets the router as its gateway", test_guest_gets_lease_with_router},
    {"the guest reaches the outside through the router on another host, SNAT to its gateway",
     test_guest_reaches_outside_through_snat},
    {"guests on the router's two subnets reach each other through it, unNATed",
     test_subnets_route_to_each_other},
    {"the outside reaches the guest at its floating IP, and the guest leaves as it",
     test_floating_ip_reaches_guest},
    {"the guest's security group still guards its floating IP",
     test_security_group_still_guards_floating_ip},
    {"iperf3 runs from the outside to the floating IP", test_iperf3_from_outside_to_floating_ip},
    {"converging twice (from a new context) changes nothing",
     test_converging_twice_changes_nothing},
    {"a removed floating IP stops reaching the guest", test_removed_floating_ip_stops},
    {"with SNAT off the guest's fixed IP is routed out", test_snat_off_routes_fixed_ip},
    {"a wiped router namespace is rebuilt", test_wiped_router_is_rebuilt},
    {"bad router states are refused", test_bad_router_states_are_refused},
    {"a router no longer on the host is torn down", test_removed_router_is_torn_down},
    {"teardown removes everything the library built on the host, the uplink kept",
     test_teardown_removes_everything},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"router", suite_init, suite_cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    const char *tools[] = {"ip",      "bridge", "nft",  "ping",    "busybox",
                           "dnsmasq", "iperf3", "curl", "nsenter", NULL};
    nt_require(tools);
    return st_test_main(argc, argv, suites);
}
