/*
 * vmm_pci - PCI configuration space through 0xCF8/0xCFC and the expansion
 * ROM BAR (0x30), with no KVM: the ROM register's sizing read (the size mask
 * with the low bits zero), decoding only with both its enable bit and the
 * command register's memory bit, at a non-zero address inside the window;
 * reads of the image, zeros past its end up to the BAR's size, nothing past
 * the BAR; writes dropped; a move unmapping the old range; a ROM placed over
 * another BAR refused; a reboot putting it back, disabled. ROM files that the
 * firmware would not run (no signature, no or a truncated PCI data
 * structure, another device's IDs, too small) refuse to start the device, and
 * Debian's iPXE ROMs (ipxe-qemu) pass for the devices we give them to.
 * Virtio's PCI_CFG window (virtio_pci.c's, through a plain device's config
 * hooks): reads and writes of pci_cfg_data reach the BAR at the offset and
 * length the driver wrote, and hostile fields (a BAR the device lacks,
 * lengths other than 1/2/4, unaligned offsets, offsets past the BAR or
 * wrapping) access nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"
#include "st_test.h"
#include "virtio_pci.h"
#include "vmm.h"

#define ROM_LEN 5000 /* rounded up to an 8 KiB BAR */
#define ROM_BAR 0x2000u

static vmm_vm vm;
static vmm_config cfg;
static vmm_pci_dev dev;
static char rom_file[64];
static int bar0_reads;

static void bar0_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    (void)opaque;
    (void)off;
    if (!is_write) {
        memset(data, 0xb0, len);
        bar0_reads++;
    }
}

/* A ROM image of len bytes: signature, size, PCIR at pcir with the IDs, a pattern after. */
static void make_rom(uint8_t *r, size_t len, uint16_t pcir, uint16_t vendor, uint16_t device)
{
    for (size_t i = 0; i < len; i++)
        r[i] = (uint8_t)(i * 7 + 1);
    r[0] = 0x55;
    r[1] = 0xaa;
    r[2] = (uint8_t)(len / 512);
    memcpy(r + 0x18, &pcir, 2);
    if ((size_t)pcir + 8 <= len) {
        memcpy(r + pcir, "PCIR", 4);
        memcpy(r + pcir + 4, &vendor, 2);
        memcpy(r + pcir + 6, &device, 2);
    }
}

