/*
 * devices.h - constructors of the virtio devices and their counters, and the
 * tap every NIC model opens.
 *
 * Counters are cumulative since the VMM started and are written only on the
 * event thread, which is also where the control API reads them.
 */
#ifndef VMM_DEVICES_H
#define VMM_DEVICES_H

#include <stdint.h>

#include "config.h"
#include "virtio_pci.h"
#include "vmm.h"

typedef struct vmm_blk_stats {
    uint64_t read_bytes, read_ops, write_bytes, write_ops, flush_ops, discard_ops, errors;
} vmm_blk_stats;

typedef struct vmm_net_stats {
    uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets, rx_dropped;
} vmm_net_stats;

int vmm_rng_create(vmm_vm *vm);
int vmm_blk_create(vmm_vm *vm, const vmm_disk_cfg *cfg);
int vmm_net_create(vmm_vm *vm, const vmm_nic_cfg *cfg);
/* Opens tap `name` non-blocking, offloads off; with a virtio-net header of vnet_hdr_len
 * bytes (IFF_VNET_HDR) or, when 0, plain Ethernet frames. The fd, or -errno. */
int vmm_tap_open(const char *name, int vnet_hdr_len);
/* The descriptor of the tap this process opened as name, or -1 (a live upgrade sends it). */
int vmm_tap_fd(const char *name);
/* The next vmm_tap_open(name) takes fd, handed over by the old process of a live upgrade. */
int vmm_tap_adopt(const char *name, int fd);
/* A RARP frame from mac (as QEMU's announce-self sends), after a zeroed virtio-net header of
 * hdr_len bytes: its length, or 0 when cap is too small. */
size_t vmm_tap_rarp(uint8_t *buf, size_t cap, int hdr_len, const uint8_t mac[6]);
/* Announces a guest that moved to this host: RARP frames from each NIC's MAC written to its
 * tap (one this process opened) now and at 50, 150, 250 and 350 ms, on base's timers, then
 * logged; a second call replaces one under way. The number of NICs announced, or -ENOMEM.
 * Event thread. */
int vmm_tap_announce(struct event_base *base, const vmm_config *cfg);

/* A live migration's end: release flushes and closes the disk of a virtio-blk device (its
 * qcow2 lock with it) so that the target can open it; requests wait in the ring meanwhile;
 * release 0 opens it again (or first: a target's disk left closed by its early build,
 * vm->built_early), the device's capacity read from it. 0 or a negative errno; 0 for a device that
 * is not a disk. Event thread. */
int vmm_blk_release(vmm_virtio *v, int release);
/* The disk of a virtio-blk device and its config (block migration, mirror.c); NULL for a
 * device that is not a disk or a released one. Event thread, or with the vCPUs parked. */
struct vmm_disk *vmm_blk_disk(vmm_virtio *v, const vmm_disk_cfg **cfg);
/* Stats of a device made by vmm_blk_create / vmm_net_create; NULL for others. */
const vmm_blk_stats *vmm_blk_stats_of(vmm_virtio *v);
const vmm_net_stats *vmm_net_stats_of(vmm_virtio *v);

#endif
