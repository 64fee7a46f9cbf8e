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
#include <unistd.h>

#ifdef STRATUS_HAVE_RBD
#include <rados/librados.h>
#include <rbd/librbd.h>

#ifdef STRATUS_RBD_DLOPEN
/*
 * stratus-vmm's build: librbd is loaded (dlopen) when the first "rbd:" disk
 * is opened, not linked, so a VM without one pays nothing for it (linked,
 * librbd and its dependencies cost every VM about 17 MiB of RSS and 20 ms
 * of start-up). Every call goes through RBD(name): the symbol resolved once
 * from librbd.so.1 (librados.so.2 comes in as its dependency).
 */
#include <dlfcn.h>
#include <pthread.h>

/* clang-format off */
#define RBD_CALLS(X)                                                                               \
    X(rados_create) X(rados_conf_read_file) X(rados_connect) X(rados_shutdown)                     \
    X(rados_ioctx_create) X(rados_ioctx_destroy) X(rbd_open) X(rbd_open_read_only) X(rbd_close)    \
    X(rbd_read) X(rbd_write) X(rbd_flush) X(rbd_discard) X(rbd_write_zeroes) X(rbd_get_size)       \
    X(rbd_clone) X(rbd_resize) X(rbd_remove) X(rados_conf_get) X(rbd_watchers_list)               \
    X(rbd_watchers_list_cleanup) X(rados_getaddrs) X(rados_blocklist_add)
/* clang-format on */

static struct {
#define RBD_PTR(f) __typeof__(f) *f;
    RBD_CALLS(RBD_PTR)
#undef RBD_PTR
} lib;
static char lib_err[300];
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_load(void)
{
    void *h = dlopen("librbd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib_err, sizeof lib_err, "Ceph RBD: cannot load librbd.so.1 (librbd1): %s",
                 dlerror());
        return;
    }
