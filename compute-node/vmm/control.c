/*
 * control.c - the control API server (see control.h for the resources).
 *
 * common/'s HTTP server (http.h), embedded on the event thread's loop
 * (st_http_server_attach): it parses HTTP, routes by "METHOD /path" (405
 * with Allow, 404, as JSON errors), gives every request an X-Request-Id and
 * a deadline, caps the connections (httpguard.h) and bounds header and body
 * sizes. The socket is created 0600 (whoever can talk to it owns the VM).
 * "shutdown" answers 204 first and stops the VM once the reply has been
 * written (st_http_after_reply), so the caller always sees its answer.
 */
#include "control.h"
#include "stratus/errcode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "migrate.h"
#include "serial.h"
#include "snapshot.h"
#include "stratus/http.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "upgrade.h"

/* A request must be in whole within this; the agent's are a few hundred bytes. */
#define CONTROL_DEADLINE_S 10
/* A connection's idle limit once its request is in. A handler may hold the event thread for
 * seconds (a snapshot writes the whole of guest RAM: 12.3 s for 1 GiB under the nested ASan
 * VMM), and a connection whose timer ran out meanwhile would lose its reply. */
#define CONTROL_IDLE_S 120
#define CONTROL_MAX_CONNS 16
#define CONTROL_MAX_BODY (64 * 1024)

static st_http_server *g_http;
static char g_path[108];
static ino_t g_ino; /* the socket file bound: a live upgrade's new process may bind the path anew */
static vmm_config g_cfg; /* PUT /vm/config, before start */
static int g_configured;

static int running(vmm_vm *vm)
{
    return __atomic_load_n(&vm->running, __ATOMIC_ACQUIRE);
}

#define MIGRATED "the VM has migrated: its target runs it (stop this process)"

static int migrated(vmm_vm *vm)
{
    return __atomic_load_n(&vm->migrated, __ATOMIC_ACQUIRE);
}

/* 1 once a 409 has been answered because the VM is not started, or is migrated
 * away (the guard of every resource that acts on a running VM). */
static int refused_not_running(st_http_req *r, vmm_vm *vm, int or_migrated)
{
    if (!running(vm))
        st_http_reply_error(r, 409, ST_E_CONFLICT, "the VM is not started");
    else if (or_migrated && migrated(vm))
        st_http_reply_error(r, 409, ST_E_CONFLICT, MIGRATED);
    else
        return 0;
    return 1;
}

static void reply_empty(st_http_req *r)
{
    st_http_reply_json(r, 204, NULL);
}

static void stop_with_error(void *vm)
{
    vmm_vm_stop(vm, 1);
}

static void stop_after_reply(void *vm)
{
    vmm_vm_stop(vm, 0);
}

/* The button is pressed once the 204 is on the wire: a guest that powers off at once makes
 * the process exit, and a reply still queued then would be lost (the caller saw a failed
 * request for a press that worked). */
static void press_after_reply(void *vm)
{
    vmm_vm_power_button(vm);
}

/* A body that is a JSON object with one string member, key (1..max bytes): the object (its
 * string in *val), or NULL once the error has been answered. */
static json_t *body_field(st_http_req *r, const char *key, size_t max, const char **val)
{
    const char *const keys[] = {key, NULL};
    size_t len;
    char err[256];
    const char *buf = st_http_body(r, &len);
    if (!buf) {
        st_http_reply_error(r, 500, ST_E_INTERNAL, "out of memory");
        return NULL;
    }
    json_t *j = st_json_parse_object(buf, len, err, sizeof err);
    if (j && (st_json_only_keys(j, keys, err, sizeof err) ||
              st_json_get_str(j, key, ST_JSON_REQUIRED, 1, max, val, err, sizeof err))) {
        json_decref(j);
        j = NULL;
    }
    if (!j)
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
    return j;
}

/* GET /vm */
static void h_vm(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    if (!running(vm))
        st_http_reply_json(r, 200,
                           json_pack("{s:s, s:s, s:b}", "state", "not_started", "boot_id",
                                     vm->boot_id, "configured", g_configured));
    else
        st_http_reply_json(r, 200, vmm_state_json(vm));
}

/* PUT /vm/config */
static void h_config(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    size_t len;
    char err[512];
    vmm_config c;
    if (running(vm)) {
        st_http_reply_error(r, 409, ST_E_CONFLICT, "the VM is already started");
        return;
    }
    const char *buf = st_http_body(r, &len);
    if (!buf) {
        st_http_reply_error(r, 500, ST_E_INTERNAL, "out of memory");
        return;
    }
    if (vmm_config_parse(&c, buf, len, err, sizeof err)) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    if (c.control_socket) {
        vmm_config_free(&c);
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                            "field 'control_socket' is set by --api-sock, not by the config");
        return;
    }
    if (g_configured)
        vmm_config_free(&g_cfg);
    g_cfg = c;
    g_configured = 1;
    reply_empty(r);
}

