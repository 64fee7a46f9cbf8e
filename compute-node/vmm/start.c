/*
 * start.c - building and starting a VM from its configuration, whether it
 * came from `--config FILE` or from `PUT /vm/config` + the "start" action.
 *
 * Order: KVM and RAM, the devices by the init list below (taps are opened
 * there, while we still may), the kernel, the vCPUs, the control
 * socket named in the config, then privileges dropped, vCPU threads started
 * (each installs its own seccomp filter) and finally the event thread's
 * filter. On failure the VM is left half-built: the caller stops the
 * process, whose exit path frees whatever exists. A restore builds the same
 * way, then puts the state back before the vCPUs start; a migration's
 * target runs the two halves apart (vmm_build_restored while the pages come,
 * vmm_run_restored after STATE).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "devices.h"
#include "e1000.h"
#include "firmware.h"
#include "legacy.h"
#include "migrate.h"
#include "pci.h"
#include "sandbox.h"
#include "serial.h"
#include "snapshot.h"
#include "stratus/log.h"
#include "vmm.h"

/* The init list, as kvmtool's (util/init.h): each entry builds devices, which register
 * themselves in vm->devreg as they are built, so the registry's order (resets, records) is
 * this list's. Levels run in order, named as kvmtool's (which also has dev_base and
 * virtio_dev, which we do not need): core (the console first, so everything after can say
 * what failed), base (ISA devices, the PCI bus), dev (on the bus, in config order: their
 * PCI slots follow), firmware, late (what needs the rest: serial input on the event loop).
 * An explicit table rather than kvmtool's constructors: the devices live in a static
 * library, whose linker drops an object nothing refers to, and with it a constructor's
 * device. */
enum { INIT_CORE, INIT_BASE, INIT_DEV, INIT_FIRMWARE, INIT_LATE, INIT_LEVELS };

typedef struct vmm_init {
    int level;
    const char *what;
    int (*init)(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen);
} vmm_init;

static int init_serial(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc = vmm_serial_init(vm, cfg->serial_log);
    if (rc)
        snprintf(err, errlen, "serial log %s: %s", cfg->serial_log ? cfg->serial_log : "stdout",
                 strerror(-rc));
    return rc;
}

static int init_platform(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc;
    if ((rc = vmm_legacy_init(vm)) || (rc = vmm_pci_init(vm)))
        snprintf(err, errlen, "platform devices: %s", strerror(-rc));
    return rc;
}

static int init_disks(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc;
    for (int i = 0; i < cfg->ndisks; i++)
        if ((rc = vmm_blk_create(vm, &cfg->disks[i]))) {
            snprintf(err, errlen, "disk %s (%s): %s", cfg->disks[i].id, cfg->disks[i].path,
                     strerror(-rc));
            return rc;
        }
    return 0;
}

static int init_nics(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc;
    for (int i = 0; i < cfg->nnics; i++)
        if ((rc = cfg->nics[i].model == VMM_NIC_E1000 ? vmm_e1000_create(vm, &cfg->nics[i])
                                                      : vmm_net_create(vm, &cfg->nics[i]))) {
            snprintf(err, errlen, "nic %s (tap %s): %s", cfg->nics[i].id, cfg->nics[i].tap,
                     strerror(-rc));
            return rc;
        }
    return 0;
}

static int init_rng(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc = cfg->rng ? vmm_rng_create(vm) : 0;
    if (rc)
        snprintf(err, errlen, "rng: %s", strerror(-rc));
    return rc;
}

/* Firmware boot: the BIOS's shadow mapping (PAM) and fw_cfg are built by vmm_boot_load
 * (firmware.c); their record is firmware.c's. */
static int init_firmware(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc = cfg->firmware ? vmm_dev_register(&vm->devreg, "firmware", &vmm_firmware_dev, vm) : 0;
    if (rc)
        snprintf(err, errlen, "firmware: %s", strerror(-rc));
    return rc;
}

static int init_serial_input(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    /* A migration's target reads none before the state is back (migrate.c starts it). */
    int rc = cfg->serial_log || vm->built_early ? 0 : vmm_serial_start_input(vm->serial, vm->base);
    if (rc)
        snprintf(err, errlen, "serial input: %s", strerror(-rc));
    return rc;
}

static const vmm_init inits[] = {
    {INIT_CORE, "serial", init_serial},
    {INIT_BASE, "legacy, pci", init_platform},
    {INIT_DEV, "disks", init_disks},
    {INIT_DEV, "nics", init_nics},
    {INIT_DEV, "rng", init_rng},
    {INIT_FIRMWARE, "firmware", init_firmware},
    {INIT_LATE, "serial input", init_serial_input},
};

