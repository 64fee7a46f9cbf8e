/*
 * The disk library against real files and real qemu-img as the judge:
 * what we write, qemu-img check calls clean and qemu-img compare calls equal
 * to a raw mirror of the same writes; what qemu-img makes (plain,
 * compressed, version 2, tiny clusters, odd refcount widths, overlays), we
 * read and write; overlays, discards, flattening, locking and range checks.
 */
#include "disk_util.h"
#include "st_proc.h"
#include "st_test.h"
#include "stratus/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static char out[16384];

static const char *P(const char *name)
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static int suite_init(void)
{
    dir = st_tmpdir("images-disk");
    return dir ? 0 : -1;
}

static int suite_clean(void)
{
    st_rmtree(dir);
    free(dir);
    return 0;
}

/* Applies the same pseudo-random writes to d and to a raw mirror fd. */
static void random_writes(st_disk *d, int mirror, uint64_t seed, int count, size_t maxlen)
{
    uint64_t st = seed, size = st_disk_size(d);
    uint8_t *buf = malloc(maxlen);
    for (int i = 0; i < count; i++) {
        size_t n = 1 + (size_t)(tu_rand(&st) % maxlen);
        if (tu_rand(&st) % 2)
            n = (n + 511) & ~(size_t)511; /* mostly sector-shaped, sometimes not */
        if (n > maxlen)
            n = maxlen;
        uint64_t off = tu_rand(&st) % (size - n + 1);
        if (tu_rand(&st) % 2)
            off &= ~511ull;
        tu_fill(&st, buf, n);
        ssize_t r = st_disk_pwrite(d, buf, n, off);
        ST_ASSERT_INT_EQ(r, (long long)n);
        if (r != (ssize_t)n)
            fprintf(stderr, "write error: %s\n", st_disk_error(d));
        ST_ASSERT_INT_EQ(pwrite(mirror, buf, n, (off_t)off), (long long)n);
    }
    free(buf);
}

/* Reads d whole and compares with the mirror file. */
static int same_as_mirror(st_disk *d, const char *mirror)
{
    int fd = open(mirror, O_RDONLY);
    uint64_t size = st_disk_size(d);
    uint8_t *a = malloc(1 << 20), *b = malloc(1 << 20);
    int same = 1;
    for (uint64_t off = 0; off < size && same; off += 1 << 20) {
        size_t n = size - off < (1 << 20) ? (size_t)(size - off) : (1 << 20);
        if (st_disk_pread(d, a, n, off) != (ssize_t)n) {
            fprintf(stderr, "read error: %s\n", st_disk_error(d));
            same = 0;
            break;
        }
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < (ssize_t)n)
            memset(b + (k > 0 ? k : 0), 0, n - (size_t)(k > 0 ? k : 0));
        if (memcmp(a, b, n) != 0) {
            fprintf(stderr, "contents differ in [%llu, +%zu)\n", (unsigned long long)off, n);
            same = 0;
        }
    }
    close(fd);
    free(a);
    free(b);
    return same;
}

static void make_mirror(const char *path, uint64_t size, const char *copy_of)
{
    if (copy_of) {
        ST_ASSERT_INT_EQ(st_run(out, sizeof out, "cp --sparse=always '%s' '%s'", copy_of, path), 0);
    } else {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        ST_ASSERT_INT_EQ(ftruncate(fd, (off_t)size), 0);
        close(fd);
    }
}

