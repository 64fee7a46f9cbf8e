/*
 * inet.c - the guest's IPv4 over Ethernet (inet.h): DHCP client, ARP, ICMP
 * echo. Pure code over byte buffers; the scenario (scen_dhcp.c) moves
 * frames between it and the device, in ring 3.
 *
 * Received frames are hostile. A frame is looked at only as far as its own
 * length says, then as far as each header's length field says, and each of
 * those is checked against what encloses it (Ethernet length >= IPv4 total
 * length >= header length; UDP length <= IPv4 payload; every DHCP option
 * inside the UDP payload). Checksums are verified (IPv4 header, ICMP, UDP
 * when non-zero); a frame failing any check is counted in `dropped` and
 * answered with nothing. Fragments and IP options-laden replies are not
 * supported: fragments are ignored, options are dropped from echo replies.
 *
 * DHCP (RFC 2131): DISCOVER, OFFER, REQUEST (requested address and server
 * id), ACK, with NAK sending us back to DISCOVER. Only a reply with our xid
 * and our chaddr counts. Parsed from the ACK: yiaddr, subnet mask (1),
 * router (3), DNS (6), MTU (26), lease time (51), server id (54).
 */
#include "inet.h"

#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define BOOTP_OPTS 240 /* fixed BOOTP fields + magic cookie */
#define BOOTP_MIN 300  /* what a BOOTP message is padded to */

static const u8 bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static u16 get16(const u8 *p)
{
    return (u16)(p[0] << 8 | p[1]);
}
static u32 get32(const u8 *p)
{
    return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}
static void put16(u8 *p, u32 v)
{
    p[0] = (u8)(v >> 8);
    p[1] = (u8)v;
}
static void put32(u8 *p, u32 v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static u32 csum_add(u32 sum, const u8 *p, u32 len)
{
    for (u32 i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (len & 1)
        sum += (u32)p[len - 1] << 8;
    return sum;
}

static u16 csum_fold(u32 sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (u16)~sum;
}

u16 inet_csum(const u8 *p, u32 len)
{
    return csum_fold(csum_add(0, p, len));
}

static void eth_hdr(u8 *o, const u8 *dst, const u8 *src, u16 type)
{
    memcpy(o, dst, 6);
    memcpy(o + 6, src, 6);
    put16(o + 12, type);
}

/* IPv4 header (no options) at o for a payload of plen bytes. */
static void ip_hdr(u8 *o, u32 src, u32 dst, u8 proto, u32 plen)
{
    o[0] = 0x45;
    o[1] = 0;
    put16(o + 2, 20 + plen);
    put16(o + 4, 0);      /* identification: 0 is fine with DF (RFC 6864) */
    put16(o + 6, 0x4000); /* don't fragment */
    o[8] = 64;
    o[9] = proto;
    put16(o + 10, 0);
    put32(o + 12, src);
    put32(o + 16, dst);
    put16(o + 10, inet_csum(o, 20));
}

/* Ethernet frames shorter than 60 bytes are padded (zeros) to 60. */
static u32 pad60(u8 *o, u32 len)
{
    if (len < 60) {
        memset(o + len, 0, 60 - len);
        len = 60;
    }
    return len;
}

void inet_init(struct inet *s, const u8 mac[6], u32 xid)
{
    memset(s, 0, sizeof *s);
    memcpy(s->mac, mac, 6);
    s->xid = xid;
}

u32 inet_dhcp_frame(const struct inet *s, u8 *out)
{
    static const u8 params[] = {1, 3, 6, 15, 26, 28, 51, 54};
    u8 *ip = out + 14, *udp = ip + 20, *b = udp + 8, *o = b + BOOTP_OPTS;
    memset(out, 0, 14 + 20 + 8 + BOOTP_MIN);
    eth_hdr(out, bcast_mac, s->mac, ETH_IP);
    b[0] = 1; /* BOOTREQUEST */
    b[1] = 1; /* Ethernet */
    b[2] = 6;
    put32(b + 4, s->xid);
    memcpy(b + 28, s->mac, 6);  /* chaddr */
    put32(b + 236, 0x63825363); /* magic cookie */
    *o++ = 53;                  /* message type */
    *o++ = 1;
    *o++ = s->dhcp == DHCP_REQUESTING ? 3 : 1;
    if (s->dhcp == DHCP_REQUESTING) {
        *o++ = 50; /* requested address */
        *o++ = 4;
        put32(o, s->offer_ip);
        o += 4;
        *o++ = 54; /* server identifier */
        *o++ = 4;
        put32(o, s->offer_server);
        o += 4;
    }
    *o++ = 55; /* parameter request list */
    *o++ = (u8)sizeof params;
    memcpy(o, params, sizeof params);
    o += sizeof params;
    *o++ = 57; /* maximum message size */
    *o++ = 2;
    put16(o, 1500);
    o += 2;
    *o++ = 255;
    u32 blen = (u32)(o - b) < BOOTP_MIN ? BOOTP_MIN : (u32)(o - b);
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, 8 + blen); /* checksum 0: none (IPv4 allows it) */
    ip_hdr(ip, 0, 0xffffffffu, 17, 8 + blen);
    return 14 + 20 + 8 + blen;
}

void inet_ping_target(struct inet *s, u32 ip, u32 count, u16 id)
{
    const struct inet_lease *l = &s->lease;
    s->ping_ip = ip;
    s->hop_ip = (ip & l->mask) == (l->ip & l->mask) ? ip : l->router;
    s->hop_known = 0;
    s->ping_count = count < INET_MAX_PINGS ? count : INET_MAX_PINGS;
    s->ping_id = id;
    memset(s->replied, 0, sizeof s->replied);
    s->replies = 0;
}

static u32 arp_frame(const struct inet *s, u8 *out, u16 op, const u8 *dmac, const u8 *tha, u32 tpa)
{
    u8 *a = out + 14;
    eth_hdr(out, dmac, s->mac, ETH_ARP);
    put16(a, 1);
    put16(a + 2, ETH_IP);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, s->mac, 6);
    put32(a + 14, s->lease.ip);
    memcpy(a + 18, tha, 6);
    put32(a + 24, tpa);
    return pad60(out, 14 + 28);
}

