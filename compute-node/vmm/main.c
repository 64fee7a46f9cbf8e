/*
 * main.c - stratus-vmm: `stratus-vmm --config FILE` boots the VM described
 * by FILE and exits when it stops, with the guest's debug-exit value (0 for
 * a shutdown through the API, a guest reset or SIGTERM; 1 when the VMM or
 * KVM failed; 2 for a bad command line or config).
 *
 * Set-up order: VM and RAM, the event base, legacy devices, PCI and the
 * virtio devices, the kernel, vCPUs (each installs its own seccomp filter),
 * the control socket, then the event thread's filter and its loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "devices.h"
#include "legacy.h"
#include "pci.h"
#include "sandbox.h"
#include "serial.h"
#include "stratus/log.h"
#include "vmm.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: stratus-vmm --config FILE [--log-level debug|info|warn|error]\n"
               "Boots the virtual machine described by the JSON file FILE.\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    st_info("vmm.signal", "signal %d: shutting down", (int)sig);
    vmm_vm_stop(arg, 0);
}

static int add_devices(vmm_vm *vm, const vmm_config *cfg)
{
    int rc;
    if ((rc = vmm_serial_init(vm, cfg->serial_log)) || (rc = vmm_legacy_init(vm)) ||
        (rc = vmm_pci_init(vm)))
        return rc;
    for (int i = 0; i < cfg->ndisks; i++)
        if ((rc = vmm_blk_create(vm, &cfg->disks[i])))
            return rc;
    for (int i = 0; i < cfg->nnics; i++)
        if ((rc = vmm_net_create(vm, &cfg->nics[i])))
            return rc;
    if (cfg->rng && (rc = vmm_rng_create(vm)))
        return rc;
    return 0;
}

static int run(const vmm_config *cfg)
{
    vmm_vm vm;
    struct event *sigterm = NULL, *sigint = NULL;
    int rc, code = 1;

    if (vmm_vm_create(&vm, cfg))
        return 1;
    vm.base = event_base_new();
    if (!vm.base || vmm_vm_stop_event_init(&vm))
        goto out;
    if ((rc = add_devices(&vm, cfg))) {
        st_error("vmm.devices", "device set-up failed: %s", strerror(-rc));
        goto out;
    }
    if (vmm_boot_load(&vm) || vmm_vcpus_create(&vm))
        goto out;
    if (cfg->control_socket && (rc = vmm_control_start(&vm, cfg->control_socket))) {
        st_error("vmm.control", "%s: %s", cfg->control_socket, strerror(-rc));
        goto out;
    }
    sigterm = evsignal_new(vm.base, SIGTERM, on_signal, &vm);
    sigint = evsignal_new(vm.base, SIGINT, on_signal, &vm);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (vmm_drop_privileges() < 0) {
        vmm_vm_stop(&vm, 1);
    } else if ((rc = vmm_vcpus_start(&vm))) {
        st_error("vmm.cpu", "starting vCPUs: %s", strerror(-rc));
        vmm_vm_stop(&vm, 1);
    } else if (cfg->seccomp && vmm_sandbox_event() < 0) {
        vmm_vm_stop(&vm, 1);
    } else {
        st_info("vmm.start", "VM running: %d vCPU, %llu MiB, boot_id %s", vm.nvcpus,
                (unsigned long long)cfg->memory_mib, vm.boot_id);
        event_base_dispatch(vm.base);
    }
    vmm_vm_stop(&vm, 0); /* no-op when already stopping; keeps the first exit code */
    vmm_vcpus_join(&vm);
    pthread_mutex_lock(&vm.lock);
    code = vm.exit_code;
    pthread_mutex_unlock(&vm.lock);
    /* The final counters, for whoever collects logs after the process is gone. */
    json_t *state = vmm_state_json(&vm);
    st_log_fields(ST_LOG_INFO, "vmm.counters",
                  json_pack("{s:s, s:o, s:O}", "msg", "final counters and device state", "counters",
                            vmm_counters_json(&vm), "devices", json_object_get(state, "devices")));
    json_decref(state);
    st_info("vmm.exit", "VM stopped, exit status %d", code);
out:
    vmm_control_stop();
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (vm.stop_ev)
        event_free(vm.stop_ev);
    vmm_vcpus_join(&vm); /* no-op when joined above; closes vCPU fds on early errors */
    for (int i = 0; i < vm.ndevs; i++)
        vmm_virtio_destroy(vm.devs[i]);
    vmm_pci_free(&vm);
    vmm_serial_free(vm.serial);
    if (vm.base)
        event_base_free(vm.base);
    vmm_vcpus_free(&vm);
    vmm_vm_destroy(&vm);
    return code;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *level = "info";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--log-level") && i + 1 < argc)
            level = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    int lv = st_log_level_parse(level);
    if (!config || lv < 0) {
        usage(stderr);
        return 2;
    }
    st_log_init("vmm", (st_log_level)lv);
    evthread_use_pthreads();
    vmm_config cfg;
    char err[512];
    if (vmm_config_load(&cfg, config, err, sizeof err)) {
        st_error("vmm.config", "%s: %s", config, err);
        return 2;
    }
    int code = run(&cfg);
    vmm_config_free(&cfg);
    return code;
}
