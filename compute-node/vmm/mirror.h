/*
 * mirror.h - block migration: a live migration that copies the VM's local disks along with its
 * memory, mirrored while the guest writes (QEMU's drive-mirror; OpenStack's block_migration).
 * See mirror.c. migrate.c calls these at the points of a migration named below.
 */
#ifndef VMM_MIRROR_H
#define VMM_MIRROR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "migmsg.h"
#include "vmm.h"

/* ---- source (migrate.c's worker, except vmm_mirror_final) ---- */

/* After HELLO and before the first round: every writable local disk (not read-only, not Ceph
 * RBD: those are shared) gets a dirty bitmap that its writes mark, a DISK_BEGIN, and its first
 * pass (what the image itself holds: a qcow2 overlay's clusters, a raw file's data) queued.
 * stop(0) says when to give up. 0, or a negative errno with err filled. */
int vmm_mirror_start(vmm_vm *vm, int sock, int (*stop)(int final), char *err, size_t errlen);
/* A migration starts (with or without block migration): the disk figures go back to 0. */
void vmm_mirror_reset(void);
/* Sends every queued block (reading each on the event thread); 0, -ECANCELED (stop) or a
 * negative errno. *wire grows by the bytes sent, headers included. */
int vmm_mirror_send(vmm_vm *vm, int sock, uint64_t *wire);
/* The blocks the guest wrote since the last call, queued; the bytes now queued. */
uint64_t vmm_mirror_harvest(void);
/* The final round (event thread, vCPUs parked, before the disks are released): the last
 * dirty blocks. 0 or a negative errno. */
int vmm_mirror_final(vmm_vm *vm, int sock, uint64_t *wire);
/* Ends the tracking (any outcome). */
void vmm_mirror_stop(vmm_vm *vm);
/* GET /vm/migrate's disk figures into j: disk_total_bytes (the copied disks' sizes),
 * disk_transferred_bytes (ranges sent, zeros and resends included), disk_remaining_bytes. */
void vmm_mirror_status(json_t *j);

/* ---- target (migrate.c's receiver) ---- */

/* A DISK_BEGIN (checked against cfg: a writable local disk of the same format and size, a
 * qcow2 overlay of a backing file of the same name, and fresh: the image holds nothing yet)
 * or a DISK (written through the disk library). 0, or -EINVAL with err filled. */
int vmm_mirror_recv(const vmm_config *cfg, const vmm_mig_frame *f, char *err, size_t errlen);
/* STATE came: every disk received is flushed and closed (the VM opens it then); 0, or a
 * negative errno with err filled. */
int vmm_mirror_finish(char *err, size_t errlen);
/* A refusal: the partial disks are closed (the process exits 2; they are never used). */
void vmm_mirror_abort(void);

#endif
