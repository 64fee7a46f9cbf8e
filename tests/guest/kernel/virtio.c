/*
 * virtio.c - virtio-pci modern transport and split virtqueues.
 *
 * The common configuration structure is accessed with the widths the spec
 * gives each field (8-bit status, 16-bit queue fields, 32-bit features and
 * addresses, 64-bit addresses as low then high halves). MSI-X entry 0 is the
 * config vector, entry 1+i queue i; completion is always found by polling
 * the used ring, so interrupts are counted, never waited for.
 *
 * Descriptors live on a free list threaded through .next; virtq_get() frees
 * a chain when its used entry is consumed. Rings are in the identity-mapped
 * heap, so their addresses are physical.
 */
#include "guest.h"

#define CC_DFSELECT 0
#define CC_DF 4
#define CC_GFSELECT 8
#define CC_GF 12
#define CC_MSIX_CONFIG 16
#define CC_NUM_QUEUES 18
#define CC_STATUS 20
#define CC_GENERATION 21
#define CC_Q_SELECT 22
#define CC_Q_SIZE 24
#define CC_Q_MSIX 26
#define CC_Q_ENABLE 28
#define CC_Q_NOTIFY_OFF 30
#define CC_Q_DESC 32
#define CC_Q_DRIVER 40
#define CC_Q_DEVICE 48
#define VIRTIO_NO_VECTOR 0xffff

static volatile u8 *cap_map(struct virtio_dev *v, u8 cap, u32 *len_out)
{
    struct pci_dev *d = v->pci;
    u8 bar = pci_read8(d, cap + 4);
    u32 off = pci_read32(d, cap + 8), len = pci_read32(d, cap + 12);
    volatile u8 *p = bar < 6 ? pci_bar_ptr(d, bar, off, len) : NULL;
    if (!p)
        guest_fail("virtio %04x: capability at %#x outside BAR%u", d->device, cap, bar);
    if (len_out)
        *len_out = len;
    return p;
}

static void find_caps(struct virtio_dev *v)
{
    struct pci_dev *d = v->pci;
    for (u8 c = pci_find_cap(d, 0x09, 0); c; c = pci_find_cap(d, 0x09, c)) {
        u8 type = pci_read8(d, c + 3);
        if (type == 1 && !v->common)
            v->common = cap_map(v, c, NULL);
        else if (type == 2 && !v->notify_base) {
            v->notify_base = cap_map(v, c, &v->notify_len);
            v->notify_mult = pci_read32(d, c + 16);
        } else if (type == 3 && !v->isr)
            v->isr = cap_map(v, c, NULL);
        else if (type == 4 && !v->devcfg)
            v->devcfg = cap_map(v, c, &v->devcfg_len);
    }
    if (!v->common || !v->notify_base || !v->isr)
        guest_fail("virtio %04x: COMMON, NOTIFY or ISR capability missing", d->device);
}

/* MSI-X: entry 0 config, 1..nq queues; address = this LAPIC, data = vector. */
static void msix_setup(struct virtio_dev *v, int nq)
{
    struct pci_dev *d = v->pci;
    u8 c = pci_find_cap(d, 0x11, 0);
    v->nvec = 0;
    if (!c)
        return;
    u16 ctl = pci_read16(d, c + 2);
    u32 tbl = pci_read32(d, c + 4);
    v->msix_cap = c;
    v->msix_size = (ctl & 0x7ff) + 1;
    int n = 1 + nq <= v->msix_size ? 1 + nq : v->msix_size;
    v->msix_table = pci_bar_ptr(d, tbl & 7, tbl & ~7u, (u64)v->msix_size * 16);
    if (!v->msix_table || (v->vec_base = irq_alloc_vectors(n)) < 0)
        guest_fail("virtio %04x: MSI-X table or vectors unavailable", d->device);
    u32 apic = lapic_id();
    for (int i = 0; i < n; i++) {
        volatile u8 *e = v->msix_table + 16 * i;
        mmio_write32(e + 0, 0xFEE00000u | (apic << 12));
        mmio_write32(e + 4, 0);
        mmio_write32(e + 8, (u32)(v->vec_base + i));
        mmio_write32(e + 12, 0); /* unmasked */
    }
    pci_write16(d, c + 2, (ctl | 0x8000) & ~0x4000); /* enable, function unmasked */
    v->nvec = n;
}

