/*
 * virtio_pci.c - the modern virtio-pci transport (see virtio_pci.h).
 *
 * Common configuration accesses of any width are handled by rendering the
 * 56-byte structure into a buffer, reading or patching the accessed bytes,
 * and applying every writable field the access touched: the guest may use
 * 8-, 16- or 32-bit accesses and this keeps the register file in one place.
 * Queue registers are writable only while the queue is disabled; enabling a
 * queue validates its ring addresses against guest RAM (a bad one fails the
 * device). Feature negotiation refuses FEATURES_OK unless the driver accepted
 * VERSION_1 and nothing we did not offer. A device without a config space
 * (config_len 0, virtio-rng) has no device-config capability.
 */
#include "virtio_pci.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "stratus/log.h"

#define BAR_SIZE 0x4000
#define OFF_COMMON 0x0000
#define LEN_COMMON 0x38
#define OFF_MSIX_TABLE 0x0800
#define OFF_MSIX_PBA 0x0c00
#define OFF_ISR 0x1000
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define NOTIFY_MULT 4

#define CAP_MSIX 0x40
#define CAP_COMMON 0x4c
#define CAP_NOTIFY 0x5c
#define CAP_ISR 0x70
#define CAP_DEVICE 0x80
#define CAP_PCI_CFG VMM_VIRTIO_CAP_PCI_CFG /* 20 bytes: the cap, then pci_cfg_data */

static uint16_t msix_ctrl(vmm_virtio *v)
{
    uint16_t c;
    memcpy(&c, &v->pci.cfg[CAP_MSIX + 2], 2);
    return c;
}

static void signal_vector(vmm_virtio *v, uint16_t vec)
{
    if (vec >= VIRTIO_MSIX_VECTORS)
        return;
    uint16_t ctrl = msix_ctrl(v);
    if (!(ctrl & 0x8000))
        return; /* MSI-X off: the ISR bit is all the driver gets (no INTx) */
    if ((ctrl & 0x4000) || (v->msix[vec][3] & 1)) {
        v->msix_pba |= 1u << vec;
        return;
    }
    uint64_t one = 1;
    if (write(v->irq_fd[vec], &one, 8) == 8)
        v->interrupts++;
}

static void deliver_pending(vmm_virtio *v)
{
    uint16_t ctrl = msix_ctrl(v);
    if (!(ctrl & 0x8000) || (ctrl & 0x4000))
        return;
    for (uint16_t i = 0; i < VIRTIO_MSIX_VECTORS; i++) {
        if ((v->msix_pba & (1u << i)) && !(v->msix[i][3] & 1)) {
            v->msix_pba &= ~(1u << i);
            signal_vector(v, i);
        }
    }
}

void vmm_virtio_notify_queue(vmm_virtio *v, int q)
{
    v->isr |= 1;
    signal_vector(v, v->vq[q].msix_vector);
}

void vmm_virtio_fail(vmm_virtio *v, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (v->failed)
        return;
    v->failed = 1;
    v->status |= VIRTIO_STATUS_NEEDS_RESET;
    st_warn("vmm.virtio.failed", "%s: device failed, needs reset: %s", v->id, msg);
    if (v->status & VIRTIO_STATUS_DRIVER_OK) {
        v->isr |= 2;
        v->config_gen++;
        signal_vector(v, v->msix_config);
    }
}

int vmm_virtio_queue_ready(vmm_virtio *v, int q)
{
    return q < v->ops->nqueues && !v->failed && (v->status & VIRTIO_STATUS_DRIVER_OK) &&
           v->vq[q].enabled;
}

int vmm_virtio_pop(vmm_virtio *v, int q, vmm_vq_chain *c)
{
    int rc = vmm_vq_pop(&v->vq[q], &v->vm->gmem, c);
    if (rc < 0)
        vmm_virtio_fail(v, "queue %d: malformed descriptor chain at avail entry %u", q,
                        v->vq[q].last_avail);
    return rc;
}

