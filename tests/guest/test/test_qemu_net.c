/*
 * vmm_guest_qemu_net - two test guests under QEMU, each with a modern
 * virtio-net on its own tap, the taps joined by a bridge inside a network
 * namespace this test creates and removes, exchange ping and pong frames;
 * then the guest's e1000 driver (nic=e1000) against QEMU's -device e1000:
 * an e1000 guest pings a virtio one, and transmits every frame it queues.
 * Needs root (ip netns, tap devices); skipped otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_test.h"
#include "st_proc.h"
#include "st_test.h"

static char g_ns[64];
static int g_ns_made;

static void ns_remove(void)
{
    if (g_ns_made)
        st_sh("ip netns del %s", g_ns);
    g_ns_made = 0;
}

static int suite_init(void)
{
    snprintf(g_ns, sizeof g_ns, "stguest%d", (int)getpid());
    if (st_sh("ip netns add %s", g_ns) != 0)
        return -1;
    g_ns_made = 1;
    atexit(ns_remove);
    if (st_sh("ip -n %s link add br0 type bridge && ip -n %s link set br0 up", g_ns, g_ns) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (st_sh("ip -n %s tuntap add tap%d mode tap && ip -n %s link set tap%d master br0 && "
                  "ip -n %s link set tap%d up",
                  g_ns, i, g_ns, i, g_ns, i) != 0)
            return -1;
    return 0;
}

static int suite_cleanup(void)
{
    ns_remove();
    return 0;
}

struct nic {
    char netdev[128], device[128];
    const char *v[5];
};

static const char *const *nic_of(struct nic *n, int tap, int mac, int e1000)
{
    snprintf(n->netdev, sizeof n->netdev, "tap,id=n0,ifname=tap%d,script=no,downscript=no", tap);
    if (e1000) /* romfile=: no PXE option ROM, the guest drives the NIC itself */
        snprintf(n->device, sizeof n->device,
                 "e1000,netdev=n0,mac=52:54:00:5a:00:%02x,romfile=", mac);
    else
        snprintf(n->device, sizeof n->device,
                 "virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:5a:00:%02x", mac);
    n->v[0] = "-netdev";
    n->v[1] = n->netdev;
    n->v[2] = "-device";
    n->v[3] = n->device;
    n->v[4] = NULL;
    return n->v;
}

static const char *const *nic(struct nic *n, int tap, int mac)
{
    return nic_of(n, tap, mac, 0);
}

static void test_two_guests_exchange_ping_and_pong(void)
{
    const char *prefix[] = {"ip", "netns", "exec", g_ns, NULL};
    struct nic a, b;
    guest_proc pong, ping;
    guest_result rp, ri;
    char mac[32];
    unsigned long long pongs = 0, answered = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_qemu_spawn(&pong, prefix,
                                         "scenario=net net.role=pong net.count=8 net.wait_ms=10000",
                                         nic(&a, 0, 1)),
                           0);
    ST_ASSERT_INT_EQ(gt_wait_output(&pong, "DATA net.mac=", 20000), 0);
    ST_ASSERT_INT_EQ_FATAL(gt_qemu_spawn(&ping, prefix,
                                         "scenario=net net.role=ping net.count=8 net.wait_ms=10000",
                                         nic(&b, 1, 2)),
                           0);
    int vi = guest_wait(&ping, 30000, &ri);
    int vp = guest_wait(&pong, 30000, &rp);
    if (vi != GUEST_PASS)
        guest_result_print(&ri, stderr);
    if (vp != GUEST_PASS)
        guest_result_print(&rp, stderr);
    ST_ASSERT_INT_EQ(vi, GUEST_PASS);
    ST_ASSERT_INT_EQ(vp, GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_u64(&ri, "net.pongs", &pongs), 0);
    ST_ASSERT_INT_EQ(pongs, 8);
    ST_ASSERT_INT_EQ(guest_data_u64(&rp, "net.answered", &answered), 0);
    CU_ASSERT(answered >= 8);
    /* The MAC each guest used came from its device's config space. */
    ST_ASSERT_INT_EQ(guest_data(&ri, "net.mac", mac, sizeof mac), 0);
    ST_ASSERT_STR_EQ(mac, "52:54:00:5a:00:02");
    ST_ASSERT_INT_EQ(guest_data(&rp, "net.mac", mac, sizeof mac), 0);
    ST_ASSERT_STR_EQ(mac, "52:54:00:5a:00:01");
    guest_result_free(&ri);
    guest_result_free(&rp);
}

/* A guest on nic (0 virtio, 1 e1000) queues count frames; all are sent. */
static void send_every_frame(int e1000, int count, int mac)
{
    const char *prefix[] = {"ip", "netns", "exec", g_ns, NULL};
    struct nic a;
    guest_proc p;
    guest_result r;
    char cmd[128];
    unsigned long long sent = 0;
    snprintf(cmd, sizeof cmd, "scenario=net%s net.count=%d net.wait_ms=100",
             e1000 ? " nic=e1000" : "", count);
    ST_ASSERT_INT_EQ_FATAL(gt_qemu_spawn(&p, prefix, cmd, nic_of(&a, 0, mac, e1000)), 0);
    ST_ASSERT_INT_EQ(guest_wait(&p, 30000, &r), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "net.sent", &sent), 0);
    ST_ASSERT_INT_EQ(sent, count);
    guest_result_free(&r);
}

