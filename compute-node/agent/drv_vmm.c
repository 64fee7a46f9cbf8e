/*
 * drv_vmm.c - the stratus-vmm back end: one VMM process per instance.
 *
 * Files in the instance directory: vmm.sock (the control API), vmm.log (the
 * VMM's stderr: its JSON log, truncated at each launch, ending with the
 * `vmm.counters` and `vmm.exit` lines), serial.log (the guest's console,
 * appended across boots), vm.json (the config we PUT, kept for people).
 *
 * Launch is idempotent: if a VMM for this socket already runs (a launch a
 * dead agent began), it is reused: configured and started if it was cut off
 * before that, left alone if it runs. VMMs run in their own session (setsid)
 * with stdout/stderr on files and a bare environment, so they outlive the
 * agent, never write to a pipe nobody reads, and never see its secrets. Exit is observed through a
 * pidfd: the exit status of a child comes from waitid(); an adopted VMM is not our child, so its
 * exit status is read from the `vmm.exit` line of its log (none: it was killed).
 *
 * Live migration (api-gateway/migrate.c has the protocol; HELPERS' contract
 * of stratus-vmm): the target is started as `--config <dir>/vm.json
 * --incoming tcp:ADDR:PORT` and launched once GET /vm/migrate says
 * "incoming"; the source is sent with PUT /vm/migrate, polled with GET and
 * cancelled with DELETE. After "completed" the source VMM never runs the
 * guest again and exits 0 when stopped.
 */
#include "agent.h"
#include "jail.h"
#include "stratus/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct vmm_drv {
    char path[4096];
    char level[16];
    nd_jail_conf jail; /* .on == 0: unjailed */
} vmm_drv;

static int sys_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_kill(int fd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* A jailed VMM's socket is in <dir>/run (the one directory of the instance
 * its uid may write); an unjailed one's, and any an older agent started,
 * in <dir> itself. */
static void sock_path(const char *dir, char *out, size_t n)
{
    struct stat st;
    snprintf(out, n, "%s/run", dir);
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(out, n, "%s/run/vmm.sock", dir);
    else
        snprintf(out, n, "%s/vmm.sock", dir);
}

/* The instance's cgroup goes with its VMM. */
static void cgroup_gone(vmm_drv *v, const char *dir)
{
    const char *id = strrchr(dir, '/');
    if (v->jail.cg_on && id)
        nd_cgroup_remove(v->jail.cg_parent, id + 1);
}

static long api(const char *dir, const char *method, const char *path, const char *body,
                st_httpc_resp *r, long timeout_ms, char *err, size_t errlen)
{
    char sock[4200], url[256];
    sock_path(dir, sock, sizeof sock);
    snprintf(url, sizeof url, "http://localhost%s", path);
    st_httpc_req q = {.method = method,
                      .url = url,
                      .unix_sock = sock,
                      .body = body,
                      .body_len = body ? strlen(body) : 0,
                      .timeout_ms = timeout_ms};
    return st_httpc(&q, r, err, errlen);
}

/* GET /vm: fills state ("running", "not_started", ...) and boot id. */
static int vm_info(const char *dir, char *state, size_t sn, char *boot_id, size_t bn, char *err,
                   size_t errlen)
{
    st_httpc_resp r;
    long s = api(dir, "GET", "/vm", NULL, &r, 5000, err, errlen);
    json_t *j = s == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(j, "state"));
    const char *b = json_string_value(json_object_get(j, "boot_id"));
    int rc = -1;
    if (st) {
        snprintf(state, sn, "%s", st);
        snprintf(boot_id, bn, "%s", b ? b : "");
        rc = 0;
    } else if (s) {
        snprintf(err, errlen, "GET /vm answered %ld", s);
    }
    json_decref(j);
    st_httpc_resp_free(&r);
    return rc;
}

/* Waits for the pidfd to say the process ended; 1 ended, 0 timeout. */
static int wait_exit(int pidfd, long long timeout_ms)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    for (;;) {
        int n = poll(&p, 1, (int)timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0;
    }
}