static void reset_locked(vmm_virtio *v)
{
    v->status = 0;
    v->failed = 0;
    v->isr = 0;
    v->dfselect = v->gfselect = 0;
    v->driver_features = 0;
    v->queue_select = 0;
    v->msix_config = 0xffff;
    for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        vmm_vq_reset(&v->vq[q]);
        if (v->kick_ev[q])
            event_del_noblock(v->kick_ev[q]); /* noblock: kick_cb may be waiting for our lock */
    }
    v->msix_pba = 0;
    if (v->ops->reset)
        v->ops->reset(v);
}

void vmm_virtio_reset(vmm_virtio *v)
{
    pthread_mutex_lock(&v->lock);
    reset_locked(v);
    for (int i = 0; i < VIRTIO_MSIX_VECTORS; i++) {
        v->msix[i][0] = v->msix[i][1] = v->msix[i][2] = 0;
        v->msix[i][3] = 1;
    }
    vmm_pci_set16(&v->pci, CAP_MSIX + 2, VIRTIO_MSIX_VECTORS - 1);
    pthread_mutex_unlock(&v->lock);
}

/* ---- common configuration ---- */

static uint64_t offered(vmm_virtio *v)
{
    return v->ops->features | VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC;
}

static void common_render(vmm_virtio *v, uint8_t *b)
{
    vmm_vq *vq = v->queue_select < v->ops->nqueues ? &v->vq[v->queue_select] : NULL;
    uint32_t dfeat = v->dfselect < 2 ? (uint32_t)(offered(v) >> (32 * v->dfselect)) : 0;
    uint32_t gfeat = v->gfselect < 2 ? (uint32_t)(v->driver_features >> (32 * v->gfselect)) : 0;
    uint16_t nq = (uint16_t)v->ops->nqueues;
    uint16_t qsize = vq ? vq->size : 0, qvec = vq ? vq->msix_vector : 0xffff;
    uint16_t qen = vq ? vq->enabled : 0, qnoff = vq ? v->queue_select : 0;
    uint64_t qd = vq ? vq->desc_gpa : 0, qa = vq ? vq->avail_gpa : 0, qu = vq ? vq->used_gpa : 0;
    memset(b, 0, LEN_COMMON);
    memcpy(b + 0, &v->dfselect, 4);
    memcpy(b + 4, &dfeat, 4);
    memcpy(b + 8, &v->gfselect, 4);
    memcpy(b + 12, &gfeat, 4);
    memcpy(b + 16, &v->msix_config, 2);
    memcpy(b + 18, &nq, 2);
    b[20] = v->status;
    b[21] = v->config_gen;
    memcpy(b + 22, &v->queue_select, 2);
    memcpy(b + 24, &qsize, 2);
    memcpy(b + 26, &qvec, 2);
    memcpy(b + 28, &qen, 2);
    memcpy(b + 30, &qnoff, 2);
    memcpy(b + 32, &qd, 8);
    memcpy(b + 40, &qa, 8);
    memcpy(b + 48, &qu, 8);
}

static void write_status(vmm_virtio *v, uint8_t val)
{
    if (val == 0) {
        reset_locked(v);
        return;
    }
    if ((val & VIRTIO_STATUS_FEATURES_OK) && !(v->status & VIRTIO_STATUS_FEATURES_OK)) {
        uint64_t f = v->driver_features;
        if ((f & ~offered(v)) || !(f & VIRTIO_F_VERSION_1))
            val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    }
    int activate = (val & VIRTIO_STATUS_DRIVER_OK) && !(v->status & VIRTIO_STATUS_DRIVER_OK);
    v->status = (uint8_t)(val | (v->failed ? VIRTIO_STATUS_NEEDS_RESET : 0));
    if (activate && !v->failed && v->ops->activate)
        v->ops->activate(v);
}

static void queue_enable(vmm_virtio *v, vmm_vq *vq, int q)
{
    if (vq->enabled)
        return;
    vq->event_idx = (v->driver_features & VIRTIO_F_EVENT_IDX) != 0;
    if (vmm_vq_start(vq, &v->vm->gmem) < 0) {
        vmm_virtio_fail(v, "queue %d: invalid size %u or ring outside guest memory", q, vq->size);
        return;
    }
    vq->enabled = 1;
    /* Listen for kicks only now: until a queue is live, a notify costs the guest its
     * ioeventfd write and nothing else (kicks already counted fire at once). */
    event_add(v->kick_ev[q], NULL);
}

