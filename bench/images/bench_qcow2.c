/*
 * bench_qcow2 - random 4 KiB reads and writes through stratus_disk on a
 * qcow2 overlay, beside the same workload on the raw file, in one run.
 *
 *   bench_images_qcow2 BASE.raw DIR [seconds-per-case]
 *
 * Cases (each for the given time, default 3 s, same seed for both sides):
 *   read, overlay empty    qcow2 overlay over BASE (every read misses the
 *                          overlay and goes to the raw base) vs pread on BASE
 *   write, overlay         first writes allocate clusters (copy on write of
 *                          64 KiB from the base) vs pwrite on a copy of BASE
 *   read, overlay written  reads of clusters the overlay now holds vs raw
 * Everything is in the page cache (the files are read once first), so the
 * figure is the library's overhead, not the disk's. Read cases and in-place
 * writes take the best of five interleaved runs per side (the machine is
 * shared); allocating writes run once (a cluster is allocated only once).
 * Prints ops/s and MiB/s side by side and the ratio.
 */
#include "stratus/disk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct side {
    st_disk *d;
    int fd;
} side;

static double run(side *x, int write, uint64_t size, double secs, uint64_t seed)
{
    static char buf[4096] __attribute__((aligned(4096)));
    memset(buf, 0x5a, sizeof buf);
    uint64_t blocks = size / 4096, ops = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 1024; i++, ops++) {
            uint64_t off = (rnd(&seed) % blocks) * 4096;
            ssize_t r;
            if (x->d)
                r = write ? st_disk_pwrite(x->d, buf, 4096, off)
                          : st_disk_pread(x->d, buf, 4096, off);
            else
                r = write ? pwrite(x->fd, buf, 4096, (off_t)off)
                          : pread(x->fd, buf, 4096, (off_t)off);
            if (r != 4096) {
                fprintf(stderr, "I/O failed: %s\n", x->d ? st_disk_error(x->d) : "raw");
                exit(1);
            }
        }
        t = now() - t0;
    } while (t < secs);
    return (double)ops / t;
}

/* Best of five interleaved runs of each side, alternating which goes first:
 * this machine is shared and noisy. */
static void pair(side *q, side *r, int write, uint64_t size, double secs, uint64_t seed, double *a,
                 double *b)
{
    *a = *b = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t s = seed + (uint64_t)i * 7919;
        double x, y;
        if (i % 2) {
            y = run(r, write, size, secs / 5, s);
            x = run(q, write, size, secs / 5, s);
        } else {
            x = run(q, write, size, secs / 5, s);
            y = run(r, write, size, secs / 5, s);
        }
        *a = x > *a ? x : *a;
        *b = y > *b ? y : *b;
    }
}

static void report(const char *name, double ours, double raw)
{
    printf("%-34s qcow2 %9.0f ops/s %7.1f MiB/s | raw %9.0f ops/s %7.1f MiB/s | raw/qcow2 %.2fx\n",
           name, ours, ours * 4096 / 1048576, raw, raw * 4096 / 1048576, raw / ours);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BASE.raw DIR [seconds]\n", argv[0]);
        return 2;
    }
    double secs = argc > 3 ? atof(argv[3]) : 3.0;
    char ov[4096], copy[4096], cmd[9000], err[256];
    snprintf(ov, sizeof ov, "%s/bench-overlay.qcow2", argv[2]);
    snprintf(copy, sizeof copy, "%s/bench-copy.raw", argv[2]);
    unlink(ov);
    unlink(copy);
    /* sync: no background writeback of the copy may run during the measurements. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && sync && cat '%s' '%s' > /dev/null", argv[1], copy,
             argv[1], copy);
    if (system(cmd) != 0)
        return 1;
    if (st_qcow2_create(ov, 0, argv[1], "raw") < 0) {
        fprintf(stderr, "cannot create the overlay\n");
        return 1;
    }
    side q = {0}, rbase = {0}, rcopy = {0};
    if (st_disk_open_ex(ov, ST_DISK_FMT_QCOW2, &q.d, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rbase.fd = open(argv[1], O_RDONLY);
    rcopy.fd = open(copy, O_RDWR);
    uint64_t size = st_disk_size(q.d);
    printf("image %llu MiB, 4 KiB random I/O, %.0f s per case, page cache warm\n",
           (unsigned long long)(size >> 20), secs);
    double a, b;
    pair(&q, &rbase, 0, size, secs, 1, &a, &b);
    report("read, empty overlay -> raw base", a, b);
    a = run(&q, 1, size, secs, 2);
    b = run(&rcopy, 1, size, secs, 2);
    st_disk_flush(q.d);
    report("write, overlay (allocating)", a, b);
    /* Fill the overlay completely so every read now hits qcow2 data clusters. */
    static char big[1 << 20];
    for (uint64_t off = 0; off < size; off += sizeof big) {
        size_t n = size - off < sizeof big ? (size_t)(size - off) : sizeof big;
        if (st_disk_pread(q.d, big, n, off) != (ssize_t)n ||
            st_disk_pwrite(q.d, big, n, off) != (ssize_t)n)
            return 1;
    }
    st_disk_flush(q.d);
    pair(&q, &rcopy, 0, size, secs, 3, &a, &b);
    report("read, overlay fully allocated", a, b);
    pair(&q, &rcopy, 1, size, secs, 4, &a, &b);
    report("write, overlay allocated (in place)", a, b);
    st_disk_close(q.d);
    /* The same allocating pattern as `qemu-img bench -w -s 4096 -S 65536 -c 16384` (run.sh
     * runs that beside it): 4 KiB at the start of each of 16384 clusters, then a flush. */
    unlink(ov);
    if (st_qcow2_create(ov, 0, argv[1], "raw") < 0 ||
        st_disk_open_ex(ov, ST_DISK_FMT_QCOW2, &q.d, err, sizeof err) < 0)
        return 1;
    static char blk[4096];
    memset(blk, 0xa5, sizeof blk);
    uint64_t n = size / 65536 < 16384 ? size / 65536 : 16384;
    double t0 = now();
    for (uint64_t i = 0; i < n; i++)
        if (st_disk_pwrite(q.d, blk, sizeof blk, i * 65536) != (ssize_t)sizeof blk)
            return 1;
    st_disk_flush(q.d);
    double t = now() - t0;
    printf("%-34s qcow2 %9.0f allocations/s (%llu in %.3f s)\n", "write, 4 KiB per 64 KiB (stride)",
           (double)n / t, (unsigned long long)n, t);
    st_disk_close(q.d);
    close(rbase.fd);
    close(rcopy.fd);
    unlink(ov);
    unlink(copy);
    return 0;
}
