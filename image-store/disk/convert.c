/*
 * convert.c - flattening a disk (its whole backing chain) into a new
 * standalone raw or qcow2 image: how an instance's disk becomes an image.
 *
 * The source is read through st_disk_pread in 1 MiB steps and each 64 KiB
 * block that is all zeros is skipped, so the result is sparse: holes in a
 * raw file, unallocated clusters in a qcow2. The destination is built under
 * a temporary name beside path, made durable, and link()ed into place, so
 * the image appears whole or not at all and an existing path is never
 * overwritten (-EEXIST).
 */
#include "disk_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEP (1u << 20)
#define BLOCK 65536u

typedef struct copy_ctx {
    st_disk *src;
    uint8_t *buf;
    char *err;
    size_t errlen;
} copy_ctx;

/* Copies src into the raw file fd. */
static int fill_raw(int fd, void *arg)
{
    copy_ctx *c = arg;
    uint64_t size = st_disk_size(c->src);
    if (ftruncate(fd, (off_t)size) < 0)
        return -errno;
    for (uint64_t off = 0; off < size; off += STEP) {
        size_t n = size - off < STEP ? (size_t)(size - off) : STEP;
        ssize_t r = st_disk_pread(c->src, c->buf, n, off);
        if (r < 0)
            return (int)r;
        for (size_t b = 0; b < n; b += BLOCK) {
            size_t bn = n - b < BLOCK ? n - b : BLOCK;
            if (st__is_zero(c->buf + b, bn))
                continue;
            int rc = st__file_write(fd, c->buf + b, bn, off + b);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int copy_to_qcow2(st_disk *src, st_disk *dst, uint8_t *buf)
{
    uint64_t size = st_disk_size(src);
    for (uint64_t off = 0; off < size; off += STEP) {
        size_t n = size - off < STEP ? (size_t)(size - off) : STEP;
        ssize_t r = st_disk_pread(src, buf, n, off);
        if (r < 0)
            return (int)r;
        for (size_t b = 0; b < n; b += BLOCK) {
            size_t bn = n - b < BLOCK ? n - b : BLOCK;
            if (st__is_zero(buf + b, bn))
                continue;
            r = st_disk_pwrite(dst, buf + b, bn, off + b);
            if (r < 0)
                return (int)r;
        }
    }
    return st_disk_flush(dst);
}

int st_disk_convert(st_disk *src, const char *path, st_disk_format fmt, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    uint8_t *buf = malloc(STEP);
    if (!buf)
        return st__err(err, errlen, -ENOMEM, "out of memory");
    copy_ctx c = {.src = src, .buf = buf, .err = err, .errlen = errlen};
    int rc;
    if (fmt == ST_DISK_RAW) {
        rc = st__publish_file(path, fill_raw, &c, err, errlen);
        if (rc < 0 && src->err[0])
            st__err(err, errlen, rc, "reading the source: %s", src->err);
        free(buf);
        return rc;
    }
    if (fmt != ST_DISK_QCOW2) {
        free(buf);
        return st__err(err, errlen, -EINVAL, "unknown output format");
    }
    /* qcow2: build it under a temporary name with the library itself. */
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (!tmp) {
        free(buf);
        return st__err(err, errlen, -ENOMEM, "out of memory");
    }
    snprintf(tmp, tl, "%s.tmp-%d-%lx", path, (int)getpid(), (unsigned long)(uintptr_t)buf);
    st_qcow2_create_opts o = {.size = st_disk_size(src)};
    st_disk *dst = NULL;
    rc = st_qcow2_create_ex(tmp, &o, err, errlen);
    if (rc < 0)
        goto out;
    rc = st_disk_open_ex(tmp, ST_DISK_RDWR | ST_DISK_FMT_QCOW2, &dst, err, errlen);
    if (rc < 0)
        goto out;
    rc = copy_to_qcow2(src, dst, buf);
    if (rc < 0) {
        st__err(err, errlen, rc, "copy failed: %s", src->err[0] ? src->err : dst->err);
        goto out;
    }
    st_disk_close(dst);
    dst = NULL;
    if (link(tmp, path) < 0) {
        rc = st__err(err, errlen, -errno, "cannot create '%s': %s", path, strerror(errno));
        goto out;
    }
    rc = st__fsync_dir(path);
out:
    st_disk_close(dst);
    unlink(tmp);
    free(tmp);
    free(buf);
    return rc;
}
