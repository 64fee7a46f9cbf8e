/*
 * e1000.c - the Intel 82540EM device core (see e1000.h): registers, EEPROM,
 * PHY, transmit and receive descriptor rings, interrupts and throttling.
 *
 * Registers follow the 8254x Software Developer's Manual. BAR0 is a plain
 * array of 32-bit registers; the ones with behaviour are handled by name and
 * every other offset reads back what was written, so a driver touching one
 * we do not model (flow control, LEDs, wake-up) loses nothing.
 *
 * EEPROM: 64 words, Microwire, bit-banged through EECD as Linux's e1000 does
 * on this model (SK rising edges shift in the 3-bit READ opcode and a 6-bit
 * address, falling edges shift data out on DO), and also through EERD. Words
 * 0-2 hold the MAC; the words sum to 0xBABA, which drivers check.
 *
 * PHY: an M88E1011 at MDIO address 1 through MDIC, link always up at
 * 1000 Mb/s full duplex with auto-negotiation complete.
 *
 * Transmit: legacy descriptors and the extended context and data
 * descriptors. A frame is gathered from its descriptors into a buffer of
 * ours (at most 64 KiB + headers), then checksums are filled in (IXSM/TXSM
 * from the context) and, for TCP segmentation (TSE), it is cut into frames
 * of the context's MSS with the IP length and id, TCP sequence number and
 * flags, and checksums of each made here in software; VLE inserts an 802.1Q
 * tag when CTRL.VME is set. Frames leave with one write() on the fd. TDT
 * writes run the ring on the vCPU that wrote it.
 *
 * Receive: a frame is read from the fd into a buffer, filtered (unicast
 * address registers, multicast table, broadcast, promiscuous bits), its
 * 802.1Q tag stripped when CTRL.VME is set, 4 bytes of FCS added unless
 * RCTL.SECRC, and spread over as many receive buffers (RCTL.BSIZE) as it
 * needs. When the driver has posted too few the frame waits (one at most)
 * and the fd is no longer watched until the driver moves RDT.
 *
 * Guest input is hostile: ring bases, lengths, heads and tails are checked
 * against the ring size and guest RAM before any access; a ring is walked at
 * most once around per doorbell or frame; a buffer outside RAM drops its frame
 * (receive: the descriptor comes back with the RX error bit); a descriptor is
 * copied once before it is decoded.
 *
 * Interrupts: INTx is asserted while ICR & IMS is non-zero. ITR (in 256 ns
 * units) spaces assertions: one that comes too early waits for the host
 * timer. Reading ICR clears it and drops the line.
 */
#include "e1000.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Registers (byte offsets into BAR0). */
enum {
    CTRL = 0x0000,
    STATUS = 0x0008,
    EECD = 0x0010,
    EERD = 0x0014,
    MDIC = 0x0020,
    VET = 0x0038,
    ICR = 0x00c0,
    ITR = 0x00c4,
    ICS = 0x00c8,
    IMS = 0x00d0,
    IMC = 0x00d8,
    RCTL = 0x0100,
    TCTL = 0x0400,
    LEDCTL = 0x0e00,
    PBA = 0x1000,
    RDBAL = 0x2800,
    RDBAH = 0x2804,
    RDLEN = 0x2808,
    RDH = 0x2810,
    RDT = 0x2818,
    TDBAL = 0x3800,
    TDBAH = 0x3804,
    TDLEN = 0x3808,
    TDH = 0x3810,
    TDT = 0x3818,
    STATS_FIRST = 0x4000,
    MPC = 0x4010,
    ROC = 0x40ac,
    GPRC = 0x4074,
    BPRC = 0x4078,
    MPRC = 0x407c,
    GPTC = 0x4080,
    GORCL = 0x4088,
    GORCH = 0x408c,
    GOTCL = 0x4090,
    GOTCH = 0x4094,
    TORL = 0x40c0,
    TORH = 0x40c4,
    TOTL = 0x40c8,
    TOTH = 0x40cc,
    TPR = 0x40d0,
    TPT = 0x40d4,
    STATS_LAST = 0x40fc,
    MTA = 0x5200,
    RA = 0x5400, /* 16 pairs RAL, RAH */
};

#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define CTRL_PHY_RST (1u << 31)
#define STATUS_LINK_UP 0x83u /* FD, LU, 1000 Mb/s */
#define EECD_SK 0x01u
#define EECD_CS 0x02u
#define EECD_DI 0x04u
#define EECD_DO 0x08u
#define EECD_REQ 0x40u
#define EECD_GNT 0x80u
#define EECD_PRES 0x100u
#define EERD_START 0x01u
#define EERD_DONE 0x10u
#define MDIC_OP_WRITE (1u << 26)
#define MDIC_OP_READ (2u << 26)
#define MDIC_READY (1u << 28)
#define MDIC_INT (1u << 29)
#define MDIC_ERROR (1u << 30)
#define ICR_TXDW 0x01u
#define ICR_TXQE 0x02u
#define ICR_LSC 0x04u
#define ICR_RXDMT0 0x10u
#define ICR_RXO 0x40u
#define ICR_RXT0 0x80u
#define ICR_MDAC 0x200u
#define RCTL_EN 0x02u
#define RCTL_UPE 0x08u
#define RCTL_MPE 0x10u
#define RCTL_LPE 0x20u
#define RCTL_BAM 0x8000u
#define RCTL_BSEX (1u << 25)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN 0x02u
#define RAH_AV (1u << 31)