static void test_new_image_roundtrip(void)
{
    static const struct {
        uint32_t cs;
        int ver, rbits;
    } kinds[] = {
        {65536, 3, 16}, {65536, 2, 16}, {512, 3, 16}, {4096, 3, 1}, {2048, 3, 64}, {1u << 21, 3, 8},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char name[64], mname[64], err[256];
        snprintf(name, sizeof name, "new%zu.qcow2", k);
        snprintf(mname, sizeof mname, "new%zu.raw", k);
        uint64_t size = 64ull << 20;
        st_qcow2_create_opts o = {.size = size,
                                  .cluster_size = kinds[k].cs,
                                  .version = kinds[k].ver,
                                  .refcount_bits = kinds[k].rbits};
        int rc = st_qcow2_create_ex(P(name), &o, err, sizeof err);
        ST_ASSERT_INT_EQ_FATAL(rc, 0);
        CU_ASSERT(tu_qemu_check(P(name), 0, out, sizeof out));
        make_mirror(P(mname), size, NULL);
        st_disk *d;
        ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P(name), ST_DISK_FMT_QCOW2, &d, err, sizeof err), 0);
        int m = open(P(mname), O_RDWR);
        random_writes(d, m, 42 + k, 300, 200000);
        CU_ASSERT(same_as_mirror(d, P(mname)));
        ST_ASSERT_INT_EQ(st_disk_flush(d), 0);
        random_writes(d, m, 4242 + k, 100, 70000);
        close(m);
        st_disk_close(d);
        int clean = tu_qemu_check(P(name), 0, out, sizeof out);
        if (!clean)
            fprintf(stderr, "cluster %u v%d refcount %d:\n%s\n", kinds[k].cs, kinds[k].ver,
                    kinds[k].rbits, out);
        CU_ASSERT(clean);
        rc = st_run(out, sizeof out, "qemu-img compare -f qcow2 -F raw '%s' '%s'", P(name),
                    P(mname));
        if (rc)
            fprintf(stderr, "%s\n", out);
        ST_ASSERT_INT_EQ(rc, 0);
    }
}

static void test_overlay_on_raw_base(void)
{
    char err[256];
    uint64_t size = 32ull << 20;
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("base.raw"), size, 7), 0);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("ov.qcow2"), 0, "base.raw", "raw"), 0);
    ST_ASSERT_INT_EQ(st_run(out, sizeof out,
                            "qemu-img info '%s' | grep -c 'backing file: base.raw'", P("ov.qcow2")),
                     0);
    CU_ASSERT(tu_qemu_check(P("ov.qcow2"), 0, out, sizeof out));
    make_mirror(P("ov.mirror"), size, P("base.raw"));
    st_disk *d;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("ov.qcow2"), 0, &d, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st_disk_size(d), size);
    st_disk_info info;
    st_disk_get_info(d, &info);
    ST_ASSERT_INT_EQ(info.chain_depth, 2);
    ST_ASSERT_STR_EQ(info.backing_fmt, "raw");
    CU_ASSERT(same_as_mirror(d, P("base.raw")));
    int m = open(P("ov.mirror"), O_RDWR);
    random_writes(d, m, 99, 400, 100000);
    close(m);
    CU_ASSERT(same_as_mirror(d, P("ov.mirror")));
    st_disk_close(d);
    CU_ASSERT(tu_qemu_check(P("ov.qcow2"), 0, out, sizeof out));
    int rc =
        st_run(out, sizeof out, "qemu-img compare '%s' -F raw '%s'", P("ov.qcow2"), P("ov.mirror"));
    if (rc)
        fprintf(stderr, "%s\n", out);
    ST_ASSERT_INT_EQ(rc, 0);
    /* qemu-img reads through our overlay too: convert it and compare bytes. */
    ST_ASSERT_INT_EQ(st_run(out, sizeof out, "qemu-img convert -O raw '%s' '%s' && cmp '%s' '%s'",
                            P("ov.qcow2"), P("ov.flat"), P("ov.flat"), P("ov.mirror")),
                     0);
}

/* raw base <- our qcow2 <- our qcow2: every level written, qemu-img reads the chain. */
static void test_three_level_chain(void)
{
    char err[256];
    uint64_t size = 16ull << 20;
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("c3-base.raw"), size, 41), 0);
    make_mirror(P("c3.mirror"), size, P("c3-base.raw"));
    int m = open(P("c3.mirror"), O_RDWR);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("c3-mid.qcow2"), 0, "c3-base.raw", "raw"), 0);
    st_disk *d;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("c3-mid.qcow2"), 0, &d, err, sizeof err), 0);
    random_writes(d, m, 42, 100, 100000);
    st_disk_close(d);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("c3-top.qcow2"), 0, "c3-mid.qcow2", "qcow2"), 0);
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("c3-top.qcow2"), 0, &d, err, sizeof err), 0);
    st_disk_info info;
    st_disk_get_info(d, &info);
    ST_ASSERT_INT_EQ(info.chain_depth, 3);
    random_writes(d, m, 43, 100, 100000);
    ST_ASSERT_INT_EQ(st_disk_discard(d, 4 << 20, 1 << 20), 0);
    ST_ASSERT_INT_EQ(fallocate(m, FALLOC_FL_ZERO_RANGE, 4 << 20, 1 << 20), 0);
    close(m);
    CU_ASSERT(same_as_mirror(d, P("c3.mirror")));
    st_disk_close(d);
    CU_ASSERT(tu_qemu_check(P("c3-mid.qcow2"), 0, out, sizeof out));
    CU_ASSERT(tu_qemu_check(P("c3-top.qcow2"), 0, out, sizeof out));
    int rc = st_run(out, sizeof out, "qemu-img compare '%s' -F raw '%s'", P("c3-top.qcow2"),
                    P("c3.mirror"));
    if (rc)
        fprintf(stderr, "%s\n", out);
    ST_ASSERT_INT_EQ(rc, 0);
}

