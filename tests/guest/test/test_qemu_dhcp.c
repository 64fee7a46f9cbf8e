/*
 * vmm_guest_qemu_dhcp - the test guest's DHCP client, ARP and ICMP echo
 * (scenario dhcp) against real peers: QEMU's virtio-net on a tap that
 * libstratus_net converged into a tenant network (bridge, nftables
 * anti-spoofing and security group, dnsmasq with a static lease for the
 * guest's MAC), and a peer namespace on the same network whose kernel
 * answers and sends pings. The lease the guest reports must be the
 * network's: its static address, mask, router, DNS, server and MTU 1450.
 *
 * Needs root, dnsmasq and ping. Runs under KVM when /dev/kvm is usable,
 * else under QEMU's TCG.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_cloud.h"
#include "guest_test.h"
#include "netns.h"
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
        gt_qemu_spawn(&p, prefix,
                      "scenario=dhcp ping=" GC_PEER_IP " serve=30 serve.answer=3",
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
    ST_ASSERT_STR_EQ(r.reason,
                     "0 of 2 pings to 10.77.0.99 answered (next hop never answered ARP)");
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"the guest leases the static address with the network's options; pings go both ways",
     test_lease_and_pings_both_ways},
    {"a MAC that is not the port's gets no lease", test_a_mac_that_is_not_the_ports_gets_no_lease},
    {"a ping target nobody answers for fails the run", test_an_unreachable_ping_target_fails},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_dhcp", suite_init, suite_cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gc_require();
    gt_kvm_or_tcg();
    return st_test_main(argc, argv, suites);
}
