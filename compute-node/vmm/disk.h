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

#endif
