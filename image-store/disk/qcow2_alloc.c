/*
 * qcow2_alloc.c - refcounts, cluster allocation, and the order in which
 * qcow2 metadata reaches the disk.
 *
 * THE PROBLEM
 *
 * A qcow2 image describes itself with two trees over one file: the mapping
 * tree (L1 table -> L2 tables -> data clusters) says where each guest
 * cluster lives, and the refcount tree (refcount table -> refcount blocks)
 * says how many references each host cluster has. A write to a guest cluster
 * that has no host cluster yet changes both trees and the data. The file
 * system may put our writes on the platter in any order unless we separate
 * them with fdatasync(), and a process may die (SIGKILL, power loss) between
 * any two of them. `qemu-img check` judges the result:
 *
 *   refcount == references   clean
 *   refcount >  references   "leaked cluster": wasted space, harmless
 *   refcount <  references   CORRUPTION: a cluster in use can be handed out
 *                            again and two guest clusters would share it
 *
 * and a reference must never point at a table whose contents are not on
 * disk yet (an L1 entry at an L2 table full of stale bytes is corruption).
 *
 * THE RULES (each is an invariant of the on-disk state at every instant)
 *
 *   R1. A cluster's refcount reaches the disk before any reference to it.
 *   R2. A new table (L2 table, refcount block, refcount table) reaches the
 *       disk before the entry (L1 entry, refcount table entry, header field)
 *       that points at it.
 *   R3. A reference is removed on disk before the refcount it held drops.
 *   R4. Guest data reaches the disk before the L2 entry that exposes it, so
 *       a crash never shows a guest stale bytes from a reused cluster.
 *
 * Each "before" is a barrier: fdatasync() between the two writes. With R1-R3
 * a crash at any point leaves refcount >= references everywhere (leaks at
 * most), and R4 keeps the guest's view sane.
 *
 * HOW THIS FILE KEEPS THEM CHEAPLY
 *
 * One barrier per guest write would make an allocating write cost a disk
 * flush. Instead, like a database's write-ahead discipline, changes are held
 * in memory and written in stages by qcow2_sync(), with one barrier between
 * stages however many clusters changed:
 *
 *   during I/O  allocate: refcount 0 -> 1 in the cached refcount block (dirty),
 *               then write the guest data into the new cluster (at once),
 *               then set the L2 entry in the cached L2 table (dirty);
 *               a new L2 table also sets an L1 entry (dirty in memory);
 *               removing a reference clears the L2 entry (dirty) and queues
 *               the old cluster on the free list, its refcount untouched.
 *   sync, stage 1  write dirty refcount blocks (and a grown refcount table
 *               at its new place); barrier if a refcount table entry or the
 *               header must change (R2); write those entries / the header.
 *   stage 2     barrier (R1, R4: refcounts and data are durable); write dirty
 *               L2 tables.
 *   stage 3     if L1 entries changed: barrier (R2); write them.
 *   stage 4     if clusters were freed: barrier (R3); decrement their
 *               refcounts and write the blocks; only now may they be reused.
 *   stage 5     for a flush: a final barrier, so everything is durable.
 *
 * Sync runs on st_disk_flush(), on close, before a grown refcount table is
 * built, and whenever a dirty L2 table must leave the cache. A dirty
 * refcount block may be written at any time (it holds only increments and
 * new blocks, which are leaks at worst until something points at them), so
 * evicting one needs no sync. Writes since the last sync may be lost in a
 * crash, exactly like a disk's volatile write cache; st_disk_flush() is the
 * guest's FLUSH command.
 *
 * ALLOCATION
 *
 * Free clusters are found by scanning refcounts from a hint (the cluster
 * after the last allocation, lowered when clusters are freed); clusters past
 * the refcount table's coverage are free. A refcount block for a range that
 * has none is placed at the first cluster of that range, so it counts
 * itself. When the table itself is too small, a new, larger table is laid
 * out just past the old coverage together with the refcount blocks that
 * cover it (all counting each other), written, and switched in by one
 * 12-byte header write after a barrier; the old table is freed after another.
 * Freed clusters wait on the free list until stage 4 so that a cluster is
 * never reused while an old reference to it may still be on disk.
 */
