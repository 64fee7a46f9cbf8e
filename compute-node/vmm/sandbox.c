/*
 * sandbox.c - the syscall lists of each thread kind (see sandbox.h).
 *
 * vCPU threads: KVM_RUN and the KVM ioctls their exit handlers need
 * (registers, interrupt lines, GSI routes, ioeventfds, and TUNSETOFFLOAD: a
 * driver's status write sets its tap's offloads), writes (serial log,
 * eventfds), futexes, signals for kicks, memory management for malloc.
 * The event thread additionally does file and socket I/O (disks, taps, the
 * control socket), reopens the kernel on a reboot and unlinks the socket at
 * exit. ioctl is restricted to the request numbers listed.
 *
 * Before the vCPU threads start, the main thread also drops every capability
 * (taps and the control socket are open by then; KVM needs none), so no
 * thread of a running VM holds privileges.
 *
 * Every filter is loaded after tzset(): the first timestamp of the process
 * would otherwise open /etc/localtime on whichever thread logs first.
 *
 * Sanitizer runtimes make syscalls of their own at any time, so sanitizer
 * builds default to "seccomp": false (config.c).
 */
#include "sandbox.h"

#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stratus/log.h"

static const int common_calls[] = {
    SCMP_SYS(read),         SCMP_SYS(write),          SCMP_SYS(futex),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(exit),
    SCMP_SYS(exit_group),   SCMP_SYS(mmap),           SCMP_SYS(munmap),
    SCMP_SYS(mremap),       SCMP_SYS(madvise),        SCMP_SYS(brk),
    SCMP_SYS(mprotect),     SCMP_SYS(clock_gettime),  SCMP_SYS(gettimeofday),
    SCMP_SYS(getpid),       SCMP_SYS(gettid),         SCMP_SYS(tgkill),
    SCMP_SYS(sched_yield),  SCMP_SYS(nanosleep),      SCMP_SYS(clock_nanosleep),
    SCMP_SYS(getrandom),    SCMP_SYS(close),          SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),         SCMP_SYS(epoll_ctl), /* vCPUs arm queue kicks (event_add) */
};

static const int event_calls[] = {
    SCMP_SYS(epoll_wait),  SCMP_SYS(epoll_pwait),  SCMP_SYS(readv),      SCMP_SYS(writev),
    SCMP_SYS(preadv),      SCMP_SYS(pwritev),      SCMP_SYS(pread64),    SCMP_SYS(pwrite64),
    SCMP_SYS(fdatasync),   SCMP_SYS(fsync),        SCMP_SYS(fallocate),  SCMP_SYS(accept),
    SCMP_SYS(accept4),     SCMP_SYS(recvfrom),     SCMP_SYS(sendto),     SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),     SCMP_SYS(shutdown),     SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
    SCMP_SYS(getsockname), SCMP_SYS(getpeername),  SCMP_SYS(fcntl),      SCMP_SYS(openat),
    SCMP_SYS(open),        SCMP_SYS(fstat),        SCMP_SYS(newfstatat), SCMP_SYS(lseek),
    SCMP_SYS(unlink),      SCMP_SYS(eventfd2),     SCMP_SYS(pipe2),      SCMP_SYS(poll),
    SCMP_SYS(ppoll),       SCMP_SYS(rt_sigaction), SCMP_SYS(statx),      SCMP_SYS(fstatfs),
    SCMP_SYS(ftruncate),   SCMP_SYS(rename),       SCMP_SYS(renameat),   SCMP_SYS(renameat2),
    SCMP_SYS(stat),  /* snapshot files */
    SCMP_SYS(flock), /* a qcow2 disk opened again (a failed migration's end, a block migration's
                      * target) takes its lock */
};

