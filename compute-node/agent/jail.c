/*
 * jail.c - a stratus-vmm's jail (see jail.h), made between spawn and exec.
 *
 * Why in the agent and not a separate jailer binary: the VMM stays the
 * agent's direct child (clone3 with CLONE_NEWPID makes it pid 1 of a new
 * namespace and gives a pidfd), so waitid() still tells exit statuses and
 * signals, /proc still shows `<vmm> --api-sock <dir>/run/vmm.sock` for
 * adoption, and there is no second program to install and no command line
 * between the two to parse. The price is care in the child: the agent is
 * multi-threaded, so between clone3 and execve the child makes only raw
 * system calls on data the parent prepared (no malloc, no stdio, no glibc
 * setuid, whose cross-thread broadcast would look for the parent's threads).
 *
 * The cgroup: on v2 clone3 puts the child in it (CLONE_INTO_CGROUP). v1 has
 * no such flag, so the child's first act is to wait on a pipe until the
 * parent has written its pid into each hierarchy's cgroup.procs and sent a
 * byte; had that failed, the child is killed before its first step. Either
 * way nothing of the VMM runs outside its limits.
 *
 * uid allocation: a jailed instance's `<dir>/run` is owned by its uid. A
 * launch keeps the uid its directory already has, or takes the lowest uid of
 * the range no other instance directory owns (under a mutex: launches of
 * different instances run in parallel on the pool). The gid is the uid.
 */
#include "jail.h"
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sched.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stratus/disk.h"

#define MAX_MOUNTS 48
#define MAX_LINKS 8
#define MAX_DEVS 2

enum { M_RW = 1, M_DIR = 2, M_EXEC = 4 };

typedef struct jmount {
    char src[4096];
    char target[4400]; /* root + src */
    unsigned flags;
} jmount;

typedef struct jlink {
    char target[64]; /* what the link says, e.g. usr/lib */
    char path[4400]; /* root + /lib */
} jlink;

typedef struct jdev {
    char path[4400];
    dev_t rdev;
} jdev;

struct nd_jail {
    uid_t uid;
    char root[4200];
    char proc[4300];
    int nmounts, nlinks, ndevs;
    jmount mounts[MAX_MOUNTS];
    jlink links[MAX_LINKS];
    jdev devs[MAX_DEVS];
    nd_cgroup *cg; /* NULL: none */
};

static pthread_mutex_t uid_lock = PTHREAD_MUTEX_INITIALIZER;

uid_t nd_jail_uid(const nd_jail *j)
{
    return j->uid;
}

void nd_jail_free(nd_jail *j)
{
    if (!j)
        return;
    nd_cgroup_free(j->cg);
    free(j);
}

/* The uid owning instances/<id>/run of every other instance, as a bitmap over the range. */
static int uid_pick(const nd_jail_conf *c, const char *dir, uid_t *out)
{
    struct stat st;
    char run[4200];
    snprintf(run, sizeof run, "%s/run", dir);
    unsigned char *used = calloc((c->uid_count + 7) / 8, 1);
    if (!used)
        return -ENOMEM;
    char inst[4200];
    snprintf(inst, sizeof inst, "%s/instances", c->state_dir);
    DIR *d = opendir(inst);
    struct dirent *e;
    char mine[4200];
    if (!realpath(dir, mine))
        snprintf(mine, sizeof mine, "%s", dir);
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4600], rp[4200];
        snprintf(p, sizeof p, "%s/%s", inst, e->d_name);
        if (realpath(p, rp) && !strcmp(rp, mine))
            continue;
        snprintf(p, sizeof p, "%s/%s/run", inst, e->d_name);
        if (stat(p, &st) == 0 && st.st_uid >= c->uid_base &&
            st.st_uid - c->uid_base < c->uid_count) {
            unsigned k = st.st_uid - c->uid_base;
            used[k / 8] |= (unsigned char)(1u << (k % 8));
        }
    }
    if (d)
        closedir(d);
    int rc = -EAGAIN;
    if (stat(run, &st) == 0 && st.st_uid >= c->uid_base && st.st_uid - c->uid_base < c->uid_count &&
        !(used[(st.st_uid - c->uid_base) / 8] & (1u << ((st.st_uid - c->uid_base) % 8)))) {
        *out = st.st_uid; /* this instance's own, from an earlier launch */
        rc = 0;
    }
    for (unsigned k = 0; rc && k < c->uid_count; k++)
        if (!(used[k / 8] & (1u << (k % 8)))) {
            *out = c->uid_base + k;
            rc = 0;
        }
    free(used);
    return rc;
}

