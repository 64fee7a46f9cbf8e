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
 *   node_cgroup (the same file, ND_CGROUP_TEST):
 *   - cgroups (skipped where cgroup.parent cannot get the cpu and memory
 *     controllers, as on a host with the v1 hierarchy): the weights and
 *     limits are written as computed, and a probe eating more than
 *     memory.max is killed by its own cgroup (memory.events oom_kill 1).
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
static void test_cgroup_limits(void)
{
    const char *parent = getenv("STRATUS_TEST_CGROUP_PARENT");
    char def[] = "/sys/fs/cgroup/stratus-test-jail";
    char err[512] = "";
    if (!parent)
        parent = def;
    CU_ASSERT_FATAL(nd_cgroup_supported(parent, err, sizeof err));
    char state[300], a[600], out[600], cg[4200], buf[256];
    snprintf(state, sizeof state, "%s/cstate", base);
    char images[400];
    snprintf(images, sizeof images, "%s/images", state);
    ST_ASSERT_INT_EQ(nd_mkdirs(images, 0700), 0);
    nd_vm_spec s;
    make_inst(state, "dddddddd-0000-4000-8000-000000000004", a, sizeof a, &s);
    s.vcpus = 2;
    nd_jail_conf c = conf(state);
    c.cg_on = 1;
    c.cg_parent = parent;
    c.cpu_max = ND_CPU_MAX_VCPUS;
    const char *probe = st_build_path("compute-node/agent/tests/jail_probe");
    nd_jail *j = nd_jail_prepare(&c, &s, probe, err, sizeof err);
    if (!j)
        fprintf(stderr, "prepare: %s\n", err);
    CU_ASSERT_FATAL(j != NULL);
    snprintf(cg, sizeof cg, "%s/%s/cpu.weight", parent, s.id);
    FILE *f = fopen(cg, "r");
    CU_ASSERT_FATAL(f && fgets(buf, sizeof buf, f));
    fclose(f);
    ST_ASSERT_INT_EQ(atol(buf), 200);
    snprintf(cg, sizeof cg, "%s/%s/memory.max", parent, s.id);
    f = fopen(cg, "r");
    CU_ASSERT_FATAL(f && fgets(buf, sizeof buf, f));
    fclose(f);
    ST_ASSERT_INT_EQ(atoll(buf), (16LL + 16) << 20);
    /* the probe eats 64 MiB against a 32 MiB limit: its own cgroup kills it */
    char *argv[] = {(char *)probe, "--eat", "64", NULL};
    snprintf(out, sizeof out, "%s/eat.out", base);
    ST_ASSERT_INT_EQ(run_in(j, argv, out), 128 + SIGKILL);
    snprintf(cg, sizeof cg, "%s/%s/memory.events", parent, s.id);
    f = fopen(cg, "r");
    long kills = -1;
    while (f && fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "oom_kill ", 9))
            kills = atol(buf + 9);
    if (f)
        fclose(f);
    CU_ASSERT_FATAL(kills >= 1);
    nd_jail_free(j);
    ST_ASSERT_INT_EQ(nd_cgroup_remove(parent, s.id), 0);
    rmdir(def);
}
#endif

static int setup(void)
{
    if (geteuid() != 0)
        st_skip("node_jail needs root (mount namespaces, uids)");
#ifdef ND_CGROUP_TEST
    char err[512] = "";
    const char *parent = getenv("STRATUS_TEST_CGROUP_PARENT");
    if (!nd_cgroup_supported(parent ? parent : "/sys/fs/cgroup/stratus-test-jail", err, sizeof err))
        st_skip("no cgroup v2 cpu and memory controllers here: %s", err);
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
