/*
 * rbd.c - Ceph RBD images as disks, through librbd (when built with it).
 *
 * A disk path "rbd:<pool>/<image>[@<snap>][:conf=<file>][:id=<client>]"
 * (qemu's spelling) connects to the cluster, opens the image (read only for
 * a snapshot or ST_DISK_RDONLY) and maps the st_disk calls onto rbd_read,
 * rbd_write, rbd_flush, rbd_discard and rbd_write_zeroes. Each st_disk has
 * its own cluster connection (about 40 ms to set up), so disks stay
 * independent like file-backed ones. st_rbd_clone() makes an instance disk
 * a copy-on-write child of a base image's protected snapshot.
 */
#include "disk_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef STRATUS_HAVE_RBD
#include <rados/librados.h>
#include <rbd/librbd.h>

typedef struct rbd_spec {
    char pool[128], image[256], snap[128], conf[1024], id[64];
} rbd_spec;

typedef struct rbdd {
    rados_t cluster;
    rados_ioctx_t io;
    rbd_image_t img;
} rbdd;

static int parse_spec(const char *spec, rbd_spec *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "admin");
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", spec + 4) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    char *save = NULL, *first = strtok_r(buf, ":", &save);
    if (!first)
        return -EINVAL;
    for (char *o = strtok_r(NULL, ":", &save); o; o = strtok_r(NULL, ":", &save)) {
        if (strncmp(o, "conf=", 5) == 0)
            snprintf(s->conf, sizeof s->conf, "%s", o + 5);
        else if (strncmp(o, "id=", 3) == 0)
            snprintf(s->id, sizeof s->id, "%s", o + 3);
        else
            return -EINVAL;
    }
    char *slash = strchr(first, '/'), *at = strchr(first, '@');
    if (!slash || slash == first || !slash[1])
        return -EINVAL;
    *slash = 0;
    if (at) {
        *at = 0;
        snprintf(s->snap, sizeof s->snap, "%s", at + 1);
    }
    snprintf(s->pool, sizeof s->pool, "%s", first);
    snprintf(s->image, sizeof s->image, "%s", slash + 1);
    return s->image[0] ? 0 : -EINVAL;
}

static int connect_cluster(const char *conf, const char *id, rados_t *c, char *err, size_t errlen)
{
    int rc = rados_create(c, id && *id ? id : "admin");
    if (rc < 0)
        return st__err(err, errlen, rc, "ceph: cannot create a client: %s", strerror(-rc));
    rc = rados_conf_read_file(*c, conf && *conf ? conf : NULL);
    if (rc == 0)
        rc = rados_connect(*c);
    if (rc < 0) {
        rados_shutdown(*c);
        return st__err(err, errlen, rc, "ceph: cannot connect (%s): %s",
                       conf && *conf ? conf : "default ceph.conf", strerror(-rc));
    }
    return 0;
}

static int open_io(const char *conf, const char *id, const char *pool, rados_t *c,
                   rados_ioctx_t *io, char *err, size_t errlen)
{
    int rc = connect_cluster(conf, id, c, err, errlen);
    if (rc < 0)
        return rc;
    rc = rados_ioctx_create(*c, pool, io);
    if (rc < 0) {
        rados_shutdown(*c);
        return st__err(err, errlen, rc, "ceph: pool '%s': %s", pool, strerror(-rc));
    }
    return 0;
}

static ssize_t r_pread(st_disk *d, void *buf, size_t n, uint64_t off)
{
    rbdd *r = d->priv;
    size_t done = 0;
    while (done < n) {
        ssize_t k = rbd_read(r->img, off + done, n - done, (char *)buf + done);
        if (k <= 0)
            return st__disk_fail(d, k < 0 ? (int)k : -EIO, "rbd read of '%s' failed: %s", d->path,
                                 strerror(k < 0 ? (int)-k : EIO));
        done += (size_t)k;
    }
    return (ssize_t)n;
}

static ssize_t r_pwrite(st_disk *d, const void *buf, size_t n, uint64_t off)
{
    rbdd *r = d->priv;
    size_t done = 0;
    while (done < n) {
        ssize_t k = rbd_write(r->img, off + done, n - done, (const char *)buf + done);
        if (k <= 0)
            return st__disk_fail(d, k < 0 ? (int)k : -EIO, "rbd write of '%s' failed: %s", d->path,
                                 strerror(k < 0 ? (int)-k : EIO));
        done += (size_t)k;
    }
    return (ssize_t)n;
}

static int r_flush(st_disk *d)
{
    int rc = rbd_flush(((rbdd *)d->priv)->img);
    return rc < 0 ? st__disk_fail(d, rc, "rbd flush of '%s' failed", d->path) : 0;
}

static int r_discard(st_disk *d, uint64_t off, uint64_t len)
{
    int rc = rbd_discard(((rbdd *)d->priv)->img, off, len);
    return rc < 0 ? st__disk_fail(d, rc, "rbd discard on '%s' failed", d->path) : 0;
}

static int r_write_zeroes(st_disk *d, uint64_t off, uint64_t len)
{
    ssize_t rc = rbd_write_zeroes(((rbdd *)d->priv)->img, off, len, 0, 0);
    return rc < 0 ? st__disk_fail(d, (int)rc, "rbd write_zeroes on '%s' failed", d->path) : 0;
}

static void r_close(st_disk *d)
{
    rbdd *r = d->priv;
    if (!r)
        return;
    if (r->img) {
        if (!(d->flags & ST_DISK_RDONLY))
            rbd_flush(r->img);
        rbd_close(r->img);
    }
    rados_ioctx_destroy(r->io);
    rados_shutdown(r->cluster);
    free(r);
    d->priv = NULL;
}

