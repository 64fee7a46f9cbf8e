/*
 * virtio_blk.c - virtio block device (type 2) on a raw or qcow2 back end.
 *
 * A request is a descriptor chain: a 16-byte header {type, reserved,
 * sector} readable by the device, then data (readable for writes, writable
 * for reads), then one writable status byte. Structural problems (no room
 * for the header or the status byte) are the driver breaking the protocol
 * and fail the device; a request for sectors past the end, or a write to a
 * read-only disk, is an ordinary I/O error reported in the status byte.
 * Requests are served synchronously on the event thread.
 */
#include "devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "stratus/log.h"

#define VIRTIO_BLK_F_SEG_MAX (1ull << 2)
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ull << 6)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
#define VIRTIO_BLK_F_DISCARD (1ull << 13)

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11

#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define MAX_DISCARD_SEG 16
#define QUEUE_SIZE 256

typedef struct blk {
    vmm_virtio_ops ops;
    vmm_disk *disk; /* NULL while released (a live migration's end): requests wait */
    const vmm_disk_cfg *cfg;
    uint64_t size;
    char serial[21];
    int read_only;
    vmm_blk_stats st;
    vmm_vq_chain chain;
    struct iovec data[VMM_VQ_MAX_SIZE];
} blk;

/* 1 when [sector*512, +len) lies inside the disk (overflow-safe). */
static int in_range(blk *b, uint64_t sector, uint64_t len)
{
    uint64_t size = b->size;
    if (sector > size / 512)
        return 0;
    return len <= size - sector * 512;
}

static uint8_t do_discard(blk *b, const vmm_vq_chain *c)
{
    uint64_t plen = c->rlen - 16;
    if (b->read_only)
        return S_IOERR;
    if (plen == 0 || plen % 16 || plen / 16 > MAX_DISCARD_SEG)
        return S_UNSUPP;
    for (uint64_t i = 0; i < plen / 16; i++) {
        uint8_t seg[16];
        uint64_t sector;
        uint32_t nsec;
        vmm_vq_read(c, 16 + 16 * i, seg, 16);
        memcpy(&sector, seg, 8);
        memcpy(&nsec, seg + 8, 4);
        if (!in_range(b, sector, (uint64_t)nsec * 512))
            return S_IOERR;
        if (vmm_disk_discard(b->disk, sector * 512, (uint64_t)nsec * 512) < 0)
            return S_IOERR;
    }
    b->st.discard_ops++;
    return S_OK;
}

/* Serves one request; returns the bytes written into the driver's buffers, or -1. */
static int64_t serve(vmm_virtio *v, blk *b, vmm_vq_chain *c)
{
    uint8_t hdr[16];
    uint32_t type;
    uint64_t sector, wdata = 0;
    uint8_t status = S_OK;
    int n;

    if (c->rlen < 16 || c->wlen < 1) {
        vmm_virtio_fail(v, "request without a header or a status byte");
        return -1;
    }
    vmm_vq_read(c, 0, hdr, 16);
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    uint64_t wlen = c->wlen - 1; /* writable bytes before the status byte */

    switch (type) {
    case T_IN:
        n = vmm_iov_slice(c->iov + c->nr, c->nw, 0, wlen, b->data);
        if (!in_range(b, sector, wlen) || vmm_disk_readv(b->disk, b->data, n, sector * 512) < 0) {
            status = S_IOERR;
            break;
        }
        wdata = wlen;
        b->st.read_bytes += wlen;
        b->st.read_ops++;
        break;
    case T_OUT: {
        uint64_t len = c->rlen - 16;
        n = vmm_iov_slice(c->iov, c->nr, 16, len, b->data);
        if (b->read_only || !in_range(b, sector, len) ||
            vmm_disk_writev(b->disk, b->data, n, sector * 512) < 0) {
            status = S_IOERR;
            break;
        }
        b->st.write_bytes += len;
        b->st.write_ops++;
        break;
    }
    case T_FLUSH:
        status = vmm_disk_flush(b->disk) < 0 ? S_IOERR : S_OK;
        b->st.flush_ops++;
        break;
    case T_GET_ID: {
        uint64_t k = wlen < 20 ? wlen : 20;
        vmm_vq_write(c, 0, b->serial, k);
        wdata = k;
        break;
    }
    case T_DISCARD: status = do_discard(b, c); break;
    default: status = S_UNSUPP; break;
    }
    if (status != S_OK)
        b->st.errors++;
    vmm_vq_write(c, wlen, &status, 1);
    return (int64_t)wdata + 1;
}

