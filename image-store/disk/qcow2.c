/*
 * qcow2.c - the qcow2 driver: opening an image (header, L1 table, refcounts
 * for a writer, the backing file) and closing it; the I/O paths are in
 * qcow2_io.c.
 *
 * Mapping. A guest offset splits into an L1 index, an L2 index and an offset
 * inside the cluster. The L1 table lives in memory (read whole at open, at
 * most 32 MiB by qcow2_header.c); L2 tables go through a cache of 4 MiB
 * (64 tables of 64 KiB clusters: 32 GiB of guest disk mapped without a read).
 * Every L2 entry is checked as it is used: reserved bits set, a misaligned
 * or zero-with-COPIED offset are -EIO ("corrupt"), never a wild read.
 *
 * Reads go cluster by cluster: allocated clusters are read from the file
 * (contiguous ones in one pread), unallocated ones from the backing file
 * (zeros past its end, or without one), zero clusters are zeros, compressed
 * clusters are inflated with zlib (raw deflate, as qemu writes them) through
 * a one-cluster cache.
 *
 * Writes to a cluster this image owns alone (COPIED) go straight to the
 * file. Any other write allocates a new cluster and fills it in full: the
 * guest's bytes over the old contents (backing file, zeros, an inflated
 * compressed cluster or a shared cluster). A fresh cluster past everything
 * ever written whose old contents are zeros skips the fill (the file reads
 * zeros there). The metadata changes stay in memory until qcow2_sync(),
 * whose ordering qcow2_alloc.c explains.
 */
#include "qcow2.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void q_close(st_disk *d)
{
    qcow2 *q = d->priv;
    if (!q)
        return;
    if (!(d->flags & ST_DISK_RDONLY) && q->rt)
        qcow2_sync(d, 1);
    qcache_free(&q->l2);
    qcow2_refcount_free(q);
    free(q->l1);
    free(q->l1_dirty);
    free(q->zbuf);
    free(q->zeros);
    free(q->cbuf);
    free(q->cbuf2);
    free(q);
    d->priv = NULL;
}

static const st_disk_ops qcow2_ops = {
    .pread = qcow2_pread,
    .pwrite = qcow2_pwrite,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
    .write_zeroes = qcow2_write_zeroes,
    .check_tables = qcow2_check_tables,
    .block_status = qcow2_block_status,
    .close = q_close,
};

static int open_backing(st_disk *d, char *err, size_t errlen)
{
    qcow2 *q = d->priv;
    const char *name = q->h.backing_file;
    char path[4096];
    if (name[0] == '/') {
        snprintf(path, sizeof path, "%s", name);
    } else {
        char *copy = strdup(d->path);
        if (!copy)
            return st__err(err, errlen, -ENOMEM, "out of memory");
        int n = snprintf(path, sizeof path, "%s/%s", dirname(copy), name);
        free(copy);
        if (n < 0 || (size_t)n >= sizeof path)
            return st__err(err, errlen, -ENAMETOOLONG, "backing file path too long");
    }
    int flags = ST_DISK_RDONLY | (d->flags & ST_DISK_NOLOCK);
    if (strcmp(q->h.backing_fmt, "raw") == 0)
        flags |= ST_DISK_FMT_RAW;
    else if (strcmp(q->h.backing_fmt, "qcow2") == 0)
        flags |= ST_DISK_FMT_QCOW2;
    char berr[512];
    int rc = st__disk_open_chain(path, flags, d->depth + 1, &d->backing, berr, sizeof berr);
    if (rc == -ELOOP) /* the deepest message says it all */
        return st__err(err, errlen, rc, "%s", berr);
    if (rc < 0)
        return st__err(err, errlen, rc, "backing file of '%s': %s", d->path, berr);
    snprintf(d->backing_file, sizeof d->backing_file, "%s", name);
    snprintf(d->backing_fmt, sizeof d->backing_fmt, "%s", q->h.backing_fmt);
    return 0;
}

