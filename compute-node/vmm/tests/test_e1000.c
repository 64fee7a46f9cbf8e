/*
 * vmm_e1000 - the e1000 (82540EM) device driven through its registers, as a
 * driver would, without KVM: guest memory is a buffer of the test's, the
 * "tap" is a datagram socket pair (one frame per datagram), and the host
 * hooks record the interrupt line, receive arming and throttling timer.
 * Transmit (legacy, checksum offload, TCP segmentation, ring wrap), receive
 * (filtering, FCS, frames over several buffers, too few buffers), hostile
 * descriptors and rings, the EEPROM through Microwire and EERD with its
 * checksum, the PHY through MDIC, interrupt masking and ITR throttling.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "e1000.h"
#include "st_test.h"

#define MEM (1u << 20)
#define TXR 0x1000u   /* transmit ring: 8 descriptors */
#define RXR 0x2000u   /* receive ring: 8 descriptors */
#define BUF 0x10000u  /* frame buffers */
#define RBUF 0x40000u /* receive buffers, 0x1000 apart */

static uint8_t *mem;
static vmm_gmem gm;
static int sv[2];
static int irq_level, rx_armed, timer_asks;
static vmm_e1000 *e;
static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

static void h_irq(void *o, int level)
{
    irq_level = level;
}
static void h_rx_arm(void *o, int on)
{
    rx_armed = on;
}
static void h_timer(void *o, uint64_t ns)
{
    timer_asks++;
}

static void wr(uint32_t off, uint32_t v)
{
    vmm_e1000_mmio(e, off, (uint8_t *)&v, 4, 1);
}

static uint32_t rd(uint32_t off)
{
    uint32_t v;
    vmm_e1000_mmio(e, off, (uint8_t *)&v, 4, 0);
    return v;
}

