/*
 * Crash safety of qcow2 writes: a child process writes, discards and flushes
 * an overlay in rounds and is killed with SIGKILL at a random moment, many
 * times. After every kill, qemu-img check must call the image clean or
 * leaking (never corrupt), the library must open it again, and every round
 * the child reported as flushed must read back exactly.
 *
 * Each round works in its own slice of the disk and writes each cell of the
 * slice at most once, so what a flushed round wrote is known exactly
 * whatever the killed round managed. Odd cells are written then discarded
 * (exercising the deferred frees); even cells hold the data checked.
 * Configurations: 64 KiB clusters on a 64 GiB disk (scattered writes that
 * push L2 tables out of the cache mid-stream), 512-byte clusters with 64-bit
 * refcounts (refcount blocks and refcount table growth), and an overlay
 * kept across kills (writing on top of earlier crashes' leaks).
 */
#include "disk_util.h"
#include "st_proc.h"
#include "st_test.h"
#include "stratus/disk.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLICES 64
#define CELLS 32 /* cells written per round */

static char *dir;
static char out[16384];

typedef struct cfg {
    const char *name;
    uint64_t size;
    uint32_t cluster;
    int rbits;
    int keep; /* reuse the image across kills */
} cfg;

static uint64_t cell_size(const cfg *c)
{
    return c->size / SLICES / (2 * CELLS);
}

/* The write of cell k of round r (seeded by run seed s): offset and length. */
static void cell_write(const cfg *c, uint64_t s, int r, int k, uint64_t *off, size_t *len,
                       uint64_t *seed)
{
    uint64_t cs = cell_size(c), st = s * 1000003 + (uint64_t)r * 131 + (uint64_t)k;
    uint64_t maxlen = cs < 150000 ? cs : 150000;
    *len = 1 + (size_t)(tu_rand(&st) % maxlen);
    uint64_t slack = cs - *len;
    uint64_t base = (uint64_t)r * (c->size / SLICES) + (uint64_t)k * cs;
    *off = base + (slack ? tu_rand(&st) % slack : 0);
    *seed = tu_rand(&st);
}

static void child(const cfg *c, const char *path, uint64_t s, int fd)
{
    st_disk *d;
    char err[256];
    if (st_disk_open_ex(path, 0, &d, err, sizeof err) < 0) {
        fprintf(stderr, "child open: %s\n", err);
        _exit(2);
    }
    uint8_t *buf = malloc(150000);
    if (write(fd, "R", 1) != 1)
        _exit(2);
    for (int r = 0; r < SLICES; r++) {
        for (int k = 0; k < 2 * CELLS; k++) {
            uint64_t off, seed;
            size_t len;
            cell_write(c, s, r, k, &off, &len, &seed);
            tu_fill(&seed, buf, len);
            if (st_disk_pwrite(d, buf, len, off) != (ssize_t)len) {
                fprintf(stderr, "child write: %s\n", st_disk_error(d));
                _exit(3);
            }
            if (k % 2 && st_disk_discard(d, off, len) < 0) {
                fprintf(stderr, "child discard: %s\n", st_disk_error(d));
                _exit(3);
            }
        }
        if (st_disk_flush(d) < 0)
            _exit(4);
        uint8_t rr = (uint8_t)r;
        if (write(fd, &rr, 1) != 1)
            _exit(2);
    }
    st_disk_close(d);
    _exit(0);
}

static int verify(const cfg *c, const char *path, uint64_t s, int acked)
{
    st_disk *d;
    char err[256];
    if (st_disk_open_ex(path, ST_DISK_RDONLY, &d, err, sizeof err) < 0) {
        fprintf(stderr, "reopen after kill: %s\n", err);
        return 0;
    }
    uint8_t *want = malloc(150000), *got = malloc(150000);
    int ok = 1;
    for (int r = 0; r <= acked && ok; r++) {
        for (int k = 0; k < 2 * CELLS && ok; k += 2) {
            uint64_t off, seed;
            size_t len;
            cell_write(c, s, r, k, &off, &len, &seed);
            tu_fill(&seed, want, len);
            if (st_disk_pread(d, got, len, off) != (ssize_t)len || memcmp(want, got, len)) {
                fprintf(stderr, "round %d cell %d (flushed) reads wrong\n", r, k);
                ok = 0;
            }
        }
    }
    free(want);
    free(got);
    st_disk_close(d);
    return ok;
}

