/*
 * vg.h - running the project's test guest (tests/guest) under stratus-vmm.
 *
 *     guest_result r;
 *     vg_vm vm;
 *     vg_init(&vm, "blk");                              // a scratch dir
 *     vg_set(&vm, "\"disks\": [{\"path\": \"...\"}]");  // extra config members
 *     ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=blk", 20000, &r), GUEST_PASS);
 *
 * The serial console goes to stdout, which the guest harness captures and
 * judges (RESULT line + exit value 0x10/0x11 = status 16/17).
 */
#ifndef VMM_TEST_VG_H
#define VMM_TEST_VG_H

#include "guest_run.h"

typedef struct vg_vm {
    char dir[256];
    char cfg[320];
    char sock[320];
    char serial[320];
    char extra[2048];
    int vcpus;
    char netns[64]; /* run inside this network namespace when set */
} vg_vm;

/* Scratch directory and defaults (1 vCPU, 128 MiB, control socket). */
int vg_init(vg_vm *vm, const char *tag);
/* Extra JSON members for the config ("\"rng\": true"), replacing earlier ones. */
void vg_set(vg_vm *vm, const char *extra);
/* Writes the config for cmdline. */
int vg_write_config(vg_vm *vm, const char *cmdline);
/* Runs to the end; returns the verdict (and prints the run when it is not PASS). */
int vg_run(vg_vm *vm, const char *cmdline, int timeout_ms, guest_result *r);
/* Starts without waiting (net, counters); then guest_wait(). */
int vg_spawn(vg_vm *vm, const char *cmdline, guest_proc *p);
void vg_cleanup(vg_vm *vm);
/* The count scenario's run carried on across two processes that appended to serial: judged
 * PASS from the file and the second process's wait status (its exit carries the guest's
 * verdict), DATA count=1..n once each, the memory check ok, and the second process printed
 * (the file is longer than `before`, what it held when the first one let go). */
void vg_check_count(const char *serial, int wait_status, int n, const char *before);

#endif