static void common_apply(vmm_virtio *v, const uint8_t *b, uint32_t off, uint32_t len)
{
#define TOUCHED(o, l) (off < (o) + (l) && (o) < off + len)
    vmm_vq *vq = v->queue_select < v->ops->nqueues ? &v->vq[v->queue_select] : NULL;
    int q = v->queue_select;
    uint32_t u32;
    uint16_t u16;
    if (TOUCHED(0, 4))
        memcpy(&v->dfselect, b + 0, 4);
    if (TOUCHED(8, 4))
        memcpy(&v->gfselect, b + 8, 4);
    if (TOUCHED(12, 4) && !(v->status & VIRTIO_STATUS_FEATURES_OK) && v->gfselect < 2) {
        memcpy(&u32, b + 12, 4);
        uint64_t mask = 0xffffffffull << (32 * v->gfselect);
        v->driver_features = (v->driver_features & ~mask) | ((uint64_t)u32 << (32 * v->gfselect));
    }
    if (TOUCHED(16, 2)) {
        memcpy(&u16, b + 16, 2);
        v->msix_config = u16 < VIRTIO_MSIX_VECTORS ? u16 : 0xffff;
    }
    if (TOUCHED(22, 2))
        memcpy(&v->queue_select, b + 22, 2);
    if (vq && !vq->enabled) {
        if (TOUCHED(24, 2))
            memcpy(&vq->size, b + 24, 2);
        if (TOUCHED(32, 8))
            memcpy(&vq->desc_gpa, b + 32, 8);
        if (TOUCHED(40, 8))
            memcpy(&vq->avail_gpa, b + 40, 8);
        if (TOUCHED(48, 8))
            memcpy(&vq->used_gpa, b + 48, 8);
    }
    if (vq && TOUCHED(26, 2)) {
        memcpy(&u16, b + 26, 2);
        vq->msix_vector = u16 < VIRTIO_MSIX_VECTORS ? u16 : 0xffff;
    }
    if (vq && TOUCHED(28, 2)) {
        memcpy(&u16, b + 28, 2);
        if (u16 == 1)
            queue_enable(v, vq, q);
    }
    if (TOUCHED(20, 1))
        write_status(v, b[20]);
#undef TOUCHED
}

static void common_io(vmm_virtio *v, uint32_t off, uint8_t *data, uint32_t len, int is_write)
{
    uint8_t b[LEN_COMMON];
    if (off >= LEN_COMMON || len > LEN_COMMON - off) {
        if (!is_write)
            memset(data, 0, len);
        return;
    }
    common_render(v, b);
    if (!is_write) {
        memcpy(data, b + off, len);
        return;
    }
    memcpy(b + off, data, len);
    common_apply(v, b, off, len);
}

/* ---- MSI-X table ---- */

