/*
 * e1000.c - the guest's Intel 82540EM (e1000, 8086:100e) behind netdev.h,
 * chosen with nic=e1000: the emulated NIC every OS has a driver for, as
 * the scenarios' alternative to virtio-net.
 *
 * Legacy descriptors only (16 bytes; no extended or context descriptors,
 * no offloads), NET_QSIZE of each, polled (interrupts masked: IMC all).
 * Receive descriptor i always points at buffer i (2 KiB, RCTL.BSIZE 2048,
 * the CRC stripped by SECRC); a frame is done when its status has DD, and
 * RDT follows the buffers given back, so the device owns every descriptor
 * but the last one returned; before waiting for more frames the driver
 * reads STATUS once if it moved RDT (e1000_rx_flush). Transmit uses the
 * buffers round-robin with EOP | IFCS | RS and reclaims by DD, in order.
 * The frame sits NET_HDR bytes into each transmit buffer (the layout
 * virtio-net's header gives the scenarios), and at the start of each
 * receive buffer.
 *
 * The MAC: RAL0/RAH0 when the address-valid bit is set (the device loads
 * them from its EEPROM), else the EEPROM's words 0-2 through EERD.
 *
 * The device is not trusted: a receive length beyond the buffer gives an
 * empty frame; a transmit ring whose head never moves ends in the caller's
 * timeout.
 */
#include "guest.h"
#include "netdev.h"

#define E1000_VENDOR 0x8086
#define E1000_DEVICE 0x100e

#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_EERD 0x0014
#define REG_ICR 0x00c0
#define REG_IMC 0x00d8
#define REG_RCTL 0x0100
#define REG_TCTL 0x0400
#define REG_TIPG 0x0410
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define REG_TDBAL 0x3800
#define REG_TDBAH 0x3804
#define REG_TDLEN 0x3808
#define REG_TDH 0x3810
#define REG_TDT 0x3818
#define REG_MTA 0x5200
#define REG_RAL0 0x5400
#define REG_RAH0 0x5404

#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define RCTL_EN (1u << 1)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT (0x10u << 4)
#define TCTL_COLD (0x40u << 12)
#define RAH_AV (1u << 31)
#define EERD_START 1u
#define EERD_DONE (1u << 4)

#define DESC_DD 0x01
#define TX_EOP 0x01
#define TX_IFCS 0x02
#define TX_RS 0x08

struct e1000_desc { /* legacy receive and transmit share the layout's size */
    u64 addr;
    u16 length;
    u8 cso_or_csum_lo;
    u8 cmd_or_csum_hi;
    u8 status;
    u8 css_or_errors;
    u16 special;
};

static u32 rd(struct net *n, u32 reg)
{
    return mmio_read32(n->regs + reg);
}

static void wr(struct net *n, u32 reg, u32 v)
{
    mmio_write32(n->regs + reg, v);
}

static void read_mac(struct net *n)
{
    u32 lo = rd(n, REG_RAL0), hi = rd(n, REG_RAH0);
    if (hi & RAH_AV) {
        for (int i = 0; i < 4; i++)
            n->mac[i] = (u8)(lo >> (8 * i));
        n->mac[4] = (u8)hi;
        n->mac[5] = (u8)(hi >> 8);
        return;
    }
    for (u32 w = 0; w < 3; w++) {
        wr(n, REG_EERD, w << 8 | EERD_START);
        u64 end = deadline_ms(100);
        u32 v;
        while (!((v = rd(n, REG_EERD)) & EERD_DONE))
            if (expired(end))
                guest_fail("e1000: EEPROM word %u never read (EERD %#x)", w, v);
        n->mac[2 * w] = (u8)(v >> 16);
        n->mac[2 * w + 1] = (u8)(v >> 24);
    }
    wr(n, REG_RAL0,
       (u32)n->mac[0] | (u32)n->mac[1] << 8 | (u32)n->mac[2] << 16 | (u32)n->mac[3] << 24);
    wr(n, REG_RAH0, (u32)n->mac[4] | (u32)n->mac[5] << 8 | RAH_AV);
}

