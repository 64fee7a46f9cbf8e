/* Shared helpers of the vmm_guest_qemu_* tests: see guest_test.h. */
#include "guest_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "st_proc.h"
#include "st_test.h"

static char *g_dir;
static int g_runs;
static int g_tcg;

void gt_require_kvm(void)
{
    if (!guest_kvm_available())
        st_skip("/dev/kvm is absent or unusable: the test guest needs KVM");
    if (access(guest_elf_path(), R_OK) != 0)
        fprintf(stderr, "warning: %s missing (build the stratus_test_guest target)\n",
                guest_elf_path());
}

int gt_kvm_or_tcg(void)
{
    g_tcg = !guest_kvm_available();
    if (g_tcg)
        fprintf(stderr, "note: /dev/kvm is absent or unusable: QEMU runs the guest under TCG\n");
    return g_tcg;
}

static void argv_qemu(guest_argv *a, const char *cmdline)
{
    if (g_tcg)
        guest_argv_qemu_tcg(a, cmdline);
    else
        guest_argv_qemu(a, cmdline);
}

static void cleanup(void)
{
    if (g_dir && !getenv("STRATUS_KEEP_TMP"))
        st_rmtree(g_dir);
    free(g_dir);
    g_dir = NULL;
}

const char *gt_dir(void)
{
    if (!g_dir) {
        g_dir = st_tmpdir("guest");
        atexit(cleanup);
    }
    return g_dir;
}

int gt_qemu(guest_result *r, const char *cmdline, const char *const *extra, int timeout_ms,
            int expect)
{
    guest_argv a = {0};
    char out[512];
    argv_qemu(&a, cmdline);
    for (int i = 0; extra && extra[i]; i++)
        guest_argv_add(&a, "%s", extra[i]);
    snprintf(out, sizeof out, "%s/run%d.serial", gt_dir(), ++g_runs);
    int v = guest_run(a.v, out, timeout_ms, r);
    if (v != expect) {
        fprintf(stderr, "cmdline: %s\n", cmdline);
        guest_result_print(r, stderr);
    }
    guest_argv_free(&a);
    return v;
}

int gt_qemu_spawn(guest_proc *p, const char *const *prefix, const char *cmdline,
                  const char *const *extra)
{
    guest_argv q = {0}, a = {0};
    char out[512];
    argv_qemu(&q, cmdline);
    for (int i = 0; prefix && prefix[i]; i++)
        guest_argv_add(&a, "%s", prefix[i]);
    for (int i = 0; i < q.n; i++)
        guest_argv_add(&a, "%s", q.v[i]);
    for (int i = 0; extra && extra[i]; i++)
        guest_argv_add(&a, "%s", extra[i]);
    snprintf(out, sizeof out, "%s/run%d.serial", gt_dir(), ++g_runs);
    int rc = guest_spawn(p, a.v, out);
    guest_argv_free(&q);
    guest_argv_free(&a);
    return rc;
}

int gt_wait_output(const guest_proc *p, const char *text, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    char buf[8192];
    do {
        FILE *f = fopen(p->out_path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            if (strstr(buf, text))
                return 0;
        }
        usleep(10000);
    } while (st_now_ms() < end);
    return -1;
}

int gt_monitor(const char *sock, const char *cmd)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof a.sun_path)
        return -1;
    strcpy(a.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char buf[4096];
    size_t got = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* Waits for "(qemu) " after `from`: the banner's prompt, then the one
     * that follows the command's echoed line, which says it ran (QEMU may
     * drop a line still unread when the client hangs up). */
    int rc = -1;
    for (int stage = 0; stage < 2;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = 0;
        const char *nl = stage ? strchr(buf, '\n') : buf;
        if (!nl || !strstr(nl, "(qemu) "))
            continue;
        if (++stage == 2) {
            rc = 0;
            break;
        }
        got = 0;
        if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1)
            break;
    }
    close(fd);
    return rc;
}

int gt_make_raw(const char *path, long long size, int fill)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    char buf[65536];
    memset(buf, fill, sizeof buf);
    for (long long off = 0; off < size; off += (long long)sizeof buf) {
        size_t n = size - off < (long long)sizeof buf ? (size_t)(size - off) : sizeof buf;
        if (write(fd, buf, n) != (ssize_t)n) {
            close(fd);
            return -1;
        }
    }
    return close(fd);
}
