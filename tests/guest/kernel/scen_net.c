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
 *   net.role=flood benchmark: 'F' frames to broadcast as fast as the ring
 *                  allows for net.ms (1000); net.tx_fps
 *                  (net.count: at least that many frames, however long)
 *   net.role=sink  benchmark: count 'F' frames for net.wait_ms (with
 *                  net.enough=1, only until net.expect arrived); net.rx_fps
 *
 * The device is netdev.c's. Each transmit buffer is pre-filled with the
 * frame template, so a send writes only destination, kind, sequence and
 * origin. The benchmark loops run in
 * ring 3 (MMIO notifies work from there too), so the guest's own cost per
 * frame is native, not emulated; they must not call guest_fail().
 */
#include "guest.h"
#include "netdev.h"

#define FRAME_LEN 64
#define ETHERTYPE 0x88B5
#define MAX_SEQ 1024

struct frame {
    u8 src[6], origin[6];
    char kind;
    u32 seq;
};

static const u8 bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static u64 g_ours; /* frames of this scenario received */

/* Ring 3: the frame template in every transmit buffer. */
static u64 tx_template(u64 arg)
{
    struct net *n = (void *)(uptr)arg;
    for (u16 i = 0; i < net_tx_size(n); i++) {
        u8 *f = n->txbuf + (u64)i * NET_BUF + NET_HDR;
        memcpy(f + 6, n->mac, 6);
        f[12] = ETHERTYPE >> 8;
        f[13] = ETHERTYPE & 0xff;
        memcpy(f + 14, "STRGUEST", 8);
    }
    return 0;
}

/* Queues one frame in the next free slot (the caller checked !net_tx_full):
 * only the fields that differ from the template are written. */
static void tx_fill(struct net *n, const u8 *dst, char kind, u32 seq, const u8 *origin)
{
    u8 *f = net_tx_slot(n);
    __builtin_memcpy(f, dst, 6);
    f[22] = (u8)kind;
    __builtin_memcpy(f + 24, &seq, 4);
    __builtin_memcpy(f + 28, origin, 6);
    net_tx_queue(n, FRAME_LEN);
}

static void net_send(struct net *n, const u8 *dst, char kind, u32 seq, const u8 *origin)
{
    u64 end = deadline_ms(2000);
    net_tx_reclaim(n);
    while (net_tx_full(n)) {
        if (expired(end))
            guest_fail("transmit queue stuck (device status %#x)", net_status(n));
        net_tx_reclaim(n);
    }
    tx_fill(n, dst, kind, seq, origin);
    net_tx_kick(n);
}

/* Takes one received frame of ours (from another MAC): 1, 0 when there is
 * none, -1 when the device returned a descriptor it was never given. Ring 0
 * or ring 3. */
static int net_recv(struct net *n, struct frame *fr)
{
    u16 id;
    const u8 *f;
    u32 len;
    int r;
    while ((r = net_rx_next(n, &id, &f, &len)) > 0) {
        int ours = len >= 34 && f[12] == (ETHERTYPE >> 8) && f[13] == (ETHERTYPE & 0xff) &&
                   memcmp(f + 14, "STRGUEST", 8) == 0 && memcmp(f + 6, n->mac, 6) != 0;
        if (ours) {
            __builtin_memcpy(fr->src, f + 6, 6);
            fr->kind = (char)f[22];
            __builtin_memcpy(&fr->seq, f + 24, 4);
            __builtin_memcpy(fr->origin, f + 28, 6);
            g_ours++;
        }
        net_rx_put(n, id); /* everything needed was copied out above */
        if (ours)
            return 1;
    }
    if (r < 0)
        return -1;
    net_rx_flush(n);
    return 0;
}

static int recv_or_fail(struct net *n, struct frame *fr)
{
    int r = net_recv(n, fr);
    if (r < 0)
        guest_fail("device returned a receive descriptor out of range");
    return r;
}

struct bench {
    struct net *n;
    u64 end, stop; /* TSC deadlines: the run, and a drain limit */
    u64 count, first, last;
    u64 enough; /* sink: stop once this many frames arrived (0: run until end);
                 * flood: go on past end until this many were sent */
};

/* Ring 3: keep the transmit ring full of 'F' frames until end, then drain. */
static u64 flood_r3(u64 arg)
{
    struct bench *b = (void *)(uptr)arg;
    struct net *n = b->n;
    u32 seq = 0;
    while (rdtsc() < b->end || n->sent < b->enough) {
        int queued = 0;
        net_tx_reclaim(n);
        while (!net_tx_full(n)) {
            tx_fill(n, bcast, 'F', seq++, n->mac);
            queued++;
        }
        if (queued)
            net_tx_kick(n);
    }
    while (net_tx_busy(n) && rdtsc() < b->stop)
        net_tx_reclaim(n);
    return net_tx_busy(n);
}