static void setup(void)
{
    mem = calloc(1, MEM);
    gm = (vmm_gmem){.r = {{.gpa = 0, .size = MEM, .hva = mem}}, .n = 1};
    ST_ASSERT_INT_EQ_FATAL(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    irq_level = rx_armed = timer_asks = 0;
    vmm_e1000_host h = {.irq = h_irq, .rx_arm = h_rx_arm, .timer = h_timer};
    e = vmm_e1000_new(&gm, sv[0], MAC, "net0", &h);
    CU_ASSERT_FATAL(e != NULL);
}

static void teardown(void)
{
    vmm_e1000_free(e);
    close(sv[0]);
    close(sv[1]);
    free(mem);
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* A legacy transmit descriptor. */
static void txd(uint32_t i, uint64_t addr, uint16_t len, uint8_t cmd)
{
    uint8_t *d = mem + TXR + 16 * i;
    memset(d, 0, 16);
    put64(d, addr);
    put16(d + 8, len);
    d[11] = cmd;
}

static void tx_ring_on(void)
{
    wr(0x3800, TXR); /* TDBAL */
    wr(0x3804, 0);
    wr(0x3808, 8 * 16); /* TDLEN */
    wr(0x3810, 0);
    wr(0x3818, 0);
    wr(0x0400, 0x02); /* TCTL.EN */
}

static void rx_ring_on(uint32_t rctl)
{
    for (int i = 0; i < 8; i++) {
        memset(mem + RXR + 16 * i, 0, 16);
        put64(mem + RXR + 16 * i, RBUF + 0x1000u * (uint32_t)i);
    }
    wr(0x2800, RXR);
    wr(0x2804, 0);
    wr(0x2808, 8 * 16);
    wr(0x2810, 0);
    wr(0x2818, 7); /* 7 buffers posted: one slot stays empty */
    wr(0x0100, rctl | 0x02);
}

static ssize_t recv_frame(uint8_t *buf, size_t len)
{
    return recv(sv[1], buf, len, MSG_DONTWAIT);
}

/* Microwire read of one word, bit-banged through EECD as Linux's e1000 does. */
static uint16_t ee_read(uint16_t addr)
{
    uint32_t eecd = 0x40; /* REQ */
    wr(0x10, eecd);
    CU_ASSERT(rd(0x10) & 0x80); /* GNT */
    eecd |= 0x02;               /* CS */
    wr(0x10, eecd);
    uint32_t cmd = 6u << 6 | addr; /* READ opcode, 6 address bits */
    for (int b = 8; b >= 0; b--) {
        eecd = (eecd & ~0x04u) | ((cmd >> b) & 1 ? 0x04u : 0);
        wr(0x10, eecd);
        wr(0x10, eecd | 0x01);
        wr(0x10, eecd);
    }
    uint16_t v = 0;
    for (int b = 0; b < 16; b++) {
        wr(0x10, eecd | 0x01);
        v = (uint16_t)(v << 1 | !!(rd(0x10) & 0x08));
        wr(0x10, eecd);
    }
    wr(0x10, 0x40); /* CS down */
    wr(0x10, 0);
    return v;
}

static void test_eeprom(void)
{
    setup();
    uint16_t sum = 0, w[64];
    CU_ASSERT(rd(0x10) & 0x100); /* EEPROM present, 64 words (SIZE clear) */
    ST_ASSERT_INT_EQ(rd(0x10) & 0x200, 0);
    for (uint16_t i = 0; i < 64; i++) {
        w[i] = ee_read(i);
        sum = (uint16_t)(sum + w[i]);
    }
    ST_ASSERT_INT_EQ(sum, 0xbaba);
    ST_ASSERT_INT_EQ(w[0], 0x5452);
    ST_ASSERT_INT_EQ(w[1], 0xab00);
    ST_ASSERT_INT_EQ(w[2], 0xefcd);
    ST_ASSERT_INT_EQ(w[0x0d], 0x100e);
    ST_ASSERT_INT_EQ(memcmp(w, vmm_e1000_eeprom(e), sizeof w), 0);
    /* EERD: word 2 at address bits 15:8, DONE, data in 31:16 */
    wr(0x14, 2u << 8 | 1);
    uint32_t eerd = rd(0x14);
    CU_ASSERT(eerd & 0x10);
    ST_ASSERT_INT_EQ(eerd >> 16, 0xefcd);
    /* The receive address registers hold the MAC from the start */
    ST_ASSERT_INT_EQ(rd(0x5400), 0xab005452u);
    ST_ASSERT_INT_EQ(rd(0x5404), 0x8000efcdu);
    /* A device reset keeps them and drops the interrupt line */
    wr(0x00d0, 0x04);
    wr(0x00c8, 0x04);
    ST_ASSERT_INT_EQ(irq_level, 1);
    wr(0x0000, 1u << 26);
    ST_ASSERT_INT_EQ(irq_level, 0);
    ST_ASSERT_INT_EQ(rd(0x5400), 0xab005452u);
    ST_ASSERT_INT_EQ(rd(0x0000) & (1u << 26), 0);
    teardown();
}

static uint16_t mdic_read(uint32_t phy, uint32_t reg)
{
    wr(0x20, 2u << 26 | phy << 21 | reg << 16);
    uint32_t v = rd(0x20);
    CU_ASSERT(v & (1u << 28)); /* ready */
    return (uint16_t)v;
}

static void test_phy_and_link(void)
{
    setup();
    ST_ASSERT_INT_EQ(mdic_read(1, 2), 0x0141); /* M88E1011 */
    ST_ASSERT_INT_EQ(mdic_read(1, 3) & 0xfff0, 0x0c20);
    CU_ASSERT(mdic_read(1, 1) & 0x0004); /* link up */
    CU_ASSERT(mdic_read(1, 1) & 0x0020); /* auto-negotiation complete */
    wr(0x20, 2u << 26 | 2u << 21 | 2u << 16);
    CU_ASSERT(rd(0x20) & (1u << 30));                  /* no PHY at address 2 */
    wr(0x20, 1u << 26 | 1u << 21 | 0u << 16 | 0x9340); /* reset + restart autoneg */
    ST_ASSERT_INT_EQ(mdic_read(1, 0) & 0x8200, 0);
    wr(0x20, 1u << 26 | 1u << 21 | 1u << 16 | 0); /* status is read-only */
    CU_ASSERT(mdic_read(1, 1) & 0x0004);
    uint32_t st = rd(0x08);
    ST_ASSERT_INT_EQ(st & 0x03, 0x03); /* link up, full duplex */
    ST_ASSERT_INT_EQ(st & 0xc0, 0x80); /* 1000 Mb/s */
    teardown();
}

static void test_tx_legacy(void)
{
    setup();
    uint8_t f[1514], got[2048];
    for (int i = 0; i < (int)sizeof f; i++)
        f[i] = (uint8_t)(i * 7);
    memcpy(mem + BUF, f, 600);
    memcpy(mem + BUF + 0x1000, f + 600, sizeof f - 600);
    tx_ring_on();
    wr(0x00d0, 0x01);                                      /* IMS: TXDW */
    txd(0, BUF, 600, 0x08);                                /* RS, no EOP */
    txd(1, BUF + 0x1000, sizeof f - 600, 0x08 | 0x01 | 2); /* RS, EOP, IFCS */
    ST_ASSERT_INT_EQ(irq_level, 0);
    wr(0x3818, 2);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), (ssize_t)sizeof f);
    ST_ASSERT_INT_EQ(memcmp(got, f, sizeof f), 0);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), -1); /* one frame only */
    ST_ASSERT_INT_EQ(rd(0x3810), 2);
    CU_ASSERT(mem[TXR + 12] & 1);
    CU_ASSERT(mem[TXR + 16 + 12] & 1);
    ST_ASSERT_INT_EQ(irq_level, 1);
    ST_ASSERT_INT_EQ(rd(0x00c0) & 0x03, 0x03); /* TXDW, TXQE; the read clears */
    ST_ASSERT_INT_EQ(irq_level, 0);
    ST_ASSERT_INT_EQ(rd(0x00c0), 0);
    vmm_net_stats st;
    vmm_e1000_stats(e, &st);
    ST_ASSERT_INT_EQ(st.tx_packets, 1);
    ST_ASSERT_INT_EQ(st.tx_bytes, sizeof f);
    ST_ASSERT_INT_EQ(rd(0x4080), 1);        /* GPTC */
    ST_ASSERT_INT_EQ(rd(0x4080), 0);        /* statistics clear on read */
    ST_ASSERT_INT_EQ(rd(0x4090), sizeof f); /* GOTCL */

    /* Ring wrap: a frame in descriptors 7 and 0. */
    wr(0x3810, 7);
    wr(0x3818, 7);
    txd(7, BUF, 100, 0x08);
    txd(0, BUF + 100, 60, 0x08 | 0x01);
    wr(0x3818, 1);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), 160);
    ST_ASSERT_INT_EQ(memcmp(got, f, 160), 0);
    ST_ASSERT_INT_EQ(rd(0x3810), 1);

    /* Transmit disabled: the ring is not walked. */
    wr(0x0400, 0);
    txd(1, BUF, 60, 0x09);
    wr(0x3818, 2);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), -1);
    ST_ASSERT_INT_EQ(rd(0x3810), 1);
    wr(0x0400, 2); /* enabling it sends what is queued */
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), 60);
    teardown();
}