int vmm_start_devices(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    for (int level = 0; level < INIT_LEVELS; level++)
        for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++) {
            if (inits[i].level != level)
                continue;
            int rc = inits[i].init(vm, cfg, err, errlen);
            if (rc) {
                st_debug("vmm.start", "init %s failed", inits[i].what);
                return rc;
            }
        }
    return 0;
}

static int start_vcpus(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen);

static double ms_since_start(const vmm_vm *vm)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - vm->started.tv_sec) * 1e3 +
           (double)(now.tv_nsec - vm->started.tv_nsec) / 1e6;
}

int vmm_start(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc;
    if (vmm_vm_create(vm, cfg)) {
        snprintf(err, errlen, "KVM set-up failed (see the log)");
        return -1;
    }
    if (vmm_start_devices(vm, cfg, err, errlen))
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
    return start_vcpus(vm, cfg, err, errlen);
}

/* vmm_build_restored's steps (ms after start-up): KVM and RAM, devices, vCPUs; one VM per
 * process. */
static double built_at[3];

int vmm_build_restored(vmm_vm *vm, const vmm_config *cfg, int mem_fd, char *err, size_t errlen)
{
    int rc;
    vm->ram_fd = mem_fd;
    vm->restored = 1;
    if (vmm_vm_create(vm, cfg)) {
        snprintf(err, errlen, "KVM set-up failed (see the log)");
        return -1;
    }
    built_at[0] = ms_since_start(vm);
    if (vmm_start_devices(vm, cfg, err, errlen))
        return -1;
    /* A firmware boot's ROM, fw_cfg and host bridge, as at a start; the restore then puts back
     * the shadow mapping (its registers were saved) over what the load set up. */
    if (cfg->firmware && vmm_fw_load(vm)) {
        snprintf(err, errlen, "cannot load the firmware %s (see the log)", cfg->firmware);
        return -1;
    }
    built_at[1] = ms_since_start(vm);
    if ((rc = vmm_vcpus_create(vm))) {
        snprintf(err, errlen, "creating vCPUs: %s", strerror(-rc));
        return -1;
    }
    built_at[2] = ms_since_start(vm);
    return 0;
}

int vmm_run_restored(vmm_vm *vm, const vmm_config *cfg, const vmm_snapshot *s, char *err,
                     size_t errlen)
{
    char msg[480];
    double t0 = ms_since_start(vm);
    if (vmm_snapshot_restore(vm, s, msg, sizeof msg)) {
        snprintf(err, errlen, "restore: %s", msg);
        return -1;
    }
    double t1 = ms_since_start(vm);
    st_info("vmm.restore",
            "restored by %.1f ms after start-up: KVM and RAM %.1f, devices built %.1f, "
            "vCPUs created %.1f, state put back %.1f",
            t1, built_at[0], built_at[1] - built_at[0], built_at[2] - built_at[1], t1 - t0);
    return start_vcpus(vm, cfg, err, errlen);
}

int vmm_start_restored(vmm_vm *vm, const vmm_config *cfg, const vmm_snapshot *s, int mem_fd,
                       char *err, size_t errlen)
{
    if (vmm_build_restored(vm, cfg, mem_fd, err, errlen))
        return -1;
    return vmm_run_restored(vm, cfg, s, err, errlen);
}

/* The common end of a start and a restore: control socket, privileges, vCPU threads,
 * the event thread's filter. */
static int start_vcpus(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen)
{
    int rc;
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
    /* Made before the event thread's filter, which allows no clone; each installs its own. */
    if ((rc = vmm_migrate_threads_start(vm))) {
        snprintf(err, errlen, "starting the migration threads: %s", strerror(-rc));
        return -1;
    }
    if (cfg->seccomp && vmm_sandbox_event() < 0) {
        snprintf(err, errlen, "cannot install the seccomp filter");
        return -1;
    }
    __atomic_store_n(&vm->running, 1, __ATOMIC_RELEASE);
    st_info("vmm.start", "VM running%s: %d vCPU, %llu MiB, boot_id %s, %.1f ms after start-up",
            vm->restored ? " (restored from a snapshot)" : "", vm->nvcpus,
            (unsigned long long)cfg->memory_mib, vm->boot_id, ms_since_start(vm));
    return 0;
}
