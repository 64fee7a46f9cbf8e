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
    void *opaque;
    int slot;
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
/* Puts d at the next free slot with its BARs assigned; fills d->slot. */
int vmm_pci_add(vmm_vm *vm, vmm_pci_dev *d);
/* Reboot: every device's BARs back where we assigned them, decoding on. */
void vmm_pci_reset(vmm_vm *vm);
/* Helpers to fill configuration space (little endian). */
void vmm_pci_set16(vmm_pci_dev *d, uint32_t off, uint16_t v);
void vmm_pci_set32(vmm_pci_dev *d, uint32_t off, uint32_t v);
/* Declares BAR n as a 32-bit memory BAR of size bytes (a power of two >= 16). */
void vmm_pci_bar(vmm_pci_dev *d, int n, uint32_t size, vmm_io_fn io);

#endif
