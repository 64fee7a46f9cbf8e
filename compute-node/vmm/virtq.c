/*
 * virtq.c - split virtqueue walking; see virtq.h for the rules enforced.
 *
 * Memory ordering: the guest publishes avail->idx after the ring entries it
 * covers, so we load idx with acquire semantics before reading entries; we
 * publish used entries before used->idx with a release store. Descriptors
 * are copied to the stack before validation so the guest cannot change a
 * field between its check and its use.
 */
#include "virtq.h"

#include <errno.h>
#include <string.h>

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

static uint16_t load16_acquire(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static uint16_t load16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

void vmm_vq_reset(vmm_vq *vq)
{
    uint16_t max = vq->max_size;
    memset(vq, 0, sizeof *vq);
    vq->max_size = max;
    vq->size = max;
    vq->msix_vector = 0xffff;
}

int vmm_vq_start(vmm_vq *vq, const vmm_gmem *m)
{
    uint16_t n = vq->size;
    if (n == 0 || n > vq->max_size || (n & (n - 1)))
        return -EINVAL;
    if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
        return -EINVAL;
    vq->desc = vmm_gmem_ptr(m, vq->desc_gpa, 16ull * n);
    vq->avail = vmm_gmem_ptr(m, vq->avail_gpa, 6ull + 2ull * n);
    vq->used = vmm_gmem_ptr(m, vq->used_gpa, 6ull + 8ull * n);
    if (!vq->desc || !vq->avail || !vq->used)
        return -EINVAL;
    vq->last_avail = 0;
    vq->used_idx = 0;
    vq->signalled = 0;
    vq->gm = m;
    return 0;
}

/* The driver's available index; with event_idx, when the ring looks empty, first
 * asks for a kick at the next buffer (avail_event = last_avail), then looks again,
 * so a buffer posted in between is not missed. */
static uint16_t avail_idx_arm(vmm_vq *vq)
{
    uint16_t idx = load16_acquire(vq->avail + 2);
    if (idx != vq->last_avail || !vq->event_idx)
        return idx;
    uint16_t ev = vq->last_avail;
    memcpy(vq->used + 4 + 8u * vq->size, &ev, 2);
    vmm_gmem_mark(vq->gm, vq->used + 4 + 8u * vq->size, 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return load16_acquire(vq->avail + 2);
}

int vmm_vq_has_avail(vmm_vq *vq)
{
    return vq->avail && avail_idx_arm(vq) != vq->last_avail;
}

/* Adds one checked buffer to the chain. */
static int chain_add(vmm_vq_chain *c, const vmm_gmem *m, const struct vring_desc *d, int *count,
                     int limit)
{
    if (++*count > limit)
        return -EINVAL; /* a loop or an overlong chain */
    void *p = vmm_gmem_ptr(m, d->addr, d->len);
    if (!p)
        return -EINVAL;
    if (d->flags & VRING_DESC_F_WRITE) {
        /* Marked when taken, before the device writes it: a migration takes the VMM's marks
         * of one round again in the next (migrate.c), and a device writes a chain within the
         * event-thread callback that took it. */
        vmm_gmem_mark(m, p, d->len);
        c->iov[c->nr + c->nw].iov_base = p;
        c->iov[c->nr + c->nw].iov_len = d->len;
        c->nw++;
        c->wlen += d->len;
    } else {
        if (c->nw)
            return -EINVAL; /* readable after writable */
        c->iov[c->nr].iov_base = p;
        c->iov[c->nr].iov_len = d->len;
        c->nr++;
        c->rlen += d->len;
    }
    return 0;
}

/* Walks an indirect table of len bytes at gpa. */
static int walk_indirect(vmm_vq_chain *c, const vmm_gmem *m, uint64_t gpa, uint32_t len, int *count,
                         int limit)
{
    if (len == 0 || (len % 16) || len / 16 > (uint32_t)limit)
        return -EINVAL;
    const uint8_t *tab = vmm_gmem_ptr(m, gpa, len);
    if (!tab)
        return -EINVAL;
    uint32_t n = len / 16, i = 0;
    for (uint32_t steps = 0;; steps++) {
        struct vring_desc d;
        if (steps >= n)
            return -EINVAL; /* loop inside the table */
        memcpy(&d, tab + 16ull * i, sizeof d);
        if (d.flags & VRING_DESC_F_INDIRECT)
            return -EINVAL; /* nested */
        int rc = chain_add(c, m, &d, count, limit);
        if (rc)
            return rc;
        if (!(d.flags & VRING_DESC_F_NEXT))
            return 0;
        if (d.next >= n)
            return -EINVAL;
        i = d.next;
    }
}

int vmm_vq_pop(vmm_vq *vq, const vmm_gmem *m, vmm_vq_chain *c)
{
    if (!vq->avail)
        return -EINVAL;
    uint16_t n = vq->size;
    uint16_t avail_idx = avail_idx_arm(vq);
    if (avail_idx == vq->last_avail)
        return 0;
    if ((uint16_t)(avail_idx - vq->last_avail) > n)
        return -EINVAL;
    uint16_t head = load16(vq->avail + 4 + 2u * (vq->last_avail % n));
    if (head >= n)
        return -EINVAL;
    c->head = head;
    c->nr = c->nw = 0;
    c->rlen = c->wlen = 0;
    int count = 0, limit = n;
    uint16_t i = head;
    for (;;) {
        struct vring_desc d;
        memcpy(&d, vq->desc + 16u * i, sizeof d);
        int rc;
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (d.flags & VRING_DESC_F_NEXT)
                return -EINVAL;
            rc = walk_indirect(c, m, d.addr, d.len, &count, limit);
        } else {
            rc = chain_add(c, m, &d, &count, limit);
        }
        if (rc)
            return rc;
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (d.next >= n)
            return -EINVAL;
        i = d.next;
    }
    vq->last_avail++;
    return 1;
}

void vmm_vq_push_many(vmm_vq *vq, const uint16_t *heads, const uint32_t *lens, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t *e = vq->used + 4 + 8u * (vq->used_idx % vq->size);
        uint32_t id = heads[i];
        memcpy(e, &id, 4);
        memcpy(e + 4, &lens[i], 4);
        vq->used_idx++;
    }
    __atomic_store_n((uint16_t *)(vq->used + 2), vq->used_idx, __ATOMIC_RELEASE);
    vmm_gmem_mark(vq->gm, vq->used, 4 + 8ull * vq->size);
}

