/*
 * scen_dhcp.c - the `dhcp` scenario: IPv4 on virtio-net as a tenant's
 * instance lives it. The guest gets its address from the network's DHCP
 * server, then pings `ping=` (resolving the next hop by ARP) and answers
 * ARP and pings for its address for up to `serve` seconds.
 *
 *   phase 1  DISCOVER / OFFER / REQUEST / ACK (resent every second; a
 *            REQUEST unanswered four times starts over) until dhcp.wait_ms
 *   phase 2  with ping=A.B.C.D: ARP for the next hop (the target on our
 *            subnet, else the router), ping.count echo requests, the
 *            unanswered ones resent every 250 ms, until ping.wait_ms
 *   phase 3  with serve=S: answer until S seconds passed or, with
 *            serve.answer=K, K echo requests were answered
 * Every phase answers ARP and echo requests for the leased address.
 *
 * The protocols are inet.c's; the device is netdev.c's. Each phase runs
 * in ring 3 (frames, timers, retransmissions), returning to ring 0 only to
 * print, so the guest's per-frame cost is native even where ring 0 is
 * emulated. Ring 3 never fails the run: a phase returns a code.
 */
#include "guest.h"
#include "inet.h"
#include "netdev.h"

struct run {
    struct net *n;
    struct inet *s;
    u8 *scratch; /* a reply with no transmit slot free goes here (and is lost:
                    the peer resends, as it would on a real network) */
    u64 end;     /* TSC deadline of the phase */
    u64 answer;  /* serve: stop after this many echo replies (0: serve to the end) */
};

#define IP4(x) (x) >> 24, ((x) >> 16) & 0xff, ((x) >> 8) & 0xff, (x)&0xff

static u64 ms_tsc(u64 ms)
{
    return ms * g_tsc_khz;
}

/* Ring 3 helpers: a transmit slot (NULL when the ring is full), and queue+kick. */
static u8 *tx_begin(struct run *r)
{
    net_tx_reclaim(r->n);
    return net_tx_full(r->n) ? NULL : net_tx_slot(r->n);
}

static void tx_end(struct run *r, u32 len)
{
    net_tx_queue(r->n, len);
    net_tx_kick(r->n);
}

/* Every frame waiting: inet_input(), its reply straight into a transmit
 * slot. -1 when the device returned a descriptor it was never given. */
static int poll_rx(struct run *r)
{
    u16 id;
    const u8 *f;
    u32 len;
    int k;
    while ((k = net_rx_next(r->n, &id, &f, &len)) > 0) {
        u8 *out = tx_begin(r);
        u32 rl = inet_input(r->s, f, len, out ? out : r->scratch);
        net_rx_put(r->n, id);
        if (rl && out)
            tx_end(r, rl);
    }
    if (k < 0)
        return -1;
    net_rx_flush(r->n);
    return 0;
}

/* Phase 1, ring 3: 0 bound, 1 out of time, 2 bad device. */
static u64 dhcp_r3(u64 arg)
{
    struct run *r = (void *)(uptr)arg;
    struct inet *s = r->s;
    enum inet_dhcp_state last = s->dhcp;
    u64 next = 0;
    u32 tries = 0;
    while (s->dhcp != DHCP_BOUND) {
        u64 now = rdtsc();
        if (now >= r->end)
            return 1;
        if (s->dhcp != last) { /* poll_rx() answered an OFFER or a NAK */
            last = s->dhcp;
            tries = 0;
            next = now + ms_tsc(1000);
        }
        if (now >= next) {
            if (s->dhcp == DHCP_REQUESTING && ++tries > 4) {
                s->dhcp = DHCP_SELECTING;
                last = s->dhcp;
            }
            u8 *o = tx_begin(r);
            if (o)
                tx_end(r, inet_dhcp_frame(s, o));
            next = now + ms_tsc(1000);
        }
        if (poll_rx(r) < 0)
            return 2;
    }
    return 0;
}

/* Phase 2, ring 3: 0 every ping answered, 1 out of time, 2 bad device. */
static u64 ping_r3(u64 arg)
{
    struct run *r = (void *)(uptr)arg;
    struct inet *s = r->s;
    u64 next = 0;
    while (s->replies < s->ping_count) {
        u64 now = rdtsc();
        if (now >= r->end)
            return 1;
        if (now >= next) {
            u8 *o;
            if (!s->hop_known) {
                if ((o = tx_begin(r)))
                    tx_end(r, inet_arp_request(s, o));
            } else {
                for (u32 q = 0; q < s->ping_count; q++)
                    if (!s->replied[q] && (o = tx_begin(r)))
                        tx_end(r, inet_echo_request(s, (u16)q, o));
            }
            next = now + ms_tsc(250);
        }
        if (poll_rx(r) < 0)
            return 2;
    }
    return 0;
}

