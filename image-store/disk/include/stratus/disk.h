/*
 * disk.h - virtual disk images: raw files and qcow2 (versions 2 and 3) with
 * backing chains. Used by the VMM (virtio-blk), the node agent (instance
 * overlays, snapshots) and the image service (validating uploads).
 *
 * Contract.
 *  - Every fallible call returns 0 (or a byte count) on success and a
 *    negative errno on failure; st_disk_error() / the err buffer of the _ex
 *    calls say why in words a person can act on.
 *  - One caller at a time per st_disk: the library takes no locks. A VMM with
 *    several I/O threads serialises calls on one disk itself. Different
 *    st_disk objects are independent and may be used from different threads.
 *  - One opener at a time per writable image file: st_disk_open() of a
 *    writable image takes an exclusive flock() and fails with -EBUSY when
 *    another process (or another st_disk) holds it.
 *  - st_disk_pread/st_disk_pwrite transfer exactly n bytes or fail; a range
 *    that does not lie inside [0, st_disk_size()) is -EINVAL.
 *  - Writes are durable after st_disk_flush() returns (fdatasync, with the
 *    qcow2 metadata ordered as qcow2_alloc.c explains). A crash at any moment
 *    leaves a qcow2 image that `qemu-img check` calls clean or, at worst,
 *    leaking clusters; writes since the last flush may be lost, like a disk
 *    write cache.
 *
 * Security. Never probe the format of an image a tenant supplied: a "raw"
 * disk whose guest wrote a qcow2 header at sector 0 would be opened as qcow2
 * with a backing file of the guest's choosing (a host file). Pass the format
 * you recorded (ST_DISK_FMT_RAW / ST_DISK_FMT_QCOW2), and ST_DISK_NO_BACKING
 * when the image must stand alone (uploaded base images).
 */
#ifndef STRATUS_DISK_H
#define STRATUS_DISK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct st_disk st_disk;

/* st_disk_open() flags */
#define ST_DISK_RDWR 0x00       /* read and write (the default) */
#define ST_DISK_RDONLY 0x01     /* read only; backing files are always read only */
#define ST_DISK_FMT_RAW 0x02    /* do not probe: the image is raw */
#define ST_DISK_FMT_QCOW2 0x04  /* do not probe: the image is qcow2 */
#define ST_DISK_NO_BACKING 0x08 /* refuse an image that names a backing file */
/* Take no flock(), with ST_DISK_RDONLY only: to copy the disk of a VMM that
 * holds it open but is paused and has flushed (a snapshot of a running
 * instance). The caller guarantees nobody writes meanwhile. */
#define ST_DISK_NOLOCK 0x10

/* Backing chains deeper than this are refused (they are loops or attacks). */
#define ST_DISK_MAX_CHAIN 16

typedef enum st_disk_format { ST_DISK_RAW = 1, ST_DISK_QCOW2 = 2, ST_DISK_RBD = 3 } st_disk_format;

typedef struct st_disk_info {
    st_disk_format format;
    uint64_t size;           /* virtual size, bytes */
    uint64_t file_size;      /* bytes the image file holds now (apparent size) */
    uint32_t cluster_size;   /* qcow2 only (0 for raw) */
    int qcow2_version;       /* 2 or 3 (0 for raw) */
    int chain_depth;         /* 1 for an image without backing file */
    char backing_file[1024]; /* as written in the image ("" when none) */
    char backing_fmt[16];    /* "raw", "qcow2" or "" when not recorded */
} st_disk_info;

/*
 * Opens path, detects raw or qcow2 (unless a FMT flag says) and opens the
 * backing chain, read only. A path "rbd:<pool>/<image>[@<snap>][:conf=<file>]
 * [:id=<client>]" opens a Ceph RBD image through librbd instead (a snapshot
 * is read only; conf defaults to Ceph's search path, id to "admin"), when
 * the library was built with librbd (st_disk_rbd_available()).
 */
int st_disk_open(const char *path, int flags, st_disk **out);
/* The same, with the reason for a failure written into err. */
int st_disk_open_ex(const char *path, int flags, st_disk **out, char *err, size_t errlen);
uint64_t st_disk_size(const st_disk *d);
void st_disk_get_info(const st_disk *d, st_disk_info *info);
const char *st_disk_format_name(st_disk_format f); /* "raw", "qcow2" */
/* The message of the last failed call on d ("" when none). */
const char *st_disk_error(const st_disk *d);

ssize_t st_disk_pread(st_disk *d, void *buf, size_t n, uint64_t off);
ssize_t st_disk_pwrite(st_disk *d, const void *buf, size_t n, uint64_t off);
/* Makes every completed write durable. */
int st_disk_flush(st_disk *d);
/*
 * The guest no longer needs [off, off+len): space may be released. Contents
 * read afterwards are unspecified except that they never come from another
 * image or another part of this one (qcow2 v3 reads zeros; a raw file gets a
 * hole). Ranges smaller than a cluster may be ignored.
 */
