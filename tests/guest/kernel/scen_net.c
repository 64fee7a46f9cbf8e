/*
 * scen_net.c - the `net` scenario: virtio-net with the MAC from config
 * space, frames of EtherType 0x88B5 carrying "STRGUEST", a kind byte, a
 * sequence number and the origin MAC.
 *
 *   net.role=send  send net.count frames to broadcast, then count frames
 *                  from other guests for net.wait_ms (PASS: >= net.expect)
 *   net.role=ping  send net.count pings, resending unanswered ones every
 *                  100 ms, until a pong came back for each (or net.wait_ms)
 *   net.role=pong  answer every ping; PASS once net.count distinct sequence
 *                  numbers were answered (then 200 ms more for resends)
 *
 * Receive queue 0 holds one 2 KiB buffer per descriptor, reposted after each
 * frame; transmit queue 1 has a fixed buffer per descriptor. The virtio-net
 * header is 12 bytes (VERSION_1), all zero: no offloads.
 */
#include "guest.h"

#define VIRTIO_NET_F_MAC (1ull << 5)
#define NET_HDR 12
#define NET_BUF 2048
#define NET_QSIZE 64
#define FRAME_LEN 64
#define ETHERTYPE 0x88B5
#define MAX_SEQ 1024

struct net {
    struct virtio_dev v;
    u8 mac[6];
    u8 *rxbuf, *txbuf;
    u16 tx_next;
    u64 sent, received;
};

static const u8 bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

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

static void net_open(struct net *n)
{
    virtio_open(&n->v, 1, VIRTIO_NET_F_MAC, 2);
    virtio_queue_setup(&n->v, 0, NET_QSIZE);
    virtio_queue_setup(&n->v, 1, NET_QSIZE);
    virtio_driver_ok(&n->v);
    if (n->v.features & VIRTIO_NET_F_MAC) {
        virtio_cfg_read(&n->v, 0, n->mac, 6);
    } else {                                 /* locally administered, from the TSC */
        u64 t = rdtsc();
        n->mac[0] = 0x02;
        for (int i = 1; i < 6; i++)
            n->mac[i] = (u8)(t >> (8 * i));
    }
    struct virtq *rq = &n->v.vq[0];
    n->rxbuf = kalloc((u64)rq->size * NET_BUF, 4096);
    n->txbuf = kalloc((u64)n->v.vq[1].size * NET_BUF, 4096);
    rq->num_free = 0;                        /* rx descriptors are fixed, one per buffer */
    for (u16 i = 0; i < rq->size; i++)
        rx_post(n, i);
    virtq_notify(rq);
}

static void tx_reclaim(struct net *n)
{
    struct virtq *q = &n->v.vq[1];
    while (q->used->idx != q->last_used) {
        barrier();
        q->last_used++;
        n->sent++;
    }
}

/* Sends one frame; the transmit descriptors are used round-robin. */
static void net_send(struct net *n, const u8 *dst, char kind, u32 seq, const u8 *origin)
{
    struct virtq *q = &n->v.vq[1];
    u64 end = deadline_ms(2000);
    tx_reclaim(n);
    while ((u16)(q->avail->idx - q->last_used) >= q->size) {
        if (expired(end))
            guest_fail("transmit queue stuck (device status %#x)", virtio_status(&n->v));
        tx_reclaim(n);
    }
    u16 id = n->tx_next;
    n->tx_next = (u16)((id + 1) & (q->size - 1));
    u8 *b = n->txbuf + (u64)id * NET_BUF;
    memset(b, 0, NET_HDR + FRAME_LEN);
    u8 *f = b + NET_HDR;
    memcpy(f, dst, 6);
    memcpy(f + 6, n->mac, 6);
    f[12] = ETHERTYPE >> 8;
    f[13] = ETHERTYPE & 0xff;
    memcpy(f + 14, "STRGUEST", 8);
    f[22] = (u8)kind;
    memcpy(f + 24, &seq, 4);
    memcpy(f + 28, origin, 6);
    q->desc[id].addr = (u64)(uptr)b;
    q->desc[id].len = NET_HDR + FRAME_LEN;
    q->desc[id].flags = 0;
    q->avail->ring[q->avail->idx & (q->size - 1)] = id;
    barrier();
    q->avail->idx++;
    virtq_notify(q);
}

struct frame {
    u8 src[6], origin[6];
    char kind;
    u32 seq;
};