#include "qcow2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rb_get(const qcow2 *q, const uint8_t *blk, uint64_t i)
{
    uint32_t bits = q->rbits;
    if (bits >= 8) {
        const uint8_t *p = blk + i * (bits / 8);
        uint64_t v = 0;
        for (uint32_t k = 0; k < bits / 8; k++)
            v = v << 8 | p[k];
        return v;
    }
    uint64_t bit = i * bits;
    return (uint64_t)(blk[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}

static void rb_put(const qcow2 *q, uint8_t *blk, uint64_t i, uint64_t v)
{
    uint32_t bits = q->rbits;
    if (bits >= 8) {
        uint8_t *p = blk + i * (bits / 8);
        for (int k = (int)(bits / 8) - 1; k >= 0; k--, v >>= 8)
            p[k] = (uint8_t)v;
        return;
    }
    uint64_t bit = i * bits;
    uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
    blk[bit / 8] = (uint8_t)((blk[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
}

static int sync_fail(st_disk *d, int rc, const char *what)
{
    return st__disk_fail(d, rc, "%s on '%s' failed: %s", what, d->path, strerror(-rc));
}

static int barrier(st_disk *d)
{
    if (fdatasync(d->fd) < 0)
        return sync_fail(d, -errno, "fdatasync");
    return 0;
}

/* Writes a refcount block back (any time is safe: see the essay). */
static int rb_writeback(st_disk *d, int slot)
{
    qcow2 *q = d->priv;
    int rc = st__file_write(d->fd, q->rb.buf[slot], q->cs, q->rb.off[slot]);
    if (rc < 0)
        return sync_fail(d, rc, "refcount block write");
    q->rb.dirty[slot] = 0;
    return 0;
}

/* A slot for a table at off, writing back a dirty victim. */
static int rb_slot(st_disk *d, uint64_t off, int *slot)
{
    qcow2 *q = d->priv;
    int s = qcache_victim(&q->rb);
    if (s < 0)
        return st__disk_fail(d, -ENOMEM, "refcount cache exhausted");
    if (q->rb.off[s] && q->rb.dirty[s]) {
        int rc = rb_writeback(d, s);
        if (rc < 0)
            return rc;
    }
    if (qcache_set(&q->rb, s, off) < 0)
        return st__disk_fail(d, -ENOMEM, "out of memory");
    *slot = s;
    return 0;
}

/* The cached block of range b (which must have one). */
static int rb_load(st_disk *d, uint64_t b, int *slot)
{
    qcow2 *q = d->priv;
    uint64_t off = q->rt[b];
    int s = qcache_find(&q->rb, off);
    if (s >= 0) {
        *slot = s;
        return 0;
    }
    int rc = rb_slot(d, off, &s);
    if (rc < 0)
        return rc;
    rc = st__file_read(d->fd, q->rb.buf[s], q->cs, off);
    if (rc < 0) {
        qcache_drop(&q->rb, s);
        return sync_fail(d, rc, "refcount block read");
    }
    *slot = s;
    return 0;
}

/* Makes a refcount block for range b (< rt_entries) at the range's first cluster. */
static int rb_create(st_disk *d, uint64_t b)
{
    qcow2 *q = d->priv;
    if (b == 0)
        return st__disk_fail(d, -EIO, "'%s' is corrupt: no refcount block for the header", d->path);
    uint64_t cl = b * q->rb_entries;
    int s, rc = rb_slot(d, cl * q->cs, &s);
    if (rc < 0)
        return rc;
    memset(q->rb.buf[s], 0, q->cs);
    rb_put(q, q->rb.buf[s], 0, 1);
    q->rb.dirty[s] = 1;
    q->rt[b] = cl * q->cs;
    q->rt_dirty[b] = 1;
    q->rt_any_dirty = 1;
    q->dirty_meta = 1;
    if (cl + 1 > q->fresh_from)
        q->fresh_from = cl + 1;
    return 0;
}

int qcow2_refcount_get(st_disk *d, uint64_t cluster, uint64_t *out)
{
    qcow2 *q = d->priv;
    uint64_t b = cluster / q->rb_entries;
    if (b >= q->rt_entries || q->rt[b] == 0) {
        *out = 0;
        return 0;
    }
    int s, rc = rb_load(d, b, &s);
    if (rc < 0)
        return rc;
    *out = rb_get(q, q->rb.buf[s], cluster % q->rb_entries);
    return 0;
}

/*
 * Grows the refcount table to at least need entries. The new table and the
 * k refcount blocks covering it sit at S, the first cluster past the old
 * coverage: blocks at S .. S+k-1, table at S+k .. S+k+T-1.
 */
static int rt_grow(st_disk *d, uint64_t need)
{
    qcow2 *q = d->priv;
    int rc = qcow2_sync(d, 0); /* at most one table switch in flight */
    if (rc < 0)
        return rc;
    uint64_t per = q->cs / 8, rb = q->rb_entries;
    uint64_t S = q->rt_entries * rb, old = q->rt_entries;
    uint64_t entries = need > old * 2 ? need : old * 2, T, k;
    for (;;) {
        T = (entries + per - 1) / per;
        entries = T * per;
        for (k = 1; k * rb < k + T; k++)
            ;
        if (entries >= old + k && entries >= need)
            break;
        entries = old + k > need ? old + k : need;
    }
    if (T * q->cs > QCOW2_MAX_RT_BYTES)
        return st__disk_fail(d, -EFBIG, "'%s' is full: its refcount table would exceed %u MiB",
                             d->path, QCOW2_MAX_RT_BYTES >> 20);
    uint64_t *nrt = realloc(q->rt, entries * sizeof *nrt);
    if (!nrt)
        return st__disk_fail(d, -ENOMEM, "out of memory");
    q->rt = nrt;
    uint8_t *nd = realloc(q->rt_dirty, entries);
    if (!nd)
        return st__disk_fail(d, -ENOMEM, "out of memory");
    q->rt_dirty = nd;
    memset(q->rt + old, 0, (entries - old) * sizeof *nrt);
    memset(q->rt_dirty + old, 0, entries - old);
    q->rt_entries = entries;
    for (uint64_t j = 0; j < k; j++) {
        int s;
        rc = rb_slot(d, (S + j) * q->cs, &s);
        if (rc < 0)
            return rc;
        memset(q->rb.buf[s], 0, q->cs);
        q->rb.dirty[s] = 1;
        q->rt[old + j] = (S + j) * q->cs;
    }
    /* Count the blocks and the table: clusters S .. S+k+T-1. */
    for (uint64_t c = S; c < S + k + T; c++) {
        int s;
        rc = rb_load(d, c / rb, &s);
        if (rc < 0)
            return rc;
        rb_put(q, q->rb.buf[s], c % rb, 1);
        q->rb.dirty[s] = 1;
    }
    q->rt_new_off = (S + k) * q->cs;
    q->rt_new_clusters = T;
    q->dirty_meta = 1;
    if (S + k + T > q->fresh_from)
        q->fresh_from = S + k + T;
    return 0;
}

/* Ensures range b has a refcount block; 1 when something was created. */
static int ensure_block(st_disk *d, uint64_t b)
{
    qcow2 *q = d->priv;
    int rc;
    if (b >= q->rt_entries) {
        rc = rt_grow(d, b + 1);
        return rc < 0 ? rc : 1;
    }
    if (q->rt[b] == 0) {
        rc = rb_create(d, b);
        return rc < 0 ? rc : 1;
    }
    return 0;
}

/* First run of n free clusters at or after the hint. */
static int find_free(st_disk *d, uint64_t n, uint64_t *start)
{
    qcow2 *q = d->priv;
    uint64_t rb = q->rb_entries, i = q->free_hint, run = 0, run_start = i;
    for (;;) {
        uint64_t b = i / rb;
        if (b >= q->rt_entries) {
            *start = run ? run_start : i;
            return 0;
        }
        if (q->rt[b] == 0) {
            int rc = rb_create(d, b);
            if (rc < 0)
                return rc;
            run = 0;
            continue;
        }
        int s, rc = rb_load(d, b, &s);
        if (rc < 0)
            return rc;
        for (; i < (b + 1) * rb; i++) {
            if (rb_get(q, q->rb.buf[s], i % rb) == 0) {
                if (!run++)
                    run_start = i;
                if (run == n) {
                    *start = run_start;
                    return 0;
                }
            } else {
                run = 0;
            }
        }
    }
}

int qcow2_alloc(st_disk *d, uint64_t n, uint64_t *off)
{
    qcow2 *q = d->priv;
    uint64_t rb = q->rb_entries, s;
    for (;;) {
        int rc = find_free(d, n, &s);
        if (rc < 0)
            return rc;
        if (s == 0) { /* cluster 0 is the header: never free in a sane image */
            return st__disk_fail(d, -EIO, "'%s' is corrupt: the header cluster has refcount 0",
                                 d->path);
        }
        int changed = 0;
        for (uint64_t b = s / rb; b <= (s + n - 1) / rb; b++) {
            rc = ensure_block(d, b);
            if (rc < 0)
                return rc;
            changed |= rc;
        }
        if (changed)
            continue; /* a new block or table may sit in the run: look again */
        for (uint64_t c = s; c < s + n; c++) {
            int slot;
            rc = rb_load(d, c / rb, &slot);
            if (rc < 0)
                return rc;
            rb_put(q, q->rb.buf[slot], c % rb, 1);
            q->rb.dirty[slot] = 1;
        }
        q->dirty_meta = 1;
        q->free_hint = s + n;
        if (s + n > q->fresh_from)
            q->fresh_from = s + n;
        *off = s * q->cs;
        return 0;
    }
}

int qcow2_defer_free(st_disk *d, uint64_t off, uint64_t len)
{
    qcow2 *q = d->priv;
    if (q->nfrees == q->capfrees) {
        size_t cap = q->capfrees ? q->capfrees * 2 : 64;
        qcow2_free *f = realloc(q->frees, cap * sizeof *f);
        if (!f)
            return st__disk_fail(d, -ENOMEM, "out of memory");
        q->frees = f;
        q->capfrees = cap;
    }
    q->frees[q->nfrees++] = (qcow2_free){off, len};
    q->dirty_meta = 1;
    return 0;
}

static int release(st_disk *d, uint64_t off, uint64_t len)
{
    qcow2 *q = d->priv;
    uint64_t first = off >> q->cbits, last = (off + len - 1) >> q->cbits;
    for (uint64_t c = first; c <= last; c++) {
        uint64_t b = c / q->rb_entries;
        if (b >= q->rt_entries || q->rt[b] == 0)
            return st__disk_fail(d, -EIO, "'%s' is corrupt: freeing cluster %llu without refcount",
                                 d->path, (unsigned long long)c);
        int s, rc = rb_load(d, b, &s);
        if (rc < 0)
            return rc;
        uint64_t v = rb_get(q, q->rb.buf[s], c % q->rb_entries);
        if (v == 0)
            return st__disk_fail(d, -EIO, "'%s' is corrupt: cluster %llu freed twice", d->path,
                                 (unsigned long long)c);
        rb_put(q, q->rb.buf[s], c % q->rb_entries, v - 1);
        if ((rc = rb_writeback(d, s)) < 0)
            return rc;
        if (v == 1 && c < q->free_hint)
            q->free_hint = c;
    }
    return 0;
}

static int write_header_rt(st_disk *d, uint64_t off, uint32_t clusters)
{
    uint8_t b[12];
    uint64_t be = htobe64(off);
    uint32_t be32 = htobe32(clusters);
    memcpy(b, &be, 8);
    memcpy(b + 8, &be32, 4);
    int rc = st__file_write(d->fd, b, sizeof b, 48);
    return rc < 0 ? sync_fail(d, rc, "header write") : 0;
}

int qcow2_sync(st_disk *d, int durable)
{
    qcow2 *q = d->priv;
    int rc = 0;
    if (d->flags & ST_DISK_RDONLY)
        return 0;
    if (q->dirty_meta) {
        /* Stage 1: refcount blocks, then what points at them. */
        for (int s = 0; s < q->rb.n; s++)
            if (q->rb.off[s] && q->rb.dirty[s] && (rc = rb_writeback(d, s)) < 0)
                return rc;
        if (q->rt_new_off) {
            size_t bytes = (size_t)q->rt_new_clusters * q->cs;
            uint64_t *be = calloc(1, bytes);
            if (!be)
                return st__disk_fail(d, -ENOMEM, "out of memory");
            for (uint64_t i = 0; i < q->rt_entries; i++)
                be[i] = htobe64(q->rt[i]);
            rc = st__file_write(d->fd, be, bytes, q->rt_new_off);
            free(be);
            if (rc < 0)
                return sync_fail(d, rc, "refcount table write");
            if ((rc = barrier(d)) < 0)
                return rc;
            if ((rc = write_header_rt(d, q->rt_new_off, (uint32_t)q->rt_new_clusters)) < 0)
                return rc;
            if ((rc = qcow2_defer_free(d, q->h.rt_off, (uint64_t)q->h.rt_clusters * q->cs)) < 0)
                return rc;
            q->h.rt_off = q->rt_new_off;
            q->h.rt_clusters = (uint32_t)q->rt_new_clusters;
            q->rt_new_off = 0;
            memset(q->rt_dirty, 0, q->rt_entries);
            q->rt_any_dirty = 0;
        } else if (q->rt_any_dirty) {
            if ((rc = barrier(d)) < 0)
                return rc;
            for (uint64_t i = 0; i < q->rt_entries; i++) {
                if (!q->rt_dirty[i])
                    continue;
                uint64_t be = htobe64(q->rt[i]);
                if ((rc = st__file_write(d->fd, &be, 8, q->h.rt_off + i * 8)) < 0)
                    return sync_fail(d, rc, "refcount table write");
                q->rt_dirty[i] = 0;
            }
            q->rt_any_dirty = 0;
        }
        /* Stage 2: L2 tables, once data and refcounts are durable. */
        int l2_dirty = 0;
        for (int s = 0; s < q->l2.n; s++)
            l2_dirty |= q->l2.off[s] && q->l2.dirty[s];
        if (l2_dirty || q->l1_any_dirty) {
            if ((rc = barrier(d)) < 0)
                return rc;
            for (int s = 0; s < q->l2.n; s++) {
                if (!q->l2.off[s] || !q->l2.dirty[s])
                    continue;
                if ((rc = st__file_write(d->fd, q->l2.buf[s], q->cs, q->l2.off[s])) < 0)
                    return sync_fail(d, rc, "L2 table write");
                q->l2.dirty[s] = 0;
            }
        }
        /* Stage 3: L1 entries, once the L2 tables they point at are durable. */
        if (q->l1_any_dirty) {
            if ((rc = barrier(d)) < 0)
                return rc;
            for (uint32_t i = 0; i < q->h.l1_size; i++) {
                if (!q->l1_dirty[i])
                    continue;
                uint64_t be = htobe64(q->l1[i]);
                if ((rc = st__file_write(d->fd, &be, 8, q->h.l1_off + (uint64_t)i * 8)) < 0)
                    return sync_fail(d, rc, "L1 table write");
                q->l1_dirty[i] = 0;
            }
            q->l1_any_dirty = 0;
        }
        /* Stage 4: refcounts of removed references, once the removal is durable. */
        if (q->nfrees) {
            if ((rc = barrier(d)) < 0)
                return rc;
            for (size_t i = 0; i < q->nfrees; i++)
                if ((rc = release(d, q->frees[i].off, q->frees[i].len)) < 0)
                    return rc;
            q->nfrees = 0;
        }
        q->dirty_meta = 0;
    }
    /* Stage 5. */
    return durable ? barrier(d) : 0;
}

int qcow2_refcount_init(st_disk *d)
{
    qcow2 *q = d->priv;
    q->rbits = 1u << q->h.refcount_order;
    q->rb_entries = (uint64_t)q->cs * 8 / q->rbits;
    q->rt_entries = ((uint64_t)q->h.rt_clusters << q->cbits) / 8;
    q->rt = malloc(q->rt_entries * sizeof *q->rt);
    q->rt_dirty = calloc(q->rt_entries, 1);
    if (!q->rt || !q->rt_dirty)
        return st__disk_fail(d, -ENOMEM, "out of memory");
    int rc = st__file_read(d->fd, q->rt, q->rt_entries * 8, q->h.rt_off);
    if (rc < 0)
        return sync_fail(d, rc, "refcount table read");
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        q->rt[i] = be64toh(q->rt[i]);
        if (q->rt[i] & ~QCOW2_RT_OFFSET_MASK || q->rt[i] & (q->cs - 1))
            return st__disk_fail(d, -EIO,
                                 "'%s' is corrupt: refcount table entry %llu is "
                                 "misaligned",
                                 d->path, (unsigned long long)i);
    }
    if (q->rt_entries == 0 || q->rt[0] == 0)
        return st__disk_fail(d, -EIO, "'%s' is corrupt: no refcount block for the header", d->path);
    /* 1 MiB of refcount blocks, at least 8. */
    int n = (int)((1u << 20) / q->cs);
    return qcache_init(&q->rb, n < 8 ? 8 : n, q->cs) < 0
               ? st__disk_fail(d, -ENOMEM, "out of memory")
               : 0;
}

void qcow2_refcount_free(qcow2 *q)
{
    if (q->rb.n)
        qcache_free(&q->rb);
    free(q->rt);
    free(q->rt_dirty);
    free(q->frees);
}
