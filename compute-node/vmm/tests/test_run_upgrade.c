/*
 * vmm_run_upgrade - live upgrade of stratus-vmm under the test guest (scenario count: DATA
 * count=K every 50 ms, a 16 MiB pattern checked), with "memory_shared": true: PUT /vm/upgrade
 * to a socket nobody listens on answers 500 and the guest goes on counting; then a new
 * `stratus-vmm --upgrade-from SOCK` takes it over: the PUT answers 204, the old process exits
 * 0, the new one finishes the run: the serial log (both processes append to it) holds every
 * count from 1 to 30 once, the new process printed some, the pattern checks, exit 16. Then a VM
 * with private RAM ("memory_shared": false) is refused with 409 and runs on. Needs /dev/kvm
 * (skips without; tests/linux's `upgrade` scenario runs the same in the nested host).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "st_test.h"
#include "vg.h"

#define COUNT 30

static vg_vm vm;

static int setup(void)
{
    return vg_init(&vm, "upgrade");
}

static int teardown(void)
{
    vg_cleanup(&vm);
    return 0;
}

static void test_upgrade(void)
{
    char serial[512], extra[700], out[600], usock[512], body[600];
    guest_proc p, np;
    guest_result r, r2;
    snprintf(serial, sizeof serial, "%s/serial.log", vm.dir);
    snprintf(usock, sizeof usock, "%s/upgrade.sock", vm.dir);
    snprintf(extra, sizeof extra, "\"serial_log\": \"%s\", \"memory_shared\": true", serial);
    vg_set(&vm, extra);
    CU_ASSERT_FATAL(vg_spawn(&vm, "scenario=count count.n=30 count.ms=50", &p) == 0);
    CU_ASSERT_FATAL(vt_wait_for(serial, "DATA count=5", 20000) == 0);
    ST_ASSERT_INT_EQ(
        vt_http(vm.sock, "PUT", "/vm/upgrade", "{\"socket\": \"/nonexistent.sock\"}", NULL), 500);
    CU_ASSERT_FATAL(vt_wait_for(serial, "DATA count=8", 20000) == 0); /* it goes on */

    guest_argv a = {0};
    guest_argv_add(&a, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    guest_argv_add(&a, "--upgrade-from");
    guest_argv_add(&a, "%s", usock);
    snprintf(out, sizeof out, "%s/new.out", vm.dir);
    CU_ASSERT_FATAL(guest_spawn(&np, a.v, out) == 0);
    guest_argv_free(&a);
    CU_ASSERT_FATAL(vt_wait_exists(usock, 10000) == 0);
    snprintf(body, sizeof body, "{\"socket\": \"%s\"}", usock);
    ST_ASSERT_INT_EQ(vt_http(vm.sock, "PUT", "/vm/upgrade", body, NULL), 204);
    char *before = vt_slurp(serial);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    guest_wait(&p, 10000, &r);
    ST_ASSERT_INT_EQ(r.exit_code, 0); /* the old process let go */
    guest_result_free(&r);
    guest_wait(&np, 30000, &r2);
    ST_ASSERT_INT_EQ(r2.exit_code, 16);
    guest_result_free(&r2);
    vg_check_count(serial, r2.wait_status, COUNT, before);
    free(before);
}

static void test_private_ram_refused(void)
{
    char serial[512], extra[700];
    guest_proc p;
    guest_result r;
    snprintf(serial, sizeof serial, "%s/serial2.log", vm.dir);
    snprintf(extra, sizeof extra, "\"serial_log\": \"%s\", \"memory_shared\": false", serial);
    vg_set(&vm, extra);
    CU_ASSERT_FATAL(vg_spawn(&vm, "scenario=count count.n=10 count.ms=50", &p) == 0);
    CU_ASSERT_FATAL(vt_wait_for(serial, "DATA count=2", 20000) == 0);
    ST_ASSERT_INT_EQ(vt_http(vm.sock, "PUT", "/vm/upgrade", "{\"socket\": \"/x.sock\"}", NULL),
                     409);
    guest_wait(&p, 20000, &r);
    ST_ASSERT_INT_EQ(r.exit_code, 16); /* it ran to its end where it was */
    guest_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"count guest handed to a new process: it carries on, counts once each", test_upgrade},
    {"private RAM: upgrade refused (409), the guest runs on", test_private_ram_refused},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"upgrade", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