void e1000_open(struct net *n)
{
    struct pci_dev *d = pci_find(E1000_VENDOR, E1000_DEVICE);
    if (!d)
        guest_fail("no e1000 device 8086:100e");
    if (d->bar_is_io[0] || d->bar_size[0] < 0x20000)
        guest_fail("e1000: BAR0 is not a 128 KiB memory BAR");
    pci_enable(d);
    n->e1000 = 1;
    n->regs = pci_bar_ptr(d, 0, 0, 0x20000);
    n->qsize = NET_QSIZE;
    wr(n, REG_IMC, 0xffffffffu);
    wr(n, REG_CTRL, rd(n, REG_CTRL) | CTRL_RST);
    delay_us(1000);
    u64 end = deadline_ms(100);
    while (rd(n, REG_CTRL) & CTRL_RST)
        if (expired(end))
            guest_fail("e1000: reset never finished");
    wr(n, REG_IMC, 0xffffffffu);
    (void)rd(n, REG_ICR);
    wr(n, REG_CTRL, rd(n, REG_CTRL) | CTRL_SLU);
    read_mac(n);
    for (u32 i = 0; i < 128; i++)
        wr(n, REG_MTA + 4 * i, 0);

    struct e1000_desc *rx = kalloc(NET_QSIZE * sizeof *rx, 128);
    struct e1000_desc *tx = kalloc(NET_QSIZE * sizeof *tx, 128);
    n->rxbuf = kalloc((u64)NET_QSIZE * NET_BUF, 4096);
    n->txbuf = kalloc((u64)NET_QSIZE * NET_BUF, 4096);
    n->rxd = rx;
    n->txd = tx;
    for (u32 i = 0; i < NET_QSIZE; i++)
        rx[i].addr = (u64)(uptr)(n->rxbuf + (u64)i * NET_BUF);
    wr(n, REG_RDBAL, (u32)(uptr)rx);
    wr(n, REG_RDBAH, (u32)((u64)(uptr)rx >> 32));
    wr(n, REG_RDLEN, NET_QSIZE * sizeof *rx);
    wr(n, REG_RDH, 0);
    wr(n, REG_RDT, NET_QSIZE - 1); /* every buffer but one: head == tail is empty */
    wr(n, REG_RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);
    wr(n, REG_TDBAL, (u32)(uptr)tx);
    wr(n, REG_TDBAH, (u32)((u64)(uptr)tx >> 32));
    wr(n, REG_TDLEN, NET_QSIZE * sizeof *tx);
    wr(n, REG_TDH, 0);
    wr(n, REG_TDT, 0);
    wr(n, REG_TIPG, 10 | 8 << 10 | 6 << 20); /* the datasheet's values for copper */
    wr(n, REG_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
    n->rx_next = n->tx_next = n->tx_clean = 0;
    data("e1000.status=%#x", rd(n, REG_STATUS));
}

int e1000_rx_next(struct net *n, u16 *id, const u8 **frame, u32 *len)
{
    volatile struct e1000_desc *d = &((struct e1000_desc *)n->rxd)[n->rx_next];
    if (!(d->status & DESC_DD))
        return 0;
    barrier();
    u32 l = d->length;
    *id = n->rx_next;
    *frame = n->rxbuf + (u64)n->rx_next * NET_BUF;
    *len = l <= NET_BUF ? l : 0;
    n->rx_next = (u16)((n->rx_next + 1) % NET_QSIZE);
    n->received++;
    return 1;
}

void e1000_rx_put(struct net *n, u16 id)
{
    struct e1000_desc *d = &((struct e1000_desc *)n->rxd)[id % NET_QSIZE];
    d->status = 0;
    d->length = 0;
    barrier();
    wr(n, REG_RDT, id % NET_QSIZE); /* the tail: one past the last the device may fill */
    n->rx_unnotified = 1;
}

/* Before the caller waits for frames: a read of STATUS after RDT moved, a
 * posting read as Linux's E1000_WRITE_FLUSH. QEMU under KVM coalesces
 * writes to most e1000 registers, RDT among them: KVM queues them and QEMU
 * sees them at the vCPU's next exit to user space, which a guest that only
 * polls memory never makes; the read is that exit. */
void e1000_rx_flush(struct net *n)
{
    (void)rd(n, REG_STATUS);
}

void e1000_tx_reclaim(struct net *n)
{
    while (n->tx_clean != n->tx_next) {
        volatile struct e1000_desc *d = &((struct e1000_desc *)n->txd)[n->tx_clean];
        if (!(d->status & DESC_DD))
            break;
        n->tx_clean = (u16)((n->tx_clean + 1) % NET_QSIZE);
        n->sent++;
    }
}

int e1000_tx_full(struct net *n)
{
    return (u16)((n->tx_next + 1) % NET_QSIZE) == n->tx_clean;
}

void e1000_tx_queue(struct net *n, u32 len)
{
    struct e1000_desc *d = &((struct e1000_desc *)n->txd)[n->tx_next];
    d->addr = (u64)(uptr)(n->txbuf + (u64)n->tx_next * NET_BUF + NET_HDR);
    d->length = (u16)len;
    d->cmd_or_csum_hi = TX_EOP | TX_IFCS | TX_RS;
    d->status = 0;
    d->cso_or_csum_lo = d->css_or_errors = 0;
    d->special = 0;
    n->tx_next = (u16)((n->tx_next + 1) % NET_QSIZE);
}

void e1000_tx_kick(struct net *n)
{
    barrier();
    wr(n, REG_TDT, n->tx_next);
}

u32 e1000_status(struct net *n)
{
    return rd(n, REG_STATUS);
}
