/*
 * image.c - what a launch needs on disk: the base image cached and
 * verified, the instance's qcow2 overlay on it, the kernel to boot, and the
 * kernel command line.
 *
 * Cache: <state_dir>/images/<sha256>.<raw|qcow2>, written only by
 * st_image_fetch (hashed while downloaded, renamed into place when the
 * SHA-256 matches the image record; read only). The image record itself is
 * kept beside it as <image id>.json once fetched, so a later launch of the
 * same image costs no call to the image service. A flock on
 * <sha256>.lock makes concurrent launches of one image download it once.
 *
 * Booting: the image record's kind and boot say how (image-store/README.md):
 *   - boot firmware (a disk with its own bootloader, the default for disk
 *     images): the VM boots through vm.firmware (SeaBIOS), which runs the
 *     bootloader of disk0; no kernel, initrd or command line;
 *   - boot kernel with kernel_id (and ramdisk_id): the kernel image (and
 *     the ramdisk image as initrd) are fetched into the cache like any
 *     base, under the same verified rules, and booted directly with disk0,
 *     the overlay on the disk image, as the guest's root disk;
 *   - the image is the kernel (kind kernel, or a disk image with boot
 *     kernel and no kernel_id, as every image was before): booted as a
 *     direct kernel (PVH ELF or bzImage), the test guest being such an
 *     image.
 * A kernel or ramdisk stored raw is its cached file itself; stored qcow2 it
 * is flattened once into <sha256>.kernel (raw) when its virtual size is at
 * most 512 MiB, the VMM's kernel limit. The instance disk (disk0) is a
 * qcow2 overlay on the base whose backing format comes from the image
 * record, never probed. The kernel and ramdisk records are fetched before
 * the disk is made, so an instance with a disk always has them cached
 * (imagegc.c relies on it).
 *
 * Command line (kernel boots only): vm.cmdline (default "console=ttyS0"), then
 * "stratus.instance=<id>", then, when the instance's user_data (base64)
 * decodes to text whose first line starts with "cmdline:", the rest of that
 * line (printable ASCII only, up to 512 bytes).
 *
 * Ceph (the order's disk_backend rbd): disk0 is instead the RBD image
 * disk-<instance id>, a clone of the image store's copy of the image (rbd_disk
 * below), kept across hosts; only the instance's deletion removes it.
 * With vm.shared_disk_dir the overlay is <shared_disk_dir>/<id>.qcow2 (a
 * mount every host shares at the same path, the base images at the same
 * path under each host's state_dir), linked from the instance directory;
 * made only when absent, so an instance arriving by live migration keeps
 * what its guest wrote.
 *
 * The cache is emptied of images no instance here uses by imagegc.c; a
 * launch's preparation holds its lock shared, and touches the base's mtime
 * as its last use.
 */
#include "agent.h"
#include "stratus/disk.h"
#include "stratus/httpc.h"
#include "stratus/image_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_MAX (512ull << 20)

typedef struct img_rec {
    char fmt[8];
    char sha[65];
    unsigned long long vsize;
    char kind[8];       /* disk | kernel | ramdisk */
    char boot[16];      /* firmware | kernel | "" (a ramdisk) */
    char kernel_id[40]; /* "" none */
    char ramdisk_id[40];
} img_rec;

/* A string field of at most n - 1 characters, "" when absent or null. */
static void opt_str(json_t *j, const char *key, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, n, "%s", v && strlen(v) < n ? v : "");
}

