/*
 * vmm_run_basic - the test guest's boot, pci, cpu, power and reset
 * scenarios under stratus-vmm, judged by the guest harness exactly as the
 * QEMU runs are (vmm_guest_qemu_*); cpu also checks the metering counters
 * read over the control API; power presses the ACPI power button through
 * the control API and the guest's soft-off ends the VMM with status 0;
 * reset reboots through the FADT's reset register.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <stdio.h>

#include "harness.h"
#include "st_test.h"
#include "vg.h"

static vg_vm vm;

static int setup(void)
{
    return vg_init(&vm, "basic");
}

static int teardown(void)
{
    vg_cleanup(&vm);
    return 0;
}

static void test_boot(void)
{
    guest_result r;
    unsigned long long total = 0, entries = 0;
    char cmdline[128];
    vg_set(&vm, NULL);
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=boot", 20000, &r), GUEST_PASS);
    ST_ASSERT_INT_EQ(r.exit_code, 16);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "mem.entries", &entries), 0);
    ST_ASSERT_INT_EQ(entries, 4);
    ST_ASSERT_INT_EQ(guest_data_u64(&r, "mem.total", &total), 0);
    ST_ASSERT_INT_EQ(total, (128ull << 20) - 0x100000 + 0x9fc00); /* RAM less the BIOS hole */
    ST_ASSERT_INT_EQ(guest_data(&r, "cmdline", cmdline, sizeof cmdline), 0);
    ST_ASSERT_STR_EQ(cmdline, "scenario=boot");
    guest_result_free(&r);
}

static void test_pci(void)
{
    guest_result r;
    char buf[128];
    vg_set(&vm, "\"rng\": true");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=pci pci.expect=1b36:0008,1af4:1044", 20000, &r),
                     GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "pci", 0, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "00:00.0 1b36:0008 060000");
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "pci", 1, buf, sizeof buf), 0);
    ST_ASSERT_STR_EQ(buf, "00:01.0 1af4:1044 00ff00");
    guest_result_free(&r);
}

static void test_pci_missing_device_fails(void)
{
    guest_result r;
    vg_set(&vm, NULL); /* no rng: the expectation cannot hold */
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=pci pci.expect=1af4:1044", 20000, &r), GUEST_FAIL);
    ST_ASSERT_INT_EQ(r.exit_code, 17);
    guest_result_free(&r);
}

/* 1 while pid runs (a zombie does not count). */
static int running(pid_t pid)
{
    char path[64], st = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fscanf(f, "%*d %*s %c", &st) == 1;
    fclose(f);
    return ok && st != 'Z';
}

/* CPU time of p's thread named vcpu0 from /proc (utime + stime, in ns), or -1. */
static long long proc_vcpu0_ns(pid_t pid)
{
    char path[128], comm[32];
    long long best = -1;
    for (int tid = pid; tid < pid + 64; tid++) {
        snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int ok = fgets(comm, sizeof comm, f) && !strncmp(comm, "vcpu0", 5);
        fclose(f);
        if (!ok)
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, tid);
        f = fopen(path, "r");
        unsigned long long ut = 0, st = 0;
        if (f && fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                        &st) == 2)
            best = (long long)(ut + st) * (1000000000ll / sysconf(_SC_CLK_TCK));
        if (f)
            fclose(f);
        break;
    }
    return best;
}

