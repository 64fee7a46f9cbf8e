/*
 * disk_int.h - what the format drivers (raw.c, qcow2*.c) share with disk.c.
 *
 * An st_disk is a file descriptor, a virtual size, a driver (a small vtable
 * of I/O functions) and, for qcow2, the driver's private state and the open
 * backing chain. disk.c checks every guest range against the size before a
 * driver sees it, so drivers may assume 0 < n and off + n <= size.
 */
#ifndef STRATUS_DISK_INT_H
#define STRATUS_DISK_INT_H

#include "stratus/disk.h"

#include <stdarg.h>

typedef struct st_disk_ops {
    ssize_t (*pread)(st_disk *d, void *buf, size_t n, uint64_t off);
    ssize_t (*pwrite)(st_disk *d, const void *buf, size_t n, uint64_t off);
    int (*flush)(st_disk *d);
    int (*discard)(st_disk *d, uint64_t off, uint64_t len);
    int (*write_zeroes)(st_disk *d, uint64_t off, uint64_t len);
    int (*check_tables)(st_disk *d);
    /* st_disk_block_status; NULL: the image holds every byte (RBD). */
    int (*block_status)(st_disk *d, uint64_t off, uint64_t len, uint64_t *pnum);
    void (*close)(st_disk *d);
} st_disk_ops;

struct st_disk {
    const st_disk_ops *ops;
    st_disk_format format;
    int fd;
    int flags;
    int depth;     /* 1 for the top image, 2 for its backing file, ... */
    uint64_t size; /* virtual size */
    char *path;
    st_disk *backing; /* qcow2 only; NULL when none */
    char backing_file[1024];
    char backing_fmt[16];
    uint32_t cluster_size; /* qcow2: bytes a cluster; raw: 0 */
    int version;           /* qcow2: 2 or 3; raw: 0 */
    void *priv;            /* the driver's state */
    char err[256];
};

/* Formats a message into d->err and returns rc (a negative errno). */
__attribute__((format(printf, 3, 4))) int st__disk_fail(st_disk *d, int rc, const char *fmt, ...);
/* snprintf into err when err is not NULL; returns rc. */
__attribute__((format(printf, 4, 5))) int st__err(char *err, size_t errlen, int rc, const char *fmt,
                                                  ...);

/* Opens one link of a chain (depth counts from 1 at the top image). */
int st__disk_open_chain(const char *path, int flags, int depth, st_disk **out, char *err,
                        size_t errlen);

/* Whole-buffer pread/pwrite on a file; bytes past the end of file read as zeros. */
int st__file_read(int fd, void *buf, size_t n, uint64_t off);
int st__file_write(int fd, const void *buf, size_t n, uint64_t off);
/* 1 when buf holds only zero bytes. */
int st__is_zero(const void *buf, size_t n);

/*
 * Creates path atomically: fill() writes a temporary file beside it, which is
 * fsynced and link()ed into place (-EEXIST when path exists), then the
 * directory is fsynced. The temporary file is always removed.
 */
int st__publish_file(const char *path, int (*fill)(int fd, void *arg), void *arg, char *err,
                     size_t errlen);
int st__fsync_dir(const char *path);

int st__raw_open(st_disk *d, char *err, size_t errlen);
/* "rbd:..." paths (rbd.c). */
int st__rbd_open(const char *spec, int flags, st_disk **out, char *err, size_t errlen);
int st__qcow2_open(st_disk *d, char *err, size_t errlen);

#endif