/* Transmit descriptor command bits (byte 11) and fields. */
#define TXD_EOP 0x01
#define TXD_IC 0x04
#define TXD_TSE 0x04
#define TXD_RS 0x08
#define TXD_DEXT 0x20
#define TXD_VLE 0x40
#define TXD_DD 0x01
#define TUCMD_TCP 0x01
#define TUCMD_IP 0x02
#define POPTS_IXSM 0x01
#define POPTS_TXSM 0x02
/* Receive descriptor status bits. */
#define RXD_DD 0x01
#define RXD_EOP 0x02
#define RXD_IXSM 0x04
#define RXD_VP 0x08
#define RXE_RXE 0x80

#define EE_WORDS 64
#define EE_ADDR_BITS 6
#define EE_READ_OPCODE 6 /* 110b: start bit, then READ */
#define TX_MAX (65536 + 256)
#define RX_MAX (65536 + 256)
#define RX_BUDGET 64
#define R(e, off) ((e)->reg[(off) >> 2])

struct vmm_e1000 {
    vmm_pci_dev pci; /* first: BAR accesses get &pci as their opaque */
    pthread_mutex_t lock;
    const vmm_gmem *gm;
    int fd;
    char id[32];
    vmm_e1000_host host;
    uint32_t reg[VMM_E1000_BAR_SIZE / 4];
    uint16_t eeprom[EE_WORDS];
    uint16_t phy[32];
    struct {
        uint32_t in;   /* bits shifted in since CS rose */
        int nin;       /* how many */
        int reading;   /* a READ was decoded: DO shifts data out */
        int out;       /* bit position being shown on DO (word * 16 + bit) */
        uint32_t eecd; /* SK, CS, DI, REQ as last written */
    } ee;
    /* Transmit: the context and the frame being gathered. */
    struct {
        uint8_t ipcss, ipcso, tucss, tucso, tucmd, hdr_len;
        uint16_t ipcse, tucse, mss;
    } ctx;
    uint8_t *tx; /* TX_MAX + 4 (room for a VLAN tag) */
    uint8_t *seg;
    uint32_t txlen;
    int tx_open, tx_drop, tx_tse, tx_legacy_ic;
    uint8_t tx_popts, tx_css, tx_cso;
    /* Receive. */
    uint8_t *rx; /* RX_MAX + 4 (FCS) */
    uint32_t rx_pending;
    int rx_armed;
    /* Interrupts. */
    int irq_level, timer_armed;
    uint64_t last_irq_ns;
    vmm_net_stats st;
};

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- interrupts ---- */

static void irq_update(vmm_e1000 *e)
{
    int want = (R(e, ICR) & R(e, IMS)) != 0;
    if (!want || e->irq_level) {
        if (!want && e->irq_level) {
            e->irq_level = 0;
            e->host.irq(e->host.opaque, 0);
        }
        return;
    }
    uint64_t now = now_ns(), gap = (uint64_t)(R(e, ITR) & 0xffff) * 256;
    if (gap && now - e->last_irq_ns < gap) {
        if (!e->timer_armed) {
            e->timer_armed = 1;
            e->host.timer(e->host.opaque, gap - (now - e->last_irq_ns));
        }
        return;
    }
    e->irq_level = 1;
    e->last_irq_ns = now;
    e->host.irq(e->host.opaque, 1);
}

static void raise_irq(vmm_e1000 *e, uint32_t cause)
{
    R(e, ICR) |= cause;
    irq_update(e);
}

void vmm_e1000_timer(vmm_e1000 *e)
{
    pthread_mutex_lock(&e->lock);
    e->timer_armed = 0;
    irq_update(e);
    pthread_mutex_unlock(&e->lock);
}

/* ---- EEPROM and PHY ---- */

static void eeprom_fill(vmm_e1000 *e, const uint8_t mac[6])
{
    uint16_t *w = e->eeprom;
    memset(w, 0, sizeof e->eeprom);
    for (int i = 0; i < 3; i++)
        w[i] = (uint16_t)(mac[2 * i] | mac[2 * i + 1] << 8);
    w[0x04] = 0xffff; /* LED settings: the driver's defaults */
    w[0x0a] = 0x6400; /* initialization control 1: 82540 defaults, valid signature */
    w[0x0b] = 0x001e; /* subsystem */
    w[0x0c] = VMM_E1000_VENDOR;
    w[0x0d] = VMM_E1000_DEVICE;
    w[0x0e] = VMM_E1000_VENDOR;
    w[0x0f] = 0x3000; /* initialization control 2: symmetric and asymmetric pause */
    uint16_t sum = 0;
    for (int i = 0; i < EE_WORDS - 1; i++)
        sum = (uint16_t)(sum + w[i]);
    w[EE_WORDS - 1] = (uint16_t)(0xbaba - sum);
}

static uint32_t eecd_read(vmm_e1000 *e)
{
    uint32_t v = (e->ee.eecd & (EECD_SK | EECD_CS | EECD_DI | EECD_REQ)) | EECD_PRES;
    if (e->ee.eecd & EECD_REQ)
        v |= EECD_GNT;
    if (e->ee.reading && e->ee.out >= 0) {
        uint16_t word = e->eeprom[(e->ee.out >> 4) & (EE_WORDS - 1)];
        if (word & (0x8000 >> (e->ee.out & 15)))
            v |= EECD_DO;
    }
    return v;
}