u32 inet_arp_request(const struct inet *s, u8 *out)
{
    static const u8 zero[6];
    return arp_frame(s, out, 1, bcast_mac, zero, s->hop_ip);
}

u32 inet_echo_request(const struct inet *s, u16 seq, u8 *out)
{
    u8 *ip = out + 14, *ic = ip + 20;
    const u32 plen = 8 + 56; /* as ping(8) sends: 56 bytes of data */
    eth_hdr(out, s->hop_mac, s->mac, ETH_IP);
    memset(ic, 0, plen);
    ic[0] = 8;
    put16(ic + 4, s->ping_id);
    put16(ic + 6, seq);
    memcpy(ic + 8, "STRGUEST", 8);
    put16(ic + 2, inet_csum(ic, plen));
    ip_hdr(ip, s->lease.ip, s->ping_ip, 1, plen);
    return 14 + 20 + plen;
}

static u32 arp_input(struct inet *s, const u8 *f, u32 len, u8 *out)
{
    if (len < 14 + 28) {
        s->dropped++;
        return 0;
    }
    const u8 *a = f + 14;
    if (get16(a) != 1 || get16(a + 2) != ETH_IP || a[4] != 6 || a[5] != 4) {
        s->dropped++;
        return 0;
    }
    u16 op = get16(a + 6);
    u32 spa = get32(a + 14), tpa = get32(a + 24);
    if (s->dhcp != DHCP_BOUND || (op != 1 && op != 2))
        return 0;
    if (s->hop_ip && spa == s->hop_ip && (a[8] & 1) == 0) { /* never a multicast MAC */
        memcpy(s->hop_mac, a + 8, 6);
        s->hop_known = 1;
    }
    if (op != 1 || tpa != s->lease.ip || spa == 0 || (a[8] & 1))
        return 0;
    s->arp_answered++;
    return arp_frame(s, out, 2, a + 8, a + 8, spa);
}

/* DHCP message (b, n bytes: the UDP payload). */
static u32 dhcp_input(struct inet *s, const u8 *b, u32 n, u8 *out)
{
    struct inet_lease l;
    u32 type = 0, server = 0;
    if (n < BOOTP_OPTS || b[0] != 2 || b[1] != 1 || b[2] != 6 || get32(b + 4) != s->xid ||
        memcmp(b + 28, s->mac, 6) != 0 || get32(b + 236) != 0x63825363)
        return 0; /* not a reply to us: not malformed, just not ours */
    memset(&l, 0, sizeof l);
    l.ip = get32(b + 16);
    for (u32 i = BOOTP_OPTS; i < n;) {
        u8 code = b[i];
        if (code == 0) {
            i++;
            continue;
        }
        if (code == 255)
            break;
        if (i + 2 > n || i + 2 + b[i + 1] > n) {
            s->dropped++; /* an option running past the message */
            return 0;
        }
        u32 olen = b[i + 1];
        const u8 *v = b + i + 2;
        if (code == 53 && olen == 1)
            type = v[0];
        else if (code == 54 && olen == 4)
            server = get32(v);
        else if (code == 1 && olen == 4)
            l.mask = get32(v);
        else if (code == 3 && olen >= 4)
            l.router = get32(v);
        else if (code == 6)
            for (u32 k = 0; k + 4 <= olen && l.n_dns < INET_MAX_DNS; k += 4)
                l.dns[l.n_dns++] = get32(v + k);
        else if (code == 26 && olen == 2)
            l.mtu = get16(v);
        else if (code == 51 && olen == 4)
            l.lease_s = get32(v);
        i += 2 + olen;
    }
    if (s->dhcp == DHCP_SELECTING && type == 2 && l.ip && server) {
        s->offer_ip = l.ip;
        s->offer_server = server;
        s->dhcp = DHCP_REQUESTING;
        return inet_dhcp_frame(s, out);
    }
    if (s->dhcp != DHCP_REQUESTING || server != s->offer_server)
        return 0;
    if (type == 5 && l.ip == s->offer_ip) {
        l.server = server;
        s->lease = l;
        s->dhcp = DHCP_BOUND;
        return 0;
    }
    if (type == 6) { /* NAK: start over */
        s->naks++;
        s->dhcp = DHCP_SELECTING;
        return inet_dhcp_frame(s, out);
    }
    return 0;
}

