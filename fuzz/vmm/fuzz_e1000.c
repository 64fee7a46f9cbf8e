/*
 * vmm_fuzz_e1000 - the e1000 device core against a hostile driver: register
 * writes and reads in any order, descriptor rings and buffers of any content,
 * frames arriving from the "tap", throttling timers firing.
 *
 * Input: a little-endian 16-bit count of operations, that many 8-byte
 * operations {kind, register selector (16 bits), -, value (32 bits)}, then
 * the image of a 64 KiB guest memory at guest address 0x1000 (below it is
 * no RAM). A selector with its top bit set picks one of the registers with
 * behaviour (rings, interrupts, EEPROM, PHY), otherwise any offset of BAR0.
 * Kinds: write, read, a frame of value & 0x3fff bytes (taken from the memory
 * image) arriving on the tap followed by a receive pass, the ITR timer
 * firing. The tap is a datagram socket pair; whatever the device transmits
 * is read back and dropped.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e1000.h"

#define MEM 65536
#define OPS_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t regs[] = {0x0000, 0x0008, 0x0010, 0x0014, 0x0020, 0x00c0, 0x00c4,
                                0x00c8, 0x00d0, 0x00d8, 0x0100, 0x0400, 0x2800, 0x2804,
                                0x2808, 0x2810, 0x2818, 0x3800, 0x3804, 0x3808, 0x3810,
                                0x3818, 0x4074, 0x5200, 0x5400, 0x5404, 0x0038};

static void nop_irq(void *o, int level) {}
static void nop_arm(void *o, int on) {}
static void nop_timer(void *o, uint64_t ns) {}

static void drain(int fd)
{
    static uint8_t buf[70000];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    int sv[2];
    if (size < 2 || socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
        return 0;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    uint8_t *mem = calloc(1, MEM);
    size_t nops = (size_t)(data[0] | data[1] << 8) % (OPS_MAX + 1);
    if (nops > (size - 2) / 8)
        nops = (size - 2) / 8;
    const uint8_t *ops = data + 2, *img = ops + 8 * nops;
    size_t left = size - 2 - 8 * nops;
    vmm_gmem gm = {.n = 1};
    vmm_e1000_host host = {.irq = nop_irq, .rx_arm = nop_arm, .timer = nop_timer};
    vmm_e1000 *e = NULL;
    if (!mem)
        goto out;
    memcpy(mem, img, left < MEM ? left : MEM);
    gm.r[0] = (vmm_gmem_region){0x1000, MEM, mem};
    e = vmm_e1000_new(&gm, sv[0], mac, "fuzz", &host);
    if (!e)
        goto out;
    for (size_t i = 0; i < nops; i++) {
        const uint8_t *op = ops + 8 * i;
        uint16_t sel = (uint16_t)(op[1] | op[2] << 8);
        uint32_t off = sel & 0x8000 ? regs[sel % (sizeof regs / sizeof regs[0])]
                                    : (uint32_t)(sel & 0x7fff) * 4;
        uint8_t v[4];
        memcpy(v, op + 4, 4);
        switch (op[0] & 3) {
        case 0: vmm_e1000_mmio(e, off, v, 4, 1); break;
        case 1: vmm_e1000_mmio(e, off, v, 4, 0); break;
        case 2: {
            uint32_t len = (uint32_t)(v[0] | v[1] << 8) & 0x3fff, at = (off * 7) % MEM;
            if (len > MEM - at)
                len = MEM - at;
            if (len)
                send(sv[1], mem + at, len, MSG_DONTWAIT);
            vmm_e1000_rx(e);
            break;
        }
        default: vmm_e1000_timer(e);
        }
        if ((i & 7) == 7)
            drain(sv[1]);
    }
    vmm_net_stats st;
    vmm_e1000_stats(e, &st);
out:
    vmm_e1000_free(e);
    free(mem);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
