/*
 * vmm_guest_qemu_dhcp - the test guest's DHCP client, ARP and ICMP echo
 * (scenario dhcp) against real peers: QEMU's virtio-net on a tap that
 * libstratus_net converged into a tenant network (bridge, nftables
 * anti-spoofing and security group, dnsmasq with a static lease for the
 * guest's MAC), and a peer namespace on the same network whose kernel
 * answers and sends pings. The lease the guest reports must be the
 * network's: its static address, mask, router, DNS, server and MTU 1450.
 *
 * A second world has no anti-spoofing in the way (a plain bridge, dnsmasq,
 * a peer namespace): the peer sends the guest well over a thousand broken
 * frames (the fuzz seeds of fuzz/corpus-inet cut short at every length and
 * with bytes changed), and the guest must count them dropped and still
 * answer the peer's ping.
 *
 * Needs root, dnsmasq and ping. Runs under KVM when /dev/kvm is usable,
 * else under QEMU's TCG.
 */
#include <dirent.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest_cloud.h"
#include "guest_test.h"
#include "netns.h"
#include "st_proc.h"
#include "st_test.h"

static gc_cloud g_cloud;

static int suite_init(void)
{
    char err[256];
    if (gc_up(&g_cloud, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int suite_cleanup(void)
{
    gc_down(&g_cloud);
    return 0;
}

static const char *const *nic(char *netdev, size_t nn, char *device, size_t dn, const char *mac,
                              const char **v)
{
    snprintf(netdev, nn, "tap,id=n0,ifname=%s,script=no,downscript=no", g_cloud.tap);
    snprintf(device, dn, "virtio-net-pci,netdev=n0,disable-legacy=on,mac=%s", mac);
    v[0] = "-netdev";
    v[1] = netdev;
    v[2] = "-device";
    v[3] = device;
    v[4] = NULL;
    return v;
}

static void assert_data(const guest_result *r, const char *key, const char *want)
{
    char got[64] = "";
    ST_ASSERT_INT_EQ(guest_data(r, key, got, sizeof got), 0);
    ST_ASSERT_STR_EQ(got, want);
}

static void test_lease_and_pings_both_ways(void)
{
    const char *prefix[] = {"ip", "netns", "exec", g_cloud.host, NULL};
    char netdev[128], device[128];
    const char *v[5];
    guest_proc p;
    guest_result r;
    unsigned long long u = 0;
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu_spawn(&p, prefix, "scenario=dhcp ping=" GC_PEER_IP " serve=30 serve.answer=3",
                      nic(netdev, sizeof netdev, device, sizeof device, GC_GUEST_MAC, v)),
        0);
    /* The guest's own pings are over once it prints their count; then the
     * peer forgets the guest's MAC, so its pings need the guest's ARP reply. */
    int up = gt_wait_output(&p, "DATA ping.replies=", 60000);
    CU_ASSERT_EQUAL(up, 0);
    if (up == 0) {
        gc_sh("ip -n %s neigh flush dev eth0", g_cloud.peer);
        CU_ASSERT_EQUAL(gc_sh("ip netns exec %s ping -c 3 -i 0.2 -W 2 -q %s >/dev/null",
                              g_cloud.peer, GC_GUEST_IP),
                        0);
    }
    int verdict = guest_wait(&p, 60000, &r);
    if (verdict != GUEST_PASS)
        guest_result_print(&r, stderr);
    ST_ASSERT_INT_EQ_FATAL(verdict, GUEST_PASS);
    /* The lease is the network's static lease and options. */
    assert_data(&r, "dhcp.mac", GC_GUEST_MAC);
    assert_data(&r, "dhcp.ip", GC_GUEST_IP);
    assert_data(&r, "dhcp.mask", GC_MASK);
    assert_data(&r, "dhcp.router", GC_ROUTER);
    assert_data(&r, "dhcp.dns", GC_DNS);
    assert_data(&r, "dhcp.server", GC_DHCP);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "dhcp.mtu", &u), 0);
    ST_ASSERT_INT_EQ(u, GC_MTU);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "dhcp.lease_s", &u), 0);
    CU_ASSERT(u > 0);
    /* Guest -> peer: every ping answered by the peer's kernel. */
    assert_data(&r, "ping.target", GC_PEER_IP);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "ping.replies", &u), 0);
    ST_ASSERT_INT_EQ(u, 4);
    /* Peer -> guest: ARP answered, then the echo requests. */
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.arp_answered", &u), 0);
    CU_ASSERT(u >= 1);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.echo_answered", &u), 0);
    CU_ASSERT(u >= 3);
    /* Nothing on a clean network looked malformed to the guest's checks. */
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.dropped", &u), 0);
    ST_ASSERT_INT_EQ(u, 0);
    guest_result_free(&r);
}

