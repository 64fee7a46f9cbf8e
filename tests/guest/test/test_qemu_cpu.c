/*
 * vmm_guest_qemu_cpu - the cpu scenario runs ring-3 work for cpu.ms
 * milliseconds of calibrated TSC time under QEMU.
 */
#include "guest_test.h"
#include "st_test.h"

static void test_ring3_loop_runs_for_cpu_ms(void)
{
    guest_result r;
    unsigned long long khz = 0, iters = 0, us = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r, "scenario=cpu cpu.ms=300", NULL, 30000, GUEST_PASS),
                           GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "tsc_khz", &khz), 0);
    CU_ASSERT(khz > 100000); /* a TSC slower than 100 MHz means a broken calibration */
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "cpu.iterations", &iters), 0);
    CU_ASSERT(iters > 0);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "cpu.elapsed_us", &us), 0);
    CU_ASSERT(us >= 300000);
    /* The guest's 300 ms of TSC time happened inside QEMU's lifetime: a lower
     * bound only, so a loaded machine cannot make it fail. */
    CU_ASSERT(r.elapsed_ms >= 300);
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"a ring-3 loop runs for cpu.ms of TSC time", test_ring3_loop_runs_for_cpu_ms},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_cpu", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg(); /* QEMU's TCG where /dev/kvm is absent */
    return st_test_main(argc, argv, suites);
}
