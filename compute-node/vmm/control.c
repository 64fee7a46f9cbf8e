/*
 * control.c - the control API server (see control.h for the resources).
 *
 * evhttp parses HTTP on the event thread and calls dispatch() for every
 * request; libevent bounds header and body sizes, and common/'s guard
 * (httpguard.h) gives each request a deadline, caps the connections and
 * turns libevent's own error pages into JSON errors. The socket is created
 * 0600 (whoever can talk to it owns the VM). "shutdown" answers 204 first
 * and stops the VM once the reply has been written, so the caller always
 * sees its answer.
 */
#include "control.h"
#include "stratus/errcode.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
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
#include "stratus/httpguard.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "upgrade.h"

/* A request must be in whole within this; the agent's are a few hundred bytes. */
#define CONTROL_DEADLINE_S 10
#define CONTROL_MAX_CONNS 16

static struct evhttp *g_http;
static st_http_guard *g_guard;
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

static void stop_with_error(struct evhttp_request *req, void *arg)
{
    vmm_vm_stop(arg, 1);
}

static int reply_json(struct evhttp_request *req, int code, json_t *body)
{
    struct evbuffer *b = evbuffer_new();
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    evbuffer_add_printf(b, "%s\n", text ? text : "{}");
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
    return 0;
}

static int reply_error(struct evhttp_request *req, int code, st_err ecode, const char *msg)
{
    return reply_json(
        req, code,
        json_pack("{s:{s:s, s:s}}", "error", "code", st_err_name(ecode), "message", msg));
}

static int reply_empty(struct evhttp_request *req, int code)
{
    evhttp_send_reply(req, code, NULL, NULL);
    return 0;
}

static void stop_after_reply(struct evhttp_request *req, void *arg)
{
    vmm_vm_stop(arg, 0);
}

/* The button is pressed once the 204 is on the wire: a guest that powers off at once makes
 * the process exit, and a reply still queued then would be lost (the caller saw a failed
 * request for a press that worked). */
static void press_after_reply(struct evhttp_request *req, void *arg)
{
    vmm_vm_power_button(arg);
}

/* The request body as a NUL-terminated malloc'd string (NULL: out of memory). */
static char *body_of(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(in);
    char *buf = malloc(*len + 1);
    if (buf) {
        evbuffer_copyout(in, buf, *len);
        buf[*len] = 0;
    }
    return buf;
}

/* A body that is a JSON object with one string member, key (1..max bytes): the object (its
 * string in *val), or NULL once the error has been answered. */
static json_t *body_field(struct evhttp_request *req, const char *key, size_t max, const char **val)
{
    const char *const keys[] = {key, NULL};
    size_t len;
    char err[256], *buf = body_of(req, &len);
    if (!buf) {
        reply_error(req, 500, ST_E_INTERNAL, "out of memory");
        return NULL;
    }
    json_t *j = st_json_parse_object(buf, len, err, sizeof err);
    free(buf);
    if (j && (st_json_only_keys(j, keys, err, sizeof err) ||
              st_json_get_str(j, key, ST_JSON_REQUIRED, 1, max, val, err, sizeof err))) {
        json_decref(j);
        j = NULL;
    }
    if (!j)
        reply_error(req, 400, ST_E_INVALID_REQUEST, err);
    return j;
}

static int do_config(vmm_vm *vm, struct evhttp_request *req)
{
    size_t len;
    char err[512];
    vmm_config c;
    if (running(vm))
        return reply_error(req, 409, ST_E_CONFLICT, "the VM is already started");
    char *buf = body_of(req, &len);
    if (!buf)
        return reply_error(req, 500, ST_E_INTERNAL, "out of memory");
    int rc = vmm_config_parse(&c, buf, len, err, sizeof err);
    free(buf);
    if (rc)
        return reply_error(req, 400, ST_E_INVALID_REQUEST, err);
    if (c.control_socket) {
        vmm_config_free(&c);
        return reply_error(req, 400, ST_E_INVALID_REQUEST,
                           "field 'control_socket' is set by --api-sock, not by the config");
    }
    if (g_configured)
        vmm_config_free(&g_cfg);
    g_cfg = c;
    g_configured = 1;
    return reply_empty(req, 204);
}

