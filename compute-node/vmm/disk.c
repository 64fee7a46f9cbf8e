/*
 * disk.c - raw and qcow2 back ends for virtio-blk (see disk.h).
 *
 * qcow2: the image store's library (stratus/disk.h) opened with the format
 * the config records (never probed), through a bounce buffer; a Ceph RBD
 * image (a raw disk whose path is "rbd:pool/image[:conf=..][:id=..]") too.
 * Raw: the file's size, rounded down to 512 bytes, is the disk's capacity;
 * discard punches a hole (the file keeps its size). Short transfers are
 * retried until complete, so the device never reports half a request.
 */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/log.h"

#ifdef STRATUS_HAVE_DISK
#include "stratus/disk.h"
#endif

struct vmm_disk {
    int fd;
    uint64_t size;
    uint64_t *track; /* vmm_disk_track's bitmap, or NULL */
#ifdef STRATUS_HAVE_DISK
    st_disk *img;
    uint8_t *bounce;
    size_t bounce_len;
#endif
};

int vmm_disk_open(const vmm_disk_cfg *cfg, vmm_disk **out)
{
    vmm_disk *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->fd = -1;
    /* A Ceph RBD image ("rbd:pool/image...", raw) is opened by the same library, whose build
     * says whether librbd is in (-DSTRATUS_VMM_RBD=ON; otherwise a clear error). */
    int rbd = !strncmp(cfg->path, "rbd:", 4);
    if (cfg->qcow2 || rbd) {
#ifdef STRATUS_HAVE_DISK
        char err[256];
        /* The recorded format, never a probe: a raw disk's guest could forge a header. */
        int rc = st_disk_open_ex(
            cfg->path, (cfg->qcow2 ? ST_DISK_FMT_QCOW2 : 0) | (cfg->read_only ? ST_DISK_RDONLY : 0),
            &d->img, err, sizeof err);
        if (rc < 0) {
            st_error("vmm.disk", "%s: %s", cfg->path, err);
            free(d);
            return rc;
        }
        d->size = st_disk_size(d->img);
        *out = d;
        return 0;
#else
        st_error("vmm.disk", "%s: %s needs the image store's disk library", cfg->path,
                 rbd ? "Ceph RBD" : "qcow2");
        free(d);
        return -ENOTSUP;
#endif
    }
    d->fd = open(cfg->path, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (d->fd < 0) {
        int e = errno;
        free(d);
        return -e;
    }
    struct stat st;
    if (fstat(d->fd, &st) < 0) {
        int e = errno;
        close(d->fd);
        free(d);
        return -e;
    }
    d->size = (uint64_t)st.st_size & ~511ull;
    *out = d;
    return 0;
}

uint64_t vmm_disk_size(vmm_disk *d)
{
    return d->size;
}

static uint64_t iov_bytes(const struct iovec *iov, int n)
{
    uint64_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

static int advance(struct iovec **iov, int *n, size_t done)
{
    while (*n && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n && done) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
    return *n;
}

static int rw_full(vmm_disk *d, const struct iovec *in, int n, uint64_t off, int write)
{
    struct iovec tmp[VMM_DISK_MAX_IOV];
    if (n > VMM_DISK_MAX_IOV)
        return -EINVAL;
    memcpy(tmp, in, sizeof tmp[0] * (size_t)n);
    struct iovec *iov = tmp;
    while (n > 0) {
        ssize_t r = write ? pwritev(d->fd, iov, n, (off_t)off) : preadv(d->fd, iov, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0) {
            if (write)
                return -EIO;
            for (int i = 0; i < n; i++) /* past the end of a short file: zeroes */
                memset(iov[i].iov_base, 0, iov[i].iov_len);
            return 0;
        }
        off += (uint64_t)r;
        advance(&iov, &n, (size_t)r);
    }
    return 0;
}

#ifdef STRATUS_HAVE_DISK
static int bounce_reserve(vmm_disk *d, size_t len)
{
    if (len <= d->bounce_len)
        return 0;
    uint8_t *b = realloc(d->bounce, len);
    if (!b)
        return -ENOMEM;
    d->bounce = b;
    d->bounce_len = len;
    return 0;
}
#endif

int vmm_disk_readv(vmm_disk *d, const struct iovec *iov, int n, uint64_t off)
{
#ifdef STRATUS_HAVE_DISK
    if (d->img) {
        size_t len = (size_t)iov_bytes(iov, n), pos = 0;
        int rc = bounce_reserve(d, len);
        if (rc)
            return rc;
        ssize_t r = st_disk_pread(d->img, d->bounce, len, off);
        if (r < 0)
            return (int)r;
        for (int i = 0; i < n; i++) {
            memcpy(iov[i].iov_base, d->bounce + pos, iov[i].iov_len);
            pos += iov[i].iov_len;
        }
        return 0;
    }
#endif
    return rw_full(d, iov, n, off, 0);
}

static void mark(vmm_disk *d, uint64_t off, uint64_t len)
{
    uint64_t *bm = __atomic_load_n(&d->track, __ATOMIC_ACQUIRE);
    if (!bm || !len || off >= d->size)
        return;
    uint64_t end = off + len < d->size ? off + len : d->size;
    for (uint64_t g = off >> VMM_DISK_GRAIN_SHIFT; g <= (end - 1) >> VMM_DISK_GRAIN_SHIFT; g++)
        __atomic_fetch_or(&bm[g / 64], 1ull << (g % 64), __ATOMIC_RELEASE);
}

void vmm_disk_track(vmm_disk *d, uint64_t *bitmap)
{
    __atomic_store_n(&d->track, bitmap, __ATOMIC_RELEASE);
}

int vmm_disk_block_status(vmm_disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
#ifdef STRATUS_HAVE_DISK
    if (d->img)
        return st_disk_block_status(d->img, off, len, pnum);
#endif
    /* Raw: data or a hole, as the disk library's raw driver answers. */
    off_t data = lseek(d->fd, (off_t)off, SEEK_DATA), hole;
    *pnum = len;
    if (data < 0)
        return errno != ENXIO; /* ENXIO: holes to the end */
    if ((uint64_t)data > off) {
        *pnum = (uint64_t)data - off < len ? (uint64_t)data - off : len;
        return 0;
    }
    if ((hole = lseek(d->fd, (off_t)off, SEEK_HOLE)) > (off_t)off && (uint64_t)hole - off < len)
        *pnum = (uint64_t)hole - off;
    return 1;
}

int vmm_disk_format(vmm_disk *d, char *backing, size_t len)
{
    backing[0] = 0;
#ifdef STRATUS_HAVE_DISK
    if (d->img) {
        st_disk_info info;
        st_disk_get_info(d->img, &info);
        const char *slash = strrchr(info.backing_file, '/');
        snprintf(backing, len, "%s", slash ? slash + 1 : info.backing_file);
        return info.format == ST_DISK_QCOW2 ? 2 : 1;
    }
#endif
    (void)len;
    return 1;
}

int vmm_disk_writev(vmm_disk *d, const struct iovec *iov, int n, uint64_t off)
{
    mark(d, off, iov_bytes(iov, n));
#ifdef STRATUS_HAVE_DISK
    if (d->img) {
        size_t len = (size_t)iov_bytes(iov, n), pos = 0;
        int rc = bounce_reserve(d, len);
        if (rc)
            return rc;
        for (int i = 0; i < n; i++) {
            memcpy(d->bounce + pos, iov[i].iov_base, iov[i].iov_len);
            pos += iov[i].iov_len;
        }
        ssize_t w = st_disk_pwrite(d->img, d->bounce, len, off);
        return w < 0 ? (int)w : 0;
    }
#endif
    return rw_full(d, iov, n, off, 1);
}

int vmm_disk_flush(vmm_disk *d)
{
#ifdef STRATUS_HAVE_DISK
    if (d->img)
        return st_disk_flush(d->img);
#endif
    return fdatasync(d->fd) < 0 ? -errno : 0;
}

int vmm_disk_discard(vmm_disk *d, uint64_t off, uint64_t len)
{
    mark(d, off, len);
#ifdef STRATUS_HAVE_DISK
    if (d->img)
        return st_disk_discard(d->img, off, len);
#endif
    if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
        return -errno;
    return 0;
}

void vmm_disk_close(vmm_disk *d)
{
    if (!d)
        return;
#ifdef STRATUS_HAVE_DISK
    if (d->img)
        st_disk_close(d->img);
    free(d->bounce);
#endif
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}
