/*
 * test_jail.c - node_jail: a VMM's jail and its instance's cgroup (jail.c,
 * cgroup.c), with a probe program (jail_probe.c) in the VMM's place, run by
 * the same jail code the vmm driver uses. Root only.
 *
 *   - from inside instance A's jail: its own disk opens read-write, its
 *     backing image read-only, /dev/net/tun opens, it attaches to its own
 *     tap unprivileged and not to instance B's; instance B's disk, the
 *     agent's configuration with its credential, A's own state.json and the
 *     host's /etc/passwd do not exist; / is read-only; the uid is A's own
 *     (in the range, not 0), different from B's and kept across launches;
 *     the probe is pid 1, /proc lists only the jail, a host pid cannot be
 *     signalled.
 *   - a real stratus-vmm in a jail: the agent's HTTP client reaches its
 *     control socket (GET /vm answers not_started), /proc shows the jail's
 *     uid, and nd_vmm_find (adoption) finds it.
 *   - the vmm driver with the jail on: its VMM takes the config over
 *     run/vmm.sock (and, without KVM, fails its start as the driver says).
 *   node_cgroup (the same file, ND_CGROUP_TEST), on cgroup v2 or v1, whichever
 *   cgroup.c picks for the parent (skipped where neither gives cpu and memory):
 *   - the instance cgroup holds its flavor's values in that version's files
 *     (v2 cpu.weight, cpu.max, memory.max, memory.oom.group; v1 cpu.shares,
 *     cfs quota and period, memory.limit_in_bytes and memsw, oom_control),
 *     and a probe eating 64 MiB against its 32 MiB is SIGKILLed by its own
 *     cgroup (oom_kill in memory.events or memory.oom_control), which the
 *     agent's waitid sees; removal leaves no directory;
 *   - a probe whose cgroup was removed before its spawn never runs (v1: the
 *     attach fails and the waiting child is killed; v2: clone3 refuses);
 *   - two probes of 1 and 3 vCPUs spinning on the same host CPU, each in its
 *     cgroup in every controller, run 1:3 over 2 s (2..4.5 passes; 1:1
 *     without weights).
 */
#include "agent.h"
#include "jail.h"
#include "st_proc.h"
#include "st_test.h"
#include "stratus/disk.h"
#include "stratus/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[256];