static int add_mount(nd_jail *j, const char *src, unsigned flags, char *err, size_t errlen)
{
    for (int i = 0; i < j->nmounts; i++)
        if (!strcmp(j->mounts[i].src, src)) {
            j->mounts[i].flags |= flags & M_RW;
            return 0;
        }
    if (j->nmounts == MAX_MOUNTS || src[0] != '/' || strlen(src) >= sizeof j->mounts[0].src) {
        snprintf(err, errlen, "jail: cannot add %s", src);
        return -1;
    }
    jmount *m = &j->mounts[j->nmounts++];
    snprintf(m->src, sizeof m->src, "%s", src);
    snprintf(m->target, sizeof m->target, "%s%s", j->root, src);
    m->flags = flags;
    return 0;
}

/* A file the VMM writes becomes its uid's; one it only reads must be
 * readable by it: under the state directory (cached images, flattened
 * kernels: content the jail is given anyway) read bits are added. */
int nd_jail_add(nd_jail *j, const char *path, int rw, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "jail: %s: %s", path, strerror(errno));
        return -1;
    }
    if (rw && (chown(path, j->uid, j->uid) < 0 || chmod(path, st.st_mode & 0700) < 0)) {
        snprintf(err, errlen, "jail: chown %s: %s", path, strerror(errno));
        return -1;
    }
    if (!rw && !(st.st_mode & S_IROTH) && chmod(path, (st.st_mode & 07777) | 0444) < 0) {
        snprintf(err, errlen, "jail: chmod %s: %s", path, strerror(errno));
        return -1;
    }
    return add_mount(j, path, (rw ? M_RW : 0) | (S_ISDIR(st.st_mode) ? M_DIR : 0), err, errlen);
}

/* copy, a file of the jail's uid (0600), bound read-only at path inside the jail. */
static int add_copy_at(nd_jail *j, const char *path, const char *copy, char *err, size_t errlen)
{
    int in = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
    int out = in < 0 ? -1 : open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char buf[8192];
    ssize_t n = 0;
    while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0 && write(out, buf, (size_t)n) == n)
        ;
    if (out >= 0 && n == 0 && fchown(out, j->uid, j->uid) == 0 && fchmod(out, 0600) == 0)
        rc = 0;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0)
        rc = -1;
    jmount *m = &j->mounts[j->nmounts];
    if (rc < 0 || j->nmounts == MAX_MOUNTS || strlen(copy) >= sizeof m->src ||
        (size_t)snprintf(m->target, sizeof m->target, "%s%.4000s", j->root, path) >=
            sizeof m->target) {
        snprintf(err, errlen, "jail: cannot copy %s to %s: %s", path, copy,
                 rc < 0 ? strerror(errno) : "path too long");
        return -1;
    }
    j->nmounts++;
    snprintf(m->src, sizeof m->src, "%s", copy);
    m->flags = 0;
    return 0;
}

/*
 * A disk on Ceph ("rbd:..."): no file of its own; the VMM's librados reads the cluster's
 * ceph.conf (bound read-only at its path) and its client's keyring. The keyring is a secret,
 * root's and 0600 as a rule: it is copied into the instance's run directory as the jail uid's
 * own and that copy bound at the keyring's path, so the host's file keeps its owner and mode.
 * The VMM reaches the monitors and OSDs over the host's network (the jail has no network
 * namespace of its own).
 */
