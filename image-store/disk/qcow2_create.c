/*
 * qcow2_create.c - new, empty qcow2 images (standalone or overlays).
 *
 * Layout, in clusters: the header (with the backing format extension and
 * the backing file name), the refcount table (T clusters), the refcount
 * blocks that count every metadata cluster (B), then the L1 table (L),
 * zeroed. T and B depend on each other and on the metadata they count, so
 * they are computed to a fixed point. Nothing else is allocated: the first
 * guest write allocates its L2 table and data cluster past the end.
 *
 * The image is written into a temporary file beside path, fsynced, and
 * link()ed into place (link fails if path exists, so an existing image is
 * never overwritten), then the directory is fsynced: a crash leaves either
 * no image or a complete one, never half of one.
 */
#include "qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

static int backing_path(const char *path, const char *name, char *out, size_t outlen)
{
    if (name[0] == '/')
        return snprintf(out, outlen, "%s", name) < (int)outlen ? 0 : -ENAMETOOLONG;
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int n = snprintf(out, outlen, "%s/%s", dirname(copy), name);
    free(copy);
    return n >= 0 && (size_t)n < outlen ? 0 : -ENAMETOOLONG;
}

int st__fsync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int st__publish_file(const char *path, int (*fill)(int fd, void *arg), void *arg, char *err,
                     size_t errlen)
{
    size_t tl = strlen(path) + 16;
    char *tmp = malloc(tl);
    if (!tmp)
        return st__err(err, errlen, -ENOMEM, "out of memory");
    snprintf(tmp, tl, "%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return st__err(err, errlen, -e, "cannot create a file beside '%s': %s", path, strerror(e));
    }
    int rc = fill(fd, arg);
    if (rc < 0) {
        st__err(err, errlen, rc, "writing '%s' failed: %s", tmp, strerror(-rc));
        goto out;
    }
    if (fsync(fd) < 0) {
        rc = st__err(err, errlen, -errno, "fsync of '%s' failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0644) < 0) {
        rc = st__err(err, errlen, -errno, "chmod of '%s' failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (link(tmp, path) < 0) {
        rc = st__err(err, errlen, -errno, "cannot create '%s': %s", path, strerror(errno));
        goto out;
    }
    rc = st__fsync_dir(path);
    if (rc < 0)
        st__err(err, errlen, rc, "fsync of the directory of '%s' failed", path);
out:
    close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

typedef struct layout {
    uint8_t *hdr; /* the header cluster */
    uint32_t cs;
    uint64_t T, B, L, M; /* clusters: refcount table, blocks, L1, all metadata */
    uint32_t rbits;
    int version;
} layout;

static int fill_image(int fd, void *arg)
{
    layout *lo = arg;
    uint8_t *c = calloc(1, lo->cs);
    if (!c)
        return -ENOMEM;
    int rc = st__file_write(fd, lo->hdr, lo->cs, 0);
    /* Refcount table: entries for the B blocks at clusters 1+T .. T+B. */
    uint64_t per = lo->cs / 8;
    for (uint64_t t = 0; rc == 0 && t < lo->T; t++) {
        memset(c, 0, lo->cs);
        for (uint64_t i = 0; i < per; i++) {
            uint64_t b = t * per + i;
            if (b < lo->B)
                wr64(c + i * 8, (1 + lo->T + b) * lo->cs);
        }
        rc = st__file_write(fd, c, lo->cs, (1 + t) * lo->cs);
    }
    /* Refcount blocks: refcount 1 for clusters 0 .. M-1. */
    uint64_t rb = (uint64_t)lo->cs * 8 / lo->rbits;
    for (uint64_t b = 0; rc == 0 && b < lo->B; b++) {
        memset(c, 0, lo->cs);
        for (uint64_t i = 0; i < rb && b * rb + i < lo->M; i++) {
            if (lo->rbits >= 8)
                c[i * (lo->rbits / 8) + lo->rbits / 8 - 1] = 1;
            else
                c[i * lo->rbits / 8] |= (uint8_t)(1u << (i * lo->rbits % 8));
        }
        rc = st__file_write(fd, c, lo->cs, (1 + lo->T + b) * lo->cs);
    }
    /* The L1 table is zeros: extend the file over it. */
    if (rc == 0 && ftruncate(fd, (off_t)(lo->M * lo->cs)) < 0)
        rc = -errno;
    free(c);
    return rc;
}

int st_qcow2_create_ex(const char *path, const st_qcow2_create_opts *o, char *err, size_t errlen)
{
    uint32_t cs = o->cluster_size ? o->cluster_size : 65536;
    int version = o->version ? o->version : 3;
    int rbits = o->refcount_bits ? o->refcount_bits : 16;
    uint64_t size = o->size;
    char fmt[16] = "";
    if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)))
        return st__err(err, errlen, -EINVAL,
                       "cluster size %u is invalid (a power of two, "
                       "512 bytes to 2 MiB)",
                       cs);
    if (version != 2 && version != 3)
        return st__err(err, errlen, -EINVAL, "qcow2 version %d is invalid (2 or 3)", version);
    if (rbits < 1 || rbits > 64 || (rbits & (rbits - 1)) || (version == 2 && rbits != 16))
        return st__err(err, errlen, -EINVAL, "refcount width %d is invalid", rbits);
    if (o->backing_file) {
        size_t bl = strlen(o->backing_file);
        if (bl == 0 || bl > 1023)
            return st__err(err, errlen, -EINVAL, "backing file name must be 1 to 1023 bytes");
        int flags = ST_DISK_RDONLY;
        if (o->backing_fmt && strcmp(o->backing_fmt, "raw") == 0)
            flags |= ST_DISK_FMT_RAW;
        else if (o->backing_fmt && strcmp(o->backing_fmt, "qcow2") == 0)
            flags |= ST_DISK_FMT_QCOW2;
        else if (o->backing_fmt)
            return st__err(err, errlen, -EINVAL,
                           "backing format '%s' is not supported "
                           "(raw or qcow2)",
                           o->backing_fmt);
        char bpath[4096], berr[512];
        int rc = backing_path(path, o->backing_file, bpath, sizeof bpath);
        if (rc < 0)
            return st__err(err, errlen, rc, "backing file path too long");
        st_disk *b;
        rc = st_disk_open_ex(bpath, flags, &b, berr, sizeof berr);
        if (rc < 0)
            return st__err(err, errlen, rc, "backing file: %s", berr);
        snprintf(fmt, sizeof fmt, "%s", st_disk_format_name(b->format));
        if (size == 0)
            size = st_disk_size(b);
        st_disk_close(b);
    }
    size = (size + 511) & ~511ull;
    if (size > QCOW2_MAX_SIZE)
        return st__err(err, errlen, -EFBIG, "size %llu is too large", (unsigned long long)size);

    layout lo = {.cs = cs, .rbits = (uint32_t)rbits, .version = version};
    uint32_t cbits = (uint32_t)__builtin_ctz(cs);
    uint64_t l2e = cs / 8, clusters = (size + cs - 1) >> cbits;
    uint64_t l1_size = (clusters + l2e - 1) / l2e;
    if (l1_size * 8 > QCOW2_MAX_L1_BYTES)
        return st__err(err, errlen, -EFBIG,
                       "size %llu needs too large an L1 table with "
                       "%u-byte clusters",
                       (unsigned long long)size, cs);
    lo.L = (l1_size * 8 + cs - 1) / cs;
    uint64_t rb = (uint64_t)cs * 8 / (uint64_t)rbits;
    lo.T = 1;
    lo.B = 1;
    for (;;) {
        lo.M = 1 + lo.T + lo.B + lo.L;
        uint64_t B = (lo.M + rb - 1) / rb, T = (B * 8 + cs - 1) / cs;
        if (B == lo.B && T == lo.T)
            break;
        lo.B = B > lo.B ? B : lo.B;
        lo.T = T > lo.T ? T : lo.T;
    }

    uint8_t *h = calloc(1, cs);
    if (!h)
        return st__err(err, errlen, -ENOMEM, "out of memory");
    lo.hdr = h;
    uint32_t hlen = version == 3 ? 104 : 72;
    wr32(h, QCOW2_MAGIC);
    wr32(h + 4, (uint32_t)version);
    wr32(h + 20, cbits);
    wr64(h + 24, size);
    wr32(h + 36, (uint32_t)l1_size);
    wr64(h + 40, l1_size ? (1 + lo.T + lo.B) * cs : 0);
    wr64(h + 48, (uint64_t)cs);
    wr32(h + 56, (uint32_t)lo.T);
    if (version == 3) {
        wr32(h + 96, (uint32_t)__builtin_ctz((unsigned)rbits));
        wr32(h + 100, hlen);
    }
    size_t pos = hlen;
    if (o->backing_file) {
        size_t fl = strlen(fmt), bl = strlen(o->backing_file);
        if (pos + 8 + ((fl + 7) & ~7u) + 8 + bl > cs) {
            free(h);
            return st__err(err, errlen, -ENAMETOOLONG,
                           "backing file name does not fit in a %u-byte header cluster", cs);
        }
        wr32(h + pos, QCOW2_EXT_BACKING_FMT);
        wr32(h + pos + 4, (uint32_t)fl);
        memcpy(h + pos + 8, fmt, fl);
        pos += 8 + ((fl + 7) & ~7u);
        pos += 8; /* end of extensions (zeros) */
        wr64(h + 8, pos);
        wr32(h + 16, (uint32_t)bl);
        memcpy(h + pos, o->backing_file, bl);
    }
    int rc = st__publish_file(path, fill_image, &lo, err, errlen);
    free(h);
    return rc;
}

int st_qcow2_create(const char *path, uint64_t size, const char *backing_file,
                    const char *backing_fmt)
{
    st_qcow2_create_opts o = {
        .size = size, .backing_file = backing_file, .backing_fmt = backing_fmt};
    return st_qcow2_create_ex(path, &o, NULL, 0);
}
