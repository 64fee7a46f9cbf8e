/*
 * Opening an arbitrary file as a disk image and using it: the input is
 * written to a file, opened read only (probing the format, with a backing
 * chain resolved in the same directory, where a small raw "base" exists),
 * its tables walked, and regions read; then opened read-write and written,
 * discarded and flushed. Every failure must be a negative errno with a
 * message; nothing may crash, leak or read out of bounds.
 */
#include "stratus/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], img[96];

static void cleanup(void)
{
    char base[96];
    snprintf(base, sizeof base, "%s/base", dir);
    unlink(base);
    unlink(img);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/images-fuzz-open-%d", (int)getpid());
    mkdir(dir, 0700);
    char base[96];
    snprintf(base, sizeof base, "%s/base", dir);
    int fd = open(base, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        static uint8_t b[8192];
        memset(b, 0xab, sizeof b);
        if (write(fd, b, sizeof b) < 0)
            abort();
        close(fd);
    }
    snprintf(img, sizeof img, "%s/img", dir);
    atexit(cleanup);
}

static void exercise(const char *path, int flags, const uint8_t *data, size_t size)
{
    st_disk *d;
    char err[256];
    int rc = st_disk_open_ex(path, flags, &d, err, sizeof err);
    if (rc < 0) {
        if (!err[0])
            abort();
        return;
    }
    st_disk_info info;
    st_disk_get_info(d, &info);
    st_disk_check_tables(d, err, sizeof err);
    uint64_t dsize = st_disk_size(d);
    static uint8_t buf[3 * 65536];
    uint64_t offs[4] = {0, dsize / 2, dsize > 100 ? dsize - 100 : 0, 0};
    if (size >= 8)
        memcpy(&offs[3], data + size - 8, 8);
    for (int i = 0; i < 4; i++) {
        uint64_t off = dsize ? offs[i] % dsize : 0;
        size_t n = dsize - off < sizeof buf ? (size_t)(dsize - off) : sizeof buf;
        if (!(flags & ST_DISK_RDONLY) && i % 2) {
            memset(buf, i, n < 70000 ? n : 70000);
            st_disk_pwrite(d, buf, n < 70000 ? n : 70000, off);
            st_disk_discard(d, off, n);
        } else {
            st_disk_pread(d, buf, n, off);
        }
    }
    st_disk_flush(d);
    st_disk_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    close(fd);
    exercise(img, ST_DISK_RDONLY, data, size);
    exercise(img, ST_DISK_RDWR | ST_DISK_FMT_QCOW2, data, size);
    return 0;
}