static void test_read_qemu_images(void)
{
    char err[256];
    uint64_t size = 24ull << 20;
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("q.raw"), size, 11), 0);
    /* Punch some zeros in so qemu leaves clusters unallocated. */
    ST_ASSERT_INT_EQ(st_run(out, sizeof out,
                            "dd if=/dev/zero of='%s' bs=1M seek=3 count=5 conv=notrunc",
                            P("q.raw")),
                     0);
    static const char *const variants[] = {
        "-O qcow2",
        "-O qcow2 -c",
        "-O qcow2 -o compat=0.10",
        "-O qcow2 -o cluster_size=512",
        "-O qcow2 -o cluster_size=2M,refcount_bits=64",
        "-O qcow2 -c -o cluster_size=4096",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "q%zu.qcow2", i);
        ST_ASSERT_INT_EQ_FATAL(st_run(out, sizeof out, "qemu-img convert -f raw %s '%s' '%s'",
                                      variants[i], P("q.raw"), P(name)),
                               0);
        st_disk *d;
        int rc = st_disk_open_ex(P(name), ST_DISK_RDONLY, &d, err, sizeof err);
        if (rc)
            fprintf(stderr, "%s: %s\n", variants[i], err);
        ST_ASSERT_INT_EQ_FATAL(rc, 0);
        ST_ASSERT_INT_EQ(st_disk_size(d), size);
        CU_ASSERT(same_as_mirror(d, P("q.raw")));
        ST_ASSERT_INT_EQ(st_disk_check_tables(d, err, sizeof err), 0);
        st_disk_close(d);
    }
    /* A qemu-made overlay over a qemu-made qcow2 base. */
    ST_ASSERT_INT_EQ_FATAL(st_run(out, sizeof out,
                                  "qemu-img create -f qcow2 -b q0.qcow2 -F qcow2 '%s'",
                                  P("qov.qcow2")),
                           0);
    st_disk *d;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("qov.qcow2"), 0, &d, err, sizeof err), 0);
    CU_ASSERT(same_as_mirror(d, P("q.raw")));
    make_mirror(P("qov.mirror"), size, P("q.raw"));
    int m = open(P("qov.mirror"), O_RDWR);
    random_writes(d, m, 5, 200, 150000);
    close(m);
    st_disk_close(d);
    CU_ASSERT(tu_qemu_check(P("qov.qcow2"), 0, out, sizeof out));
    ST_ASSERT_INT_EQ(st_run(out, sizeof out, "qemu-img compare '%s' -F raw '%s'", P("qov.qcow2"),
                            P("qov.mirror")),
                     0);
}

static void test_write_qemu_images(void)
{
    /* Writes into qemu-made images of every shape, including compressed
     * clusters (copied on write) and tiny clusters (refcount table growth). */
    char err[256];
    static const char *const variants[] = {
        "-O qcow2 -c",
        "-O qcow2 -o compat=0.10",
        "-O qcow2 -o cluster_size=512,refcount_bits=64",
        "-O qcow2 -o cluster_size=512,refcount_bits=1",
    };
    uint64_t size = 16ull << 20;
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("w.raw"), size, 21), 0);
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char name[32], mname[32];
        snprintf(name, sizeof name, "w%zu.qcow2", i);
        snprintf(mname, sizeof mname, "w%zu.mirror", i);
        ST_ASSERT_INT_EQ_FATAL(st_run(out, sizeof out, "qemu-img convert -f raw %s '%s' '%s'",
                                      variants[i], P("w.raw"), P(name)),
                               0);
        make_mirror(P(mname), size, P("w.raw"));
        st_disk *d;
        ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P(name), 0, &d, err, sizeof err), 0);
        int m = open(P(mname), O_RDWR);
        random_writes(d, m, 77 + i, 300, 100000);
        ST_ASSERT_INT_EQ(st_disk_discard(d, 1 << 20, 3 << 20), 0);
        close(m);
        st_disk_close(d);
        int clean = tu_qemu_check(P(name), 0, out, sizeof out);
        if (!clean)
            fprintf(stderr, "%s:\n%s\n", variants[i], out);
        CU_ASSERT(clean);
        /* The discarded MiBs are unspecified: compare the rest. */
        ST_ASSERT_INT_EQ(
            st_run(out, sizeof out,
                   "qemu-img convert -O raw '%s' '%s.flat' && cmp -n 1048576 '%s.flat' '%s' && "
                   "cmp -i 4194304 '%s.flat' '%s'",
                   P(name), P(name), P(name), P(mname), P(name), P(mname)),
            0);
    }
}