u8 virtio_status(struct virtio_dev *v)
{
    return mmio_read8(v->common + CC_STATUS);
}

static void set_status(struct virtio_dev *v, u8 bits)
{
    mmio_write8(v->common + CC_STATUS, virtio_status(v) | bits);
}

void virtio_reset(struct virtio_dev *v)
{
    mmio_write8(v->common + CC_STATUS, 0);
    u64 end = deadline_ms(1000);
    while (virtio_status(v) != 0)
        if (expired(end))
            guest_fail("virtio %04x: reset did not complete", v->pci->device);
}

void virtio_open(struct virtio_dev *v, u16 type, u64 wanted, int nq)
{
    memset(v, 0, sizeof *v);
    v->pci = pci_find(0x1af4, 0x1040 + type);
    if (!v->pci)
        guest_fail("no modern virtio device 1af4:%04x", 0x1040 + type);
    if (nq > VIRTIO_MAX_QUEUES)
        guest_fail("too many queues");
    pci_enable(v->pci);
    find_caps(v);
    msix_setup(v, nq);
    virtio_reset(v);
    set_status(v, VIRTIO_STATUS_ACK);
    set_status(v, VIRTIO_STATUS_DRIVER);
    mmio_write32(v->common + CC_DFSELECT, 0);
    u32 lo = mmio_read32(v->common + CC_DF);
    mmio_write32(v->common + CC_DFSELECT, 1);
    u32 hi = mmio_read32(v->common + CC_DF);
    v->offered = ((u64)hi << 32) | lo;
    if (!(v->offered & VIRTIO_F_VERSION_1))
        guest_fail("virtio %04x: VIRTIO_F_VERSION_1 not offered", v->pci->device);
    v->features = (wanted | VIRTIO_F_VERSION_1) & v->offered;
    mmio_write32(v->common + CC_GFSELECT, 0);
    mmio_write32(v->common + CC_GF, (u32)v->features);
    mmio_write32(v->common + CC_GFSELECT, 1);
    mmio_write32(v->common + CC_GF, (u32)(v->features >> 32));
    set_status(v, VIRTIO_STATUS_FEATURES_OK);
    if (!(virtio_status(v) & VIRTIO_STATUS_FEATURES_OK))
        guest_fail("virtio %04x: device refused features %#llx", v->pci->device, v->features);
    if (v->nvec) /* a device answering VIRTIO_NO_VECTOR keeps config changes silent: fine */
        mmio_write16(v->common + CC_MSIX_CONFIG, 0);
    v->nqueues = nq;
}

void virtio_queue_setup(struct virtio_dev *v, int qi, u16 max_size)
{
    struct virtq *q = &v->vq[qi];
    volatile u8 *cc = v->common;
    mmio_write16(cc + CC_Q_SELECT, (u16)qi);
    u16 size = mmio_read16(cc + CC_Q_SIZE);
    if (size == 0)
        guest_fail("virtio %04x: queue %d does not exist", v->pci->device, qi);
    while (size > max_size || (size & (size - 1)))
        size = size > max_size ? max_size : (u16)(1u << (31 - __builtin_clz(size)));
    mmio_write16(cc + CC_Q_SIZE, size);
    q->index = (u16)qi;
    q->size = size;
    q->desc = kalloc(16u * size, 4096);
    q->avail = kalloc(6u + 2u * size, 4096);
    q->used = kalloc(6u + 8u * size, 4096);
    for (u16 i = 0; i < size; i++)
        q->desc[i].next = (u16)(i + 1);
    q->free_head = 0;
    q->num_free = size;
    u64 a[3] = {(u64)(uptr)q->desc, (u64)(uptr)q->avail, (u64)(uptr)q->used};
    for (int i = 0; i < 3; i++) {
        mmio_write32(cc + CC_Q_DESC + 8 * i, (u32)a[i]);
        mmio_write32(cc + CC_Q_DESC + 8 * i + 4, (u32)(a[i] >> 32));
    }
    q->msix_entry = -1;
    if (1 + qi < v->nvec) {
        mmio_write16(cc + CC_Q_MSIX, (u16)(1 + qi));
        if (mmio_read16(cc + CC_Q_MSIX) == 1 + qi)
            q->msix_entry = 1 + qi;
    }
    u32 noff = (u32)mmio_read16(cc + CC_Q_NOTIFY_OFF) * v->notify_mult;
    if (noff + 2 > v->notify_len)
        guest_fail("virtio %04x: queue %d notify offset %#x outside the capability", v->pci->device,
                   qi, noff);
    q->notify = v->notify_base + noff;
    mmio_write16(cc + CC_Q_ENABLE, 1);
}