static uint32_t csum_add(const uint8_t *p, size_t len, uint32_t s)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    return s;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Ethernet + IPv4 (20) + TCP (20) headers for a frame with plen bytes of payload. */
static void make_tcp(uint8_t *f, uint32_t plen, int tso)
{
    memset(f, 0, 54);
    memcpy(f, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(f + 6, MAC, 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14, *tcp = f + 34;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + 20 + plen) >> 8);
    ip[3] = (uint8_t)(20 + 20 + plen);
    if (tso)
        ip[2] = ip[3] = 0; /* Linux's e1000 leaves the length to the device */
    ip[4] = 0x12;
    ip[5] = 0x34;
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
    tcp[0] = 0x30;
    tcp[1] = 0x39;
    tcp[2] = 0x00;
    tcp[3] = 0x50;
    memcpy(tcp + 4, "\x00\x00\x10\x00", 4); /* seq 4096 */
    tcp[12] = 0x50;
    tcp[13] = 0x19; /* ACK, PSH, FIN */
    tcp[14] = 0xff;
    /* The pseudo-header sum the driver leaves in the TCP checksum field: with the length for
     * a checksum offload, without it for segmentation. */
    uint32_t s = csum_add(ip + 12, 8, 6 + (tso ? 0 : 20 + plen));
    uint16_t ph = csum_fold(s);
    tcp[16] = (uint8_t)(ph >> 8);
    tcp[17] = (uint8_t)ph;
    for (uint32_t i = 0; i < plen; i++)
        f[54 + i] = (uint8_t)(i * 13 + 1);
}

/* 1 when IP and TCP checksums of an Ethernet/IPv4/TCP frame verify. */
static int tcp_ok(const uint8_t *f, size_t len)
{
    const uint8_t *ip = f + 14;
    if (csum_fold(csum_add(ip, 20, 0)) != 0xffff)
        return 0;
    uint32_t tl = (uint32_t)(len - 34);
    uint32_t s = csum_add(ip + 12, 8, 6 + tl);
    return csum_fold(csum_add(f + 34, tl, s)) == 0xffff;
}