static void test_discard_and_zeroes(void)
{
    char err[256];
    uint64_t size = 16ull << 20;
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("zb.raw"), size, 3), 0);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("z.qcow2"), 0, "zb.raw", "raw"), 0);
    make_mirror(P("z.mirror"), size, P("zb.raw"));
    st_disk *d;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("z.qcow2"), 0, &d, err, sizeof err), 0);
    int m = open(P("z.mirror"), O_RDWR);
    random_writes(d, m, 8, 100, 300000);
    /* write_zeroes: an unaligned range, whole clusters in the middle. */
    uint64_t zoff = 1000000, zlen = 3000000;
    ST_ASSERT_INT_EQ(st_disk_write_zeroes(d, zoff, zlen), 0);
    ST_ASSERT_INT_EQ(fallocate(m, FALLOC_FL_ZERO_RANGE, (off_t)zoff, (off_t)zlen), 0);
    /* discard of whole clusters in a v3 overlay reads zeros, not the base. */
    ST_ASSERT_INT_EQ(st_disk_discard(d, 8 << 20, 2 << 20), 0);
    ST_ASSERT_INT_EQ(fallocate(m, FALLOC_FL_ZERO_RANGE, 8 << 20, 2 << 20), 0);
    CU_ASSERT(same_as_mirror(d, P("z.mirror")));
    close(m);
    st_disk_close(d);
    CU_ASSERT(tu_qemu_check(P("z.qcow2"), 0, out, sizeof out));
    ST_ASSERT_INT_EQ(
        st_run(out, sizeof out, "qemu-img compare '%s' -F raw '%s'", P("z.qcow2"), P("z.mirror")),
        0);
}

/* Block status: what an overlay holds above its base (data and zero clusters), what a raw
 * file holds against its holes; runs stop where the answer changes. */
static void test_block_status(void)
{
    char err[256];
    uint64_t size = 4ull << 20, n = 0;
    static uint8_t buf[4096];
    memset(buf, 1, sizeof buf);
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("bs.raw"), size, 5), 0);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("bs.qcow2"), 0, "bs.raw", "raw"), 0);
    st_disk *d;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("bs.qcow2"), 0, &d, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st_disk_block_status(d, 0, size, &n), 0); /* fresh: all the base's */
    ST_ASSERT_INT_EQ(n, size);
    ST_ASSERT_INT_EQ(st_disk_pwrite(d, buf, 512, (1 << 20) + 100 * 512), 512);
    ST_ASSERT_INT_EQ(st_disk_write_zeroes(d, 2 << 20, 128 << 10), 0);
    ST_ASSERT_INT_EQ(st_disk_block_status(d, 0, size, &n), 0);
    ST_ASSERT_INT_EQ(n, 1 << 20);
    ST_ASSERT_INT_EQ(st_disk_block_status(d, 1 << 20, size - (1 << 20), &n), 1);
    ST_ASSERT_INT_EQ(n, 64 << 10); /* one cluster */
    ST_ASSERT_INT_EQ(st_disk_block_status(d, (1 << 20) + 4096, 100, &n), 1);
    ST_ASSERT_INT_EQ(n, 100); /* never beyond len */
    ST_ASSERT_INT_EQ(st_disk_block_status(d, 2 << 20, size - (2 << 20), &n), 1);
    ST_ASSERT_INT_EQ(n, 128 << 10); /* the zero clusters hide the base */
    ST_ASSERT_INT_EQ(st_disk_block_status(d, size - 512, 1024, &n), -EINVAL);
    st_disk_close(d);
    /* Raw: a sparse file with one data block. */
    int fd = open(P("bs2.raw"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
    CU_ASSERT_FATAL(pwrite(fd, buf, sizeof buf, 3 << 20) == (ssize_t)sizeof buf);
    close(fd);
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("bs2.raw"), ST_DISK_FMT_RAW, &d, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st_disk_block_status(d, 0, size, &n), 0);
    ST_ASSERT_INT_EQ(n, 3 << 20);
    ST_ASSERT_INT_EQ(st_disk_block_status(d, 3 << 20, 1 << 20, &n), 1);
    CU_ASSERT(n >= 4096 && n <= (1 << 20)); /* the file system's extent */
    st_disk_close(d);
}

