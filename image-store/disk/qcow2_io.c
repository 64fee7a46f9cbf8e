/*
 * qcow2_io.c - the guest's reads, writes, discards and write-zeroes on a
 * qcow2 image: mapping guest offsets through the L1 and L2 tables, reading
 * from the file, the backing file or inflated compressed clusters, and
 * allocating clusters on write (copy on write from whatever the guest saw
 * before). See qcow2.c for the mapping in brief and qcow2_alloc.c for when
 * the metadata changes made here reach the disk.
 */
#include "qcow2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { C_UNALLOC, C_ZERO, C_DATA, C_COMPRESSED };

typedef struct cmap {
    int kind;
    uint64_t entry; /* raw L2 entry */
    uint64_t host;  /* C_DATA (and C_ZERO with a preallocated cluster) */
    uint64_t zoff;  /* C_COMPRESSED: host byte offset and length */
    uint64_t zlen;
} cmap;

static int corrupt(st_disk *d, uint64_t voff, const char *what)
{
    return st__disk_fail(d, -EIO, "'%s' is corrupt: %s (guest offset %llu)", d->path, what,
                         (unsigned long long)voff);
}

int qcow2_l2_get(st_disk *d, uint64_t off, int load, int *slot)
{
    qcow2 *q = d->priv;
    int s = qcache_find(&q->l2, off);
    if (s >= 0) {
        *slot = s;
        return 0;
    }
    s = qcache_victim(&q->l2);
    if (s < 0)
        return st__disk_fail(d, -ENOMEM, "L2 cache exhausted");
    if (q->l2.off[s] && q->l2.dirty[s]) {
        int rc = qcow2_sync(d, 0); /* a dirty L2 table leaves only in order */
        if (rc < 0)
            return rc;
    }
    if (qcache_set(&q->l2, s, off) < 0)
        return st__disk_fail(d, -ENOMEM, "out of memory");
    if (load) {
        int rc = st__file_read(d->fd, q->l2.buf[s], q->cs, off);
        if (rc < 0) {
            qcache_drop(&q->l2, s);
            return st__disk_fail(d, rc, "L2 table read of '%s' failed: %s", d->path, strerror(-rc));
        }
    } else {
        memset(q->l2.buf[s], 0, q->cs);
        q->l2.dirty[s] = 1;
        q->dirty_meta = 1;
    }
    *slot = s;
    return 0;
}

/* Decodes an L2 entry for guest offset voff. */
static int classify(st_disk *d, uint64_t e, uint64_t voff, cmap *m)
{
    qcow2 *q = d->priv;
    memset(m, 0, sizeof *m);
    m->entry = e;
    if (e & QCOW2_COMPRESSED) {
        uint32_t x = 62 - (q->cbits - 8);
        m->zoff = e & ((1ull << x) - 1);
        uint64_t nadd = (e & ((1ull << 62) - 1)) >> x;
        m->zlen = (nadd + 1) * 512 - (m->zoff & 511);
        if (m->zoff == 0 || m->zoff > QCOW2_MAX_SIZE)
            return corrupt(d, voff, "compressed cluster at offset 0");
        m->kind = C_COMPRESSED;
        return 0;
    }
    if (e & QCOW2_L2_RESERVED)
        return corrupt(d, voff, "reserved bits set in an L2 entry");
    if ((e & QCOW2_ZERO) && q->h.version < 3)
        return corrupt(d, voff, "zero flag in a version 2 image");
    m->host = e & QCOW2_L2_OFFSET_MASK;
    if (m->host & (q->cs - 1))
        return corrupt(d, voff, "misaligned data cluster");
    if (e & QCOW2_ZERO)
        m->kind = C_ZERO;
    else if (m->host)
        m->kind = C_DATA;
    else if (e & QCOW2_COPIED)
        return corrupt(d, voff, "data cluster at offset 0");
    else
        m->kind = C_UNALLOC;
    return 0;
}

/* The mapping of the guest cluster holding voff; *slot is its L2 table's
 * cache slot, or -1 when its L1 entry is empty. */
static int lookup(st_disk *d, uint64_t voff, cmap *m, int *slot)
{
    qcow2 *q = d->priv;
    uint64_t cl = voff >> q->cbits;
    uint64_t l1i = cl / q->l2_entries;
    uint32_t l2i = (uint32_t)(cl % q->l2_entries);
    uint64_t l2off = q->l1[l1i] & QCOW2_L1_OFFSET_MASK;
    *slot = -1;
    if (!l2off)
        return classify(d, 0, voff, m);
    int rc = qcow2_l2_get(d, l2off, 1, slot);
    if (rc < 0)
        return rc;
    return classify(d, qcow2_l2_entry(q, *slot, l2i), voff, m);
}