static void msix_io(vmm_virtio *v, uint32_t off, uint8_t *data, uint32_t len, int is_write)
{
    if (len == 8 && off % 8 == 0) { /* a 64-bit access is two dword accesses */
        msix_io(v, off, data, 4, is_write);
        msix_io(v, off + 4, data + 4, 4, is_write);
        return;
    }
    uint32_t vec = off / 16, word = (off % 16) / 4;
    if (vec >= VIRTIO_MSIX_VECTORS || (off % 4) + len > 4) {
        if (!is_write)
            memset(data, 0, len);
        return;
    }
    uint8_t *w = (uint8_t *)&v->msix[vec][word];
    if (!is_write) {
        memcpy(data, w + off % 4, len);
        return;
    }
    memcpy(w + off % 4, data, len);
    if (word == 3) {
        v->msix[vec][3] &= 1;
        deliver_pending(v);
    } else {
        uint64_t addr = ((uint64_t)v->msix[vec][1] << 32) | v->msix[vec][0];
        vmm_irq_set_msi(v->vm, v->gsi[vec], addr, v->msix[vec][2]);
    }
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_virtio *v = ((vmm_pci_dev *)opaque)->opaque;
    if (off >= OFF_NOTIFY) {
        /* A notify the ioeventfd missed (e.g. before the BAR was bound). */
        uint64_t q = (off - OFF_NOTIFY) / NOTIFY_MULT, one = 1;
        if (is_write && q < (uint64_t)v->ops->nqueues) {
            if (write(v->kick_fd[q], &one, 8) < 0)
                st_warn("vmm.virtio", "%s: kick: write failed", v->id);
        }
        if (!is_write)
            memset(data, 0, len);
        return;
    }
    pthread_mutex_lock(&v->lock);
    if (off < OFF_MSIX_TABLE) {
        common_io(v, (uint32_t)off, data, len, is_write);
    } else if (off < OFF_MSIX_PBA) {
        msix_io(v, (uint32_t)(off - OFF_MSIX_TABLE), data, len, is_write);
    } else if (off < OFF_ISR) {
        if (!is_write) {
            uint64_t pba = off - OFF_MSIX_PBA < 8 ? v->msix_pba >> (8 * (off - OFF_MSIX_PBA)) : 0;
            memcpy(data, &pba, len);
        }
    } else if (off < OFF_DEVICE) {
        if (!is_write) {
            memset(data, 0, len);
            if (off == OFF_ISR) {
                data[0] = v->isr; /* reading clears it */
                v->isr = 0;
            }
        }
    } else {
        uint32_t o = (uint32_t)(off - OFF_DEVICE);
        if (o >= v->ops->config_len || len > v->ops->config_len - o) {
            if (!is_write)
                memset(data, 0, len);
        } else if (is_write) {
            if (v->ops->config_write)
                v->ops->config_write(v, o, data, len);
        } else {
            v->ops->config_read(v, o, data, len);
        }
    }
    pthread_mutex_unlock(&v->lock);
}

/* ---- state (devreg.h) ---- */

static const char *kind(const vmm_virtio *v)
{
    switch (v->ops->type) {
    case VIRTIO_ID_NET: return "virtio-net";
    case VIRTIO_ID_BLOCK: return "virtio-blk";
    case VIRTIO_ID_RNG: return "virtio-rng";
    default: return "virtio";
    }
}

static void dev_reset(void *opaque)
{
    vmm_virtio_reset(opaque);
}

static int dev_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    vmm_virtio *v = opaque;
    pthread_mutex_lock(&v->lock);
    uint8_t b[4] = {v->status, v->config_gen, v->isr, (uint8_t)v->failed};
    vmm_rec_put(o, b, sizeof b);
    vmm_rec_u64(o, offered(v));
    vmm_rec_u64(o, v->driver_features);
    vmm_rec_u32(o, v->dfselect);
    vmm_rec_u32(o, v->gfselect);
    vmm_rec_u16(o, v->queue_select);
    vmm_rec_u16(o, v->msix_config);
    vmm_rec_u8(o, (uint8_t)v->ops->nqueues);
    for (int q = 0; q < v->ops->nqueues; q++) {
        const vmm_vq *vq = &v->vq[q];
        vmm_rec_u16(o, vq->size);
        vmm_rec_u16(o, vq->enabled);
        vmm_rec_u16(o, vq->msix_vector);
        vmm_rec_u64(o, vq->desc_gpa);
        vmm_rec_u64(o, vq->avail_gpa);
        vmm_rec_u64(o, vq->used_gpa);
        vmm_rec_u16(o, vq->last_avail);
        vmm_rec_u16(o, vq->used_idx);
        vmm_rec_u16(o, vq->signalled);
        vmm_rec_u16(o, vq->event_idx);
    }
    vmm_rec_u8(o, VIRTIO_MSIX_VECTORS);
    vmm_rec_put(o, v->msix, sizeof v->msix);
    vmm_rec_u32(o, v->msix_pba);
    if (v->ops->save_extra)
        v->ops->save_extra(v, o);
    pthread_mutex_unlock(&v->lock);
    return 0;
}

