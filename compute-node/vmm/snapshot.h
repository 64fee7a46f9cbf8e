/*
 * snapshot.h - snapshot a paused VM into a directory, restore one (see snapshot.c; the
 * vmstate file's format is snapfile.h's).
 */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "snapfile.h"
#include "vmm.h"

/* Writes DIR/memory and DIR/vmstate of a paused VM (every vCPU parked; event thread);
 * 0 or a negative errno with err filled (-ENOTSUP: a device that cannot be saved). */
int vmm_snapshot_save(vmm_vm *vm, const char *dir, char *err, size_t errlen);
/* The vmstate (snapfile.h) of a paused VM as a malloc'd buffer, without its memory: what
 * a snapshot writes and a live upgrade sends; 0 or a negative errno with err filled. */
int vmm_snapshot_state(vmm_vm *vm, uint8_t **file, size_t *file_len, char *err, size_t errlen);
/* Reads DIR/vmstate into s and opens DIR/memory (*mem_fd); 0 or -EINVAL with err filled. */
int vmm_snapshot_load(const char *dir, vmm_snapshot *s, int *mem_fd, char *err, size_t errlen);
/* Puts the saved KVM, vCPU and device state into a VM built from s's config (vCPUs
 * created, not started); 0 or a negative errno with err filled. */
int vmm_snapshot_restore(vmm_vm *vm, const vmm_snapshot *s, char *err, size_t errlen);

/* Whether the 4 KiB page at p is all zeros (a snapshot leaves it a hole, a migration sends a
 * flag). */
int vmm_page_is_zero(const uint8_t *p);

#endif
