/*
 * vmm_disk_track - what block migration (mirror.c) asks of the VMM's disk back end (disk.c),
 * without KVM: while a bitmap is set, writes and discards mark the 64 KiB pieces they touch
 * (a write across a boundary marks both, the bits of other pieces stay clear) and nothing is
 * marked once it is cleared; block status of a sparse raw file (a hole, then data) and of a
 * qcow2 overlay (the base's until written, then the written cluster); the format and the
 * backing file's name without its directory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "disk.h"
#include "harness.h"
#include "st_test.h"

static char g_dir[] = "/tmp/vmm_disk_track.XXXXXX";

static int grain_set(const uint64_t *bm, uint64_t g)
{
    return (int)(bm[g / 64] >> (g % 64) & 1);
}

static int write_at(vmm_disk *d, uint64_t off, size_t len)
{
    static uint8_t buf[8192];
    memset(buf, 0x5a, sizeof buf);
    struct iovec iov = {buf, len};
    return vmm_disk_writev(d, &iov, 1, off);
}

static void test_raw(void)
{
    const char *path = vt_path(g_dir, "r.raw");
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
    close(fd);
    vmm_disk_cfg cfg = {.id = "disk0", .path = (char *)path};
    vmm_disk *d = NULL;
    ST_ASSERT_INT_EQ_FATAL(vmm_disk_open(&cfg, &d), 0);
    char backing[256] = "x";
    ST_ASSERT_INT_EQ(vmm_disk_format(d, backing, sizeof backing), 1);
    ST_ASSERT_STR_EQ(backing, "");
    uint64_t n = 0, bm[1] = {0};
    ST_ASSERT_INT_EQ(vmm_disk_block_status(d, 0, 1 << 20, &n), 0); /* all a hole */
    ST_ASSERT_INT_EQ(n, 1 << 20);
    /* untracked: nothing marked */
    ST_ASSERT_INT_EQ(write_at(d, 256 << 10, 4096), 0);
    vmm_disk_track(d, bm);
    ST_ASSERT_INT_EQ(write_at(d, 3 * VMM_DISK_GRAIN + 512, 512), 0);
    ST_ASSERT_INT_EQ(write_at(d, VMM_DISK_GRAIN - 512, 1024), 0); /* across pieces 0 and 1 */
    ST_ASSERT_INT_EQ(vmm_disk_discard(d, 8 * VMM_DISK_GRAIN, 2 * VMM_DISK_GRAIN), 0);
    CU_ASSERT(grain_set(bm, 0) && grain_set(bm, 1) && grain_set(bm, 3) && grain_set(bm, 8) &&
              grain_set(bm, 9));
    ST_ASSERT_INT_EQ(__builtin_popcountll(bm[0]), 5); /* piece 4 (the untracked write): clear */
    vmm_disk_track(d, NULL);
    ST_ASSERT_INT_EQ(write_at(d, 12 * VMM_DISK_GRAIN, 512), 0);
    ST_ASSERT_INT_EQ(__builtin_popcountll(bm[0]), 5);
    /* block status: the hole up to the first data (at 64 KiB - 512, in file system blocks),
     * then data */
    ST_ASSERT_INT_EQ(vmm_disk_block_status(d, 0, 1 << 20, &n), 0);
    CU_ASSERT(n > 0 && n <= VMM_DISK_GRAIN - 512);
    uint64_t at = n;
    ST_ASSERT_INT_EQ(vmm_disk_block_status(d, at, (1 << 20) - at, &n), 1);
    CU_ASSERT(n >= VMM_DISK_GRAIN + 512 - at); /* to the write's end at least */
    vmm_disk_close(d);
}

static void test_qcow2_overlay(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "cd %s && qemu-img create -q -f raw base.raw 1M && "
             "qemu-img create -q -f qcow2 -b %s/base.raw -F raw ov.qcow2",
             g_dir, g_dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
    vmm_disk_cfg cfg = {.id = "disk0", .path = (char *)vt_path(g_dir, "ov.qcow2"), .qcow2 = 1};
    vmm_disk *d = NULL;
    ST_ASSERT_INT_EQ_FATAL(vmm_disk_open(&cfg, &d), 0);
    char backing[256];
    ST_ASSERT_INT_EQ(vmm_disk_format(d, backing, sizeof backing), 2);
    ST_ASSERT_STR_EQ(backing, "base.raw");
    uint64_t n = 0, bm[1] = {0};
    ST_ASSERT_INT_EQ(vmm_disk_block_status(d, 0, 1 << 20, &n), 0); /* fresh: the base's */
    ST_ASSERT_INT_EQ(n, 1 << 20);
    vmm_disk_track(d, bm);
    ST_ASSERT_INT_EQ(write_at(d, 5 * VMM_DISK_GRAIN + 4096, 512), 0);
    ST_ASSERT_INT_EQ(bm[0], 1ull << 5);
    ST_ASSERT_INT_EQ(vmm_disk_block_status(d, 0, 1 << 20, &n), 0);
    ST_ASSERT_INT_EQ(n, 5 * VMM_DISK_GRAIN);
    ST_ASSERT_INT_EQ(vmm_disk_block_status(d, 5 * VMM_DISK_GRAIN, 1 << 19, &n), 1);
    ST_ASSERT_INT_EQ(n, VMM_DISK_GRAIN); /* one cluster */
    vmm_disk_track(d, NULL);
    vmm_disk_close(d);
}

static int setup(void)
{
    return mkdtemp(g_dir) ? 0 : -1;
}

static CU_TestInfo tests[] = {
    {"raw: writes and discards mark their pieces while tracked; holes and data", test_raw},
    {"qcow2 overlay: the base's until written, the backing file's name", test_qcow2_overlay},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"disk_track", setup, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