/* Extended context and data descriptors. */
static void ctxd(uint32_t i, uint8_t tucmd, uint32_t paylen, uint8_t hdr, uint16_t mss)
{
    uint8_t *d = mem + TXR + 16 * i;
    memset(d, 0, 16);
    d[0] = 14;                 /* ipcss */
    d[1] = 14 + 10;            /* ipcso */
    put16(d + 2, 14 + 20 - 1); /* ipcse */
    d[4] = 34;                 /* tucss */
    d[5] = 34 + 16;            /* tucso */
    put32(d + 8, paylen | (uint32_t)(0x20 | tucmd) << 24);
    d[13] = hdr;
    put16(d + 14, mss);
}

static void datad(uint32_t i, uint64_t addr, uint32_t len, uint8_t dcmd, uint8_t popts)
{
    uint8_t *d = mem + TXR + 16 * i;
    memset(d, 0, 16);
    put64(d, addr);
    put32(d + 8, len | 1u << 20 | (uint32_t)(0x20 | dcmd) << 24);
    d[13] = popts;
}

static void test_tx_offloads(void)
{
    setup();
    uint8_t got[4096];
    tx_ring_on();
    /* Checksum offload: IP and TCP checksums filled in. */
    make_tcp(mem + BUF, 100, 0);
    ctxd(0, 0x01 | 0x02, 0, 0, 0);
    datad(1, BUF, 154, 0x01 | 0x08, 0x03);
    wr(0x3818, 2);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), 154);
    CU_ASSERT(tcp_ok(got, 154));

    /* TCP segmentation: 2500 bytes of payload at an MSS of 1000, the headers in their own
     * descriptor as Linux posts them. */
    make_tcp(mem + BUF, 2500, 1);
    ctxd(2, 0x01 | 0x02 | 0x04, 2500, 54, 1000);
    datad(3, BUF, 54, 0x04, 0x03);
    datad(4, BUF + 54, 2500, 0x04 | 0x01 | 0x08, 0x03);
    wr(0x3818, 5);
    uint32_t seq = 4096;
    for (int s = 0; s < 3; s++) {
        ssize_t n = recv_frame(got, sizeof got);
        uint32_t plen = s < 2 ? 1000 : 500;
        ST_ASSERT_INT_EQ(n, 54 + (ssize_t)plen);
        CU_ASSERT(tcp_ok(got, (size_t)n));
        ST_ASSERT_INT_EQ(got[16] << 8 | got[17], 40 + plen);  /* IP total length */
        ST_ASSERT_INT_EQ(got[18] << 8 | got[19], 0x1234 + s); /* IP id */
        ST_ASSERT_INT_EQ((uint32_t)got[38] << 24 | (uint32_t)got[39] << 16 | got[40] << 8 | got[41],
                         seq);
        ST_ASSERT_INT_EQ(got[47] & 0x09, s < 2 ? 0 : 0x09); /* FIN, PSH only on the last */
        ST_ASSERT_INT_EQ(memcmp(got + 54, mem + BUF + 54 + 1000 * s, plen), 0);
        seq += plen;
    }
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), -1);
    vmm_net_stats st;
    vmm_e1000_stats(e, &st);
    ST_ASSERT_INT_EQ(st.tx_packets, 2); /* the guest's frames, as its interface counts them */
    ST_ASSERT_INT_EQ(st.tx_bytes, 154 + 2554);
    teardown();
}