static void do_start(vmm_vm *vm, st_http_req *r)
{
    char err[512];
    if (running(vm)) {
        st_http_reply_error(r, 409, ST_E_CONFLICT, "the VM is already started");
        return;
    }
    if (vmm_migrate_is_incoming()) { /* its VM is being built and received (migrate.c) */
        st_http_reply_error(r, 409, ST_E_CONFLICT, "the VM comes by a live migration");
        return;
    }
    if (!g_configured) {
        st_http_reply_error(r, 409, ST_E_CONFLICT, "no configuration yet: PUT /vm/config first");
        return;
    }
    if (vmm_start(vm, &g_cfg, err, sizeof err)) {
        st_error("vmm.start", "%s", err);
        /* A half-built VM is not reusable: answer, then end the process (status 1). */
        st_http_after_reply(r, stop_with_error, vm);
        st_http_reply_error(r, 400, ST_E_START_FAILED, "%s", err);
        return;
    }
    reply_empty(r);
}

/* PUT /vm/actions {"action"} */
static void h_actions(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    const char *action = NULL;
    json_t *j = body_field(r, "action", 32, &action);
    if (!j)
        return;
    int rc = 0, guarded = !strcmp(action, "pause") || !strcmp(action, "resume") ||
                          !strcmp(action, "reset") || !strcmp(action, "power_button");
    if (!strcmp(action, "start")) {
        do_start(vm, r);
    } else if (!strcmp(action, "shutdown") || !strcmp(action, "stop")) {
        st_http_after_reply(r, stop_after_reply, vm);
        reply_empty(r);
    } else if (!guarded) {
        st_http_reply_error(
            r, 400, ST_E_INVALID_REQUEST,
            "field 'action' must be one of start, pause, resume, shutdown (or stop), reset, "
            "power_button");
    } else if (!refused_not_running(r, vm, 1)) {
        if (!strcmp(action, "pause"))
            rc = vmm_vm_pause(vm);
        else if (!strcmp(action, "resume"))
            rc = vmm_vm_resume(vm);
        else if (!strcmp(action, "reset"))
            rc = vmm_vm_reset(vm);
        else
            st_http_after_reply(r, press_after_reply, vm);
        if (rc == -ESHUTDOWN)
            st_http_reply_error(r, 409, ST_E_CONFLICT, "the VM is stopping");
        else if (rc)
            st_http_reply_error(r, 500, ST_E_INTERNAL, "%s", strerror(-rc));
        else
            reply_empty(r);
    }
    json_decref(j);
}

/* PUT /vm/snapshot {"dir": PATH}: as Firecracker's, only for a paused VM. */
static void h_snapshot(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    char err[512];
    const char *dir = NULL;
    struct stat st;
    if (refused_not_running(r, vm, 1))
        return;
    json_t *j = body_field(r, "dir", 4000, &dir);
    if (!j)
        return;
    int rc;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "field 'dir': %s is not a directory",
                            dir);
    } else if (vmm_vm_wait_parked(vm)) {
        st_http_reply_error(r, 409, ST_E_CONFLICT,
                            "the VM must be paused for a snapshot (PUT /vm/actions pause)");
    } else if ((rc = vmm_snapshot_save(vm, dir, err, sizeof err))) {
        st_error("vmm.snapshot", "%s: %s", dir, err);
        st_http_reply_error(r, rc == -ENOTSUP ? 409 : 500,
                            rc == -ENOTSUP ? ST_E_CONFLICT : ST_E_INTERNAL, "%s", err);
    } else {
        reply_empty(r);
    }
    json_decref(j);
}

/* PUT /vm/upgrade {"socket": PATH}: hand the VM to the stratus-vmm started with
 * --upgrade-from PATH (upgrade.c); on success this process answers, then exits 0. */
static void h_upgrade(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    char err[600];
    const char *sock = NULL;
    if (refused_not_running(r, vm, 1))
        return;
    json_t *j = body_field(r, "socket", 107, &sock);
    if (!j)
        return;
    int rc = vmm_upgrade_send(vm, sock, err, sizeof err);
    json_decref(j);
    if (rc) {
        st_http_reply_error(r, rc == -ENOTSUP ? 409 : 500,
                            rc == -ENOTSUP ? ST_E_CONFLICT : ST_E_INTERNAL, "%s", err);
        return;
    }
    st_http_after_reply(r, stop_after_reply, vm);
    reply_empty(r);
}

/* GET /vm/migrate: a migration's progress ({"state": "incoming"} on a waiting target). */
static void h_migrate_get(st_http_req *r, void *arg)
{
    (void)arg;
    st_http_reply_json(r, 200, vmm_migrate_status());
}

/* DELETE /vm/migrate: cancels the migration under way; the source resumes. */
static void h_migrate_cancel(st_http_req *r, void *arg)
{
    (void)arg;
    if (vmm_migrate_cancel())
        st_http_reply_error(r, 409, ST_E_CONFLICT, "no migration is active");
    else
        st_http_reply_json(r, 202, vmm_migrate_status());
}

