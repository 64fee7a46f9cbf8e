/*
 * jail.h - the jail every stratus-vmm runs in, and its instance's cgroup
 * (jail.c, cgroup.c). Firecracker's jailer is the model.
 *
 * A jailed VMM runs as a uid/gid of its own, taken from a configured range,
 * in a mount namespace whose root is a private tmpfs that holds only what it
 * needs, each at the same path as on the host (so vm.json, the qcow2 backing
 * names and the control socket mean the same inside and out): its disks and
 * their backing chain, its kernel, its serial log, its socket directory
 * `<dir>/run`, /dev/kvm and /dev/net/tun (device nodes of its own, owned by
 * its uid), /usr read only (its libraries) and a /proc of its own pid
 * namespace, where it is pid 1. Everything else on the host (other
 * instances' disks, cached images it does not boot, the agent's
 * configuration and credential) does not exist there.
 */
#ifndef ND_JAIL_H
#define ND_JAIL_H

#include <sys/types.h>

#include "driver.h"

/* cgroup.cpu_max: how a cgroup's CPU time is capped besides its weight. */
typedef enum nd_cpu_max {
    ND_CPU_MAX_NONE = 0, /* weight only: an idle host lends its CPUs */
    ND_CPU_MAX_VCPUS,    /* at most one host CPU per vCPU */
    ND_CPU_MAX_SHARE,    /* at most vCPUs / overcommit ratio host CPUs */
} nd_cpu_max;

typedef struct nd_jail_conf {
    int on; /* jail each VMM */
    unsigned uid_base, uid_count;
    const char *state_dir; /* instances/<id>/run owned by a uid marks it taken */
    int cg_on;             /* a cgroup per instance */
    const char *cg_parent; /* instances go in <parent>/<id> (cgroup.c: v2 or v1) */
    long long mem_overhead_mib;
    nd_cpu_max cpu_max;
    double overcommit; /* capacity.vcpus / host CPUs, at least 1 */
} nd_jail_conf;

typedef struct nd_jail nd_jail;

/*
 * Everything a jail needs, made ready on the host: a uid/gid, `<dir>/run`
 * and the instance's files chowned to it, the taps' owner set to it (so no
 * other jail can attach to them), the list of mounts and device nodes, and,
 * with cg_on, the cgroup `<parent>/<id>` with the spec's limits. exe is the
 * program to run (the VMM, or a test's probe). NULL with err on failure.
 */
nd_jail *nd_jail_prepare(const nd_jail_conf *c, const nd_vm_spec *s, const char *exe, char *err,
                         size_t errlen);
/* Adds a file or directory, read only unless rw, at its own path. */
int nd_jail_add(nd_jail *j, const char *path, int rw, char *err, size_t errlen);
/*
 * Runs argv[0] (which must be a path inside the jail) in the jail: a direct
 * child (clone3), pid 1 of its own pid namespace, in the cgroup when there is
 * one, stdin from in_fd, stdout and stderr to out_fd, its own session, a
 * clean signal state. Returns once it has exec'd (0, *pid and *pidfd set)
 * or failed (-1, err says which step).
 */
int nd_jail_spawn(const nd_jail *j, char *const argv[], char *const envp[], int in_fd, int out_fd,
                  pid_t *pid, int *pidfd, char *err, size_t errlen);
uid_t nd_jail_uid(const nd_jail *j);
void nd_jail_free(nd_jail *j);

/* 1 when a jail can be made here (a trial jail runs /usr/bin/true); else 0
 * with err saying why. */
int nd_jail_supported(const nd_jail_conf *c, char *err, size_t errlen);

/* cgroup.c: an instance's cgroup, v2 or v1 (its opening comment says which
 * where); the callers do not care which. */
typedef struct nd_cgroup nd_cgroup;
/* The version (2 or 1) when cg_parent can hold instance cgroups with cpu
 * and memory controllers (creating it and enabling them as needed); else 0
 * with err. */
int nd_cgroup_supported(const char *parent, char *err, size_t errlen);
/* Creates (or reuses) the instance's cgroup under parent with its flavor's
 * weight and limits; NULL with err. */
nd_cgroup *nd_cgroup_make(const nd_jail_conf *c, const nd_vm_spec *s, char *err, size_t errlen);
/* An fd for CLONE_INTO_CGROUP, or -1: then the child must wait until
 * nd_cgroup_attach has moved it in (v1), before it does anything. */
int nd_cgroup_clone_fd(const nd_cgroup *g);
/* Moves pid into g (each v1 hierarchy); 0 at once on v2. -1 with err. */
int nd_cgroup_attach(const nd_cgroup *g, pid_t pid, char *err, size_t errlen);
void nd_cgroup_free(nd_cgroup *g);
/* The values nd_cgroup_make writes, for tests and the README. */
long long nd_cgroup_weight(int vcpus); /* v2 cpu.weight */
long long nd_cgroup_shares(int vcpus); /* v1 cpu.shares */
long long nd_cgroup_memory_max(const nd_jail_conf *c, int memory_mib);
/* "max 100000" or "<quota> 100000" (v1: cfs_quota_us -1 or quota, period). */
void nd_cgroup_cpu_max(const nd_jail_conf *c, int vcpus, char *out, size_t n);
/* The directory holding controller's ("cpu" or "memory") files of instance
 * id; the version, or -1 where parent is no cgroup. For tests. */
int nd_cgroup_dir(const char *parent, const char *id, const char *controller, char *out, size_t n);
/* Removes the instance's cgroup (its processes gone); 0 or -errno. */
int nd_cgroup_remove(const char *parent, const char *id);

#endif
