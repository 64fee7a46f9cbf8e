/*
 * vmm_announce - a guest that moved to this host announced on its taps (tap.c), as QEMU's
 * announce-self does: the RARP frame's bytes, with and without a virtio-net header, and the
 * five frames written to a NIC's tap over about 350 ms on an event base's timers, without
 * KVM: the "tap" is a datagram socket pair (one frame per datagram) adopted under a tap name.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "devices.h"
#include "st_test.h"

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x78, 0x02};

static void test_rarp_frame(void)
{
    uint8_t buf[128];
    static const uint8_t head[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x78,
                                   0x02, 0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x03,
                                   0x52, 0x54, 0x00, 0x12, 0x78, 0x02, 0,    0,    0,    0,    0x52,
                                   0x54, 0x00, 0x12, 0x78, 0x02, 0,    0,    0,    0};
    for (int hdr = 0; hdr <= 12; hdr += 12) {
        memset(buf, 0xaa, sizeof buf);
        ST_ASSERT_INT_EQ_FATAL(vmm_tap_rarp(buf, sizeof buf, hdr, MAC), (size_t)hdr + 60);
        for (int i = 0; i < hdr; i++) /* the virtio-net header: all zero (no offload, no GSO) */
            ST_ASSERT_INT_EQ(buf[i], 0);
        CU_ASSERT_EQUAL(memcmp(buf + hdr, head, sizeof head), 0);
        for (size_t i = hdr + sizeof head; i < (size_t)hdr + 60; i++) /* padding */
            ST_ASSERT_INT_EQ(buf[i], 0);
        ST_ASSERT_INT_EQ(buf[hdr + 60], 0xaa); /* nothing past it */
    }
    ST_ASSERT_INT_EQ(vmm_tap_rarp(buf, 59, 0, MAC), 0);
    ST_ASSERT_INT_EQ(vmm_tap_rarp(buf, 71, 12, MAC), 0);
    ST_ASSERT_INT_EQ(vmm_tap_rarp(buf, sizeof buf, -1, MAC), 0);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_five_frames_on_the_tap(void)
{
    int sv[2];
    ST_ASSERT_INT_EQ_FATAL(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    /* the socket stands for tap "ann0", opened by this process (plain frames, as e1000's) */
    ST_ASSERT_INT_EQ_FATAL(vmm_tap_adopt("ann0", sv[0]), 0);
    ST_ASSERT_INT_EQ_FATAL(vmm_tap_open("ann0", 0), sv[0]);
    vmm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.nnics = 2;
    snprintf(cfg.nics[0].tap, sizeof cfg.nics[0].tap, "ann0");
    memcpy(cfg.nics[0].mac, MAC, 6);
    snprintf(cfg.nics[1].tap, sizeof cfg.nics[1].tap, "notopen"); /* no tap of this process */
    struct event_base *base = event_base_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(base);
    double t0 = now_ms();
    ST_ASSERT_INT_EQ(vmm_tap_announce(base, &cfg), 1);
    ST_ASSERT_INT_EQ(event_base_dispatch(base), 1); /* it ends: no event left */
    double took = now_ms() - t0;
    CU_ASSERT(took >= 340); /* 0, 50, 150, 250 and 350 ms */
    uint8_t want[128], got[128];
    size_t wn = vmm_tap_rarp(want, sizeof want, 0, MAC);
    int frames = 0;
    ssize_t n;
    while ((n = recv(sv[1], got, sizeof got, MSG_DONTWAIT)) > 0) {
        ST_ASSERT_INT_EQ(n, (ssize_t)wn);
        CU_ASSERT_EQUAL(memcmp(got, want, wn), 0);
        frames++;
    }
    ST_ASSERT_INT_EQ(frames, 5);
    /* a config whose taps this process did not open: nothing to announce */
    cfg.nnics = 1;
    snprintf(cfg.nics[0].tap, sizeof cfg.nics[0].tap, "other");
    ST_ASSERT_INT_EQ(vmm_tap_announce(base, &cfg), 0);
    ST_ASSERT_INT_EQ(recv(sv[1], got, sizeof got, MSG_DONTWAIT), -1);
    event_base_free(base);
    close(sv[0]);
    close(sv[1]);
}

static CU_TestInfo tests[] = {
    {"the RARP frame, with and without a virtio-net header", test_rarp_frame},
    {"five frames on each NIC's tap over 350 ms, none for a tap not opened",
     test_five_frames_on_the_tap},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"announce", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