/* wait_exit for a guest's grace period, cut short when *hurry is set:
 * looked at every 100 ms. */
static int wait_grace(int pidfd, long long timeout_ms, const int *hurry)
{
    for (long long left = timeout_ms; left > 0 && !nd_hurried(hurry); left -= 100)
        if (wait_exit(pidfd, left < 100 ? left : 100))
            return 1;
    return 0;
}

/* Kills and, when it is our child, reaps. */
static void kill_reap(pid_t pid, int pidfd)
{
    sys_pidfd_kill(pidfd, SIGKILL);
    wait_exit(pidfd, 5000);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
    (void)pid;
}

/* Connects to the socket until it answers, the process dies or time runs out. */
static int wait_socket(const char *sock, int pidfd, long long timeout_ms)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0;; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 0;
        if (wait_exit(pidfd, 0))
            return -ECHILD;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
            return -ETIMEDOUT;
        struct timespec d = {0, i < 20 ? 250000 : 2000000};
        nanosleep(&d, NULL);
    }
}

/* vm.json: one `disks` entry per disk, one `nics` entry per port (the VMM
 * names NICs net0, net1... in port order: its counters use those ids), and
 * the boot: "boot": "firmware" with the BIOS image (SeaBIOS runs the disk's
 * bootloader), or "boot": "kernel" with the kernel, its initrd when there
 * is one, and the command line. */
char *nd_vmm_config_json(const nd_vm_spec *s, char *err, size_t errlen)
{
    if (!nd_boot_name(s->boot) || (s->boot == ND_BOOT_FIRMWARE ? !s->firmware[0] : !s->kernel[0])) {
        snprintf(err, errlen, "the spec names no %s to boot",
                 s->boot == ND_BOOT_FIRMWARE ? "firmware" : "kernel");
        return NULL;
    }
    char serial[4200];
    snprintf(serial, sizeof serial, "%s/serial.log", s->dir);
    json_t *disks = json_array(), *nics = json_array();
    for (int i = 0; i < s->ndisks; i++)
        json_array_append_new(disks, json_pack("{s:s, s:s, s:s, s:b}", "id", s->disks[i].id, "path",
                                               s->disks[i].path, "format", s->disks[i].format,
                                               "read_only", s->disks[i].read_only));
    for (int i = 0; i < s->nports; i++) {
        const nd_vm_port *p = &s->ports[i];
        if (!nd_nic_model_name(p->model)) {
            snprintf(err, errlen, "port %s: stratus-vmm offers no NIC model %d", p->id,
                     (int)p->model);
            json_decref(disks);
            json_decref(nics);
            return NULL;
        }
        char id[16];
        snprintf(id, sizeof id, "net%d", i);
        json_t *n = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "tap", p->tap, "mac", p->mac,
                              "model", nd_nic_model_name(p->model));
        if (n && p->mtu)
            json_object_set_new(n, "mtu", json_integer(p->mtu));
        json_array_append_new(nics, n);
    }
    json_t *j = json_pack("{s:i, s:i, s:s, s:s, s:o, s:o, s:b, s:s}", "vcpus", s->vcpus,
                          "memory_mib", s->memory_mib, "boot", nd_boot_name(s->boot), "serial_log",
                          serial, "disks", disks, "nics", nics, "rng", 1, "on_reset", "restart");
    if (j && s->boot == ND_BOOT_FIRMWARE) {
        json_object_set_new(j, "firmware", json_string(s->firmware));
    } else if (j) {
        json_object_set_new(j, "kernel", json_string(s->kernel));
        json_object_set_new(j, "cmdline", json_string(s->cmdline));
        if (s->initrd[0])
            json_object_set_new(j, "initrd", json_string(s->initrd));
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        snprintf(err, errlen, "out of memory");
    return text;
}

