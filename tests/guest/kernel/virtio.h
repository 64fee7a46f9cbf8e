/*
 * virtio.h - the guest's virtio 1.x driver core: modern virtio-pci transport
 * (COMMON/NOTIFY/ISR/DEVICE capabilities, MSI-X) and split virtqueues.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#define VIRTIO_F_RING_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTIO_STATUS_ACK 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_desc {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};
struct virtq_avail {
    u16 flags;
    u16 idx;
    u16 ring[];
};
struct virtq_used_elem {
    u32 id;
    u32 len;
};
struct virtq_used {
    u16 flags;
    u16 idx;
    struct virtq_used_elem ring[];
};

struct virtq {
    u16 index, size;
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    volatile struct virtq_used *used;
    u16 last_used;           /* used entries consumed so far (free running) */
    u16 free_head, num_free; /* descriptor free list through .next */
    volatile u8 *notify;
    int msix_entry; /* -1 when the device refused the vector */
};

#define VIRTIO_MAX_QUEUES 4
struct virtio_dev {
    struct pci_dev *pci;
    volatile u8 *common, *isr, *devcfg, *notify_base;
    u32 notify_mult, notify_len, devcfg_len;
    u64 offered, features;
    volatile u8 *msix_table;
    u16 msix_size;
    u8 msix_cap;
    int vec_base, nvec; /* vectors: vec_base + entry */
    int nqueues;
    struct virtq vq[VIRTIO_MAX_QUEUES];
};

/* Finds device 0x1040+type, maps its capabilities, sets up MSI-X for nq
 * queues, resets it and negotiates wanted & offered (plus VERSION_1, which
 * must be offered). Fails the run when any step fails. */
void virtio_open(struct virtio_dev *v, u16 type, u64 wanted, int nq);
/* Sets up queue q with at most max_size entries (power of two). */
void virtio_queue_setup(struct virtio_dev *v, int q, u16 max_size);
void virtio_driver_ok(struct virtio_dev *v);
u8 virtio_status(struct virtio_dev *v);
void virtio_reset(struct virtio_dev *v);
/* Device-specific configuration, read consistently (config_generation). */
void virtio_cfg_read(struct virtio_dev *v, u32 off, void *buf, u32 len);
u32 virtio_irqs(struct virtio_dev *v);

/* Buffers of one request, in order: device-readable first, then writable. */
struct vbuf {
    void *addr;
    u32 len;
    int writable;
};
/* Takes n descriptors, links them, puts the chain in the avail ring; -1 when
 * not enough are free. Returns the head. Does not notify. */
int virtq_add(struct virtq *q, const struct vbuf *b, int n);
void virtq_notify(struct virtq *q);
/* One used entry, if any: 1 and its id/len (and the chain is freed). */
int virtq_get(struct virtq *q, u32 *id, u32 *len);
/* Polls for one used entry for up to ms milliseconds; 0 or -1 on timeout. */
int virtq_wait(struct virtq *q, u64 ms, u32 *id, u32 *len);
/* Submits a chain, notifies, waits; returns 0 or -1 (timeout or wrong id). */
int virtq_call(struct virtq *q, const struct vbuf *b, int n, u64 ms, u32 *len);

#endif