typedef struct saved {
    uint8_t b[4];
    uint64_t features, driver_features;
    uint32_t dfselect, gfselect;
    uint16_t queue_select, msix_config;
    vmm_vq vq[VIRTIO_MAX_QUEUES];
    uint32_t msix[VIRTIO_MSIX_VECTORS][4];
    uint32_t pba;
} saved;

/* Reads and checks the transport's part; nothing is applied. */
static int read_saved(vmm_virtio *v, vmm_rec_in *in, saved *s, char *err, size_t errlen)
{
    vmm_rec_get(in, s->b, sizeof s->b);
    s->features = vmm_rec_get_u64(in);
    s->driver_features = vmm_rec_get_u64(in);
    s->dfselect = vmm_rec_get_u32(in);
    s->gfselect = vmm_rec_get_u32(in);
    s->queue_select = vmm_rec_get_u16(in);
    s->msix_config = vmm_rec_get_u16(in);
    unsigned nq = vmm_rec_get_u8(in);
    if (!in->short_read && nq != (unsigned)v->ops->nqueues)
        return vmm_rec_bad(in, err, errlen, "%u queues, this device has %d", nq, v->ops->nqueues);
    for (int q = 0; q < v->ops->nqueues; q++) {
        vmm_vq *vq = &s->vq[q];
        memset(vq, 0, sizeof *vq);
        vq->max_size = v->vq[q].max_size;
        vq->size = vmm_rec_get_u16(in);
        vq->enabled = vmm_rec_get_u16(in);
        vq->msix_vector = vmm_rec_get_u16(in);
        vq->desc_gpa = vmm_rec_get_u64(in);
        vq->avail_gpa = vmm_rec_get_u64(in);
        vq->used_gpa = vmm_rec_get_u64(in);
        vq->last_avail = vmm_rec_get_u16(in);
        vq->used_idx = vmm_rec_get_u16(in);
        vq->signalled = vmm_rec_get_u16(in);
        vq->event_idx = vmm_rec_get_u16(in);
    }
    unsigned nvec = vmm_rec_get_u8(in);
    if (!in->short_read && nvec != VIRTIO_MSIX_VECTORS)
        return vmm_rec_bad(in, err, errlen, "%u MSI-X vectors, this device has %d", nvec,
                           VIRTIO_MSIX_VECTORS);
    vmm_rec_get(in, s->msix, sizeof s->msix);
    s->pba = vmm_rec_get_u32(in);
    return 0;
}

static int check_saved(vmm_virtio *v, vmm_rec_in *in, const saved *s, char *err, size_t errlen)
{
    if (s->features != offered(v))
        return vmm_rec_bad(in, err, errlen, "device features %#llx, this device offers %#llx",
                           (unsigned long long)s->features, (unsigned long long)offered(v));
    if (s->driver_features & ~offered(v))
        return vmm_rec_bad(in, err, errlen, "driver features %#llx were never offered",
                           (unsigned long long)s->driver_features);
    if (s->b[3] > 1 || s->b[2] > 3)
        return vmm_rec_bad(in, err, errlen, "failed flag %u or ISR %#x out of range", s->b[3],
                           s->b[2]);
    if (s->msix_config >= VIRTIO_MSIX_VECTORS && s->msix_config != 0xffff)
        return vmm_rec_bad(in, err, errlen, "config vector %u past the table", s->msix_config);
    if (s->pba >> VIRTIO_MSIX_VECTORS)
        return vmm_rec_bad(in, err, errlen, "pending bits %#x past the table", s->pba);
    for (int i = 0; i < VIRTIO_MSIX_VECTORS; i++)
        if (s->msix[i][3] & ~1u)
            return vmm_rec_bad(in, err, errlen, "vector %d control %#x", i, s->msix[i][3]);
    for (int q = 0; q < v->ops->nqueues; q++) {
        vmm_vq t = s->vq[q];
        if (t.msix_vector >= VIRTIO_MSIX_VECTORS && t.msix_vector != 0xffff)
            return vmm_rec_bad(in, err, errlen, "queue %d: vector %u past the table", q,
                               t.msix_vector);
        if (t.enabled > 1 || t.event_idx > 1)
            return vmm_rec_bad(in, err, errlen, "queue %d: enabled %u, event_idx %u", q, t.enabled,
                               t.event_idx);
        if (t.enabled && vmm_vq_start(&t, &v->vm->gmem) < 0)
            return vmm_rec_bad(in, err, errlen,
                               "queue %d: size %u or rings %#llx/%#llx/%#llx not valid in this "
                               "VM's memory",
                               q, t.size, (unsigned long long)t.desc_gpa,
                               (unsigned long long)t.avail_gpa, (unsigned long long)t.used_gpa);
    }
    return 0;
}