static void test_tx_hostile(void)
{
    setup();
    uint8_t got[2048];
    tx_ring_on();
    /* A buffer outside RAM, one straddling its end, a zero length: no frame, but the
     * descriptors are consumed and reported done. */
    txd(0, MEM + 0x1000, 100, 0x09);
    txd(1, MEM - 10, 100, 0x09);
    txd(2, ~0ull - 5, 100, 0x09);
    txd(3, BUF, 0, 0x09);
    wr(0x3818, 4);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), -1);
    ST_ASSERT_INT_EQ(rd(0x3810), 4);
    CU_ASSERT(mem[TXR + 3 * 16 + 12] & 1);
    /* A frame past 64 KiB (descriptors of 0xffff bytes) is dropped, the next one goes. */
    for (uint32_t i = 4; i < 7; i++)
        txd(i, BUF, 0xffff, i == 6 ? 0x09 : 0x08);
    txd(7, BUF, 60, 0x09);
    wr(0x3818, 0);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), 60);
    ST_ASSERT_INT_EQ(recv_frame(got, sizeof got), -1);
    ST_ASSERT_INT_EQ(rd(0x3810), 0);
    /* A tail past the ring: nothing moves. */
    wr(0x3818, 200);
    ST_ASSERT_INT_EQ(rd(0x3810), 0);
    /* A ring outside RAM (and a base near 2^64): nothing read, no hang. */
    wr(0x3804, 0xffffffff);
    wr(0x3800, 0xfffffff0);
    wr(0x3818, 3);
    ST_ASSERT_INT_EQ(rd(0x3810), 0);
    wr(0x3804, 0);
    wr(0x3800, MEM - 64); /* the ring's end is past RAM's */
    wr(0x3810, 2);
    wr(0x3818, 6);
    ST_ASSERT_INT_EQ(rd(0x3810), 4);
    /* TDLEN is a multiple of 128 bytes and at most 20 bits: a huge one is cut down */
    wr(0x3808, 0xffffffff);
    ST_ASSERT_INT_EQ(rd(0x3808), 0xfff80);
    /* TSO with a header length past the frame, or an MSS of 0: dropped. */
    wr(0x3800, TXR);
    wr(0x3808, 8 * 16);
    wr(0x3810, 0);
    wr(0x3818, 0);
    make_tcp(mem + BUF, 200, 1);
    txd(0, BUF, 0, 0x09); /* ends the frame the zeroed descriptors above left open: nothing */
    ctxd(1, 0x07, 200, 255, 100);
    datad(2, BUF, 254, 0x05 | 0x08, 0x03);
    ctxd(3, 0x07, 200, 54, 0);
    datad(4, BUF, 254, 0x05 | 0x08, 0x03);
    ctxd(5, 0x07, 200, 54, 25); /* MSS 25: 8 frames, each valid */
    datad(6, BUF, 254, 0x05 | 0x08, 0x03);
    wr(0x3818, 7);
    int n = 0;
    ssize_t r;
    while ((r = recv_frame(got, sizeof got)) > 0) {
        ST_ASSERT_INT_EQ(r, 54 + 25);
        n += tcp_ok(got, (size_t)r);
    }
    ST_ASSERT_INT_EQ(n, 8);
    /* Odd and out-of-range register accesses are ignored. */
    uint8_t b[8] = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};
    vmm_e1000_mmio(e, 0x3818, b, 2, 1);
    vmm_e1000_mmio(e, 0x3819, b, 4, 1);
    vmm_e1000_mmio(e, VMM_E1000_BAR_SIZE, b, 4, 1);
    vmm_e1000_mmio(e, 0x3818, b, 8, 0);
    ST_ASSERT_INT_EQ(b[0], 0);
    ST_ASSERT_INT_EQ(rd(0x3818), 7);
    teardown();
}

static void send_frame(const uint8_t *dst, size_t len)
{
    uint8_t f[9000];
    memcpy(f, dst, 6);
    memcpy(f + 6, "\x02\x00\x00\x00\x00\x09", 6);
    for (size_t i = 12; i < len; i++)
        f[i] = (uint8_t)(i ^ 0x5a);
    ST_ASSERT_INT_EQ(send(sv[1], f, len, 0), (ssize_t)len);
}

