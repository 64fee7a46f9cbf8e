/*
 * vmm_guest_qemu_rng - the guest reads entropy from QEMU's modern
 * virtio-rng through a split virtqueue with MSI-X, and refuses devices that
 * are not modern virtio.
 */
#include <string.h>

#include "guest_test.h"
#include "st_test.h"

static const char *const rng_dev[] = {"-device", "virtio-rng-pci,disable-legacy=on", NULL};

static void test_reads_random_bytes(void)
{
    guest_result r1, r2;
    char b1[64], b2[64];
    unsigned long long irqs = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r1, "scenario=rng", rng_dev, 30000, GUEST_PASS), GUEST_PASS);
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r2, "scenario=rng rng.len=256", rng_dev, 30000, GUEST_PASS),
                           GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data(&r1, "rng.bytes", b1, sizeof b1), 0);
    ST_ASSERT_INT_EQ(guest_data(&r2, "rng.bytes", b2, sizeof b2), 0);
    ST_ASSERT_INT_EQ(strlen(b1), 32);
    CU_ASSERT(strcmp(b1, b2) != 0); /* two boots, two random streams */
    /* MSI-X: QEMU delivers the queue's interrupt; the guest counts it. */
    ST_ASSERT_INT_EQ(guest_data_u64(&r1, "irqs", &irqs), 0);
    CU_ASSERT(irqs >= 1);
    guest_result_free(&r1);
    guest_result_free(&r2);
}

static void test_without_a_device_fails(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=rng", NULL, 30000, GUEST_FAIL), GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "no modern virtio device 1af4:1044");
    guest_result_free(&r);
}

static void test_transitional_device_is_not_used(void)
{
    guest_result r;
    /* Without disable-legacy QEMU offers the transitional ID 1af4:1005. */
    static const char *const legacy[] = {"-device", "virtio-rng-pci", NULL};
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=rng", legacy, 30000, GUEST_FAIL), GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "no modern virtio device 1af4:1044");
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"reads random bytes, counts MSI-X interrupts", test_reads_random_bytes},
    {"without a virtio-rng device the run fails", test_without_a_device_fails},
    {"a transitional (legacy) device is not used", test_transitional_device_is_not_used},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_rng", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg(); /* QEMU's TCG where /dev/kvm is absent */
    return st_test_main(argc, argv, suites);
}
