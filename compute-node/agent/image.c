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
 * Booting: stratus-vmm has no firmware, so an image is booted as a direct
 * kernel (PVH ELF or bzImage) - the test guest is such an image. A raw image
 * is the kernel file itself; a qcow2 image is flattened once into
 * <sha256>.kernel (raw) when its virtual size is at most 512 MiB, the VMM's
 * kernel limit. The instance disk (disk0) is a qcow2 overlay on the base
 * whose backing format comes from the image record, never probed.
 *
 * Command line: vm.cmdline (default "console=ttyS0"), then
 * "stratus.instance=<id>", then, when the instance's user_data (base64)
 * decodes to text whose first line starts with "cmdline:", the rest of that
 * line (printable ASCII only, up to 512 bytes).
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
} img_rec;

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

/* A raw kernel file for a qcow2 image (flattened once). */
static int ensure_kernel(const nd_conf *c, const img_rec *r, const char *base, char *kernel,
                         size_t n, char *err, size_t errlen)
{
    if (!strcmp(r->fmt, "raw")) {
        snprintf(kernel, n, "%s", base);
        return 0;
    }
    snprintf(kernel, n, "%s/images/%s.kernel", c->state_dir, r->sha);
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

static int prepare(const nd_conf *c, const nd_record *rec, const char *user_data, nd_vm_spec *spec,
                   char *err, size_t errlen)
{
    img_rec r;
    char base[4096], images[4200];
    snprintf(images, sizeof images, "%s/images", c->state_dir);
    nd_mkdirs(images, 0700);
    if (get_record(c, rec->o.image_id, &r, err, errlen) < 0 ||
        ensure_base(c, rec->o.image_id, &r, base, sizeof base, err, errlen) < 0 ||
        ensure_kernel(c, &r, base, spec->kernel, sizeof spec->kernel, err, errlen) < 0)
        return -1;
    utimensat(AT_FDCWD, base, NULL, 0); /* last used now: the collector keeps it a while */
    nd_vm_disk *root = &spec->disks[0];
    spec->ndisks = 1;
    snprintf(root->id, sizeof root->id, "disk0");
    snprintf(root->path, sizeof root->path, "%s/disk.qcow2", spec->dir);
    snprintf(root->format, sizeof root->format, "qcow2");
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
    nd_cmdline_build(c->cmdline, rec->o.id, user_data, spec->cmdline, sizeof spec->cmdline);
    return 0;
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
