/*
 * pci.h - PCI bus 0: the host bridge at 00:00.0 and configuration
 * mechanism 1 (address at 0xCF8, data at 0xCFC-0xCFF).
 *
 * A device owns a 256-byte configuration space and a write mask; the bus
 * applies the mask, so read-only fields stay read-only whatever the guest
 * writes. Memory BARs are 32-bit; we assign them from the PCI window at
 * start-up (as firmware would) and honour the guest moving them: sizing
 * (all ones) reads back the size mask, and whenever the effective address
 * or the command register's memory-enable bit changes, the BAR is unmapped
 * from the MMIO bus, remapped, and the device's bar_moved() hook runs (the
 * virtio transport re-registers its ioeventfds there).
 *
 * Expansion ROM (the BAR at 0x30, PCI 3.0 6.2.5.2). A device may carry a ROM
 * image (an iPXE option ROM: the firmware copies it to 0xC0000-0xDFFFF and
 * runs it). The BAR's size is the image's rounded up to a power of two, at
 * least 4 KiB; bits 31..log2(size) hold the address, bit 0 enables decoding,
 * bits 1..log2(size)-1 read as zero, so sizing (writing ones) reads back the
 * size mask. The ROM answers reads only while both its enable bit and the
 * command register's memory-enable bit are set, the address is not zero and
 * the whole BAR lies below the IOAPIC (VMM_PCI_MMIO_END); the image is then on
 * the MMIO bus (reads served from it, writes dropped) and, with KVM, also a
 * read-only memory slot over the same range, so the firmware's copy of the ROM
 * runs without an exit per read. Bytes past the image's end, up to the BAR's
 * size, read as zero.
 */
#ifndef VMM_PCI_H
#define VMM_PCI_H

#include <stdint.h>

#include "bus.h"
#include "vmm.h"

#define VMM_PCI_MAX_DEVS 32

typedef struct vmm_pci_dev vmm_pci_dev;

struct vmm_pci_dev {
    uint8_t cfg[256];
    uint8_t wmask[256];
    uint32_t bar_size[6];   /* 0: BAR not implemented */
    uint32_t bar_mapped[6]; /* address currently on the MMIO bus, 0 if none */
    uint32_t bar_boot[6];   /* address we assigned at start-up (restored on reboot) */
    vmm_io_fn bar_io[6];
    /* Expansion ROM: rom_path is set by the device before vmm_pci_add, which reads the
     * file into rom (rom_size bytes, zero-padded, page-aligned; owned by the bus). */
    const char *rom_path;
    uint8_t *rom;
    uint32_t rom_size;   /* 0: no ROM (the register at 0x30 reads zero, writes are ignored) */
    uint32_t rom_mapped; /* address the ROM decodes at now, 0 if none */
    uint32_t rom_boot;   /* address we assigned at start-up (decoding off, as firmware leaves it) */
    void *opaque;
    int slot;
    /* Called before the guest reads config bytes [off, off+len) (a window that fills them). */
    void (*cfg_read)(vmm_pci_dev *d, uint32_t off, uint32_t len);
    /* Called after the guest wrote config bytes [off, off+len) (e.g. MSI-X control). */
    void (*cfg_written)(vmm_pci_dev *d, uint32_t off, uint32_t len);
    /* Called after a BAR was unmapped from old (0: none) and mapped at new (0: none). */
    void (*bar_moved)(vmm_pci_dev *d, int bar, uint32_t old, uint32_t new_addr);
};

typedef struct vmm_pci vmm_pci;

int vmm_pci_init(vmm_vm *vm);
/* 00:00.0 (firmware.c gives it an i440FX's IDs and PAM registers for a firmware boot). */
vmm_pci_dev *vmm_pci_host_bridge(vmm_vm *vm);
void vmm_pci_free(vmm_vm *vm);
/* Puts d at the next free slot with its BARs assigned; fills d->slot. With d->rom_path set,
 * first reads the expansion ROM from that file (-EINVAL: not a PCI option ROM, see
 * vmm_pci_rom_check; logged with the reason). */
int vmm_pci_add(vmm_vm *vm, vmm_pci_dev *d);
/* Reboot: every device's BARs back where we assigned them, decoding on. */
void vmm_pci_reset(vmm_vm *vm);
/* Helpers to fill configuration space (little endian). */
void vmm_pci_set16(vmm_pci_dev *d, uint32_t off, uint16_t v);
void vmm_pci_set32(vmm_pci_dev *d, uint32_t off, uint32_t v);
/* Declares BAR n as a 32-bit memory BAR of size bytes (a power of two >= 16). */
void vmm_pci_bar(vmm_pci_dev *d, int n, uint32_t size, vmm_io_fn io);
/* Checks len bytes as a PCI option ROM for a device with IDs vendor:device: the 0x55AA
 * signature, the PCI data structure ("PCIR") inside the image, and its IDs. NULL when they
 * match, else why not (the firmware would not run it). */
const char *vmm_pci_rom_check(const uint8_t *rom, size_t len, uint16_t vendor, uint16_t device);

#endif
