/*
 * vmm_net_hdr - virtio-net headers between a guest and its tap are held to
 * the features the driver negotiated: the tap's offloads follow them, a
 * transmit header asking for more (or inconsistent) is dropped, a receive
 * header carrying offloads the driver did not take is dropped, and a driver
 * without offloads sees flags zero.
 */
#include <linux/if_tun.h>
#include <string.h>

#include "net_hdr.h"
#include "st_test.h"

#define ALL                                                                                        \
    (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 |                       \
     VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6)

static vmm_net_hdr hdr(uint8_t flags, uint8_t gso, uint16_t gso_size, uint16_t cs, uint16_t co)
{
    vmm_net_hdr h = {.flags = flags,
                     .gso_type = gso,
                     .hdr_len = 54,
                     .gso_size = gso_size,
                     .csum_start = cs,
                     .csum_offset = co,
                     .num_buffers = 7};
    return h;
}

static void test_tap_offloads(void)
{
    ST_ASSERT_INT_EQ(vmm_net_tap_offloads(0), 0);
    ST_ASSERT_INT_EQ(vmm_net_tap_offloads(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4), 0);
    ST_ASSERT_INT_EQ(vmm_net_tap_offloads(VIRTIO_NET_F_GUEST_CSUM), TUN_F_CSUM);
    /* TSO without partial checksums is not a combination the tap (or the spec) has */
    ST_ASSERT_INT_EQ(vmm_net_tap_offloads(VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6), 0);
    ST_ASSERT_INT_EQ(vmm_net_tap_offloads(ALL), TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
    ST_ASSERT_INT_EQ(vmm_net_tap_offloads(VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO6),
                     TUN_F_CSUM | TUN_F_TSO6);
}

static void test_tx_without_offloads(void)
{
    vmm_net_hdr h = hdr(0, 0, 0, 0, 0);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(0, &h, 60), 0);
    ST_ASSERT_INT_EQ(h.flags, 0);
    ST_ASSERT_INT_EQ(h.num_buffers, 0);
    h = hdr(VIRTIO_NET_HDR_F_DATA_VALID | 0x80, 0, 0, 0, 0); /* device-only bits are cleared */
    ST_ASSERT_INT_EQ(vmm_net_tx_check(0, &h, 60), 0);
    ST_ASSERT_INT_EQ(h.flags, 0);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(0, &h, 60), -1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(VIRTIO_NET_F_CSUM, &h, 65000), -1); /* no HOST_TSO4 */
}

static void test_tx_with_offloads(void)
{
    vmm_net_hdr h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 60), 0);
    ST_ASSERT_INT_EQ(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    ST_ASSERT_INT_EQ(h.csum_start, 34);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 51), -1); /* the checksum field ends at 52 */
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 52), 0);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0xffff); /* no 16-bit wrap */
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 1500), -1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 65000), 0);
    ST_ASSERT_INT_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    ST_ASSERT_INT_EQ(h.gso_size, 1448);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 1428, 54, 16);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 65000), 0);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL & ~VIRTIO_NET_F_HOST_TSO6, &h, 65000), -1);
    h = hdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 0, 0); /* GSO needs a partial checksum */
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 65000), -1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0, 34, 16); /* no size */
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 65000), -1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 3 /* UDP */, 1472, 34, 6);
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 65000), -1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0x80 | VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16); /* ECN */
    ST_ASSERT_INT_EQ(vmm_net_tx_check(ALL, &h, 65000), -1);
}

static void test_rx(void)
{
    /* A driver without offloads: flags zero, num_buffers 1, nothing partial or segmented. */
    vmm_net_hdr h = hdr(VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0);
    ST_ASSERT_INT_EQ(vmm_net_rx_check(0, &h), 0);
    ST_ASSERT_INT_EQ(h.flags, 0);
    ST_ASSERT_INT_EQ(h.num_buffers, 1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_rx_check(0, &h), -1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_rx_check(0, &h), -1);
    /* With GUEST_CSUM and GUEST_TSO4 only. */
    uint64_t f = VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4;
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_rx_check(f, &h), 0);
    ST_ASSERT_INT_EQ(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    ST_ASSERT_INT_EQ(h.num_buffers, 1);
    h = hdr(VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0);
    ST_ASSERT_INT_EQ(vmm_net_rx_check(f, &h), 0);
    ST_ASSERT_INT_EQ(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 1428, 54, 16);
    ST_ASSERT_INT_EQ(vmm_net_rx_check(f, &h), -1);
    h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
    ST_ASSERT_INT_EQ(vmm_net_rx_check(VIRTIO_NET_F_GUEST_TSO4, &h), -1); /* no GUEST_CSUM */
}

static CU_TestInfo tests[] = {
    {"the tap's offloads are what the driver negotiated to receive", test_tap_offloads},
    {"transmit without offloads: plain frames pass, offload requests are dropped",
     test_tx_without_offloads},
    {"transmit with offloads: checksum and TSO headers pass only when consistent",
     test_tx_with_offloads},
    {"receive: offloads the driver did not negotiate are dropped, flags cleared without GUEST_CSUM",
     test_rx},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"net_hdr", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