int st__qcow2_open(st_disk *d, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(d->fd, &st) < 0)
        return st__err(err, errlen, -errno, "cannot stat '%s': %s", d->path, strerror(errno));
    uint64_t fsize = (uint64_t)st.st_size;
    int rw = !(d->flags & ST_DISK_RDONLY);
    uint8_t first[512];
    int rc = st__file_read(d->fd, first, sizeof first, 0);
    if (rc < 0)
        return st__err(err, errlen, rc, "cannot read '%s': %s", d->path, strerror(-rc));
    uint32_t cbits = (uint32_t)first[20] << 24 | (uint32_t)first[21] << 16 |
                     (uint32_t)first[22] << 8 | first[23];
    size_t hlen = cbits >= QCOW2_MIN_CLUSTER_BITS && cbits <= QCOW2_MAX_CLUSTER_BITS
                      ? (size_t)1 << cbits
                      : sizeof first;
    if (hlen > fsize)
        hlen = fsize < sizeof first ? sizeof first : (size_t)fsize;
    uint8_t *hbuf = malloc(hlen);
    qcow2 *q = calloc(1, sizeof *q);
    if (!hbuf || !q) {
        free(hbuf);
        free(q);
        return st__err(err, errlen, -ENOMEM, "out of memory");
    }
    d->priv = q;
    d->ops = &qcow2_ops;
    char perr[256];
    rc = st__file_read(d->fd, hbuf, hlen, 0);
    if (rc == 0)
        rc = qcow2_parse_header(hbuf, hlen, fsize, rw ? QCOW2_PARSE_WRITE : 0, &q->h, perr,
                                sizeof perr);
    free(hbuf);
    if (rc < 0) {
        st__err(err, errlen, rc, "'%s': %s", d->path, perr);
        goto fail;
    }
    if (q->h.backing_file[0] && (d->flags & ST_DISK_NO_BACKING)) {
        rc = st__err(err, errlen, -EPERM, "'%s' names a backing file ('%s') and must not", d->path,
                     q->h.backing_file);
        goto fail;
    }
    q->cbits = q->h.cluster_bits;
    q->cs = 1u << q->cbits;
    q->l2_entries = q->cs / 8;
    d->size = q->h.size;
    d->cluster_size = q->cs;
    d->version = (int)q->h.version;

    size_t l1n = q->h.l1_size ? q->h.l1_size : 1;
    q->l1 = calloc(l1n, sizeof *q->l1);
    q->l1_dirty = calloc(l1n, 1);
    q->cbuf = malloc(q->cs);
    q->zbuf = malloc(q->cs);
    q->zeros = calloc(1, q->cs);
    q->cbuf2_len = 2 * (size_t)q->cs + 512;
    q->cbuf2 = malloc(q->cbuf2_len);
    int n = (int)((4u << 20) / q->cs);
    if (!q->l1 || !q->l1_dirty || !q->cbuf || !q->zbuf || !q->zeros || !q->cbuf2 ||
        qcache_init(&q->l2,
                    n < 16     ? 16
                    : n > 4096 ? 4096
                               : n,
                    q->cs) < 0) {
        rc = st__err(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    if (q->h.l1_size &&
        (rc = st__file_read(d->fd, q->l1, (size_t)q->h.l1_size * 8, q->h.l1_off)) < 0) {
        st__err(err, errlen, rc, "cannot read the L1 table of '%s': %s", d->path, strerror(-rc));
        goto fail;
    }
    for (uint32_t i = 0; i < q->h.l1_size; i++) {
        uint64_t e = be64toh(q->l1[i]), off = e & QCOW2_L1_OFFSET_MASK;
        q->l1[i] = e;
        if ((e & QCOW2_L1_RESERVED) || (off & (q->cs - 1)) || (off && off >= fsize) ||
            (!off && (e & QCOW2_COPIED))) {
            rc = st__err(err, errlen, -EIO, "'%s' is corrupt: L1 entry %u is invalid", d->path, i);
            goto fail;
        }
    }
    if (rw) {
        if ((rc = qcow2_refcount_init(d)) < 0) {
            st__err(err, errlen, rc, "%s", d->err);
            goto fail;
        }
        q->fresh_from = (fsize + q->cs - 1) >> q->cbits;
        if (q->h.autoclear) {
            /* We keep no bitmaps: clear the bits before the first write. */
            uint64_t zero = 0;
            if ((rc = st__file_write(d->fd, &zero, 8, 88)) < 0 || fdatasync(d->fd) < 0) {
                rc = rc < 0 ? rc : -errno;
                st__err(err, errlen, rc, "cannot update the header of '%s'", d->path);
                goto fail;
            }
            q->h.autoclear = 0;
        }
    }
    if (q->h.backing_file[0] && (rc = open_backing(d, err, errlen)) < 0)
        goto fail;
    return 0;
fail:
    q_close(d);
    d->ops = NULL;
    return rc;
}
