/*
 * virtq.h - split virtqueues (virtio 1.x section 2.7) walked defensively.
 *
 * Everything in a virtqueue is written by the guest and therefore hostile:
 * the ring addresses, the available index, every descriptor. vmm_vq_pop()
 * copies each descriptor out of guest memory exactly once, then checks it:
 *   - head and next indices below the queue size,
 *   - at most `size` descriptors per chain, indirect ones included (so a
 *     loop ends as an error, never as a hang),
 *   - an indirect table only in the top-level chain, 16-byte aligned length,
 *     wholly in RAM, never nested, never combined with NEXT,
 *   - every buffer [addr, addr+len) wholly in guest RAM (overflow-safe),
 *   - device-readable buffers before device-writable ones,
 *   - the available index never more than `size` ahead of what we consumed.
 * With VIRTIO_RING_F_EVENT_IDX (event_idx set) the device writes avail_event
 * (after the used ring) whenever it finds the ring empty, so the driver
 * kicks only for buffers posted after that, and interrupts only when the
 * used index passes the driver's used_event (after the available ring).
 * Any violation returns -EINVAL; the caller then fails the device
 * (DEVICE_NEEDS_RESET) and stops touching the queue. The code has no KVM
 * dependency: fuzz/vmm/ runs it over a fake guest memory buffer.
 */
#ifndef VMM_VIRTQ_H
#define VMM_VIRTQ_H

#include <stdint.h>
#include <sys/uio.h>

#include "gmem.h"

#define VMM_VQ_MAX_SIZE 256

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1

typedef struct vmm_vq {
    /* Set by the driver through the common configuration. */
    uint16_t size; /* queue_size, a power of two <= max_size */
    uint16_t max_size;
    uint16_t enabled;
    uint16_t msix_vector;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    /* Device side. */
    uint16_t last_avail; /* next avail entry to consume */
    uint16_t used_idx;   /* our copy of used->idx */
    uint16_t signalled;  /* used_idx when we last decided about an interrupt */
    uint16_t event_idx;  /* VIRTIO_RING_F_EVENT_IDX negotiated */
    uint8_t *desc;       /* host pointers, valid once vmm_vq_start() succeeded */
    uint8_t *avail;
    uint8_t *used;
    const vmm_gmem *gm; /* the RAM the rings are in (vmm_vq_start): what the device writes to
                         * it is marked for a live migration (vmm_gmem_mark) */
} vmm_vq;

typedef struct vmm_vq_chain {
    uint16_t head;
    int nr, nw;          /* readable iovecs first, then writable ones */
    uint64_t rlen, wlen; /* total bytes each way */
    struct iovec iov[VMM_VQ_MAX_SIZE];
} vmm_vq_chain;

/* Checks and resolves the ring addresses; 0 or -EINVAL. */
int vmm_vq_start(vmm_vq *vq, const vmm_gmem *m);
/* Back to the reset state (keeps max_size). */
void vmm_vq_reset(vmm_vq *vq);
/* 1 with a chain in c, 0 when the ring is empty, -EINVAL when malformed. */
int vmm_vq_pop(vmm_vq *vq, const vmm_gmem *m, vmm_vq_chain *c);
/* Returns the chain `head` to the driver with `len` bytes written. */
void vmm_vq_push(vmm_vq *vq, uint16_t head, uint32_t len);
/* Returns n chains at once: the driver sees the used index move past all of them
 * together (a frame spread over mergeable receive buffers). */
void vmm_vq_push_many(vmm_vq *vq, const uint16_t *heads, const uint32_t *lens, int n);
/* 1 when the driver wants an interrupt for what was pushed since the last call
 * (NO_INTERRUPT clear; with event_idx, used_event passed). */
int vmm_vq_should_notify(vmm_vq *vq);
/* 1 when the driver has posted buffers we have not consumed (when not, with event_idx,
 * asks for a kick at the next one). */
int vmm_vq_has_avail(vmm_vq *vq);
/* Copies up to len bytes out of the readable part of a chain at offset off. */
uint64_t vmm_vq_read(const vmm_vq_chain *c, uint64_t off, void *buf, uint64_t len);
/* Copies into the writable part of a chain at offset off; bytes written. */
uint64_t vmm_vq_write(const vmm_vq_chain *c, uint64_t off, const void *buf, uint64_t len);
/* The bytes [skip, skip+len) of iov[0..n) as a new iovec list in out (room for n); its count. */
int vmm_iov_slice(const struct iovec *iov, int n, uint64_t skip, uint64_t len, struct iovec *out);

#endif
