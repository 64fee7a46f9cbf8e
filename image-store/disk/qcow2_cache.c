/*
 * qcow2_cache.c - a fixed set of cluster-sized table buffers (L2 tables or
 * refcount blocks) keyed by their host offset.
 *
 * Lookup is a hash on the offset with chains through slot indices, after a
 * check of the slot that answered last time (sequential I/O hits the same
 * table again and again). Eviction takes an empty slot or the least
 * recently used unpinned one. The cache knows nothing about files or
 * ordering: its users (qcow2.c, qcow2_alloc.c) load tables, mark them dirty
 * and write dirty victims back before reusing a slot, in the order the
 * qcow2 essay demands.
 *
 * Buffers are allocated when a slot is first used.
 *
 * Invariants: off[s] == 0 exactly when slot s is empty; every non-empty slot
 * is on the chain of hash(off[s]) and no two slots hold the same offset.
 */
#include "qcow2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int hash(const qcache *c, uint64_t off)
{
    uint64_t x = off * 0x9e3779b97f4a7c15ull;
    return (int)(x >> 40) & (c->hsize - 1);
}

int qcache_init(qcache *c, int n, uint32_t cs)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->cs = cs;
    c->hsize = 16;
    while (c->hsize < 2 * n)
        c->hsize <<= 1;
    c->off = calloc((size_t)n, sizeof *c->off);
    c->buf = calloc((size_t)n, sizeof *c->buf);
    c->dirty = calloc((size_t)n, 1);
    c->pinned = calloc((size_t)n, 1);
    c->used = calloc((size_t)n, sizeof *c->used);
    c->hnext = malloc((size_t)n * sizeof *c->hnext);
    c->hhead = malloc((size_t)c->hsize * sizeof *c->hhead);
    if (!c->off || !c->buf || !c->dirty || !c->pinned || !c->used || !c->hnext || !c->hhead) {
        qcache_free(c);
        return -ENOMEM;
    }
    for (int i = 0; i < c->hsize; i++)
        c->hhead[i] = -1;
    for (int i = 0; i < n; i++)
        c->hnext[i] = -1;
    return 0;
}

void qcache_free(qcache *c)
{
    for (int i = 0; c->buf && i < c->n; i++)
        free(c->buf[i]);
    free(c->off);
    free(c->buf);
    free(c->dirty);
    free(c->pinned);
    free(c->used);
    free(c->hnext);
    free(c->hhead);
    memset(c, 0, sizeof *c);
}

int qcache_find(qcache *c, uint64_t off)
{
    if (c->off[c->last] == off && off) {
        c->used[c->last] = ++c->tick;
        return c->last;
    }
    for (int s = c->hhead[hash(c, off)]; s >= 0; s = c->hnext[s]) {
        if (c->off[s] == off) {
            c->used[s] = ++c->tick;
            c->last = s;
            return s;
        }
    }
    return -1;
}

int qcache_victim(qcache *c)
{
    int best = -1;
    for (int s = 0; s < c->n; s++) {
        if (c->pinned[s])
            continue;
        if (c->off[s] == 0)
            return s;
        if (best < 0 || c->used[s] < c->used[best])
            best = s;
    }
    return best;
}

static void unlink_slot(qcache *c, int slot)
{
    int *pp = &c->hhead[hash(c, c->off[slot])];
    while (*pp >= 0 && *pp != slot)
        pp = &c->hnext[*pp];
    if (*pp == slot)
        *pp = c->hnext[slot];
    c->hnext[slot] = -1;
}

void qcache_drop(qcache *c, int slot)
{
    if (c->off[slot])
        unlink_slot(c, slot);
    c->off[slot] = 0;
    c->dirty[slot] = 0;
    c->pinned[slot] = 0;
}

int qcache_set(qcache *c, int slot, uint64_t off)
{
    qcache_drop(c, slot);
    if (!c->buf[slot]) { /* buffers are made on first use: small images stay small */
        size_t align = c->cs < 4096 ? c->cs : 4096;
        if (posix_memalign((void **)&c->buf[slot], align, c->cs) != 0) {
            c->buf[slot] = NULL;
            return -ENOMEM;
        }
    }
    c->off[slot] = off;
    int h = hash(c, off);
    c->hnext[slot] = c->hhead[h];
    c->hhead[h] = slot;
    c->used[slot] = ++c->tick;
    c->last = slot;
    return 0;
}