/* PUT /vm/config then start; the VMM exits 1 after a failed start. */
static int configure_start(const nd_vm_spec *s, char *err, size_t errlen)
{
    char *cfg = nd_vmm_config_json(s, err, errlen);
    if (!cfg)
        return -1;
    char cpath[4200];
    snprintf(cpath, sizeof cpath, "%s/vm.json", s->dir);
    nd_write_file_atomic(cpath, cfg, strlen(cfg), 0);
    st_httpc_resp r;
    char m[300];
    long st = api(s->dir, "PUT", "/vm/config", cfg, &r, 10000, err, errlen);
    free(cfg);
    if (st != 204) {
        if (st)
            snprintf(err, errlen, "VMM refused its config (%ld): %s", st,
                     st_httpc_err_msg(&r, m, sizeof m));
        st_httpc_resp_free(&r);
        return -1;
    }
    st_httpc_resp_free(&r);
    st = api(s->dir, "PUT", "/vm/actions", "{\"action\":\"start\"}", &r, 30000, err, errlen);
    if (st != 204) {
        if (st)
            snprintf(err, errlen, "VMM start failed (%ld): %s", st,
                     st_httpc_err_msg(&r, m, sizeof m));
        st_httpc_resp_free(&r);
        return -1;
    }
    st_httpc_resp_free(&r);
    return 0;
}

/* The jailed spawn (jail.c): the same files, arguments and environment. */
/* The VMM's command line: its socket and log level, then extra (NULL or
 * NULL-terminated, at most 4 words: an incoming VM's --config and
 * --incoming). */
