/*
 * inet.h - the guest's IPv4 over Ethernet (inet.c): a DHCP client, ARP
 * (answers for our address, resolves a next hop) and ICMP echo (answers
 * pings, sends them). Pure functions over a state struct and byte buffers,
 * no device and no globals, so the same file builds into the guest (ring 3
 * runs it) and on the host for the fuzz target (tests/guest/fuzz).
 *
 * Addresses are u32 in host order (10.0.0.1 is 0x0a000001). Every frame
 * handed to inet_input() is hostile: it is parsed with bounds checks only,
 * and at most one reply of at most INET_FRAME_MAX bytes is produced.
 */
#ifndef GUEST_INET_H
#define GUEST_INET_H

#ifdef INET_HOST
#include <stdint.h>
#include <string.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#else
#include "guest.h"
#endif

#define INET_FRAME_MAX 1514 /* Ethernet header + 1500 */
#define INET_MAX_DNS 3
#define INET_MAX_PINGS 64

enum inet_dhcp_state {
    DHCP_SELECTING = 0,  /* DISCOVER sent, waiting for an OFFER */
    DHCP_REQUESTING = 1, /* REQUEST sent, waiting for ACK or NAK */
    DHCP_BOUND = 2,
};

struct inet_lease {
    u32 ip, mask, router, server, lease_s;
    u32 dns[INET_MAX_DNS];
    u32 n_dns;
    u32 mtu; /* option 26, 0 when absent */
};

struct inet {
    u8 mac[6];
    u32 xid;
    enum inet_dhcp_state dhcp;
    u32 offer_ip, offer_server;
    u32 naks;
    struct inet_lease lease; /* valid once dhcp == DHCP_BOUND */
    /* ping: to ping_ip through next hop hop_ip (ARP resolves hop_mac) */
    u32 ping_ip, hop_ip;
    u8 hop_mac[6];
    int hop_known;
    u16 ping_id;
    u32 ping_count; /* at most INET_MAX_PINGS */
    u8 replied[INET_MAX_PINGS];
    u32 replies;
    /* what arrived */
    u64 frames, dropped; /* dropped: malformed (bad length, checksum, field) */
    u64 arp_answered, echo_answered;
};

/* Starts the client: mac, transaction id. */
void inet_init(struct inet *s, const u8 mac[6], u32 xid);
/* A DHCPDISCOVER (SELECTING) or DHCPREQUEST (REQUESTING) for the current
 * state into out (>= INET_FRAME_MAX bytes); returns its length. */
u32 inet_dhcp_frame(const struct inet *s, u8 *out);
/* Sets the ping target (bound only): next hop is the target when it is on
 * our subnet, else the router (0 when there is none). count <= INET_MAX_PINGS. */
void inet_ping_target(struct inet *s, u32 ip, u32 count, u16 id);
/* An ARP request for the next hop. */
u32 inet_arp_request(const struct inet *s, u8 *out);
/* An ICMP echo request seq (< ping_count) to ping_ip via hop_mac. */
u32 inet_echo_request(const struct inet *s, u16 seq, u8 *out);
/* Handles one received frame of len bytes; returns the length of the reply
 * written to out (0: none). Never reads outside f[0..len). */
u32 inet_input(struct inet *s, const u8 *f, u32 len, u8 *out);

u16 inet_csum(const u8 *p, u32 len); /* the Internet checksum */

#endif