/* Takes one received frame of ours (from another MAC) if there is one. */
static int net_recv(struct net *n, struct frame *fr)
{
    struct virtq *q = &n->v.vq[0];
    while (q->used->idx != q->last_used) {
        barrier();
        volatile struct virtq_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
        u32 id = e->id, len = e->len;
        q->last_used++;
        if (id >= q->size)
            guest_fail("device returned receive descriptor %u", id);
        const u8 *f = n->rxbuf + (u64)id * NET_BUF + NET_HDR;
        int ours = len >= NET_HDR + 34 && f[12] == (ETHERTYPE >> 8) &&
                   f[13] == (ETHERTYPE & 0xff) && memcmp(f + 14, "STRGUEST", 8) == 0 &&
                   memcmp(f + 6, n->mac, 6) != 0;
        if (ours) {
            memcpy(fr->src, f + 6, 6);
            fr->kind = (char)f[22];
            memcpy(&fr->seq, f + 24, 4);
            memcpy(fr->origin, f + 28, 6);
            n->received++;
        }
        rx_post(n, (u16)id);                 /* everything needed was copied out above */
        virtq_notify(q);
        if (ours)
            return 1;
    }
    return 0;
}

static void put_bit(u8 *bits, u32 i) { bits[i / 8] |= (u8)(1u << (i % 8)); }
static int get_bit(const u8 *bits, u32 i) { return bits[i / 8] >> (i % 8) & 1; }

void scen_net(void)
{
    static struct net n;
    static u8 seen[MAX_SEQ / 8];
    const char *role = arg_str("net.role");
    u64 count = arg_u64("net.count", 4), wait = arg_u64("net.wait_ms", 1000);
    u64 expect = arg_u64("net.expect", 0), done = 0;
    struct frame fr;
    if (!role)
        role = "send";
    if (count > MAX_SEQ)
        guest_fail("net.count must be at most %d", MAX_SEQ);
    net_open(&n);
    data("net.mac=%02x:%02x:%02x:%02x:%02x:%02x", n.mac[0], n.mac[1], n.mac[2], n.mac[3],
         n.mac[4], n.mac[5]);
    u64 end = deadline_ms(wait);

    if (strcmp(role, "send") == 0) {
        for (u32 s = 0; s < count; s++)
            net_send(&n, bcast, 'H', s, n.mac);
        while (!expired(end))
            net_recv(&n, &fr);
        tx_reclaim(&n);
        data("net.sent=%llu", n.sent);
        data("net.received=%llu", n.received);
        data("irqs=%u", virtio_irqs(&n.v));
        if (n.sent != count)
            guest_fail("%llu of %llu frames sent", n.sent, count);
        if (n.received < expect)
            guest_fail("received %llu frames, expected %llu", n.received, expect);
        guest_pass();
    }

    if (strcmp(role, "ping") == 0) {
        u64 resend = 0;
        while (done < count && !expired(end)) {
            if (expired(resend)) {
                for (u32 s = 0; s < count; s++)
                    if (!get_bit(seen, s))
                        net_send(&n, bcast, 'I', s, n.mac);
                resend = deadline_ms(100);
            }
            while (net_recv(&n, &fr))
                if (fr.kind == 'O' && memcmp(fr.origin, n.mac, 6) == 0 && fr.seq < count &&
                    !get_bit(seen, fr.seq)) {
                    put_bit(seen, fr.seq);
                    done++;
                }
        }
        tx_reclaim(&n);
        data("net.sent=%llu", n.sent);
        data("net.received=%llu", n.received);
        data("net.pongs=%llu", done);
        data("irqs=%u", virtio_irqs(&n.v));
        if (done < count)
            guest_fail("%llu of %llu pings answered", done, count);
        guest_pass();
    }

    if (strcmp(role, "pong") == 0) {
        u64 answered = 0, linger = 0;
        while (!expired(end) && !(linger && expired(linger))) {
            if (!net_recv(&n, &fr) || fr.kind != 'I')
                continue;
            net_send(&n, fr.src, 'O', fr.seq, fr.src);
            answered++;
            if (fr.seq < count && !get_bit(seen, fr.seq)) {
                put_bit(seen, fr.seq);
                if (++done == count)
                    linger = deadline_ms(200);
            }
        }
        tx_reclaim(&n);
        data("net.sent=%llu", n.sent);
        data("net.received=%llu", n.received);
        data("net.answered=%llu", answered);
        data("irqs=%u", virtio_irqs(&n.v));
        if (done < count)
            guest_fail("answered %llu of %llu distinct pings", done, count);
        guest_pass();
    }
    guest_fail("net.role must be send, ping or pong");
}
