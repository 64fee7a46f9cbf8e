/*
 * vmm_run_dhcp - the test guest's DHCP client, ARP and ICMP echo (scenario
 * dhcp) under stratus-vmm, on a tap port that libstratus_net converged into
 * a tenant network with dnsmasq's static lease and a peer namespace
 * (tests/guest/test/guest_cloud.h): the same proof vmm_guest_qemu_dhcp
 * gives under QEMU. The guest negotiates no virtio-net offloads.
 * Needs /dev/kvm and root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_cloud.h"
#include "harness.h"
#include "st_proc.h"
#include "st_test.h"
#include "vg.h"

static gc_cloud g_cloud;
static vg_vm g_vm;

static int setup(void)
{
    char err[256], nics[256];
    if (gc_up(&g_cloud, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (vg_init(&g_vm, "dhcp"))
        return -1;
    snprintf(g_vm.netns, sizeof g_vm.netns, "%s", g_cloud.host);
    snprintf(nics, sizeof nics, "\"nics\": [{\"tap\": \"%s\", \"mac\": \"%s\", \"mtu\": %d}]",
             g_cloud.tap, GC_GUEST_MAC, GC_MTU);
    vg_set(&g_vm, nics);
    return 0;
}

static int teardown(void)
{
    gc_down(&g_cloud);
    vg_cleanup(&g_vm);
    return 0;
}

static void assert_data(const guest_result *r, const char *key, const char *want)
{
    char got[64] = "";
    ST_ASSERT_INT_EQ(guest_data(r, key, got, sizeof got), 0);
    ST_ASSERT_STR_EQ(got, want);
}

static void test_lease_and_pings_both_ways(void)
{
    guest_proc p;
    guest_result r;
    unsigned long long u = 0;
    CU_ASSERT_FATAL(
        vg_spawn(&g_vm, "scenario=dhcp ping=" GC_PEER_IP " serve=30 serve.answer=3", &p) == 0);
    /* After the guest's own pings, the peer forgets its MAC: the peer's
     * pings then need the guest's ARP reply. */
    long long end = st_now_ms() + 60000;
    int up = -1;
    while (up != 0 && st_now_ms() < end) {
        char *out = vt_slurp(g_vm.serial);
        up = out && strstr(out, "DATA ping.replies=") ? 0 : -1;
        free(out);
        if (up != 0)
            usleep(20000);
    }
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
    assert_data(&r, "dhcp.mac", GC_GUEST_MAC);
    assert_data(&r, "dhcp.ip", GC_GUEST_IP);
    assert_data(&r, "dhcp.mask", GC_MASK);
    assert_data(&r, "dhcp.router", GC_ROUTER);
    assert_data(&r, "dhcp.dns", GC_DNS);
    assert_data(&r, "dhcp.server", GC_DHCP);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "dhcp.mtu", &u), 0);
    ST_ASSERT_INT_EQ(u, GC_MTU);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "ping.replies", &u), 0);
    ST_ASSERT_INT_EQ(u, 4);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.arp_answered", &u), 0);
    CU_ASSERT(u >= 1);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.echo_answered", &u), 0);
    CU_ASSERT(u >= 3);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "inet.dropped", &u), 0);
    ST_ASSERT_INT_EQ(u, 0);
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"dhcp: the static lease with the network's options; pings both ways",
     test_lease_and_pings_both_ways},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"dhcp", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    gc_require();
    return st_test_main(argc, argv, suites);
}