static void test_rx(void)
{
    setup();
    static const uint8_t other[6] = {0x52, 0x54, 0x00, 0, 0, 1},
                         bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ST_ASSERT_INT_EQ(rx_armed, 0);
    rx_ring_on(0); /* 2048-byte buffers, FCS kept, no broadcast */
    ST_ASSERT_INT_EQ(rx_armed, 1);
    wr(0x00d0, 0x80); /* RXT0 */
    send_frame(other, 100);
    send_frame(bcast, 100);
    send_frame(MAC, 1000);
    vmm_e1000_rx(e);
    uint8_t *d = mem + RXR;
    ST_ASSERT_INT_EQ(d[8] | d[9] << 8, 1004); /* with the 4-byte FCS */
    ST_ASSERT_INT_EQ(d[12] & 0x07, 0x07);     /* DD, EOP, IXSM */
    ST_ASSERT_INT_EQ(memcmp(mem + RBUF, MAC, 6), 0);
    ST_ASSERT_INT_EQ(mem[RBUF + 999], (uint8_t)(999 ^ 0x5a));
    ST_ASSERT_INT_EQ(mem[RXR + 16 + 12], 0); /* the other two were filtered */
    ST_ASSERT_INT_EQ(rd(0x2810), 1);
    ST_ASSERT_INT_EQ(irq_level, 1);
    CU_ASSERT(rd(0x00c0) & 0x80);
    ST_ASSERT_INT_EQ(irq_level, 0);

    /* Broadcast accepted with BAM; FCS stripped with SECRC; a multicast address through
     * the table (MO = 0: bits 47:36 index it). */
    wr(0x0100, 0x02 | 0x8000 | 1u << 26);
    static const uint8_t mc[6] = {0x01, 0x00, 0x5e, 0x00, 0x12, 0x34};
    uint32_t h = (0x12u >> 4 | 0x34u << 4) & 0xfff;
    send_frame(mc, 64); /* not in the table yet */
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(rd(0x2810), 1);
    wr(0x5200 + 4 * (h >> 5), 1u << (h & 31));
    send_frame(bcast, 60);
    send_frame(mc, 64);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(mem[RXR + 16 + 8], 60);
    ST_ASSERT_INT_EQ(mem[RXR + 32 + 8], 64);
    ST_ASSERT_INT_EQ(rd(0x2810), 3);

    /* A frame over several buffers: 256-byte buffers, 600 + 4 bytes = 3 descriptors. */
    wr(0x0100, 0x02 | 3u << 16);
    send_frame(MAC, 600);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(rd(0x2810), 6);
    ST_ASSERT_INT_EQ(mem[RXR + 3 * 16 + 8] | mem[RXR + 3 * 16 + 9] << 8, 256);
    ST_ASSERT_INT_EQ(mem[RXR + 3 * 16 + 12] & 0x02, 0);
    ST_ASSERT_INT_EQ(mem[RXR + 5 * 16 + 8], 92);
    ST_ASSERT_INT_EQ(mem[RXR + 5 * 16 + 12] & 0x03, 0x03);
    ST_ASSERT_INT_EQ(mem[RBUF + 0x5000 + 10], (uint8_t)((512 + 10) ^ 0x5a));

    /* Too few buffers (one left before RDT=7): the frame waits, the fd is left alone, and
     * it is delivered once the driver posts more (RDT written, ring wrapping). */
    send_frame(MAC, 600);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(rd(0x2810), 6);
    ST_ASSERT_INT_EQ(rx_armed, 0);
    for (int i = 0; i < 8; i++)
        mem[RXR + 16 * i + 12] = 0;
    wr(0x2818, 2);
    ST_ASSERT_INT_EQ(rd(0x2810), 1);
    ST_ASSERT_INT_EQ(rx_armed, 1);
    ST_ASSERT_INT_EQ(mem[RXR + 0 * 16 + 12] & 0x03, 0x03);
    vmm_net_stats st;
    vmm_e1000_stats(e, &st);
    ST_ASSERT_INT_EQ(st.rx_packets, 5);
    ST_ASSERT_INT_EQ(st.rx_bytes, 1000 + 60 + 64 + 600 + 600);
    teardown();
}

static void test_rx_hostile(void)
{
    setup();
    rx_ring_on(1u << 26);
    /* A buffer outside RAM: the frame is dropped with the error bit, the next one lands. */
    put64(mem + RXR, MEM - 100);
    send_frame(MAC, 200);
    send_frame(MAC, 200);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(mem[RXR + 12] & 0x03, 0x03);
    ST_ASSERT_INT_EQ(mem[RXR + 13] & 0x80, 0x80);
    ST_ASSERT_INT_EQ(mem[RXR + 8], 0);
    ST_ASSERT_INT_EQ(mem[RXR + 16 + 8], 200);
    ST_ASSERT_INT_EQ(mem[RXR + 16 + 13], 0);
    /* A head past the ring: nothing delivered; a ring outside RAM: the same. */
    wr(0x2810, 100);
    send_frame(MAC, 200);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(rd(0x2810), 100);
    wr(0x2810, 2);
    wr(0x2800, MEM - 32);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(rd(0x2810), 2);
    /* Long frames need LPE. */
    wr(0x2800, RXR);
    wr(0x2810, 2);
    wr(0x2818, 7); /* the waiting 200-byte frame lands */
    ST_ASSERT_INT_EQ(rd(0x2810), 3);
    send_frame(MAC, 3000);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(rd(0x2810), 3);
    ST_ASSERT_INT_EQ(rd(0x40ac), 1); /* ROC */
    wr(0x0100, 0x02 | 0x20 | 1u << 26);
    send_frame(MAC, 3000);
    vmm_e1000_rx(e);
    ST_ASSERT_INT_EQ(rd(0x2810), 5);
    ST_ASSERT_INT_EQ(mem[RXR + 4 * 16 + 8] | mem[RXR + 4 * 16 + 9] << 8, 3000 - 2048);
    teardown();
}