void virtio_driver_ok(struct virtio_dev *v)
{
    set_status(v, VIRTIO_STATUS_DRIVER_OK);
    if (virtio_status(v) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
        guest_fail("virtio %04x: device failed at DRIVER_OK (status %#x)", v->pci->device,
                   virtio_status(v));
}

void virtio_cfg_read(struct virtio_dev *v, u32 off, void *buf, u32 len)
{
    u8 *out = buf;
    if (!v->devcfg || off + len > v->devcfg_len)
        guest_fail("virtio %04x: device config %#x+%u out of range", v->pci->device, off, len);
    for (int tries = 0; tries < 100; tries++) {
        u8 gen = mmio_read8(v->common + CC_GENERATION);
        u32 i = 0;
        for (; i + 4 <= len && !((off + i) & 3); i += 4) {
            u32 w = mmio_read32(v->devcfg + off + i);
            memcpy(out + i, &w, 4);
        }
        for (; i < len; i++)
            out[i] = mmio_read8(v->devcfg + off + i);
        if (mmio_read8(v->common + CC_GENERATION) == gen)
            return;
    }
    guest_fail("virtio %04x: config generation never settled", v->pci->device);
}

u32 virtio_irqs(struct virtio_dev *v)
{
    return v->nvec ? irq_count_range(v->vec_base, v->nvec) : 0;
}

int virtq_add(struct virtq *q, const struct vbuf *b, int n)
{
    if (n <= 0 || n > q->num_free)
        return -1;
    u16 head = q->free_head, i = head, last = head;
    for (int k = 0; k < n; k++) {
        struct virtq_desc *d = &q->desc[i];
        d->addr = (u64)(uptr)b[k].addr;
        d->len = b[k].len;
        d->flags =
            (u16)((b[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        last = i;
        i = d->next;
    }
    q->free_head = q->desc[last].next;
    q->num_free = (u16)(q->num_free - n);
    q->avail->ring[q->avail->idx & (q->size - 1)] = head;
    barrier(); /* ring entry before the index */
    q->avail->idx++;
    return head;
}

void virtq_notify(struct virtq *q)
{
    mb(); /* avail.idx visible before the kick */
    mmio_write16(q->notify, q->index);
}

int virtq_get(struct virtq *q, u32 *id, u32 *len)
{
    if (q->used->idx == q->last_used)
        return 0;
    barrier();
    volatile struct virtq_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
    u32 head = e->id, l = e->len;
    q->last_used++;
    if (head < q->size) { /* give the chain back */
        u16 i = (u16)head, n = 1;
        while ((q->desc[i].flags & VIRTQ_DESC_F_NEXT) && n < q->size) {
            i = q->desc[i].next;
            n++;
        }
        q->desc[i].next = q->free_head;
        q->free_head = (u16)head;
        q->num_free = (u16)(q->num_free + n);
    }
    if (id)
        *id = head;
    if (len)
        *len = l;
    return 1;
}

int virtq_wait(struct virtq *q, u64 ms, u32 *id, u32 *len)
{
    u64 end = deadline_ms(ms);
    while (!virtq_get(q, id, len)) {
        if (expired(end))
            return -1;
        cpu_relax();
    }
    return 0;
}

int virtq_call(struct virtq *q, const struct vbuf *b, int n, u64 ms, u32 *len)
{
    u32 id;
    int head = virtq_add(q, b, n);
    if (head < 0)
        return -1;
    virtq_notify(q);
    if (virtq_wait(q, ms, &id, len) < 0 || id != (u32)head)
        return -1;
    return 0;
}