static void blk_notify(vmm_virtio *v, int q)
{
    blk *b = v->priv;
    int n = 0, rc;
    if (!b->disk)
        return; /* released: the requests stay in the ring */
    while ((rc = vmm_virtio_pop(v, q, &b->chain)) > 0) {
        int64_t len = serve(v, b, &b->chain);
        if (len < 0)
            return;
        vmm_vq_push(&v->vq[q], b->chain.head, (uint32_t)len);
        n++;
    }
    if (n && vmm_vq_should_notify(&v->vq[q]))
        vmm_virtio_notify_queue(v, q);
}

static void blk_config_read(vmm_virtio *v, uint32_t off, uint8_t *data, uint32_t len)
{
    blk *b = v->priv;
    uint8_t cfg[60];
    uint64_t cap = b->size / 512;
    uint32_t seg_max = QUEUE_SIZE - 2, blk_size = 512, dmax = 0xffffffffu / 512,
             dseg = MAX_DISCARD_SEG, dalign = 1;
    memset(cfg, 0, sizeof cfg);
    memcpy(cfg + 0, &cap, 8);
    memcpy(cfg + 12, &seg_max, 4);
    memcpy(cfg + 20, &blk_size, 4);
    memcpy(cfg + 36, &dmax, 4);
    memcpy(cfg + 40, &dseg, 4);
    memcpy(cfg + 44, &dalign, 4);
    memcpy(data, cfg + off, len);
}

static void blk_destroy(vmm_virtio *v)
{
    blk *b = v->priv;
    vmm_disk_close(b->disk);
    free(b);
}

int vmm_blk_create(vmm_vm *vm, const vmm_disk_cfg *cfg)
{
    blk *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    /* A migration's target building early (vm->built_early) leaves closed what the source
     * still holds (a writable qcow2's lock) or what may change under a cache until STATE (qcow2
     * metadata, RBD): a raw file, or a read-only image, caches nothing and is opened now. */
    int later =
        vm->built_early && (!strncmp(cfg->path, "rbd:", 4) || (cfg->qcow2 && !cfg->read_only));
    int rc = later ? 0 : vmm_disk_open(cfg, &b->disk);
    if (rc) {
        st_error("vmm.blk", "%s: %s: %s", cfg->id, cfg->path, strerror(-rc));
        free(b);
        return rc;
    }
    b->read_only = cfg->read_only;
    b->cfg = cfg;
    b->size = b->disk ? vmm_disk_size(b->disk) : 0; /* else set when opened */
    memcpy(b->serial, cfg->id, strnlen(cfg->id, sizeof b->serial - 1));
    b->ops = (vmm_virtio_ops){
        .type = VIRTIO_ID_BLOCK,
        .class_code = 0x010000,
        /* EVENT_IDX: the driver kicks only when we ask (we were idle), which halved
         * Linux's read time; virtio-net does not offer it until tested with Linux. */
        .features = VIRTIO_F_EVENT_IDX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
                    VIRTIO_BLK_F_FLUSH | (cfg->read_only ? VIRTIO_BLK_F_RO : VIRTIO_BLK_F_DISCARD),
        .nqueues = 1,
        .queue_size = QUEUE_SIZE,
        .config_len = 60,
        .config_read = blk_config_read,
        .notify = blk_notify,
        .destroy = blk_destroy,
    };
    vmm_virtio *v;
    if ((rc = vmm_virtio_create(vm, &b->ops, b, cfg->id, &v))) {
        vmm_disk_close(b->disk);
        free(b);
    }
    return rc;
}

int vmm_blk_release(vmm_virtio *v, int release)
{
    if (v->ops->type != VIRTIO_ID_BLOCK)
        return 0;
    blk *b = v->priv;
    int rc = 0;
    if (release && b->disk) {
        rc = vmm_disk_flush(b->disk);
        vmm_disk_close(b->disk);
        b->disk = NULL;
    } else if (!release && !b->disk) {
        /* No kick was lost meanwhile: the vCPUs were parked and the event thread busy. */
        rc = vmm_disk_open(b->cfg, &b->disk);
        if (!rc)
            b->size = vmm_disk_size(b->disk);
    }
    if (rc)
        st_error("vmm.blk", "%s: %s %s: %s", b->cfg->id, release ? "releasing" : "taking back",
                 b->cfg->path, strerror(-rc));
    return rc;
}

vmm_disk *vmm_blk_disk(vmm_virtio *v, const vmm_disk_cfg **cfg)
{
    if (v->ops->type != VIRTIO_ID_BLOCK)
        return NULL;
    blk *b = v->priv;
    *cfg = b->cfg;
    return b->disk;
}

const vmm_blk_stats *vmm_blk_stats_of(vmm_virtio *v)
{
    return v->ops->type == VIRTIO_ID_BLOCK ? &((blk *)v->priv)->st : NULL;
}
