/*
 * net_hdr.c - virtio-net header checks against the negotiated features; see
 * net_hdr.h for what is checked and why.
 */
#include "net_hdr.h"

#include <linux/if_tun.h>

unsigned vmm_net_tap_offloads(uint64_t f)
{
    unsigned o = 0;
    if (!(f & VIRTIO_NET_F_GUEST_CSUM))
        return 0; /* segmentation offloads come with partial checksums or not at all */
    o |= TUN_F_CSUM;
    if (f & VIRTIO_NET_F_GUEST_TSO4)
        o |= TUN_F_TSO4;
    if (f & VIRTIO_NET_F_GUEST_TSO6)
        o |= TUN_F_TSO6;
    return o;
}

int vmm_net_tx_check(uint64_t f, vmm_net_hdr *h, uint64_t frame_len)
{
    int csum = (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
    h->flags = csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0; /* DATA_VALID etc. are the device's */
    h->num_buffers = 0;
    if (csum) {
        if (!(f & VIRTIO_NET_F_CSUM))
            return -1;
        if ((uint64_t)h->csum_start + h->csum_offset + 2 > frame_len)
            return -1;
    }
    switch (h->gso_type) {
    case VIRTIO_NET_HDR_GSO_NONE: return 0;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        if (!(f & VIRTIO_NET_F_HOST_TSO4))
            return -1;
        break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        if (!(f & VIRTIO_NET_F_HOST_TSO6))
            return -1;
        break;
    default: return -1; /* UDP, ECN: never offered */
    }
    return csum && h->gso_size ? 0 : -1;
}

int vmm_net_rx_check(uint64_t f, vmm_net_hdr *h)
{
    h->num_buffers = 1;
    if (!(f & VIRTIO_NET_F_GUEST_CSUM)) {
        if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
            return -1;
        h->flags = 0;
    }
    switch (h->gso_type) {
    case VIRTIO_NET_HDR_GSO_NONE: return 0;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        return (f & VIRTIO_NET_F_GUEST_TSO4) && (f & VIRTIO_NET_F_GUEST_CSUM) ? 0 : -1;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        return (f & VIRTIO_NET_F_GUEST_TSO6) && (f & VIRTIO_NET_F_GUEST_CSUM) ? 0 : -1;
    default: return -1;
    }
}
