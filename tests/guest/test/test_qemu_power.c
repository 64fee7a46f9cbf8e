/*
 * vmm_guest_qemu_power - the guest as an ACPI OSPM under QEMU, the reference
 * for stratus-vmm's power button and reset register: a press of QEMU's power
 * button (the monitor's system_powerdown) reaches the guest, which powers
 * off through ACPI S5 so that QEMU exits 0; the reset register reboots it.
 * Both of the guest's models: hardware-reduced ACPI with a Generic Event
 * Device (-M microvm, the model stratus-vmm offers) and fixed-hardware PM1
 * with an SCI (-M pc and q35). Runs under TCG where /dev/kvm is absent.
 */
#include <stdio.h>
#include <string.h>

#include "guest_test.h"
#include "st_test.h"

/* Boots the power scenario on machine, presses the button once the guest is
 * ready, and checks the guest's model and a clean power-off. */
static void press_and_power_off(const char *machine, const char *model)
{
    char sock[600], mon[700], got[32];
    snprintf(sock, sizeof sock, "%s/mon-%s.sock", gt_dir(), model);
    snprintf(mon, sizeof mon, "unix:%s,server=on,wait=off", sock);
    const char *extra[] = {"-M", machine, "-monitor", mon, NULL};
    guest_proc p;
    guest_result r = {0};
    CU_ASSERT_FATAL(gt_qemu_spawn(&p, NULL, "scenario=power", extra) == 0);
    int ready = gt_wait_output(&p, "DATA power.ready=1", 30000);
    ST_ASSERT_INT_EQ(ready, 0);
    if (ready == 0)
        ST_ASSERT_INT_EQ(gt_monitor(sock, "system_powerdown"), 0);
    int v = guest_wait(&p, 30000, &r);
    if (v != GUEST_PASS)
        guest_result_print(&r, stderr);
    ST_ASSERT_INT_EQ(v, GUEST_PASS);
    ST_ASSERT_INT_EQ(r.exit_code, 0); /* QEMU's own shutdown, not the debug port */
    ST_ASSERT_INT_EQ(guest_data(&r, "power.model", got, sizeof got), 0);
    ST_ASSERT_STR_EQ(got, model);
    ST_ASSERT_INT_EQ(guest_data(&r, "power.button", got, sizeof got), 0);
    guest_result_free(&r);
}

static void test_ged_button_powers_off(void)
{
    press_and_power_off("microvm,acpi=on", "ged");
}

static void test_pm1_button_powers_off(void)
{
    press_and_power_off("q35", "pm1");
}

/* The reset register: two boots, the second finds the first's CMOS marker. */
static void reset_reboots(const char *machine)
{
    const char *extra[] = {"-M", machine, "-action", "reboot=reset", NULL};
    guest_result r = {0};
    char b1[8], b2[8];
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=reset", extra, 60000, GUEST_PASS), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "reset.boot", 0, b1, sizeof b1), 0);
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "reset.boot", 1, b2, sizeof b2), 0);
    ST_ASSERT_STR_EQ(b1, "1");
    ST_ASSERT_STR_EQ(b2, "2");
    guest_result_free(&r);
}

static void test_ged_reset_register_reboots(void)
{
    /* The marker needs the RTC's CMOS RAM, which microvm leaves out under KVM unless asked
     * (its rtc=auto is on only under TCG). */
    reset_reboots("microvm,acpi=on,rtc=on");
}

static void test_pm1_reset_register_reboots(void)
{
    reset_reboots("q35");
}

/* Without -action reboot=reset (the harness passes -no-reboot) the reset
 * ends QEMU after the first boot: no RESULT line, so not a PASS. */
static void test_reset_without_reboot_is_not_a_pass(void)
{
    const char *extra[] = {"-M", "microvm,acpi=on", NULL};
    guest_result r = {0};
    ST_ASSERT_INT_EQ(gt_qemu(&r, "scenario=reset", extra, 60000, GUEST_BROKEN), GUEST_BROKEN);
    ST_ASSERT_INT_EQ(guest_data_count(&r, "reset.boot"), 1);
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"GED (microvm): the button press powers the guest off, QEMU exits 0",
     test_ged_button_powers_off},
    {"PM1 (q35): the button press powers the guest off, QEMU exits 0", test_pm1_button_powers_off},
    {"GED (microvm): the reset register reboots", test_ged_reset_register_reboots},
    {"PM1 (q35): the reset register reboots", test_pm1_reset_register_reboots},
    {"a reset that ends the VMM is not a PASS", test_reset_without_reboot_is_not_a_pass},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"qemu_power", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    gt_kvm_or_tcg();
    return st_test_main(argc, argv, suites);
}
