/*
 * image_fetch.c - downloading a base image and checking it (image_fetch.h).
 *
 * The one internal HTTP client (common's httpc.h) streams the body into
 * write_cb(), which hashes (OpenSSL EVP) and writes each piece to a
 * temporary file beside the destination; the service's X-Stratus-Sha256
 * header is read from the response once it is complete. The file is
 * published (fsync, chmod 0444, rename, fsync of the directory) only after
 * the transfer finished, the status was 200 and both checksums match.
 */
#include "stratus/image_fetch.h"
#include "stratus/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fetch {
    int fd;
    EVP_MD_CTX *md;
    uint64_t bytes;
    int write_error;
} fetch;

static size_t write_cb(void *arg, const char *p, size_t len)
{
    fetch *f = arg;
    size_t done = 0;
    EVP_DigestUpdate(f->md, p, len);
    while (done < len) {
        ssize_t k = write(f->fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            f->write_error = errno ? errno : EIO;
            return 0; /* makes curl stop */
        }
        done += (size_t)k;
    }
    f->bytes += len;
    return len;
}

static void hex(const unsigned char *d, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int st_image_file_sha256(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    int rc = md && buf && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
    for (ssize_t k; rc == 0 && (k = read(fd, buf, 1 << 20)) != 0;) {
        if (k < 0) {
            if (errno != EINTR)
                rc = -errno;
            continue;
        }
        EVP_DigestUpdate(md, buf, (size_t)k);
    }
    if (rc == 0) {
        unsigned char d[32];
        unsigned int dl;
        EVP_DigestFinal_ex(md, d, &dl);
        hex(d, out);
    }
    EVP_MD_CTX_free(md);
    free(buf);
    close(fd);
    return rc;
}

#define FAIL(rc_, ...)                                                                             \
    do {                                                                                           \
        rc = (rc_);                                                                                \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto out;                                                                                  \
    } while (0)

int st_image_fetch(const st_image_fetch_opts *o, char *err, size_t errlen)
{
    int rc = 0;
    char tmp[4200] = "", cerr[512];
    fetch f = {.fd = -1};
    st_httpc_resp r = {0};
    if (!o->url || !o->dest || !o->sha256 || strlen(o->sha256) != 64) {
        snprintf(err, errlen, "url, dest and a 64-digit sha256 are required");
        return -EINVAL;
    }
    snprintf(tmp, sizeof tmp, "%s.fetch-XXXXXX", o->dest);
    f.fd = mkostemp(tmp, O_CLOEXEC);
    if (f.fd < 0) {
        tmp[0] = 0;
        FAIL(-errno, "cannot create a file beside %s: %s", o->dest, strerror(errno));
    }
    f.md = EVP_MD_CTX_new();
    if (!f.md || EVP_DigestInit_ex(f.md, EVP_sha256(), NULL) != 1)
        FAIL(-ENOMEM, "out of memory");
    st_httpc_req q = {.url = o->url,
                      .bearer = o->token,
                      .timeout_ms = o->timeout_s > 0 ? o->timeout_s * 1000 : -1,
                      .stall_s = 60,
                      .sink = write_cb,
                      .sink_arg = &f};
    long status = st_httpc(&q, &r, cerr, sizeof cerr);
    if (f.write_error)
        FAIL(-f.write_error, "writing %s: %s", tmp, strerror(f.write_error));
    if (status == 0)
        FAIL(-EIO, "download failed after %llu bytes: %s", (unsigned long long)f.bytes, cerr);
    if (status != 200)
        FAIL(status == 404                    ? -ENOENT
             : status == 401 || status == 403 ? -EACCES
                                              : -EIO,
             "the image service answered %ld", status);
    unsigned char d[32];
    unsigned int dl;
    char got[65];
    EVP_DigestFinal_ex(f.md, d, &dl);
    hex(d, got);
    if (strcasecmp(got, o->sha256) != 0)
        FAIL(-EBADMSG, "checksum mismatch: the download hashes to %s, the image record says %s",
             got, o->sha256);
    char *said = st_httpc_header(&r, "X-Stratus-Sha256");
    if (said && strlen(said) == 64 && strcasecmp(said, o->sha256) != 0) {
        char s[65];
        memcpy(s, said, sizeof s);
        free(said);
        FAIL(-EBADMSG, "checksum mismatch: the service says %s, the image record says %s", s,
             o->sha256);
    }
    free(said);
    if (fsync(f.fd) < 0 || fchmod(f.fd, 0444) < 0)
        FAIL(-errno, "fsync of %s: %s", tmp, strerror(errno));
    if (rename(tmp, o->dest) < 0)
        FAIL(-errno, "cannot move the image to %s: %s", o->dest, strerror(errno));
    tmp[0] = 0;
    char *copy = strdup(o->dest);
    if (copy) {
        int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(copy);
    }
out:
    if (f.fd >= 0)
        close(f.fd);
    if (tmp[0])
        unlink(tmp);
    EVP_MD_CTX_free(f.md);
    st_httpc_resp_free(&r);
    return rc;
}
