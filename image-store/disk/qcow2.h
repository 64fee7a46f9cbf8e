/*
 * qcow2.h - the qcow2 driver's private structures, shared by its files:
 *
 *   qcow2_header.c  parsing and validating the header (pure, fuzzed)
 *   qcow2_cache.c   the cluster-table cache (L2 tables, refcount blocks)
 *   qcow2_alloc.c   refcounts, cluster allocation and the ordered sync
 *   qcow2.c         open and close
 *   qcow2_io.c      the guest's read/write/discard paths
 *   qcow2_create.c  making new images
 *
 * The on-disk format is qemu's docs/interop/qcow2.txt; all numbers on disk
 * are big-endian. In memory the L1 table and the refcount table are
 * host-endian arrays; L2 tables and refcount blocks stay in their on-disk
 * (big-endian) form inside the cache, so writing one back is one pwrite.
 */
#ifndef STRATUS_QCOW2_H
#define STRATUS_QCOW2_H

#include "disk_int.h"

#include <endian.h>
#include <stdint.h>

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)

/* Header extension types. */
#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_EXT_FEATURES 0x6803f857u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* L1/L2 entry bits. */
#define QCOW2_COPIED (1ull << 63)
#define QCOW2_COMPRESSED (1ull << 62)
#define QCOW2_ZERO 1ull
#define QCOW2_L1_OFFSET_MASK 0x00fffffffffffe00ull /* bits 9-55 */
#define QCOW2_L1_RESERVED 0x7f000000000001ffull    /* bits 0-8, 56-62 */
#define QCOW2_L2_OFFSET_MASK 0x00fffffffffffe00ull /* bits 9-55 */
#define QCOW2_L2_RESERVED 0x3f000000000001feull    /* bits 1-8, 56-61 (standard) */
#define QCOW2_RT_OFFSET_MASK 0xfffffffffffffe00ull /* bits 9-63 */

/* Limits (qemu's where it has one; see qcow2_header.c). */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_RT_BYTES (8u << 20)
#define QCOW2_MAX_SIZE (1ull << 56)
#define QCOW2_MAX_SNAPSHOTS 65536

/* The parsed header. */
typedef struct qcow2_hdr {
    uint32_t version;
    uint64_t backing_off;
    uint32_t backing_len;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_off;
    uint64_t rt_off;
    uint32_t rt_clusters;
    uint32_t nb_snapshots;
    uint64_t snap_off;
    uint64_t incompat;
    uint64_t compat;
    uint64_t autoclear;
    uint32_t refcount_order;
    uint32_t header_len;
    char backing_file[1024]; /* "" when none */
    char backing_fmt[16];    /* "" when not recorded */
} qcow2_hdr;

/* qcow2_parse_header() policies. */
#define QCOW2_PARSE_UPLOAD 0x1 /* an upload: no backing file, no dirty image */
#define QCOW2_PARSE_WRITE 0x2  /* opened for writing: no dirty/corrupt image, no snapshots */

/* Parses and validates the header in buf (len bytes of the file's start). */
int qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size, int policy, qcow2_hdr *h,
                       char *err, size_t errlen);

/* ---- The table cache (qcow2_cache.c) ---- */

typedef struct qcache {
    int n;         /* slots */
    uint32_t cs;   /* bytes a table */
    uint64_t *off; /* host offset of each slot's table, 0 when empty */
    uint8_t **buf;
    uint8_t *dirty;
    uint8_t *pinned;
    uint64_t *used; /* LRU stamp */
    uint64_t tick;
    int *hnext; /* hash chains over off */
    int *hhead;
    int hsize;
    int last; /* slot of the last hit */
} qcache;

int qcache_init(qcache *c, int n, uint32_t cs);
void qcache_free(qcache *c);
int qcache_find(qcache *c, uint64_t off);
/* A free or least recently used unpinned slot; -1 when all are pinned.
 * The caller writes a dirty victim back before reusing it. */
