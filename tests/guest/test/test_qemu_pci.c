/*
 * vmm_guest_qemu_pci - the guest enumerates bus 0 through ports 0xCF8/0xCFC,
 * lists every function with its class, assigns unassigned BARs from its
 * window, and its virtio driver also works on BARs the firmware assigned.
 */
#include <stdio.h>
#include <string.h>

#include "guest_test.h"
#include "st_test.h"

static char g_disk[512];
static const char *const *devices(void)
{
    static char drive[600];
    static const char *v[16];
    snprintf(drive, sizeof drive, "file=%s,format=raw,if=none,id=d0", g_disk);
    const char *list[] = {
        "-device", "virtio-rng-pci,disable-legacy=on",           "-drive",  drive,
        "-device", "virtio-blk-pci,drive=d0,disable-legacy=on",  "-netdev", "hubport,id=n0,hubid=0",
        "-device", "virtio-net-pci,netdev=n0,disable-legacy=on", NULL};
    memcpy(v, list, sizeof list);
    return v;
}

static int suite_init(void)
{
    snprintf(g_disk, sizeof g_disk, "%s/disk.raw", gt_dir());
    return gt_make_raw(g_disk, 1 << 20, 0);
}

static int has_line(const guest_result *r, const char *key, const char *value)
{
    char buf[256];
    for (int i = 0; guest_data_nth(r, key, i, buf, sizeof buf) == 0; i++)
        if (strcmp(buf, value) == 0)
            return 1;
    return 0;
}

static void test_lists_every_function_with_class(void)
{
    guest_result r;
    unsigned long long n = 0;
    ST_ASSERT_INT_EQ_FATAL(gt_qemu(&r, "scenario=pci", devices(), 30000, GUEST_PASS), GUEST_PASS);
    CU_ASSERT(has_line(&r, "pci", "00:00.0 8086:1237 060000")); /* i440FX host bridge */
    CU_ASSERT(has_line(&r, "pci", "00:01.1 8086:7010 010180")); /* PIIX3 IDE: function 1 */
    CU_ASSERT(has_line(&r, "pci", "00:02.0 1af4:1044 00ff00")); /* virtio-rng */
    CU_ASSERT(has_line(&r, "pci", "00:03.0 1af4:1042 010000")); /* virtio-blk */
    CU_ASSERT(has_line(&r, "pci", "00:04.0 1af4:1041 020000")); /* virtio-net */
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "pci.count", &n), 0);
    ST_ASSERT_INT_EQ(n, guest_data_count(&r, "pci"));
    guest_result_free(&r);
}

static void test_unassigned_bars_come_from_the_window(void)
{
    guest_result r;
    char buf[128];
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu(&r, "scenario=pci pci.window=0xf0000000", devices(), 30000, GUEST_PASS),
        GUEST_PASS);
    /* qboot leaves BARs at 0: the guest assigns them in order, aligned. */
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "pci.bar", 0, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "00:02.0/1 0xf0000000+0x1000 assigned");
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "pci.bar", 1, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "00:02.0/4 0xf0004000+0x4000 assigned");
    guest_result_free(&r);
}

static void test_driver_works_with_bars_above_4g(void)
{
    guest_result r;
    char buf[128];
    ST_ASSERT_INT_EQ_FATAL(
        gt_qemu(&r, "scenario=pci pci.window64=0x100000000", devices(), 30000, GUEST_PASS),
        GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "pci.bar", 1, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "00:02.0/4 0x100000000+0x4000 assigned");
    guest_result_free(&r);
    /* The guest maps that range itself (only 0-4 GiB is mapped at boot). */
    ST_ASSERT_INT_EQ(
        gt_qemu(&r, "scenario=rng pci.window64=0x100000000", devices(), 30000, GUEST_PASS),
        GUEST_PASS);
    guest_result_free(&r);
}

static void test_expected_device_missing_fails(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ(
        gt_qemu(&r, "scenario=pci pci.expect=1af4:1044,1af4:1049", devices(), 30000, GUEST_FAIL),
        GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "expected PCI device 1af4:1049 not found");
    guest_result_free(&r);
}

static void test_driver_works_on_firmware_assigned_bars(void)
{
    guest_result r;
    /* SeaBIOS (QEMU's default firmware, ~3 s here) assigns every BAR itself. */
    guest_argv q = {0}, a = {0};
    char out[512];
    guest_argv_qemu(&q, "scenario=rng");
    for (int i = 0; i < q.n; i++) {
        if (strcmp(q.v[i], "-bios") == 0)
            i++; /* drop -bios qboot.rom */
        else
            guest_argv_add(&a, "%s", q.v[i]);
    }
    guest_argv_free(&q);
    guest_argv_add(&a, "-device");
    guest_argv_add(&a, "virtio-rng-pci,disable-legacy=on");
    snprintf(out, sizeof out, "%s/seabios.serial", gt_dir());
    ST_ASSERT_INT_EQ(guest_run(a.v, out, 60000, &r), GUEST_PASS);
    if (r.verdict != GUEST_PASS)
        guest_result_print(&r, stderr);
    guest_result_free(&r);
    guest_argv_free(&a);
}

static CU_TestInfo tests[] = {
    {"lists every function with vendor, device and class", test_lists_every_function_with_class},
    {"unassigned BARs come from the window, aligned", test_unassigned_bars_come_from_the_window},
    {"64-bit BARs above 4 GiB are mapped and used", test_driver_works_with_bars_above_4g},
    {"a missing pci.expect device fails the run", test_expected_device_missing_fails},
    {"the virtio driver works on firmware-assigned BARs",
     test_driver_works_on_firmware_assigned_bars},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_pci", suite_init, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_require_kvm();
    return st_test_main(argc, argv, suites);
}