/* Phase 3, ring 3: answer until the deadline (or r->answer echo replies). */
static u64 serve_r3(u64 arg)
{
    struct run *r = (void *)(uptr)arg;
    while (rdtsc() < r->end && !(r->answer && r->s->echo_answered >= r->answer))
        if (poll_rx(r) < 0)
            return 2;
    return 0;
}

static int parse_ip(const char *p, u32 *out)
{
    u32 v = 0;
    for (int i = 0; i < 4; i++) {
        u32 part = 0, digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            part = part * 10 + (u32)(*p++ - '0');
            digits++;
        }
        if (!digits || part > 255 || (i < 3 ? *p++ != '.' : *p != 0))
            return -1;
        v = v << 8 | part;
    }
    *out = v;
    return 0;
}

static void counters(struct run *r)
{
    data("inet.frames=%llu", r->s->frames);
    data("inet.dropped=%llu", r->s->dropped);
    data("inet.arp_answered=%llu", r->s->arp_answered);
    data("inet.echo_answered=%llu", r->s->echo_answered);
    data("irqs=%u", net_irqs(r->n));
}

void scen_dhcp(void)
{
    static struct net n;
    static struct inet s;
    struct run r = {&n, &s, NULL, 0, 0};
    const char *ping = arg_str("ping");
    u32 target = 0;
    u64 count = arg_u64("ping.count", 4), serve = arg_u64("serve", 0);
    if (ping && parse_ip(ping, &target) < 0)
        guest_fail("ping=%s is not an IPv4 address", ping);
    if (count == 0 || count > INET_MAX_PINGS)
        guest_fail("ping.count must be 1 to %d", INET_MAX_PINGS);
    deadline_ms(0); /* calibrates the TSC here: ring 3 cannot */
    net_open(&n);
    r.scratch = kalloc(INET_FRAME_MAX, 64);
    inet_init(&s, n.mac, (u32)rdtsc() ^ (u32)n.mac[5] << 24);
    data("dhcp.mac=%02x:%02x:%02x:%02x:%02x:%02x", n.mac[0], n.mac[1], n.mac[2], n.mac[3], n.mac[4],
         n.mac[5]);

    r.end = deadline_ms(arg_u64("dhcp.wait_ms", 10000));
    u64 rc = ring3_call(dhcp_r3, (u64)(uptr)&r);
    if (rc == 2)
        guest_fail("device returned a receive descriptor out of range");
    if (rc) {
        counters(&r);
        guest_fail("no DHCP lease (%s)", s.dhcp == DHCP_SELECTING ? "no offer" : "no ack");
    }
    struct inet_lease *l = &s.lease;
    data("dhcp.ip=%u.%u.%u.%u", IP4(l->ip));
    data("dhcp.mask=%u.%u.%u.%u", IP4(l->mask));
    data("dhcp.router=%u.%u.%u.%u", IP4(l->router));
    for (u32 i = 0; i < l->n_dns; i++)
        data("dhcp.dns=%u.%u.%u.%u", IP4(l->dns[i]));
    data("dhcp.mtu=%u", l->mtu);
    data("dhcp.lease_s=%u", l->lease_s);
    data("dhcp.server=%u.%u.%u.%u", IP4(l->server));
    data("dhcp.naks=%u", s.naks);

    if (ping) {
        inet_ping_target(&s, target, (u32)count, (u16)(rdtsc() >> 4));
        if (!s.hop_ip)
            guest_fail("ping=%s is off our subnet and there is no router", ping);
        r.end = deadline_ms(arg_u64("ping.wait_ms", 5000));
        rc = ring3_call(ping_r3, (u64)(uptr)&r);
        if (rc == 2)
            guest_fail("device returned a receive descriptor out of range");
        data("ping.target=%u.%u.%u.%u", IP4(s.ping_ip));
        if (s.hop_known)
            data("ping.hop_mac=%02x:%02x:%02x:%02x:%02x:%02x", s.hop_mac[0], s.hop_mac[1],
                 s.hop_mac[2], s.hop_mac[3], s.hop_mac[4], s.hop_mac[5]);
        data("ping.replies=%u", s.replies);
        if (s.replies < s.ping_count) {
            counters(&r);
            guest_fail("%u of %u pings to %s answered%s", s.replies, s.ping_count, ping,
                       s.hop_known ? "" : " (next hop never answered ARP)");
        }
    }

    if (serve) {
        r.answer = arg_u64("serve.answer", 0);
        r.end = deadline_ms(serve * 1000);
        if (ring3_call(serve_r3, (u64)(uptr)&r))
            guest_fail("device returned a receive descriptor out of range");
    }
    counters(&r);
    if (s.echo_answered < r.answer)
        guest_fail("answered %llu of %llu echo requests", s.echo_answered, r.answer);
    guest_pass();
}
