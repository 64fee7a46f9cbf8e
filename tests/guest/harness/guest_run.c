/*
 * guest_run.c - spawning a VMM with the test guest, collecting its serial
 * output, and judging the run (see guest_run.h and ../README.md).
 *
 * The output is parsed line by line; only lines that start with the
 * contract's prefixes count, so VMM log lines or firmware noise on the same
 * console are ignored. A line is at most what fits in the buffers here
 * (longer values are cut, never overflowed).
 */
#include "guest_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *guest_elf_path(void)
{
    static char path[1024];
    const char *e = getenv("STRATUS_GUEST_ELF");
    if (e && *e)
        return e;
    const char *b = getenv("STRATUS_BUILD_DIR");
    if (b && *b) {
        snprintf(path, sizeof path, "%s/tests/guest/guest.elf", b);
        return path;
    }
#ifdef GUEST_ELF_DEFAULT
    return GUEST_ELF_DEFAULT; /* this build tree's guest (CMake) */
#else
    return "tests/guest/guest.elf";
#endif
}

int guest_kvm_available(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int guest_exit_value(int st)
{
    if (st < 0 || !WIFEXITED(st))
        return -1;
    switch (WEXITSTATUS(st)) {
    case (GUEST_EXIT_PASS << 1) | 1: /* QEMU isa-debug-exit */
    case GUEST_EXIT_PASS: /* stratus-vmm */ return GUEST_EXIT_PASS;
    case (GUEST_EXIT_FAIL << 1) | 1:
    case GUEST_EXIT_FAIL: return GUEST_EXIT_FAIL;
    default: return -1;
    }
}

const char *guest_verdict_name(int v)
{
    switch (v) {
    case GUEST_PASS: return "PASS";
    case GUEST_FAIL: return "FAIL";
    case GUEST_BROKEN: return "BROKEN";
    case GUEST_TIMEOUT: return "TIMEOUT";
    default: return "?";
    }
}

/* Copies s into d (size n), cut to fit, always terminated. */
static void scopy(char *d, size_t n, const char *s)
{
    size_t k = strlen(s);
    if (k > n - 1)
        k = n - 1;
    memcpy(d, s, k);
    d[k] = 0;
}

/* Copies the line starting at p (without its end) into buf; returns the next line. */
static const char *line_copy(const char *p, char *buf, size_t n)
{
    size_t len = strcspn(p, "\n");
    size_t k = len < n - 1 ? len : n - 1;
    memcpy(buf, p, k);
    buf[k] = 0;
    if (k && buf[k - 1] == '\r')
        buf[k - 1] = 0;
    return p[len] ? p + len + 1 : p + len;
}

static void parse_line(guest_result *r, char *line)
{
    static const char start[] = "STRATUS-GUEST start scenario=";
    if (strncmp(line, start, sizeof start - 1) == 0) {
        r->started++;
        scopy(r->scenario, sizeof r->scenario, line + sizeof start - 1);
        return;
    }
    if (strncmp(line, "RESULT ", 7) != 0)
        return;
    r->result_count++;
    char *name = line + 7, *sp = strchr(name, ' ');
    if (!sp) {
        r->result_pass = -1;
        return;
    }
    *sp = 0;
    char *word = sp + 1;
    if (strcmp(word, "PASS") == 0) {
        r->result_pass = 1;
    } else if (strncmp(word, "FAIL", 4) == 0 && (word[4] == ' ' || !word[4])) {
        r->result_pass = 0;
        scopy(r->reason, sizeof r->reason, word[4] ? word + 5 : "");
    } else {
        r->result_pass = -1;
    }
    if (r->started && strcmp(name, r->scenario) != 0)
        scopy(r->why, sizeof r->why, "the RESULT line names another scenario than the start line");
}

int guest_judge(guest_result *r, const char *output, int wait_status, int timed_out)
{
    long long elapsed = r->elapsed_ms;
    free(r->output);
    memset(r, 0, sizeof *r);
    r->elapsed_ms = elapsed;
    r->result_pass = -1;
    r->output = strdup(output ? output : "");
    r->wait_status = wait_status;
    r->timed_out = timed_out;
    r->exit_code = wait_status >= 0 && WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
    r->exit_value = guest_exit_value(wait_status);
    char line[1024];
    for (const char *p = r->output; *p;) {
        p = line_copy(p, line, sizeof line);
        parse_line(r, line);
    }
    if (timed_out) {
        r->verdict = GUEST_TIMEOUT;
        snprintf(r->why, sizeof r->why, "killed after the time limit");
    } else if (!r->started) {
        r->verdict = GUEST_BROKEN;
        snprintf(r->why, sizeof r->why, "no 'STRATUS-GUEST start' line");
    } else if (r->result_count != 1) {
        r->verdict = GUEST_BROKEN;
        snprintf(r->why, sizeof r->why, "%d RESULT lines (want exactly 1)", r->result_count);
    } else if (r->why[0]) {
        r->verdict = GUEST_BROKEN;
    } else if (r->result_pass == 1 &&
               (r->exit_value == GUEST_EXIT_PASS ||
                (r->exit_code == 0 && guest_data(r, "poweroff", NULL, 0) == 0))) {
        r->verdict = GUEST_PASS;
    } else if (r->result_pass == 0 && r->exit_value == GUEST_EXIT_FAIL) {
        r->verdict = GUEST_FAIL;
        scopy(r->why, sizeof r->why, r->reason);
    } else {
        r->verdict = GUEST_BROKEN;
        snprintf(r->why, sizeof r->why, "RESULT %s but exit status %d (exit value %d)",
                 r->result_pass == 1   ? "PASS"
                 : r->result_pass == 0 ? "FAIL"
                                       : "malformed",
                 r->exit_code, r->exit_value);
    }
    return r->verdict;
}

int guest_data_nth(const guest_result *r, const char *key, int idx, char *buf, size_t n)
{
    char line[1024];
    size_t klen = strlen(key);
    if (!r->output)
        return -1;
    for (const char *p = r->output; *p;) {
        p = line_copy(p, line, sizeof line);
        if (strncmp(line, "DATA ", 5) == 0 && strncmp(line + 5, key, klen) == 0 &&
            line[5 + klen] == '=' && idx-- == 0) {
            if (buf && n)
                scopy(buf, n, line + 6 + klen);
            return 0;
        }
    }
    return -1;
}

int guest_data(const guest_result *r, const char *key, char *buf, size_t n)
{
    return guest_data_nth(r, key, 0, buf, n);
}

int guest_data_count(const guest_result *r, const char *key)
{
    int n = 0;
    while (guest_data_nth(r, key, n, NULL, 0) == 0)
        n++;
    return n;
}

int guest_data_u64(const guest_result *r, const char *key, unsigned long long *v)
{
    char buf[64], *end;
    if (guest_data(r, key, buf, sizeof buf) < 0 || !buf[0])
        return -1;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 0);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

int guest_spawn(guest_proc *p, char *const argv[], const char *out_path)
{
    char err_path[600];
    snprintf(p->out_path, sizeof p->out_path, "%s", out_path);
    snprintf(err_path, sizeof err_path, "%s.err", out_path);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || err < 0)
        goto fail;
    fflush(NULL);
    p->t0_ms = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        setpgid(0, 0);
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also from the parent: no race with a kill below */
    close(out);
    close(err);
    p->pid = pid;
    return 0;
fail:
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    p->pid = -1;
    return -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

int guest_wait(guest_proc *p, int timeout_ms, guest_result *r)
{
    int st = -1, timed_out = 0;
    long long end = p->t0_ms + timeout_ms;
    memset(r, 0, sizeof *r);
    for (;;) {
        pid_t w = waitpid(p->pid, &st, WNOHANG);
        if (w == p->pid)
            break;
        if (w < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (now_ms() >= end) {
            timed_out = 1;
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        usleep(5000);
    }
    r->elapsed_ms = now_ms() - p->t0_ms;
    p->pid = -1;
    char *out = slurp(p->out_path);
    guest_judge(r, out, st, timed_out);
    free(out);
    return r->verdict;
}

int guest_run(char *const argv[], const char *out_path, int timeout_ms, guest_result *r)
{
    guest_proc p;
    memset(r, 0, sizeof *r);
    if (guest_spawn(&p, argv, out_path) < 0) {
        r->verdict = GUEST_BROKEN;
        r->wait_status = -1;
        snprintf(r->why, sizeof r->why, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    return guest_wait(&p, timeout_ms, r);
}

int guest_judge_file(guest_result *r, const char *serial_path)
{
    char *out = slurp(serial_path);
    guest_judge(r, out, r->wait_status, r->timed_out);
    free(out);
    return r->verdict;
}

void guest_result_print(const guest_result *r, FILE *f)
{
    fprintf(f, "guest run: %s (%s); exit status %d, exit value %d, %lld ms\n",
            guest_verdict_name(r->verdict), r->why[0] ? r->why : "ok", r->exit_code, r->exit_value,
            r->elapsed_ms);
    fprintf(f, "---- serial output ----\n%s%s---- end ----\n", r->output ? r->output : "",
            r->output && *r->output && r->output[strlen(r->output) - 1] != '\n' ? "\n" : "");
}

void guest_result_free(guest_result *r)
{
    free(r->output);
    r->output = NULL;
}

void guest_argv_add(guest_argv *a, const char *fmt, ...)
{
    if (a->n >= GUEST_ARGV_MAX)
        abort(); /* a test bug, not an input */
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->v[a->n], fmt, ap) < 0)
        abort();
    va_end(ap);
    a->n++;
    a->v[a->n] = NULL;
}

static void argv_qemu(guest_argv *a, const char *cmdline, int tcg)
{
    static const char *const fixed[] = {
        "qemu-system-x86_64",
        "-M",
        "pc",
        "-bios",
        "/usr/share/qemu/qboot.rom",
        "-nodefaults",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-m",
        "128",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
    };
    for (size_t i = 0; i < 5; i++)
        guest_argv_add(a, "%s", fixed[i]);
    if (tcg) {
        guest_argv_add(a, "-accel");
        guest_argv_add(a, "tcg");
        guest_argv_add(a, "-cpu");
        guest_argv_add(a, "max");
    } else {
        guest_argv_add(a, "-enable-kvm");
        guest_argv_add(a, "-cpu");
        guest_argv_add(a, "host,-arch-capabilities");
    }
    for (size_t i = 5; i < sizeof fixed / sizeof fixed[0]; i++)
        guest_argv_add(a, "%s", fixed[i]);
    guest_argv_add(a, "-kernel");
    guest_argv_add(a, "%s", guest_elf_path());
    guest_argv_add(a, "-append");
    guest_argv_add(a, "%s", cmdline);
}

void guest_argv_qemu(guest_argv *a, const char *cmdline)
{
    argv_qemu(a, cmdline, 0);
}

void guest_argv_qemu_tcg(guest_argv *a, const char *cmdline)
{
    argv_qemu(a, cmdline, 1);
}

void guest_argv_free(guest_argv *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
    a->v[0] = NULL;
}

void guest_blk_pattern(uint64_t sector, uint32_t seed, uint8_t out[512])
{
    memcpy(out, "STRGUEST", 8);
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(sector >> (8 * i));
    for (int i = 16; i < 512; i++)
        out[i] = (uint8_t)(sector * 251 + (uint64_t)i * 13 + seed);
}

uint32_t guest_fnv1a32(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x01000193u;
    return h;
}

int guest_blk_check_raw(const char *path, uint64_t start, uint64_t count, uint32_t seed,
                        uint32_t *checksum, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    uint32_t h = GUEST_FNV1A32_INIT;
    int rc = 0;
    for (uint64_t s = start; s < start + count; s++) {
        uint8_t want[512], got[512];
        ssize_t k = pread(fd, got, sizeof got, (off_t)(s * 512));
        if (k != (ssize_t)sizeof got) {
            snprintf(err, errlen, "sector %llu: short read", (unsigned long long)s);
            rc = -1;
            break;
        }
        guest_blk_pattern(s, seed, want);
        if (memcmp(want, got, sizeof want) != 0) {
            snprintf(err, errlen, "sector %llu does not hold the pattern", (unsigned long long)s);
            rc = -1;
            break;
        }
        h = guest_fnv1a32(h, got, sizeof got);
    }
    close(fd);
    if (rc == 0 && checksum)
        *checksum = h;
    return rc;
}