static void run_cfg(const cfg *c, int iterations)
{
    char path[512], base[512];
    snprintf(base, sizeof base, "%s/%s-base.raw", dir, c->name);
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(base, 4 << 20, 5), 0);
    uint64_t rs = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    int kills_mid_round = 0, acked_sum = 0;
    for (int it = 0; it < iterations; it++) {
        snprintf(path, sizeof path, "%s/%s-%d.qcow2", dir, c->name, c->keep ? 0 : it);
        if (!c->keep || it == 0) {
            st_qcow2_create_opts o = {.size = c->size,
                                      .backing_file = base,
                                      .backing_fmt = "raw",
                                      .cluster_size = c->cluster,
                                      .refcount_bits = c->rbits};
            char err[256];
            ST_ASSERT_INT_EQ_FATAL(st_qcow2_create_ex(path, &o, err, sizeof err), 0);
        }
        uint64_t s = tu_rand(&rs);
        int p[2];
        ST_ASSERT_INT_EQ_FATAL(pipe(p), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child(c, path, s, p[1]);
        }
        close(p[1]);
        char ready;
        ST_ASSERT_INT_EQ_FATAL(read(p[0], &ready, 1), 1);
        usleep((useconds_t)(tu_rand(&rs) % 60000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        int acked = -1;
        uint8_t b;
        while (read(p[0], &b, 1) == 1)
            acked = b;
        close(p[0]);
        if (WIFEXITED(status)) {
            fprintf(stderr, "child exited %d before the kill\n", WEXITSTATUS(status));
            CU_FAIL("writer failed on its own");
            continue;
        }
        if (acked < SLICES - 1)
            kills_mid_round++;
        acked_sum += acked + 1;
        int clean = tu_qemu_check(path, 1, out, sizeof out);
        if (!clean)
            fprintf(stderr, "%s iteration %d (acked round %d):\n%s\n", c->name, it, acked, out);
        CU_ASSERT(clean);
        if (!c->keep)
            CU_ASSERT(verify(c, path, s, acked));
        if (!clean)
            return;
        if (!c->keep)
            unlink(path);
    }
    fprintf(stderr, "%s: %d of %d kills landed mid-stream, after %.1f flushed rounds on average\n",
            c->name, kills_mid_round, iterations, (double)acked_sum / iterations);
    CU_ASSERT(kills_mid_round > iterations / 2); /* the kills really hit the writer */
}

static int suite_init(void)
{
    dir = st_tmpdir("images-crash");
    return dir ? 0 : -1;
}

static int suite_clean(void)
{
    st_rmtree(dir);
    free(dir);
    return 0;
}

static void test_kill_64k_large_disk(void)
{
    cfg c = {"big", 64ull << 30, 65536, 16, 0};
    run_cfg(&c, 20);
}

static void test_kill_tiny_clusters(void)
{
    cfg c = {"tiny", 64ull << 20, 512, 64, 0};
    run_cfg(&c, 20);
}

static void test_kill_same_image(void)
{
    cfg c = {"kept", 8ull << 30, 65536, 16, 1};
    run_cfg(&c, 15);
}

static CU_TestInfo tests[] = {
    {"SIGKILL mid-write, 64 KiB clusters, 64 GiB disk: check clean, flushed data intact",
     test_kill_64k_large_disk},
    {"SIGKILL mid-write, 512-byte clusters, 64-bit refcounts: check clean, flushed data intact",
     test_kill_tiny_clusters},
    {"SIGKILL again and again on one image: check never worse than leaks", test_kill_same_image},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"crash", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
