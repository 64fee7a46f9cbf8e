/*
 * store.h - where image blobs live: one small interface, two back ends.
 *
 *   store_local.c  a directory: <root>/blobs/<2 hex>/<sha256> (the default)
 *   store_rbd.c    Ceph: each blob an RBD image "img-<sha256>" with a
 *                  protected snapshot "base", so instance disks can be
 *                  copy-on-write clones of it (rbd children)
 *
 * Blobs are immutable and named by the SHA-256 of their bytes, so put() of a
 * blob that exists already is a no-op (dedup) and two uploads of the same
 * bytes race harmlessly. Uploads always arrive as a local temporary file
 * (written and hashed by upload.c); put() moves or copies it in and the
 * caller removes what is left. Every call returns 0 or a negative errno with
 * a message in err.
 */
#ifndef IMAGES_STORE_H
#define IMAGES_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct img_store img_store;
typedef struct img_reader img_reader;

typedef struct img_store_ops {
    const char *name;
    /* Makes the blob sha (the bytes of tmp_path, size bytes) durable in the store. */
    int (*put)(img_store *s, const char *tmp_path, const char *sha, uint64_t size, char *err,
               size_t errlen);
    /* Opens a blob for reading; -ENOENT when it is not there. */
    int (*open)(img_store *s, const char *sha, img_reader **r, uint64_t *size, char *err,
                size_t errlen);
    ssize_t (*read)(img_reader *r, void *buf, size_t n, uint64_t off);
    void (*close)(img_reader *r);
    /* Removes a blob; 0 when it is gone (or was never there). */
    int (*remove)(img_store *s, const char *sha, char *err, size_t errlen);
    void (*free)(img_store *s);
} img_store_ops;

struct img_store {
    const img_store_ops *ops;
    int fsync; /* make blobs durable before they become active */
    void *priv;
};

img_store *img_store_local_new(const char *root, int fsync, char *err, size_t errlen);
/* NULL with err "not built with Ceph support" when librbd was absent at build time. */
img_store *img_store_rbd_new(const char *conf, const char *pool, const char *client, char *err,
                             size_t errlen);

#endif
