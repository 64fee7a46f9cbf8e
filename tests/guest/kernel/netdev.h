/*
 * netdev.h - the guest's NIC for scenarios: virtio-net (netdev.c) or, with
 * nic=e1000 on the command line, an Intel 82540EM (e1000.c). The MAC, a
 * receive queue of fixed 2 KiB buffers and a transmit queue with one buffer
 * per descriptor. Used by scen_net.c (raw frames) and scen_dhcp.c (DHCP,
 * ARP, ICMP). Everything but net_open() works in ring 0 and ring 3 and never
 * fails the run (ring 3 cannot print). Receive buffers are given back in
 * the order they were received.
 */
#ifndef GUEST_NETDEV_H
#define GUEST_NETDEV_H

#define NET_HDR 12   /* struct virtio_net_hdr with VERSION_1, all zero: no offloads */
#define NET_BUF 2048 /* per descriptor, header included */
#define NET_QSIZE 64

struct net {
    struct virtio_dev v; /* virtio-net */
    int e1000;           /* e1000 instead: */
    volatile u8 *regs;   /*   BAR0 */
    void *rxd, *txd;     /*   descriptor rings */
    u16 qsize;           /*   NET_QSIZE */
    u16 rx_next;         /*   the next receive descriptor to look at */
    u16 tx_clean;        /*   the oldest transmit not yet reclaimed */
    u8 mac[6];
    u8 *rxbuf, *txbuf;
    u16 tx_next;
    u16 rx_unnotified;  /* buffers reposted since the last kick (e1000: RDT flush) */
    u64 sent, received; /* transmits completed; frames taken by net_rx_next */
};

/* Opens the NIC (virtio-net: MAC from config, else a local one from the
 * TSC; e1000: from RAL0/RAH0 or the EEPROM), posts every receive buffer.
 * Ring 0; fails the run on a broken device. */
void net_open(struct net *n);
/* Transmit slots; the device's status (for messages); interrupts counted. */
u16 net_tx_size(struct net *n);
u32 net_status(struct net *n);
u32 net_irqs(struct net *n);
/* Next received frame: 1 with *id and the frame (after the virtio-net
 * header) in *frame / *len, 0 when none, -1 when the device returned a
 * descriptor it was never given. A used length outside [NET_HDR, NET_BUF]
 * gives *len = 0. Give the buffer back with net_rx_put(). */
int net_rx_next(struct net *n, u16 *id, const u8 **frame, u32 *len);
/* Reposts buffer id (kicks the device every 8). */
void net_rx_put(struct net *n, u16 id);
/* Kicks the receive queue if buffers were reposted since the last kick
 * (e1000: reads STATUS after RDT moved, see e1000_rx_flush). */
void net_rx_flush(struct net *n);
/* Counts completed transmits. */
void net_tx_reclaim(struct net *n);
int net_tx_full(struct net *n);
/* 1 while a queued transmit is not reclaimed yet. */
int net_tx_busy(struct net *n);
/* The frame area (NET_BUF - NET_HDR bytes) of the next transmit slot: write
 * the frame there, then net_tx_queue(); the caller checked !net_tx_full(). */
u8 *net_tx_slot(struct net *n);
/* Queues the slot net_tx_slot() returned with a frame of len bytes; no kick. */
void net_tx_queue(struct net *n, u32 len);
void net_tx_kick(struct net *n);

/* e1000.c, behind the net_ functions */
void e1000_open(struct net *n);
int e1000_rx_next(struct net *n, u16 *id, const u8 **frame, u32 *len);
void e1000_rx_put(struct net *n, u16 id);
void e1000_rx_flush(struct net *n);
void e1000_tx_reclaim(struct net *n);
int e1000_tx_full(struct net *n);
void e1000_tx_queue(struct net *n, u32 len);
void e1000_tx_kick(struct net *n);
u32 e1000_status(struct net *n);

#endif
