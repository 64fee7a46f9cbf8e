/*
 * proc.c - finding our stratus-vmm processes in /proc, for adoption.
 *
 * A VMM is ours for an instance when its command line is
 * `<vmm> --api-sock <instance dir>/vmm.sock ...` and its executable's name is
 * the VMM's (argv[0]'s name when the executable link is hidden from us). The socket path is unique
 * per instance and per state directory, so two agents on one host (two state directories) never
 * claim each other's VMMs. A pid is remembered together with the process start time (field 22 of
 * /proc/PID/stat), so a recycled pid is never mistaken for it.
 */
#include "driver.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nd_proc_start_time(pid_t pid, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (!p)
        return -EIO;
    p++;
    /* after comm: field 3 (state) ... field 22 (starttime) */
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -EIO;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (errno || end == p + 1)
        return -EIO;
    /* a zombie is not a running VMM */
    char *st = strrchr(buf, ')') + 2;
    if (*st == 'Z' || *st == 'X')
        return -ESRCH;
    *start = v;
    return 0;
}

/* 1 when pid's command line and executable say: the VMM serving sock. */
static int is_our_vmm(pid_t pid, const char *vmm_name, const char *sock)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *argv[16];
    int argc = 0;
    for (char *p = buf; p < buf + n && argc < 16; p += strlen(p) + 1)
        argv[argc++] = p;
    int sock_ok = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--api-sock") && !strcmp(argv[i + 1], sock))
            sock_ok = 1;
    if (!sock_ok)
        return 0;
    char exe[4096];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t k = readlink(path, exe, sizeof exe - 1);
    if (k <= 0 && errno == EACCES) {
        /* A process holding capabilities we dropped (started by an agent that
         * kept them, or by hand) hides its exe from us: its argv[0] then. */
        snprintf(exe, sizeof exe, "%s", argv[0]);
        k = (ssize_t)strlen(exe);
    }
    if (k <= 0)
        return 0;
    exe[k] = 0;
    char *sp = strstr(exe, " (deleted)"); /* rebuilt or upgraded underneath */
    if (sp)
        *sp = 0;
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    return strcmp(base, vmm_name) == 0;
}

int nd_vmm_find(const char *vmm_path, const char *sock, pid_t hint, unsigned long long hint_start,
                pid_t *pid, unsigned long long *start)
{
    const char *name = strrchr(vmm_path, '/');
    name = name ? name + 1 : vmm_path;
    unsigned long long st;
    if (hint > 0 && nd_proc_start_time(hint, &st) == 0 && st == hint_start &&
        is_our_vmm(hint, name, sock)) {
        *pid = hint;
        *start = st;
        return 1;
    }
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t p = (pid_t)atoi(e->d_name);
        if (p <= 1 || p == getpid())
            continue;
        if (is_our_vmm(p, name, sock) && nd_proc_start_time(p, &st) == 0) {
            *pid = p;
            *start = st;
            found = 1;
        }
    }
    closedir(d);
    return found;
}
