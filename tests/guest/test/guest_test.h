/*
 * guest_test.h - what the vmm_guest_qemu_* test programs share: the /dev/kvm
 * check and a one-call QEMU run of the test guest with extra devices.
 */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include "guest_run.h"

/* Exits 77 (skipped) when /dev/kvm is absent or unusable. */
void gt_require_kvm(void);
/* For tests that may run under QEMU's TCG: when /dev/kvm is absent or
 * unusable, gt_qemu() and gt_qemu_spawn() use -accel tcg from then on.
 * Returns 1 when that happened. */
int gt_kvm_or_tcg(void);
/* The program's scratch directory (created on first use, removed at exit). */
const char *gt_dir(void);
/* Runs the guest under QEMU with cmdline and the NULL-terminated extra QEMU
 * arguments; prints the run when its verdict is not `expect`. Returns the verdict. */
int gt_qemu(guest_result *r, const char *cmdline, const char *const *extra, int timeout_ms,
            int expect);
/* Starts the guest under QEMU without waiting, the command prefixed by
 * `prefix` (NULL-terminated, e.g. ip netns exec NS); wait with guest_wait(). */
int gt_qemu_spawn(guest_proc *p, const char *const *prefix, const char *cmdline,
                  const char *const *extra);
/* Waits until the running guest's serial output contains text; 0 or -1. */
int gt_wait_output(const guest_proc *p, const char *text, int timeout_ms);
/* Sends one human-monitor command (e.g. "system_powerdown") to QEMU's
 * -monitor unix:SOCK,server=on,wait=off. 0 when it was taken. */
int gt_monitor(const char *sock, const char *cmd);
/* Creates a raw image of size bytes, every byte `fill`. 0 on success. */
int gt_make_raw(const char *path, long long size, int fill);

#endif