static int rec_from_json(json_t *j, img_rec *r, char *err, size_t errlen)
{
    const char *st = json_string_value(json_object_get(j, "status"));
    const char *fmt = json_string_value(json_object_get(j, "disk_format"));
    const char *sha = json_string_value(json_object_get(j, "checksum"));
    json_t *vs = json_object_get(j, "virtual_size_bytes");
    if (!st || strcmp(st, "active")) {
        snprintf(err, errlen, "image is not active (status %s)", st ? st : "?");
        return -1;
    }
    if (!fmt || (strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))) {
        snprintf(err, errlen, "image has no usable disk_format");
        return -1;
    }
    if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
        snprintf(err, errlen, "image has no valid checksum");
        return -1;
    }
    if (!json_is_integer(vs) || json_integer_value(vs) <= 0)
        vs = json_object_get(j, "size_bytes");
    if (!json_is_integer(vs) || json_integer_value(vs) <= 0) {
        snprintf(err, errlen, "image has no size");
        return -1;
    }
    snprintf(r->fmt, sizeof r->fmt, "%s", fmt);
    snprintf(r->sha, sizeof r->sha, "%s", sha);
    r->vsize = (unsigned long long)json_integer_value(vs);
    /* records cached before images had a kind were all booted as kernels */
    opt_str(j, "kind", r->kind, sizeof r->kind);
    opt_str(j, "boot", r->boot, sizeof r->boot);
    opt_str(j, "kernel_id", r->kernel_id, sizeof r->kernel_id);
    opt_str(j, "ramdisk_id", r->ramdisk_id, sizeof r->ramdisk_id);
    if (!r->kind[0] && !r->boot[0])
        snprintf(r->kind, sizeof r->kind, "disk"), snprintf(r->boot, sizeof r->boot, "kernel");
    if (strcmp(r->kind, "disk") && strcmp(r->kind, "kernel") && strcmp(r->kind, "ramdisk")) {
        snprintf(err, errlen, "image has an unknown kind '%s'", r->kind);
        return -1;
    }
    return 0;
}

/* The image record: from the local copy, else from the image service. */
static int get_record(const nd_conf *c, const char *image_id, img_rec *r, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/images/%s.json", c->state_dir, image_id);
    json_t *j = json_load_file(path, 0, NULL);
    if (j && rec_from_json(j, r, err, errlen) == 0) {
        json_decref(j);
        return 0;
    }
    json_decref(j);
    if (!c->img_url || !*c->img_url) {
        snprintf(err, errlen, "images.url is not set");
        return -1;
    }
    char url[1024];
    snprintf(url, sizeof url, "%s/v1/images/%s", c->img_url, image_id);
    st_httpc_req q = {.method = "GET", .url = url, .bearer = c->credential, .timeout_ms = 15000};
    st_httpc_resp rs;
    long st = st_httpc(&q, &rs, err, errlen);
    if (st != 200) {
        char m[200];
        if (st)
            snprintf(err, errlen, "image %s: image service answered %ld: %s", image_id, st,
                     st_httpc_err_msg(&rs, m, sizeof m));
        st_httpc_resp_free(&rs);
        return -1;
    }
    j = json_loadb(rs.body, rs.len, 0, NULL);
    int rc = json_is_object(j) ? rec_from_json(j, r, err, errlen) : -1;
    if (!json_is_object(j))
        snprintf(err, errlen, "image %s: the image service's answer is not JSON", image_id);
    if (rc == 0)
        nd_write_file_atomic(path, rs.body, rs.len, 0);
    json_decref(j);
    st_httpc_resp_free(&rs);
    return rc;
}

/* Downloads the base once (flock against concurrent launches). */
static int ensure_base(const nd_conf *c, const char *image_id, const img_rec *r, char *base,
                       size_t n, char *err, size_t errlen)
{
    snprintf(base, n, "%s/images/%s.%s", c->state_dir, r->sha, r->fmt);
    if (access(base, R_OK) == 0)
        return 0;
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/images/%s.lock", c->state_dir, r->sha);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
        snprintf(err, errlen, "%s: %s", lock, strerror(errno));
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    int rc = 0;
    if (access(base, R_OK) != 0) {
        char url[1024], e[256];
        snprintf(url, sizeof url, "%s/v1/images/%s/file", c->img_data_url, image_id);
        st_image_fetch_opts o = {
            .url = url, .token = c->credential, .sha256 = r->sha, .dest = base, .timeout_s = 3600};
        if (st_image_fetch(&o, e, sizeof e) < 0) {
            snprintf(err, errlen, "image %s download: %s", image_id, e);
            rc = -1;
        }
    }
    close(lfd);
    return rc;
}