static void eecd_write(vmm_e1000 *e, uint32_t v)
{
    uint32_t old = e->ee.eecd;
    e->ee.eecd = v;
    if (!(v & EECD_CS)) { /* deselected: the next command starts afresh */
        e->ee.nin = 0;
        e->ee.in = 0;
        e->ee.reading = 0;
        return;
    }
    if (!((old ^ v) & EECD_SK))
        return;
    if (!(v & EECD_SK)) { /* falling edge: the next data bit goes out */
        if (e->ee.reading && e->ee.out < EE_WORDS * 16 * 4)
            e->ee.out++;
        return;
    }
    if (e->ee.reading) /* sequential read: rising edges only clock data out */
        return;
    e->ee.in = (e->ee.in << 1) | !!(v & EECD_DI);
    if (++e->ee.nin == 3 + EE_ADDR_BITS) {
        if ((e->ee.in >> EE_ADDR_BITS) == EE_READ_OPCODE) {
            e->ee.reading = 1;
            e->ee.out = (int)(e->ee.in & (EE_WORDS - 1)) * 16 - 1;
        }
        e->ee.nin = 0;
        e->ee.in = 0;
    }
}

static void phy_reset(vmm_e1000 *e)
{
    uint16_t *p = e->phy;
    memset(e->phy, 0, sizeof e->phy);
    p[0] = 0x1140;  /* control: auto-negotiation, full duplex, 1000 Mb/s */
    p[1] = 0x796d;  /* status: link up, auto-negotiation complete */
    p[2] = 0x0141;  /* M88E1011 */
    p[3] = 0x0c20;  /* M88E1011 */
    p[4] = 0x0de1;  /* advertisement */
    p[5] = 0x45e1;  /* link partner: 10/100 both duplexes */
    p[6] = 0x000f;  /* auto-negotiation expansion */
    p[9] = 0x0e00;  /* 1000BASE-T control */
    p[10] = 0x3800; /* 1000BASE-T status: partner full duplex, receivers OK */
    p[15] = 0x3000; /* extended status */
    p[16] = 0x0360; /* M88: specific control */
    p[17] = 0xac00; /* M88: 1000 Mb/s, full duplex, resolved, link */
    p[20] = 0x0c60; /* M88: extended specific control */
}

static void mdic_write(vmm_e1000 *e, uint32_t v)
{
    uint32_t reg = (v >> 16) & 31, phy = (v >> 21) & 31, op = v & (3u << 26);
    uint32_t out = v & ~(MDIC_READY | MDIC_ERROR);
    if (phy != 1 || (op != MDIC_OP_READ && op != MDIC_OP_WRITE)) {
        out |= MDIC_ERROR;
    } else if (op == MDIC_OP_READ) {
        out = (out & ~0xffffu) | e->phy[reg];
    } else {
        static const uint32_t read_only =
            1u << 1 | 1u << 2 | 1u << 3 | 1u << 5 | 1u << 6 | 1u << 10 | 1u << 15 | 1u << 17;
        if (!(read_only & (1u << reg)))
            e->phy[reg] = (uint16_t)v;
        if (reg == 0) /* reset and restart auto-negotiation complete at once */
            e->phy[0] &= (uint16_t)~0x8200;
    }
    R(e, MDIC) = out | MDIC_READY;
    if (v & MDIC_INT)
        raise_irq(e, ICR_MDAC);
}

/* ---- reset ---- */

static void regs_reset(vmm_e1000 *e)
{
    memset(e->reg, 0, sizeof e->reg);
    R(e, CTRL) = 0x00000240; /* set link up, 1000 Mb/s */
    R(e, STATUS) = STATUS_LINK_UP;
    R(e, EECD) = 0;
    R(e, VET) = 0x8100;
    R(e, LEDCTL) = 0x07068302;
    R(e, PBA) = 0x00100030;
    R(e, RA) = (uint32_t)e->eeprom[0] | (uint32_t)e->eeprom[1] << 16;
    R(e, RA + 4) = (uint32_t)e->eeprom[2] | RAH_AV;
    memset(&e->ee, 0, sizeof e->ee);
    memset(&e->ctx, 0, sizeof e->ctx);
    e->txlen = 0;
    e->tx_open = e->tx_drop = 0;
    e->rx_pending = 0;
    phy_reset(e);
    if (e->irq_level) {
        e->irq_level = 0;
        e->host.irq(e->host.opaque, 0);
    }
}

void vmm_e1000_reset(vmm_e1000 *e)
{
    pthread_mutex_lock(&e->lock);
    regs_reset(e);
    if (e->rx_armed) {
        e->rx_armed = 0;
        e->host.rx_arm(e->host.opaque, 0);
    }
    pthread_mutex_unlock(&e->lock);
}

/* ---- checksums ---- */