#ifdef VMM_SANITIZED
/* What ASan/UBSan's runtime calls on its own (alternate signal stacks, reports). */
static const int sanitizer_calls[] = {
    SCMP_SYS(sigaltstack),       SCMP_SYS(prctl),        SCMP_SYS(getrlimit),
    SCMP_SYS(readlink),          SCMP_SYS(openat),       SCMP_SYS(open),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(rt_sigaction), SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),        SCMP_SYS(lseek),        SCMP_SYS(pread64),
};
#endif

/* A vCPU resets itself on a reboot (cpu_setup.c): the SET calls it makes are here.
 * TUNSETOFFLOAD: a vCPU's write of a virtio-net status (DRIVER_OK, reset) sets the tap's
 * offloads to what the driver negotiated (virtio_net.c). */
static const unsigned long kvm_ioctls[] = {
    KVM_RUN,
    KVM_GET_REGS,
    KVM_SET_REGS,
    KVM_GET_SREGS,
    KVM_SET_SREGS,
    KVM_SET_MSRS,
    KVM_SET_FPU,
    KVM_GET_LAPIC,
    KVM_SET_LAPIC,
    KVM_SET_MP_STATE,
    KVM_IRQ_LINE,
    KVM_SET_GSI_ROUTING,
    KVM_IOEVENTFD,
    KVM_IRQFD,
    FIONBIO,
    FIONREAD,
    KVM_SET_XCRS,
    KVM_SET_DEBUGREGS,
    KVM_SET_VCPU_EVENTS,
    TUNSETOFFLOAD,
    KVM_SET_USER_MEMORY_REGION, /* firmware boot: the BIOS shadow follows the PAM registers */
    /* A snapshot (event thread, snapshot.c) reads the VM's and each vCPU's state. */
    KVM_GET_IRQCHIP,
    KVM_GET_PIT2,
    KVM_GET_CLOCK,
    KVM_GET_XSAVE,
    KVM_GET_FPU,
    KVM_GET_XCRS,
    KVM_GET_VCPU_EVENTS,
    KVM_GET_MP_STATE,
    KVM_GET_DEBUGREGS,
    KVM_GET_MSRS,
    KVM_GET_MSR_INDEX_LIST,
    KVM_GET_CPUID2,
    KVM_GET_TSC_KHZ,
    /* A live migration's rounds (its worker; the last one on the event thread, migrate.c);
     * with the dirty ring, a vCPU whose ring is full too (dirty_ring.c). */
    KVM_GET_DIRTY_LOG,
    KVM_RESET_DIRTY_RINGS,
    /* ... and before the pause, how much its socket still holds (SIOCOUTQ, migrate.c). */
    SIOCOUTQ,
};

#ifdef VMM_SANITIZED
/* Sanitizer builds trap instead of killing, to say which call was refused. */
#define DENY SCMP_ACT_TRAP
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    char msg[96];
    int n = snprintf(msg, sizeof msg, "stratus-vmm: seccomp refused syscall %d\n", si->si_syscall);
    if (write(STDERR_FILENO, msg, (size_t)n) < 0)
        _exit(1);
    _exit(1);
}
#else
#define DENY SCMP_ACT_KILL_PROCESS
#endif

/* The filters by kind, made by vmm_sandbox_prepare as BPF programs (NULL: made at load). */
enum { F_VCPU, F_EVENT, F_MIGRATE, F_KINDS };
static struct sock_fprog prepared[F_KINDS];

/* The filter of a kind as a libseccomp context, or NULL. */
static scmp_filter_ctx build(const int *calls, size_t n, const int *more, size_t nmore, int inet)
{
    scmp_filter_ctx ctx = seccomp_init(DENY);
    int rc = -1;
    if (!ctx)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
            goto out;
    for (size_t i = 0; i < nmore; i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, more[i], 0) < 0)
            goto out;
    if (nmore) {
        /* The event thread connects to a live upgrade's new process: unix sockets only. */
        struct scmp_arg_cmp unix_only = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_UNIX};
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, unix_only) < 0 ||
            seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0) < 0)
            goto out;
    }
    if (inet) {
        /* A live migration's worker connects to the target over TCP. */
        struct scmp_arg_cmp v4 = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_INET};
        struct scmp_arg_cmp v6 = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_INET6};
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, v4) < 0 ||
            seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, v6) < 0)
            goto out;
    }
