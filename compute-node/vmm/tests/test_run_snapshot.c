/*
 * vmm_run_snapshot - snapshot and restore of the test guest (scenario count: DATA count=K every
 * 50 ms, a 16 MiB pattern checked) under stratus-vmm, in two processes: PUT /vm/snapshot of a
 * running VM is refused (409); paused after count=5 and snapshotted, the process is killed
 * (SIGKILL); `stratus-vmm --restore DIR` in a new process carries on: the serial log (a file
 * both processes append to) holds every count from 1 to 30 once, the restored process printed
 * some of them, the pattern checks and the guest exits PASS (16). Then a snapshot whose vmstate
 * is flipped by one byte, or truncated, is refused with exit status 2. Needs /dev/kvm (skips
 * without; tests/linux's `snapshot` scenario runs the same in the nested host).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "st_test.h"
#include "vg.h"

#define COUNT 30

static vg_vm vm;

static int setup(void)
{
    return vg_init(&vm, "snapshot");
}

static int teardown(void)
{
    vg_cleanup(&vm);
    return 0;
}

static int restore(const char *dir, const char *out, guest_result *r)
{
    guest_argv a = {0};
    guest_argv_add(&a, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    guest_argv_add(&a, "--restore");
    guest_argv_add(&a, "%s", dir);
    int v = guest_run(a.v, out, 30000, r);
    guest_argv_free(&a);
    return v;
}

static void test_snapshot_restore(void)
{
    char serial[512], snap[512], extra[700], out[600];
    guest_proc p;
    guest_result r, r2;
    snprintf(serial, sizeof serial, "%s/serial.log", vm.dir);
    snprintf(snap, sizeof snap, "%s/snap", vm.dir);
    CU_ASSERT_FATAL(mkdir(snap, 0700) == 0);
    snprintf(extra, sizeof extra, "\"serial_log\": \"%s\"", serial);
    vg_set(&vm, extra);
    CU_ASSERT_FATAL(vg_spawn(&vm, "scenario=count count.n=30 count.ms=50", &p) == 0);
    CU_ASSERT_FATAL(vt_wait_for(serial, "DATA count=5", 20000) == 0);
    char body[600];
    snprintf(body, sizeof body, "{\"dir\": \"%s\"}", snap);
    ST_ASSERT_INT_EQ(vt_http(vm.sock, "PUT", "/vm/snapshot", body, NULL), 409);
    ST_ASSERT_INT_EQ(vt_http(vm.sock, "PUT", "/vm/actions", "{\"action\": \"pause\"}", NULL), 204);
    ST_ASSERT_INT_EQ(vt_http(vm.sock, "PUT", "/vm/snapshot", "{\"dir\": \"/nonexistent\"}", NULL),
                     400);
    ST_ASSERT_INT_EQ(vt_http(vm.sock, "PUT", "/vm/snapshot", body, NULL), 204);
    char *before = vt_slurp(serial);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    kill(p.pid, SIGKILL);
    guest_wait(&p, 5000, &r);
    guest_result_free(&r);

    snprintf(out, sizeof out, "%s/restored.out", vm.dir);
    restore(snap, out, &r2);
    ST_ASSERT_INT_EQ(r2.exit_code, 16);
    guest_result_free(&r2);
    vg_check_count(serial, r2.wait_status, COUNT, before);
    free(before);

    /* A vmstate with one byte changed, then one cut short: exit 2, nothing run. */
    char state[600], cmd[1400];
    snprintf(state, sizeof state, "%s/vmstate", snap);
    snprintf(cmd, sizeof cmd, "printf 'X' | dd of=%s bs=1 seek=400 conv=notrunc 2>/dev/null",
             state);
    CU_ASSERT_EQUAL(system(cmd), 0);
    restore(snap, out, &r2);
    ST_ASSERT_INT_EQ(r2.exit_code, 2);
    guest_result_free(&r2);
    CU_ASSERT_EQUAL(truncate(state, 1000), 0);
    restore(snap, out, &r2);
    ST_ASSERT_INT_EQ(r2.exit_code, 2);
    guest_result_free(&r2);
}

static CU_TestInfo tests[] = {
    {"count guest snapshotted, killed, restored in a new process: it carries on",
     test_snapshot_restore},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"snapshot", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
