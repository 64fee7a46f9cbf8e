/*
 * net_hdr.h - the virtio-net header (virtio 1.x, 5.1.6) between a guest and
 * its tap, checked against the features the driver negotiated.
 *
 * Every frame crosses the tap behind this 12-byte header: the tap is opened
 * with IFF_VNET_HDR and a header size of 12 (virtio 1.x always has
 * num_buffers), so the kernel reads and writes the same layout the guest
 * does. What the guest puts in a transmit header is untrusted: it is copied
 * once, and a frame whose header asks for an offload the driver did not
 * negotiate (or is inconsistent: GSO without a partial checksum, a checksum
 * field outside the frame) is dropped before the tap sees it. What the tap
 * writes into a receive header is the kernel's, but it must still match
 * what the driver negotiated (a frame queued before the driver reset the
 * device may carry offloads the new driver did not ask for): such a frame
 * is dropped, and without GUEST_CSUM the flags are cleared, as the spec
 * requires. No KVM dependency: fuzz/vmm/ runs these over hostile chains.
 */
#ifndef VMM_NET_HDR_H
#define VMM_NET_HDR_H

#include <stdint.h>

#define VIRTIO_NET_F_CSUM (1ull << 0)       /* device takes partially checksummed frames */
#define VIRTIO_NET_F_GUEST_CSUM (1ull << 1) /* driver takes partially checksummed frames */
#define VIRTIO_NET_F_GUEST_TSO4 (1ull << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ull << 8)
#define VIRTIO_NET_F_HOST_TSO4 (1ull << 11)
#define VIRTIO_NET_F_HOST_TSO6 (1ull << 12)
#define VIRTIO_NET_F_MRG_RXBUF (1ull << 15) /* a frame may span receive buffers */

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4

#define VMM_NET_HDR_LEN 12

/* struct virtio_net_hdr_v1, little-endian (x86 only). */
typedef struct vmm_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
} vmm_net_hdr;

_Static_assert(sizeof(vmm_net_hdr) == VMM_NET_HDR_LEN, "virtio_net_hdr_v1 is 12 bytes");

/* The TUN_F_* offloads for TUNSETOFFLOAD: what the tap may hand this driver. */
unsigned vmm_net_tap_offloads(uint64_t features);
/* A transmit header of a frame of frame_len bytes (header excluded): 0 when it may
 * go to the tap (h cleaned: only NEEDS_CSUM kept in flags, num_buffers 0), -1 to drop. */
int vmm_net_tx_check(uint64_t features, vmm_net_hdr *h, uint64_t frame_len);
/* A receive header the tap wrote: 0 to deliver (h fixed for the driver: flags
 * cleared without GUEST_CSUM, num_buffers 1), -1 to drop the frame. */
int vmm_net_rx_check(uint64_t features, vmm_net_hdr *h);

#endif
