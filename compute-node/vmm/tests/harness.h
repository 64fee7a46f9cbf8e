/*
 * harness.h - helpers for stratus-vmm's tests: tiny PVH guests assembled
 * in memory, VM configs, running the real binary with a deadline, and
 * talking to its control socket.
 */
#ifndef VMM_TEST_HARNESS_H
#define VMM_TEST_HARNESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "st_proc.h"

/* Skips (exit 77) when /dev/kvm is absent. */
void vt_need_kvm(void);

/* Tiny guests (32-bit code at 1 MiB, PVH note). Each writes an ELF to path. */
typedef struct vt_code {
    uint8_t b[4096];
    size_t n;
} vt_code;
void vt_emit(vt_code *c, const void *bytes, size_t n);
void vt_print(vt_code *c, const char *s); /* out to COM1 byte by byte */
void vt_exit(vt_code *c, uint32_t value); /* 32-bit write to port 0xf4 */
void vt_spin(vt_code *c);                 /* jmp $ */
void vt_check_start_info(vt_code *c);     /* exit 0x11 unless [ebx] is the PVH magic */
int vt_write_elf(const char *path, const vt_code *c);

/* A config {"kernel": kernel, "serial_log": dir/serial.log, "seccomp": ...} plus extra
 * members (a JSON object text without braces, or NULL); returns the path (malloc'd). */
char *vt_config(const char *dir, const char *kernel, const char *extra);

/* Starts stratus-vmm --config cfg, logging to dir/vmm.log. */
int vt_start(st_proc *p, const char *dir, const char *cfg);
/* Starts stratus-vmm --api-sock sock (configured later through the API). */
int vt_start_api(st_proc *p, const char *dir, const char *sock);
/* stratus-vmm --api-sock in a fresh directory (name: st_tmpdir's prefix), beside a guest
 * (kernel: dir/spin.elf) that prints msg on COM1 and spins; 0 once the socket exists.
 * vt_api_end() kills it if it still runs and removes the directory. */
typedef struct vt_api {
    char *dir;
    char sock[256];
    char kernel[512];
    st_proc p;
} vt_api;
int vt_api_start(vt_api *a, const char *name, const char *msg);
void vt_api_end(vt_api *a);
/* vt_http, retried (2 s) while the socket exists but does not listen yet. */
int vt_http_retry(const char *sock, const char *method, const char *path, const char *body,
                  char **resp);
/* Waits for exit up to timeout_ms (then SIGKILL); returns the exit status or -1. */
int vt_wait(st_proc *p, int timeout_ms);
/* Runs to completion: start + wait. */
int vt_run(const char *dir, const char *cfg, int timeout_ms);
/* Whole file, NUL-terminated, malloc'd (NULL if missing). */
char *vt_slurp(const char *path);
/* dir/name in a static buffer (one at a time). */
const char *vt_path(const char *dir, const char *name);

/* HTTP over the unix socket: returns the status, fills body (malloc'd) if not NULL. */
int vt_http(const char *sock, const char *method, const char *path, const char *body, char **resp);
/* Same, with the body parsed as JSON (NULL when not JSON). */
int vt_http_json(const char *sock, const char *method, const char *path, const char *body,
                 json_t **out);
/* Waits for path to exist (any type, e.g. a socket); 0 or -1 on timeout. */
int vt_wait_exists(const char *path, int timeout_ms);
/* Waits for a file to contain needle; 0 or -1 on timeout. */
int vt_wait_for(const char *path, const char *needle, int timeout_ms);

#endif
