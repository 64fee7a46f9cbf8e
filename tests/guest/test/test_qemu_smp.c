/*
 * vmm_guest_qemu_smp - the guest starts QEMU's second vCPU with INIT/SIPI,
 * finding it in the ACPI MADT, in the MP table, or by broadcast with smp.n,
 * and fails when a CPU it expects never checks in.
 */
#include <string.h>

#include "guest_test.h"
#include "st_test.h"

static const char *const smp2[] = {"-smp", "2", NULL};

static void expect_two_cpus(const char *cmdline, const char *source)
{
    guest_result r;
    char buf[32];
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r, cmdline, smp2, 30000, GUEST_PASS), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data(&r, "smp.source", buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, source);
    ST_ASSERT_INT_EQ(guest_data_count(&r, "smp.cpu"), 2);
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "smp.cpu", 0, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "0"); /* the BSP first */
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "smp.cpu", 1, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "1");
    guest_result_free(&r);
}

static void test_cpus_from_madt(void)
{
    expect_two_cpus("scenario=smp", "madt");
}
static void test_cpus_from_mp_table(void)
{
    expect_two_cpus("scenario=smp smp.table=mp", "mp");
}
static void test_broadcast_with_smp_n(void)
{
    expect_two_cpus("scenario=smp smp.table=none smp.n=2", "arg");
}

static void test_missing_cpu_fails(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=smp smp.n=2 smp.wait_ms=300", NULL, 30000, GUEST_FAIL),
                     GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "1 of 2 CPUs checked in");
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"-smp 2: both CPUs check in, found in the MADT", test_cpus_from_madt},
    {"-smp 2: both CPUs check in, found in the MP table", test_cpus_from_mp_table},
    {"-smp 2: broadcast INIT/SIPI with smp.n=2", test_broadcast_with_smp_n},
    {"a CPU that never checks in fails the run", test_missing_cpu_fails},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_smp", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg(); /* QEMU's TCG where /dev/kvm is absent */
    return st_test_main(argc, argv, suites);
}