static const st_disk_ops rbd_ops = {
    .pread = r_pread,
    .pwrite = r_pwrite,
    .flush = r_flush,
    .discard = r_discard,
    .write_zeroes = r_write_zeroes,
    .close = r_close,
};

int st__rbd_open(const char *path, int flags, st_disk **out, char *err, size_t errlen)
{
    *out = NULL;
    rbd_spec s;
    if (parse_spec(path, &s) < 0)
        return st__err(err, errlen, -EINVAL,
                       "'%s' is not rbd:<pool>/<image>[@<snap>]"
                       "[:conf=<file>][:id=<client>]",
                       path);
    if (s.snap[0])
        flags |= ST_DISK_RDONLY;
    st_disk *d = calloc(1, sizeof *d);
    rbdd *r = calloc(1, sizeof *r);
    if (!d || !r || !(d->path = strdup(path))) {
        free(d);
        free(r);
        return st__err(err, errlen, -ENOMEM, "out of memory");
    }
    d->fd = -1;
    d->flags = flags;
    d->depth = 1;
    d->format = ST_DISK_RBD;
    d->ops = &rbd_ops;
    d->priv = r;
    int rc = open_io(s.conf, s.id, s.pool, &r->cluster, &r->io, err, errlen);
    if (rc < 0) {
        free(r);
        d->priv = NULL;
        st_disk_close(d);
        return rc;
    }
    rc = (flags & ST_DISK_RDONLY)
             ? rbd_open_read_only(r->io, s.image, &r->img, s.snap[0] ? s.snap : NULL)
             : rbd_open(r->io, s.image, &r->img, NULL);
    if (rc < 0)
        r->img = NULL; /* nothing to close */
    uint64_t size = 0;
    if (rc == 0)
        rc = rbd_get_size(r->img, &size);
    if (rc < 0) {
        st__err(err, errlen, rc, "rbd image '%s/%s%s%s': %s", s.pool, s.image, s.snap[0] ? "@" : "",
                s.snap, strerror(-rc));
        st_disk_close(d);
        return rc;
    }
    d->size = size;
    *out = d;
    return 0;
}

int st_disk_rbd_available(void)
{
    return 1;
}

int st_rbd_clone(const char *conf, const char *id, const char *pool, const char *parent,
                 const char *snap, const char *child, char *err, size_t errlen)
{
    rados_t c;
    rados_ioctx_t io;
    int rc = open_io(conf, id, pool, &c, &io, err, errlen);
    if (rc < 0)
        return rc;
    int order = 0;
    rc = rbd_clone(io, parent, snap, io, child, RBD_FEATURE_LAYERING, &order);
    if (rc < 0)
        st__err(err, errlen, rc, "rbd clone %s@%s -> %s: %s", parent, snap, child, strerror(-rc));
    rados_ioctx_destroy(io);
    rados_shutdown(c);
    return rc;
}

int st_rbd_grow(const char *conf, const char *id, const char *pool, const char *image,
                uint64_t size, char *err, size_t errlen)
{
    rados_t c;
    rados_ioctx_t io;
    rbd_image_t img;
    uint64_t now = 0;
    int rc = open_io(conf, id, pool, &c, &io, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = rbd_open(io, image, &img, NULL)) < 0) {
        st__err(err, errlen, rc, "rbd open %s: %s", image, strerror(-rc));
    } else {
        if ((rc = rbd_get_size(img, &now)) < 0)
            st__err(err, errlen, rc, "rbd size of %s: %s", image, strerror(-rc));
        else if (now < size && (rc = rbd_resize(img, size)) < 0)
            st__err(err, errlen, rc, "rbd resize %s to %llu bytes: %s", image,
                    (unsigned long long)size, strerror(-rc));
        rbd_close(img);
    }
    rados_ioctx_destroy(io);
    rados_shutdown(c);
    return rc < 0 ? rc : 0;
}

int st_rbd_remove(const char *conf, const char *id, const char *pool, const char *image, char *err,
                  size_t errlen)
{
    rados_t c;
    rados_ioctx_t io;
    int rc = open_io(conf, id, pool, &c, &io, err, errlen);
    if (rc < 0)
        return rc;
    rc = rbd_remove(io, image);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        st__err(err, errlen, rc, "rbd remove %s: %s", image, strerror(-rc));
    rados_ioctx_destroy(io);
    rados_shutdown(c);
    return rc;
}

#else /* no librbd */

int st__rbd_open(const char *path, int flags, st_disk **out, char *err, size_t errlen)
{
    *out = NULL;
    return st__err(err, errlen, -ENOTSUP, "'%s': this build has no Ceph RBD support", path);
}

int st_disk_rbd_available(void)
{
    return 0;
}

int st_rbd_clone(const char *conf, const char *id, const char *pool, const char *parent,
                 const char *snap, const char *child, char *err, size_t errlen)
{
    return st__err(err, errlen, -ENOTSUP, "this build has no Ceph RBD support");
}

int st_rbd_grow(const char *conf, const char *id, const char *pool, const char *image,
                uint64_t size, char *err, size_t errlen)
{
    return st__err(err, errlen, -ENOTSUP, "this build has no Ceph RBD support");
}

int st_rbd_remove(const char *conf, const char *id, const char *pool, const char *image, char *err,
                  size_t errlen)
{
    return st__err(err, errlen, -ENOTSUP, "this build has no Ceph RBD support");
}

#endif