static void write_file(const void *data, size_t len)
{
    FILE *f = fopen(rom_file, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void new_vm(void)
{
    vmm_pci_free(&vm);
    vmm_vm_init(&vm);
    cfg = (vmm_config){.assign_bars = 1};
    vm.cfg = &cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_pci_init(&vm), 0);
    memset(&dev, 0, sizeof dev);
    vmm_pci_set16(&dev, 0x00, 0x8086);
    vmm_pci_set16(&dev, 0x02, 0x100e);
    dev.cfg[0x0b] = 0x02;
    vmm_pci_bar(&dev, 0, 0x20000, bar0_io);
}

static uint32_t cfg_addr(uint32_t reg)
{
    return 0x80000000u | (uint32_t)dev.slot << 11 | reg;
}

static uint32_t cfg_read32(uint32_t reg)
{
    uint32_t a = cfg_addr(reg), v = 0;
    vmm_bus_access(&vm.pio, 0xcf8, (uint8_t *)&a, 4, 1);
    vmm_bus_access(&vm.pio, 0xcfc, (uint8_t *)&v, 4, 0);
    return v;
}

static void cfg_write(uint32_t reg, uint32_t v, uint32_t len)
{
    uint32_t a = cfg_addr(reg & ~3u);
    vmm_bus_access(&vm.pio, 0xcf8, (uint8_t *)&a, 4, 1);
    vmm_bus_access(&vm.pio, 0xcfc + (reg & 3), (uint8_t *)&v, len, 1);
}

/* The MMIO bus at addr: 0 and the bytes, or -1 when nothing decodes there. */
static int mmio_read(uint32_t addr, void *out, uint32_t len)
{
    return vmm_bus_access(&vm.mmio, addr, out, len, 0);
}

/* A device with a 5000-byte ROM for 8086:100e, added to a fresh bus. */
static void rom_dev(void)
{
    new_vm();
    uint8_t r[ROM_LEN];
    make_rom(r, sizeof r, 0x1c, 0x8086, 0x100e);
    write_file(r, sizeof r);
    dev.rom_path = rom_file;
    CU_ASSERT_EQUAL_FATAL(vmm_pci_add(&vm, &dev), 0);
}

static void test_rom_sizing(void)
{
    rom_dev();
    CU_ASSERT_EQUAL(dev.rom_size, ROM_BAR);
    uint32_t boot = cfg_read32(0x30);
    /* Assigned like the other BARs (after BAR0), aligned to its size, decoding off. */
    CU_ASSERT_EQUAL(boot, 0xC0000000u + 0x20000u);
    CU_ASSERT_EQUAL(boot & (ROM_BAR - 1), 0);
    CU_ASSERT_EQUAL(dev.rom_mapped, 0);
    /* SeaBIOS's sizing write (~enable): the size mask, bits below the size zero. */
    cfg_write(0x30, 0xfffffffe, 4);
    CU_ASSERT_EQUAL(cfg_read32(0x30), ~(ROM_BAR - 1));
    /* All ones: the enable bit sticks, but the BAR would end past the window: not decoded. */
    cfg_write(0x04, 0x0006, 2); /* memory + bus master on in the command register */
    cfg_write(0x30, 0xffffffff, 4);
    CU_ASSERT_EQUAL(cfg_read32(0x30), ~(ROM_BAR - 1) | 1);
    CU_ASSERT_EQUAL(dev.rom_mapped, 0);
    /* Byte writes land only in the writable bits. */
    cfg_write(0x30, boot, 4);
    cfg_write(0x31, 0xff, 1); /* bits 8..15: below the 8 KiB size, except 13..15 */
    CU_ASSERT_EQUAL(cfg_read32(0x30), boot | 0xe000u);
    cfg_write(0x30, boot, 4);
    CU_ASSERT_EQUAL(cfg_read32(0x30), boot);
}

static void test_rom_enable_and_reads(void)
{
    rom_dev();
    uint32_t boot = cfg_read32(0x30);
    uint8_t b[8];
    CU_ASSERT_EQUAL(cfg_read32(0x04) & 2, 2);   /* memory decoding on, as we assign it */
    CU_ASSERT_EQUAL(mmio_read(boot, b, 2), -1); /* the ROM's enable bit is off */
    cfg_write(0x30, boot | 1, 4);
    CU_ASSERT_EQUAL(dev.rom_mapped, boot);
    uint16_t sig = 0;
    CU_ASSERT_EQUAL(mmio_read(boot, &sig, 2), 0);
    CU_ASSERT_EQUAL(sig, 0xaa55);
    uint32_t pcir = 0;
    CU_ASSERT_EQUAL(mmio_read(boot + 0x1c, &pcir, 4), 0);
    CU_ASSERT_EQUAL(memcmp(&pcir, "PCIR", 4), 0);
    /* The image's last bytes, then zeros up to the BAR's end, then nothing. */
    CU_ASSERT_EQUAL(mmio_read(boot + ROM_LEN - 1, b, 1), 0);
    CU_ASSERT_EQUAL(b[0], (uint8_t)((ROM_LEN - 1) * 7 + 1));
    memset(b, 0xee, sizeof b);
    CU_ASSERT_EQUAL(mmio_read(boot + ROM_LEN, b, 8), 0);
    CU_ASSERT_EQUAL(b[0] | b[7], 0);
    CU_ASSERT_EQUAL(mmio_read(boot + ROM_BAR - 8, b, 8), 0);
    CU_ASSERT_EQUAL(b[0] | b[7], 0);
    CU_ASSERT_EQUAL(mmio_read(boot + ROM_BAR, b, 1), -1);
    /* A write is dropped: the ROM reads the same afterwards. */
    uint32_t w = 0x12345678;
    CU_ASSERT_EQUAL(vmm_bus_access(&vm.mmio, boot, (uint8_t *)&w, 4, 1), 0);
    CU_ASSERT_EQUAL(mmio_read(boot, &sig, 2), 0);
    CU_ASSERT_EQUAL(sig, 0xaa55);
    /* The command register's memory bit gates it too. */
    cfg_write(0x04, 0x0000, 2);
    CU_ASSERT_EQUAL(mmio_read(boot, b, 2), -1);
    cfg_write(0x04, 0x0002, 2);
    CU_ASSERT_EQUAL(mmio_read(boot, b, 2), 0);
    /* Moved: the old range is gone, the new one reads the image. */
    uint32_t moved = 0xD0000000u;
    cfg_write(0x30, moved | 1, 4);
    CU_ASSERT_EQUAL(mmio_read(boot, b, 2), -1);
    CU_ASSERT_EQUAL(mmio_read(moved, &sig, 2), 0);
    CU_ASSERT_EQUAL(sig, 0xaa55);
    /* Enabled at address 0: not decoded. */
    cfg_write(0x30, 1, 4);
    CU_ASSERT_EQUAL(dev.rom_mapped, 0);
    CU_ASSERT_EQUAL(mmio_read(moved, b, 2), -1);
    /* Disabled again at its address. */
    cfg_write(0x30, moved | 1, 4);
    cfg_write(0x30, moved, 4);
    CU_ASSERT_EQUAL(mmio_read(moved, b, 2), -1);
}

static void test_rom_overlap_and_reset(void)
{
    rom_dev();
    uint32_t boot = cfg_read32(0x30), bar0 = cfg_read32(0x10);
    uint8_t b[4];
    /* Over BAR0: refused; BAR0 still answers. */
    cfg_write(0x30, bar0 | 1, 4);
    CU_ASSERT_EQUAL(dev.rom_mapped, 0);
    bar0_reads = 0;
    CU_ASSERT_EQUAL(mmio_read(bar0, b, 4), 0);
    CU_ASSERT_EQUAL(bar0_reads, 1);
    CU_ASSERT_EQUAL(b[0], 0xb0);
    /* BAR0 moved onto an enabled ROM: refused as well; the ROM still reads. */
    cfg_write(0x30, boot | 1, 4);
    cfg_write(0x10, boot, 4);
    uint16_t sig = 0;
    CU_ASSERT_EQUAL(mmio_read(boot, &sig, 2), 0);
    CU_ASSERT_EQUAL(sig, 0xaa55);
    CU_ASSERT_EQUAL(dev.bar_mapped[0], 0);
    /* A reboot: BARs where we put them, the ROM disabled at its boot address. */
    vmm_pci_reset(&vm);
    CU_ASSERT_EQUAL(cfg_read32(0x30), boot);
    CU_ASSERT_EQUAL(cfg_read32(0x10), bar0);
    CU_ASSERT_EQUAL(dev.rom_mapped, 0);
    CU_ASSERT_EQUAL(dev.bar_mapped[0], bar0);
    CU_ASSERT_EQUAL(mmio_read(boot, b, 2), -1);
}

/* main.c frees the devices before the bus: the bus must free their ROMs without them. */
static void test_rom_freed_after_its_device(void)
{
    new_vm();
    vmm_pci_dev *d = calloc(1, sizeof *d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    uint8_t r[ROM_LEN];
    make_rom(r, sizeof r, 0x1c, 0x8086, 0x100e);
    write_file(r, sizeof r);
    vmm_pci_set16(d, 0x00, 0x8086);
    vmm_pci_set16(d, 0x02, 0x100e);
    d->rom_path = rom_file;
    CU_ASSERT_EQUAL_FATAL(vmm_pci_add(&vm, d), 0);
    uint32_t a = 0x80000000u | (uint32_t)d->slot << 11 | 0x30, v;
    vmm_bus_access(&vm.pio, 0xcf8, (uint8_t *)&a, 4, 1);
    vmm_bus_access(&vm.pio, 0xcfc, (uint8_t *)&v, 4, 0);
    v |= 1;
    vmm_bus_access(&vm.pio, 0xcfc, (uint8_t *)&v, 4, 1); /* decoding: the ROM is mapped */
    CU_ASSERT(d->rom_mapped != 0);
    free(d);
    vmm_pci_free(&vm); /* ASan: no use of the freed device */
    CU_ASSERT_PTR_NULL(vm.pci);
}

static void test_no_rom(void)
{
    new_vm();
    CU_ASSERT_EQUAL_FATAL(vmm_pci_add(&vm, &dev), 0);
    CU_ASSERT_EQUAL(cfg_read32(0x30), 0);
    cfg_write(0x30, 0xffffffff, 4);
    CU_ASSERT_EQUAL(cfg_read32(0x30), 0); /* not implemented: reads zero whatever is written */
}

static void test_rom_files(void)
{
    uint8_t r[ROM_LEN];
    struct {
        uint16_t pcir, vendor, device;
        size_t len;
        int sig_ok;
        int rc;
    } cases[] = {
        {0x1c, 0x8086, 0x100e, ROM_LEN, 1, 0},
        {0x1c, 0x8086, 0x100e, ROM_LEN, 0, -EINVAL},        /* no 55 AA */
        {0x1c, 0x1af4, 0x1041, ROM_LEN, 1, -EINVAL},        /* another device's ROM */
        {0xfff0, 0x8086, 0x100e, ROM_LEN, 1, -EINVAL},      /* PCIR past the end */
        {ROM_LEN - 8, 0x8086, 0x100e, ROM_LEN, 1, -EINVAL}, /* PCIR cut off by the end */
        {0x1c, 0x8086, 0x100e, 100, 1, -EINVAL},            /* smaller than 512 bytes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        new_vm();
        make_rom(r, cases[i].len, cases[i].pcir, cases[i].vendor, cases[i].device);
        if (!cases[i].sig_ok)
            r[0] = 0;
        write_file(r, cases[i].len);
        dev.rom_path = rom_file;
        int rc = vmm_pci_add(&vm, &dev);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "case %zu: %d\n", i, rc);
        CU_ASSERT_EQUAL(dev.rom == NULL, cases[i].rc != 0);
    }
    new_vm();
    dev.rom_path = "/nonexistent/pxe.rom";
    CU_ASSERT_EQUAL(vmm_pci_add(&vm, &dev), -ENOENT);
    /* The checker on its own, with lengths that end inside the header. */
    make_rom(r, ROM_LEN, 0x1c, 0x8086, 0x100e);
    CU_ASSERT_PTR_NULL(vmm_pci_rom_check(r, ROM_LEN, 0x8086, 0x100e));
    for (size_t len = 0; len < 0x1c + 0x18; len++)
        CU_ASSERT_PTR_NOT_NULL(vmm_pci_rom_check(r, len, 0x8086, 0x100e));
}

/* Debian's iPXE ROMs (ipxe-qemu, deploy/packages.txt) for the devices the VMM gives them to. */
static void test_debian_ipxe_roms(void)
{
    static const struct {
        const char *path;
        uint16_t vendor, device;
    } roms[] = {
        {"/usr/lib/ipxe/qemu/pxe-e1000.rom", 0x8086, 0x100e},
        {"/usr/lib/ipxe/qemu/efi-e1000.rom", 0x8086, 0x100e},
        {"/usr/lib/ipxe/qemu/pxe-virtio.rom", 0x1af4, 0x1041},
    };
    for (size_t i = 0; i < sizeof roms / sizeof roms[0]; i++) {
        FILE *f = fopen(roms[i].path, "rb");
        if (!f) {
            fprintf(stderr, "SKIP %s: %s (install ipxe-qemu)\n", roms[i].path, strerror(errno));
            continue;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        const char *why = vmm_pci_rom_check(buf, n, roms[i].vendor, roms[i].device);
        CU_ASSERT_PTR_NULL(why);
        if (why)
            fprintf(stderr, "%s: %s\n", roms[i].path, why);
    }
}

/* The BAR0 accesses the virtio window made. */
static struct {
    uint64_t off;
    uint32_t len, value;
    int is_write, n;
} seen;

static void window_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    CU_ASSERT_PTR_EQUAL(opaque, &dev);
    seen.off = off;
    seen.len = len;
    seen.is_write = is_write;
    seen.n++;
    if (is_write) {
        seen.value = 0;
        memcpy(&seen.value, data, len);
    } else {
        for (uint32_t i = 0; i < len; i++)
            data[i] = (uint8_t)(0xa0 + off + i);
    }
}

static void window_read(vmm_pci_dev *d, uint32_t off, uint32_t len)
{
    vmm_virtio_cfg_window(d, off, len, 0);
}

static void window_written(vmm_pci_dev *d, uint32_t off, uint32_t len)
{
    vmm_virtio_cfg_window(d, off, len, 1);
}

/* Points the window at BAR bar, offset at, length n (as a driver writes the capability). */
static void window_set(uint8_t bar, uint32_t at, uint32_t n)
{
    cfg_write(VMM_VIRTIO_CAP_PCI_CFG + 4, bar, 1);
    cfg_write(VMM_VIRTIO_CAP_PCI_CFG + 8, at, 4);
    cfg_write(VMM_VIRTIO_CAP_PCI_CFG + 12, n, 4);
}

static void test_virtio_cfg_window(void)
{
    new_vm();
    dev.bar_size[0] = 0x4000;
    dev.bar_io[0] = window_bar_io;
    dev.cfg_read = window_read;
    dev.cfg_written = window_written;
    dev.wmask[VMM_VIRTIO_CAP_PCI_CFG + 4] = 0xff;
    memset(&dev.wmask[VMM_VIRTIO_CAP_PCI_CFG + 8], 0xff, 12);
    CU_ASSERT_EQUAL_FATAL(vmm_pci_add(&vm, &dev), 0);
    uint32_t data = VMM_VIRTIO_CAP_PCI_CFG + 16;
    /* A dword read at 0x14: BAR0's handler reads 4 bytes there. */
    memset(&seen, 0, sizeof seen);
    window_set(0, 0x14, 4);
    CU_ASSERT_EQUAL(seen.n, 0); /* writing the capability's fields accesses nothing */
    CU_ASSERT_EQUAL(cfg_read32(data), 0xb7b6b5b4u);
    CU_ASSERT_EQUAL(seen.n, 1);
    CU_ASSERT_EQUAL(seen.off, 0x14);
    CU_ASSERT_EQUAL(seen.len, 4);
    CU_ASSERT_EQUAL(seen.is_write, 0);
    /* A byte and a word write: only the length asked for goes to the BAR. */
    window_set(0, 0x3001, 1);
    cfg_write(data, 0x5a, 1);
    CU_ASSERT_EQUAL(seen.n, 2);
    CU_ASSERT_EQUAL(seen.off, 0x3001);
    CU_ASSERT_EQUAL(seen.len, 1);
    CU_ASSERT_EQUAL(seen.is_write, 1);
    CU_ASSERT_EQUAL(seen.value, 0x5a);
    window_set(0, 0x3ffe, 2);
    cfg_write(data, 0xbeef, 4);
    CU_ASSERT_EQUAL(seen.n, 3);
    CU_ASSERT_EQUAL(seen.off, 0x3ffe);
    CU_ASSERT_EQUAL(seen.value, 0xbeef);
    /* Hostile fields: nothing reaches the BAR; reads give all ones. */
    static const struct {
        uint8_t bar;
        uint32_t at, n;
    } bad[] = {
        {1, 0, 4},          /* a BAR the device does not have */
        {6, 0, 4},          /* no such BAR */
        {0xff, 0, 4},       /* no such BAR */
        {0, 0, 3},          /* length not 1, 2 or 4 */
        {0, 0, 0},          /* length 0 */
        {0, 0, 8},          /* wider than the window */
        {0, 2, 4},          /* unaligned */
        {0, 0x4000, 1},     /* past the BAR */
        {0, 0x3ffc + 4, 4}, /* just past */
        {0, 0xfffffffcu, 4} /* wraps */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = seen.n;
        window_set(bad[i].bar, bad[i].at, bad[i].n);
        CU_ASSERT_EQUAL(cfg_read32(data), 0xffffffffu);
        cfg_write(data, 0x12345678, 4);
        CU_ASSERT_EQUAL(seen.n, n);
        if (seen.n != n)
            fprintf(stderr, "window case %zu reached the BAR\n", i);
    }
    /* Reads of the capability's other bytes do not touch the BAR either. */
    int n = seen.n;
    window_set(0, 0, 4);
    (void)cfg_read32(VMM_VIRTIO_CAP_PCI_CFG + 12);
    CU_ASSERT_EQUAL(seen.n, n);
}

static int init(void)
{
    snprintf(rom_file, sizeof rom_file, "/tmp/vmm_pci_rom.%d", (int)getpid());
    return 0;
}

static int cleanup(void)
{
    vmm_pci_free(&vm);
    unlink(rom_file);
    return 0;
}

static CU_TestInfo tests[] = {
    {"ROM BAR sizing: size mask, writable bits only", test_rom_sizing},
    {"ROM decodes with enable + memory bit, reads, zeros past the image, moves",
     test_rom_enable_and_reads},
    {"ROM over another BAR refused; reboot puts it back disabled", test_rom_overlap_and_reset},
    {"no ROM: register reads zero", test_no_rom},
    {"the bus frees a ROM after its device is gone", test_rom_freed_after_its_device},
    {"ROM files the firmware would not run are refused", test_rom_files},
    {"Debian's iPXE ROMs match our e1000 and virtio-net IDs", test_debian_ipxe_roms},
    {"virtio's PCI_CFG window reaches the BAR; hostile fields reach nothing",
     test_virtio_cfg_window},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"pci", init, cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