static uint32_t sum16(const uint8_t *p, uint32_t len, uint32_t s)
{
    for (uint32_t i = 0; i + 1 < len; i += 2)
        s += be16(p + i);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Stores the ones' complement sum of buf[css..cse] (to the end when cse is 0) at cso. */
static void put_sum(uint8_t *buf, uint32_t len, uint32_t css, uint32_t cso, uint32_t cse, int udp)
{
    uint32_t end = cse && cse < len ? cse + 1 : len;
    if (css >= end || cso + 2 > len)
        return;
    uint16_t s = (uint16_t)~fold(sum16(buf + css, end - css, 0));
    if (udp && s == 0)
        s = 0xffff;
    put_be16(buf + cso, s);
}

/* ---- transmit ---- */

static void count_tx(vmm_e1000 *e, uint32_t len)
{
    R(e, GPTC)++;
    R(e, TPT)++;
    uint64_t o = ((uint64_t)R(e, GOTCH) << 32 | R(e, GOTCL)) + len;
    R(e, GOTCL) = (uint32_t)o;
    R(e, GOTCH) = (uint32_t)(o >> 32);
    o = ((uint64_t)R(e, TOTH) << 32 | R(e, TOTL)) + len;
    R(e, TOTL) = (uint32_t)o;
    R(e, TOTH) = (uint32_t)(o >> 32);
}

/* Sends buf (len bytes, with 4 spare bytes after it for a VLAN tag). */
static int emit(vmm_e1000 *e, uint8_t *buf, uint32_t len, int vlan, uint16_t tci)
{
    if (vlan && len >= 12) {
        memmove(buf + 16, buf + 12, len - 12);
        put_be16(buf + 12, (uint16_t)R(e, VET));
        put_be16(buf + 14, tci);
        len += 4;
    }
    ssize_t put = write(e->fd, buf, len);
    if (put <= 0)
        return -1;
    count_tx(e, (uint32_t)put);
    return 0;
}

/* TCP segmentation: the gathered frame cut into hdr_len + MSS frames. */
static int tso_send(vmm_e1000 *e, int vlan, uint16_t tci)
{
    uint32_t hdr = e->ctx.hdr_len, mss = e->ctx.mss, len = e->txlen;
    uint32_t ipcss = e->ctx.ipcss, tucss = e->ctx.tucss, tucso = e->ctx.tucso;
    int ip4 = e->ctx.tucmd & TUCMD_IP, tcp = e->ctx.tucmd & TUCMD_TCP;
    if (!hdr || hdr >= len || !mss || ipcss >= hdr || tucss >= hdr || tucso + 2 > hdr)
        return -1;
    uint16_t ip_id = ip4 && ipcss + 20 <= hdr ? be16(e->tx + ipcss + 4) : 0;
    uint32_t seq = tcp && tucss + 20 <= hdr
                       ? (uint32_t)be16(e->tx + tucss + 4) << 16 | be16(e->tx + tucss + 6)
                       : 0;
    uint16_t pseudo = be16(e->tx + tucso);
    uint32_t payload = len - hdr;
    int rc = 0;
    for (uint32_t off = 0, n = 0; off < payload; off += mss, n++) {
        uint32_t chunk = payload - off < mss ? payload - off : mss, slen = hdr + chunk;
        uint8_t *s = e->seg;
        memcpy(s, e->tx, hdr);
        memcpy(s + hdr, e->tx + hdr + off, chunk);
        if (ip4 && ipcss + 20 <= hdr) {
            put_be16(s + ipcss + 2, (uint16_t)(slen - ipcss));
            put_be16(s + ipcss + 4, (uint16_t)(ip_id + n));
        } else if (!ip4 && ipcss + 40 <= hdr) {
            put_be16(s + ipcss + 4, (uint16_t)(slen - ipcss - 40)); /* IPv6 payload length */
        }
        if (tcp && tucss + 20 <= hdr) {
            uint32_t sq = seq + off;
            put_be16(s + tucss + 4, (uint16_t)(sq >> 16));
            put_be16(s + tucss + 6, (uint16_t)sq);
            if (off + chunk < payload)
                s[tucss + 13] &= (uint8_t)~0x09; /* FIN and PSH only on the last */
            if (off)
                s[tucss + 13] &= (uint8_t)~0x80; /* CWR only on the first */
        } else if (!tcp && tucss + 8 <= hdr) {
            put_be16(s + tucss + 4, (uint16_t)(slen - tucss));
        }
        if (e->tx_popts & POPTS_TXSM) {
            /* The driver left the pseudo-header sum without the length in the field. */
            put_be16(s + tucso, fold((uint32_t)pseudo + (slen - tucss)));
            put_sum(s, slen, tucss, tucso, 0, !tcp);
        }
        if ((e->tx_popts & POPTS_IXSM) && ip4 && e->ctx.ipcso + 2u <= hdr) {
            put_be16(s + e->ctx.ipcso, 0);
            put_sum(s, slen, ipcss, e->ctx.ipcso, e->ctx.ipcse ? e->ctx.ipcse : hdr - 1, 0);
        }
        if (emit(e, s, slen, vlan, tci))
            rc = -1;
    }
    return rc;
}

static void tx_frame_done(vmm_e1000 *e, int vlan, uint16_t tci)
{
    int ok = !e->tx_drop && e->txlen > 0;
    if (ok && e->tx_tse) {
        ok = tso_send(e, vlan, tci) == 0;
    } else if (ok) {
        if (e->tx_legacy_ic)
            put_sum(e->tx, e->txlen, e->tx_css, e->tx_cso, 0, 0);
        if (e->tx_popts & POPTS_IXSM)
            put_sum(e->tx, e->txlen, e->ctx.ipcss, e->ctx.ipcso, e->ctx.ipcse, 0);
        if (e->tx_popts & POPTS_TXSM)
            put_sum(e->tx, e->txlen, e->ctx.tucss, e->ctx.tucso, e->ctx.tucse,
                    !(e->ctx.tucmd & TUCMD_TCP));
        ok = emit(e, e->tx, e->txlen, vlan, tci) == 0;
    }
    if (ok) { /* counted once, as the guest's interface counts it */
        e->st.tx_bytes += e->txlen;
        e->st.tx_packets++;
    }
    e->txlen = 0;
    e->tx_open = e->tx_drop = 0;
}

static void tx_gather(vmm_e1000 *e, uint64_t addr, uint32_t len)
{
    if (!len || e->tx_drop)
        return;
    const uint8_t *p = vmm_gmem_ptr(e->gm, addr, len);
    if (!p || len > TX_MAX - e->txlen) {
        e->tx_drop = 1; /* outside RAM or too long: the frame is dropped at its end */
        return;
    }
    memcpy(e->tx + e->txlen, p, len);
    e->txlen += len;
}

static void tx_desc(vmm_e1000 *e, const uint8_t *d)
{
    uint8_t cmd = d[11];
    uint64_t addr = (uint64_t)get32(d) | (uint64_t)get32(d + 4) << 32;
    uint32_t len;
    if (cmd & TXD_DEXT) {
        uint8_t dtyp = (uint8_t)(d[10] >> 4);
        if (dtyp == 0) { /* context */
            e->ctx.ipcss = d[0];
            e->ctx.ipcso = d[1];
            e->ctx.ipcse = get16(d + 2);
            e->ctx.tucss = d[4];
            e->ctx.tucso = d[5];
            e->ctx.tucse = get16(d + 6);
            e->ctx.tucmd = cmd;
            e->ctx.hdr_len = d[13];
            e->ctx.mss = get16(d + 14);
            return;
        }
        if (dtyp != 1)
            return; /* not a descriptor type of this model: skipped */
        len = get32(d + 8) & 0xfffff;
        if (!e->tx_open) {
            e->tx_popts = d[13];
            e->tx_tse = (cmd & TXD_TSE) && (e->ctx.tucmd & TXD_TSE);
            e->tx_legacy_ic = 0;
        }
    } else {
        len = get16(d + 8);
        if (!e->tx_open) {
            e->tx_popts = 0;
            e->tx_tse = 0;
            e->tx_legacy_ic = !!(cmd & TXD_IC);
            e->tx_cso = d[10];
            e->tx_css = d[13];
        }
    }
    e->tx_open = 1;
    tx_gather(e, addr, len);
    if (cmd & TXD_EOP)
        tx_frame_done(e, (cmd & TXD_VLE) && (R(e, CTRL) & CTRL_VME), get16(d + 14));
}

static void tx_run(vmm_e1000 *e)
{
    if (!(R(e, TCTL) & TCTL_EN))
        return;
    uint32_t n = R(e, TDLEN) / 16;
    uint64_t base = (uint64_t)R(e, TDBAH) << 32 | R(e, TDBAL);
    int done = 0;
    for (uint32_t budget = n; budget && R(e, TDH) != R(e, TDT); budget--) {
        uint32_t h = R(e, TDH);
        if (h >= n || R(e, TDT) >= n)
            break; /* head or tail outside the ring: stalled until the driver fixes it */
        uint8_t *p = vmm_gmem_ptr(e->gm, base + (uint64_t)h * 16, 16);
        if (!p)
            break; /* ring outside RAM */
        uint8_t d[16];
        memcpy(d, p, 16); /* once: the guest may change its copy meanwhile */
        tx_desc(e, d);
        if (d[11] & TXD_RS) {
            p[12] = (uint8_t)(d[12] | TXD_DD);
            vmm_gmem_mark(e->gm, p + 12, 1);
        }
        R(e, TDH) = (h + 1) % n;
        done = 1;
    }
    if (done)
        raise_irq(e, ICR_TXDW | (R(e, TDH) == R(e, TDT) ? ICR_TXQE : 0));
}

/* ---- receive ---- */

static uint32_t rx_buf_size(vmm_e1000 *e)
{
    uint32_t rctl = R(e, RCTL), bs = (rctl >> 16) & 3;
    if (rctl & RCTL_BSEX)
        return bs ? 65536u >> bs : 2048; /* 16384, 8192, 4096 */
    return 2048u >> bs;
}

static int rx_accept(vmm_e1000 *e, const uint8_t *f, uint32_t len)
{
    uint32_t rctl = R(e, RCTL);
    if (len < 14)
        return 0;
    if (len > 1522 && !(rctl & RCTL_LPE)) {
        R(e, ROC)++;
        return 0;
    }
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (!memcmp(f, bcast, 6)) {
        if (rctl & (RCTL_BAM | RCTL_MPE))
            R(e, BPRC)++;
        return !!(rctl & (RCTL_BAM | RCTL_MPE));
    }
    if (f[0] & 1) {
        static const uint8_t lo_shift[4] = {4, 3, 2, 0}; /* RCTL.MO: which 12 bits */
        uint32_t mo = (rctl >> 12) & 3;
        uint32_t h =
            ((uint32_t)f[4] >> lo_shift[mo] | (uint32_t)f[5] << (8 - lo_shift[mo])) & 0xfff;
        int ok = (rctl & RCTL_MPE) || (R(e, MTA + ((h >> 5) << 2)) >> (h & 31) & 1);
        if (ok)
            R(e, MPRC)++;
        return ok;
    }
    if (rctl & RCTL_UPE)
        return 1;
    for (int i = 0; i < 16; i++) {
        uint32_t lo = R(e, RA + 8 * i), hi = R(e, RA + 8 * i + 4);
        if (!(hi & RAH_AV))
            continue;
        uint8_t a[6] = {(uint8_t)lo,         (uint8_t)(lo >> 8), (uint8_t)(lo >> 16),
                        (uint8_t)(lo >> 24), (uint8_t)hi,        (uint8_t)(hi >> 8)};
        if (!memcmp(f, a, 6))
            return 1;
    }
    return 0;
}

static uint32_t crc32_le(const uint8_t *p, uint32_t len)
{
    uint32_t c = 0xffffffffu;
    for (uint32_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

/* Puts the pending frame into receive buffers: 1 done (or dropped on a bad buffer),
 * 0 when the driver has not posted enough, -1 when the ring itself is unusable. */
static int rx_deliver(vmm_e1000 *e)
{
    uint32_t n = R(e, RDLEN) / 16, h = R(e, RDH), t = R(e, RDT);
    uint64_t base = (uint64_t)R(e, RDBAH) << 32 | R(e, RDBAL);
    if (!n || h >= n || t >= n)
        return -1;
    uint8_t *f = e->rx;
    uint32_t len = e->rx_pending;
    uint16_t tci = 0;
    int vp = 0;
    if ((R(e, CTRL) & CTRL_VME) && len >= 18 && be16(f + 12) == (uint16_t)R(e, VET)) {
        tci = be16(f + 14);
        memmove(f + 12, f + 16, len - 16);
        len -= 4;
        vp = 1;
    }
    uint32_t total = len;
    if (!(R(e, RCTL) & RCTL_SECRC)) {
        uint32_t fcs = crc32_le(f, len);
        for (int i = 0; i < 4; i++)
            f[len + (uint32_t)i] = (uint8_t)(fcs >> (8 * i));
        total += 4;
    }
    uint32_t bs = rx_buf_size(e), need = (total + bs - 1) / bs, avail = (t + n - h) % n;
    if (avail < need)
        return 0;
    for (uint32_t off = 0; off < total;) {
        uint8_t *d = vmm_gmem_ptr(e->gm, base + (uint64_t)h * 16, 16);
        if (!d)
            return -1;
        uint64_t addr = (uint64_t)get32(d) | (uint64_t)get32(d + 4) << 32;
        uint32_t chunk = total - off < bs ? total - off : bs;
        uint8_t *buf = vmm_gmem_ptr(e->gm, addr, chunk);
        uint8_t wb[8] = {0};
        int last = off + chunk == total;
        if (buf) {
            memcpy(buf, f + off, chunk);
            vmm_gmem_mark(e->gm, buf, chunk);
            wb[0] = (uint8_t)chunk;
            wb[1] = (uint8_t)(chunk >> 8);
        } else {
            wb[5] = RXE_RXE; /* a buffer outside RAM: the frame ends here, in error */
            last = 1;
            e->st.rx_dropped++;
        }
        wb[4] = (uint8_t)(RXD_DD | RXD_IXSM | (last ? RXD_EOP : 0) | (vp ? RXD_VP : 0));
        wb[6] = (uint8_t)tci;
        wb[7] = (uint8_t)(tci >> 8);
        memcpy(d + 8, wb, 8);
        vmm_gmem_mark(e->gm, d + 8, 8);
        h = (h + 1) % n;
        R(e, RDH) = h;
        if (!buf)
            return 1;
        off += chunk;
    }
    e->st.rx_bytes += len;
    e->st.rx_packets++;
    R(e, GPRC)++;
    R(e, TPR)++;
    uint64_t o = ((uint64_t)R(e, GORCH) << 32 | R(e, GORCL)) + len;
    R(e, GORCL) = (uint32_t)o;
    R(e, GORCH) = (uint32_t)(o >> 32);
    o = ((uint64_t)R(e, TORH) << 32 | R(e, TORL)) + len;
    R(e, TORL) = (uint32_t)o;
    R(e, TORH) = (uint32_t)(o >> 32);
    return 1;
}

static void rx_arm(vmm_e1000 *e, int on)
{
    if (on != e->rx_armed) {
        e->rx_armed = on;
        e->host.rx_arm(e->host.opaque, on);
    }
}

/* Moves frames from the fd into the ring, then watches the fd only if the ring still has room.
 * The watch is set once, at the end: a driver giving back one buffer a frame while frames queue
 * on the fd (each RDT write delivers one, the next waits) leaves it off throughout, where arming
 * it first and disarming it again cost two cross-thread event changes a frame. */
static void rx_run(vmm_e1000 *e)
{
    uint32_t cause = 0;
    int room = 1;
    if (!(R(e, RCTL) & RCTL_EN) || !R(e, RDLEN)) {
        rx_arm(e, 0);
        return;
    }
    for (int i = 0; i < RX_BUDGET; i++) {
        if (!e->rx_pending) {
            ssize_t got = read(e->fd, e->rx, RX_MAX);
            if (got <= 0)
                break;
            if (!rx_accept(e, e->rx, (uint32_t)got))
                continue;
            e->rx_pending = (uint32_t)got;
        }
        int r = rx_deliver(e);
        if (r <= 0) { /* no buffers (or no usable ring): wait for RDT */
            if (R(e, RDH) == R(e, RDT))
                cause |= ICR_RXO;
            room = 0;
            break;
        }
        e->rx_pending = 0;
        cause |= ICR_RXT0;
    }
    rx_arm(e, room);
    uint32_t n = R(e, RDLEN) / 16;
    if (cause && n) {
        uint32_t avail = (R(e, RDT) + n - R(e, RDH)) % n, shift = (R(e, RCTL) >> 8) & 3;
        if (avail <= n >> (shift + 1))
            cause |= ICR_RXDMT0;
        raise_irq(e, cause);
    }
}

void vmm_e1000_rx(vmm_e1000 *e)
{
    pthread_mutex_lock(&e->lock);
    rx_run(e);
    pthread_mutex_unlock(&e->lock);
}

/* ---- registers ---- */

static uint32_t reg_read(vmm_e1000 *e, uint32_t off)
{
    uint32_t v = R(e, off);
    switch (off) {
    case EECD: return eecd_read(e);
    case ICR:
        R(e, ICR) = 0;
        irq_update(e);
        return v;
    case IMC:
    case ICS: return 0;
    default:
        if (off >= STATS_FIRST && off <= STATS_LAST)
            R(e, off) = 0; /* statistics clear on read */
        return v;
    }
}

static void reg_write(vmm_e1000 *e, uint32_t off, uint32_t v)
{
    switch (off) {
    case CTRL:
        if (v & CTRL_RST) {
            regs_reset(e);
            return;
        }
        R(e, CTRL) = v & ~(CTRL_RST | CTRL_PHY_RST);
        return;
    case STATUS: return;
    case EECD: eecd_write(e, v); return;
    case EERD:
        R(e, EERD) = v & ~EERD_DONE;
        if (v & EERD_START) {
            uint32_t a = (v >> 8) & 0xff;
            R(e, EERD) =
                (v & 0xff00) | EERD_DONE | (uint32_t)(a < EE_WORDS ? e->eeprom[a] : 0) << 16;
        }
        return;
    case MDIC: mdic_write(e, v); return;
    case ICR:
        R(e, ICR) &= ~v;
        irq_update(e);
        return;
    case ICS: raise_irq(e, v); return;
    case IMS:
        R(e, IMS) |= v;
        irq_update(e);
        return;
    case IMC:
        R(e, IMS) &= ~v;
        irq_update(e);
        return;
    case ITR: R(e, ITR) = v & 0xffff; return;
    case RCTL:
        R(e, RCTL) = v;
        rx_run(e);
        return;
    case RDBAL:
    case TDBAL: R(e, off) = v & ~0xfu; return;
    case RDLEN:
    case TDLEN: R(e, off) = v & 0xfff80; return;
    case RDH:
    case TDH: R(e, off) = v & 0xffff; return;
    case RDT:
        R(e, RDT) = v & 0xffff;
        rx_run(e);
        return;
    case TCTL:
        R(e, TCTL) = v;
        tx_run(e);
        return;
    case TDT:
        R(e, TDT) = v & 0xffff;
        tx_run(e);
        return;
    default:
        if (off >= STATS_FIRST && off <= STATS_LAST)
            return;
        R(e, off) = v;
    }
}

void vmm_e1000_mmio(vmm_e1000 *e, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    if (len != 4 || (off & 3) || off >= VMM_E1000_BAR_SIZE) {
        if (!is_write)
            memset(data, 0, len);
        return;
    }
    pthread_mutex_lock(&e->lock);
    if (is_write) {
        uint32_t v;
        memcpy(&v, data, 4);
        reg_write(e, (uint32_t)off, v);
    } else {
        uint32_t v = reg_read(e, (uint32_t)off);
        memcpy(data, &v, 4);
    }
    pthread_mutex_unlock(&e->lock);
}

/* ---- life cycle ---- */

/* ---- state (devreg.h) ---- */

int vmm_e1000_save(vmm_e1000 *e, vmm_rec_out *o)
{
    pthread_mutex_lock(&e->lock);
    vmm_rec_put(o, e->reg, sizeof e->reg);
    vmm_rec_put(o, e->eeprom, sizeof e->eeprom);
    vmm_rec_put(o, e->phy, sizeof e->phy);
    vmm_rec_u32(o, e->ee.in);
    vmm_rec_u32(o, (uint32_t)e->ee.nin);
    vmm_rec_u32(o, (uint32_t)e->ee.reading);
    vmm_rec_u32(o, (uint32_t)e->ee.out);
    vmm_rec_u32(o, e->ee.eecd);
    uint8_t c[6] = {e->ctx.ipcss, e->ctx.ipcso, e->ctx.tucss,
                    e->ctx.tucso, e->ctx.tucmd, e->ctx.hdr_len};
    vmm_rec_put(o, c, sizeof c);
    vmm_rec_u16(o, e->ctx.ipcse);
    vmm_rec_u16(o, e->ctx.tucse);
    vmm_rec_u16(o, e->ctx.mss);
    uint8_t t[7] = {
        (uint8_t)e->tx_open, (uint8_t)e->tx_drop, (uint8_t)e->tx_tse, (uint8_t)e->tx_legacy_ic,
        e->tx_popts,         e->tx_css,           e->tx_cso};
    vmm_rec_put(o, t, sizeof t);
    vmm_rec_u32(o, e->txlen);
    vmm_rec_put(o, e->tx, e->txlen);
    vmm_rec_u32(o, e->rx_pending);
    vmm_rec_put(o, e->rx, e->rx_pending);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

int vmm_e1000_restore(vmm_e1000 *e, vmm_rec_in *in, char *err, size_t errlen)
{
    /* Read into a scratch device first: nothing of e changes unless all of it is good. */
    vmm_e1000 *s = calloc(1, sizeof *s);
    uint8_t *tx = malloc(TX_MAX + 4), *rx = malloc(RX_MAX + 4), c[6], t[7];
    int rc = -ENOMEM;
    if (!s || !tx || !rx)
        goto out;
    vmm_rec_get(in, s->reg, sizeof s->reg);
    vmm_rec_get(in, s->eeprom, sizeof s->eeprom);
    vmm_rec_get(in, s->phy, sizeof s->phy);
    s->ee.in = vmm_rec_get_u32(in);
    s->ee.nin = (int)vmm_rec_get_u32(in);
    s->ee.reading = (int)vmm_rec_get_u32(in);
    s->ee.out = (int)vmm_rec_get_u32(in);
    s->ee.eecd = vmm_rec_get_u32(in);
    vmm_rec_get(in, c, sizeof c);
    s->ctx.ipcse = vmm_rec_get_u16(in);
    s->ctx.tucse = vmm_rec_get_u16(in);
    s->ctx.mss = vmm_rec_get_u16(in);
    vmm_rec_get(in, t, sizeof t);
    s->txlen = vmm_rec_get_u32(in);
    if (s->txlen > TX_MAX) {
        rc = vmm_rec_bad(in, err, errlen, "a transmit frame of %u bytes", s->txlen);
        goto out;
    }
    vmm_rec_get(in, tx, s->txlen);
    s->rx_pending = vmm_rec_get_u32(in);
    if (s->rx_pending > RX_MAX) {
        rc = vmm_rec_bad(in, err, errlen, "a received frame of %u bytes", s->rx_pending);
        goto out;
    }
    vmm_rec_get(in, rx, s->rx_pending);
    if ((rc = vmm_rec_in_done(in, err, errlen)))
        goto out;
    rc = -EINVAL;
    if (memcmp(s->eeprom, e->eeprom, sizeof e->eeprom)) {
        rc = vmm_rec_bad(in, err, errlen, "its EEPROM (MAC) is another NIC's");
        goto out;
    }
    if (s->ee.nin < 0 || s->ee.nin >= 3 + EE_ADDR_BITS || s->ee.reading > 1 || s->ee.reading < 0 ||
        s->ee.out < -1 || s->ee.out > EE_WORDS * 16 * 4) {
        rc = vmm_rec_bad(in, err, errlen, "EEPROM interface state %d/%d/%d out of range", s->ee.nin,
                         s->ee.reading, s->ee.out);
        goto out;
    }
    for (int i = 0; i < 4; i++)
        if (t[i] > 1) {
            rc = vmm_rec_bad(in, err, errlen, "transmit flag %d is %u", i, t[i]);
            goto out;
        }
    pthread_mutex_lock(&e->lock);
    memcpy(e->reg, s->reg, sizeof e->reg);
    memcpy(e->phy, s->phy, sizeof e->phy);
    e->ee = s->ee;
    e->ctx = s->ctx;
    e->ctx.ipcss = c[0];
    e->ctx.ipcso = c[1];
    e->ctx.tucss = c[2];
    e->ctx.tucso = c[3];
    e->ctx.tucmd = c[4];
    e->ctx.hdr_len = c[5];
    e->tx_open = t[0];
    e->tx_drop = t[1];
    e->tx_tse = t[2];
    e->tx_legacy_ic = t[3];
    e->tx_popts = t[4];
    e->tx_css = t[5];
    e->tx_cso = t[6];
    e->txlen = s->txlen;
    memcpy(e->tx, tx, s->txlen);
    e->rx_pending = s->rx_pending;
    memcpy(e->rx, rx, s->rx_pending);
    e->timer_armed = 0;
    e->last_irq_ns = 0;
    if (e->irq_level) {
        e->irq_level = 0;
        e->host.irq(e->host.opaque, 0);
    }
    irq_update(e);
    rx_arm(e, (R(e, RCTL) & RCTL_EN) && R(e, RDLEN));
    pthread_mutex_unlock(&e->lock);
    rc = 0;
out:
    free(s);
    free(tx);
    free(rx);
    return rc;
}

vmm_e1000 *vmm_e1000_new(const vmm_gmem *gm, int fd, const uint8_t mac[6], const char *id,
                         const vmm_e1000_host *host)
{
    vmm_e1000 *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    pthread_mutex_init(&e->lock, NULL);
    e->tx = malloc(TX_MAX + 4);
    e->seg = malloc(TX_MAX + 4);
    e->rx = malloc(RX_MAX + 4);
    if (!e->tx || !e->seg || !e->rx) {
        vmm_e1000_free(e);
        return NULL;
    }
    e->gm = gm;
    e->fd = fd;
    e->host = *host;
    snprintf(e->id, sizeof e->id, "%s", id);
    eeprom_fill(e, mac);
    regs_reset(e);
    return e;
}

void vmm_e1000_free(vmm_e1000 *e)
{
    if (!e)
        return;
    pthread_mutex_destroy(&e->lock);
    free(e->tx);
    free(e->seg);
    free(e->rx);
    free(e);
}

void vmm_e1000_stats(vmm_e1000 *e, vmm_net_stats *out)
{
    pthread_mutex_lock(&e->lock);
    *out = e->st;
    pthread_mutex_unlock(&e->lock);
}

const char *vmm_e1000_id(const vmm_e1000 *e)
{
    return e->id;
}

vmm_pci_dev *vmm_e1000_pci(vmm_e1000 *e)
{
    return &e->pci;
}

const uint16_t *vmm_e1000_eeprom(const vmm_e1000 *e)
{
    return e->eeprom;
}