static int dev_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    vmm_virtio *v = opaque;
    saved *s = malloc(sizeof *s);
    int rc;
    if (!s)
        return -ENOMEM;
    pthread_mutex_lock(&v->lock);
    if ((rc = read_saved(v, in, s, err, errlen)))
        goto out;
    if (!in->short_read && (rc = check_saved(v, in, s, err, errlen)))
        goto out;
    if (v->ops->restore_extra && (rc = v->ops->restore_extra(v, in, err, errlen)))
        goto out;
    if ((rc = vmm_rec_in_done(in, err, errlen)))
        goto out;
    v->status = s->b[0];
    v->config_gen = s->b[1];
    v->isr = s->b[2];
    v->failed = s->b[3];
    v->driver_features = s->driver_features;
    v->dfselect = s->dfselect;
    v->gfselect = s->gfselect;
    v->queue_select = s->queue_select;
    v->msix_config = s->msix_config;
    memcpy(v->msix, s->msix, sizeof v->msix);
    v->msix_pba = s->pba;
    for (int i = 0; i < VIRTIO_MSIX_VECTORS; i++)
        vmm_irq_set_msi(v->vm, v->gsi[i], ((uint64_t)v->msix[i][1] << 32) | v->msix[i][0],
                        v->msix[i][2]);
    for (int q = 0; q < v->ops->nqueues; q++) {
        vmm_vq *vq = &v->vq[q];
        *vq = s->vq[q];
        if (vq->enabled) {
            vmm_vq_start(vq, &v->vm->gmem); /* checked above; it clears the indices */
            vq->last_avail = s->vq[q].last_avail;
            vq->used_idx = s->vq[q].used_idx;
            vq->signalled = s->vq[q].signalled;
            event_add(v->kick_ev[q], NULL);
            uint64_t one = 1;
            if (write(v->kick_fd[q], &one, 8) != 8)
                st_warn("vmm.virtio", "%s: kick after restore: write failed", v->id);
        } else {
            event_del_noblock(v->kick_ev[q]);
        }
    }
    if ((v->status & VIRTIO_STATUS_DRIVER_OK) && !v->failed && v->ops->activate)
        v->ops->activate(v);
out:
    pthread_mutex_unlock(&v->lock);
    free(s);
    return rc;
}

static const vmm_dev_ops dev_ops = {
    .version = 1,
    .reset = dev_reset,
    .save = dev_save,
    .restore = dev_restore,
};

/* ---- PCI hooks ---- */

void vmm_virtio_cfg_window(vmm_pci_dev *d, uint32_t off, uint32_t len, int is_write)
{
    const uint8_t *cap = &d->cfg[CAP_PCI_CFG];
    uint8_t *data = &d->cfg[CAP_PCI_CFG + 16];
    uint32_t at, n;
    if (off >= CAP_PCI_CFG + 20 || off + len <= CAP_PCI_CFG + 16)
        return;
    uint8_t bar = cap[4];
    memcpy(&at, cap + 8, 4);
    memcpy(&n, cap + 12, 4);
    if (bar > 5 || !d->bar_size[bar] || !d->bar_io[bar] || (n != 1 && n != 2 && n != 4) || at % n ||
        at > d->bar_size[bar] - n) {
        if (!is_write)
            memset(data, 0xff, 4);
        return;
    }
    d->bar_io[bar](d, at, data, n, is_write);
}

static void cfg_read(vmm_pci_dev *d, uint32_t off, uint32_t len)
{
    vmm_virtio_cfg_window(d, off, len, 0);
}

