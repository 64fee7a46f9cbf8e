/*
 * disk.h - the block back end virtio-blk talks to.
 *
 * Raw files use preadv/pwritev straight into guest buffers; qcow2 images go
 * through the image store's disk library when the build has it
 * (STRATUS_HAVE_DISK), with a bounce buffer. All calls happen on the event
 * thread, one at a time, which is also what the disk library asks for.
 */
#ifndef VMM_DISK_H
#define VMM_DISK_H

#include <stdint.h>
#include <sys/uio.h>

#include "config.h"

typedef struct vmm_disk vmm_disk;

#define VMM_DISK_MAX_IOV 256

int vmm_disk_open(const vmm_disk_cfg *cfg, vmm_disk **out);
uint64_t vmm_disk_size(vmm_disk *d);
/* Full transfers or a negative errno. */
int vmm_disk_readv(vmm_disk *d, const struct iovec *iov, int n, uint64_t off);
int vmm_disk_writev(vmm_disk *d, const struct iovec *iov, int n, uint64_t off);
int vmm_disk_flush(vmm_disk *d);
int vmm_disk_discard(vmm_disk *d, uint64_t off, uint64_t len);
void vmm_disk_close(vmm_disk *d);

/* Block migration (mirror.c). While bitmap is set, every write and discard sets the bits of
 * the VMM_DISK_GRAIN-sized pieces of the disk it touches (atomically: another thread takes
 * them); NULL ends it. The caller keeps bitmap alive for as long as the disk may use it. */
#define VMM_DISK_GRAIN_SHIFT 16 /* 64 KiB: a qcow2 cluster */
#define VMM_DISK_GRAIN (1ull << VMM_DISK_GRAIN_SHIFT)
void vmm_disk_track(vmm_disk *d, uint64_t *bitmap);
/* Whether the image itself holds [off, off + *pnum) (1) or it reads from the backing file or
 * a hole (0); st_disk_block_status's answer. A negative errno on failure. */
int vmm_disk_block_status(vmm_disk *d, uint64_t off, uint64_t len, uint64_t *pnum);
/* The format (a VMM_MIG_DISK_* value: 1 raw, 2 qcow2) and the backing file's name without its
 * directory ("" when none) into backing. */
int vmm_disk_format(vmm_disk *d, char *backing, size_t len);

#endif
