/*
 * store_local.c - blobs as files in a directory.
 *
 *   <root>/blobs/<first 2 hex digits>/<sha256>   one file per blob, 0444
 *   <root>/tmp/                                  uploads in progress
 *
 * put() fsyncs the temporary file (when the store is durable), link()s it
 * to its final name (EEXIST means the blob is there already: dedup) and
 * fsyncs the directory. A blob file is never written after it is linked, so
 * readers need no locking. The temporary directory is on the same file
 * system so the link is atomic.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct local {
    char root[3800];
} local;

struct img_reader {
    int fd;
};

static int blob_path(const local *l, const char *sha, char *out, size_t outlen, int mkdirs)
{
    char d[PATH_MAX - 80];
    snprintf(d, sizeof d, "%s/blobs/%.2s", l->root, sha);
    if (mkdirs && mkdir(d, 0755) < 0 && errno != EEXIST)
        return -errno;
    if ((size_t)snprintf(out, outlen, "%s/%s", d, sha) >= outlen)
        return -ENAMETOOLONG;
    return 0;
}

static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int l_put(img_store *s, const char *tmp, const char *sha, uint64_t size, char *err,
                 size_t errlen)
{
    local *l = s->priv;
    char path[PATH_MAX];
    int rc = blob_path(l, sha, path, sizeof path, 1);
    if (rc < 0) {
        snprintf(err, errlen, "blob directory: %s", strerror(-rc));
        return rc;
    }
    if (s->fsync) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0) {
            rc = -errno;
            if (fd >= 0)
                close(fd);
            snprintf(err, errlen, "fsync of the upload: %s", strerror(-rc));
            return rc;
        }
        close(fd);
    }
    chmod(tmp, 0444);
    if (link(tmp, path) < 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, errlen, "storing blob: %s", strerror(-rc));
        return rc;
    }
    if (s->fsync) {
        char *slash = strrchr(path, '/');
        *slash = 0;
        rc = sync_dir(path);
        if (rc < 0) {
            snprintf(err, errlen, "fsync of the blob directory: %s", strerror(-rc));
            return rc;
        }
    }
    (void)size;
    return 0;
}

static int l_open(img_store *s, const char *sha, img_reader **r, uint64_t *size, char *err,
                  size_t errlen)
{
    local *l = s->priv;
    char path[PATH_MAX];
    int rc = blob_path(l, sha, path, sizeof path, 0);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "blob %.12s: %s", sha, strerror(-rc));
        return rc;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *r = malloc(sizeof **r);
    if (!*r) {
        close(fd);
        return -ENOMEM;
    }
    (*r)->fd = fd;
    *size = (uint64_t)st.st_size;
    return 0;
}

static ssize_t l_read(img_reader *r, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(r->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static void l_close(img_reader *r)
{
    if (r) {
        close(r->fd);
        free(r);
    }
}

static int l_remove(img_store *s, const char *sha, char *err, size_t errlen)
{
    local *l = s->priv;
    char path[PATH_MAX];
    int rc = blob_path(l, sha, path, sizeof path, 0);
    if (rc == 0 && unlink(path) < 0 && errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "removing blob %.12s: %s", sha, strerror(-rc));
    }
    return rc;
}

static void l_free(img_store *s)
{
    free(s->priv);
    free(s);
}

static const img_store_ops local_ops = {
    .name = "local",
    .put = l_put,
    .open = l_open,
    .read = l_read,
    .close = l_close,
    .remove = l_remove,
    .free = l_free,
};

img_store *img_store_local_new(const char *root, int fsync_on, char *err, size_t errlen)
{
    char d[PATH_MAX];
    if (strlen(root) >= sizeof((local *)0)->root) {
        snprintf(err, errlen, "store path too long");
        return NULL;
    }
    if (mkdir(root, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", root, strerror(errno));
        return NULL;
    }
    snprintf(d, sizeof d, "%s/blobs", root);
    if (mkdir(d, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", d, strerror(errno));
        return NULL;
    }
    img_store *s = calloc(1, sizeof *s);
    local *l = calloc(1, sizeof *l);
    if (!s || !l) {
        free(s);
        free(l);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(l->root, sizeof l->root, "%s", root);
    s->ops = &local_ops;
    s->priv = l;
    s->fsync = fsync_on;
    return s;
}
