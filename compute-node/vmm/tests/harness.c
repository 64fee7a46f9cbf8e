/* harness.c - see harness.h. */
#include "harness.h"
#include "stratus/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "st_test.h"

void vt_need_kvm(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("/dev/kvm is not available");
}

void vt_emit(vt_code *c, const void *bytes, size_t n)
{
    if (c->n + n <= sizeof c->b) {
        memcpy(c->b + c->n, bytes, n);
        c->n += n;
    }
}

void vt_print(vt_code *c, const char *s)
{
    static const uint8_t dx[] = {0x66, 0xba, 0xf8, 0x03}; /* mov dx, 0x3f8 */
    vt_emit(c, dx, sizeof dx);
    for (; *s; s++) {
        uint8_t op[] = {0xb0, (uint8_t)*s, 0xee}; /* mov al, c; out dx, al */
        vt_emit(c, op, sizeof op);
    }
}

void vt_exit(vt_code *c, uint32_t value)
{
    uint8_t op[] = {0xb8, 0, 0, 0, 0, 0x66, 0xba, 0xf4, 0x00, 0xef, 0xf4, 0xeb, 0xfe};
    memcpy(op + 1, &value, 4); /* mov eax, v; mov dx, 0xf4; out dx, eax; hlt; jmp $ */
    vt_emit(c, op, sizeof op);
}

void vt_spin(vt_code *c)
{
    static const uint8_t op[] = {0xeb, 0xfe};
    vt_emit(c, op, sizeof op);
}

void vt_check_start_info(vt_code *c)
{
    /* cmp dword [ebx], 0x336ec578; je +13; (exit 0x11: 13 bytes) */
    static const uint8_t op[] = {0x81, 0x3b, 0x78, 0xc5, 0x6e, 0x33, 0x74, 13};
    vt_emit(c, op, sizeof op);
    vt_exit(c, 0x11);
}

int vt_write_elf(const char *path, const vt_code *c)
{
    uint8_t img[0x1000 + sizeof c->b];
    memset(img, 0, sizeof img);
    uint64_t base = 0x100000;
    /* ELF64 header */
    memcpy(img, "\177ELF\2\1\1", 7);
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
#define P16(o, v) (u16 = (uint16_t)(v), memcpy(img + (o), &u16, 2))
#define P32(o, v) (u32 = (uint32_t)(v), memcpy(img + (o), &u32, 4))
#define P64(o, v) (u64 = (uint64_t)(v), memcpy(img + (o), &u64, 8))
    P16(16, 2);  /* ET_EXEC */
    P16(18, 62); /* x86-64 */
    P32(20, 1);
    P64(24, base);
    P64(32, 64); /* phoff */
    P16(52, 64);
    P16(54, 56);
    P16(56, 2);
    /* PT_LOAD */
    P32(64, 1);
    P32(68, 5);
    P64(72, 0x1000);
    P64(80, base);
    P64(88, base);
    P64(96, c->n);
    P64(104, c->n);
    P64(112, 0x1000);
    /* PT_NOTE */
    P32(120, 4);
    P32(124, 4);
    P64(128, 176);
    P64(152, 20);
    P64(160, 20);
    P64(168, 4);
    /* the note: namesz 4, descsz 4, type 18, "Xen\0", entry */
    P32(176, 4);
    P32(180, 4);
    P32(184, 18);
    memcpy(img + 188, "Xen", 4);
    P32(192, base);
    memcpy(img + 0x1000, c->b, c->n);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(img, 1, 0x1000 + c->n, f);
    fclose(f);
    return w == 0x1000 + c->n ? 0 : -1;
}