#ifdef VMM_SANITIZED
    for (size_t i = 0; i < sizeof sanitizer_calls / sizeof sanitizer_calls[0]; i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer_calls[i], 0) < 0)
            goto out;
#endif
    for (size_t i = 0; i < sizeof kvm_ioctls / sizeof kvm_ioctls[0]; i++) {
        struct scmp_arg_cmp cmp = {
            .arg = 1, .op = SCMP_CMP_EQ, .datum_a = kvm_ioctls[i], .datum_b = 0};
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, cmp) < 0)
            goto out;
    }
    rc = 0;
out:
    if (rc && ctx) {
        seccomp_release(ctx);
        ctx = NULL;
    }
    return ctx;
}

static scmp_filter_ctx build_kind(int kind)
{
    size_t n = sizeof common_calls / sizeof common_calls[0];
    size_t nev = sizeof event_calls / sizeof event_calls[0];
    return kind == F_VCPU ? build(common_calls, n, NULL, 0, 0)
                          : build(common_calls, n, event_calls, nev, kind == F_MIGRATE);
}

static int load(int kind, const char *who)
{
#ifdef VMM_SANITIZED
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, NULL);
#endif
    /* glibc reads /etc/localtime on the first time conversion of the process (even
     * gmtime_r, in the log's timestamps): read it now, while openat is allowed, or a
     * vCPU's first log line dies of SIGSYS. */
    tzset();
    int rc = -1;
    if (prepared[kind].filter) {
        /* What seccomp_load does with libseccomp's default attributes: no_new_privs, then
         * the program, without flags. */
        rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                     syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prepared[kind]) < 0
                 ? -1
                 : 0;
    } else {
        scmp_filter_ctx ctx = build_kind(kind);
        rc = ctx && seccomp_load(ctx) == 0 ? 0 : -1;
        if (ctx)
            seccomp_release(ctx);
    }
    if (rc)
        st_error("vmm.seccomp", "cannot install the %s filter", who);
    return rc;
}

int vmm_sandbox_prepare(void)
{
    int rc = 0;
    for (int kind = 0; kind < F_KINDS && !rc; kind++) {
        if (prepared[kind].filter)
            continue;
        scmp_filter_ctx ctx = build_kind(kind);
        int fd = memfd_create("stratus-vmm-bpf", MFD_CLOEXEC);
        off_t len = -1;
        rc = -1;
        if (ctx && fd >= 0 && seccomp_export_bpf(ctx, fd) == 0 &&
            (len = lseek(fd, 0, SEEK_END)) > 0 && len % sizeof(struct sock_filter) == 0 &&
            len / sizeof(struct sock_filter) <= USHRT_MAX) {
            struct sock_filter *f = malloc((size_t)len);
            if (f && pread(fd, f, (size_t)len, 0) == len) {
                prepared[kind] = (struct sock_fprog){
                    .len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = f};
                rc = 0;
            } else
                free(f);
        }
        if (fd >= 0)
            close(fd);
        if (ctx)
            seccomp_release(ctx);
    }
    if (rc)
        st_warn("vmm.seccomp", "cannot prepare the filters: each is made when installed");
    return rc;
}

int vmm_drop_privileges(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_capset, &h, d) < 0) {
        st_error("vmm.sandbox", "cannot drop privileges: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int vmm_sandbox_vcpu(void)
{
    return load(F_VCPU, "vcpu");
}

int vmm_sandbox_event(void)
{
    return load(F_EVENT, "event thread");
}

int vmm_sandbox_migrate(void)
{
    return load(F_MIGRATE, "migration worker");
}