static int add_rbd(nd_jail *j, const nd_vm_disk *dk, const char *dir, char *err, size_t errlen)
{
    char conf[1100], keyring[4096], copy[4096];
    int rc = st_rbd_client_files(dk->path, conf, sizeof conf, keyring, sizeof keyring);
    if (rc < 0) {
        snprintf(err, errlen, "jail: %s: %s", dk->path, strerror(-rc));
        return -1;
    }
    if (conf[0] && nd_jail_add(j, conf, 0, err, errlen) < 0)
        return -1;
    snprintf(copy, sizeof copy, "%.4000s/run/ceph-%s.keyring", dir, dk->id);
    return keyring[0] ? add_copy_at(j, keyring, copy, err, errlen) : 0;
}

/* A disk and every file of its backing chain (read only). */
static int add_disk(nd_jail *j, const nd_vm_disk *dk, char *err, size_t errlen)
{
    if (nd_jail_add(j, dk->path, !dk->read_only, err, errlen) < 0)
        return -1;
    char cur[4096];
    snprintf(cur, sizeof cur, "%s", dk->path);
    int fmt = !strcmp(dk->format, "qcow2") ? ST_DISK_FMT_QCOW2 : ST_DISK_FMT_RAW;
    for (int depth = 0; fmt == ST_DISK_FMT_QCOW2 && depth < ST_DISK_MAX_CHAIN; depth++) {
        st_disk *d;
        char e[256];
        if (st_disk_open_ex(cur, fmt | ST_DISK_RDONLY | ST_DISK_NOLOCK, &d, e, sizeof e) < 0) {
            snprintf(err, errlen, "jail: %s: %s", cur, e);
            return -1;
        }
        st_disk_info in;
        st_disk_get_info(d, &in);
        st_disk_close(d);
        if (!in.backing_file[0])
            break;
        char next[4096];
        if (in.backing_file[0] == '/') {
            snprintf(next, sizeof next, "%s", in.backing_file);
        } else { /* relative to the image's directory, as the disk library reads it */
            const char *slash = strrchr(cur, '/');
            int dl = slash ? (int)(slash - cur) : 1;
            snprintf(next, sizeof next, "%.*s/%s", dl, slash ? cur : ".", in.backing_file);
        }
        if (nd_jail_add(j, next, 0, err, errlen) < 0)
            return -1;
        snprintf(cur, sizeof cur, "%s", next);
        fmt = !strcmp(in.backing_fmt, "raw") ? ST_DISK_FMT_RAW : ST_DISK_FMT_QCOW2;
    }
    return 0;
}

/* The taps become the jail's: TUNSETIFF as its owner works without
 * CAP_NET_ADMIN, and no other uid (another jail) can attach to them. */
static int own_tap(const char *tap, uid_t uid, char *err, size_t errlen)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", tap);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 ||
        ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0 ||
        ioctl(fd, TUNSETGROUP, (unsigned long)uid) < 0) {
        snprintf(err, errlen, "jail: tap %s: %s", tap, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static void add_dev(nd_jail *j, const char *path)
{
    struct stat st;
    if (j->ndevs < MAX_DEVS && stat(path, &st) == 0 && S_ISCHR(st.st_mode)) {
        snprintf(j->devs[j->ndevs].path, sizeof j->devs[0].path, "%s%s", j->root, path);
        j->devs[j->ndevs++].rdev = st.st_rdev;
    }
}

/* What every program needs to load: /usr (read only), the merged-/usr links
 * or the old directories, and ld.so's cache. */
static int add_system(nd_jail *j, const char *exe, char *err, size_t errlen)
{
    if (add_mount(j, "/usr", M_DIR | M_EXEC, err, errlen) < 0)
        return -1;
    static const char *const tops[] = {"/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"};
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        struct stat st;
        if (lstat(tops[i], &st) < 0)
            continue;
        if (S_ISLNK(st.st_mode) && j->nlinks < MAX_LINKS) {
            jlink *l = &j->links[j->nlinks];
            ssize_t n = readlink(tops[i], l->target, sizeof l->target - 1);
            if (n <= 0)
                continue;
            l->target[n] = 0;
            snprintf(l->path, sizeof l->path, "%s%s", j->root, tops[i]);
            j->nlinks++;
        } else if (S_ISDIR(st.st_mode) && add_mount(j, tops[i], M_DIR | M_EXEC, err, errlen) < 0) {
            return -1;
        }
    }
    if (access("/etc/ld.so.cache", R_OK) == 0 && add_mount(j, "/etc/ld.so.cache", 0, err, errlen))
        return -1;
    if (strncmp(exe, "/usr/", 5) != 0) {
        struct stat st;
        if (stat(exe, &st) < 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "jail: %s: not a program", exe);
            return -1;
        }
        if (add_mount(j, exe, M_EXEC, err, errlen) < 0)
            return -1;
    }
    return 0;
}

