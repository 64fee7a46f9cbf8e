/*
 * store_rbd.c - blobs on Ceph as RBD images: the engine real clouds put
 * images and disks on.
 *
 * Blob <sha256> is the RBD image "img-<sha256>" in store.rbd_pool, written
 * once from the upload's temporary file (all-zero 4 MiB pieces skipped, so
 * it stays thin), then given a snapshot "base" that is protected: instance
 * disks are copy-on-write clones of img-<sha>@base (st_rbd_clone() in
 * stratus_disk), so a launch copies nothing. An image without its protected
 * snapshot is a put() that died halfway: put() removes and redoes it.
 * remove() refuses (-EBUSY) while clones exist; the blob is then kept and
 * the reaper tries again later.
 *
 * Raw images belong here; a qcow2 blob is stored the same way but its clones
 * would be qcow2 bytes on RBD, which the VMM does not read: on Ceph, upload
 * raw images.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef STRATUS_HAVE_RBD
#include <fcntl.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <unistd.h>

#define PIECE (4u << 20)

typedef struct rbst {
    rados_t cluster;
    rados_ioctx_t io;
} rbst;

struct img_reader {
    rbd_image_t img;
};

static void name_of(const char *sha, char out[80])
{
    snprintf(out, 80, "img-%s", sha);
}

static int is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* 1 when the blob exists complete (its protected snapshot is there). */
static int complete(rbst *r, const char *name)
{
    rbd_image_t img;
    if (rbd_open_read_only(r->io, name, &img, "base") < 0)
        return 0;
    int prot = 0;
    rbd_snap_is_protected(img, "base", &prot);
    rbd_close(img);
    return prot;
}

static int drop(rbst *r, const char *name)
{
    rbd_image_t img;
    if (rbd_open(r->io, name, &img, NULL) == 0) {
        int prot = 0;
        if (rbd_snap_is_protected(img, "base", &prot) == 0 && prot) {
            int rc = rbd_snap_unprotect(img, "base");
            if (rc < 0) {
                rbd_close(img);
                return rc; /* -EBUSY: clones exist */
            }
        }
        rbd_snap_remove(img, "base");
        rbd_close(img);
    }
    int rc = rbd_remove(r->io, name);
    return rc == -ENOENT ? 0 : rc;
}

static int b_put(img_store *s, const char *tmp, const char *sha, uint64_t size, char *err,
                 size_t errlen)
{
    rbst *r = s->priv;
    char name[80];
    name_of(sha, name);
    if (complete(r, name))
        return 0;  /* dedup */
    drop(r, name); /* a half-written one from a crash */
    int order = 22;
    int rc = rbd_create2(r->io, name, size, RBD_FEATURE_LAYERING, &order);
    if (rc < 0) {
        snprintf(err, errlen, "rbd create %s: %s", name, strerror(-rc));
        return rc;
    }
    rbd_image_t img;
    if ((rc = rbd_open(r->io, name, &img, NULL)) < 0) {
        snprintf(err, errlen, "rbd open %s: %s", name, strerror(-rc));
        return rc;
    }
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    uint8_t *buf = malloc(PIECE);
    if (fd < 0 || !buf) {
        rc = -errno;
        snprintf(err, errlen, "reading the upload: %s", strerror(errno));
        goto out;
    }
    for (uint64_t off = 0; off < size;) {
        ssize_t k = pread(fd, buf, PIECE, (off_t)off);
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO;
            snprintf(err, errlen, "reading the upload: %s", strerror(-rc));
            goto out;
        }
        if (!is_zero(buf, (size_t)k)) {
            ssize_t w = rbd_write(img, off, (size_t)k, (const char *)buf);
            if (w != k) {
                rc = w < 0 ? (int)w : -EIO;
                snprintf(err, errlen, "rbd write %s: %s", name, strerror(-rc));
                goto out;
            }
        }
        off += (uint64_t)k;
    }
    if ((rc = rbd_flush(img)) < 0 || (rc = rbd_snap_create(img, "base")) < 0 ||
        (rc = rbd_snap_protect(img, "base")) < 0)
        snprintf(err, errlen, "rbd snapshot %s@base: %s", name, strerror(-rc));
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    rbd_close(img);
    if (rc < 0)
        drop(r, name);
    return rc;
}

static int b_open(img_store *s, const char *sha, img_reader **out, uint64_t *size, char *err,
                  size_t errlen)
{
    rbst *r = s->priv;
    char name[80];
    name_of(sha, name);
    img_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return -ENOMEM;
    int rc = rbd_open_read_only(r->io, name, &rd->img, "base");
    if (rc == 0)
        rc = rbd_get_size(rd->img, size);
    if (rc < 0) {
        snprintf(err, errlen, "rbd %s@base: %s", name, strerror(-rc));
        free(rd);
        return rc;
    }
    *out = rd;
    return 0;
}

static ssize_t b_read(img_reader *rd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = rbd_read(rd->img, off + done, n - done, (char *)buf + done);
        if (k < 0)
            return k;
        if (k == 0)
            break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static void b_close(img_reader *rd)
{
    if (rd) {
        rbd_close(rd->img);
        free(rd);
    }
}

static int b_remove(img_store *s, const char *sha, char *err, size_t errlen)
{
    char name[80];
    name_of(sha, name);
    int rc = drop(s->priv, name);
    if (rc < 0)
        snprintf(err, errlen, "rbd remove %s: %s%s", name, strerror(-rc),
                 rc == -EBUSY ? " (instance disks are cloned from it)" : "");
    return rc;
}

static void b_free(img_store *s)
{
    rbst *r = s->priv;
    rados_ioctx_destroy(r->io);
    rados_shutdown(r->cluster);
    free(r);
    free(s);
}

static const img_store_ops rbd_ops = {
    .name = "rbd",
    .put = b_put,
    .open = b_open,
    .read = b_read,
    .close = b_close,
    .remove = b_remove,
    .free = b_free,
};

img_store *img_store_rbd_new(const char *conf, const char *pool, const char *client, char *err,
                             size_t errlen)
{
    rbst *r = calloc(1, sizeof *r);
    img_store *s = calloc(1, sizeof *s);
    if (!r || !s) {
        free(r);
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = rados_create(&r->cluster, client && *client ? client : "admin");
    if (rc == 0)
        rc = rados_conf_read_file(r->cluster, conf && *conf ? conf : NULL);
    if (rc == 0)
        rc = rados_connect(r->cluster);
    if (rc == 0)
        rc = rados_ioctx_create(r->cluster, pool, &r->io);
    if (rc < 0) {
        snprintf(err, errlen, "ceph (%s, pool %s): %s", conf, pool, strerror(-rc));
        rados_shutdown(r->cluster);
        free(r);
        free(s);
        return NULL;
    }
    s->ops = &rbd_ops;
    s->priv = r;
    s->fsync = 1;
    return s;
}

#else

img_store *img_store_rbd_new(const char *conf, const char *pool, const char *client, char *err,
                             size_t errlen)
{
    snprintf(err, errlen, "this stratus-images was built without Ceph (librbd) support");
    return NULL;
}

#endif