int qcache_victim(qcache *c);
/* Binds slot to off (allocating its buffer on first use): 0 or -ENOMEM. */
int qcache_set(qcache *c, int slot, uint64_t off);
void qcache_drop(qcache *c, int slot);

/* ---- The driver state ---- */

typedef struct qcow2_free {
    uint64_t off; /* host byte offset */
    uint64_t len; /* bytes; every cluster touched loses one reference */
} qcow2_free;

typedef struct qcow2 {
    qcow2_hdr h;
    uint32_t cs; /* cluster size */
    uint32_t cbits;
    uint32_t l2_entries; /* per L2 table */
    uint64_t *l1;        /* host-endian */
    uint8_t *l1_dirty;
    int l1_any_dirty;
    qcache l2;
    /* Refcounts (writable images only). */
    uint32_t rbits;      /* refcount width in bits */
    uint64_t rb_entries; /* refcounts per block */
    uint64_t *rt;        /* refcount table, host-endian */
    uint64_t rt_entries;
    uint8_t *rt_dirty;
    int rt_any_dirty;
    uint64_t rt_new_off; /* a grown table not yet in the header, or 0 */
    uint64_t rt_new_clusters;
    uint64_t rt_old_off; /* the table it replaces (freed after the switch) */
    uint64_t rt_old_clusters;
    qcache rb;
    uint64_t free_hint;  /* cluster index where the next free search starts */
    uint64_t fresh_from; /* clusters at or past this index were never written */
    qcow2_free *frees;   /* references removed, refcounts not yet decremented */
    size_t nfrees, capfrees;
    int dirty_meta; /* something waits for qcow2_sync() */
    /* One decompressed cluster, for sequential reads of compressed images. */
    uint64_t zcache_entry;
    uint8_t *zbuf;
    uint8_t *cbuf;  /* scratch: one cluster */
    uint8_t *zeros; /* one cluster of zeros */
    uint8_t *cbuf2; /* scratch: compressed input */
    size_t cbuf2_len;
} qcow2;

/* qcow2_alloc.c */
int qcow2_refcount_init(st_disk *d);
void qcow2_refcount_free(qcow2 *q);
int qcow2_refcount_get(st_disk *d, uint64_t cluster, uint64_t *out);
/* Allocates n contiguous clusters (refcount 0 -> 1); returns the host offset. */
int qcow2_alloc(st_disk *d, uint64_t n, uint64_t *off);
/* Records a removed reference; the refcount drops at the next sync. */
int qcow2_defer_free(st_disk *d, uint64_t off, uint64_t len);
/* Writes every dirty table in the order the essay in qcow2_alloc.c gives. */
int qcow2_sync(st_disk *d, int durable);

/* qcow2_io.c: a table through the L2 cache (load = read it from the file). */
int qcow2_l2_get(st_disk *d, uint64_t off, int load, int *slot);
/* qcow2_io.c: the driver's I/O entry points (disk.c has checked the range). */
ssize_t qcow2_pread(st_disk *d, void *buf, size_t n, uint64_t off);
ssize_t qcow2_pwrite(st_disk *d, const void *buf, size_t n, uint64_t off);
int qcow2_flush(st_disk *d);
int qcow2_discard(st_disk *d, uint64_t off, uint64_t len);
int qcow2_write_zeroes(st_disk *d, uint64_t off, uint64_t len);
int qcow2_check_tables(st_disk *d);
int qcow2_block_status(st_disk *d, uint64_t off, uint64_t len, uint64_t *pnum);

static inline uint64_t qcow2_l2_entry(const qcow2 *q, int slot, uint32_t i)
{
    uint64_t v;
    __builtin_memcpy(&v, q->l2.buf[slot] + (size_t)i * 8, 8);
    return be64toh(v);
}

static inline void qcow2_l2_set(qcow2 *q, int slot, uint32_t i, uint64_t e)
{
    uint64_t v = htobe64(e);
    __builtin_memcpy(q->l2.buf[slot] + (size_t)i * 8, &v, 8);
    q->l2.dirty[slot] = 1;
    q->dirty_meta = 1;
}

#endif