static int do_start(vmm_vm *vm, struct evhttp_request *req)
{
    char err[512];
    if (running(vm))
        return reply_error(req, 409, ST_E_CONFLICT, "the VM is already started");
    if (!g_configured)
        return reply_error(req, 409, ST_E_CONFLICT, "no configuration yet: PUT /vm/config first");
    if (vmm_start(vm, &g_cfg, err, sizeof err)) {
        st_error("vmm.start", "%s", err);
        /* A half-built VM is not reusable: answer, then end the process (status 1). */
        evhttp_request_set_on_complete_cb(req, stop_with_error, vm);
        return reply_error(req, 400, ST_E_START_FAILED, err);
    }
    return reply_empty(req, 204);
}

static int do_action(vmm_vm *vm, struct evhttp_request *req)
{
    const char *action = NULL;
    json_t *j = body_field(req, "action", 32, &action);
    if (!j)
        return 0;
    int rc;
    if (!strcmp(action, "start")) {
        json_decref(j);
        return do_start(vm, req);
    }
    if (!strcmp(action, "shutdown") || !strcmp(action, "stop")) {
        evhttp_request_set_on_complete_cb(req, stop_after_reply, vm);
        json_decref(j);
        return reply_empty(req, 204);
    }
    if (!running(vm) && (!strcmp(action, "pause") || !strcmp(action, "resume") ||
                         !strcmp(action, "reset") || !strcmp(action, "power_button"))) {
        json_decref(j);
        return reply_error(req, 409, ST_E_CONFLICT, "the VM is not started");
    }
    if (migrated(vm)) {
        json_decref(j);
        return reply_error(req, 409, ST_E_CONFLICT, MIGRATED);
    }
    if (!strcmp(action, "pause")) {
        rc = vmm_vm_pause(vm);
    } else if (!strcmp(action, "resume")) {
        rc = vmm_vm_resume(vm);
    } else if (!strcmp(action, "reset")) {
        rc = vmm_vm_reset(vm);
    } else if (!strcmp(action, "power_button")) {
        evhttp_request_set_on_complete_cb(req, press_after_reply, vm);
        rc = 0;
    } else {
        json_decref(j);
        return reply_error(
            req, 400, ST_E_INVALID_REQUEST,
            "field 'action' must be one of start, pause, resume, shutdown (or stop), reset, "
            "power_button");
    }
    json_decref(j);
    if (rc == -ESHUTDOWN)
        return reply_error(req, 409, ST_E_CONFLICT, "the VM is stopping");
    if (rc)
        return reply_error(req, 500, ST_E_INTERNAL, strerror(-rc));
    return reply_empty(req, 204);
}

/* PUT /vm/snapshot {"dir": PATH}: as Firecracker's, only for a paused VM. */
static int do_snapshot(vmm_vm *vm, struct evhttp_request *req)
{
    char err[512];
    const char *dir = NULL;
    struct stat st;
    json_t *j = body_field(req, "dir", 4000, &dir);
    if (!j)
        return 0;
    int rc = 0;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, sizeof err, "field 'dir': %s is not a directory", dir);
        rc = reply_error(req, 400, ST_E_INVALID_REQUEST, err);
    } else if (vmm_vm_wait_parked(vm)) {
        rc = reply_error(req, 409, ST_E_CONFLICT,
                         "the VM must be paused for a snapshot (PUT /vm/actions pause)");
    } else if ((rc = vmm_snapshot_save(vm, dir, err, sizeof err))) {
        st_error("vmm.snapshot", "%s: %s", dir, err);
        rc = reply_error(req, rc == -ENOTSUP ? 409 : 500,
                         rc == -ENOTSUP ? ST_E_CONFLICT : ST_E_INTERNAL, err);
    } else
        rc = reply_empty(req, 204);
    json_decref(j);
    return rc;
}

/* PUT /vm/upgrade {"socket": PATH}: hand the VM to the stratus-vmm started with
 * --upgrade-from PATH (upgrade.c); on success this process answers, then exits 0. */
