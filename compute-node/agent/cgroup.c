/*
 * cgroup.c - a cgroup per instance, enforcing its flavor (see jail.h), on
 * cgroup v2 or, where the host binds cpu and memory to v1, on v1.
 *
 * The version follows from where cgroup.parent lies. Inside a cgroup2
 * mount (the unified hierarchy) it is v2: <parent>/<id> gets, before the
 * VMM is cloned into it (CLONE_INTO_CGROUP: it never runs a moment outside
 * its limits):
 *   cpu.weight       100 x vCPUs (1..10000): under contention CPU time is
 *                    shared in proportion to vCPUs, so on a host overcommitted
 *                    r times every vCPU still gets at least 1/r of a CPU;
 *   cpu.max          cgroup.cpu_max: none ("max"), vcpus (one host CPU per
 *                    vCPU) or share (vCPUs / r host CPUs, r = capacity.vcpus
 *                    over the host's CPUs: no more than the overcommitted
 *                    share even on an idle host);
 *   memory.max       guest RAM + cgroup.memory_overhead_mib (the VMM's own
 *                    heap, queues, bounce buffers, page tables);
 *   memory.swap.max  0 where the file exists (the limit is the limit);
 *   memory.oom.group 1 (an OOM kill takes the whole VMM).
 * The parent must be a v2 directory the agent may write: the cpu and memory
 * controllers are enabled in its subtree_control (and each ancestor's up to
 * the mount), and it holds no processes itself (v2's no-internal-process
 * rule).
 *
 * Anywhere else (a hybrid or legacy host: /sys/fs/cgroup a tmpfs holding v1
 * mounts) it is v1. The cpu and memory hierarchies are found in
 * /proc/self/mountinfo (type cgroup, the controller among the super
 * options: `cpu,cpuacct` shares one mount), and the parent's path below the
 * directory holding them (or below the hierarchy it names) is made in each:
 * /sys/fs/cgroup/stratus is <cpu mount>/stratus and <memory mount>/stratus.
 * The same policy in v1's files:
 *   cpu.shares                1024 x vCPUs (2..262144), v1's weight;
 *   cpu.cfs_quota_us/period   the cpu.max above (-1: none) per 100000 us;
 *   memory.limit_in_bytes     guest RAM + overhead;
 *   memory.memsw.limit_in_bytes  the same where swap is accounted, and
 *                             memory.swappiness 0: no swap beyond the limit;
 *   memory.oom_control        0 (the cgroup's OOM killer on; a child would
 *                             inherit its parent's 1). v1 has no oom.group:
 *                             the VMM is one process, which the kill takes.
 * v1 has no CLONE_INTO_CGROUP: the jail's child waits on a pipe until the
 * agent has written its pid into each hierarchy's cgroup.procs
 * (nd_cgroup_attach), before its first step and long before its exec.
 * Either way a guest touching more than its limit is killed by its own
 * cgroup's OOM killer (v2 memory.events, v1 memory.oom_control oom_kill),
 * never by the host's.
 */
#include "agent.h"
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CPU_PERIOD_US 100000LL

struct nd_cgroup {
    int version;       /* 2 or 1 */
    int fd;            /* v2: an O_PATH fd of the directory (CLONE_INTO_CGROUP); v1: -1 */
    char dir[2][4200]; /* v2: dir[0]; v1: the cpu and the memory hierarchy's */
};

/* Where a cgroup lives: v2 one directory, v1 one in each hierarchy. */
typedef struct cg_where {
    int version;
    char dir[2][4200];
} cg_where;

static int write_file(const char *dir, const char *name, const char *val)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, val, strlen(val));
    int rc = n == (ssize_t)strlen(val) ? 0 : -(n < 0 ? errno : EIO);
    close(fd);
    return rc;
}

static int read_file(const char *dir, const char *name, char *out, size_t n)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t k = read(fd, out, n - 1);
    close(fd);
    if (k < 0)
        return -errno;
    out[k] = 0;
    return 0;
}

/* 1 when word is an item of list, items separated by sep (or a newline). */
static int has_word(const char *list, const char *word, char sep)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == sep) && (p[n] == 0 || p[n] == sep || p[n] == '\n'))
            return 1;
    return 0;
}

/* Creates dir (and its parents inside the cgroup2 mount) with cpu and
 * memory enabled for its children, each ancestor's subtree_control first. */
