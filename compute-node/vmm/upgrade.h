/*
 * upgrade.h - live upgrade: a running VM moves to a new stratus-vmm process on the same host
 * without copying its memory (see upgrade.c; the frames are upgmsg.h's).
 */
#ifndef VMM_UPGRADE_H
#define VMM_UPGRADE_H

#include <stddef.h>

#include "vmm.h"

/* The old process (event thread): pauses the VM, sends its state, RAM and taps to the new
 * process listening on sock_path, waits for its ack. 0: the new process runs the guest and
 * this one must exit without touching it (its view of guest RAM is already detached);
 * otherwise a negative errno with err filled and the VM running again as it was
 * (-ENOTSUP: the VM is not running, guest RAM is not shared, a writable qcow2 disk, or a
 * device that cannot be saved). */
int vmm_upgrade_send(vmm_vm *vm, const char *sock_path, char *err, size_t errlen);

#endif
