/*
 * image_fetch.c - downloading a base image and checking it (image_fetch.h).
 *
 * libcurl streams the body through write_cb(), which hashes (OpenSSL EVP)
 * and writes each piece to a temporary file beside the destination; the
 * service's X-Stratus-Sha256 header is captured by header_cb(). The file is
 * published (fsync, chmod 0444, rename, fsync of the directory) only after
 * the transfer finished, the status was 200 and both checksums match.
 */
#include "stratus/image_fetch.h"

#include <curl/curl.h>
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
    char header_sha[65];
} fetch;

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    fetch *f = arg;
    size_t len = size * n, done = 0;
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

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    fetch *f = arg;
    size_t len = size * n;
    static const char name[] = "X-Stratus-Sha256:";
    if (len > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1;
        while (*v == ' ')
            v++;
        size_t vl = strcspn(v, "\r\n");
        if (vl == 64) {
            memcpy(f->header_sha, v, 64);
            f->header_sha[64] = 0;
        }
    }
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
    char tmp[4200] = "", auth[600];
    fetch f = {.fd = -1};
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
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
    c = curl_easy_init();
    if (!c)
        FAIL(-ENOMEM, "cannot start libcurl");
    if (o->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, o->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &f);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    if (o->timeout_s > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_s);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (f.write_error)
        FAIL(-f.write_error, "writing %s: %s", tmp, strerror(f.write_error));
    if (cc != CURLE_OK)
        FAIL(-EIO, "download failed after %llu bytes: %s", (unsigned long long)f.bytes,
             curl_easy_strerror(cc));
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
    if (f.header_sha[0] && strcasecmp(f.header_sha, o->sha256) != 0)
        FAIL(-EBADMSG, "checksum mismatch: the service says %s, the image record says %s",
             f.header_sha, o->sha256);
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
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}
