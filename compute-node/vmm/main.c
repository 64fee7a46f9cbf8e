/*
 * main.c - stratus-vmm's command line and process lifetime.
 *
 *   stratus-vmm --config FILE            boot the VM FILE describes
 *   stratus-vmm --api-sock PATH          wait for PUT /vm/config and the "start" action
 *   stratus-vmm --restore DIR [--config FILE] [--api-sock PATH]   resume the VM snapshotted
 *                                        into DIR, under FILE (this host's config of it) if given
 *   stratus-vmm --upgrade-from SOCK [--api-sock PATH]  take over the VM another stratus-vmm
 *                                        hands over on SOCK (PUT /vm/upgrade; upgrade.c)
 *   stratus-vmm --config FILE --incoming tcp:ADDR:PORT [--api-sock PATH]  receive the VM a
 *               [--tls-ca F --tls-cert F --tls-key F]  live migration sends (PUT /vm/migrate;
 *                                        migrate.c), over mutual TLS with the --tls-* files
 *
 * Exit status: the guest's debug-exit value; 0 for a shutdown through the
 * API, a guest reset (on_reset=shutdown) or SIGTERM; 1 when KVM or the VMM
 * failed; 2 for a bad command line or config, or a snapshot refused (another format, a
 * corrupt or truncated file, a bad checksum, a memory file of another size). The event loop runs on
 * the main thread; when it ends the vCPUs are joined, the final counters logged and everything
 * freed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "devices.h"
#include "e1000.h"
#include "firmware.h"
#include "legacy.h"
#include "migmsg.h"
#include "migrate.h"
#include "pci.h"
#include "serial.h"
#include "snapshot.h"
#include "stratus/log.h"
#include "upgmsg.h"
#include "virtio_pci.h"
#include "vmm.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: stratus-vmm --config FILE | --api-sock PATH\n"
               "                   | --restore DIR [--config FILE] [--api-sock PATH]\n"
               "                   | --upgrade-from SOCK [--api-sock PATH]\n"
               "                   | --config FILE --incoming tcp:ADDR:PORT [--api-sock PATH]\n"
               "                     [--tls-ca F --tls-cert F --tls-key F]\n"
               "                   [--log-level LEVEL]\n"
               "  --config FILE     boot the virtual machine the JSON file describes\n"
               "  --api-sock PATH   serve the control API on PATH and wait for\n"
               "                    PUT /vm/config and PUT /vm/actions {\"action\": \"start\"}\n"
               "  --restore DIR     resume the VM snapshotted into DIR (PUT /vm/snapshot); with\n"
               "                    --config, under this host's config of that VM\n"
               "  --upgrade-from SOCK  listen on SOCK and take over the running VM another\n"
               "                    stratus-vmm hands over there (PUT /vm/upgrade)\n"
               "  --incoming tcp:ADDR:PORT  listen there for a live migration of the VM FILE\n"
               "                    describes (PUT /vm/migrate on the source)\n"
               "  --tls-ca F --tls-cert F --tls-key F  with --incoming: the link is TLS, the\n"
               "                    source proving itself with a certificate --tls-ca signed\n"
               "  --log-level       debug | info | warn | error (default info)\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    st_info("vmm.signal", "signal %d: shutting down", (int)sig);
    vmm_vm_stop(arg, 0);
}

static void teardown(vmm_vm *vm)
{
    vmm_migrate_stop();
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

/* A live upgrade's new side: the connection to the old process, guest RAM's memfd. */
typedef struct upgrade_in {
    int conn;
    int memfd;
} upgrade_in;

/* The address incoming_fd listens on, ADDR:PORT ([ADDR]:PORT for IPv6), in a static buffer. */
static const char *incoming_name(int fd)
{
    static char name[INET6_ADDRSTRLEN + 10];
    struct sockaddr_storage sa = {0};
    socklen_t len = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        if (sa.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        } else {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        }
    }
    snprintf(name, sizeof name, sa.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
    return name;
}