static void cfg_written(vmm_pci_dev *d, uint32_t off, uint32_t len)
{
    vmm_virtio *v = d->opaque;
    if (off <= CAP_MSIX + 3 && off + len > CAP_MSIX + 2) {
        pthread_mutex_lock(&v->lock);
        deliver_pending(v);
        pthread_mutex_unlock(&v->lock);
    }
    vmm_virtio_cfg_window(d, off, len, 1);
}

static void bar_moved(vmm_pci_dev *d, int bar, uint32_t old, uint32_t new_addr)
{
    vmm_virtio *v = d->opaque;
    for (int q = 0; q < v->ops->nqueues; q++) {
        if (old)
            vmm_ioeventfd(v->vm, (uint64_t)old + OFF_NOTIFY + NOTIFY_MULT * (uint64_t)q,
                          v->kick_fd[q], 1);
        if (new_addr &&
            vmm_ioeventfd(v->vm, (uint64_t)new_addr + OFF_NOTIFY + NOTIFY_MULT * (uint64_t)q,
                          v->kick_fd[q], 0) < 0)
            st_warn("vmm.virtio", "%s: KVM_IOEVENTFD failed; notifications will exit", v->id);
    }
    v->notify_base = new_addr;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    vmm_virtio *v = arg;
    uint64_t n;
    int q;
    if (read(fd, &n, 8) != 8)
        return;
    for (q = 0; q < v->ops->nqueues; q++)
        if (v->kick_fd[q] == fd)
            break;
    pthread_mutex_lock(&v->lock);
    if (q < v->ops->nqueues && vmm_virtio_queue_ready(v, q))
        v->ops->notify(v, q);
    pthread_mutex_unlock(&v->lock);
}

static void vendor_cap(vmm_pci_dev *d, uint8_t at, uint8_t next, uint8_t len, uint8_t type,
                       uint32_t off, uint32_t length)
{
    d->cfg[at] = 0x09;
    d->cfg[at + 1] = next;
    d->cfg[at + 2] = len;
    d->cfg[at + 3] = type;
    d->cfg[at + 4] = 0; /* BAR0 */
    vmm_pci_set32(d, at + 8, off);
    vmm_pci_set32(d, at + 12, length);
}

void vmm_virtio_destroy(vmm_virtio *v)
{
    for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        if (v->kick_ev[q])
            event_free(v->kick_ev[q]);
        if (v->kick_fd[q] >= 0)
            close(v->kick_fd[q]);
    }
    for (int i = 0; i < VIRTIO_MSIX_VECTORS; i++)
        if (v->irq_fd[i] >= 0)
            close(v->irq_fd[i]);
    if (v->ops->destroy)
        v->ops->destroy(v);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

