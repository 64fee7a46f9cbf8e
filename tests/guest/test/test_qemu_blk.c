/*
 * vmm_guest_qemu_blk - the guest's virtio-blk driver against QEMU on a raw
 * file: the pattern it writes is on the file afterwards (checked from the
 * host), survives into a second boot, a read-only disk refuses writes with
 * VIRTIO_BLK_S_IOERR, and the guest notices wrong data and bad ranges.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest_test.h"
#include "st_test.h"

static char g_disk[512], g_drive[700], g_drive_ro[700];
static const char *g_dev[] = {"-drive", g_drive, "-device",
                              "virtio-blk-pci,drive=d0,disable-legacy=on", NULL};
static const char *g_dev_ro[] = {"-drive", g_drive_ro, "-device",
                                 "virtio-blk-pci,drive=d0,disable-legacy=on", NULL};

static int suite_init(void)
{
    snprintf(g_disk, sizeof g_disk, "%s/disk.raw", gt_dir());
    snprintf(g_drive, sizeof g_drive, "file=%s,format=raw,if=none,id=d0", g_disk);
    snprintf(g_drive_ro, sizeof g_drive_ro, "file=%s,format=raw,if=none,id=d0,readonly=on", g_disk);
    return 0;
}

/* The byte at sector s, offset 0 of the file. */
static int byte_at(unsigned long long s)
{
    unsigned char c = 0;
    int fd = open(g_disk, O_RDONLY);
    if (fd < 0 || pread(fd, &c, 1, (off_t)(s * 512)) != 1)
        c = 0;
    if (fd >= 0)
        close(fd);
    return c;
}

static void test_written_pattern_is_on_the_file(void)
{
    guest_result r;
    char sum[32], err[128], want[32];
    unsigned long long cap = 0;
    uint32_t host_sum = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_make_raw(g_disk, 1 << 20, 0xEE), 0);
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu(&r, "scenario=blk blk.start=8 blk.count=100 blk.seed=5", g_dev, 30000, GUEST_PASS),
        GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "blk.capacity", &cap), 0);
    ST_ASSERT_INT_EQ(cap, 2048);
    ST_ASSERT_INT_EQ(guest_data(&r, "blk.flush", sum, sizeof sum), 0);
    ST_ASSERT_STR_EQ(sum, "ok");
    /* The host reads the file QEMU wrote: the pattern, its checksum, and
     * untouched neighbours. */
    ST_ASSERT_INT_EQ(guest_blk_check_raw(g_disk, 8, 100, 5, &host_sum, err, sizeof err), 0);
    snprintf(want, sizeof want, "0x%08x", host_sum);
    ST_ASSERT_INT_EQ(guest_data(&r, "blk.checksum", sum, sizeof sum), 0);
    ST_ASSERT_STR_EQ(sum, want);
    ST_ASSERT_INT_EQ(byte_at(7), 0xEE);
    ST_ASSERT_INT_EQ(byte_at(108), 0xEE);
    guest_result_free(&r);

    /* A second boot reads it back without writing (blk.check=1). */
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r,
                                   "scenario=blk blk.check=1 blk.start=8 blk.count=100 blk.seed=5",
                                   g_dev, 30000, GUEST_PASS),
                           GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data(&r, "blk.checksum", sum, sizeof sum), 0);
    ST_ASSERT_STR_EQ(sum, want);
    guest_result_free(&r);
}

static void test_check_notices_foreign_data(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ_FATAL(gt_make_raw(g_disk, 1 << 20, 0xEE), 0);
    ST_ASSERT_INT_EQ(
        gt_qemu(&r, "scenario=blk blk.check=1 blk.start=3 blk.count=2", g_dev, 30000, GUEST_FAIL),
        GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "sector 3 does not hold the pattern");
    guest_result_free(&r);
}

static void test_read_only_disk_refuses_writes(void)
{
    guest_result r;
    unsigned long long st = 99, ro = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_make_raw(g_disk, 1 << 20, 0xEE), 0);
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=blk blk.ro=1 blk.start=4", g_dev_ro, 30000, GUEST_PASS),
                     GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "blk.write_status", &st), 0);
    ST_ASSERT_INT_EQ(st, 1); /* VIRTIO_BLK_S_IOERR */
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "blk.ro_feature", &ro), 0);
    ST_ASSERT_INT_EQ(ro, 1);
    ST_ASSERT_INT_EQ(byte_at(4), 0xEE);
    guest_result_free(&r);

    /* The same write in the normal scenario is a failure the guest reports. */
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=blk blk.start=4", g_dev_ro, 30000, GUEST_FAIL),
                     GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "write of sectors 4+8: status 1");
    guest_result_free(&r);

    /* And blk.ro=1 on a writable disk fails: the write went through. */
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=blk blk.ro=1 blk.start=4", g_dev, 30000, GUEST_FAIL),
                     GUEST_FAIL);
    guest_result_free(&r);
}

static void test_range_beyond_capacity_fails(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ_FATAL(gt_make_raw(g_disk, 1 << 20, 0), 0);
    ST_ASSERT_INT_EQ(
        gt_qemu(&r, "scenario=blk blk.start=2040 blk.count=9", g_dev, 30000, GUEST_FAIL),
        GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "sectors 2040+9 beyond the capacity 2048");
    guest_result_free(&r);
}

static void test_randread_benchmark_runs(void)
{
    guest_result r;
    unsigned long long ops = 0, iops = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_make_raw(g_disk, 4 << 20, 0x5A), 0);
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r, "scenario=blk blk.bench=randread blk.ms=200 blk.depth=8",
                                   g_dev, 30000, GUEST_PASS),
                           GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "blk.ops", &ops), 0);
    CU_ASSERT(ops > 0);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "blk.iops", &iops), 0);
    CU_ASSERT(iops > 0);
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"the written pattern is on the raw file and survives a reboot",
     test_written_pattern_is_on_the_file},
    {"blk.check notices data that is not the pattern", test_check_notices_foreign_data},
    {"a read-only disk refuses writes with IOERR", test_read_only_disk_refuses_writes},
    {"a range beyond the capacity fails", test_range_beyond_capacity_fails},
    {"the random-read benchmark completes requests", test_randread_benchmark_runs},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_blk", suite_init, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg(); /* QEMU's TCG where /dev/kvm is absent */
    return st_test_main(argc, argv, suites);
}