static int run(const vmm_config *cfg, const char *api_sock, const vmm_snapshot *snap, int mem_fd,
               upgrade_in *upg, int incoming_fd)
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
    if (incoming_fd >= 0) {
        /* A migration's target: the control API answers while the VM comes (migrate.c). */
        int rc = !api_sock && cfg->control_socket ? vmm_control_start(&vm, cfg->control_socket) : 0;
        if (rc) {
            st_error("vmm.control", "%s: %s", cfg->control_socket, strerror(-rc));
            close(incoming_fd);
            goto out;
        }
        if ((rc = vmm_migrate_incoming(&vm, cfg, incoming_fd))) {
            st_error("vmm.migrate", "starting the receiver: %s", strerror(-rc));
            close(incoming_fd);
            goto out;
        }
        /* Said once both the migration's socket and the control API answer: callers wait
         * for this line, then ask GET /vm/migrate (said at the bind, before the control API
         * was up, a caller quick enough found no socket). */
        st_info("vmm.migrate", "waiting for the migration on %s", incoming_name(incoming_fd));
    }
    if (upg) {
        vm.ram_memfd = upg->memfd; /* the VM's now (closed with it) */
        upg->memfd = -1;
    }
    if (snap && vmm_start_restored(&vm, cfg, snap, mem_fd, err, sizeof err)) {
        st_error(upg ? "vmm.upgrade" : "vmm.restore", "%s", err);
        vmm_vm_stop(&vm, upg ? 2 : 1);
        if (upg) {
            /* The old process resumes the guest on this NACK: every vCPU that a late failure
             * (after they started) left running is gone first, so the two never run it at once. */
            vmm_vcpus_join(&vm);
            vmm_upg_send(upg->conn, VMM_UPG_NACK, err, strlen(err), NULL, 0);
        }
    } else if (upg) {
        /* Running: the old process may go (it exits without touching the guest). */
        vmm_upg_send(upg->conn, VMM_UPG_ACK, NULL, 0, NULL, 0);
        st_info("vmm.upgrade", "took over the VM: %llu MiB of RAM shared, not copied",
                (unsigned long long)cfg->memory_mib);
    } else if (snap) {
        vmm_tap_announce(vm.base, cfg); /* restored, perhaps on another host */
    } else if (cfg && incoming_fd < 0 && vmm_start(&vm, cfg, err, sizeof err)) {
        st_error("vmm.start", "%s", err);
        vmm_vm_stop(&vm, 1);
    }
    event_base_dispatch(vm.base);
    vmm_vm_stop(&vm, 0); /* no-op when already stopping; keeps the first exit code */
    vmm_migrate_stop();  /* its threads kick and read the vCPUs */
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

/* --restore DIR [--config FILE]: a refused snapshot is a bad input (exit 2), as a bad config
 * is. With FILE, the VM runs under this host's config (its disk paths, taps, control socket,
 * firmware path), which must describe the machine the snapshot holds, as a migration's target
 * config must (vmm_migrate_compatible); without, under the snapshot's own. */
