/*
 * netdev.c - the guest's NIC for scenarios (netdev.h): virtio-net here,
 * e1000 (e1000.c) when the command line says nic=e1000.
 *
 * Receive queue 0 holds one 2 KiB buffer per descriptor, descriptor i always
 * pointing at buffer i, reposted after each frame (one kick per batch).
 * Transmit queue 1 has a buffer per descriptor, used round-robin. The
 * virtio-net header is 12 bytes (VERSION_1), all zero: no offloads are ever
 * negotiated, so the device must hand over whole, checksummed frames. Only
 * MAC is asked for.
 *
 * The device is not trusted: a used id out of range is reported, a used
 * length outside the buffer gives an empty frame.
 */
#include "guest.h"
#include "netdev.h"

#define VIRTIO_NET_F_MAC (1ull << 5)

static void rx_post(struct net *n, u16 id)
{
    struct virtq *q = &n->v.vq[0];
    q->desc[id].addr = (u64)(uptr)(n->rxbuf + (u64)id * NET_BUF);
    q->desc[id].len = NET_BUF;
    q->desc[id].flags = VIRTQ_DESC_F_WRITE;
    q->avail->ring[q->avail->idx & (q->size - 1)] = id;
    barrier();
    q->avail->idx++;
}

void net_open(struct net *n)
{
    const char *nic = arg_str("nic");
    if (nic && strcmp(nic, "e1000") == 0) {
        e1000_open(n);
        return;
    }
    if (nic && strcmp(nic, "virtio") != 0)
        guest_fail("nic must be virtio or e1000");
    virtio_open(&n->v, 1, VIRTIO_NET_F_MAC, 2);
    virtio_queue_setup(&n->v, 0, NET_QSIZE);
    virtio_queue_setup(&n->v, 1, NET_QSIZE);
    virtio_driver_ok(&n->v);
    if (n->v.features & VIRTIO_NET_F_MAC) {
        virtio_cfg_read(&n->v, 0, n->mac, 6);
    } else { /* locally administered, from the TSC */
        u64 t = rdtsc();
        n->mac[0] = 0x02;
        for (int i = 1; i < 6; i++)
            n->mac[i] = (u8)(t >> (8 * i));
    }
    struct virtq *rq = &n->v.vq[0];
    n->rxbuf = kalloc((u64)rq->size * NET_BUF, 4096);
    n->txbuf = kalloc((u64)n->v.vq[1].size * NET_BUF, 4096);
    rq->num_free = 0; /* rx descriptors are fixed, one per buffer */
    for (u16 i = 0; i < rq->size; i++)
        rx_post(n, i);
    virtq_notify(rq);
}

u16 net_tx_size(struct net *n)
{
    return n->e1000 ? n->qsize : n->v.vq[1].size;
}

u32 net_status(struct net *n)
{
    return n->e1000 ? e1000_status(n) : virtio_status(&n->v);
}

u32 net_irqs(struct net *n)
{
    return n->e1000 ? 0 : virtio_irqs(&n->v); /* e1000: polled, interrupts masked */
}

void net_tx_kick(struct net *n)
{
    if (n->e1000)
        e1000_tx_kick(n);
    else
        virtq_notify(&n->v.vq[1]);
}

int net_rx_next(struct net *n, u16 *id, const u8 **frame, u32 *len)
{
    if (n->e1000)
        return e1000_rx_next(n, id, frame, len);
    struct virtq *q = &n->v.vq[0];
    if (q->used->idx == q->last_used)
        return 0;
    barrier();
    volatile struct virtq_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
    u32 i = e->id, l = e->len;
    q->last_used++;
    if (i >= q->size)
        return -1;
    *id = (u16)i;
    *frame = n->rxbuf + (u64)i * NET_BUF + NET_HDR;
    *len = l >= NET_HDR && l <= NET_BUF ? l - NET_HDR : 0;
    n->received++;
    return 1;
}

void net_rx_put(struct net *n, u16 id)
{
    if (n->e1000) {
        e1000_rx_put(n, id);
        return;
    }
    rx_post(n, id);
    if (++n->rx_unnotified >= 8) {
        virtq_notify(&n->v.vq[0]);
        n->rx_unnotified = 0;
    }
}

void net_rx_flush(struct net *n)
{
    if (!n->rx_unnotified)
        return;
    if (n->e1000)
        e1000_rx_flush(n);
    else
        virtq_notify(&n->v.vq[0]);
    n->rx_unnotified = 0;
}

void net_tx_reclaim(struct net *n)
{
    if (n->e1000) {
        e1000_tx_reclaim(n);
        return;
    }
    struct virtq *q = &n->v.vq[1];
    while (q->used->idx != q->last_used) {
        barrier();
        q->last_used++;
        n->sent++;
    }
}

int net_tx_busy(struct net *n)
{
    if (n->e1000)
        return n->tx_clean != n->tx_next;
    return n->v.vq[1].last_used != n->v.vq[1].avail->idx;
}

int net_tx_full(struct net *n)
{
    if (n->e1000)
        return e1000_tx_full(n);
    struct virtq *q = &n->v.vq[1];
    return (u16)(q->avail->idx - q->last_used) >= q->size;
}

u8 *net_tx_slot(struct net *n)
{
    return n->txbuf + (u64)n->tx_next * NET_BUF + NET_HDR;
}

void net_tx_queue(struct net *n, u32 len)
{
    if (n->e1000) {
        e1000_tx_queue(n, len);
        return;
    }
    struct virtq *q = &n->v.vq[1];
    u16 id = n->tx_next;
    n->tx_next = (u16)((id + 1) & (q->size - 1));
    q->desc[id].addr = (u64)(uptr)(n->txbuf + (u64)id * NET_BUF);
    q->desc[id].len = NET_HDR + len;
    q->desc[id].flags = 0;
    q->avail->ring[q->avail->idx & (q->size - 1)] = id;
    barrier();
    q->avail->idx++;
}
