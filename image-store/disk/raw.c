/*
 * raw.c - the raw format: the guest's bytes are the file's bytes.
 *
 * The virtual size is the file's size (or a block device's, from
 * BLKGETSIZE64). Discard punches a hole; write_zeroes asks the file system
 * for zeroed extents (FALLOC_FL_ZERO_RANGE) and falls back to writing zeros
 * where it cannot. Nothing here caches, so flush is fdatasync().
 */
#include "disk_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t raw_pread(st_disk *d, void *buf, size_t n, uint64_t off)
{
    int rc = st__file_read(d->fd, buf, n, off);
    if (rc < 0)
        return st__disk_fail(d, rc, "read of '%s' failed: %s", d->path, strerror(-rc));
    return (ssize_t)n;
}

static ssize_t raw_pwrite(st_disk *d, const void *buf, size_t n, uint64_t off)
{
    int rc = st__file_write(d->fd, buf, n, off);
    if (rc < 0)
        return st__disk_fail(d, rc, "write of '%s' failed: %s", d->path, strerror(-rc));
    return (ssize_t)n;
}

static int raw_flush(st_disk *d)
{
    if (fdatasync(d->fd) < 0)
        return st__disk_fail(d, -errno, "fdatasync of '%s' failed: %s", d->path, strerror(errno));
    return 0;
}

static int raw_discard(st_disk *d, uint64_t off, uint64_t len)
{
    if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0 &&
        errno != EOPNOTSUPP)
        return st__disk_fail(d, -errno, "discard on '%s' failed: %s", d->path, strerror(errno));
    return 0;
}

static int raw_write_zeroes(st_disk *d, uint64_t off, uint64_t len)
{
    if (fallocate(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    static const uint8_t zeros[65536];
    while (len) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        int rc = st__file_write(d->fd, zeros, n, off);
        if (rc < 0)
            return st__disk_fail(d, rc, "write of '%s' failed: %s", d->path, strerror(-rc));
        off += n;
        len -= n;
    }
    return 0;
}

/* Data or a hole: SEEK_DATA and SEEK_HOLE (a file system without them reports data). */
static int raw_block_status(st_disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    off_t data = lseek(d->fd, (off_t)off, SEEK_DATA);
    if (data < 0 && errno == ENXIO) /* holes to the end of the file */
        data = (off_t)(off + len);
    if (data < 0) {
        *pnum = len;
        return 1;
    }
    if ((uint64_t)data > off) {
        *pnum = (uint64_t)data - off < len ? (uint64_t)data - off : len;
        return 0;
    }
    off_t hole = lseek(d->fd, (off_t)off, SEEK_HOLE);
    uint64_t n = hole > (off_t)off ? (uint64_t)hole - off : len;
    *pnum = n < len ? n : len;
    return 1;
}

static void raw_close(st_disk *d)
{
    (void)d;
}

static const st_disk_ops raw_ops = {
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .flush = raw_flush,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .block_status = raw_block_status,
    .close = raw_close,
};

int st__raw_open(st_disk *d, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(d->fd, &st) < 0)
        return st__err(err, errlen, -errno, "cannot stat '%s': %s", d->path, strerror(errno));
    if (S_ISBLK(st.st_mode)) {
        uint64_t sz = 0;
        if (ioctl(d->fd, BLKGETSIZE64, &sz) < 0)
            return st__err(err, errlen, -errno, "cannot size block device '%s': %s", d->path,
                           strerror(errno));
        d->size = sz;
    } else if (S_ISREG(st.st_mode)) {
        d->size = (uint64_t)st.st_size;
    } else {
        return st__err(err, errlen, -EINVAL, "'%s' is neither a file nor a block device", d->path);
    }
    d->ops = &raw_ops;
    return 0;
}