static void test_a_mac_that_is_not_the_ports_gets_no_lease(void)
{
    /* Anti-spoofing drops its DISCOVERs, and dnsmasq has no lease for it. */
    const char *prefix[] = {"ip", "netns", "exec", g_cloud.host, NULL};
    char netdev[128], device[128];
    const char *v[5];
    guest_proc p;
    guest_result r;
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu_spawn(&p, prefix, "scenario=dhcp dhcp.wait_ms=2500",
                      nic(netdev, sizeof netdev, device, sizeof device, "52:54:00:77:00:99", v)),
        0);
    ST_ASSERT_INT_EQ(guest_wait(&p, 60000, &r), GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "no DHCP lease (no offer)");
    guest_result_free(&r);
}

static void test_an_unreachable_ping_target_fails(void)
{
    const char *prefix[] = {"ip", "netns", "exec", g_cloud.host, NULL};
    char netdev[128], device[128];
    const char *v[5];
    guest_proc p;
    guest_result r;
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu_spawn(&p, prefix, "scenario=dhcp ping=10.77.0.99 ping.count=2 ping.wait_ms=1000",
                      nic(netdev, sizeof netdev, device, sizeof device, GC_GUEST_MAC, v)),
        0);
    ST_ASSERT_INT_EQ(guest_wait(&p, 60000, &r), GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "0 of 2 pings to 10.77.0.99 answered (next hop never answered ARP)");
    guest_result_free(&r);
}

/* ---- hostile frames on the wire ---- */

static const char *g_hw, *g_hp, *g_htap;
static char *g_hdir;

static int hostile_init(void)
{
    g_hw = nt_name("gqw");
    g_hp = nt_name("gqp");
    g_htap = nt_name("gqt");
    if (nt_add(g_hw) < 0 || nt_add(g_hp) < 0)
        return -1;
    g_hdir = st_tmpdir("guesthostile");
    /* br_netfilter (loaded for the cloud's own bridges) would drop broken
     * IPv4 before the tap: this bridge hands everything on. The peer's MAC
     * is the seeds' sender, so their frames are its own. */
    if (nt_sh("ip netns exec %s sh -c 'for t in iptables arptables ip6tables; do "
              "f=/proc/sys/net/bridge/bridge-nf-call-$t; [ -e $f ] && echo 0 > $f; done; true'",
              g_hw) != 0)
        return -1;
    return gc_sh("ip -n %s link add br0 type bridge && ip -n %s addr add " GC_DHCP "/24 dev br0 && "
                 "ip -n %s link set br0 up && ip -n %s tuntap add %s mode tap && "
                 "ip -n %s link set %s master br0 && ip -n %s link set %s up && "
                 "ip -n %s link add hv0 type veth peer name eth0 netns %s && "
                 "ip -n %s link set hv0 master br0 && ip -n %s link set hv0 up && "
                 "ip -n %s link set eth0 address 52:54:00:77:00:22 && "
                 "ip -n %s addr add " GC_PEER_IP "/24 dev eth0 && ip -n %s link set eth0 up && "
                 "ip netns exec %s dnsmasq --conf-file=/dev/null --port=0 --user=root "
                 "--interface=br0 --bind-interfaces --dhcp-range=10.77.0.0,static,255.255.255.0 "
                 "--dhcp-host=" GC_GUEST_MAC "," GC_GUEST_IP " --dhcp-option=option:mtu,1450 "
                 "--dhcp-leasefile=%s/leases --pid-file=%s/pid",
                 g_hw, g_hw, g_hw, g_hw, g_htap, g_hw, g_htap, g_hw, g_htap, g_hw, g_hp, g_hw, g_hw,
                 g_hp, g_hp, g_hp, g_hw, g_hdir, g_hdir);
}

static int hostile_cleanup(void)
{
    nt_cleanup();
    if (g_hdir)
        st_rmtree(g_hdir);
    free(g_hdir);
    g_hdir = NULL;
    return 0;
}