static void test_convert_flattens(void)
{
    char err[256];
    uint64_t size = 20ull << 20;
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("cb.raw"), size, 13), 0);
    ST_ASSERT_INT_EQ(st_run(out, sizeof out,
                            "dd if=/dev/zero of='%s' bs=1M seek=10 count=6 conv=notrunc",
                            P("cb.raw")),
                     0);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("c.qcow2"), 0, "cb.raw", NULL), 0);
    make_mirror(P("c.mirror"), size, P("cb.raw"));
    st_disk *d;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P("c.qcow2"), 0, &d, err, sizeof err), 0);
    int m = open(P("c.mirror"), O_RDWR);
    random_writes(d, m, 31, 50, 200000);
    close(m);
    ST_ASSERT_INT_EQ(st_disk_convert(d, P("snap.qcow2"), ST_DISK_QCOW2, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st_disk_convert(d, P("snap.raw"), ST_DISK_RAW, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st_disk_convert(d, P("snap.raw"), ST_DISK_RAW, err, sizeof err), -EEXIST);
    st_disk_close(d);
    CU_ASSERT(tu_qemu_check(P("snap.qcow2"), 0, out, sizeof out));
    ST_ASSERT_INT_EQ(
        st_run(out, sizeof out, "qemu-img info '%s' | grep -c backing", P("snap.qcow2")), 1);
    ST_ASSERT_INT_EQ(st_run(out, sizeof out, "qemu-img compare -F raw '%s' '%s'", P("snap.qcow2"),
                            P("c.mirror")),
                     0);
    ST_ASSERT_INT_EQ(st_run(out, sizeof out, "cmp '%s' '%s'", P("snap.raw"), P("c.mirror")), 0);
    /* Zeros stayed holes: the flattened raw uses less than its size. */
    ST_ASSERT_INT_EQ(
        st_run(out, sizeof out, "test $(du -k '%s' | cut -f1) -lt 18000", P("snap.raw")), 0);
}

static void test_locking_and_ranges(void)
{
    char err[256];
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("l.qcow2"), 1 << 20, NULL, NULL), 0);
    ST_ASSERT_INT_EQ(st_qcow2_create(P("l.qcow2"), 1 << 20, NULL, NULL), -EEXIST);
    st_disk *a, *b;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open(P("l.qcow2"), 0, &a), 0);
    ST_ASSERT_INT_EQ(st_disk_open_ex(P("l.qcow2"), 0, &b, err, sizeof err), -EBUSY);
    ST_ASSERT_INT_EQ(st_disk_open(P("l.qcow2"), ST_DISK_RDONLY, &b), -EBUSY);
    ST_ASSERT_INT_EQ(st_disk_open(P("l.qcow2"), ST_DISK_NOLOCK, &b), -EINVAL);
    ST_ASSERT_INT_EQ_FATAL(st_disk_open(P("l.qcow2"), ST_DISK_RDONLY | ST_DISK_NOLOCK, &b), 0);
    st_disk_close(b); /* a paused VMM's disk can be copied */
    char buf[512] = {1};
    ST_ASSERT_INT_EQ(st_disk_pwrite(a, buf, 512, (1 << 20) - 256), -EINVAL);
    ST_ASSERT_INT_EQ(st_disk_pread(a, buf, 512, 1 << 20), -EINVAL);
    ST_ASSERT_INT_EQ(st_disk_pread(a, buf, 512, UINT64_MAX - 100), -EINVAL);
    ST_ASSERT_INT_EQ(st_disk_pwrite(a, buf, 512, (1 << 20) - 512), 512);
    st_disk_close(a);
    ST_ASSERT_INT_EQ_FATAL(st_disk_open(P("l.qcow2"), ST_DISK_RDONLY, &a), 0);
    ST_ASSERT_INT_EQ_FATAL(st_disk_open(P("l.qcow2"), ST_DISK_RDONLY, &b), 0);
    ST_ASSERT_INT_EQ(st_disk_pwrite(a, buf, 512, 0), -EROFS);
    st_disk_close(a);
    st_disk_close(b);
}

