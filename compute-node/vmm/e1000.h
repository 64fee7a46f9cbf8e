/*
 * e1000.h - an emulated Intel 82540EM gigabit NIC ("e1000"), the NIC every
 * OS has a driver for: the alternative to virtio-net for guests without
 * virtio drivers.
 *
 * The device core (e1000.c) knows nothing of KVM: it takes guest memory as a
 * vmm_gmem, a file descriptor to send and receive whole Ethernet frames on
 * (a tap without a virtio-net header, or a datagram socket in the tests), and
 * three host hooks (interrupt line level, receive readiness, a one-shot
 * timer for interrupt throttling). vmm_e1000_create() wires one into a VM:
 * PCI slot, BAR0 on the MMIO bus, INTx on the GSI pci.h gives its slot, the
 * tap on the event loop.
 */
#ifndef VMM_E1000_H
#define VMM_E1000_H

#include <stdint.h>

#include "devices.h"
#include "devreg.h"
#include "gmem.h"
#include "pci.h"

#define VMM_E1000_BAR_SIZE 0x20000u /* BAR0: 128 KiB of registers */
#define VMM_E1000_VENDOR 0x8086
#define VMM_E1000_DEVICE 0x100e /* 82540EM */

typedef struct vmm_e1000 vmm_e1000;

typedef struct vmm_e1000_host {
    void (*irq)(void *opaque, int level);        /* INTx level */
    void (*rx_arm)(void *opaque, int on);        /* call vmm_e1000_rx when the fd is readable */
    void (*timer)(void *opaque, uint64_t delay); /* call vmm_e1000_timer after delay ns */
    void *opaque;
} vmm_e1000_host;

/* A device on guest memory gm and frame descriptor fd (not owned); NULL without memory. */
vmm_e1000 *vmm_e1000_new(const vmm_gmem *gm, int fd, const uint8_t mac[6], const char *id,
                         const vmm_e1000_host *host);
void vmm_e1000_free(vmm_e1000 *e);
/* A BAR0 access: off within the 128 KiB, data of len bytes (only aligned 32-bit accesses act). */
void vmm_e1000_mmio(vmm_e1000 *e, uint64_t off, uint8_t *data, uint32_t len, int is_write);
/* Moves frames waiting on the fd into the receive ring (the fd became readable). */
void vmm_e1000_rx(vmm_e1000 *e);
/* The throttling timer asked for through host.timer expired. */
void vmm_e1000_timer(vmm_e1000 *e);
/* Power-on state (a VM reboot); the EEPROM keeps its MAC. */
void vmm_e1000_reset(vmm_e1000 *e);
/* A copy of the frame counters (taken under the device lock). */
void vmm_e1000_stats(vmm_e1000 *e, vmm_net_stats *out);
const char *vmm_e1000_id(const vmm_e1000 *e);
vmm_pci_dev *vmm_e1000_pci(vmm_e1000 *e);
/* The 64-word EEPROM image (MAC in words 0-2, words summing to 0xBABA). */
const uint16_t *vmm_e1000_eeprom(const vmm_e1000 *e);

/* Its state record (devreg.h): every register, the PHY, the EEPROM's serial interface, the
 * transmit context and the frame being gathered, the frame read ahead for the receive ring.
 * Registers and context are what the guest writes and the device checks at use; restore
 * refuses an EEPROM other than this NIC's (another MAC), a frame longer than the buffers, an
 * EEPROM shift state the interface cannot reach, then drives INTx from ICR & IMS and watches
 * the fd when receive is on. */
int vmm_e1000_save(vmm_e1000 *e, vmm_rec_out *o);
int vmm_e1000_restore(vmm_e1000 *e, vmm_rec_in *in, char *err, size_t errlen);

/* KVM side (e1000_vm.c): a NIC of model e1000 in vm, on its tap. */
int vmm_e1000_create(vmm_vm *vm, const vmm_nic_cfg *cfg);
/* Frees a device made by vmm_e1000_create with its tap and events (at exit, PCI gone). */
void vmm_e1000_destroy(vmm_e1000 *e);

#endif