/* PUT /vm/migrate: starts a live migration; it runs in the background (migrate.c). */
static void h_migrate(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    char err[600];
    size_t len;
    vmm_migrate_req mr;
    if (refused_not_running(r, vm, 0))
        return;
    const char *buf = st_http_body(r, &len);
    if (!buf)
        st_http_reply_error(r, 500, ST_E_INTERNAL, "out of memory");
    else if (vmm_migrate_parse(buf, len, &mr, err, sizeof err))
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
    else if (vmm_migrate_start(vm, &mr, err, sizeof err))
        st_http_reply_error(r, 409, ST_E_CONFLICT, "%s", err);
    else
        st_http_reply_json(r, 202, vmm_migrate_status());
}

/* GET /vm/counters */
static void h_counters(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    if (!refused_not_running(r, vm, 0))
        st_http_reply_json(r, 200, vmm_counters_json(vm));
}

/* GET /vm/serial?tail=N: the last N lines of serial output. */
static void h_serial(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    long tail = 0;
    if (refused_not_running(r, vm, 0))
        return;
    const char *t = st_http_query(r, "tail");
    if (t) {
        char *end;
        errno = 0;
        tail = strtol(t, &end, 10);
        if (errno || *end || end == t || tail < 0 || tail > 100000) {
            st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                                "query 'tail' must be an integer from 0 to 100000");
            return;
        }
    }
    size_t len = 0;
    char *text = vmm_serial_tail(vm->serial, (int)tail, &len);
    if (!text) {
        st_http_reply_error(r, 500, ST_E_INTERNAL, "out of memory");
        return;
    }
    st_http_reply_raw(r, 200, "text/plain; charset=utf-8", text, len);
    free(text);
}

/* POST /vm/serial: the body's bytes, as typed at the console, for the guest to read
 * from COM1. Only what the receive FIFO has room for is taken; "accepted" says how
 * much, and the caller sends the rest again once the guest has read. */
static void h_serial_input(st_http_req *r, void *arg)
{
    vmm_vm *vm = arg;
    size_t len;
    if (refused_not_running(r, vm, 0))
        return;
    const char *buf = st_http_body(r, &len);
    if (!buf) {
        st_http_reply_error(r, 500, ST_E_INTERNAL, "out of memory");
        return;
    }
    if (len > VMM_SERIAL_INPUT_MAX) {
        st_http_reply_error(r, 413, ST_E_TOO_LARGE, "at most 4096 bytes of console input at once");
        return;
    }
    size_t put = vmm_serial_input(vm->serial, (const uint8_t *)buf, len);
    st_http_reply_json(
        r, 200, json_pack("{s:I, s:I}", "accepted", (json_int_t)put, "bytes", (json_int_t)len));
}

static const struct {
    const char *pattern;
    st_http_handler h;
} routes[] = {
    {"GET /vm", h_vm},
    {"PUT /vm/config", h_config},
    {"PUT /vm/actions", h_actions},
    {"PUT /vm/snapshot", h_snapshot},
    {"PUT /vm/upgrade", h_upgrade},
    {"GET /vm/migrate", h_migrate_get},
    {"PUT /vm/migrate", h_migrate},
    {"DELETE /vm/migrate", h_migrate_cancel},
    {"GET /vm/counters", h_counters},
    {"GET /vm/serial", h_serial},
    {"POST /vm/serial", h_serial_input},
};

int vmm_control_start(vmm_vm *vm, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (g_http)
        return 0; /* serving already (a migration's target serves while it waits) */
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    char err[256];
    st_http_opts o = {.max_body = CONTROL_MAX_BODY,
                      .timeout_s = CONTROL_DEADLINE_S,
                      .idle_timeout_s = CONTROL_IDLE_S,
                      .max_conns = CONTROL_MAX_CONNS,
                      .no_signals = 1,
                      .metrics_closed = 1};
    st_http_server *s = st_http_server_new(&o, err, sizeof err);
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (st_http_route(s, routes[i].pattern, routes[i].h, vm) < 0) {
            st_http_server_free(s);
            return -EINVAL;
        }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int rc = -errno;
        st_http_server_free(s);
        return rc;
    }
    unlink(path);
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || listen(fd, 16) < 0) {
        rc = -errno;
        close(fd);
        st_http_server_free(s);
        return rc;
    }
    if (st_http_server_attach(s, vm->base, fd, err, sizeof err) < 0) {
        st_error("vmm.control", "%s", err);
        st_http_server_free(s);
        return -EIO;
    }
    g_http = s;
    snprintf(g_path, sizeof g_path, "%s", path);
    struct stat st;
    g_ino = stat(path, &st) == 0 ? st.st_ino : 0;
    st_info("vmm.control", "control API on unix:%s", path);
    return 0;
}

void vmm_control_stop(void)
{
    st_http_server_free(g_http); /* closes its connections, then the listener */
    g_http = NULL;
    struct stat st;
    if (g_path[0] && stat(g_path, &st) == 0 && st.st_ino == g_ino)
        unlink(g_path); /* ours, not a newer process's */
    g_path[0] = 0;
}

void vmm_control_free(void)
{
    if (g_configured)
        vmm_config_free(&g_cfg);
    g_configured = 0;
}