static int do_upgrade(vmm_vm *vm, struct evhttp_request *req)
{
    char err[600];
    const char *sock = NULL;
    json_t *j = body_field(req, "socket", 107, &sock);
    if (!j)
        return 0;
    int rc = vmm_upgrade_send(vm, sock, err, sizeof err);
    json_decref(j);
    if (rc == -ENOTSUP)
        return reply_error(req, 409, ST_E_CONFLICT, err);
    if (rc)
        return reply_error(req, 500, ST_E_INTERNAL, err);
    evhttp_request_set_on_complete_cb(req, stop_after_reply, vm);
    return reply_empty(req, 204);
}

/* /vm/migrate: PUT starts a live migration (202, it runs in the background), GET its
 * progress, DELETE cancels it (migrate.c). */
static int do_migrate(vmm_vm *vm, struct evhttp_request *req, enum evhttp_cmd_type m)
{
    char err[600];
    if (m == EVHTTP_REQ_GET)
        return reply_json(req, 200, vmm_migrate_status());
    if (m == EVHTTP_REQ_DELETE) {
        if (vmm_migrate_cancel())
            return reply_error(req, 409, ST_E_CONFLICT, "no migration is active");
        return reply_json(req, 202, vmm_migrate_status());
    }
    if (!running(vm))
        return reply_error(req, 409, ST_E_CONFLICT, "the VM is not started");
    size_t len;
    char *buf = body_of(req, &len);
    if (!buf)
        return reply_error(req, 500, ST_E_INTERNAL, "out of memory");
    vmm_migrate_req r;
    int rc = vmm_migrate_parse(buf, len, &r, err, sizeof err);
    free(buf);
    if (rc)
        return reply_error(req, 400, ST_E_INVALID_REQUEST, err);
    if ((rc = vmm_migrate_start(vm, &r, err, sizeof err)))
        return reply_error(req, 409, ST_E_CONFLICT, err);
    return reply_json(req, 202, vmm_migrate_status());
}

static int do_serial(vmm_vm *vm, struct evhttp_request *req, const char *query)
{
    struct evkeyvalq q;
    long tail = 0;
    if (query) {
        if (evhttp_parse_query_str(query, &q) < 0)
            return reply_error(req, 400, ST_E_INVALID_REQUEST, "malformed query string");
        const char *t = evhttp_find_header(&q, "tail");
        if (t) {
            char *end;
            errno = 0;
            tail = strtol(t, &end, 10);
            if (errno || *end || end == t || tail < 0 || tail > 100000) {
                evhttp_clear_headers(&q);
                return reply_error(req, 400, ST_E_INVALID_REQUEST,
                                   "query 'tail' must be an integer from 0 to 100000");
            }
        }
        evhttp_clear_headers(&q);
    }
    size_t len = 0;
    char *text = vmm_serial_tail(vm->serial, (int)tail, &len);
    if (!text)
        return reply_error(req, 500, ST_E_INTERNAL, "out of memory");
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, len);
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, 200, NULL, b);
    evbuffer_free(b);
    return 0;
}

/* POST /vm/serial: the body's bytes, as typed at the console, for the guest to read
 * from COM1. Only what the receive FIFO has room for is taken; "accepted" says how
 * much, and the caller sends the rest again once the guest has read. */
static int do_serial_input(vmm_vm *vm, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > VMM_SERIAL_INPUT_MAX)
        return reply_error(req, 413, ST_E_TOO_LARGE, "at most 4096 bytes of console input at once");
    uint8_t buf[VMM_SERIAL_INPUT_MAX];
    evbuffer_copyout(in, buf, len);
    size_t put = vmm_serial_input(vm->serial, buf, len);
    return reply_json(
        req, 200, json_pack("{s:I, s:I}", "accepted", (json_int_t)put, "bytes", (json_int_t)len));
}

static int method_not_allowed(struct evhttp_request *req, const char *allow)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    return reply_error(req, 405, ST_E_METHOD_NOT_ALLOWED, "method not allowed on this resource");
}