int st_disk_discard(st_disk *d, uint64_t off, uint64_t len);
/* Makes [off, off+len) read as zeros (cheaply where the format allows). */
int st_disk_write_zeroes(st_disk *d, uint64_t off, uint64_t len);
/*
 * Whether this image itself (not its backing file) holds the bytes at off: 1
 * when it does (a qcow2 data or zero cluster, data in a raw file), 0 when they
 * come from the backing file (qcow2) or a hole (raw: zeros), for the *pnum
 * bytes from off (1 .. len, up to where the answer changes). What a block
 * migration or an incremental copy sends: only the overlay's clusters. RBD: 1
 * for every byte. A negative errno on failure (a range outside the disk).
 */
int st_disk_block_status(st_disk *d, uint64_t off, uint64_t len, uint64_t *pnum);
/* Flushes and closes the disk and its backing chain. NULL is fine. */
void st_disk_close(st_disk *d);

/*
 * Creates a qcow2 (version 3, 64 KiB clusters, 16-bit refcounts) of size
 * bytes. With backing_file it is an overlay: backing_file is recorded as
 * given (a relative name is relative to the overlay's directory, as qemu
 * does) with backing_fmt ("raw" or "qcow2"; NULL probes the backing file
 * now and records what it found). size 0 with a backing file takes the
 * backing file's size. The file appears atomically (written aside, then
 * renamed) and an existing path is -EEXIST.
 */
int st_qcow2_create(const char *path, uint64_t size, const char *backing_file,
                    const char *backing_fmt);

typedef struct st_qcow2_create_opts {
    uint64_t size;
    const char *backing_file; /* NULL: none */
    const char *backing_fmt;  /* NULL: probe */
    uint32_t cluster_size;    /* power of two, 512 .. 2 MiB; 0: 65536 */
    int version;              /* 2 or 3; 0: 3 */
    int refcount_bits;        /* 1, 2, 4, ..., 64; 0: 16 (version 2: always 16) */
} st_qcow2_create_opts;
int st_qcow2_create_ex(const char *path, const st_qcow2_create_opts *o, char *err, size_t errlen);

/*
 * Validates the first len bytes of an uploaded qcow2 image whose file is
 * file_size bytes long: magic, version 2 or 3, cluster size, virtual size,
 * table offsets and sizes inside the file, header extensions, and refuses
 * what the VMM cannot read safely (encryption, external data files,
 * extended L2 entries, non-zlib compression, unknown incompatible features,
 * dirty or corrupt images) and backing files (an uploaded image must stand
 * alone). len should cover the first cluster (64 KiB covers the usual ones);
 * a header that needs more than len bytes is refused. Returns 0, or
 * -EINVAL with a message for the uploader in err.
 */
int st_qcow2_validate_header(const void *buf, size_t len, uint64_t file_size, char *err,
                             size_t errlen);

/*
 * Walks an open qcow2 image's L1 and L2 tables (no refcount check, no data
 * read) and refuses entries that are misaligned, out of the file, have
 * reserved bits set, or use compression the library cannot read. For raw
 * disks it succeeds at once. Used on uploads after the header passed.
 */
int st_disk_check_tables(st_disk *d, char *err, size_t errlen);

/*
 * Copies the guest-visible contents of src (the whole backing chain
 * flattened) into a new standalone image at path, raw or qcow2, skipping
 * zero ranges (holes in raw, unallocated clusters in qcow2). The file
 * appears atomically; an existing path is -EEXIST. Used for instance
 * snapshots.
 */
int st_disk_convert(st_disk *src, const char *path, st_disk_format fmt, char *err, size_t errlen);

/* ---- Ceph RBD (instance disks as copy-on-write clones of base images) ---- */

/* 1 when built with librbd; otherwise the calls below return -ENOTSUP. */
int st_disk_rbd_available(void);
/*
 * Creates image child in pool as a copy-on-write clone of parent@snap, which
 * must be a protected snapshot (how the image store keeps base images on
 * Ceph): a launch copies nothing. conf/id as for "rbd:" paths (NULL for the
 * defaults).
 */
int st_rbd_clone(const char *conf, const char *id, const char *pool, const char *parent,
                 const char *snap, const char *child, char *err, size_t errlen);
/* Grows RBD image to size bytes when it is smaller (never shrinks): an instance disk
 * cloned from a smaller image gets its flavor's size. 0, or -errno with err. */
int st_rbd_grow(const char *conf, const char *id, const char *pool, const char *image,
                uint64_t size, char *err, size_t errlen);
/* Removes an RBD image (an instance disk); 0 when it is gone. Clients that still watch it (a
 * VMM that died with its host keeps its watch for 30 s) are blocklisted first (rbd.c). */
int st_rbd_remove(const char *conf, const char *id, const char *pool, const char *image, char *err,
                  size_t errlen);
/*
 * The files librados reads for an "rbd:" disk path, which a jailed VMM must be given: in conf
 * the ceph.conf (the path's conf=, else /etc/ceph/ceph.conf; "" when that does not exist), in
 * keyring its client's keyring (the first file of that conf's `keyring` list that exists; ""
 * when none does). 0; -EINVAL for a path that is not "rbd:..."; -ENOTSUP without librbd.
 */
int st_rbd_client_files(const char *path, char *conf, size_t conf_n, char *keyring, size_t key_n);

#endif
