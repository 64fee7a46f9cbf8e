/*
 * vmm_guest_harness - the host half of the guest contract judges runs
 * correctly: exit values under both conventions, RESULT/exit agreement,
 * DATA lookups, time limits, and the blk pattern. Needs no KVM: the "VMM"
 * here is /bin/sh printing what a guest would.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_run.h"
#include "st_proc.h"
#include "st_test.h"

#define EXITED(code) ((code) << 8) /* a waitpid() status for a normal exit */

static const char ok_out[] = "firmware noise\n"
                             "STRATUS-GUEST start scenario=blk\n"
                             "DATA blk.capacity=2048\r\n"
                             "DATA pci=00:03.0 1af4:1042 018000\n"
                             "DATA pci=00:04.0 1af4:1044 00ff00\n"
                             "RESULT blk PASS\n";

static void test_exit_values_of_qemu_and_stratus_vmm(void)
{
    ST_ASSERT_INT_EQ(guest_exit_value(EXITED(33)), GUEST_EXIT_PASS);
    ST_ASSERT_INT_EQ(guest_exit_value(EXITED(35)), GUEST_EXIT_FAIL);
    ST_ASSERT_INT_EQ(guest_exit_value(EXITED(16)), GUEST_EXIT_PASS);
    ST_ASSERT_INT_EQ(guest_exit_value(EXITED(17)), GUEST_EXIT_FAIL);
    ST_ASSERT_INT_EQ(guest_exit_value(EXITED(0)), -1); /* reset / shutdown */
    ST_ASSERT_INT_EQ(guest_exit_value(EXITED(1)), -1);
    ST_ASSERT_INT_EQ(guest_exit_value(SIGKILL), -1); /* killed */
    ST_ASSERT_INT_EQ(guest_exit_value(-1), -1);
}

static void test_pass_needs_result_and_exit_to_agree(void)
{
    guest_result r = {0};
    ST_ASSERT_INT_EQ(guest_judge(&r, ok_out, EXITED(33), 0), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_judge(&r, ok_out, EXITED(16), 0), GUEST_PASS);
    ST_ASSERT_STR_EQ(r.scenario, "blk");
    ST_ASSERT_INT_EQ(guest_judge(&r, ok_out, EXITED(35), 0), GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_judge(&r, ok_out, EXITED(0), 0), GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_judge(&r, ok_out, EXITED(33), 1), GUEST_TIMEOUT);
    guest_result_free(&r);
}

static void test_acpi_poweroff_passes_only_with_exit_0(void)
{
    guest_result r = {0};
    const char *off = "STRATUS-GUEST start scenario=power\nDATA power.button=1\n"
                      "DATA poweroff=acpi\nRESULT power PASS\n";
    ST_ASSERT_INT_EQ(guest_judge(&r, off, EXITED(0), 0), GUEST_PASS);
    /* the power-off write returned: the guest exits through the debug port */
    ST_ASSERT_INT_EQ(guest_judge(&r, off, EXITED(35), 0), GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_judge(&r, off, EXITED(1), 0), GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_judge(&r, off, SIGKILL, 0), GUEST_BROKEN);
    /* exit 0 without the power-off line is not a PASS (ok_out has none) */
    ST_ASSERT_INT_EQ(guest_judge(&r, ok_out, EXITED(0), 0), GUEST_BROKEN);
    const char *failed = "STRATUS-GUEST start scenario=power\nDATA poweroff=acpi\n"
                         "RESULT power FAIL x\n";
    ST_ASSERT_INT_EQ(guest_judge(&r, failed, EXITED(0), 0), GUEST_BROKEN);
    guest_result_free(&r);
}

static void test_fail_carries_the_reason(void)
{
    guest_result r = {0};
    const char *out = "STRATUS-GUEST start scenario=rng\nRESULT rng FAIL no virtio-rng device\n";
    ST_ASSERT_INT_EQ(guest_judge(&r, out, EXITED(35), 0), GUEST_FAIL);
    ST_ASSERT_STR_EQ(r.reason, "no virtio-rng device");
    ST_ASSERT_INT_EQ(guest_judge(&r, out, EXITED(33), 0), GUEST_BROKEN);
    guest_result_free(&r);
}

static void test_malformed_runs_are_broken(void)
{
    guest_result r = {0};
    ST_ASSERT_INT_EQ(guest_judge(&r, "RESULT boot PASS\n", EXITED(33), 0), GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_judge(&r, "STRATUS-GUEST start scenario=boot\n", EXITED(33), 0),
                     GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_judge(&r,
                                 "STRATUS-GUEST start scenario=boot\nRESULT boot PASS\n"
                                 "RESULT boot PASS\n",
                                 EXITED(33), 0),
                     GUEST_BROKEN);
    ST_ASSERT_INT_EQ(
        guest_judge(&r, "STRATUS-GUEST start scenario=boot\nRESULT net PASS\n", EXITED(33), 0),
        GUEST_BROKEN);
    ST_ASSERT_INT_EQ(
        guest_judge(&r, "STRATUS-GUEST start scenario=boot\nRESULT boot MAYBE\n", EXITED(33), 0),
        GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_judge(&r, NULL, EXITED(33), 0), GUEST_BROKEN);
    guest_result_free(&r);
}

