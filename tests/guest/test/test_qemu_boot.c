/*
 * vmm_guest_qemu_boot - the test guest boots under QEMU (PVH through qboot),
 * reads its command line and memory map, and reports PASS and FAIL through
 * both the RESULT line and the debug-exit port.
 */
#include <string.h>

#include "guest_test.h"
#include "st_test.h"

static void test_boot_reports_cmdline_and_memory(void)
{
    guest_result r;
    char buf[256];
    unsigned long long total = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r, "scenario=boot probe=42 x.y=z", NULL, 30000, GUEST_PASS),
                           GUEST_PASS);
    ST_ASSERT_INT_EQ(r.exit_code, 33); /* QEMU: (0x10 << 1) | 1 */
    ST_ASSERT_STR_EQ(r.scenario, "boot");
    ST_ASSERT_INT_EQ(guest_data(&r, "cmdline", buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "scenario=boot probe=42 x.y=z");
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "mem.total", &total), 0);
    /* -m 128: all of it but the legacy holes is RAM. */
    CU_ASSERT(total > 120ull << 20 && total <= 128ull << 20);
    CU_ASSERT(guest_data_count(&r, "mem.entry") >= 2);
    guest_result_free(&r);
}

static void test_unknown_scenario_fails_with_exit_0x11(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=no-such-thing", NULL, 30000, GUEST_FAIL), GUEST_FAIL);
    ST_ASSERT_INT_EQ(r.exit_code, 35); /* QEMU: (0x11 << 1) | 1 */
    ST_ASSERT_STR_EQ(r.reason, "unknown scenario");
    guest_result_free(&r);
}

static void test_missing_scenario_fails(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ(gt_qemu(&r, "quiet", NULL, 30000, GUEST_FAIL), GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.scenario, "none");
    ST_ASSERT_STR_EQ(r.reason, "no scenario= on the command line");
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"boot reports its command line and memory map, exit 0x10",
     test_boot_reports_cmdline_and_memory},
    {"an unknown scenario fails with exit 0x11", test_unknown_scenario_fails_with_exit_0x11},
    {"a command line without scenario= fails", test_missing_scenario_fails},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_boot", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg(); /* QEMU's TCG where /dev/kvm is absent */
    return st_test_main(argc, argv, suites);
}