static void test_cpu_metering(void)
{
    guest_proc p;
    guest_result r;
    const long long ms = 1500;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "scenario=cpu cpu.ms=%lld", ms);
    vg_set(&vm, NULL);
    unlink(vm.sock);
    CU_ASSERT_FATAL(vg_spawn(&vm, cmd, &p) == 0);
    long long t0 = st_now_ms();
    CU_ASSERT_FATAL(vt_wait_exists(vm.sock, 10000) == 0);
    /* Poll the counters until the VMM is gone; keep the last answer. */
    long long cpu_ns = -1, cycles = -1, khz = 0, proc_ns = -1, at_ns = -1;
    for (;;) {
        json_t *j = NULL;
        if (vt_http_json(vm.sock, "GET", "/vm/counters", NULL, &j) != 200) {
            json_decref(j);
            if (!running(p.pid))
                break;
            usleep(5000);
            continue;
        }
        long long p_ns = proc_vcpu0_ns(p.pid);
        cpu_ns = json_integer_value(json_object_get(j, "cpu_time_ns_total"));
        if (p_ns >= 0) {
            proc_ns = p_ns; /* the kernel's own account of the same thread, just after */
            at_ns = cpu_ns;
        }
        cycles = json_integer_value(json_object_get(j, "cycles_total"));
        khz = json_integer_value(json_object_get(j, "tsc_khz"));
        json_decref(j);
        usleep(20000);
    }
    long long wall_ms = st_now_ms() - t0;
    ST_ASSERT_INT_EQ(guest_wait(&p, 20000, &r), GUEST_PASS);
    guest_result_free(&r);
    /* The guest spun in ring 3 for ms of wall time; the vCPU thread ran for the share of
     * it the host scheduled: all of it on an idle host (measured here: 1196 of 1200 ms),
     * less when the 2 shared cores are busy. So the counter must agree with the kernel's
     * own account of that thread (/proc, 10 ms ticks), stay within the wall time, and
     * show a real part of the requested time. */
    fprintf(stderr,
            "cpu scenario: %lld ms requested, cpu_time_ns_total %lld, /proc %lld, wall %lld ms\n",
            ms, cpu_ns, proc_ns, wall_ms);
    CU_ASSERT(proc_ns >= 0);
    long long diff = at_ns > proc_ns ? at_ns - proc_ns : proc_ns - at_ns;
    st_assert_fmt(diff <= 50000000 + at_ns / 10, 0, __FILE__, __LINE__,
                  "cpu_time_ns %lld and /proc's %lld for the same thread disagree", at_ns, proc_ns);
    st_assert_fmt(cpu_ns >= ms * 1000000 / 4, 0, __FILE__, __LINE__,
                  "cpu_time_ns_total %lld should be a real part of %lld ms", cpu_ns, ms);
    st_assert_fmt(cpu_ns <= (wall_ms + 100) * 1000000, 0, __FILE__, __LINE__,
                  "cpu_time_ns_total %lld cannot exceed the wall time %lld ms", cpu_ns, wall_ms);
    CU_ASSERT(khz > 0);
    if (khz > 0)
        ST_ASSERT_INT_EQ(cycles, (long long)((__int128)cpu_ns * khz / 1000000));
}

static void test_power_button(void)
{
    guest_proc p;
    guest_result r = {0};
    char model[16];
    vg_set(&vm, NULL);
    unlink(vm.sock);
    CU_ASSERT_FATAL(vg_spawn(&vm, "scenario=power", &p) == 0);
    int ready = vt_wait_for(vm.serial, "DATA power.ready=1", 20000);
    ST_ASSERT_INT_EQ(ready, 0);
    if (ready == 0)
        ST_ASSERT_INT_EQ(
            vt_http(vm.sock, "PUT", "/vm/actions", "{\"action\": \"power_button\"}", NULL), 204);
    int v = guest_wait(&p, 20000, &r);
    if (v != GUEST_PASS)
        guest_result_print(&r, stderr);
    ST_ASSERT_INT_EQ(v, GUEST_PASS);
    ST_ASSERT_INT_EQ(r.exit_code, 0);
    ST_ASSERT_INT_EQ(guest_data(&r, "power.model", model, sizeof model), 0);
    ST_ASSERT_STR_EQ(model, "ged");
    guest_result_free(&r);
}

static void test_reset_register(void)
{
    guest_result r = {0};
    vg_set(&vm, "\"on_reset\": \"restart\"");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=reset", 20000, &r), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_count(&r, "reset.boot"), 2);
    guest_result_free(&r);
    /* on_reset shutdown: the reset ends the VMM (status 0) after one boot */
    vg_set(&vm, "\"on_reset\": \"shutdown\"");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=reset", 20000, &r), GUEST_BROKEN);
    ST_ASSERT_INT_EQ(r.exit_code, 0);
    ST_ASSERT_INT_EQ(guest_data_count(&r, "reset.boot"), 1);
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"boot: start info, e820 memmap and command line reach the guest", test_boot},
    {"pci: the host bridge and a virtio device enumerate", test_pci},
    {"pci: an expected device that is absent fails the run (status 17)",
     test_pci_missing_device_fails},
    {"cpu: ring-3 work shows as vCPU CPU time and cycles over the control API", test_cpu_metering},
    {"power: the API's power button reaches the guest, whose ACPI soft-off exits 0",
     test_power_button},
    {"reset: the reset register reboots (on_reset restart) or ends the VMM (shutdown)",
     test_reset_register},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"basic", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