struct blast {
    unsigned sent, failed;
};

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* In the peer's namespace: every seed cut at every length from 14 bytes
 * (an Ethernet header) on, then 64 copies with 1-4 bytes changed after the
 * MAC addresses; the unchanged echo request is left out (the guest would
 * answer it, and the test counts the peer's own pings). */
static int blast(void *arg)
{
    struct blast *b = arg;
    const char *dir = st_source_path("tests/guest/fuzz/corpus-inet");
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    struct sockaddr_ll to = {
        .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("eth0"), .sll_halen = 6};
    DIR *d = opendir(dir);
    uint32_t rng = 0x5eed;
    if (fd < 0 || !d || !to.sll_ifindex) {
        if (fd >= 0)
            close(fd);
        if (d)
            closedir(d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[1024];
        uint8_t seed[2048], f[2048];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *in = fopen(path, "rb");
        size_t n = in ? fread(seed, 1, sizeof seed, in) : 0;
        if (in)
            fclose(in);
        if (n < 15)
            continue;
        const uint8_t *fr = seed + 1;
        size_t len = n - 1;
        int echo = strcmp(e->d_name, "echo-request") == 0;
        for (size_t cut = 14; cut <= len; cut++) {
            if (echo && cut == len)
                continue;
            b->failed += sendto(fd, fr, cut, 0, (struct sockaddr *)&to, sizeof to) < 0;
            if (++b->sent % 16 == 0)
                usleep(2000); /* the guest's receive ring holds 64 frames */
        }
        for (int k = 0; k < 64; k++) {
            memcpy(f, fr, len);
            int changes = 1 + (int)(xorshift(&rng) % 4);
            for (int c = 0; c < changes; c++) {
                size_t at = 12 + xorshift(&rng) % (len - 12);
                f[at] ^= (uint8_t)(1 + xorshift(&rng) % 255);
            }
            b->failed += sendto(fd, f, len, 0, (struct sockaddr *)&to, sizeof to) < 0;
            if (++b->sent % 16 == 0)
                usleep(2000);
        }
    }
    closedir(d);
    close(fd);
    return 0;
}

static void test_broken_frames_are_dropped_and_the_guest_answers(void)
{
    const char *prefix[] = {"ip", "netns", "exec", g_hw, NULL};
    char netdev[128], device[128];
    const char *v[5] = {"-netdev", netdev, "-device", device, NULL};
    guest_proc p;
    guest_result r;
    struct blast b = {0, 0};
    unsigned long long u = 0, frames = 0;
    snprintf(netdev, sizeof netdev, "tap,id=n0,ifname=%s,script=no,downscript=no", g_htap);
    snprintf(device, sizeof device, "virtio-net-pci,netdev=n0,disable-legacy=on,mac=%s",
             GC_GUEST_MAC);
    ST_ASSERT_INT_EQ_FATAL(gt_qemu_spawn(&p, prefix, "scenario=dhcp serve=60 serve.answer=3", v),
                           0);
    /* The lease is printed; serving starts right after. */
    int up = gt_wait_output(&p, "DATA dhcp.naks=", 60000);
    CU_ASSERT_EQUAL(up, 0);
    if (up == 0) {
        ST_ASSERT_INT_EQ(nt_in(g_hp, blast, &b), 0);
        CU_ASSERT(b.sent > 1000);
        ST_ASSERT_INT_EQ(b.failed, 0);
        CU_ASSERT_EQUAL(
            gc_sh("ip netns exec %s ping -c 3 -i 0.2 -W 2 -q %s >/dev/null", g_hp, GC_GUEST_IP), 0);
    }
    int verdict = guest_wait(&p, 90000, &r);
    if (verdict != GUEST_PASS)
        guest_result_print(&r, stderr);
    ST_ASSERT_INT_EQ_FATAL(verdict, GUEST_PASS);
    assert_data(&r, "dhcp.ip", GC_GUEST_IP);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.frames", &frames), 0);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.dropped", &u), 0);
    fprintf(stderr, "hostile: %u frames sent, the guest saw %llu and dropped %llu\n", b.sent,
            frames, u);
    CU_ASSERT(u >= 200); /* most fail a length or checksum check (1,684 here) */
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.echo_answered", &u), 0);
    CU_ASSERT(u >= 3);
    guest_result_free(&r);
}

static CU_TestInfo hostile_tests[] = {
    {"broken frames are counted dropped and the guest still answers a ping",
     test_broken_frames_are_dropped_and_the_guest_answers},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests[] = {
    {"the guest leases the static address with the network's options; pings go both ways",
     test_lease_and_pings_both_ways},
    {"a MAC that is not the port's gets no lease", test_a_mac_that_is_not_the_ports_gets_no_lease},
    {"a ping target nobody answers for fails the run", test_an_unreachable_ping_target_fails},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_dhcp", suite_init, suite_cleanup, NULL, NULL, tests},
    {"qemu_dhcp_hostile_wire", hostile_init, hostile_cleanup, NULL, NULL, hostile_tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gc_require();
    gt_kvm_or_tcg();
    return st_test_main(argc, argv, suites);
}
