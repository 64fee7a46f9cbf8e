/*
 * cgroup.c - a cgroup v2 per instance, enforcing its flavor (see jail.h).
 *
 * <cgroup.parent>/<instance id> gets, before the VMM is cloned into it
 * (CLONE_INTO_CGROUP: it never runs a moment outside its limits):
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
 * A guest touching more than memory.max is killed by its own cgroup's OOM
 * killer (memory.events oom_kill), never by the host's.
 *
 * The parent must be a cgroup v2 directory the agent may write: the
 * unified hierarchy's cpu and memory controllers are enabled in its
 * subtree_control (and in each ancestor's up to the mount), and it must
 * hold no processes itself (v2's no-internal-process rule).
 */
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

/* 1 when word is in the space-separated list. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
            return 1;
    return 0;
}

/* Creates dir (and its parents inside the cgroup2 mount) with cpu and
 * memory enabled for its children, each ancestor's subtree_control first. */
static int ensure_parent(const char *dir, char *err, size_t errlen)
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
        if (fs.f_type != CGROUP2_SUPER_MAGIC) {
            snprintf(err, errlen, "cgroup.parent %s: %s is not a cgroup v2 directory", dir, up);
            return -1;
        }
        if (access(dir, F_OK) != 0 && ensure_parent(up, err, errlen) < 0)
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
    const char *need[] = {"cpu", "memory"};
    for (int i = 0; i < 2; i++) {
        if (has_word(on, need[i]))
            continue;
        if (!has_word(have, need[i])) {
            snprintf(err, errlen,
                     "cgroup %s: the %s controller is not available there (cgroup.controllers: %s)",
                     dir, need[i], have[0] && have[0] != '\n' ? have : "none");
            err[strcspn(err, "\n")] = 0;
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

int nd_cgroup_supported(const char *parent, char *err, size_t errlen)
{
    if (!parent || parent[0] != '/') {
        snprintf(err, errlen, "cgroup.parent must be an absolute path");
        return 0;
    }
    return ensure_parent(parent, err, errlen) == 0;
}

long long nd_cgroup_weight(int vcpus)
{
    long long w = 100LL * (vcpus > 0 ? vcpus : 1);
    return w > 10000 ? 10000 : w;
}

long long nd_cgroup_memory_max(const nd_jail_conf *c, int memory_mib)
{
    return ((long long)memory_mib + c->mem_overhead_mib) << 20;
}

void nd_cgroup_cpu_max(const nd_jail_conf *c, int vcpus, char *out, size_t n)
{
    const long long period = 100000;
    double cpus = vcpus > 0 ? vcpus : 1;
    if (c->cpu_max == ND_CPU_MAX_SHARE)
        cpus /= c->overcommit >= 1 ? c->overcommit : 1;
    if (c->cpu_max == ND_CPU_MAX_NONE)
        snprintf(out, n, "max %lld", period);
    else
        snprintf(out, n, "%lld %lld", (long long)(cpus * (double)period + 0.5), period);
}

int nd_cgroup_make(const nd_jail_conf *c, const nd_vm_spec *s, char *path, size_t pathlen,
                   char *err, size_t errlen)
{
    if (ensure_parent(c->cg_parent, err, errlen) < 0)
        return -1;
    snprintf(path, pathlen, "%s/%s", c->cg_parent, s->id);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cgroup %s: %s", path, strerror(errno));
        return -1;
    }
    char w[32], mem[32], cpu[64];
    snprintf(w, sizeof w, "%lld", nd_cgroup_weight(s->vcpus));
    snprintf(mem, sizeof mem, "%lld", nd_cgroup_memory_max(c, s->memory_mib));
    nd_cgroup_cpu_max(c, s->vcpus, cpu, sizeof cpu);
    const char *names[] = {"cpu.weight", "cpu.max", "memory.max", "memory.oom.group"};
    const char *vals[] = {w, cpu, mem, "1"};
    for (int i = 0; i < 4; i++) {
        int rc = write_file(path, names[i], vals[i]);
        if (rc < 0) {
            snprintf(err, errlen, "cgroup %s/%s = %s: %s", path, names[i], vals[i], strerror(-rc));
            return -1;
        }
    }
    int rc = write_file(path, "memory.swap.max", "0");
    if (rc < 0 && rc != -ENOENT) {
        snprintf(err, errlen, "cgroup %s/memory.swap.max: %s", path, strerror(-rc));
        return -1;
    }
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        snprintf(err, errlen, "cgroup %s: %s", path, strerror(errno));
    return fd;
}

int nd_cgroup_remove(const char *parent, const char *id)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", parent, id);
    return rmdir(p) == 0 || errno == ENOENT ? 0 : -errno;
}