static int run_restore(const char *dir, const char *api_sock, const vmm_config *mine)
{
    vmm_snapshot snap;
    vmm_config saved;
    char err[600], sha[65] = "";
    int mem_fd;
    struct stat st;
    if (vmm_snapshot_load(dir, &snap, &mem_fd, err, sizeof err)) {
        st_error("vmm.restore", "%s", err);
        return 2;
    }
    int code = 2;
    if (vmm_config_parse(&saved, snap.config, snap.config_len, err, sizeof err)) {
        st_error("vmm.restore", "%s/vmstate: its config: %s", dir, err);
        goto out;
    }
    const vmm_config *cfg = mine ? mine : &saved;
    if (mine && mine->firmware && vmm_fw_digest(mine->firmware, sha, err, sizeof err))
        st_warn("vmm.restore", "firmware %s", err);
    if (mine &&
        !vmm_migrate_compatible(&saved, mine, saved.memory_mib << 20, sha, err, sizeof err)) {
        st_error("vmm.restore", "the config does not fit the snapshot in %s: %s", dir, err);
    } else if (fstat(mem_fd, &st) < 0 || (uint64_t)st.st_size != cfg->memory_mib << 20) {
        st_error("vmm.restore", "%s/memory: %lld bytes, the VM has %llu MiB of RAM", dir,
                 (long long)st.st_size, (unsigned long long)cfg->memory_mib);
    } else if (api_sock && cfg->control_socket) {
        st_error("vmm.restore",
                 "the %s config names its control socket (%s): no "
                 "--api-sock",
                 mine ? "given" : "snapshot's", cfg->control_socket);
    } else {
        st_info("vmm.restore", "restoring %s (written by %s)%s", dir, snap.writer,
                mine ? " under the given config" : "");
        code = run(cfg, api_sock, &snap, mem_fd, NULL, -1);
    }
    vmm_config_free(&saved);
out:
    close(mem_fd);
    vmm_snap_free(&snap);
    return code;
}

/* Listens on path for the old process's one connection (the path is removed once it came). */
static int accept_old(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        st_error("vmm.upgrade", "%s: socket path too long", path);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0) {
        st_error("vmm.upgrade", "%s: %s", path, strerror(errno));
        if (l >= 0)
            close(l);
        return -1;
    }
    st_info("vmm.upgrade", "waiting on %s for the VM (PUT /vm/upgrade on the old process)", path);
    int c;
    do {
        c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    } while (c < 0 && errno == EINTR);
    if (c < 0)
        st_error("vmm.upgrade", "%s: accept: %s", path, strerror(errno));
    close(l);
    unlink(path);
    return c;
}

/* --upgrade-from SOCK: a refused hand-over is a bad input (exit 2), answered NACK so that the
 * old process resumes its guest. */
static int run_upgrade(const char *path, const char *api_sock)
{
    int fds[VMM_UPG_MAX_FDS], nfds = 0, code = 2;
    uint8_t *buf = NULL;
    size_t len;
    uint32_t kind;
    char err[600], msg[400];
    vmm_snapshot snap;
    vmm_config cfg;
    int have_snap = 0, have_cfg = 0;
    upgrade_in upg = {.conn = accept_old(path), .memfd = -1};
    if (upg.conn < 0)
        return 1;
    if (vmm_upg_recv(upg.conn, &kind, &buf, &len, fds, &nfds, VMM_UPG_MAX_FDS, msg, sizeof msg)) {
        snprintf(err, sizeof err, "bad frame: %s", msg);
        goto refuse;
    }
    if (kind != VMM_UPG_STATE || nfds < 1) {
        snprintf(err, sizeof err, "expected the VM's state with guest RAM's memfd");
        goto refuse;
    }
    if (vmm_snap_read(&snap, buf, len, msg, sizeof msg)) {
        snprintf(err, sizeof err, "vmstate: %s", msg);
        goto refuse;
    }
    have_snap = 1;
    if (vmm_config_parse(&cfg, snap.config, snap.config_len, msg, sizeof msg)) {
        snprintf(err, sizeof err, "vmstate: its config: %s", msg);
        goto refuse;
    }
    have_cfg = 1;
    if (nfds != 1 + cfg.nnics) {
        snprintf(err, sizeof err, "%d descriptors for %d NICs (want RAM + one tap each)", nfds,
                 cfg.nnics);
        goto refuse;
    }
    if (api_sock && cfg.control_socket) {
        snprintf(err, sizeof err, "the config names its control socket (%s): no --api-sock",
                 cfg.control_socket);
        goto refuse;
    }
    upg.memfd = fds[0];
    for (int i = 0; i < cfg.nnics; i++)
        vmm_tap_adopt(cfg.nics[i].tap, fds[1 + i]);
    nfds = 0; /* the VM's now */
    st_info("vmm.upgrade", "taking over the VM from a process of %s", snap.writer);
    code = run(&cfg, api_sock, &snap, -1, &upg, -1);
    goto out;
refuse:
    st_error("vmm.upgrade", "%s", err);
    vmm_upg_send(upg.conn, VMM_UPG_NACK, err, strlen(err), NULL, 0);
out:
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (upg.memfd >= 0)
        close(upg.memfd);
    close(upg.conn);
    free(buf);
    if (have_cfg)
        vmm_config_free(&cfg);
    if (have_snap)
        vmm_snap_free(&snap);
    return code;
}