static void test_interrupts(void)
{
    setup();
    wr(0x00c8, 0x04); /* ICS: LSC, masked */
    ST_ASSERT_INT_EQ(irq_level, 0);
    wr(0x00d0, 0x04); /* unmasked: asserted */
    ST_ASSERT_INT_EQ(irq_level, 1);
    wr(0x00d8, 0x04); /* IMC: deasserted, cause kept */
    ST_ASSERT_INT_EQ(irq_level, 0);
    wr(0x00d0, 0x04);
    ST_ASSERT_INT_EQ(irq_level, 1);
    ST_ASSERT_INT_EQ(rd(0x00c0), 0x04);
    ST_ASSERT_INT_EQ(irq_level, 0);
    /* ITR 4000 x 256 ns = 1.024 ms between assertions: the next cause waits for the timer. */
    wr(0x00c4, 4000);
    usleep(2000);
    wr(0x00c8, 0x04);
    ST_ASSERT_INT_EQ(irq_level, 1);
    rd(0x00c0);
    wr(0x00c8, 0x04);
    ST_ASSERT_INT_EQ(irq_level, 0);
    ST_ASSERT_INT_EQ(timer_asks, 1);
    wr(0x00c8, 0x04);
    ST_ASSERT_INT_EQ(timer_asks, 1); /* one timer at a time */
    usleep(2000);
    vmm_e1000_timer(e);
    ST_ASSERT_INT_EQ(irq_level, 1);
    teardown();
}

static void test_config_model(void)
{
    vmm_config c;
    char err[256];
    static const char ok[] = "{\"kernel\": \"k\", \"nics\": [{\"tap\": \"t0\"}, "
                             "{\"tap\": \"t1\", \"model\": \"e1000\"}, "
                             "{\"tap\": \"t2\", \"model\": \"virtio\"}]}";
    ST_ASSERT_INT_EQ_FATAL(vmm_config_parse(&c, ok, strlen(ok), err, sizeof err), 0);
    ST_ASSERT_INT_EQ(c.nics[0].model, VMM_NIC_VIRTIO);
    ST_ASSERT_INT_EQ(c.nics[1].model, VMM_NIC_E1000);
    ST_ASSERT_INT_EQ(c.nics[2].model, VMM_NIC_VIRTIO);
    vmm_config_free(&c);
    static const char bad[] = "{\"kernel\": \"k\", \"nics\": [{\"tap\": \"t0\", "
                              "\"model\": \"rtl8139\"}]}";
    ST_ASSERT_INT_EQ(vmm_config_parse(&c, bad, strlen(bad), err, sizeof err), -1);
    CU_ASSERT(strstr(err, "nics[0].model") != NULL);
    vmm_config_free(&c);
}

static CU_TestInfo tests[] = {
    {"EEPROM: Microwire and EERD read the MAC, words sum to 0xBABA; reset keeps the MAC",
     test_eeprom},
    {"PHY through MDIC: M88E1011 id, link up, read-only status; STATUS link up 1000 FD",
     test_phy_and_link},
    {"transmit: legacy descriptors, a frame over two, ring wrap, DD, TXDW, counters",
     test_tx_legacy},
    {"transmit: checksum offload and TCP segmentation give valid frames", test_tx_offloads},
    {"transmit: hostile addresses, lengths, tails and rings are contained", test_tx_hostile},
    {"receive: filters, FCS, frames over several buffers, waiting for buffers", test_rx},
    {"receive: buffer or ring outside RAM, head past the ring, long frames", test_rx_hostile},
    {"interrupts: masking, ICR read-to-clear, ITR throttling through the timer", test_interrupts},
    {"config: a NIC's model is virtio (default) or e1000, anything else refused",
     test_config_model},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"e1000", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