static int ensure_v2(const char *dir, char *err, size_t errlen)
{
    struct statfs fs;
    char up[4096];
    snprintf(up, sizeof up, "%s", dir);
    char *slash = strrchr(up, '/');
    if (slash && slash != up) {
        *slash = 0;
        if (statfs(up, &fs) < 0) {
            snprintf(err, errlen, "cgroup.parent %s: %s", dir, strerror(errno));
            return -1;
        }
        int exists = access(dir, F_OK) == 0;
        if (fs.f_type != CGROUP2_SUPER_MAGIC && !exists) {
            snprintf(err, errlen, "cgroup.parent %s: %s is not a cgroup v2 directory", dir, up);
            return -1;
        }
        /* up outside the mount: dir is its root, with nothing above to enable */
        if (fs.f_type == CGROUP2_SUPER_MAGIC && !exists && ensure_v2(up, err, errlen) < 0)
            return -1;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cgroup %s: %s", dir, strerror(errno));
        return -1;
    }
    if (statfs(dir, &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
        snprintf(err, errlen, "cgroup.parent %s is not a cgroup v2 directory", dir);
        return -1;
    }
    char have[512], on[512];
    if (read_file(dir, "cgroup.controllers", have, sizeof have) < 0 ||
        read_file(dir, "cgroup.subtree_control", on, sizeof on) < 0) {
        snprintf(err, errlen, "cgroup %s: cannot read its controllers", dir);
        return -1;
    }
    have[strcspn(have, "\n")] = 0;
    const char *need[] = {"cpu", "memory"};
    for (int i = 0; i < 2; i++) {
        if (has_word(on, need[i], ' '))
            continue;
        if (!has_word(have, need[i], ' ')) {
            snprintf(err, errlen,
                     "cgroup %s: the %s controller is not available there (cgroup.controllers: %s)",
                     dir, need[i], have[0] ? have : "none");
            return -1;
        }
        char w[16];
        snprintf(w, sizeof w, "+%s", need[i]);
        int rc = write_file(dir, "cgroup.subtree_control", w);
        if (rc < 0) {
            snprintf(err, errlen, "cgroup %s: enabling %s: %s%s", dir, need[i], strerror(-rc),
                     rc == -EBUSY ? " (it holds processes: v2 allows controllers only"
                                    " for a cgroup without its own)"
                                  : "");
            return -1;
        }
    }
    return 0;
}

/* mountinfo escapes a space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++)
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    *o = 0;
}

/* The mount points of the v1 hierarchies holding cpu and memory; 0, or -1
 * when either is not mounted. */
static int v1_mounts(char cpu[4096], char mem[4096])
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    cpu[0] = mem[0] = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        /* id parent dev root mountpoint opts [optional...] - fstype source superopts */
        char *save = NULL, *tok[5] = {0}, *t;
        int k = 0;
        for (t = strtok_r(line, " \n", &save); t && k < 5; t = strtok_r(NULL, " \n", &save))
            tok[k++] = t;
        while (t && strcmp(t, "-") != 0)
            t = strtok_r(NULL, " \n", &save);
        char *type = t ? strtok_r(NULL, " \n", &save) : NULL;
        char *src = type ? strtok_r(NULL, " \n", &save) : NULL;
        char *opts = src ? strtok_r(NULL, " \n", &save) : NULL;
        if (k < 5 || !opts || strcmp(type, "cgroup") != 0)
            continue;
        unescape(tok[4]);
        if (!cpu[0] && has_word(opts, "cpu", ','))
            snprintf(cpu, 4096, "%s", tok[4]);
        if (!mem[0] && has_word(opts, "memory", ','))
            snprintf(mem, 4096, "%s", tok[4]);
    }
    free(line);
    fclose(f);
    return cpu[0] && mem[0] ? 0 : -1;
}

/* The rest of path after prefix and a slash, or NULL. */
static const char *below(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '/')
        n--;
    return !strncmp(path, prefix, n) && path[n] == '/' && path[n + 1] ? path + n + 1 : NULL;
}

/*
 * Where parent is, without creating anything: v2 when its nearest existing
 * ancestor is on a cgroup2 file system; else v1, the parent's path taken
 * below the v1 hierarchy it is in, or below the directory the cpu
 * hierarchy is mounted in (/sys/fs/cgroup/stratus: "stratus").
 */