static void test_chains_refused(void)
{
    char err[256];
    /* An image that is its own backing file. */
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("loop-base.qcow2"), 1 << 20, NULL, NULL), 0);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("loop.qcow2"), 0, "loop-base.qcow2", "qcow2"), 0);
    ST_ASSERT_INT_EQ(st_run(out, sizeof out, "mv '%s' '%s'", P("loop.qcow2"), P("loop-base.qcow2")),
                     0);
    st_disk *d;
    int rc = st_disk_open_ex(P("loop-base.qcow2"), ST_DISK_RDONLY, &d, err, sizeof err);
    ST_ASSERT_INT_EQ(rc, -ELOOP);
    CU_ASSERT(strstr(err, "deeper than") != NULL);
    /* NO_BACKING refuses overlays; the format flags stop probing. */
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(P("nb.raw"), 1 << 20, 1), 0);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("nb.qcow2"), 0, "nb.raw", "raw"), 0);
    ST_ASSERT_INT_EQ(
        st_disk_open_ex(P("nb.qcow2"), ST_DISK_NO_BACKING | ST_DISK_RDONLY, &d, err, sizeof err),
        -EPERM);
    ST_ASSERT_INT_EQ_FATAL(st_disk_open(P("nb.qcow2"), ST_DISK_FMT_RAW | ST_DISK_RDONLY, &d), 0);
    st_disk_info info;
    st_disk_get_info(d, &info);
    ST_ASSERT_INT_EQ(info.format, ST_DISK_RAW);
    st_disk_close(d);
    ST_ASSERT_INT_EQ(st_disk_open(P("nb.raw"), ST_DISK_FMT_QCOW2 | ST_DISK_RDONLY, &d), -EINVAL);
}

/*
 * Fault injection: a child whose file size limit (RLIMIT_FSIZE) stops the
 * image growing writes until writes fail, flushes and closes. Every failure
 * must be a clean negative errno, and the image qemu-img checks afterwards
 * must be clean or leaking, with everything flushed before the wall intact.
 */
static void test_full_disk(void)
{
    char err[256];
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "full512.qcow2" : "full.qcow2";
        st_qcow2_create_opts o = {.size = 256ull << 20, .cluster_size = k ? 512 : 65536};
        ST_ASSERT_INT_EQ_FATAL(st_qcow2_create_ex(P(name), &o, err, sizeof err), 0);
        int pfd[2];
        ST_ASSERT_INT_EQ_FATAL(pipe(pfd), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {6 << 20, 6 << 20};
            setrlimit(RLIMIT_FSIZE, &rl);
            st_disk *d;
            if (st_disk_open_ex(P(name), 0, &d, err, sizeof err) < 0)
                _exit(2);
            static uint8_t buf[100000];
            uint64_t st = 1;
            int failed = 0;
            for (int i = 0; i < 400 && failed < 20; i++) {
                tu_fill(&st, buf, sizeof buf);
                ssize_t r = st_disk_pwrite(d, buf, sizeof buf, (uint64_t)i * 300000);
                if (r < 0) {
                    if (r != -EFBIG && r != -ENOSPC)
                        _exit(3);
                    failed++;
                } else if (i % 8 == 7 && st_disk_flush(d) == 0) {
                    uint32_t ok = (uint32_t)i; /* writes 0..i are durable */
                    if (write(pfd[1], &ok, sizeof ok) != sizeof ok)
                        _exit(2);
                }
            }
            st_disk_close(d);
            _exit(failed ? 0 : 4);
        }
        close(pfd[1]);
        uint32_t last = 0, v;
        int have = 0;
        while (read(pfd[0], &v, sizeof v) == sizeof v) {
            last = v;
            have = 1;
        }
        close(pfd[0]);
        int status;
        waitpid(pid, &status, 0);
        ST_ASSERT_INT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
        int ok = tu_qemu_check(P(name), 1, out, sizeof out);
        if (!ok)
            fprintf(stderr, "%s\n", out);
        CU_ASSERT(ok);
        CU_ASSERT(have);
        st_disk *d;
        ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(P(name), ST_DISK_RDONLY, &d, err, sizeof err), 0);
        static uint8_t want[100000], got[100000];
        uint64_t st = 1;
        for (uint32_t i = 0; have && i <= last; i++) {
            tu_fill(&st, want, sizeof want);
            CU_ASSERT(st_disk_pread(d, got, sizeof got, (uint64_t)i * 300000) ==
                      (ssize_t)sizeof got);
            if (memcmp(want, got, sizeof got) != 0) {
                fprintf(stderr, "%s: flushed write %u reads back wrong\n", name, i);
                CU_FAIL("flushed data lost after a full disk");
                break;
            }
        }
        st_disk_close(d);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* Each hostile or unsupported header is refused with a message naming why. */