/* Clusters this image maps (data, zero or compressed) against those left to the backing file,
 * one L2 lookup a cluster. */
int qcow2_block_status(st_disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    qcow2 *q = d->priv;
    uint64_t at = off, end = off + len;
    int first = -1;
    while (at < end) {
        cmap m;
        int slot, rc = lookup(d, at, &m, &slot);
        if (rc < 0)
            return rc;
        int held = m.kind != C_UNALLOC;
        if (first < 0)
            first = held;
        else if (held != first)
            break;
        at = ((at >> q->cbits) + 1) << q->cbits;
    }
    *pnum = (at < end ? at : end) - off;
    return first;
}

static int inflate_cluster(st_disk *d, const cmap *m, uint64_t voff)
{
    qcow2 *q = d->priv;
    if (q->zcache_entry == m->entry && q->zcache_entry)
        return 0;
    if (m->zlen > q->cbuf2_len)
        return corrupt(d, voff, "compressed cluster too long");
    int rc = st__file_read(d->fd, q->cbuf2, m->zlen, m->zoff);
    if (rc < 0)
        return st__disk_fail(d, rc, "read of '%s' failed: %s", d->path, strerror(-rc));
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK)
        return st__disk_fail(d, -ENOMEM, "zlib: out of memory");
    z.next_in = q->cbuf2;
    z.avail_in = (uInt)m->zlen;
    z.next_out = q->zbuf;
    z.avail_out = q->cs;
    int zr = inflate(&z, Z_FINISH);
    int produced_all = z.avail_out == 0;
    inflateEnd(&z);
    if (!(zr == Z_STREAM_END || ((zr == Z_OK || zr == Z_BUF_ERROR) && produced_all)) ||
        !produced_all) {
        q->zcache_entry = 0;
        return corrupt(d, voff, "compressed cluster does not inflate to a full cluster");
    }
    q->zcache_entry = m->entry;
    return 0;
}

/* Guest bytes [voff, voff+n) of an unallocated range: the backing file's or zeros. */
static int read_backing(st_disk *d, uint8_t *buf, size_t n, uint64_t voff)
{
    size_t have = 0;
    if (d->backing && voff < d->backing->size) {
        uint64_t left = d->backing->size - voff;
        have = n < left ? n : (size_t)left;
        ssize_t r = st_disk_pread(d->backing, buf, have, voff);
        if (r < 0)
            return st__disk_fail(d, (int)r, "backing file: %s", st_disk_error(d->backing));
    }
    memset(buf + have, 0, n - have);
    return 0;
}

ssize_t qcow2_pread(st_disk *d, void *vbuf, size_t n, uint64_t off)
{
    qcow2 *q = d->priv;
    uint8_t *buf = vbuf;
    size_t total = n;
    /* A run of host-contiguous data clusters is read with one pread. */
    uint8_t *run_buf = NULL;
    uint64_t run_host = 0;
    size_t run_len = 0;
    int rc = 0;
    while (n) {
        uint32_t in = (uint32_t)(off & (q->cs - 1));
        size_t chunk = q->cs - in < n ? q->cs - in : n;
        cmap m;
        int slot;
        if ((rc = lookup(d, off, &m, &slot)) < 0)
            goto out;
        if (m.kind == C_DATA && run_len && run_host + run_len == m.host + in) {
            run_len += chunk;
        } else {
            if (run_len && (rc = st__file_read(d->fd, run_buf, run_len, run_host)) < 0)
                goto io;
            run_len = 0;
            switch (m.kind) {
            case C_DATA:
                run_buf = buf;
                run_host = m.host + in;
                run_len = chunk;
                break;
            case C_ZERO: memset(buf, 0, chunk); break;
            case C_UNALLOC:
                if ((rc = read_backing(d, buf, chunk, off)) < 0)
                    goto out;
                break;
            case C_COMPRESSED:
                if ((rc = inflate_cluster(d, &m, off)) < 0)
                    goto out;
                memcpy(buf, q->zbuf + in, chunk);
                break;
            }
        }
        buf += chunk;
        off += chunk;
        n -= chunk;
    }
    if (run_len && (rc = st__file_read(d->fd, run_buf, run_len, run_host)) < 0)
        goto io;
    return (ssize_t)total;
io:
    st__disk_fail(d, rc, "read of '%s' failed: %s", d->path, strerror(-rc));
out:
    return rc;
}

/* The cache slot of the L2 table for guest cluster cl, made writable:
 * allocated when missing, its COPIED flag checked. */