static void touch(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

static nd_jail_conf conf(const char *state)
{
    nd_jail_conf c = {.on = 1,
                      .uid_base = 470000,
                      .uid_count = 16,
                      .state_dir = state,
                      .mem_overhead_mib = 16,
                      .overcommit = 1};
    return c;
}

/* An instance directory with a qcow2 disk over a raw base in images/. */
static void make_inst(const char *state, const char *id, char *dir, size_t n, nd_vm_spec *s)
{
    snprintf(dir, n, "%s/instances/%s", state, id);
    ST_ASSERT_INT_EQ(nd_mkdirs(dir, 0700), 0);
    char img[700], disk[700];
    snprintf(img, sizeof img, "%s/images/base-%s.raw", state, id);
    touch(img, "base image bytes\n");
    chmod(img, 0444);
    snprintf(disk, sizeof disk, "%s/disk.qcow2", dir);
    ST_ASSERT_INT_EQ(st_qcow2_create(disk, 1 << 20, img, "raw"), 0);
    char st[700];
    snprintf(st, sizeof st, "%s/state.json", dir);
    touch(st, "{}");
    memset(s, 0, sizeof *s);
    s->id = id;
    s->dir = dir;
    s->vcpus = 1;
    s->memory_mib = 16;
    s->ndisks = 1;
    snprintf(s->disks[0].id, sizeof s->disks[0].id, "disk0");
    snprintf(s->disks[0].path, sizeof s->disks[0].path, "%s", disk);
    snprintf(s->disks[0].format, sizeof s->disks[0].format, "qcow2");
}

/* Runs argv in j with output to out; the exit status (or 128 + signal). */
static int run_in(nd_jail *j, char **argv, const char *out)
{
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t pid;
    int pfd;
    char err[512] = "", *envp[] = {"PATH=/usr/bin", NULL};
    int rc = nd_jail_spawn(j, argv, envp, in, o, &pid, &pfd, err, sizeof err);
    close(in);
    close(o);
    if (rc < 0)
        fprintf(stderr, "spawn: %s\n", err);
    ST_ASSERT_INT_EQ(rc, 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    ST_ASSERT_INT_EQ(waitid(P_PIDFD, (id_t)pfd, &si, WEXITED), 0);
    close(pfd);
    return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

/* The value after "key " in the probe's output; -1 when absent. */
__attribute__((unused)) static long val(const char *out, const char *key)
{
    FILE *f = fopen(out, "r");
    char line[1200];
    long v = -1;
    size_t k = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ' ')
            v = strtol(line + k + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

#ifndef ND_CGROUP_TEST
static void test_jail_sees_only_its_own(void)
{
    char state[300], a[600], b[600], out[600], conffile[600];
    snprintf(state, sizeof state, "%s/state", base);
    nd_vm_spec sa, sb;
    char images[400];
    snprintf(images, sizeof images, "%s/images", state);
    ST_ASSERT_INT_EQ(nd_mkdirs(images, 0700), 0);
    make_inst(state, "aaaaaaaa-0000-4000-8000-000000000001", a, sizeof a, &sa);
    make_inst(state, "bbbbbbbb-0000-4000-8000-000000000002", b, sizeof b, &sb);
    snprintf(conffile, sizeof conffile, "%s/node.conf", base);
    touch(conffile, "node.credential = stn_secret\n");
    /* each its tap (in this test's own network namespace), made as network/ makes them */
    const char *taps[] = {"tapjailA", "tapjailB"};
    nd_vm_spec *specs[] = {&sa, &sb};
    for (int i = 0; i < 2; i++) {
        int t = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", taps[i]);
        CU_ASSERT_FATAL(t >= 0 && ioctl(t, TUNSETIFF, &ifr) == 0 &&
                        ioctl(t, TUNSETPERSIST, 1) == 0);
        close(t);
        specs[i]->nports = 1;
        snprintf(specs[i]->ports[0].tap, sizeof specs[i]->ports[0].tap, "%s", taps[i]);
    }
    nd_jail_conf c = conf(state);
    char err[512] = "";
    const char *probe = st_build_path("compute-node/agent/tests/jail_probe");
    nd_jail *ja = nd_jail_prepare(&c, &sa, probe, err, sizeof err);
    if (!ja)
        fprintf(stderr, "prepare: %s\n", err);
    CU_ASSERT_FATAL(ja != NULL);
    nd_jail *jb = nd_jail_prepare(&c, &sb, probe, err, sizeof err);
    CU_ASSERT_FATAL(jb != NULL);
    CU_ASSERT_FATAL(nd_jail_uid(ja) != nd_jail_uid(jb));
    CU_ASSERT_FATAL(nd_jail_uid(ja) >= 470000 && nd_jail_uid(ja) < 470016);
    char hostpid[16], pa[700], pb[700], ps[700], base_a[600];
    snprintf(hostpid, sizeof hostpid, "%d", (int)getpid());
    snprintf(pa, sizeof pa, "%s/disk.qcow2", a);
    snprintf(pb, sizeof pb, "%s/disk.qcow2", b);
    snprintf(ps, sizeof ps, "%s/state.json", a);
    snprintf(base_a, sizeof base_a, "%s/base-%s.raw", images, sa.id);
    char *argv[] = {(char *)probe,
                    hostpid,
                    pa,
                    base_a,
                    pb,
                    conffile,
                    ps,
                    "/etc/passwd",
                    "/dev/net/tun",
                    "tap:tapjailA",
                    "tap:tapjailB",
                    NULL};
    snprintf(out, sizeof out, "%s/probe.out", base);
    ST_ASSERT_INT_EQ(run_in(ja, argv, out), 0);
    char line[1300];
    ST_ASSERT_INT_EQ(val(out, "uid"), (long)nd_jail_uid(ja));
    ST_ASSERT_INT_EQ(val(out, "gid"), (long)nd_jail_uid(ja));
    ST_ASSERT_INT_EQ(val(out, "pid"), 1);
    ST_ASSERT_INT_EQ(val(out, "procs"), 1);
    ST_ASSERT_INT_EQ(val(out, "kill_host"), ESRCH);
    ST_ASSERT_INT_EQ(val(out, "write_root"), EROFS);
    ST_ASSERT_INT_EQ(val(out, "tap tapjailA"), 0);     /* its own, unprivileged */
    ST_ASSERT_INT_EQ(val(out, "tap tapjailB"), EPERM); /* another jail's */
    struct {
        const char *path;
        int rw, ro;
    } want[] = {{pa, 0, 0},
                {base_a, EACCES, 0},
                {pb, ENOENT, ENOENT},
                {conffile, ENOENT, ENOENT},
                {ps, ENOENT, ENOENT},
                {"/etc/passwd", ENOENT, ENOENT},
                {"/dev/net/tun", 0, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(line, sizeof line, "open %s", want[i].path);
        FILE *f = fopen(out, "r");
        char l[1300];
        int found = 0;
        while (fgets(l, sizeof l, f))
            if (!strncmp(l, line, strlen(line)) && l[strlen(line)] == ' ') {
                int rw, ro;
                ST_ASSERT_INT_EQ(sscanf(l + strlen(line), "%d %d", &rw, &ro), 2);
                if (rw != want[i].rw || ro != want[i].ro)
                    fprintf(stderr, "%s: rw %d ro %d\n", want[i].path, rw, ro);
                ST_ASSERT_INT_EQ(rw, want[i].rw);
                ST_ASSERT_INT_EQ(ro, want[i].ro);
                found = 1;
            }
        fclose(f);
        CU_ASSERT_FATAL(found);
    }
    /* a second launch of A keeps its uid */
    uid_t ua = nd_jail_uid(ja);
    nd_jail_free(ja);
    ja = nd_jail_prepare(&c, &sa, probe, err, sizeof err);
    CU_ASSERT_FATAL(ja != NULL);
    ST_ASSERT_INT_EQ(nd_jail_uid(ja), ua);
    nd_jail_free(ja);
    nd_jail_free(jb);
}

static void test_jailed_vmm_answers_the_agent(void)
{
    char state[300], a[600], out[700], sock[700];
    snprintf(state, sizeof state, "%s/vstate", base);
    char images[400];
    snprintf(images, sizeof images, "%s/images", state);
    ST_ASSERT_INT_EQ(nd_mkdirs(images, 0700), 0);
    nd_vm_spec s;
    make_inst(state, "cccccccc-0000-4000-8000-000000000003", a, sizeof a, &s);
    nd_jail_conf c = conf(state);
    char err[512] = "";
    const char *vmm = st_build_path("compute-node/vmm/stratus-vmm");
    nd_jail *j = nd_jail_prepare(&c, &s, vmm, err, sizeof err);
    CU_ASSERT_FATAL(j != NULL);
    snprintf(sock, sizeof sock, "%s/run/vmm.sock", a);
    snprintf(out, sizeof out, "%s/vmm.log", a);
    char *argv[] = {(char *)vmm, "--api-sock", sock, NULL}, *envp[] = {NULL};
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC), o = open(out, O_WRONLY | O_CREAT, 0600);
    pid_t pid;
    int pfd;
    ST_ASSERT_INT_EQ(nd_jail_spawn(j, argv, envp, in, o, &pid, &pfd, err, sizeof err), 0);
    close(in);
    close(o);
    st_httpc_resp r;
    long st = 0;
    for (int i = 0; i < 200 && st != 200; i++) {
        st_httpc_req q = {
            .method = "GET", .url = "http://localhost/vm", .unix_sock = sock, .timeout_ms = 2000};
        st = st_httpc(&q, &r, err, sizeof err);
        if (st != 200) {
            st_httpc_resp_free(&r);
            usleep(20000);
        }
    }
    ST_ASSERT_INT_EQ(st, 200);
    CU_ASSERT_FATAL(r.body && strstr(r.body, "not_started") != NULL);
    st_httpc_resp_free(&r);
    char path[64], l[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long uid = -1;
    while (f && fgets(l, sizeof l, f))
        if (!strncmp(l, "Uid:", 4))
            uid = strtol(l + 4, NULL, 10);
    if (f)
        fclose(f);
    ST_ASSERT_INT_EQ(uid, (long)nd_jail_uid(j));
    pid_t found = 0;
    unsigned long long start = 0;
    ST_ASSERT_INT_EQ(nd_vmm_find(vmm, sock, 0, 0, &found, &start), 1);
    ST_ASSERT_INT_EQ(found, pid);
    kill(pid, SIGKILL);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PIDFD, (id_t)pfd, &si, WEXITED);
    ST_ASSERT_INT_EQ(si.si_status, SIGKILL); /* still the agent's child: its status is known */
    close(pfd);
    nd_jail_free(j);
}

/* The vmm driver with the jail on: the VMM it spawns is jailed, takes its
 * config over run/vmm.sock and, with no /dev/kvm here, fails its start,
 * which the driver reports; the VMM's log reached vmm.log. */
static void test_driver_launches_jailed(void)
{
    char state[300], a[600], log[700];
    snprintf(state, sizeof state, "%s/dstate", base);
    char images[400];
    snprintf(images, sizeof images, "%s/images", state);
    ST_ASSERT_INT_EQ(nd_mkdirs(images, 0700), 0);
    nd_vm_spec s;
    make_inst(state, "eeeeeeee-0000-4000-8000-000000000005", a, sizeof a, &s);
    snprintf(s.kernel, sizeof s.kernel, "%s/images/base-%s.raw", state, s.id);
    snprintf(s.cmdline, sizeof s.cmdline, "console=ttyS0");
    s.fresh = 1;
    nd_jail_conf c = conf(state);
    nd_vmm_opts o = {
        .vmm_path = st_build_path("compute-node/vmm/stratus-vmm"), .log_level = "info", .jail = &c};
    char err[512] = "";
    nd_driver *d = nd_driver_vmm_new(&o, err, sizeof err);
    CU_ASSERT_FATAL(d != NULL);
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    int pfd = -1;
    int rc = d->ops->launch(d, &s, &h, &pfd, err, sizeof err);
    if (access("/dev/kvm", F_OK) != 0) {
        ST_ASSERT_INT_EQ(rc, -1);
        CU_ASSERT(strstr(err, "VMM start failed") != NULL);
        fprintf(stderr, "launch without KVM: %s\n", err);
    } else if (rc == 0) {
        d->ops->destroy(d, a, &h, pfd, err, sizeof err);
        close(pfd);
    }
    snprintf(log, sizeof log, "%s/vmm.log", a);
    struct stat st;
    ST_ASSERT_INT_EQ(stat(log, &st), 0);
    CU_ASSERT(st.st_size > 0);
    snprintf(log, sizeof log, "%s/run", a);
    ST_ASSERT_INT_EQ(stat(log, &st), 0);
    CU_ASSERT(st.st_uid >= 470000 && st.st_uid < 470016);
    d->ops->free(d);
}

#else
/* STRATUS_TEST_CGROUP_PARENT, or one of this run's own (runs from other
 * build trees may go at the same time, with the same instance ids). */
static const char *cg_parent(void)
{
    static char own[64];
    const char *p = getenv("STRATUS_TEST_CGROUP_PARENT");
    if (!p && !own[0])
        snprintf(own, sizeof own, "/sys/fs/cgroup/stratus-test-jail-%d", (int)getpid());
    return p ? p : own;
}

/* The value after "key " in dir/name (key NULL: the file's first number);
 * -2 when the file or key is absent. */
static long long cg_val(const char *dir, const char *name, const char *key)
{
    char p[4400], line[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    long long v = -2;
    size_t k = key ? strlen(key) : 0;
    while (f && v == -2 && fgets(line, sizeof line, f))
        if (!key)
            v = strtoll(line, NULL, 10);
        else if (!strncmp(line, key, k) && line[k] == ' ')
            v = strtoll(line + k + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* 1 when pid is listed in dir/cgroup.procs. */
static int cg_holds(const char *dir, pid_t pid)
{
    char p[4400], line[64];
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    FILE *f = fopen(p, "r");
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        found |= atol(line) == (long)pid;
    if (f)
        fclose(f);
    return found;
}

/* A jailed instance with a cgroup of vcpus and mib, under cgstate/. */
static nd_jail *cg_inst(const char *id, int vcpus, int mib, nd_cpu_max cpu_max, nd_vm_spec *s,
                        char *dir, size_t dirlen)
{
    char state[300], images[400], err[512] = "";
    snprintf(state, sizeof state, "%s/cgstate", base);
    snprintf(images, sizeof images, "%s/images", state);
    ST_ASSERT_INT_EQ(nd_mkdirs(images, 0700), 0);
    make_inst(state, id, dir, dirlen, s);
    s->vcpus = vcpus;
    s->memory_mib = mib;
    static char statedir[300];
    snprintf(statedir, sizeof statedir, "%s", state);
    nd_jail_conf c = conf(statedir);
    c.cg_on = 1;
    c.cg_parent = cg_parent();
    c.cpu_max = cpu_max;
    nd_jail *j = nd_jail_prepare(&c, s, st_build_path("compute-node/agent/tests/jail_probe"), err,
                                 sizeof err);
    if (!j)
        fprintf(stderr, "prepare: %s\n", err);
    return j;
}

static void test_cgroup_limits(void)
{
    const char *parent = cg_parent();
    char err[512] = "", a[600], out[600], cpu[4200], mem[4200];
    int v = nd_cgroup_supported(parent, err, sizeof err);
    CU_ASSERT_FATAL(v == 1 || v == 2);
    nd_vm_spec s;
    nd_jail *j =
        cg_inst("dddddddd-0000-4000-8000-000000000004", 2, 16, ND_CPU_MAX_VCPUS, &s, a, sizeof a);
    CU_ASSERT_FATAL(j != NULL);
    ST_ASSERT_INT_EQ(nd_cgroup_dir(parent, s.id, "cpu", cpu, sizeof cpu), v);
    ST_ASSERT_INT_EQ(nd_cgroup_dir(parent, s.id, "memory", mem, sizeof mem), v);
    fprintf(stderr, "cgroup v%d: %s, %s\n", v, cpu, mem);
    const long long limit = (16LL + 16) << 20; /* guest RAM + overhead */
    if (v == 2) {
        ST_ASSERT_INT_EQ(cg_val(cpu, "cpu.weight", NULL), 200);
        ST_ASSERT_INT_EQ(cg_val(cpu, "cpu.max", NULL), 200000); /* "200000 100000" */
        ST_ASSERT_INT_EQ(cg_val(mem, "memory.max", NULL), limit);
        ST_ASSERT_INT_EQ(cg_val(mem, "memory.oom.group", NULL), 1);
    } else {
        ST_ASSERT_INT_EQ(cg_val(cpu, "cpu.shares", NULL), 2048);
        ST_ASSERT_INT_EQ(cg_val(cpu, "cpu.cfs_quota_us", NULL), 200000);
        ST_ASSERT_INT_EQ(cg_val(cpu, "cpu.cfs_period_us", NULL), 100000);
        ST_ASSERT_INT_EQ(cg_val(mem, "memory.limit_in_bytes", NULL), limit);
        long long sw = cg_val(mem, "memory.memsw.limit_in_bytes", NULL);
        CU_ASSERT(sw == -2 || sw == limit); /* -2: no swap accounting in this kernel */
        ST_ASSERT_INT_EQ(cg_val(mem, "memory.oom_control", "oom_kill_disable"), 0);
        ST_ASSERT_INT_EQ(cg_val(mem, "memory.oom_control", "oom_kill"), 0);
    }
    /* the probe eats 64 MiB against a 32 MiB limit: its own cgroup kills it,
     * and the agent's waitid sees SIGKILL */
    char *argv[] = {(char *)st_build_path("compute-node/agent/tests/jail_probe"), "--eat", "64",
                    NULL};
    snprintf(out, sizeof out, "%s/eat.out", base);
    ST_ASSERT_INT_EQ(run_in(j, argv, out), 128 + SIGKILL);
    long long kills = v == 2 ? cg_val(mem, "memory.events", "oom_kill")
                             : cg_val(mem, "memory.oom_control", "oom_kill");
    fprintf(stderr, "oom_kill %lld in the instance's cgroup\n", kills);
    CU_ASSERT_FATAL(kills >= 1);
    if (v == 1) { /* it got as far as the limit (this kernel keeps failcnt 0 on v1) */
        long long peak = cg_val(mem, "memory.max_usage_in_bytes", NULL);
        fprintf(stderr, "max_usage_in_bytes %lld, failcnt %lld\n", peak,
                cg_val(mem, "memory.failcnt", NULL));
        CU_ASSERT(peak > limit - (4LL << 20) && peak <= limit);
    }
    nd_jail_free(j);
    ST_ASSERT_INT_EQ(nd_cgroup_remove(parent, s.id), 0);
    struct stat st;
    CU_ASSERT(stat(cpu, &st) < 0 && errno == ENOENT);
    CU_ASSERT(stat(mem, &st) < 0 && errno == ENOENT);
}

/* A VMM whose cgroup cannot take it is not run at all: with the cgroup
 * removed between prepare and spawn, the spawn fails and the probe never
 * wrote a line. */
static void test_no_cgroup_no_run(void)
{
    const char *parent = cg_parent();
    char a[600], out[600], d[4200], err[512] = "";
    nd_vm_spec s;
    nd_jail *j =
        cg_inst("dddddddd-0000-4000-8000-000000000006", 1, 16, ND_CPU_MAX_NONE, &s, a, sizeof a);
    CU_ASSERT_FATAL(j != NULL);
    ST_ASSERT_INT_EQ(nd_cgroup_remove(parent, s.id), 0);
    CU_ASSERT_FATAL(nd_cgroup_dir(parent, s.id, "memory", d, sizeof d) > 0);
    struct stat st;
    CU_ASSERT_FATAL(stat(d, &st) < 0);
    char hostpid[16];
    snprintf(hostpid, sizeof hostpid, "%d", (int)getpid());
    char *argv[] = {(char *)st_build_path("compute-node/agent/tests/jail_probe"), hostpid, NULL};
    char *envp[] = {NULL};
    snprintf(out, sizeof out, "%s/nocg.out", base);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t pid = 0;
    int pfd = -1;
    int rc = nd_jail_spawn(j, argv, envp, in, o, &pid, &pfd, err, sizeof err);
    close(in);
    close(o);
    fprintf(stderr, "spawn into a removed cgroup: %s\n", err);
    ST_ASSERT_INT_EQ(rc, -1);
    CU_ASSERT(err[0] != 0);
    ST_ASSERT_INT_EQ(stat(out, &st), 0);
    ST_ASSERT_INT_EQ(st.st_size, 0);
    nd_jail_free(j);
}

/* Nanoseconds pid has run (/proc/<pid>/schedstat's first field). */
static long long ran_ns(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d", (int)pid);
    return cg_val(p, "schedstat", NULL);
}

/* Two busy instances of 1 and 3 vCPUs, spinning on the same host CPU for
 * 2 s, share it 1:3 (without weights they would share it 1:1). */
static void test_cpu_follows_vcpus(void)
{
    const char *parent = cg_parent();
    cpu_set_t mine;
    CU_ASSERT_FATAL(sched_getaffinity(0, sizeof mine, &mine) == 0);
    int hostcpu = 0;
    while (!CPU_ISSET(hostcpu, &mine))
        hostcpu++;
    char cpuarg[16], out[600], err[512] = "", dir[2][600];
    snprintf(cpuarg, sizeof cpuarg, "%d", hostcpu);
    const char *ids[2] = {"ffffffff-0000-4000-8000-000000000011",
                          "ffffffff-0000-4000-8000-000000000013"};
    const int vcpus[2] = {1, 3};
    nd_vm_spec s[2];
    nd_jail *j[2];
    pid_t pid[2];
    int pfd[2];
    for (int i = 0; i < 2; i++) {
        j[i] = cg_inst(ids[i], vcpus[i], 64, ND_CPU_MAX_NONE, &s[i], dir[i], sizeof dir[i]);
        CU_ASSERT_FATAL(j[i] != NULL);
        char *argv[] = {(char *)st_build_path("compute-node/agent/tests/jail_probe"), "--spin",
                        cpuarg, NULL};
        char *envp[] = {NULL};
        snprintf(out, sizeof out, "%s/spin%d.out", base, i);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int rc = nd_jail_spawn(j[i], argv, envp, in, o, &pid[i], &pfd[i], err, sizeof err);
        if (rc < 0)
            fprintf(stderr, "spawn: %s\n", err);
        close(in);
        close(o);
        CU_ASSERT_FATAL(rc == 0);
    }
    /* each is in its own instance's cgroup, in every controller */
    for (int i = 0; i < 2; i++) {
        char cpu[4200], mem[4200];
        CU_ASSERT_FATAL(nd_cgroup_dir(parent, ids[i], "cpu", cpu, sizeof cpu) > 0);
        CU_ASSERT_FATAL(nd_cgroup_dir(parent, ids[i], "memory", mem, sizeof mem) > 0);
        CU_ASSERT(cg_holds(cpu, pid[i]));
        CU_ASSERT(cg_holds(mem, pid[i]));
    }
    usleep(300000); /* both pinned and spinning */
    long long t0[2] = {ran_ns(pid[0]), ran_ns(pid[1])};
    usleep(2000000);
    long long t1[2] = {ran_ns(pid[0]), ran_ns(pid[1])};
    for (int i = 0; i < 2; i++) {
        kill(pid[i], SIGKILL);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        ST_ASSERT_INT_EQ(waitid(P_PIDFD, (id_t)pfd[i], &si, WEXITED), 0);
        close(pfd[i]);
        ST_ASSERT_INT_EQ(si.si_code, CLD_KILLED); /* still spinning, not exited (4: not pinned) */
        nd_jail_free(j[i]);
        ST_ASSERT_INT_EQ(nd_cgroup_remove(parent, ids[i]), 0);
    }
    double one = (double)(t1[0] - t0[0]) / 1e6, three = (double)(t1[1] - t0[1]) / 1e6;
    double ratio = one > 0 ? three / one : 0;
    fprintf(stderr,
            "CPU %d for 2 s: 1 vCPU ran %.0f ms, 3 vCPUs ran %.0f ms, ratio %.2f (want 3)\n",
            hostcpu, one, three, ratio);
    CU_ASSERT(one > 50);   /* the small one is not starved */
    CU_ASSERT(ratio >= 2); /* 1:1 without weights */
    CU_ASSERT(ratio <= 4.5);
}
#endif

static int setup(void)
{
    if (geteuid() != 0)
        st_skip("node_jail needs root (mount namespaces, uids)");
#ifdef ND_CGROUP_TEST
    char err[512] = "";
    if (!nd_cgroup_supported(cg_parent(), err, sizeof err))
        st_skip("neither cgroup v2 nor v1 can give instances cpu and memory limits here: %s", err);
#endif
    snprintf(base, sizeof base, "/tmp/node-jail-XXXXXX");
    if (!mkdtemp(base))
        return 1;
    if (unshare(CLONE_NEWNET) < 0) /* the taps die with the test */
        return 1;
    chmod(base, 0755);
    return 0;
}

static int teardown(void)
{
#ifdef ND_CGROUP_TEST
    if (!getenv("STRATUS_TEST_CGROUP_PARENT")) /* the test's own parent, in each hierarchy */
        for (int i = 0; i < 2; i++) {
            char d[4200];
            if (nd_cgroup_dir(cg_parent(), "x", i ? "memory" : "cpu", d, sizeof d) > 0) {
                d[strlen(d) - 2] = 0;
                rmdir(d);
            }
        }
#endif
    if (getenv("ND_JAIL_KEEP")) { /* keep the instance directories and logs to look at */
        fprintf(stderr, "kept %s\n", base);
        return 0;
    }
    nd_rmtree(base);
    return 0;
}

static CU_TestInfo tests[] = {
#ifdef ND_CGROUP_TEST
    {"an instance cgroup gets its flavor's weight and limits and kills on its own OOM",
     test_cgroup_limits},
    {"two busy instances share a CPU in proportion to their vCPUs", test_cpu_follows_vcpus},
    {"a VMM whose cgroup cannot take it does not run", test_no_cgroup_no_run},
#else
    {"a jail holds only its own files, its own uid, its own pids", test_jail_sees_only_its_own},
    {"a jailed stratus-vmm answers the agent on its control socket",
     test_jailed_vmm_answers_the_agent},
    {"the vmm driver runs its VMM in the jail", test_driver_launches_jailed},
#endif
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"jail", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