static void test_data_lookup(void)
{
    guest_result r = {0};
    char buf[64];
    unsigned long long v = 0;
    guest_judge(&r, ok_out, EXITED(33), 0);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "blk.capacity", &v), 0);
    ST_ASSERT_INT_EQ(v, 2048);
    ST_ASSERT_INT_EQ(guest_data_count(&r, "pci"), 2);
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "pci", 1, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "00:04.0 1af4:1044 00ff00");
    ST_ASSERT_INT_EQ(guest_data(&r, "blk", buf, sizeof buf), -1); /* a prefix is not a key */
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "pci", &v), -1);          /* not a number */
    guest_result_free(&r);
}

static void test_run_spawns_and_collects_output(void)
{
    char *dir = st_tmpdir("guest-harness"), out[512];
    snprintf(out, sizeof out, "%s/serial", dir);
    guest_result r;
    char *argv[] = {"/bin/sh", "-c",
                    "echo 'STRATUS-GUEST start scenario=cpu'; echo 'DATA cpu.ms=5';"
                    "echo 'RESULT cpu PASS'; echo noise >&2; exit 16",
                    NULL};
    ST_ASSERT_INT_EQ(guest_run(argv, out, 10000, &r), GUEST_PASS);
    ST_ASSERT_INT_EQ(r.exit_code, 16);
    ST_ASSERT_INT_EQ(guest_data_count(&r, "cpu.ms"), 1);
    guest_result_free(&r);
    st_rmtree(dir);
    free(dir);
}

static void test_time_limit_kills_the_vmm(void)
{
    char *dir = st_tmpdir("guest-harness"), out[512];
    snprintf(out, sizeof out, "%s/serial", dir);
    guest_result r;
    char *argv[] = {"/bin/sh", "-c", "echo 'STRATUS-GUEST start scenario=smp'; sleep 30", NULL};
    long long t0 = st_now_ms();
    ST_ASSERT_INT_EQ(guest_run(argv, out, 300, &r), GUEST_TIMEOUT);
    CU_ASSERT(st_now_ms() - t0 < 20000);
    ST_ASSERT_INT_EQ(r.exit_value, -1);
    guest_result_free(&r);
    st_rmtree(dir);
    free(dir);
}

static void test_blk_pattern_is_the_documented_one(void)
{
    uint8_t s[512];
    guest_blk_pattern(0x0102, 7, s);
    CU_ASSERT(memcmp(s, "STRGUEST\x02\x01\0\0\0\0\0\0", 16) == 0);
    ST_ASSERT_INT_EQ(s[16], (uint8_t)(0x0102 * 251 + 16 * 13 + 7));
    ST_ASSERT_INT_EQ(s[511], (uint8_t)(0x0102 * 251 + 511 * 13 + 7));
    ST_ASSERT_INT_EQ(guest_fnv1a32(GUEST_FNV1A32_INIT, "a", 1), 0xe40c292c);
}

static void test_blk_check_raw_finds_a_wrong_sector(void)
{
    char *dir = st_tmpdir("guest-harness"), path[512], err[128];
    snprintf(path, sizeof path, "%s/disk.raw", dir);
    FILE *f = fopen(path, "wb");
    uint8_t s[512];
    for (uint64_t i = 0; i < 4; i++) {
        guest_blk_pattern(i, 0, s);
        if (i == 3)
            s[100] ^= 1;
        fwrite(s, 1, sizeof s, f);
    }
    fclose(f);
    uint32_t sum = 0;
    ST_ASSERT_INT_EQ(guest_blk_check_raw(path, 0, 3, 0, &sum, err, sizeof err), 0);
    CU_ASSERT(sum != 0);
    ST_ASSERT_INT_EQ(guest_blk_check_raw(path, 1, 3, 0, &sum, err, sizeof err), -1);
    ST_ASSERT_STR_EQ(err, "sector 3 does not hold the pattern");
    ST_ASSERT_INT_EQ(guest_blk_check_raw(path, 0, 2, 9, &sum, err, sizeof err), -1);
    st_rmtree(dir);
    free(dir);
}

static CU_TestInfo tests[] = {
    {"exit values of QEMU (33/35) and stratus-vmm (16/17)",
     test_exit_values_of_qemu_and_stratus_vmm},
    {"PASS needs the RESULT line and the exit value to agree",
     test_pass_needs_result_and_exit_to_agree},
    {"an ACPI power-off PASSes only with RESULT PASS, its DATA line and exit 0",
     test_acpi_poweroff_passes_only_with_exit_0},
    {"FAIL carries the guest's reason", test_fail_carries_the_reason},
    {"malformed runs are BROKEN", test_malformed_runs_are_broken},
    {"DATA lookups by exact key", test_data_lookup},
    {"guest_run spawns, collects stdout, decodes exit 16", test_run_spawns_and_collects_output},
    {"the time limit kills the VMM", test_time_limit_kills_the_vmm},
    {"the blk pattern is the documented one", test_blk_pattern_is_the_documented_one},
    {"guest_blk_check_raw finds a wrong sector", test_blk_check_raw_finds_a_wrong_sector},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"harness", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