static int l2_for_write(st_disk *d, uint64_t cl, int *slot)
{
    qcow2 *q = d->priv;
    uint64_t l1i = cl / q->l2_entries;
    uint64_t e = q->l1[l1i], l2off = e & QCOW2_L1_OFFSET_MASK;
    int rc;
    if (!l2off) {
        if ((rc = qcow2_alloc(d, 1, &l2off)) < 0)
            return rc;
        if ((rc = qcow2_l2_get(d, l2off, 0, slot)) < 0)
            return rc;
        q->l1[l1i] = l2off | QCOW2_COPIED;
        q->l1_dirty[l1i] = 1;
        q->l1_any_dirty = 1;
        q->dirty_meta = 1;
        return 0;
    }
    if (!(e & QCOW2_COPIED)) {
        uint64_t refs;
        if ((rc = qcow2_refcount_get(d, l2off >> q->cbits, &refs)) < 0)
            return rc;
        if (refs != 1)
            return st__disk_fail(d, -ENOTSUP,
                                 "'%s': L2 table shared with a snapshot "
                                 "(refcount %llu); not writable here",
                                 d->path, (unsigned long long)refs);
        q->l1[l1i] = e | QCOW2_COPIED;
        q->l1_dirty[l1i] = 1;
        q->l1_any_dirty = 1;
        q->dirty_meta = 1;
    }
    return qcow2_l2_get(d, l2off, 1, slot);
}

/* The old contents of a guest cluster about to be copied on write. */
static int cow_source(st_disk *d, const cmap *m, uint64_t cbase, int *zero)
{
    qcow2 *q = d->priv;
    *zero = 0;
    switch (m->kind) {
    case C_ZERO:
        *zero = 1;
        memset(q->cbuf, 0, q->cs);
        return 0;
    case C_UNALLOC: {
        *zero = !d->backing || cbase >= d->backing->size;
        uint64_t n = q->cs;
        if (cbase + n > d->size)
            n = d->size - cbase;
        memset(q->cbuf + n, 0, q->cs - n);
        return read_backing(d, q->cbuf, (size_t)n, cbase);
    }
    case C_COMPRESSED: {
        int rc = inflate_cluster(d, m, cbase);
        if (rc == 0)
            memcpy(q->cbuf, q->zbuf, q->cs);
        return rc;
    }
    default: {
        int rc = st__file_read(d->fd, q->cbuf, q->cs, m->host);
        return rc < 0 ? st__disk_fail(d, rc, "read of '%s' failed: %s", d->path, strerror(-rc)) : 0;
    }
    }
}

/* Removes the reference an entry held (its refcount drops at the next sync). */
static int drop_old(st_disk *d, const cmap *m)
{
    qcow2 *q = d->priv;
    if (m->kind == C_COMPRESSED) {
        if (q->zcache_entry == m->entry)
            q->zcache_entry = 0;
        return qcow2_defer_free(d, m->zoff, m->zlen);
    }
    if ((m->kind == C_DATA || m->kind == C_ZERO) && m->host)
        return qcow2_defer_free(d, m->host, q->cs);
    return 0;
}

/* Writes chunk bytes at guest offset voff, all inside one cluster. */
static int write_cluster(st_disk *d, const uint8_t *src, size_t chunk, uint64_t voff)
{
    qcow2 *q = d->priv;
    uint64_t cl = voff >> q->cbits, cbase = cl << q->cbits;
    uint32_t in = (uint32_t)(voff - cbase), l2i = (uint32_t)(cl % q->l2_entries);
    int slot, rc;
    if ((rc = l2_for_write(d, cl, &slot)) < 0)
        return rc;
    q->l2.pinned[slot] = 1;
    cmap m;
    if ((rc = classify(d, qcow2_l2_entry(q, slot, l2i), voff, &m)) < 0)
        goto out;
    if (m.kind == C_DATA && !(m.entry & QCOW2_COPIED)) {
        uint64_t refs;
        if ((rc = qcow2_refcount_get(d, m.host >> q->cbits, &refs)) < 0)
            goto out;
        if (refs == 1) {
            m.entry |= QCOW2_COPIED;
            qcow2_l2_set(q, slot, l2i, m.entry);
        }
    }
    if (m.kind == C_DATA && (m.entry & QCOW2_COPIED)) {
        rc = st__file_write(d->fd, src, chunk, m.host + in);
        goto io;
    }
    /* Copy on write into a new cluster (or a preallocated zero cluster we own). */
    uint64_t host;
    int reuse = m.kind == C_ZERO && m.host && (m.entry & QCOW2_COPIED);
    int fresh = 0;
    if (reuse) {
        host = m.host;
    } else {
        uint64_t fresh_from = q->fresh_from;
        if ((rc = qcow2_alloc(d, 1, &host)) < 0)
            goto out;
        fresh = (host >> q->cbits) >= fresh_from;
    }
    if (chunk == q->cs) {
        rc = st__file_write(d->fd, src, chunk, host);
    } else {
        int zero;
        if ((rc = cow_source(d, &m, cbase, &zero)) < 0)
            goto out;
        if (fresh && zero) {
            rc = st__file_write(d->fd, src, chunk, host + in);
        } else {
            memcpy(q->cbuf + in, src, chunk);
            rc = st__file_write(d->fd, q->cbuf, q->cs, host);
        }
    }
    if (rc < 0)
        goto io;
    qcow2_l2_set(q, slot, l2i, host | QCOW2_COPIED);
    if (!reuse)
        rc = drop_old(d, &m);
    goto out;
io:
    if (rc < 0)
        st__disk_fail(d, rc, "write of '%s' failed: %s", d->path, strerror(-rc));
out:
    q->l2.pinned[slot] = 0;
    return rc;
}

