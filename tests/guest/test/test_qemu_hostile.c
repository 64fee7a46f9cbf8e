/*
 * vmm_guest_qemu_hostile - the hostile scenarios post malformed virtio-blk
 * chains and survive. Against QEMU they mostly report: QEMU's own checks
 * flag the looped chain and the jumping avail index (DEVICE_NEEDS_RESET),
 * which also proves the guest posts what it says; the device works again
 * after a reset in every case.
 */
#include <stdio.h>
#include <string.h>

#include "guest_test.h"
#include "st_test.h"

static char g_disk[512], g_drive[700];
static const char *g_dev[] = {"-drive", g_drive, "-device",
                              "virtio-blk-pci,drive=d0,disable-legacy=on", NULL};

static int suite_init(void)
{
    snprintf(g_disk, sizeof g_disk, "%s/disk.raw", gt_dir());
    snprintf(g_drive, sizeof g_drive, "file=%s,format=raw,if=none,id=d0", g_disk);
    return gt_make_raw(g_disk, 1 << 20, 0);
}

/* Runs one kind (with extra keys); returns needs_reset (or -1). */
static int run_kind(const char *kind, const char *more)
{
    guest_result r;
    char cmd[160], status[16];
    unsigned long long nr = 2, rec = 0;
    snprintf(cmd, sizeof cmd, "scenario=hostile hostile.blk=%s hostile.recover=1 %s", kind, more);
    ST_ASSERT_INT_EQ(gt_qemu(&r, cmd, g_dev, 30000, GUEST_PASS), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data(&r, "device_status", status, sizeof status), 0);
    CU_ASSERT(strncmp(status, "0x", 2) == 0 && strlen(status) == 4);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "needs_reset", &nr), 0);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "hostile.recovered", &rec), 0);
    ST_ASSERT_INT_EQ(rec, 1);
    printf("\n  QEMU on hostile.blk=%s: device_status=%s needs_reset=%llu ", kind, status, nr);
    guest_result_free(&r);
    return (int)nr;
}

static void test_loop(void)
{
    ST_ASSERT_INT_EQ(run_kind("loop", ""), 1);
}
static void test_badidx(void)
{
    ST_ASSERT_INT_EQ(run_kind("badidx", ""), 1);
}
static void test_oob(void)
{
    CU_ASSERT(run_kind("oob", "") >= 0);
}
static void test_long(void)
{
    CU_ASSERT(run_kind("long", "") >= 0);
}
/* Without indirect descriptors the long chain loops back: QEMU sees the loop. */
static void test_long_direct(void)
{
    ST_ASSERT_INT_EQ(run_kind("long", "hostile.direct=1"), 1);
}

static void test_unknown_kind_fails(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=hostile hostile.blk=nice", g_dev, 30000, GUEST_FAIL),
                     GUEST_FAIL);
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"a self-looping chain: QEMU flags NEEDS_RESET, the guest survives", test_loop},
    {"avail.idx jumping past the queue: QEMU flags NEEDS_RESET", test_badidx},
    {"a buffer beyond guest RAM: the guest survives", test_oob},
    {"a chain longer than the queue: the guest survives", test_long},
    {"a direct chain longer than the queue: QEMU flags NEEDS_RESET", test_long_direct},
    {"an unknown hostile kind fails", test_unknown_kind_fails},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_hostile", suite_init, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg(); /* QEMU's TCG where /dev/kvm is absent */
    return st_test_main(argc, argv, suites);
}
