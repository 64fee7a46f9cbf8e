/*
 * main.c - stratus-vmm's command line and process lifetime.
 *
 *   stratus-vmm --config FILE            boot the VM FILE describes
 *   stratus-vmm --api-sock PATH          wait for PUT /vm/config and the "start" action
 *   stratus-vmm --restore DIR [--api-sock PATH]   resume the VM snapshotted into DIR
 *
 * Exit status: the guest's debug-exit value; 0 for a shutdown through the
 * API, a guest reset (on_reset=shutdown) or SIGTERM; 1 when KVM or the VMM
 * failed; 2 for a bad command line or config, or a snapshot refused (another format, a
 * corrupt or truncated file, a bad checksum, a memory file of another size). The event loop runs on
 * the main thread; when it ends the vCPUs are joined, the final counters logged and everything
 * freed.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "e1000.h"
#include "firmware.h"
#include "legacy.h"
#include "pci.h"
#include "serial.h"
#include "snapshot.h"
#include "stratus/log.h"
#include "virtio_pci.h"
#include "vmm.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stratus-vmm --config FILE | --api-sock PATH | --restore DIR [--api-sock PATH]\n"
            "                   [--log-level LEVEL]\n"
            "  --config FILE     boot the virtual machine the JSON file describes\n"
            "  --api-sock PATH   serve the control API on PATH and wait for\n"
            "                    PUT /vm/config and PUT /vm/actions {\"action\": \"start\"}\n"
            "  --restore DIR     resume the VM snapshotted into DIR (PUT /vm/snapshot)\n"
            "  --log-level       debug | info | warn | error (default info)\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    st_info("vmm.signal", "signal %d: shutting down", (int)sig);
    vmm_vm_stop(arg, 0);
}

static void teardown(vmm_vm *vm)
{
    vmm_control_stop();
    vmm_vcpus_join(vm);
    for (int i = 0; i < vm->ndevs; i++)
        vmm_virtio_destroy(vm->devs[i]);
    vm->ndevs = 0;
    for (int i = 0; i < vm->ne1000; i++)
        vmm_e1000_destroy(vm->e1000[i]);
    vm->ne1000 = 0;
    vmm_fw_free(vm);
    vmm_pci_free(vm);
    vmm_legacy_free(vm);
    vmm_serial_free(vm->serial);
    vm->serial = NULL;
    vmm_vcpus_free(vm);
    vmm_vm_destroy(vm);
}

static int run(const vmm_config *cfg, const char *api_sock, const vmm_snapshot *snap, int mem_fd)
{
    static vmm_vm vm; /* one VM per process; the control API refers to it */
    struct event *sigterm = NULL, *sigint = NULL;
    char err[512];
    int code = 1;

    vmm_vm_init(&vm);
    vm.base = event_base_new();
    if (!vm.base || vmm_vm_stop_event_init(&vm))
        goto out;
    sigterm = evsignal_new(vm.base, SIGTERM, on_signal, &vm);
    sigint = evsignal_new(vm.base, SIGINT, on_signal, &vm);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (api_sock) {
        int rc = vmm_control_start(&vm, api_sock);
        if (rc) {
            st_error("vmm.control", "%s: %s", api_sock, strerror(-rc));
            goto out;
        }
    }
    if (snap && vmm_start_restored(&vm, cfg, snap, mem_fd, err, sizeof err)) {
        st_error("vmm.restore", "%s", err);
        vmm_vm_stop(&vm, 1);
    } else if (!snap && cfg && vmm_start(&vm, cfg, err, sizeof err)) {
        st_error("vmm.start", "%s", err);
        vmm_vm_stop(&vm, 1);
    }
    event_base_dispatch(vm.base);
    vmm_vm_stop(&vm, 0); /* no-op when already stopping; keeps the first exit code */
    vmm_vcpus_join(&vm);
    pthread_mutex_lock(&vm.lock);
    code = vm.exit_code;
    int powered_off = vm.powered_off;
    pthread_mutex_unlock(&vm.lock);
    if (vm.running) {
        /* The final counters, for whoever collects logs after the process is gone. */
        json_t *state = vmm_state_json(&vm);
        st_log_fields(ST_LOG_INFO, "vmm.counters",
                      json_pack("{s:s, s:o, s:O}", "msg", "final counters and device state",
                                "counters", vmm_counters_json(&vm), "devices",
                                json_object_get(state, "devices")));
        json_decref(state);
    }
    st_info("vmm.exit", "VM stopped%s, exit status %d", powered_off ? " (guest power-off)" : "",
            code);
out:
    teardown(&vm);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (vm.stop_ev)
        event_free(vm.stop_ev);
    if (vm.base)
        event_base_free(vm.base);
    vmm_control_free();
    return code;
}

/* --restore DIR: a refused snapshot is a bad input (exit 2), as a bad config is. */
static int run_restore(const char *dir, const char *api_sock)
{
    vmm_snapshot snap;
    vmm_config cfg;
    char err[600];
    int mem_fd;
    struct stat st;
    if (vmm_snapshot_load(dir, &snap, &mem_fd, err, sizeof err)) {
        st_error("vmm.restore", "%s", err);
        return 2;
    }
    int code = 2;
    if (vmm_config_parse(&cfg, snap.config, snap.config_len, err, sizeof err)) {
        st_error("vmm.restore", "%s/vmstate: its config: %s", dir, err);
        goto out;
    }
    if (fstat(mem_fd, &st) < 0 || (uint64_t)st.st_size != cfg.memory_mib << 20) {
        st_error("vmm.restore", "%s/memory: %lld bytes, the VM has %llu MiB of RAM", dir,
                 (long long)st.st_size, (unsigned long long)cfg.memory_mib);
    } else if (api_sock && cfg.control_socket) {
        st_error("vmm.restore",
                 "the snapshot's config names its control socket (%s): no "
                 "--api-sock",
                 cfg.control_socket);
    } else {
        st_info("vmm.restore", "restoring %s (written by %s)", dir, snap.writer);
        code = run(&cfg, api_sock, &snap, mem_fd);
    }
    vmm_config_free(&cfg);
out:
    close(mem_fd);
    vmm_snap_free(&snap);
    return code;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *api_sock = NULL, *level = "info", *restore = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--api-sock") && i + 1 < argc)
            api_sock = argv[++i];
        else if (!strcmp(argv[i], "--restore") && i + 1 < argc)
            restore = argv[++i];
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
    if ((restore ? !!config : !config == !api_sock) || lv < 0) {
        usage(stderr);
        return 2;
    }
    st_log_init("vmm", (st_log_level)lv);
    evthread_use_pthreads();
    vmm_config cfg;
    char err[512];
    if (config && vmm_config_load(&cfg, config, err, sizeof err)) {
        st_error("vmm.config", "%s: %s", config, err);
        return 2;
    }
    if (restore)
        return run_restore(restore, api_sock);
    int code = run(config ? &cfg : NULL, api_sock, NULL, -1);
    if (config)
        vmm_config_free(&cfg);
    return code;
}