static u32 icmp_input(struct inet *s, const u8 *f, u32 src, const u8 *ic, u32 plen, u8 *out)
{
    if (plen < 8 || inet_csum(ic, plen) != 0) {
        s->dropped++;
        return 0;
    }
    if (ic[0] == 0 && ic[1] == 0 && src == s->ping_ip && get16(ic + 4) == s->ping_id) {
        u16 seq = get16(ic + 6);
        if (seq < s->ping_count && !s->replied[seq]) {
            s->replied[seq] = 1;
            s->replies++;
        }
        return 0;
    }
    if (ic[0] != 8 || ic[1] != 0 || 20 + plen > 1500 || (f[6] & 1))
        return 0; /* not a request, too long, or from a multicast MAC */
    u8 *oip = out + 14, *oic = oip + 20;
    eth_hdr(out, f + 6, s->mac, ETH_IP);
    memcpy(oic, ic, plen);
    oic[0] = 0;
    put16(oic + 2, 0);
    put16(oic + 2, inet_csum(oic, plen));
    ip_hdr(oip, s->lease.ip, src, 1, plen);
    s->echo_answered++;
    return pad60(out, 14 + 20 + plen);
}

static u32 ip_input(struct inet *s, const u8 *f, u32 len, u8 *out)
{
    if (len < 14 + 20) {
        s->dropped++;
        return 0;
    }
    const u8 *ip = f + 14;
    u32 ihl = (u32)(ip[0] & 15) * 4, tot = get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || 14 + tot > len || inet_csum(ip, ihl) != 0) {
        s->dropped++;
        return 0;
    }
    if (get16(ip + 6) & 0x3fff) /* a fragment (MF or an offset): not handled */
        return 0;
    u8 proto = ip[9];
    u32 src = get32(ip + 12), dst = get32(ip + 16), plen = tot - ihl;
    const u8 *p = ip + ihl;
    if (proto == 17) {
        if (plen < 8 || get16(p + 4) < 8 || get16(p + 4) > plen) {
            s->dropped++;
            return 0;
        }
        u32 ulen = get16(p + 4);
        if (get16(p + 6)) { /* a checksum was sent: it must hold */
            u8 pseudo[12];
            put32(pseudo, src);
            put32(pseudo + 4, dst);
            pseudo[8] = 0;
            pseudo[9] = 17;
            put16(pseudo + 10, ulen);
            if (csum_fold(csum_add(csum_add(0, pseudo, 12), p, ulen)) != 0) {
                s->dropped++;
                return 0;
            }
        }
        if (get16(p) == 67 && get16(p + 2) == 68)
            return dhcp_input(s, p + 8, ulen - 8, out);
        return 0;
    }
    if (proto == 1 && s->dhcp == DHCP_BOUND && dst == s->lease.ip)
        return icmp_input(s, f, src, p, plen, out);
    return 0;
}

u32 inet_input(struct inet *s, const u8 *f, u32 len, u8 *out)
{
    s->frames++;
    if (len < 14) {
        s->dropped++;
        return 0;
    }
    if (memcmp(f, s->mac, 6) != 0 && memcmp(f, bcast_mac, 6) != 0)
        return 0; /* flooded to us, not for us */
    if (memcmp(f + 6, s->mac, 6) == 0)
        return 0; /* our own frame coming back */
    u16 type = get16(f + 12);
    if (type == ETH_ARP)
        return arp_input(s, f, len, out);
    if (type == ETH_IP)
        return ip_input(s, f, len, out);
    return 0;
}