static void vmm_argv(vmm_drv *v, const char *sock, const char *const *extra, char *argv[10])
{
    int n = 0;
    argv[n++] = v->path;
    argv[n++] = "--api-sock";
    argv[n++] = (char *)sock;
    argv[n++] = "--log-level";
    argv[n++] = v->level;
    for (int i = 0; extra && extra[i] && i < 4; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
}

static int spawn_jailed(vmm_drv *v, const nd_vm_spec *s, const char *sock, const char *log,
                        const char *const *extra, pid_t *pid, char *err, size_t errlen)
{
    nd_jail *j = nd_jail_prepare(&v->jail, s, v->path, err, errlen);
    if (!j)
        return -1;
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char *argv[10];
    vmm_argv(v, sock, extra, argv);
    char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    int pfd = -1, rc = -1;
    if (in < 0 || out < 0)
        snprintf(err, errlen, "%s: %s", log, strerror(errno));
    else
        rc = nd_jail_spawn(j, argv, envp, in, out, pid, &pfd, err, errlen);
    if (pfd >= 0)
        close(pfd); /* the caller opens its own; the child is unreaped, so the pid is ours */
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    nd_jail_free(j);
    return rc;
}

static int spawn_vmm(vmm_drv *v, const nd_vm_spec *s, const char *sock, const char *const *extra,
                     pid_t *pid)
{
    char log[4200];
    snprintf(log, sizeof log, "%s/vmm.log", s->dir);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[10];
    vmm_argv(v, sock, extra, argv);
    /* a clean environment: the agent's own (its tokens may come from
     * STRATUS_NODE_* variables) is none of the VMM's business */
    char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    int rc = posix_spawn(pid, v->path, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return -rc;
}

/* GET /vm/migrate, parsed: 0, or -1 with err. */
static int mig_status(const char *dir, nd_mig_status *ms, char *err, size_t errlen)
{
    st_httpc_resp r;
    long st = api(dir, "GET", "/vm/migrate", NULL, &r, 5000, err, errlen);
    int rc = -1;
    if (st == 200)
        rc = nd_mig_status_parse(r.body, r.len, ms, err, errlen);
    else if (st)
        snprintf(err, errlen, "GET /vm/migrate answered %ld", st);
    st_httpc_resp_free(&r);
    return rc;
}

/* Where an incoming VMM stands: 1 waiting for (or receiving) its
 * migration, 2 it received it and runs the guest, 0 neither (err says). */
static int incoming_state(const char *dir, char *err, size_t errlen)
{
    nd_mig_status ms;
    char state[32] = "", boot[40];
    if (mig_status(dir, &ms, err, errlen) < 0)
        return 0;
    if (ms.state == ND_MIG_INCOMING)
        return 1;
    if (vm_info(dir, state, sizeof state, boot, sizeof boot, err, errlen) == 0 &&
        !strcmp(state, "running"))
        return 2;
    snprintf(err, errlen, "the incoming VMM is %s (migration %s)", state[0] ? state : "unknown",
             nd_mig_state_name(ms.state));
    return 0;
}

/* Starts the VM of spec, or with incoming (tcp:ADDR:PORT) a VMM waiting for
 * its migration there (--config, the config written first, --incoming). */
static int launch_vm(nd_driver *d, const nd_vm_spec *s, const char *incoming, nd_vm_handle *h,
                     int *pidfd, char *err, size_t errlen)
{
    vmm_drv *v = d->priv;
    char sock[4200], state[32] = "", boot[40] = "";
    sock_path(s->dir, sock, sizeof sock);
    *pidfd = -1;
    if (nd_vm_spec_check(s, err, errlen) < 0)
        return -1;
    if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "control socket path too long: %s", sock);
        return -1;
    }
    pid_t pid = 0;
    unsigned long long start = 0;
    int fd = -1, found = s->fresh ? 0 : nd_vmm_find(v->path, sock, h->pid, h->start, &pid, &start);
    if (found == 1 && (fd = sys_pidfd_open(pid)) >= 0) {
        unsigned long long again;
        if (nd_proc_start_time(pid, &again) < 0 || again != start) {
            close(fd); /* it went away between the scan and the pidfd */
            fd = -1;
        }
    }
    if (fd >= 0) {
        /* A VMM a previous agent started: finish its launch, never start a second. */
        if (wait_socket(sock, fd, 5000) < 0 ||
            vm_info(s->dir, state, sizeof state, boot, sizeof boot, err, errlen) < 0) {
            snprintf(err, errlen, "an earlier VMM (pid %d) for this instance does not answer",
                     (int)pid);
            sys_pidfd_kill(fd, SIGKILL);
            wait_exit(fd, 5000);
            close(fd);
            return -1;
        }
        if (!incoming && !strcmp(state, "not_started") && configure_start(s, err, errlen) < 0) {
            kill_reap(pid, fd);
            close(fd);
            return -1;
        }
    } else {
        unlink(sock);
        char run[4200];
        snprintf(run, sizeof run, "%s/run", s->dir);
        if (v->jail.on) {
            mkdir(run, 0700); /* the socket's directory, owned by the jail's uid */
        } else {
            rmdir(run); /* empty once a jailed VMM is gone: the socket is in <dir> again */
        }
        sock_path(s->dir, sock, sizeof sock);
        unlink(sock);
        char cpath[4200];
        const char *extra[] = {"--config", cpath, "--incoming", incoming, NULL};
        snprintf(cpath, sizeof cpath, "%s/vm.json", s->dir);
        if (incoming) {
            char *cfg = nd_vmm_config_json(s, err, errlen);
            int w = cfg ? nd_write_file_atomic(cpath, cfg, strlen(cfg), 0) : -1;
            free(cfg);
            if (w < 0) {
                if (cfg)
                    snprintf(err, errlen, "%s: cannot write the config", cpath);
                return -1;
            }
        }
        if (v->jail.on) {
            char log[4200];
            snprintf(log, sizeof log, "%s/vmm.log", s->dir);
            if (spawn_jailed(v, s, sock, log, incoming ? extra : NULL, &pid, err, errlen) < 0)
                return -1;
        } else {
            int rc = spawn_vmm(v, s, sock, incoming ? extra : NULL, &pid);
            if (rc < 0) {
                snprintf(err, errlen, "cannot run %s: %s", v->path, strerror(-rc));
                return -1;
            }
        }
        fd = sys_pidfd_open(pid);
        if (fd < 0) {
            snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        nd_proc_start_time(pid, &start);
        int rc = wait_socket(sock, fd, 10000);
        if (rc < 0) {
            snprintf(err, errlen, "the VMM %s before its control socket was up",
                     rc == -ECHILD ? "exited" : "timed out");
            kill_reap(pid, fd);
            close(fd);
            return -1;
        }
        if (!incoming && configure_start(s, err, errlen) < 0) {
            kill_reap(pid, fd);
            close(fd);
            return -1;
        }
    }
    if (incoming) {
        if (!incoming_state(s->dir, err, errlen)) {
            kill_reap(pid, fd);
            close(fd);
            return -1;
        }
        char e[128];
        vm_info(s->dir, state, sizeof state, boot, sizeof boot, e, sizeof e); /* its boot id */
    } else if (vm_info(s->dir, state, sizeof state, boot, sizeof boot, err, errlen) < 0 ||
               strcmp(state, "running")) {
        if (!err[0] || state[0])
            snprintf(err, errlen, "the VMM exited during start (state %s)",
                     state[0] ? state : "unknown");
        kill_reap(pid, fd);
        close(fd);
        return -1;
    }
    h->pid = pid;
    h->start = start;
    snprintf(h->boot_id, sizeof h->boot_id, "%s", boot);
    *pidfd = fd;
    return 0;
}

static int vmm_launch(nd_driver *d, const nd_vm_spec *s, nd_vm_handle *h, int *pidfd, char *err,
                      size_t errlen)
{
    return launch_vm(d, s, NULL, h, pidfd, err, errlen);
}

static int vmm_launch_incoming(nd_driver *d, const nd_vm_spec *s, const char *listen_uri,
                               nd_vm_handle *h, int *pidfd, char *err, size_t errlen)
{
    if (!listen_uri || strncmp(listen_uri, "tcp:", 4)) {
        snprintf(err, errlen, "an incoming VM listens on tcp:ADDR:PORT");
        return -1;
    }
    return launch_vm(d, s, listen_uri, h, pidfd, err, errlen);
}

/* A pidfd for h's process, checked against its start time; -1 if gone. */
static int open_checked(vmm_drv *v, const char *dir, nd_vm_handle *h)
{
    if (h->pid <= 0)
        return -1;
    char sock[4200];
    sock_path(dir, sock, sizeof sock);
    pid_t pid;
    unsigned long long st, again;
    if (nd_vmm_find(v->path, sock, h->pid, h->start, &pid, &st) != 1 || pid != h->pid)
        return -1;
    int fd = sys_pidfd_open(pid);
    if (fd >= 0 && (nd_proc_start_time(pid, &again) < 0 || again != st)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The power button first: a guest that acts on it powers off through ACPI
 * S5 and the VMM exits by itself. Otherwise the VMM's own shutdown (it
 * stops the vCPUs, flushes the disks and logs its final counters), and
 * SIGKILL when even that does not end it. */
static int vmm_stop(nd_driver *d, const char *dir, nd_vm_handle *h, int pidfd, long long timeout_ms,
                    const int *hurry, nd_stop_how *how, char *err, size_t errlen)
{
    *how = ND_STOP_NONE;
    int fd = pidfd >= 0 ? dup(pidfd) : open_checked(d->priv, dir, h);
    if (fd < 0)
        return 0; /* nothing runs */
    st_httpc_resp r;
    char e[256];
    long st = 0;
    if (timeout_ms > 0) {
        st = api(dir, "PUT", "/vm/actions", "{\"action\":\"power_button\"}", &r, 5000, e, sizeof e);
        st_httpc_resp_free(&r);
    }
    if (st == 204 && wait_grace(fd, timeout_ms, hurry)) {
        *how = ND_STOP_GRACEFUL;
    } else {
        *how = ND_STOP_FORCED;
        api(dir, "PUT", "/vm/actions", "{\"action\":\"shutdown\"}", &r, 5000, e, sizeof e);
        st_httpc_resp_free(&r);
        if (!wait_exit(fd, 5000)) {
            sys_pidfd_kill(fd, SIGKILL);
            wait_exit(fd, 5000);
        }
    }
    close(fd);
    cgroup_gone(d->priv, dir);
    return 0;
}

static int vmm_reset(nd_driver *d, const char *dir, nd_vm_handle *h, char *err, size_t errlen)
{
    st_httpc_resp r;
    char m[256];
    long st = api(dir, "PUT", "/vm/actions", "{\"action\":\"reset\"}", &r, 10000, err, errlen);
    if (st != 204 && st)
        snprintf(err, errlen, "reset refused (%ld): %s", st, st_httpc_err_msg(&r, m, sizeof m));
    st_httpc_resp_free(&r);
    return st == 204 ? 0 : -1;
}

static int vmm_pause(nd_driver *d, const char *dir, nd_vm_handle *h, int pause, char *err,
                     size_t errlen)
{
    st_httpc_resp r;
    char m[256];
    const char *body = pause ? "{\"action\":\"pause\"}" : "{\"action\":\"resume\"}";
    long st = api(dir, "PUT", "/vm/actions", body, &r, 10000, err, errlen);
    if (st != 204 && st)
        snprintf(err, errlen, "%s refused (%ld): %s", pause ? "pause" : "resume", st,
                 st_httpc_err_msg(&r, m, sizeof m));
    st_httpc_resp_free(&r);
    return st == 204 ? 0 : -1;
}

static int vmm_destroy(nd_driver *d, const char *dir, nd_vm_handle *h, int pidfd, char *err,
                       size_t errlen)
{
    int fd = pidfd >= 0 ? dup(pidfd) : open_checked(d->priv, dir, h);
    if (fd < 0)
        return 0;
    sys_pidfd_kill(fd, SIGKILL);
    wait_exit(fd, 10000);
    close(fd);
    cgroup_gone(d->priv, dir);
    return 0;
}

static char *log_tail(const char *dir, size_t *n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/vmm.log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    fstat(fd, &st);
    size_t want = st.st_size > 262144 ? 262144 : (size_t)st.st_size;
    char *buf = malloc(want + 1);
    ssize_t k = buf ? pread(fd, buf, want, st.st_size - (off_t)want) : -1;
    close(fd);
    if (k < 0) {
        free(buf);
        return NULL;
    }
    buf[k] = 0;
    *n = (size_t)k;
    return buf;
}

/* The last line holding `"event":"<ev>"`, parsed; NULL when none. */
static json_t *last_event(const char *dir, const char *ev)
{
    size_t n;
    char *buf = log_tail(dir, &n);
    if (!buf)
        return NULL;
    char pat[64];
    snprintf(pat, sizeof pat, "\"event\":\"%s\"", ev);
    json_t *found = NULL;
    char *line = buf, *save = NULL;
    for (char *l = strtok_r(line, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strstr(l, pat)) {
            json_t *j = json_loads(l, 0, NULL);
            if (j) {
                json_decref(found);
                found = j;
            }
        }
    free(buf);
    return found;
}

/* Exit status from the last `vmm.exit` line of dir/vmm.log; -1 when none. */
static int exit_from_log(const char *dir, int *code)
{
    json_t *j = last_event(dir, "vmm.exit");
    const char *msg = json_string_value(json_object_get(j, "msg"));
    const char *p = msg ? strstr(msg, "exit status ") : NULL;
    int rc = -1;
    if (p) {
        *code = atoi(p + 12);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/*
 * stratus-vmm's exit status is 0 after a shutdown (API, SIGTERM, a guest
 * reset with on_reset=shutdown, an ACPI power-off), 1 when KVM or the VMM
 * failed, 2 for a bad config, or the byte a guest wrote to the debug-exit
 * port (the test guest: 16 pass, 17 fail), which the VMM logs as
 * `vmm.debug_exit`. A guest's exit code is no cloud concept: a debug exit
 * is a guest powering off, stopped like status 0; 1, 2 and any status with
 * no debug exit behind it are the VMM failing, as are signals and an end
 * the agent did not see (no `vmm.exit` line: killed).
 */
void nd_vmm_exit_classify(const char *dir, int code, int sig, int known, nd_vm_exit *x)
{
    memset(x, 0, sizeof *x);
    if (!known) {
        sig = 0;
        if (exit_from_log(dir, &code) < 0)
            code = -1;
    }
    x->code = code;
    x->signal = sig;
    json_t *dbg = code > 0 && !sig ? last_event(dir, "vmm.debug_exit") : NULL;
    const char *m = json_string_value(json_object_get(dbg, "msg"));
    const char *p = m ? strstr(m, "wrote ") : NULL;
    int guest_exit = p && (int)(strtoul(p + 6, NULL, 0) & 0xff) == code;
    json_decref(dbg);
    x->stopped = !sig && (code == 0 || guest_exit);
    if (x->stopped)
        return;
    if (sig)
        snprintf(x->fault, sizeof x->fault, "the VMM was killed by signal %d", sig);
    else if (code >= 0)
        snprintf(x->fault, sizeof x->fault, "the VMM exited with status %d", code);
    else if (known)
        snprintf(x->fault, sizeof x->fault, "the VM ended without an exit status");
    else
        snprintf(x->fault, sizeof x->fault,
                 "the VMM ended while the agent was away and left no exit status");
}

char *nd_vmm_final_counters(const char *dir)
{
    json_t *j = last_event(dir, "vmm.counters");
    json_t *c = json_object_get(j, "counters");
    char *out = json_is_object(c) ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(j);
    return out;
}

static int vmm_status(nd_driver *d, const char *dir, nd_vm_handle *h, nd_vm_status *st, int *pidfd)
{
    vmm_drv *v = d->priv;
    char sock[4200], state[32] = "", boot[40] = "", err[256];
    sock_path(dir, sock, sizeof sock);
    memset(st, 0, sizeof *st);
    *pidfd = -1;
    pid_t pid;
    unsigned long long start, again;
    if (nd_vmm_find(v->path, sock, h->pid, h->start, &pid, &start) == 1) {
        int fd = sys_pidfd_open(pid);
        if (fd >= 0 && nd_proc_start_time(pid, &again) == 0 && again == start) {
            h->pid = pid;
            h->start = start;
            if (wait_socket(sock, fd, 3000) == 0 &&
                vm_info(dir, state, sizeof state, boot, sizeof boot, err, sizeof err) == 0) {
                snprintf(h->boot_id, sizeof h->boot_id, "%s", boot);
                st->state = !strcmp(state, "not_started") ? ND_VM_NOT_STARTED : ND_VM_RUNNING;
            } else {
                st->state = ND_VM_RUNNING; /* alive but mute: watch it all the same */
            }
            *pidfd = fd;
            return 0;
        }
        if (fd >= 0)
            close(fd);
    }
    if (h->pid > 0 || h->boot_id[0]) {
        int code;
        st->state = ND_VM_EXITED;
        st->exit_code = exit_from_log(dir, &code) == 0 ? code : -1;
        st->signal = st->exit_code < 0 ? SIGKILL : 0;
    } else {
        st->state = ND_VM_ABSENT;
    }
    return 0;
}

static int vmm_counters(nd_driver *d, const char *dir, nd_vm_handle *h, char **json, char *err,
                        size_t errlen)
{
    st_httpc_resp r;
    long st = api(dir, "GET", "/vm/counters", NULL, &r, 5000, err, errlen);
    if (st != 200) {
        if (st)
            snprintf(err, errlen, "GET /vm/counters answered %ld", st);
        st_httpc_resp_free(&r);
        return -1;
    }
    *json = r.body;
    r.body = NULL; /* the caller's now */
    st_httpc_resp_free(&r);
    return 0;
}

static int vmm_console(nd_driver *d, const char *dir, nd_vm_handle *h, size_t max, char **buf,
                       size_t *len, long long *marker)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/serial.log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    fstat(fd, &st);
    long long m = (long long)st.st_size * 1000003LL ^
                  ((long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    if (m == *marker) {
        close(fd);
        return 1; /* unchanged */
    }
    size_t want = (size_t)st.st_size > max ? max : (size_t)st.st_size;
    char *b = malloc(want + 1);
    ssize_t k = b ? pread(fd, b, want, st.st_size - (off_t)want) : -1;
    close(fd);
    if (k < 0) {
        free(b);
        return -EIO;
    }
    b[k] = 0;
    *buf = b;
    *len = (size_t)k;
    *marker = m;
    return 0;
}

/* PUT /vm/migrate: 202 at once; 409 is one already under way (an agent
 * that restarted asks again), not an error. */
static int vmm_migrate_out(nd_driver *d, const char *dir, nd_vm_handle *h, const nd_mig_params *p,
                           char *err, size_t errlen)
{
    json_t *j = json_pack("{s:s}", "uri", p->uri ? p->uri : "");
    if (j && p->downtime_ms > 0)
        json_object_set_new(j, "downtime_ms", json_integer(p->downtime_ms));
    if (j && p->timeout_ms > 0)
        json_object_set_new(j, "timeout_ms", json_integer(p->timeout_ms));
    if (j && p->on_timeout)
        json_object_set_new(j, "on_timeout", json_string(p->on_timeout));
    if (j && p->block_migration)
        json_object_set_new(j, "block_migration", json_true());
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st_httpc_resp r;
    char m[256];
    long st = api(dir, "PUT", "/vm/migrate", body, &r, 10000, err, errlen);
    free(body);
    if (st != 202 && st != 409 && st)
        snprintf(err, errlen, "migrate refused (%ld): %s", st, st_httpc_err_msg(&r, m, sizeof m));
    st_httpc_resp_free(&r);
    return st == 202 || st == 409 ? 0 : -1;
}

static int vmm_migrate_status(nd_driver *d, const char *dir, nd_vm_handle *h, nd_mig_status *ms,
                              char *err, size_t errlen)
{
    return mig_status(dir, ms, err, errlen);
}

static int vmm_migrate_cancel(nd_driver *d, const char *dir, nd_vm_handle *h, char *err,
                              size_t errlen)
{
    st_httpc_resp r;
    char m[256];
    long st = api(dir, "DELETE", "/vm/migrate", NULL, &r, 10000, err, errlen);
    if (st / 100 != 2 && st)
        snprintf(err, errlen, "cancel refused (%ld): %s", st, st_httpc_err_msg(&r, m, sizeof m));
    st_httpc_resp_free(&r);
    return st / 100 == 2 ? 0 : -1;
}

static void vmm_exit_status(nd_driver *d, const char *dir, const nd_vm_handle *h, int code, int sig,
                            int known, nd_vm_exit *x)
{
    nd_vmm_exit_classify(dir, code, sig, known, x);
}

static char *vmm_final_counters(nd_driver *d, const char *dir, const nd_vm_handle *h)
{
    return nd_vmm_final_counters(dir);
}

static void vmm_free(nd_driver *d)
{
    free(d->priv);
    free(d);
}

static const nd_driver_ops vmm_ops = {
    .name = "vmm",
    .caps = ND_CAP_EXIT_WATCH | ND_CAP_FINAL_COUNTERS | ND_CAP_MIGRATE | ND_CAP_BLOCK_MIGRATE,
    .launch = vmm_launch,
    .stop = vmm_stop,
    .pause = vmm_pause,
    .reset = vmm_reset,
    .destroy = vmm_destroy,
    .status = vmm_status,
    .counters = vmm_counters,
    .console = vmm_console,
    .exit_status = vmm_exit_status,
    .final_counters = vmm_final_counters,
    .launch_incoming = vmm_launch_incoming,
    .migrate_out = vmm_migrate_out,
    .migrate_status = vmm_migrate_status,
    .migrate_cancel = vmm_migrate_cancel,
    .free = vmm_free,
};

nd_driver *nd_driver_vmm_new(const nd_vmm_opts *o, char *err, size_t errlen)
{
    if (access(o->vmm_path, X_OK) < 0) {
        snprintf(err, errlen, "vmm.path %s: %s", o->vmm_path, strerror(errno));
        return NULL;
    }
    nd_driver *d = calloc(1, sizeof *d);
    vmm_drv *v = calloc(1, sizeof *v);
    if (!d || !v) {
        free(d);
        free(v);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!realpath(o->vmm_path, v->path))
        snprintf(v->path, sizeof v->path, "%s", o->vmm_path);
    snprintf(v->level, sizeof v->level, "%s",
             o->log_level && *o->log_level ? o->log_level : "info");
    if (o->jail)
        v->jail = *o->jail;
    d->ops = &vmm_ops;
    d->priv = v;
    return d;
}