const char *vt_path(const char *dir, const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

char *vt_config(const char *dir, const char *kernel, const char *extra)
{
    char path[512], serial[512];
    snprintf(path, sizeof path, "%s/vm.json", dir);
    snprintf(serial, sizeof serial, "%s/serial.log", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "{\"kernel\": \"%s\", \"serial_log\": \"%s\"%s%s}\n", kernel, serial,
            extra && *extra ? ", " : "", extra ? extra : "");
    fclose(f);
    return strdup(path);
}

int vt_start(st_proc *p, const char *dir, const char *cfg)
{
    char bin[512], log[512];
    snprintf(bin, sizeof bin, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    snprintf(log, sizeof log, "%s/vmm.log", dir);
    char *argv[] = {bin, "--config", (char *)cfg, NULL};
    return st_proc_start(p, argv, NULL, log);
}

int vt_start_api(st_proc *p, const char *dir, const char *sock)
{
    char bin[512], log[512];
    snprintf(bin, sizeof bin, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    snprintf(log, sizeof log, "%s/vmm.log", dir);
    char *argv[] = {bin, "--api-sock", (char *)sock, NULL};
    return st_proc_start(p, argv, NULL, log);
}

int vt_api_start(vt_api *a, const char *name, const char *msg)
{
    vt_code c = {0};
    memset(a, 0, sizeof *a);
    a->dir = st_tmpdir(name);
    if (!a->dir)
        return -1;
    snprintf(a->sock, sizeof a->sock, "%s/api.sock", a->dir);
    snprintf(a->kernel, sizeof a->kernel, "%s/spin.elf", a->dir);
    vt_print(&c, msg);
    vt_spin(&c);
    if (vt_write_elf(a->kernel, &c) || vt_start_api(&a->p, a->dir, a->sock) ||
        vt_wait_exists(a->sock, 10000))
        return -1;
    return 0;
}

void vt_api_end(vt_api *a)
{
    if (st_proc_alive(&a->p))
        st_proc_stop(&a->p, SIGKILL, 1000);
    if (a->dir)
        st_rmtree(a->dir);
    free(a->dir);
    a->dir = NULL;
}

int vt_http_retry(const char *sock, const char *method, const char *path, const char *body,
                  char **resp)
{
    int code = 0;
    for (int i = 0; i < 100 && code == 0; i++) {
        code = vt_http(sock, method, path, body, resp);
        if (!code)
            usleep(20000);
    }
    return code;
}

int vt_wait(st_proc *p, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    while (st_proc_alive(p)) {
        if (st_now_ms() > end) {
            fprintf(stderr, "stratus-vmm did not exit within %d ms\n", timeout_ms);
            st_proc_dump_log(p);
            st_proc_stop(p, SIGKILL, 1000);
            return -1;
        }
        usleep(5000);
    }
    int st = st_proc_stop(p, 0, 0);
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    fprintf(stderr, "stratus-vmm died with signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
    st_proc_dump_log(p);
    return -1;
}

int vt_run(const char *dir, const char *cfg, int timeout_ms)
{
    st_proc p;
    if (vt_start(&p, dir, cfg))
        return -1;
    return vt_wait(&p, timeout_ms);
}

char *vt_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = 0;
    return buf;
}

int vt_wait_exists(const char *path, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    while (access(path, F_OK) != 0) {
        if (st_now_ms() > end)
            return -1;
        usleep(5000);
    }
    return 0;
}

int vt_wait_for(const char *path, const char *needle, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    for (;;) {
        char *s = vt_slurp(path);
        int hit = s && strstr(s, needle);
        free(s);
        if (hit)
            return 0;
        if (st_now_ms() > end)
            return -1;
        usleep(10000);
    }
}

int vt_http(const char *sock, const char *method, const char *path, const char *body, char **resp)
{
    char url[256];
    snprintf(url, sizeof url, "http://localhost%s", path);
    st_httpc_req q = {.method = method,
                      .url = url,
                      .unix_sock = sock,
                      .body = body,
                      .body_len = body ? strlen(body) : 0,
                      .timeout_ms = 10000};
    st_httpc_resp r;
    int code = (int)st_httpc(&q, &r, NULL, 0);
    if (resp) {
        *resp = r.body;
        r.body = NULL;
    }
    st_httpc_resp_free(&r);
    return code;
}

int vt_http_json(const char *sock, const char *method, const char *path, const char *body,
                 json_t **out)
{
    char *text = NULL;
    int code = vt_http(sock, method, path, body, &text);
    *out = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return code;
}