/* Ring 3: count 'F' frames until end, noting the first and last arrival. */
static u64 sink_r3(u64 arg)
{
    struct bench *b = (void *)(uptr)arg;
    struct frame fr;
    while (rdtsc() < b->end) {
        int r = net_recv(b->n, &fr);
        if (r < 0)
            return 1;
        if (r == 0 || fr.kind != 'F')
            continue;
        b->last = rdtsc();
        if (!b->count++)
            b->first = b->last;
        if (b->enough && b->count >= b->enough)
            break;
    }
    return 0;
}

static void net_flood(struct net *n, u64 ms)
{
    struct bench b = {n, 0, 0, 0, 0, 0, arg_u64("net.count", 0)};
    u64 t0 = rdtsc();
    b.end = t0 + ms * g_tsc_khz;
    b.stop = b.end + 2000 * g_tsc_khz;
    u64 stuck = ring3_call(flood_r3, (u64)(uptr)&b);
    u64 us = (rdtsc() - t0) * 1000 / g_tsc_khz;
    data("net.sent=%llu", n->sent);
    data("net.elapsed_us=%llu", us);
    data("net.tx_fps=%llu", us ? n->sent * 1000000 / us : 0);
    data("irqs=%u", net_irqs(n));
    if (stuck)
        guest_fail("transmit ring did not drain");
    guest_pass();
}

static void net_sink(struct net *n, u64 end, u64 expect)
{
    struct bench b = {n, end, 0, 0, 0, 0, arg_u64("net.enough", 0) ? expect : 0};
    if (ring3_call(sink_r3, (u64)(uptr)&b))
        guest_fail("device returned a receive descriptor out of range");
    u64 us = (b.last - b.first) * 1000 / g_tsc_khz;
    data("net.received=%llu", b.count);
    data("net.span_us=%llu", us);
    data("net.rx_fps=%llu", us && b.count > 1 ? (b.count - 1) * 1000000 / us : 0);
    data("irqs=%u", net_irqs(n));
    if (b.count < expect)
        guest_fail("received %llu flood frames, expected %llu", b.count, expect);
    guest_pass();
}

static void put_bit(u8 *bits, u32 i)
{
    bits[i / 8] |= (u8)(1u << (i % 8));
}
static int get_bit(const u8 *bits, u32 i)
{
    return bits[i / 8] >> (i % 8) & 1;
}

static void report(struct net *n)
{
    net_tx_reclaim(n);
    data("net.sent=%llu", n->sent);
    data("net.received=%llu", g_ours);
}

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
    if (count > MAX_SEQ && strcmp(role, "flood") != 0) /* flood: a frame count, no bitmap */
        guest_fail("net.count must be at most %d", MAX_SEQ);
    net_open(&n);
    ring3_call(tx_template, (u64)(uptr)&n);
    data("net.mac=%02x:%02x:%02x:%02x:%02x:%02x", n.mac[0], n.mac[1], n.mac[2], n.mac[3], n.mac[4],
         n.mac[5]);
    u64 end = deadline_ms(wait);

    if (strcmp(role, "send") == 0) {
        for (u32 s = 0; s < count; s++)
            net_send(&n, bcast, 'H', s, n.mac);
        while (!expired(end))
            recv_or_fail(&n, &fr);
        report(&n);
        data("irqs=%u", net_irqs(&n));
        if (n.sent != count)
            guest_fail("%llu of %llu frames sent", n.sent, count);
        if (g_ours < expect)
            guest_fail("received %llu frames, expected %llu", g_ours, expect);
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
            while (recv_or_fail(&n, &fr))
                if (fr.kind == 'O' && memcmp(fr.origin, n.mac, 6) == 0 && fr.seq < count &&
                    !get_bit(seen, fr.seq)) {
                    put_bit(seen, fr.seq);
                    done++;
                }
        }
        report(&n);
        data("net.pongs=%llu", done);
        data("irqs=%u", net_irqs(&n));
        if (done < count)
            guest_fail("%llu of %llu pings answered", done, count);
        guest_pass();
    }

    if (strcmp(role, "pong") == 0) {
        u64 answered = 0, linger = 0;
        while (!expired(end) && !(linger && expired(linger))) {
            if (!recv_or_fail(&n, &fr) || fr.kind != 'I')
                continue;
            net_send(&n, fr.src, 'O', fr.seq, fr.src);
            answered++;
            if (fr.seq < count && !get_bit(seen, fr.seq)) {
                put_bit(seen, fr.seq);
                if (++done == count)
                    linger = deadline_ms(200);
            }
        }
        report(&n);
        data("net.answered=%llu", answered);
        data("irqs=%u", net_irqs(&n));
        if (done < count)
            guest_fail("answered %llu of %llu distinct pings", done, count);
        guest_pass();
    }

    if (strcmp(role, "flood") == 0)
        net_flood(&n, arg_u64("net.ms", 1000));
    if (strcmp(role, "sink") == 0)
        net_sink(&n, end, expect ? expect : 1);
    guest_fail("net.role must be send, ping, pong, flood or sink");
}
