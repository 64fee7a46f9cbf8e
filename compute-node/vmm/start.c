/*
 * start.c - building and starting a VM from its configuration, whether it
 * came from `--config FILE` or from `PUT /vm/config` + the "start" action.
 *
 * Order: KVM and RAM, legacy devices, PCI and the virtio devices (taps are
 * opened here, while we still may), the kernel, the vCPUs, the control
 * socket named in the config, then privileges dropped, vCPU threads started
 * (each installs its own seccomp filter) and finally the event thread's
 * filter. On failure the VM is left half-built: the caller stops the
 * process, whose exit path frees whatever exists.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "devices.h"
#include "e1000.h"
#include "legacy.h"
#include "pci.h"
#include "sandbox.h"
#include "serial.h"
#include "stratus/log.h"
#include "vmm.h"

static int add_devices(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc;
    if ((rc = vmm_serial_init(vm, cfg->serial_log))) {
        snprintf(err, errlen, "serial log %s: %s", cfg->serial_log ? cfg->serial_log : "stdout",
                 strerror(-rc));
        return rc;
    }
    if ((rc = vmm_legacy_init(vm)) || (rc = vmm_pci_init(vm))) {
        snprintf(err, errlen, "platform devices: %s", strerror(-rc));
        return rc;
    }
    if (!cfg->serial_log && (rc = vmm_serial_start_input(vm->serial, vm->base))) {
        snprintf(err, errlen, "serial input: %s", strerror(-rc));
        return rc;
    }
    for (int i = 0; i < cfg->ndisks; i++)
        if ((rc = vmm_blk_create(vm, &cfg->disks[i]))) {
            snprintf(err, errlen, "disk %s (%s): %s", cfg->disks[i].id, cfg->disks[i].path,
                     strerror(-rc));
            return rc;
        }
    for (int i = 0; i < cfg->nnics; i++)
        if ((rc = cfg->nics[i].model == VMM_NIC_E1000 ? vmm_e1000_create(vm, &cfg->nics[i])
                                                      : vmm_net_create(vm, &cfg->nics[i]))) {
            snprintf(err, errlen, "nic %s (tap %s): %s", cfg->nics[i].id, cfg->nics[i].tap,
                     strerror(-rc));
            return rc;
        }
    if (cfg->rng && (rc = vmm_rng_create(vm))) {
        snprintf(err, errlen, "rng: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

int vmm_start(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc;
    if (vmm_vm_create(vm, cfg)) {
        snprintf(err, errlen, "KVM set-up failed (see the log)");
        return -1;
    }
    if (add_devices(vm, cfg, err, errlen))
        return -1;
    if (vmm_boot_load(vm)) {
        snprintf(err, errlen, "cannot load the %s %s (see the log)",
                 cfg->firmware ? "firmware" : "kernel",
                 cfg->firmware ? cfg->firmware : cfg->kernel);
        return -1;
    }
    if ((rc = vmm_vcpus_create(vm))) {
        snprintf(err, errlen, "creating vCPUs: %s", strerror(-rc));
        return -1;
    }
    if (cfg->control_socket && (rc = vmm_control_start(vm, cfg->control_socket))) {
        snprintf(err, errlen, "control socket %s: %s", cfg->control_socket, strerror(-rc));
        return -1;
    }
    if (vmm_drop_privileges() < 0) {
        snprintf(err, errlen, "cannot drop privileges");
        return -1;
    }
    if ((rc = vmm_vcpus_start(vm))) {
        snprintf(err, errlen, "starting vCPUs: %s", strerror(-rc));
        return -1;
    }
    if (cfg->seccomp && vmm_sandbox_event() < 0) {
        snprintf(err, errlen, "cannot install the seccomp filter");
        return -1;
    }
    __atomic_store_n(&vm->running, 1, __ATOMIC_RELEASE);
    st_info("vmm.start", "VM running: %d vCPU, %llu MiB, boot_id %s", vm->nvcpus,
            (unsigned long long)cfg->memory_mib, vm->boot_id);
    return 0;
}