void vmm_vq_push(vmm_vq *vq, uint16_t head, uint32_t len)
{
    vmm_vq_push_many(vq, &head, &len, 1);
}

int vmm_vq_should_notify(vmm_vq *vq)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!vq->event_idx)
        return !(load16(vq->avail) & VRING_AVAIL_F_NO_INTERRUPT);
    /* virtio 1.x 2.7.10: interrupt when used_event lies in [old, new). */
    uint16_t used_event = load16(vq->avail + 4 + 2u * vq->size);
    uint16_t old = vq->signalled, now = vq->used_idx;
    vq->signalled = now;
    return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

uint64_t vmm_vq_read(const vmm_vq_chain *c, uint64_t off, void *buf, uint64_t len)
{
    uint64_t done = 0;
    for (int i = 0; i < c->nr && done < len; i++) {
        uint64_t l = c->iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        uint64_t k = l - off < len - done ? l - off : len - done;
        memcpy((uint8_t *)buf + done, (uint8_t *)c->iov[i].iov_base + off, k);
        done += k;
        off = 0;
    }
    return done;
}

uint64_t vmm_vq_write(const vmm_vq_chain *c, uint64_t off, const void *buf, uint64_t len)
{
    uint64_t done = 0;
    for (int i = c->nr; i < c->nr + c->nw && done < len; i++) {
        uint64_t l = c->iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        uint64_t k = l - off < len - done ? l - off : len - done;
        memcpy((uint8_t *)c->iov[i].iov_base + off, (const uint8_t *)buf + done, k);
        done += k;
        off = 0;
    }
    return done;
}

int vmm_iov_slice(const struct iovec *iov, int n, uint64_t skip, uint64_t len, struct iovec *out)
{
    int k = 0;
    for (int i = 0; i < n && len; i++) {
        uint64_t l = iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        uint64_t take = l - skip < len ? l - skip : len;
        out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
        out[k].iov_len = take;
        k++;
        len -= take;
        skip = 0;
    }
    return k;
}
