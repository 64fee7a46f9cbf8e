/*
 * virtio_pci.h - the modern virtio-pci transport (virtio 1.x, section 4.1)
 * and the device model every virtio device plugs into.
 *
 * One 32-bit memory BAR (BAR0, 16 KiB) holds all of a device's registers:
 *   0x0000 common configuration     0x1000 ISR status
 *   0x2000 device configuration     0x3000 queue notify (4 bytes a queue)
 *   0x0800 MSI-X table              0x0c00 MSI-X pending bits
 * described by vendor capabilities (COMMON, NOTIFY, ISR, DEVICE, and PCI_CFG:
 * the configuration access window every device must offer, 4.1.4.7) and an
 * MSI-X capability. Notifications arrive through one ioeventfd per queue on
 * the notify area and are handled on the event thread; interrupts go out
 * through one irqfd per MSI-X vector, routed as MSI by irq.c.
 *
 * Failure. When a device finds the driver's data malformed (a bad ring
 * address, a looping or out-of-bounds descriptor chain) it calls
 * vmm_virtio_fail(): DEVICE_NEEDS_RESET (0x40) is set in device_status, the
 * driver gets a configuration-change interrupt, and no queue of that device
 * is processed again until the driver resets it (status 0). Other devices
 * and the VM carry on.
 *
 * Registry ("virtio-blk@03": the kind and the PCI slot, which the build
 * order fixes for a config; config ids need not be unique): reset is
 * vmm_virtio_reset(); the transport saves and restores the generic state, as
 * Firecracker's virtio persist module does: device and driver features and
 * their selectors, status, config generation, ISR, the failed flag, queue
 * select, the config vector, each queue's size, enable, vector, ring
 * addresses, last_avail, used index, last signalled index and event-index
 * flag, the MSI-X table and pending bits. The device appends only its own
 * (save_extra / restore_extra). Restore refuses features we do not offer,
 * vectors past the table, an enabled queue whose size or rings would not
 * pass vmm_vq_start() against this VM's RAM; it then re-routes every
 * vector, listens on live queues, kicks each once (a kick the saved VM had
 * not handled yet is not lost) and, for a driver-ready device, runs its
 * activate hook (virtio-net sets the tap's offloads).
 */
#ifndef VMM_VIRTIO_PCI_H
#define VMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdint.h>

#include "pci.h"
#include "virtq.h"
#include "vmm.h"

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_MSIX_VECTORS (VIRTIO_MAX_QUEUES + 1)

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4

#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

typedef struct vmm_virtio vmm_virtio;

typedef struct vmm_virtio_ops {
    uint16_t type;       /* VIRTIO_ID_* */
    uint32_t class_code; /* PCI class << 8 | subclass */
    uint64_t features;   /* offered; VERSION_1 is added by the transport */
    int nqueues;
    uint16_t queue_size;
    uint32_t config_len;
    const char *rom; /* expansion ROM file (pci.h), NULL for none */
    /* Device configuration space accesses (dev lock held). */
    void (*config_read)(vmm_virtio *v, uint32_t off, uint8_t *data, uint32_t len);
    void (*config_write)(vmm_virtio *v, uint32_t off, const uint8_t *data, uint32_t len);
    /* The driver kicked queue q (event thread, dev lock held, DRIVER_OK, not failed). */
    void (*notify)(vmm_virtio *v, int q);
    /* DRIVER_OK was set (dev lock held). */
    void (*activate)(vmm_virtio *v);
    /* The driver reset the device (dev lock held). */
    void (*reset)(vmm_virtio *v);
    /* Frees priv and the back end (at exit, after every thread is gone). */
    void (*destroy)(vmm_virtio *v);
    /* The device's own state, after the transport's in its record (dev lock held); NULL when
     * it has none. restore_extra checks what it reads and calls vmm_rec_in_done() before
     * changing anything; the transport applies its part only after that. */
    void (*save_extra)(vmm_virtio *v, vmm_rec_out *o);
    int (*restore_extra)(vmm_virtio *v, vmm_rec_in *in, char *err, size_t errlen);
} vmm_virtio_ops;

struct vmm_virtio {
    vmm_pci_dev pci;
    vmm_vm *vm;
    const vmm_virtio_ops *ops;
    void *priv;
    char id[32];
    pthread_mutex_t lock;

    uint8_t status;
    uint8_t config_gen;
    uint8_t isr;
    int failed;
    uint32_t dfselect, gfselect;
    uint64_t driver_features;
    uint16_t queue_select;
    uint16_t msix_config;
    vmm_vq vq[VIRTIO_MAX_QUEUES];

    int kick_fd[VIRTIO_MAX_QUEUES];
    struct event *kick_ev[VIRTIO_MAX_QUEUES];
    uint32_t notify_base; /* guest address the ioeventfds are bound to, 0 if none */

    uint32_t msix[VIRTIO_MSIX_VECTORS][4]; /* addr lo, addr hi, data, control */
    uint32_t msix_pba;
    uint32_t gsi[VIRTIO_MSIX_VECTORS];
    int irq_fd[VIRTIO_MSIX_VECTORS];
    uint64_t interrupts;
};

/* Where the PCI configuration access capability (VIRTIO_PCI_CAP_PCI_CFG, virtio 1.0 4.1.4.7)
 * sits in configuration space: a virtio_pci_cap whose bar, offset and length the driver
 * writes, then 4 bytes of pci_cfg_data, a window onto the BAR for drivers that cannot map it
 * (iPXE refuses a modern device without this capability). */
#define VMM_VIRTIO_CAP_PCI_CFG 0x90
/* The PCI configuration hooks' part for that window, for an access to config bytes [off,
 * off+len): when it touches pci_cfg_data, a read first reads cap.length bytes of BAR cap.bar
 * at cap.offset into pci_cfg_data, a write then writes them from it, through the BAR's own
 * handler. The fields are the guest's: a BAR the device lacks, a length other than 1, 2 or 4,
 * an offset not aligned to it or past the BAR access nothing (a read finds all ones). */
void vmm_virtio_cfg_window(vmm_pci_dev *d, uint32_t off, uint32_t len, int is_write);

/* Creates the transport for a device and puts it on the PCI bus. */
int vmm_virtio_create(vmm_vm *vm, const vmm_virtio_ops *ops, void *priv, const char *id,
                      vmm_virtio **out);
/* Interrupts the driver for queue q (a used-buffer notification). */
void vmm_virtio_notify_queue(vmm_virtio *v, int q);
/* Puts the device into the failed (needs-reset) state; dev lock held. */
void vmm_virtio_fail(vmm_virtio *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees a device and its back end (at exit). */
void vmm_virtio_destroy(vmm_virtio *v);
/* Device reset from the VMM side (reboot). */
void vmm_virtio_reset(vmm_virtio *v);
/* 1 when queue q may be processed (driver ready, queue enabled, not failed). */
int vmm_virtio_queue_ready(vmm_virtio *v, int q);
/* Pops the next chain of queue q, failing the device on a malformed one. */
int vmm_virtio_pop(vmm_virtio *v, int q, vmm_vq_chain *c);

#endif