/* --incoming tcp:ADDR:PORT: the listening socket, or -1 (logged). */
static int listen_incoming(const char *uri)
{
    struct sockaddr_storage sa;
    unsigned len;
    char err[300];
    if (vmm_migrate_addr(uri, &sa, &len, err, sizeof err)) {
        st_error("vmm.migrate", "--incoming %s: %s", uri, err + strlen("field 'uri': "));
        return -1;
    }
    int one = 1, rcvbuf = VMM_MIG_RCVBUF, l = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l >= 0) {
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    if (l < 0 || bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 1) < 0) {
        st_error("vmm.migrate", "--incoming %s: %s", uri, strerror(errno));
        if (l >= 0)
            close(l);
        return -1;
    }
    return l;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *api_sock = NULL, *level = "info", *restore = NULL;
    const char *upgrade = NULL, *incoming = NULL, *tls[3] = {NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--api-sock") && i + 1 < argc)
            api_sock = argv[++i];
        else if (!strcmp(argv[i], "--restore") && i + 1 < argc)
            restore = argv[++i];
        else if (!strcmp(argv[i], "--upgrade-from") && i + 1 < argc)
            upgrade = argv[++i];
        else if (!strcmp(argv[i], "--incoming") && i + 1 < argc)
            incoming = argv[++i];
        else if (!strcmp(argv[i], "--tls-ca") && i + 1 < argc)
            tls[0] = argv[++i];
        else if (!strcmp(argv[i], "--tls-cert") && i + 1 < argc)
            tls[1] = argv[++i];
        else if (!strcmp(argv[i], "--tls-key") && i + 1 < argc)
            tls[2] = argv[++i];
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
    int ntls = !!tls[0] + !!tls[1] + !!tls[2];
    int bad = restore    ? !!incoming
              : upgrade  ? !!config || incoming
              : incoming ? !config
                         : !config == !api_sock;
    bad |= ntls && (!incoming || ntls != 3);
    if ((restore && upgrade) || bad || lv < 0) {
        if (incoming && !config)
            fprintf(stderr, "--incoming needs --config (this host's config of the VM)\n");
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
    if (restore) {
        int code = run_restore(restore, api_sock, config ? &cfg : NULL);
        if (config)
            vmm_config_free(&cfg);
        return code;
    }
    if (upgrade)
        return run_upgrade(upgrade, api_sock);
    int lfd = -1;
    if (incoming && api_sock && cfg.control_socket) {
        st_error("vmm.migrate", "the config names its control socket (%s): no --api-sock",
                 cfg.control_socket);
        vmm_config_free(&cfg);
        return 2;
    }
    if (ntls && vmm_migrate_incoming_tls(tls[0], tls[1], tls[2], err, sizeof err)) {
        st_error("vmm.migrate", "%s", err);
        vmm_config_free(&cfg);
        return 2;
    }
    if (incoming && (lfd = listen_incoming(incoming)) < 0) {
        vmm_config_free(&cfg);
        return 2;
    }
    int code = run(config ? &cfg : NULL, api_sock, NULL, -1, NULL, lfd);
    if (config)
        vmm_config_free(&cfg);
    return code;
}
