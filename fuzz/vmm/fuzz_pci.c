/*
 * vmm_fuzz_pci - PCI configuration space (pci.c) and what hangs off it
 * against any sequence of guest accesses: the expansion ROM BAR and virtio's
 * PCI_CFG window (virtio_pci.c), on one device with a 5000-byte ROM (an
 * 8 KiB ROM BAR) and a 16 KiB BAR0 whose handler checks every access it gets.
 *
 * The input is a list of 6-byte operations: byte 0 picks what (bits 0-1:
 * write 0xCF8, access 0xCFC-0xCFF, access MMIO, reboot; bit 2 writes; bits
 * 3-4 the width 1/2/4; bits 5-6 the byte of 0xCFC), bytes 1..4 the value or
 * address (an MMIO address is folded into the BAR window), byte 5 unused.
 * After each one the fuzzer checks what must always hold: the ROM decodes
 * only with its enable bit and the memory bit at its register's address,
 * aligned, inside the window; the register's bits below the size read zero;
 * a ROM read gives the image's bytes (zeros past it); BAR0's handler sees
 * only accesses that start inside BAR0, and through the window only ones
 * that end inside it too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"
#include "stratus/log.h"
#include "virtio_pci.h"
#include "vmm.h"

#define ROM_LEN 5000
#define BAR0 0x4000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t image[ROM_LEN];
static char rom_file[64];

static int via_cfg; /* the access being made is a configuration-space one */

/* The bus hands a handler any access that starts inside its range (an MMIO access may run
 * past the end; handlers bound their own reads); the PCI_CFG window must stay inside. */
static void bar0_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    if (len < 1 || len > 8 || off >= BAR0 || (via_cfg && off > BAR0 - len))
        abort();
    if (!is_write)
        memset(data, 0x5a, len);
}

static void window_read(vmm_pci_dev *d, uint32_t off, uint32_t len)
{
    vmm_virtio_cfg_window(d, off, len, 0);
}

static void window_written(vmm_pci_dev *d, uint32_t off, uint32_t len)
{
    vmm_virtio_cfg_window(d, off, len, 1);
}

static int make_rom(void)
{
    for (size_t i = 0; i < ROM_LEN; i++)
        image[i] = (uint8_t)(i * 13 + 5);
    image[0] = 0x55;
    image[1] = 0xaa;
    uint16_t pcir = 0x1c, vendor = 0x1af4, device = 0x1041;
    memcpy(image + 0x18, &pcir, 2);
    memcpy(image + pcir, "PCIR", 4);
    memcpy(image + pcir + 4, &vendor, 2);
    memcpy(image + pcir + 6, &device, 2);
    snprintf(rom_file, sizeof rom_file, "/tmp/vmm_fuzz_pci.%d.rom", (int)getpid());
    FILE *f = fopen(rom_file, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(image, 1, ROM_LEN, f);
    return fclose(f) == 0 && n == ROM_LEN ? 0 : -1;
}

static void check(vmm_pci_dev *d)
{
    uint32_t reg, size = d->rom_size;
    uint16_t cmd;
    memcpy(&reg, &d->cfg[0x30], 4);
    memcpy(&cmd, &d->cfg[4], 2);
    if (reg & (size - 1) & ~1u)
        abort(); /* bits below the size are read-only zero */
    if (d->rom_mapped &&
        (!(reg & 1) || !(cmd & 2) || d->rom_mapped != (reg & ~(size - 1)) ||
         (uint64_t)d->rom_mapped + size > VMM_PCI_MMIO_END || d->rom_mapped % size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (make_rom())
            return 0;
        st_log_init("fuzz", ST_LOG_ERROR); /* a ROM over BAR0 is a warning, not news */
        ready = 1;
    }
    static vmm_vm vm;
    static vmm_config cfg = {.assign_bars = 1};
    static vmm_pci_dev d;
    vmm_vm_init(&vm);
    vm.cfg = &cfg;
    if (vmm_pci_init(&vm))
        return 0;
    memset(&d, 0, sizeof d);
    vmm_pci_set16(&d, 0x00, 0x1af4);
    vmm_pci_set16(&d, 0x02, 0x1041);
    vmm_pci_bar(&d, 0, BAR0, bar0_io);
    d.rom_path = rom_file;
    d.cfg_read = window_read;
    d.cfg_written = window_written;
    d.wmask[VMM_VIRTIO_CAP_PCI_CFG + 4] = 0xff;
    memset(&d.wmask[VMM_VIRTIO_CAP_PCI_CFG + 8], 0xff, 12);
    if (vmm_pci_add(&vm, &d))
        abort();
    for (size_t i = 0; i + 6 <= size; i += 6) {
        uint8_t op = data[i];
        static const uint32_t widths[] = {1, 2, 4, 4};
        uint32_t len = widths[(op >> 3) & 3], v;
        int is_write = (op >> 2) & 1;
        memcpy(&v, data + i + 1, 4);
        uint8_t buf[8];
        memcpy(buf, &v, 4);
        memset(buf + 4, 0, 4);
        switch (op & 3) {
        case 0: vmm_bus_access(&vm.pio, 0xcf8, (uint8_t *)&v, 4, 1); break;
        case 1: {
            uint32_t at = (op >> 5) & 3;
            if (at + len > 4)
                at = 0;
            via_cfg = 1;
            vmm_bus_access(&vm.pio, 0xcfc + at, buf, len, is_write);
            via_cfg = 0;
            break;
        }
        case 2: {
            uint32_t a =
                (uint32_t)(VMM_PCI_MMIO_START + v % (VMM_PCI_MMIO_END - VMM_PCI_MMIO_START));
            int hit = vmm_bus_access(&vm.mmio, a, buf, len, is_write);
            if (!is_write && hit == 0 && d.rom_mapped && a >= d.rom_mapped &&
                a - d.rom_mapped <= d.rom_size - len) {
                uint32_t off = a - d.rom_mapped;
                for (uint32_t k = 0; k < len; k++)
                    if (buf[k] != (off + k < ROM_LEN ? image[off + k] : 0))
                        abort();
            }
            break;
        }
        default: vmm_pci_reset(&vm); break;
        }
        check(&d);
    }
    vmm_pci_free(&vm);
    return 0;
}
