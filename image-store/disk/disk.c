/*
 * disk.c - opening a disk image and its backing chain, and the checks every
 * call goes through before a format driver sees it.
 *
 * Opening. The file is opened read-write or read only and locked with
 * flock(): exclusively for a writer, shared for readers, so two VMMs never
 * write one overlay and nobody writes a base image that overlays read. The
 * format is the caller's (ST_DISK_FMT_*) or probed from the qcow2 magic; the
 * driver's open then parses its metadata and, for qcow2, opens the backing
 * file read only through this same function one level deeper. Chains deeper
 * than ST_DISK_MAX_CHAIN are refused, which also stops loops (an image that
 * names itself as its backing file).
 *
 * Guest ranges. st_disk_pread/pwrite/discard/write_zeroes refuse a range
 * that is not inside [0, size) with -EINVAL and pass only non-empty, in-range
 * requests to the driver, so drivers never re-check them.
 */
#include "disk_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int st__disk_fail(st_disk *d, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    return rc;
}

int st__err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int st__file_read(int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0) { /* past the end of file: zeros */
            memset(p, 0, n);
            return 0;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int st__file_write(int fd, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EIO;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int st__is_zero(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    /* Check a word at a time once aligned; images are mostly aligned buffers. */
    while (n && ((uintptr_t)p & 7)) {
        if (*p)
            return 0;
        p++;
        n--;
    }
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (; n >= 64; n -= 64, w += 8)
        if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
            return 0;
    for (; n >= 8; n -= 8, w++)
        if (*w)
            return 0;
    p = (const uint8_t *)w;
    for (; n; n--, p++)
        if (*p)
            return 0;
    return 1;
}

const char *st_disk_format_name(st_disk_format f)
{
    return f == ST_DISK_QCOW2 ? "qcow2"
           : f == ST_DISK_RAW ? "raw"
           : f == ST_DISK_RBD ? "rbd"
                              : "unknown";
}

int st__disk_open_chain(const char *path, int flags, int depth, st_disk **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (depth > ST_DISK_MAX_CHAIN)
        return st__err(err, errlen, -ELOOP, "backing chain deeper than %d images (a loop?) at '%s'",
                       ST_DISK_MAX_CHAIN, path);
    if ((flags & ST_DISK_FMT_RAW) && (flags & ST_DISK_FMT_QCOW2))
        return st__err(err, errlen, -EINVAL, "both ST_DISK_FMT_RAW and ST_DISK_FMT_QCOW2 given");
    int ro = flags & ST_DISK_RDONLY;
    if ((flags & ST_DISK_NOLOCK) && !ro)
        return st__err(err, errlen, -EINVAL, "ST_DISK_NOLOCK is for read-only opens");
    int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return st__err(err, errlen, -errno, "cannot open '%s': %s", path, strerror(errno));
    if (!(flags & ST_DISK_NOLOCK) && flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return st__err(err, errlen, -EBUSY, "'%s' is in use (%s lock held elsewhere)", path,
                           ro ? "a writer's" : "another");
        return st__err(err, errlen, -e, "cannot lock '%s': %s", path, strerror(e));
    }
    st_disk *d = calloc(1, sizeof *d);
    if (!d) {
        close(fd);
        return st__err(err, errlen, -ENOMEM, "out of memory");
    }
    d->fd = fd;
    d->flags = flags;
    d->depth = depth;
    d->path = strdup(path);
    int rc;
    if (!d->path) {
        rc = st__err(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    st_disk_format fmt;
    if (flags & ST_DISK_FMT_RAW) {
        fmt = ST_DISK_RAW;
    } else {
        uint8_t magic[4];
        rc = st__file_read(fd, magic, sizeof magic, 0);
        if (rc < 0) {
            st__err(err, errlen, rc, "cannot read '%s': %s", path, strerror(-rc));
            goto fail;
        }
        int is_qcow2 = memcmp(magic, "QFI\xfb", 4) == 0;
        if ((flags & ST_DISK_FMT_QCOW2) && !is_qcow2) {
            rc = st__err(err, errlen, -EINVAL, "'%s' is not a qcow2 image (bad magic)", path);
            goto fail;
        }
        fmt = is_qcow2 ? ST_DISK_QCOW2 : ST_DISK_RAW;
    }
    d->format = fmt;
    rc = fmt == ST_DISK_QCOW2 ? st__qcow2_open(d, err, errlen) : st__raw_open(d, err, errlen);
    if (rc < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    if (d->backing)
        st_disk_close(d->backing);
    close(fd);
    free(d->path);
    free(d);
    return rc;
}

int st_disk_open_ex(const char *path, int flags, st_disk **out, char *err, size_t errlen)
{
    if (!path || !out)
        return st__err(err, errlen, -EINVAL, "no path given");
    if (err && errlen)
        err[0] = 0;
    if (strncmp(path, "rbd:", 4) == 0)
        return st__rbd_open(path, flags, out, err, errlen);
    return st__disk_open_chain(path, flags, 1, out, err, errlen);
}

int st_disk_open(const char *path, int flags, st_disk **out)
{
    return st_disk_open_ex(path, flags, out, NULL, 0);
}

uint64_t st_disk_size(const st_disk *d)
{
    return d->size;
}

const char *st_disk_error(const st_disk *d)
{
    return d->err;
}

static int range_ok(st_disk *d, uint64_t off, uint64_t n)
{
    if (off > d->size || n > d->size - off)
        return st__disk_fail(d, -EINVAL, "range %llu+%llu is outside the disk (%llu bytes)",
                             (unsigned long long)off, (unsigned long long)n,
                             (unsigned long long)d->size);
    return 0;
}

static int writable(st_disk *d)
{
    if (d->flags & ST_DISK_RDONLY)
        return st__disk_fail(d, -EROFS, "'%s' was opened read only", d->path);
    return 0;
}

ssize_t st_disk_pread(st_disk *d, void *buf, size_t n, uint64_t off)
{
    int rc = range_ok(d, off, n);
    if (rc < 0 || n == 0)
        return rc;
    return d->ops->pread(d, buf, n, off);
}

ssize_t st_disk_pwrite(st_disk *d, const void *buf, size_t n, uint64_t off)
{
    int rc = writable(d);
    if (rc == 0)
        rc = range_ok(d, off, n);
    if (rc < 0 || n == 0)
        return rc;
    return d->ops->pwrite(d, buf, n, off);
}

int st_disk_flush(st_disk *d)
{
    if (d->flags & ST_DISK_RDONLY)
        return 0;
    return d->ops->flush(d);
}

int st_disk_discard(st_disk *d, uint64_t off, uint64_t len)
{
    int rc = writable(d);
    if (rc == 0)
        rc = range_ok(d, off, len);
    if (rc < 0 || len == 0)
        return rc;
    return d->ops->discard(d, off, len);
}

int st_disk_write_zeroes(st_disk *d, uint64_t off, uint64_t len)
{
    int rc = writable(d);
    if (rc == 0)
        rc = range_ok(d, off, len);
    if (rc < 0 || len == 0)
        return rc;
    return d->ops->write_zeroes(d, off, len);
}

int st_disk_block_status(st_disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    int rc = range_ok(d, off, len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return st__disk_fail(d, -EINVAL, "block status of an empty range");
    if (!d->ops->block_status) {
        *pnum = len;
        return 1;
    }
    return d->ops->block_status(d, off, len, pnum);
}

int st_disk_check_tables(st_disk *d, char *err, size_t errlen)
{
    if (!d->ops->check_tables)
        return 0;
    int rc = d->ops->check_tables(d);
    if (rc < 0)
        st__err(err, errlen, rc, "%s", d->err);
    return rc;
}

void st_disk_get_info(const st_disk *d, st_disk_info *info)
{
    memset(info, 0, sizeof *info);
    info->format = d->format;
    info->size = d->size;
    struct stat st;
    if (d->fd >= 0 && fstat(d->fd, &st) == 0)
        info->file_size = (uint64_t)st.st_size;
    info->chain_depth = 1;
    for (const st_disk *b = d->backing; b; b = b->backing)
        info->chain_depth++;
    snprintf(info->backing_file, sizeof info->backing_file, "%s", d->backing_file);
    snprintf(info->backing_fmt, sizeof info->backing_fmt, "%s", d->backing_fmt);
    info->cluster_size = d->cluster_size;
    info->qcow2_version = d->version;
}

void st_disk_close(st_disk *d)
{
    if (!d)
        return;
    d->ops->close(d);
    if (d->backing)
        st_disk_close(d->backing);
    if (d->fd >= 0)
        close(d->fd);
    free(d->path);
    free(d);
}