nd_jail *nd_jail_prepare(const nd_jail_conf *c, const nd_vm_spec *s, const char *exe, char *err,
                         size_t errlen)
{
    nd_jail *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(j->root, sizeof j->root, "%s/root", s->dir);
    snprintf(j->proc, sizeof j->proc, "%s/proc", j->root);
    char run[4200], serial[4200];
    snprintf(run, sizeof run, "%s/run", s->dir);
    snprintf(serial, sizeof serial, "%s/serial.log", s->dir);
    pthread_mutex_lock(&uid_lock);
    int rc = uid_pick(c, s->dir, &j->uid);
    if (rc == 0 && mkdir(run, 0700) < 0 && errno != EEXIST)
        rc = -errno;
    if (rc == 0 && (chown(run, j->uid, j->uid) < 0 || chmod(run, 0700) < 0))
        rc = -errno;
    pthread_mutex_unlock(&uid_lock);
    if (rc < 0) {
        snprintf(err, errlen, "jail: no uid for %s: %s", s->dir,
                 rc == -EAGAIN ? "every uid of jail.uid_base/uid_count is taken" : strerror(-rc));
        goto fail;
    }
    if (mkdir(j->root, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "jail: %s: %s", j->root, strerror(errno));
        goto fail;
    }
    int fd = open(serial, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0)
        close(fd);
    if (add_system(j, exe, err, errlen) < 0 || nd_jail_add(j, run, 1, err, errlen) < 0 ||
        nd_jail_add(j, serial, 1, err, errlen) < 0 ||
        (s->kernel[0] && nd_jail_add(j, s->kernel, 0, err, errlen) < 0) ||
        (s->initrd[0] && nd_jail_add(j, s->initrd, 0, err, errlen) < 0) ||
        /* the BIOS is in the jail already when under /usr (Debian's seabios) */
        (s->firmware[0] && strncmp(s->firmware, "/usr/", 5) != 0 &&
         nd_jail_add(j, s->firmware, 0, err, errlen) < 0))
        goto fail;
    chmod(serial, 0640);
    for (int i = 0; i < s->ndisks; i++)
        if (strncmp(s->disks[i].path, "rbd:", 4)
                ? add_disk(j, &s->disks[i], err, errlen) < 0
                : add_rbd(j, &s->disks[i], s->dir, err, errlen) < 0)
            goto fail;
    for (int i = 0; i < s->nports; i++)
        if (own_tap(s->ports[i].tap, j->uid, err, errlen) < 0)
            goto fail;
    add_dev(j, "/dev/kvm");
    add_dev(j, "/dev/net/tun");
    if (c->cg_on && !(j->cg = nd_cgroup_make(c, s, err, errlen)))
        goto fail;
    return j;
fail:
    nd_jail_free(j);
    return NULL;
}

/* ---- the child: raw system calls only, on what the parent prepared ---- */

static void fail(int fd, int step)
{
    int e[2] = {step, errno};
    ssize_t n = write(fd, e, sizeof e);
    (void)n;
    _exit(127);
}