/* A raw file (a kernel, or an initrd) for a qcow2 image, flattened once
 * into <sha256>.<suffix>; a raw image is its base. */
static int ensure_kernel(const nd_conf *c, const img_rec *r, const char *base, const char *suffix,
                         char *kernel, size_t n, char *err, size_t errlen)
{
    if (!strcmp(r->fmt, "raw")) {
        snprintf(kernel, n, "%s", base);
        return 0;
    }
    snprintf(kernel, n, "%s/images/%s.%s", c->state_dir, r->sha, suffix);
    if (access(kernel, R_OK) == 0)
        return 0;
    if (r->vsize > KERNEL_MAX) {
        snprintf(err, errlen, "qcow2 image of %llu bytes is too large to boot as a kernel",
                 r->vsize);
        return -1;
    }
    st_disk *d;
    char e[256];
    if (st_disk_open_ex(base, ST_DISK_RDONLY | ST_DISK_FMT_QCOW2 | ST_DISK_NO_BACKING, &d, e,
                        sizeof e) < 0) {
        snprintf(err, errlen, "base image: %s", e);
        return -1;
    }
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", kernel, (int)getpid());
    unlink(tmp);
    int rc = st_disk_convert(d, tmp, ST_DISK_RAW, e, sizeof e);
    st_disk_close(d);
    if (rc < 0 || rename(tmp, kernel) < 0) {
        snprintf(err, errlen, "flattening the image: %s", rc < 0 ? e : strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int prepare(const nd_conf *c, const nd_record *rec, const char *user_data, nd_vm_spec *spec,
                   char *err, size_t errlen);

int nd_image_prepare(const nd_conf *c, const nd_record *rec, const char *user_data,
                     nd_vm_spec *spec, char *err, size_t errlen)
{
    nd_images_use_begin(); /* the collector (imagegc.c) waits for us */
    int rc = prepare(c, rec, user_data, spec, err, errlen);
    nd_images_use_end();
    return rc;
}

/*
 * A kernel or ramdisk image (want) a disk image names: its record (of that
 * kind), cached, and the file to boot (flattened when qcow2) in path.
 */
static int ensure_part(const nd_conf *c, const char *id, const char *want, const char *suffix,
                       char *path, size_t n, char *err, size_t errlen)
{
    img_rec r;
    char base[4096];
    if (get_record(c, id, &r, err, errlen) < 0)
        return -1;
    if (strcmp(r.kind, want)) {
        snprintf(err, errlen, "image %s is a %s image, not a %s", id, r.kind, want);
        return -1;
    }
    if (ensure_base(c, id, &r, base, sizeof base, err, errlen) < 0 ||
        ensure_kernel(c, &r, base, suffix, path, n, err, errlen) < 0)
        return -1;
    utimensat(AT_FDCWD, base, NULL, 0);
    return 0;
}

/* How the spec boots, from the image record r (see the top of the file). */
static int boot_of(const nd_conf *c, const nd_record *rec, const char *user_data, const img_rec *r,
                   const char *base, nd_vm_spec *spec, char *err, size_t errlen)
{
    spec->firmware[0] = spec->kernel[0] = spec->initrd[0] = spec->cmdline[0] = 0;
    if (!strcmp(r->kind, "ramdisk")) {
        snprintf(err, errlen, "image %s is a ramdisk: it boots only beside a kernel",
                 rec->o.image_id);
        return -1;
    }
    if (!strcmp(r->kind, "disk") && !strcmp(r->boot, "firmware")) {
        if (!nd_has_firmware(c)) {
            snprintf(err, errlen, "this node has no firmware to boot disk images (vm.firmware %s)",
                     c->firmware ? c->firmware : "");
            return -1;
        }
        spec->boot = ND_BOOT_FIRMWARE;
        snprintf(spec->firmware, sizeof spec->firmware, "%s", c->firmware);
        return 0;
    }
    spec->boot = ND_BOOT_KERNEL;
    if (!strcmp(r->kind, "disk") && r->kernel_id[0]) {
        if (ensure_part(c, r->kernel_id, "kernel", "kernel", spec->kernel, sizeof spec->kernel, err,
                        errlen) < 0 ||
            (r->ramdisk_id[0] && ensure_part(c, r->ramdisk_id, "ramdisk", "initrd", spec->initrd,
                                             sizeof spec->initrd, err, errlen) < 0))
            return -1;
    } else if (ensure_kernel(c, r, base, "kernel", spec->kernel, sizeof spec->kernel, err, errlen) <
               0) {
        return -1;
    }
    nd_cmdline_build(c->cmdline, rec->o.id, user_data, spec->cmdline, sizeof spec->cmdline);
    return 0;
}

/* The "rbd:" path of instance id's disk in buf. */
static void rbd_path(const nd_conf *c, const char *id, char *buf, size_t n)
{
    snprintf(buf, n, "rbd:%s/disk-%s%s%s%s%s", c->rbd_pool, id, *c->rbd_conf ? ":conf=" : "",
             c->rbd_conf, *c->rbd_client ? ":id=" : "", c->rbd_client);
}

/*
 * disk_backend rbd: the disk is disk-<id> in disk.rbd_pool, a copy-on-write clone of the image
 * store's img-<sha256>@base made at the first launch. A later launch (this host's, or another
 * host's after an evacuation or a migration) finds it and opens it as it is: what the guest
 * wrote is kept. The clone grows to the flavor's disk_gib when the image is smaller (as a
 * local disk's overlay does; growing is idempotent, so a later launch changes nothing), and
 * must be raw: a qcow2 image's clone would be qcow2 bytes on RBD.
 */
static int rbd_disk(const nd_conf *c, const nd_record *rec, const img_rec *r, nd_vm_disk *root,
                    char *err, size_t errlen)
{
    if (strcmp(r->fmt, "raw")) {
        snprintf(err, errlen, "image %s is qcow2: instance disks on Ceph are clones of raw images",
                 rec->o.image_id);
        return -1;
    }
    char parent[80], child[80], e[300];
    snprintf(parent, sizeof parent, "img-%s", r->sha);
    snprintf(child, sizeof child, "disk-%s", rec->o.id);
    int rc = st_rbd_clone(*c->rbd_conf ? c->rbd_conf : NULL, *c->rbd_client ? c->rbd_client : NULL,
                          c->rbd_pool, parent, "base", child, e, sizeof e);
    if ((rc < 0 && rc != -EEXIST) ||
        st_rbd_grow(*c->rbd_conf ? c->rbd_conf : NULL, *c->rbd_client ? c->rbd_client : NULL,
                    c->rbd_pool, child, (uint64_t)rec->o.disk_gib << 30, e, sizeof e) < 0) {
        snprintf(err, errlen, "instance disk on Ceph: %s", e);
        return -1;
    }
    rbd_path(c, rec->o.id, root->path, sizeof root->path);
    snprintf(root->format, sizeof root->format, "raw");
    return 0;
}

int nd_image_remove_rbd(const nd_conf *c, const char *id, char *err, size_t errlen)
{
    char child[80];
    snprintf(child, sizeof child, "disk-%s", id);
    return st_rbd_remove(*c->rbd_conf ? c->rbd_conf : NULL, *c->rbd_client ? c->rbd_client : NULL,
                         c->rbd_pool, child, err, errlen);
}

static int prepare(const nd_conf *c, const nd_record *rec, const char *user_data, nd_vm_spec *spec,
                   char *err, size_t errlen)
{
    img_rec r;
    char base[4096], images[4200];
    snprintf(images, sizeof images, "%s/images", c->state_dir);
    nd_mkdirs(images, 0700);
    if (get_record(c, rec->o.image_id, &r, err, errlen) < 0)
        return -1;
    /* On Ceph the disk is a clone of the image store's own copy: the base is fetched only
     * when the image itself is booted as a kernel. */
    int fetch = !rec->o.rbd || strcmp(r.kind, "disk") || strcmp(r.boot, "firmware");
    base[0] = 0;
    if ((fetch && ensure_base(c, rec->o.image_id, &r, base, sizeof base, err, errlen) < 0) ||
        boot_of(c, rec, user_data, &r, base, spec, err, errlen) < 0)
        return -1;
    if (fetch)
        utimensat(AT_FDCWD, base, NULL, 0); /* last used now: the collector keeps it a while */
    nd_vm_disk *root = &spec->disks[0];
    spec->ndisks = 1;
    snprintf(root->id, sizeof root->id, "disk0");
    if (rec->o.rbd)
        return rbd_disk(c, rec, &r, root, err, errlen);
    snprintf(root->path, sizeof root->path, "%s/disk.qcow2", spec->dir);
    snprintf(root->format, sizeof root->format, "qcow2");
    if (c->shared_disk_dir && *c->shared_disk_dir) {
        /* on storage every host shares (vm.shared_disk_dir): a live
         * migration's target finds the disk the source wrote; the instance
         * directory keeps a link to it (for the snapshot and the image
         * collector, which look there) */
        char link[4200];
        snprintf(link, sizeof link, "%s", root->path);
        nd_shared_disk_path(c, rec->o.id, root->path, sizeof root->path);
        if (symlink(root->path, link) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", link, strerror(errno));
            return -1;
        }
    }
    if (access(root->path, F_OK) != 0) {
        unsigned long long size = (unsigned long long)rec->o.disk_gib << 30;
        if (size < r.vsize)
            size = r.vsize;
        if (!strcmp(r.fmt, "raw"))
            size = (size + 511) & ~511ull;
        st_qcow2_create_opts o = {.size = size, .backing_file = base, .backing_fmt = r.fmt};
        char e[256];
        int rc = st_qcow2_create_ex(root->path, &o, e, sizeof e);
        if (rc < 0 && rc != -EEXIST) {
            snprintf(err, errlen, "instance disk: %s", e);
            return -1;
        }
    }
    return 0;
}

void nd_shared_disk_path(const nd_conf *c, const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s.qcow2", c->shared_disk_dir, id);
}

void nd_cmdline_build(const char *base, const char *id, const char *user_data_b64, char *out,
                      size_t outlen)
{
    int n = snprintf(out, outlen, "%s%sstratus.instance=%s", base ? base : "",
                     base && *base ? " " : "", id);
    if (!user_data_b64 || !*user_data_b64 || n < 0 || (size_t)n >= outlen)
        return;
    size_t len = strlen(user_data_b64);
    if (len % 4 || len > 200000)
        return;
    unsigned char *dec = malloc(len / 4 * 3 + 1);
    if (!dec)
        return;
    int k = EVP_DecodeBlock(dec, (const unsigned char *)user_data_b64, (int)len);
    if (k < 0) {
        free(dec);
        return;
    }
    dec[k] = 0;
    const char *pfx = "cmdline:";
    if ((size_t)k > strlen(pfx) && !strncmp((char *)dec, pfx, strlen(pfx))) {
        char extra[513];
        size_t j = 0;
        for (unsigned char *p = dec + strlen(pfx); *p && *p != '\n' && *p != '\r' && j < 512; p++)
            if (*p >= 0x20 && *p < 0x7f)
                extra[j++] = (char)*p;
        extra[j] = 0;
        char *e = extra;
        while (*e == ' ')
            e++;
        if (*e && (size_t)n + 1 + strlen(e) < outlen)
            snprintf(out + n, outlen - (size_t)n, " %s", e);
    }
    free(dec);
}