static int locate(const char *parent, cg_where *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (!parent || parent[0] != '/' || strlen(parent) >= 4000) {
        snprintf(err, errlen, "cgroup.parent must be an absolute path");
        return -1;
    }
    char up[4096];
    snprintf(up, sizeof up, "%s", parent);
    struct stat st;
    while (stat(up, &st) < 0 && strrchr(up, '/') != up)
        *strrchr(up, '/') = 0;
    struct statfs fs;
    if (statfs(up, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
        w->version = 2;
        snprintf(w->dir[0], sizeof w->dir[0], "%s", parent);
        return 0;
    }
    char cpu[4096], mem[4096];
    if (v1_mounts(cpu, mem) < 0) {
        snprintf(err, errlen,
                 "cgroup.parent %s is not in a cgroup v2 hierarchy and the v1 cpu and memory"
                 " hierarchies are not both mounted",
                 parent);
        return -1;
    }
    char top[4096];
    snprintf(top, sizeof top, "%s", cpu);
    char *slash = strrchr(top, '/');
    if (slash)
        *slash = 0;
    const char *rel = below(parent, cpu);
    if (!rel)
        rel = below(parent, mem);
    if (!rel)
        rel = below(parent, top[0] ? top : "/");
    if (!rel) {
        snprintf(err, errlen, "cgroup.parent %s is not below %s, where the v1 hierarchies are",
                 parent, top);
        return -1;
    }
    w->version = 1;
    snprintf(w->dir[0], sizeof w->dir[0], "%s/%s", cpu, rel);
    snprintf(w->dir[1], sizeof w->dir[1], "%s/%s", mem, rel);
    return 0;
}

/* The v1 parent in both hierarchies, made when missing, with the files the
 * limits go in. */
static int ensure_v1(const cg_where *w, char *err, size_t errlen)
{
    const char *need[] = {"cpu.shares", "memory.limit_in_bytes"};
    for (int i = 0; i < 2; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", w->dir[i], need[i]);
        if (nd_mkdirs(w->dir[i], 0755) < 0 || access(p, W_OK) < 0) {
            snprintf(err, errlen, "cgroup v1 %s: %s", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Locates parent and makes it ready; the version (2 or 1), or -1 with err. */
static int ensure(const char *parent, cg_where *w, char *err, size_t errlen)
{
    if (locate(parent, w, err, errlen) < 0)
        return -1;
    if (w->version == 2 ? ensure_v2(parent, err, errlen) : ensure_v1(w, err, errlen))
        return -1;
    return w->version;
}

int nd_cgroup_supported(const char *parent, char *err, size_t errlen)
{
    cg_where w;
    int v = ensure(parent, &w, err, errlen);
    return v > 0 ? v : 0;
}

long long nd_cgroup_weight(int vcpus)
{
    long long w = 100LL * (vcpus > 0 ? vcpus : 1);
    return w > 10000 ? 10000 : w;
}

long long nd_cgroup_shares(int vcpus)
{
    long long w = 1024LL * (vcpus > 0 ? vcpus : 1);
    return w > 262144 ? 262144 : w;
}

long long nd_cgroup_memory_max(const nd_jail_conf *c, int memory_mib)
{
    return ((long long)memory_mib + c->mem_overhead_mib) << 20;
}

/* Microseconds of CPU per CPU_PERIOD_US; -1: no cap. */
static long long cpu_quota(const nd_jail_conf *c, int vcpus)
{
    double cpus = vcpus > 0 ? vcpus : 1;
    if (c->cpu_max == ND_CPU_MAX_NONE)
        return -1;
    if (c->cpu_max == ND_CPU_MAX_SHARE)
        cpus /= c->overcommit >= 1 ? c->overcommit : 1;
    return (long long)(cpus * (double)CPU_PERIOD_US + 0.5);
}

void nd_cgroup_cpu_max(const nd_jail_conf *c, int vcpus, char *out, size_t n)
{
    long long q = cpu_quota(c, vcpus);
    if (q < 0)
        snprintf(out, n, "max %lld", CPU_PERIOD_US);
    else
        snprintf(out, n, "%lld %lld", q, CPU_PERIOD_US);
}

/* Writes each name = value in dir, in order; a name starting with '?' only
 * where the file exists. */
static int write_all(const char *dir, const char *const *names, char *const *vals, int n, char *err,
                     size_t errlen)
{
    for (int i = 0; i < n; i++) {
        int opt = names[i][0] == '?';
        int rc = write_file(dir, names[i] + opt, vals[i]);
        if (rc < 0 && !(opt && rc == -ENOENT)) {
            snprintf(err, errlen, "cgroup %s/%s = %s: %s", dir, names[i] + opt, vals[i],
                     strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static int limits_v2(const nd_jail_conf *c, const nd_vm_spec *s, const char *dir, char *err,
                     size_t errlen)
{
    char w[32], mem[32], cpu[64];
    snprintf(w, sizeof w, "%lld", nd_cgroup_weight(s->vcpus));
    snprintf(mem, sizeof mem, "%lld", nd_cgroup_memory_max(c, s->memory_mib));
    nd_cgroup_cpu_max(c, s->vcpus, cpu, sizeof cpu);
    const char *names[] = {"cpu.weight", "cpu.max", "memory.max", "memory.oom.group",
                           "?memory.swap.max"};
    char *vals[] = {w, cpu, mem, "1", "0"};
    return write_all(dir, names, vals, 5, err, errlen);
}

/* The quota is lifted before the period changes and the swap limit before
 * the memory limit (v1 refuses memsw below limit_in_bytes at any moment):
 * a reused cgroup may hold another flavor's values. */
static int limits_v1(const nd_jail_conf *c, const nd_vm_spec *s, const cg_where *w, char *err,
                     size_t errlen)
{
    char sh[32], per[32], quota[32], mem[32];
    snprintf(sh, sizeof sh, "%lld", nd_cgroup_shares(s->vcpus));
    snprintf(per, sizeof per, "%lld", CPU_PERIOD_US);
    snprintf(quota, sizeof quota, "%lld", cpu_quota(c, s->vcpus));
    snprintf(mem, sizeof mem, "%lld", nd_cgroup_memory_max(c, s->memory_mib));
    const char *cn[] = {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.cfs_quota_us"};
    char *cv[] = {sh, "-1", per, quota};
    const char *mn[] = {"?memory.memsw.limit_in_bytes", "memory.limit_in_bytes",
                        "?memory.memsw.limit_in_bytes", "memory.swappiness", "memory.oom_control"};
    char *mv[] = {"-1", mem, mem, "0", "0"};
    if (write_all(w->dir[0], cn, cv, 4, err, errlen) < 0 ||
        write_all(w->dir[1], mn, mv, 5, err, errlen) < 0)
        return -1;
    return 0;
}

nd_cgroup *nd_cgroup_make(const nd_jail_conf *c, const nd_vm_spec *s, char *err, size_t errlen)
{
    cg_where w;
    if (ensure(c->cg_parent, &w, err, errlen) < 0)
        return NULL;
    nd_cgroup *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->version = w.version;
    g->fd = -1;
    for (int i = 0; i < (w.version == 2 ? 1 : 2); i++) {
        snprintf(g->dir[i], sizeof g->dir[i], "%s/%s", w.dir[i], s->id);
        if (mkdir(g->dir[i], 0755) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "cgroup %s: %s", g->dir[i], strerror(errno));
            goto fail;
        }
    }
    if (g->version == 1) {
        snprintf(w.dir[0], sizeof w.dir[0], "%s", g->dir[0]);
        snprintf(w.dir[1], sizeof w.dir[1], "%s", g->dir[1]);
        if (limits_v1(c, s, &w, err, errlen) < 0)
            goto fail;
        return g;
    }
    if (limits_v2(c, s, g->dir[0], err, errlen) < 0)
        goto fail;
    g->fd = open(g->dir[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (g->fd < 0) {
        snprintf(err, errlen, "cgroup %s: %s", g->dir[0], strerror(errno));
        goto fail;
    }
    return g;
fail:
    nd_cgroup_free(g);
    return NULL;
}

int nd_cgroup_clone_fd(const nd_cgroup *g)
{
    return g ? g->fd : -1;
}

int nd_cgroup_attach(const nd_cgroup *g, pid_t pid, char *err, size_t errlen)
{
    if (!g || g->fd >= 0)
        return 0; /* v2: cloned into it */
    char p[32];
    snprintf(p, sizeof p, "%d", (int)pid);
    for (int i = 0; i < 2; i++) {
        int rc = write_file(g->dir[i], "cgroup.procs", p);
        if (rc < 0) {
            snprintf(err, errlen, "cgroup %s/cgroup.procs = %s: %s", g->dir[i], p, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

void nd_cgroup_free(nd_cgroup *g)
{
    if (!g)
        return;
    if (g->fd >= 0)
        close(g->fd);
    free(g);
}

int nd_cgroup_dir(const char *parent, const char *id, const char *controller, char *out, size_t n)
{
    cg_where w;
    char err[256];
    if (locate(parent, &w, err, sizeof err) < 0)
        return -1;
    snprintf(out, n, "%s/%s", w.dir[w.version == 1 && !strcmp(controller, "memory")], id);
    return w.version;
}

int nd_cgroup_remove(const char *parent, const char *id)
{
    cg_where w;
    char err[256], p[4400];
    if (locate(parent, &w, err, sizeof err) < 0)
        return 0; /* no hierarchy to hold it */
    int rc = 0;
    for (int i = 0; i < (w.version == 2 ? 1 : 2); i++) {
        snprintf(p, sizeof p, "%s/%s", w.dir[i], id);
        if (rmdir(p) < 0 && errno != ENOENT && rc == 0)
            rc = -errno;
    }
    return rc;
}