int vmm_virtio_create(vmm_vm *vm, const vmm_virtio_ops *ops, void *priv, const char *id,
                      vmm_virtio **out)
{
    int rc;
    vmm_virtio *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->vm = vm;
    v->ops = ops;
    v->priv = priv;
    snprintf(v->id, sizeof v->id, "%s", id);
    pthread_mutex_init(&v->lock, NULL);
    for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        v->kick_fd[q] = -1;
        v->vq[q].max_size = ops->queue_size;
    }
    for (int i = 0; i < VIRTIO_MSIX_VECTORS; i++)
        v->irq_fd[i] = -1;

    for (int q = 0; q < ops->nqueues; q++) {
        v->kick_fd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (v->kick_fd[q] < 0) {
            rc = -errno;
            goto err;
        }
        v->kick_ev[q] = event_new(vm->base, v->kick_fd[q], EV_READ | EV_PERSIST, kick_cb, v);
        if (!v->kick_ev[q]) {
            rc = -ENOMEM;
            goto err;
        }
    }
    for (int i = 0; i < VIRTIO_MSIX_VECTORS; i++) {
        v->gsi[i] = vmm_irq_alloc_gsi(vm);
        v->irq_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (v->irq_fd[i] < 0) {
            rc = -errno;
            goto err;
        }
        if ((rc = vmm_irq_set_msi(vm, v->gsi[i], 0xfee00000, 0)) ||
            (rc = vmm_irq_bind_irqfd(vm, v->irq_fd[i], v->gsi[i])))
            goto err;
    }

    vmm_pci_dev *d = &v->pci;
    d->opaque = v;
    d->cfg_written = cfg_written;
    d->cfg_read = cfg_read;
    d->bar_moved = bar_moved;
    vmm_pci_set16(d, 0x00, 0x1af4);
    vmm_pci_set16(d, 0x02, (uint16_t)(0x1040 + ops->type));
    vmm_pci_set16(d, 0x06, 0x0010); /* status: capability list */
    d->cfg[0x08] = 1;               /* revision 1: modern only */
    d->cfg[0x09] = (uint8_t)(ops->class_code & 0xff);
    d->cfg[0x0a] = (uint8_t)(ops->class_code >> 8);
    d->cfg[0x0b] = (uint8_t)(ops->class_code >> 16);
    vmm_pci_set16(d, 0x2c, 0x1af4);
    vmm_pci_set16(d, 0x2e, (uint16_t)(0x1040 + ops->type));
    d->cfg[0x34] = CAP_MSIX;
    d->cfg[0x3d] = 1; /* INTA# (never raised: MSI-X only) */
    vmm_pci_bar(d, 0, BAR_SIZE, bar_io);
    d->rom_path = ops->rom;

    d->cfg[CAP_MSIX] = 0x11;
    d->cfg[CAP_MSIX + 1] = CAP_COMMON;
    vmm_pci_set16(d, CAP_MSIX + 2, VIRTIO_MSIX_VECTORS - 1);
    vmm_pci_set32(d, CAP_MSIX + 4, OFF_MSIX_TABLE);
    vmm_pci_set32(d, CAP_MSIX + 8, OFF_MSIX_PBA);
    d->wmask[CAP_MSIX + 3] = 0xc0; /* enable, function mask */
    vendor_cap(d, CAP_COMMON, CAP_NOTIFY, 16, 1, OFF_COMMON, LEN_COMMON);
    vendor_cap(d, CAP_NOTIFY, CAP_ISR, 20, 2, OFF_NOTIFY, NOTIFY_MULT * (uint32_t)ops->nqueues);
    vmm_pci_set32(d, CAP_NOTIFY + 16, NOTIFY_MULT);
    /* The device-config capability only when there is a config space: Linux refuses a
     * capability of length 0 ("bad capability len 0"), and virtio-rng has none. */
    vendor_cap(d, CAP_ISR, ops->config_len ? CAP_DEVICE : CAP_PCI_CFG, 16, 3, OFF_ISR, 4);
    if (ops->config_len)
        vendor_cap(d, CAP_DEVICE, CAP_PCI_CFG, 16, 4, OFF_DEVICE, ops->config_len);
    /* The configuration access window: bar, offset, length and data are the driver's. */
    vendor_cap(d, CAP_PCI_CFG, 0, 20, 5, 0, 0);
    d->wmask[CAP_PCI_CFG + 4] = 0xff;
    memset(&d->wmask[CAP_PCI_CFG + 8], 0xff, 12);

    vmm_virtio_reset(v);
    char rid[VMM_DEV_ID_MAX];
    if ((rc = vmm_pci_add(vm, d)))
        goto err;
    snprintf(rid, sizeof rid, "%s@%02x", kind(v), d->slot);
    vm->devs[vm->ndevs++] = v;
    if ((rc = vmm_dev_register(&vm->devreg, rid, &dev_ops, v))) {
        st_error("vmm.virtio", "%s: cannot register: %s", rid, strerror(-rc));
        return rc; /* on the bus and in devs: freed at exit with the rest */
    }
    *out = v;
    st_info("vmm.virtio", "%s: virtio device %u at 00:%02x.0", v->id, ops->type, d->slot);
    return 0;
err:
    for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        if (v->kick_ev[q])
            event_free(v->kick_ev[q]);
        if (v->kick_fd[q] >= 0)
            close(v->kick_fd[q]);
    }
    for (int i = 0; i < VIRTIO_MSIX_VECTORS; i++)
        if (v->irq_fd[i] >= 0)
            close(v->irq_fd[i]);
    free(v);
    return rc;
}