static void test_send_transmits_every_frame(void)
{
    send_every_frame(0, 32, 3);
}

static void test_ping_without_a_peer_fails(void)
{
    const char *prefix[] = {"ip", "netns", "exec", g_ns, NULL};
    struct nic a;
    guest_proc p;
    guest_result r;
    ST_ASSERT_INT_EQ_FATAL(gt_qemu_spawn(&p, prefix,
                                         "scenario=net net.role=ping net.count=2 net.wait_ms=300",
                                         nic(&a, 1, 4)),
                           0);
    ST_ASSERT_INT_EQ(guest_wait(&p, 30000, &r), GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "0 of 2 pings answered");
    guest_result_free(&r);
}

/* sink_e1000: the sink drives an e1000 (its 64-buffer receive ring wraps) */
static void flood_to_sink(int sink_e1000)
{
    const char *prefix[] = {"ip", "netns", "exec", g_ns, NULL};
    struct nic a, b;
    guest_proc sink, flood;
    guest_result rs, rf;
    unsigned long long got = 0, sent = 0;
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu_spawn(&sink, prefix,
                      sink_e1000 ? "scenario=net nic=e1000 net.role=sink net.wait_ms=20000 "
                                   "net.expect=100 net.enough=1"
                                 : "scenario=net net.role=sink net.wait_ms=20000 net.expect=100 "
                                   "net.enough=1",
                      nic_of(&a, 0, 5, sink_e1000)),
        0);
    /* The sink counts from its net.mac line on: start the flood after it. */
    ST_ASSERT_INT_EQ(gt_wait_output(&sink, "DATA net.mac=", 20000), 0);
    ST_ASSERT_INT_EQ_FATAL(gt_qemu_spawn(&flood, prefix,
                                         "scenario=net net.role=flood net.ms=300 net.count=400",
                                         nic(&b, 1, 6)),
                           0);
    ST_ASSERT_INT_EQ(guest_wait(&flood, 30000, &rf), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_wait(&sink, 30000, &rs), GUEST_PASS);
    if (rs.verdict != GUEST_PASS)
        guest_result_print(&rs, stderr);
    ST_ASSERT_INT_EQ(guest_data_u64(&rf, "net.sent", &sent), 0);
    ST_ASSERT_INT_EQ(guest_data_u64(&rs, "net.received", &got), 0);
    CU_ASSERT(got >= 100 && got <= sent);
    guest_result_free(&rs);
    guest_result_free(&rf);
}

static void test_flood_reaches_the_sink(void)
{
    flood_to_sink(0);
}

static void test_flood_reaches_an_e1000_sink(void)
{
    flood_to_sink(1);
}

/* The emulated NIC beside the paravirtual one on the same bridge. */
static void test_e1000_guest_pings_a_virtio_guest(void)
{
    const char *prefix[] = {"ip", "netns", "exec", g_ns, NULL};
    struct nic a, b;
    guest_proc pong, ping;
    guest_result rp, ri;
    char mac[32];
    unsigned long long pongs = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_qemu_spawn(&pong, prefix,
                                         "scenario=net net.role=pong net.count=8 net.wait_ms=10000",
                                         nic(&a, 0, 7)),
                           0);
    ST_ASSERT_INT_EQ(gt_wait_output(&pong, "DATA net.mac=", 20000), 0);
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu_spawn(&ping, prefix,
                      "scenario=net nic=e1000 net.role=ping net.count=8 net.wait_ms=10000",
                      nic_of(&b, 1, 8, 1)),
        0);
    int vi = guest_wait(&ping, 30000, &ri);
    int vp = guest_wait(&pong, 30000, &rp);
    if (vi != GUEST_PASS)
        guest_result_print(&ri, stderr);
    ST_ASSERT_INT_EQ(vi, GUEST_PASS);
    ST_ASSERT_INT_EQ(vp, GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_u64(&ri, "net.pongs", &pongs), 0);
    ST_ASSERT_INT_EQ(pongs, 8);
    /* the e1000's MAC: the one QEMU put in its EEPROM and receive address */
    ST_ASSERT_INT_EQ(guest_data(&ri, "net.mac", mac, sizeof mac), 0);
    ST_ASSERT_STR_EQ(mac, "52:54:00:5a:00:08");
    guest_result_free(&ri);
    guest_result_free(&rp);
}

static void test_e1000_transmits_every_frame(void)
{
    send_every_frame(1, 200, 9); /* the 64-slot ring wraps three times */
}

static CU_TestInfo tests[] = {
    {"two guests on a bridge exchange ping and pong", test_two_guests_exchange_ping_and_pong},
    {"send transmits every frame", test_send_transmits_every_frame},
    {"ping without a peer fails", test_ping_without_a_peer_fails},
    {"flood frames reach the sink guest", test_flood_reaches_the_sink},
    {"an e1000 guest pings a virtio guest (MAC from the EEPROM)",
     test_e1000_guest_pings_a_virtio_guest},
    {"e1000: every queued frame is transmitted, the ring wrapping",
     test_e1000_transmits_every_frame},
    {"e1000: a virtio guest's flood reaches an e1000 sink, the ring wrapping",
     test_flood_reaches_an_e1000_sink},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_net", suite_init, suite_cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg(); /* QEMU's TCG where /dev/kvm is absent */
    if (geteuid() != 0)
        st_skip("needs root for ip netns and tap devices");
    return st_test_main(argc, argv, suites);
}