static int route(struct evhttp_request *req, void *arg)
{
    vmm_vm *vm = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (!path)
        return reply_error(req, 400, ST_E_INVALID_REQUEST, "malformed request target");
    if (!strcmp(path, "/vm")) {
        if (m != EVHTTP_REQ_GET)
            return method_not_allowed(req, "GET");
        if (!running(vm))
            return reply_json(req, 200,
                              json_pack("{s:s, s:s, s:b}", "state", "not_started", "boot_id",
                                        vm->boot_id, "configured", g_configured));
        return reply_json(req, 200, vmm_state_json(vm));
    }
    if (!strcmp(path, "/vm/actions")) {
        if (m != EVHTTP_REQ_PUT)
            return method_not_allowed(req, "PUT");
        return do_action(vm, req);
    }
    if (!strcmp(path, "/vm/config")) {
        if (m != EVHTTP_REQ_PUT)
            return method_not_allowed(req, "PUT");
        return do_config(vm, req);
    }
    if (!strcmp(path, "/vm/snapshot")) {
        if (m != EVHTTP_REQ_PUT)
            return method_not_allowed(req, "PUT");
        if (!running(vm))
            return reply_error(req, 409, ST_E_CONFLICT, "the VM is not started");
        if (migrated(vm))
            return reply_error(req, 409, ST_E_CONFLICT, MIGRATED);
        return do_snapshot(vm, req);
    }
    if (!strcmp(path, "/vm/upgrade")) {
        if (m != EVHTTP_REQ_PUT)
            return method_not_allowed(req, "PUT");
        if (!running(vm))
            return reply_error(req, 409, ST_E_CONFLICT, "the VM is not started");
        if (migrated(vm))
            return reply_error(req, 409, ST_E_CONFLICT, MIGRATED);
        return do_upgrade(vm, req);
    }
    if (!strcmp(path, "/vm/migrate")) {
        if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_PUT && m != EVHTTP_REQ_DELETE)
            return method_not_allowed(req, "GET, PUT, DELETE");
        return do_migrate(vm, req, m);
    }
    if (!strcmp(path, "/vm/counters")) {
        if (m != EVHTTP_REQ_GET)
            return method_not_allowed(req, "GET");
        if (!running(vm))
            return reply_error(req, 409, ST_E_CONFLICT, "the VM is not started");
        return reply_json(req, 200, vmm_counters_json(vm));
    }
    if (!strcmp(path, "/vm/serial")) {
        if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST)
            return method_not_allowed(req, "GET, POST");
        if (!running(vm))
            return reply_error(req, 409, ST_E_CONFLICT, "the VM is not started");
        if (m == EVHTTP_REQ_POST)
            return do_serial_input(vm, req);
        return do_serial(vm, req, query);
    }
    if (!strcmp(path, "/healthz")) {
        if (m != EVHTTP_REQ_GET)
            return method_not_allowed(req, "GET");
        return reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
    }
    return reply_error(req, 404, ST_E_NOT_FOUND, "no such resource");
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    route(req, arg);
}

int vmm_control_start(vmm_vm *vm, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (g_http)
        return 0; /* serving already (a migration's target serves while it waits) */
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || listen(fd, 16) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    g_http = evhttp_new(vm->base);
    if (!g_http) {
        close(fd);
        return -ENOMEM;
    }
    evhttp_set_max_body_size(g_http, 64 * 1024);
    evhttp_set_max_headers_size(g_http, 16 * 1024);
    evhttp_set_timeout(g_http, 30);
    evhttp_set_allowed_methods(g_http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST |
                                           EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(g_http, dispatch, vm);
    if (!g_guard)
        g_guard = st_http_guard_new(CONTROL_DEADLINE_S, CONTROL_MAX_CONNS);
    if (g_guard)
        st_http_guard_evhttp(g_guard, g_http);
    if (!evhttp_accept_socket_with_handle(g_http, fd)) {
        evhttp_free(g_http);
        g_http = NULL;
        close(fd);
        return -EIO;
    }
    snprintf(g_path, sizeof g_path, "%s", path);
    struct stat st;
    g_ino = stat(path, &st) == 0 ? st.st_ino : 0;
    st_info("vmm.control", "control API on unix:%s", path);
    return 0;
}

void vmm_control_stop(void)
{
    if (g_http)
        evhttp_free(g_http);
    g_http = NULL;
    st_http_guard_free(g_guard); /* after the connections it watched */
    g_guard = NULL;
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
