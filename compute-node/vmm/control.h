/*
 * control.h - the control API: HTTP/1.1 + JSON on a unix socket (common's
 * HTTP server embedded on the event thread's loop), in the resource style of
 * Firecracker's API.
 *
 *   GET  /vm                 {"state", "boot_id", "vcpus", "memory_mib", "devices": [...]}
 *                            ({"state": "not_started", "boot_id", "configured"} before start)
 *   PUT  /vm/config          the config file's JSON (no control_socket), before start -> 204
 *   PUT  /vm/actions         {"action": "start" | "pause" | "resume" | "shutdown" | "stop" |
 * "reset"}
 *                            -> 204; start needs a config, the others a started VM (409)
 *   PUT  /vm/migrate         {"uri": "tcp:ADDR:PORT", "downtime_ms", "timeout_ms", "on_timeout",
 *                            "max_rounds"} -> 202, a live migration in the background (migrate.c)
 *   GET  /vm/migrate         its progress ({"state": "incoming"} on a waiting target)
 *   DELETE /vm/migrate       cancels it -> 202 (409 when none is active)
 *   GET  /vm/counters        metering counters (counters.c)
 *   GET  /vm/serial?tail=N   the last N lines of serial output (text/plain)
 *   GET  /healthz            "ok"
 *
 * Errors are {"error": {"code", "message"}} with 400 (malformed body or
 * query), 404 (no such resource), 405 (method; with Allow), 409 (not in a
 * state for that action), 413 (body over 64 KiB), as every Stratus service's.
 */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include <jansson.h>

#include "vmm.h"

int vmm_control_start(vmm_vm *vm, const char *path);
void vmm_control_stop(void);
/* Frees a configuration received through the API (after every thread is gone). */
void vmm_control_free(void);
/* The counters document (caller owns the reference). */
json_t *vmm_counters_json(vmm_vm *vm);
/* The state document of GET /vm. */
json_t *vmm_state_json(vmm_vm *vm);

#endif