#define RBD_SYM(f)                                                                                 \
    if (!lib_err[0] && !(*(void **)&lib.f = dlsym(h, #f)))                                         \
        snprintf(lib_err, sizeof lib_err, "Ceph RBD: librbd.so.1 has no %s", #f);
    RBD_CALLS(RBD_SYM)
#undef RBD_SYM
}

/* 0 once librbd is loaded; -ENOTSUP, said in err, when it cannot be. */
static int lib_ready(char *err, size_t errlen)
{
    pthread_once(&lib_once, lib_load);
    return lib_err[0] ? st__err(err, errlen, -ENOTSUP, "%s", lib_err) : 0;
}
#define RBD(f) lib.f
#else
static int lib_ready(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return 0;
}
#define RBD(f) f
#endif

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
    int rc = lib_ready(err, errlen);
    if (rc < 0)
        return rc;
    rc = RBD(rados_create)(c, id && *id ? id : "admin");
    if (rc < 0)
        return st__err(err, errlen, rc, "ceph: cannot create a client: %s", strerror(-rc));
    rc = RBD(rados_conf_read_file)(*c, conf && *conf ? conf : NULL);
    if (rc == 0)
        rc = RBD(rados_connect)(*c);
    if (rc < 0) {
        RBD(rados_shutdown)(*c);
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
    rc = RBD(rados_ioctx_create)(*c, pool, io);
    if (rc < 0) {
        RBD(rados_shutdown)(*c);
        return st__err(err, errlen, rc, "ceph: pool '%s': %s", pool, strerror(-rc));
    }
    return 0;
}

static ssize_t r_pread(st_disk *d, void *buf, size_t n, uint64_t off)
{
    rbdd *r = d->priv;
    size_t done = 0;
    while (done < n) {
        ssize_t k = RBD(rbd_read)(r->img, off + done, n - done, (char *)buf + done);
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
        ssize_t k = RBD(rbd_write)(r->img, off + done, n - done, (const char *)buf + done);
        if (k <= 0)
            return st__disk_fail(d, k < 0 ? (int)k : -EIO, "rbd write of '%s' failed: %s", d->path,
                                 strerror(k < 0 ? (int)-k : EIO));
        done += (size_t)k;
    }
    return (ssize_t)n;
}

static int r_flush(st_disk *d)
{
    int rc = RBD(rbd_flush)(((rbdd *)d->priv)->img);
    return rc < 0 ? st__disk_fail(d, rc, "rbd flush of '%s' failed", d->path) : 0;
}

static int r_discard(st_disk *d, uint64_t off, uint64_t len)
{
    int rc = RBD(rbd_discard)(((rbdd *)d->priv)->img, off, len);
    return rc < 0 ? st__disk_fail(d, rc, "rbd discard on '%s' failed", d->path) : 0;
}

static int r_write_zeroes(st_disk *d, uint64_t off, uint64_t len)
{
    ssize_t rc = RBD(rbd_write_zeroes)(((rbdd *)d->priv)->img, off, len, 0, 0);
    return rc < 0 ? st__disk_fail(d, (int)rc, "rbd write_zeroes on '%s' failed", d->path) : 0;
}

static void r_close(st_disk *d)
{
    rbdd *r = d->priv;
    if (!r)
        return;
    if (r->img) {
        if (!(d->flags & ST_DISK_RDONLY))
            RBD(rbd_flush)(r->img);
        RBD(rbd_close)(r->img);
    }
    RBD(rados_ioctx_destroy)(r->io);
    RBD(rados_shutdown)(r->cluster);
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
             ? RBD(rbd_open_read_only)(r->io, s.image, &r->img, s.snap[0] ? s.snap : NULL)
             : RBD(rbd_open)(r->io, s.image, &r->img, NULL);
    if (rc < 0)
        r->img = NULL; /* nothing to close */
    uint64_t size = 0;
    if (rc == 0)
        rc = RBD(rbd_get_size)(r->img, &size);
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
    return lib_ready(NULL, 0) == 0;
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
    rc = RBD(rbd_clone)(io, parent, snap, io, child, RBD_FEATURE_LAYERING, &order);
    if (rc < 0)
        st__err(err, errlen, rc, "rbd clone %s@%s -> %s: %s", parent, snap, child, strerror(-rc));
    RBD(rados_ioctx_destroy)(io);
    RBD(rados_shutdown)(c);
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
    if ((rc = RBD(rbd_open)(io, image, &img, NULL)) < 0) {
        st__err(err, errlen, rc, "rbd open %s: %s", image, strerror(-rc));
    } else {
        if ((rc = RBD(rbd_get_size)(img, &now)) < 0)
            st__err(err, errlen, rc, "rbd size of %s: %s", image, strerror(-rc));
        else if (now < size && (rc = RBD(rbd_resize)(img, size)) < 0)
            st__err(err, errlen, rc, "rbd resize %s to %llu bytes: %s", image,
                    (unsigned long long)size, strerror(-rc));
        RBD(rbd_close)(img);
    }
    RBD(rados_ioctx_destroy)(io);
    RBD(rados_shutdown)(c);
    return rc < 0 ? rc : 0;
}

/*
 * Blocklists every client but this one that watches image (an open handle): how a deleted
 * instance's disk is freed from a VMM that died with its host, whose watch the OSDs keep for
 * osd_client_watch_timeout (30 s) and which makes rbd_remove answer -EBUSY meanwhile. Such a
 * client is stale by then (the instance is being deleted); blocklisted, it can write nothing
 * more, and the OSDs drop its watch. Returns how many were blocklisted.
 */
static int unwatch(rados_t c, rados_ioctx_t io, const char *image)
{
    rbd_image_t img;
    if (RBD(rbd_open_read_only)(io, image, &img, NULL) < 0)
        return 0;
    rbd_image_watcher_t w[16];
    size_t n = 16;
    char *mine = NULL;
    int done = 0;
    if (RBD(rbd_watchers_list)(img, w, &n) == 0) {
        if (RBD(rados_getaddrs)(c, &mine) < 0)
            mine = NULL;
        for (size_t i = 0; i < n; i++)
            if (w[i].addr && (!mine || !strstr(mine, w[i].addr)) &&
                RBD(rados_blocklist_add)(c, w[i].addr, 3600) == 0)
                done++;
        RBD(rbd_watchers_list_cleanup)(w, n);
        free(mine);
    }
    RBD(rbd_close)(img);
    return done;
}

int st_rbd_remove(const char *conf, const char *id, const char *pool, const char *image, char *err,
                  size_t errlen)
{
    rados_t c;
    rados_ioctx_t io;
    int rc = open_io(conf, id, pool, &c, &io, err, errlen);
    if (rc < 0)
        return rc;
    rc = RBD(rbd_remove)(io, image);
    if (rc == -EBUSY && unwatch(c, io, image) > 0) /* until the OSDs have dropped the watches */
        for (int k = 0; k < 50 && (rc = RBD(rbd_remove)(io, image)) == -EBUSY; k++)
            usleep(100000);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        st__err(err, errlen, rc, "rbd remove %s: %s", image, strerror(-rc));
    RBD(rados_ioctx_destroy)(io);
    RBD(rados_shutdown)(c);
    return rc;
}

int st_rbd_client_files(const char *path, char *conf, size_t conf_n, char *keyring, size_t key_n)
{
    rbd_spec s;
    conf[0] = keyring[0] = 0;
    if (strncmp(path, "rbd:", 4) || parse_spec(path, &s) < 0)
        return -EINVAL;
    const char *cf = s.conf[0] ? s.conf : "/etc/ceph/ceph.conf";
    if (access(cf, F_OK) < 0)
        return 0; /* no conf: librados' defaults, nothing to give */
    snprintf(conf, conf_n, "%s", cf);
    rados_t c;
    int rc = lib_ready(NULL, 0);
    if (rc < 0 || (rc = RBD(rados_create)(&c, s.id)) < 0)
        return rc;
    char list[4096] = "";
    if (RBD(rados_conf_read_file)(c, cf) == 0 &&
        RBD(rados_conf_get)(c, "keyring", list, sizeof list) == 0) {
        /* a comma-separated list, its metavariables ($cluster, $name) expanded */
        char *save = NULL;
        for (char *k = strtok_r(list, ",", &save); k && !keyring[0];
             k = strtok_r(NULL, ",", &save)) {
            while (*k == ' ')
                k++;
            if (*k && access(k, F_OK) == 0)
                snprintf(keyring, key_n, "%s", k);
        }
    }
    RBD(rados_shutdown)(c);
    return 0;
}

#else /* no librbd */

int st_rbd_client_files(const char *path, char *conf, size_t conf_n, char *keyring, size_t key_n)
{
    (void)path;
    (void)conf_n;
    (void)key_n;
    conf[0] = keyring[0] = 0;
    return -ENOTSUP;
}

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
