/* vg.c - see vg.h. */
#include "vg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st_proc.h"
#include "st_test.h"

int vg_init(vg_vm *vm, const char *tag)
{
    memset(vm, 0, sizeof *vm);
    char t[64];
    snprintf(t, sizeof t, "vmm-%s", tag);
    char *d = st_tmpdir(t);
    if (!d)
        return -1;
    snprintf(vm->dir, sizeof vm->dir, "%s", d);
    free(d);
    snprintf(vm->cfg, sizeof vm->cfg, "%s/vm.json", vm->dir);
    snprintf(vm->sock, sizeof vm->sock, "%s/api.sock", vm->dir);
    snprintf(vm->serial, sizeof vm->serial, "%s/serial.out", vm->dir);
    vm->vcpus = 1;
    return 0;
}

void vg_set(vg_vm *vm, const char *extra)
{
    snprintf(vm->extra, sizeof vm->extra, "%s", extra ? extra : "");
}

int vg_write_config(vg_vm *vm, const char *cmdline)
{
    FILE *f = fopen(vm->cfg, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"vcpus\": %d, \"memory_mib\": 128, \"kernel\": \"%s\", \"cmdline\": \"%s\",\n"
            " \"control_socket\": \"%s\"%s%s}\n",
            vm->vcpus, guest_elf_path(), cmdline, vm->sock, vm->extra[0] ? ", " : "", vm->extra);
    fclose(f);
    return 0;
}

static void argv_of(vg_vm *vm, guest_argv *a)
{
    memset(a, 0, sizeof *a);
    if (vm->netns[0]) {
        guest_argv_add(a, "ip");
        guest_argv_add(a, "netns");
        guest_argv_add(a, "exec");
        guest_argv_add(a, "%s", vm->netns);
    }
    guest_argv_add(a, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    guest_argv_add(a, "--config");
    guest_argv_add(a, "%s", vm->cfg);
}

int vg_run(vg_vm *vm, const char *cmdline, int timeout_ms, guest_result *r)
{
    guest_argv a;
    if (vg_write_config(vm, cmdline))
        return -1;
    argv_of(vm, &a);
    int v = guest_run(a.v, vm->serial, timeout_ms, r);
    guest_argv_free(&a);
    if (v != GUEST_PASS) {
        char err[400];
        snprintf(err, sizeof err, "%s.err", vm->serial);
        guest_result_print(r, stderr);
        char *cmd = NULL;
        if (asprintf(&cmd, "tail -20 %s >&2", err) > 0 && system(cmd) < 0)
            fprintf(stderr, "(no VMM log)\n");
        free(cmd);
    }
    return v;
}

int vg_spawn(vg_vm *vm, const char *cmdline, guest_proc *p)
{
    guest_argv a;
    if (vg_write_config(vm, cmdline))
        return -1;
    argv_of(vm, &a);
    int rc = guest_spawn(p, a.v, vm->serial);
    guest_argv_free(&a);
    return rc;
}

void vg_cleanup(vg_vm *vm)
{
    if (vm->dir[0])
        st_rmtree(vm->dir);
    vm->dir[0] = 0;
}

void vg_check_count(const char *serial, int wait_status, int n, const char *before)
{
    guest_result r = {.wait_status = wait_status};
    CU_ASSERT_EQUAL(guest_judge_file(&r, serial), GUEST_PASS);
    for (int i = 0; i < n; i++) {
        char got[32], want[32];
        snprintf(want, sizeof want, "%d", i + 1);
        CU_ASSERT_EQUAL(guest_data_nth(&r, "count", i, got, sizeof got), 0);
        ST_ASSERT_STR_EQ(got, want);
    }
    CU_ASSERT_EQUAL(guest_data_count(&r, "count"), n);
    char ok[16];
    CU_ASSERT_EQUAL(guest_data(&r, "count.memory", ok, sizeof ok), 0);
    ST_ASSERT_STR_EQ(ok, "ok");
    CU_ASSERT(r.output && strlen(r.output) > strlen(before));
    guest_result_free(&r);
}