/* mkdir -p of path's parent directories; path's own last part is left. */
static int mkparents(const char *path)
{
    char buf[4400];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i < n; i++)
        if (buf[i] == '/') {
            buf[i] = 0;
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -1;
            buf[i] = '/';
        }
    return 0;
}

/* Steps, for the error a failed child reports. */
static const char *const steps[] = {"fds",  "session", "private mounts", "tmpfs root", "bind mount",
                                    "link", "device",  "proc",           "pivot_root", "groups",
                                    "gid",  "uid",     "no_new_privs",   "exec",       "cgroup"};

/* gofd >= 0 (a cgroup v1): nothing happens before the parent has moved the
 * child into its cgroup and says so with a byte; EOF means it could not. */
static void child(const nd_jail *j, char *const argv[], char *const envp[], int in_fd, int out_fd,
                  int errfd, int gofd)
{
    char go;
    ssize_t got = gofd >= 0 ? -1 : 1;
    while (gofd >= 0 && (got = read(gofd, &go, 1)) < 0 && errno == EINTR)
        ;
    if (got != 1)
        fail(errfd, 14);
    int i = fcntl(in_fd, F_DUPFD_CLOEXEC, 100), o = fcntl(out_fd, F_DUPFD_CLOEXEC, 100);
    int e = fcntl(errfd, F_DUPFD_CLOEXEC, 100);
    if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0 ||
        dup3(e, 3, O_CLOEXEC) < 0)
        fail(errfd, 0);
    errfd = 3;
    syscall(SYS_close_range, 4u, ~0u, 0u);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < 65; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);
    if (setsid() < 0)
        fail(errfd, 1);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fail(errfd, 2);
    if (mount("stratus-jail", j->root, "tmpfs", MS_NOSUID, "mode=0755,size=256k,nr_inodes=512") < 0)
        fail(errfd, 3);
    for (int k = 0; k < j->nmounts; k++) {
        const jmount *m = &j->mounts[k];
        if (mkparents(m->target) < 0)
            fail(errfd, 4);
        if (m->flags & M_DIR) {
            if (mkdir(m->target, 0755) < 0 && errno != EEXIST)
                fail(errfd, 4);
        } else if (mknod(m->target, S_IFREG | 0600, 0) < 0 && errno != EEXIST) {
            fail(errfd, 4);
        }
        unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV;
        fl |= (m->flags & M_RW) ? 0 : MS_RDONLY;
        fl |= (m->flags & M_EXEC) ? 0 : MS_NOEXEC;
        if (mount(m->src, m->target, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, m->target, NULL, fl, NULL) < 0)
            fail(errfd, 4);
    }
    for (int k = 0; k < j->nlinks; k++)
        if (mkparents(j->links[k].path) < 0 || symlink(j->links[k].target, j->links[k].path) < 0)
            fail(errfd, 5);
    for (int k = 0; k < j->ndevs; k++)
        if (mkparents(j->devs[k].path) < 0 ||
            mknod(j->devs[k].path, S_IFCHR | 0600, j->devs[k].rdev) < 0 ||
            chown(j->devs[k].path, j->uid, j->uid) < 0)
            fail(errfd, 6);
    /* pid 1 of the new namespace: this /proc shows only the jail's processes */
    if (mkdir(j->proc, 0555) < 0 ||
        mount("proc", j->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        fail(errfd, 7);
    if (mount(NULL, j->root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID, NULL) < 0)
        fail(errfd, 3);
    if (chdir(j->root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        fail(errfd, 8);
    if (syscall(SYS_setgroups, 0, NULL) < 0)
        fail(errfd, 9);
    if (syscall(SYS_setresgid, j->uid, j->uid, j->uid) < 0)
        fail(errfd, 10);
    if (syscall(SYS_setresuid, j->uid, j->uid, j->uid) < 0)
        fail(errfd, 11);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(errfd, 12);
    execve(argv[0], argv, envp);
    fail(errfd, 13);
}

/* The child's errors come back on p; with a cgroup v1 the child waits on go
 * until the parent has attached it (nd_cgroup_attach). */
int nd_jail_spawn(const nd_jail *j, char *const argv[], char *const envp[], int in_fd, int out_fd,
                  pid_t *pid, int *pidfd, char *err, size_t errlen)
{
    int p[2] = {-1, -1}, go[2] = {-1, -1};
    int cg_fd = nd_cgroup_clone_fd(j->cg);
    if (pipe2(p, O_CLOEXEC) < 0 || (j->cg && cg_fd < 0 && pipe2(go, O_CLOEXEC) < 0)) {
        snprintf(err, errlen, "jail: pipe: %s", strerror(errno));
        if (p[0] >= 0) { /* the second pipe failed */
            close(p[0]);
            close(p[1]);
        }
        return -1;
    }
    int fd = -1;
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_PIDFD;
    ca.pidfd = (unsigned long long)(uintptr_t)&fd;
    ca.exit_signal = SIGCHLD;
    if (cg_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (unsigned long long)cg_fd;
    }
    long r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0) {
        close(p[0]);
        if (go[1] >= 0)
            close(go[1]);
        child(j, argv, envp, in_fd, out_fd, p[1], go[0]);
    }
    close(p[1]);
    if (go[0] >= 0)
        close(go[0]);
    if (r < 0) {
        snprintf(err, errlen, "jail: clone3: %s", strerror(errno));
        close(p[0]);
        if (go[1] >= 0)
            close(go[1]);
        return -1;
    }
    if (go[1] >= 0) {
        int rc = nd_cgroup_attach(j->cg, (pid_t)r, err, errlen);
        if (rc == 0 && write(go[1], "g", 1) != 1) {
            snprintf(err, errlen, "jail: releasing the child: %s", strerror(errno));
            rc = -1;
        }
        close(go[1]);
        if (rc < 0) { /* it never ran a step, let alone outside its cgroup */
            kill((pid_t)r, SIGKILL);
            siginfo_t si;
            waitid(P_PIDFD, (id_t)fd, &si, WEXITED);
            close(fd);
            close(p[0]);
            return -1;
        }
    }
    int e[2];
    ssize_t n;
    do
        n = read(p[0], e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof e) {
        snprintf(err, errlen, "jail: %s: %s",
                 e[0] >= 0 && e[0] < (int)(sizeof steps / sizeof steps[0]) ? steps[e[0]] : "?",
                 strerror(e[1]));
        siginfo_t si;
        waitid(P_PIDFD, (id_t)fd, &si, WEXITED);
        close(fd);
        return -1;
    }
    *pid = (pid_t)r;
    *pidfd = fd;
    return 0;
}

int nd_jail_supported(const nd_jail_conf *c, char *err, size_t errlen)
{
    if (geteuid() != 0) {
        snprintf(err, errlen, "the agent does not run as root");
        return 0;
    }
    char dir[] = "/tmp/stratus-jail-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
        return 0;
    }
    nd_jail_conf tc = *c;
    tc.cg_on = 0;
    tc.state_dir = dir; /* no instances: the first uid of the range */
    nd_vm_spec s;
    memset(&s, 0, sizeof s);
    s.dir = dir;
    s.id = "jail-trial";
    int ok = 0;
    nd_jail *j = nd_jail_prepare(&tc, &s, "/usr/bin/true", err, errlen);
    int in = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid;
    int pfd;
    char *argv[] = {"/usr/bin/true", NULL}, *envp[] = {NULL};
    if (j && in >= 0 && nd_jail_spawn(j, argv, envp, in, in, &pid, &pfd, err, errlen) == 0) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PIDFD, (id_t)pfd, &si, WEXITED) == 0 && si.si_code == CLD_EXITED &&
            si.si_status == 0)
            ok = 1;
        else
            snprintf(err, errlen, "a trial jail did not run /usr/bin/true");
        close(pfd);
    }
    if (in >= 0)
        close(in);
    nd_jail_free(j);
    nd_rmtree(dir);
    return ok;
}