static void test_hostile_headers(void)
{
    char err[256];
    /* A valid v3 image: header, refcount table at 64K, block at 128K, L1 at 192K. */
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("hdr.qcow2"), 1ull << 30, NULL, NULL), 0);
    static uint8_t good[65536], h[65536];
    int fd = open(P("hdr.qcow2"), O_RDONLY);
    off_t fsize = lseek(fd, 0, SEEK_END);
    ST_ASSERT_INT_EQ_FATAL(pread(fd, good, sizeof good, 0), (long long)sizeof good);
    close(fd);
    ST_ASSERT_INT_EQ(st_qcow2_validate_header(good, sizeof good, (uint64_t)fsize, err, sizeof err),
                     0);
    enum { U32, U64, BYTES };
    static const struct {
        const char *what;
        int kind;
        int off;
        uint64_t v;
        const char *bytes;
        size_t blen;
        const char *want;
    } cases[] = {
        {"magic", U32, 0, 0x514649fa, NULL, 0, "bad magic"},
        {"version 1", U32, 4, 1, NULL, 0, "version 1"},
        {"version 4", U32, 4, 4, NULL, 0, "version 4"},
        {"512-byte clusters minus one", U32, 20, 8, NULL, 0, "cluster size"},
        {"4 MiB clusters", U32, 20, 22, NULL, 0, "cluster size"},
        {"AES", U32, 32, 1, NULL, 0, "encrypted"},
        {"LUKS", U32, 32, 2, NULL, 0, "encrypted"},
        {"L1 too small", U32, 36, 1, NULL, 0, "too small"},
        {"L1 past the file", U64, 40, 1ull << 40, NULL, 0, "outside the file"},
        {"L1 misaligned", U64, 40, 196608 + 512, NULL, 0, "is invalid"},
        {"L1 on the header", U64, 40, 0, NULL, 0, "is invalid"},
        {"refcount table on the header", U64, 48, 0, NULL, 0, "is invalid"},
        {"refcount table on the L1", U64, 48, 196608, NULL, 0, "overlap"},
        {"refcount table of 0 clusters", U32, 56, 0, NULL, 0, "refcount table"},
        {"refcount table of 16 MiB", U32, 56, 256, NULL, 0, "refcount table"},
        {"a million snapshots", U32, 60, 1000000, NULL, 0, "snapshots"},
        {"dirty", U64, 72, 1, NULL, 0, "dirty"},
        {"corrupt", U64, 72, 2, NULL, 0, "corrupt"},
        {"external data file", U64, 72, 4, NULL, 0, "external data file"},
        {"zstd", U64, 72, 8, NULL, 0, "compression type"},
        {"extended L2", U64, 72, 16, NULL, 0, "extended L2"},
        {"unknown feature 40", U64, 72, 1ull << 40, NULL, 0, "bit 40"},
        {"refcount order 7", U32, 96, 7, NULL, 0, "refcount width"},
        {"header length 100", U32, 100, 100, NULL, 0, "header length"},
        {"header length 108", U32, 100, 108, NULL, 0, "header length"},
        {"header longer than a cluster", U32, 100, 65544, NULL, 0, "header length"},
        {"crypto extension", BYTES, 104, 0, "\x05\x37\xbe\x77\0\0\0\x10", 8, "encrypted"},
        {"data file extension", BYTES, 104, 0, "\x44\x41\x54\x41\0\0\0\x04/etc", 12,
         "external data file"},
        {"extension past the cluster", BYTES, 104, 0, "\x12\x34\x56\x78\x00\x01\x00\x00", 8,
         "runs past"},
        {"backing name too long", BYTES, 8, 0, "\0\0\0\0\0\0\x01\0\0\0\x04\0", 12, "backing"},
        {"backing name past the cluster", BYTES, 8, 0, "\0\0\0\0\0\0\xff\xf0\0\0\0\x20", 12,
         "backing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(h, good, sizeof h);
        if (cases[i].kind == U32)
            put32(h + cases[i].off, (uint32_t)cases[i].v);
        else if (cases[i].kind == U64)
            put64(h + cases[i].off, cases[i].v);
        else
            memcpy(h + cases[i].off, cases[i].bytes, cases[i].blen);
        err[0] = 0;
        int rc = st_qcow2_validate_header(h, sizeof h, (uint64_t)fsize, err, sizeof err);
        if (rc != -EINVAL || !strstr(err, cases[i].want))
            fprintf(stderr, "%s: rc %d, '%s' (want '%s')\n", cases[i].what, rc, err, cases[i].want);
        CU_ASSERT(rc == -EINVAL && strstr(err, cases[i].want) != NULL);
    }
    /* Too little data, and a file shorter than the header says. */
    ST_ASSERT_INT_EQ(st_qcow2_validate_header(good, 50, (uint64_t)fsize, err, sizeof err), -EINVAL);
    ST_ASSERT_INT_EQ(st_qcow2_validate_header(good, sizeof good, 70000, err, sizeof err), -EINVAL);
    /* A valid overlay opens as a disk but is refused as an upload. */
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(P("hdr-ov.qcow2"), 0, "hdr.qcow2", "qcow2"), 0);
    fd = open(P("hdr-ov.qcow2"), O_RDONLY);
    fsize = lseek(fd, 0, SEEK_END);
    ST_ASSERT_INT_EQ_FATAL(pread(fd, h, sizeof h, 0), (long long)sizeof h);
    close(fd);
    ST_ASSERT_INT_EQ(st_qcow2_validate_header(h, sizeof h, (uint64_t)fsize, err, sizeof err),
                     -EINVAL);
    CU_ASSERT(strstr(err, "backing file") != NULL);
    /* The library refuses the same things on open, with the path in the message. */
    memcpy(h, good, sizeof h);
    put32(h + 32, 2);
    fd = open(P("hdr-luks.qcow2"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT(pwrite(fd, h, sizeof h, 0) == (ssize_t)sizeof h);
    CU_ASSERT(ftruncate(fd, fsize) == 0);
    close(fd);
    st_disk *d;
    ST_ASSERT_INT_EQ(st_disk_open_ex(P("hdr-luks.qcow2"), ST_DISK_RDONLY, &d, err, sizeof err),
                     -EINVAL);
    CU_ASSERT(strstr(err, "hdr-luks.qcow2") && strstr(err, "encrypted"));
}

static CU_TestInfo tests[] = {
    {"random writes to new images of every shape equal a raw mirror (qemu-img check, compare)",
     test_new_image_roundtrip},
    {"an overlay on a raw base reads through and qemu-img agrees", test_overlay_on_raw_base},
    {"a three-level chain written at every level equals its mirror for qemu-img",
     test_three_level_chain},
    {"qemu-img-made images (compressed, v2, tiny clusters, overlays) read right",
     test_read_qemu_images},
    {"writes into qemu-img-made images keep qemu-img check clean", test_write_qemu_images},
    {"discard and write_zeroes read as zeros and stay clean", test_discard_and_zeroes},
    {"block status: an overlay's clusters above its base, a raw file's data", test_block_status},
    {"convert flattens an overlay and its base into standalone qcow2 and raw",
     test_convert_flattens},
    {"one writer per image; ranges outside the disk are EINVAL", test_locking_and_ranges},
    {"loops, unwanted backing files and wrong formats are refused", test_chains_refused},
    {"hostile and unsupported qcow2 headers are refused with the reason", test_hostile_headers},
    {"a full disk (RLIMIT_FSIZE) fails writes cleanly; the image stays consistent", test_full_disk},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"disk", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