ssize_t qcow2_pwrite(st_disk *d, const void *vbuf, size_t n, uint64_t off)
{
    qcow2 *q = d->priv;
    const uint8_t *buf = vbuf;
    size_t total = n;
    while (n) {
        uint32_t in = (uint32_t)(off & (q->cs - 1));
        size_t chunk = q->cs - in < n ? q->cs - in : n;
        int rc = write_cluster(d, buf, chunk, off);
        if (rc < 0)
            return rc;
        buf += chunk;
        off += chunk;
        n -= chunk;
    }
    return (ssize_t)total;
}

/*
 * Makes the whole guest cluster cl read as zeros without data, where the
 * format can say so: 1 done, 0 the caller must write zeros instead.
 */
static int zero_cluster(st_disk *d, uint64_t cl)
{
    qcow2 *q = d->priv;
    uint64_t voff = cl << q->cbits;
    cmap m;
    int slot, rc;
    if ((rc = lookup(d, voff, &m, &slot)) < 0)
        return rc;
    int backed = d->backing && voff < d->backing->size;
    if (m.kind == C_UNALLOC && !backed)
        return 1; /* already reads as zeros */
    if (m.kind == C_ZERO && !m.host)
        return 1;
    if (q->h.version < 3 && backed)
        return 0; /* v2 cannot say "zero" over a backing file */
    if ((rc = l2_for_write(d, cl, &slot)) < 0)
        return rc;
    uint32_t l2i = (uint32_t)(cl % q->l2_entries);
    qcow2_l2_set(q, slot, l2i, q->h.version >= 3 ? QCOW2_ZERO : 0);
    rc = drop_old(d, &m);
    return rc < 0 ? rc : 1;
}

static int zero_range(st_disk *d, uint64_t off, uint64_t len, int must_zero)
{
    qcow2 *q = d->priv;
    while (len) {
        uint32_t in = (uint32_t)(off & (q->cs - 1));
        uint64_t chunk = q->cs - in < len ? q->cs - in : len;
        int done = 0;
        if (in == 0 && chunk == q->cs) {
            done = zero_cluster(d, off >> q->cbits);
            if (done < 0)
                return done;
        }
        if (!done && must_zero) {
            int rc = write_cluster(d, q->zeros, (size_t)chunk, off);
            if (rc < 0)
                return rc;
        }
        off += chunk;
        len -= chunk;
    }
    return 0;
}

int qcow2_discard(st_disk *d, uint64_t off, uint64_t len)
{
    return zero_range(d, off, len, 0);
}

int qcow2_write_zeroes(st_disk *d, uint64_t off, uint64_t len)
{
    return zero_range(d, off, len, 1);
}

int qcow2_flush(st_disk *d)
{
    return qcow2_sync(d, 1);
}

int qcow2_check_tables(st_disk *d)
{
    qcow2 *q = d->priv;
    struct stat st;
    if (fstat(d->fd, &st) < 0)
        return st__disk_fail(d, -errno, "cannot stat '%s'", d->path);
    uint64_t fsize = (uint64_t)st.st_size;
    for (uint32_t i = 0; i < q->h.l1_size; i++) {
        uint64_t l2off = q->l1[i] & QCOW2_L1_OFFSET_MASK;
        if (!l2off)
            continue;
        int slot, rc = qcow2_l2_get(d, l2off, 1, &slot);
        if (rc < 0)
            return rc;
        for (uint32_t k = 0; k < q->l2_entries; k++) {
            uint64_t voff = ((uint64_t)i * q->l2_entries + k) << q->cbits;
            cmap m;
            if ((rc = classify(d, qcow2_l2_entry(q, slot, k), voff, &m)) < 0)
                return rc;
            if (m.kind == C_UNALLOC)
                continue;
            if (voff >= d->size)
                return corrupt(d, voff, "cluster mapped past the virtual size");
            if (m.kind == C_DATA && m.host >= fsize)
                return corrupt(d, voff, "data cluster past the end of the file");
            if (m.kind == C_COMPRESSED && (m.zoff >= fsize || m.zlen > fsize - m.zoff))
                return corrupt(d, voff, "compressed cluster past the end of the file");
        }
    }
    return 0;
}
