/* Child processes for integration tests: see st_proc.h. */
#include "st_proc.h"
#include "st_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long st_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int st_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int st_run(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t used = 0;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (out && used + 1 < outlen) {
            size_t k = n < outlen - 1 - used ? n : outlen - 1 - used;
            memcpy(out + used, tmp, k);
            used += k;
        }
    }
    if (out && outlen)
        out[used] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int st_ceph_start(const char *dir, char *conf, size_t n)
{
    char out[8192];
    int rc = st_run(out, sizeof out, "'%s' start '%s/c'",
                    st_source_path("image-store/tests/ceph-cluster.sh"), dir);
    if (rc == 77)
        st_skip("Ceph is not installed (ceph-mon, ceph-osd: deploy/packages.txt)");
    if (rc != 0) {
        fprintf(stderr, "ceph-cluster.sh: %s\n", out);
        return -1;
    }
    snprintf(conf, n, "%s/c/ceph.conf", dir);
    return 0;
}

void st_ceph_stop(const char *dir)
{
    st_run(NULL, 0, "'%s' stop '%s/c'", st_source_path("image-store/tests/ceph-cluster.sh"), dir);
}

char *st_out(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len), *f = popen(cmd, "r");
    if (f) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            fwrite(chunk, 1, n, m);
        pclose(f);
    }
    fclose(m);
    return buf;
}

int st_wait_out(const char *cmd, const char *needle, int want, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 200) {
        char *o = st_out("%s 2>/dev/null", cmd);
        int has = strstr(o, needle) != NULL;
        free(o);
        if (has == want)
            return 0;
        usleep(200000);
    }
    fprintf(stderr, "  timed out: `%s` %s '%s'\n", cmd, want ? "never showed" : "still shows",
            needle);
    return -1;
}

int st_proc_start(st_proc *p, char *const argv[], char *const env_extra[], const char *log)
{
    snprintf(p->log, sizeof p->log, "%s", log ? log : "/dev/null");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
        for (int i = 0; env_extra && env_extra[i]; i++)
            putenv(env_extra[i]);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    return 0;
}

int st_proc_alive(st_proc *p)
{
    if (p->pid <= 0)
        return 0;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->pid = -st - 1; /* remember the status, mark as reaped */
        return 0;
    }
    return r == 0;
}

int st_proc_stop(st_proc *p, int sig, int timeout_ms)
{
    if (p->pid < 0)
        return -p->pid - 1;
    if (p->pid == 0)
        return -1;
    kill(p->pid, sig);
    long long end = st_now_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid)
            break;
        if (st_now_ms() > end) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            break;
        }
        usleep(5000);
    }
    p->pid = 0;
    return st;
}

void st_proc_dump_log(const st_proc *p)
{
    FILE *f = fopen(p->log, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > 8192 ? sz - 8192 : 0, SEEK_SET);
    char buf[8193];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "---- %s (tail) ----\n%s\n----\n", p->log, buf);
}

int st_wait_file(const char *path, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    struct stat sb;
    while (st_now_ms() < end) {
        if (stat(path, &sb) == 0 && sb.st_size > 0)
            return 0;
        usleep(5000);
    }
    return -1;
}

int st_read_port(const char *path)
{
    FILE *f = fopen(path, "r");
    int port = 0;
    if (f) {
        if (fscanf(f, "%d", &port) != 1)
            port = 0;
        fclose(f);
    }
    return port;
}

static const char *env_path(const char *var, const char *rel)
{
    static __thread char buf[1024];
    const char *d = getenv(var);
    if (d && *d)
        snprintf(buf, sizeof buf, "%s/%s", d, rel);
    else
        snprintf(buf, sizeof buf, "%s", rel);
    return buf;
}

const char *st_build_path(const char *rel)
{
    return env_path("STRATUS_BUILD_DIR", rel);
}
const char *st_source_path(const char *rel)
{
    return env_path("STRATUS_SOURCE_DIR", rel);
}

char *st_tmpdir(const char *tag)
{
    char *p = malloc(256);
    snprintf(p, 256, "/tmp/stratus-%s-XXXXXX", tag);
    if (!mkdtemp(p)) {
        perror("mkdtemp");
        exit(1);
    }
    return p;
}

void st_rmtree(const char *path)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0)
        return; /* refuse to remove anything outside /tmp */
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}
