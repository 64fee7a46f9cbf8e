/*
 * vcpu.c - one thread per vCPU: KVM_RUN and the exits it returns.
 *
 * The loop checks the VM's run state (a relaxed load, so the fast path takes
 * no lock) before each KVM_RUN. To make a vCPU look at the state, the
 * controller sets run->immediate_exit and sends SIGUSR1 (a no-op handler):
 * KVM_RUN then returns EINTR whether the vCPU was in the guest, halted, or
 * about to enter. Port I/O and MMIO exits are dispatched through the buses;
 * unclaimed reads return all ones and unclaimed writes are dropped, as on
 * real hardware. SIGUSR1 is installed with SA_RESTART, so a kick never
 * breaks an ordinary syscall (KVM_RUN itself still returns EINTR). An AP's
 * first KVM_RUN may return EAGAIN on this host's nested KVM: it is simply
 * retried. With KVM's dirty ring on (dirty_ring.c), each vCPU maps its ring
 * when created, and a vCPU whose ring is full (KVM_EXIT_DIRTY_RING_FULL)
 * reaps it itself before entering again.
 */
#include "vmm.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu_setup.h"
#include "dirty_ring.h"
#include "sandbox.h"
#include "stratus/log.h"

const char *const vmm_exit_names[VMM_EXIT_NR] = {
    "io",         "mmio",           "hlt",   "shutdown", "intr", "system_event",
    "fail_entry", "internal_error", "other",
};

static void sigusr1_noop(int sig)
{
    (void)sig;
}

static void count_exit(vmm_vcpu *c, int reason)
{
    __atomic_store_n(&c->exits[reason], c->exits[reason] + 1, __ATOMIC_RELAXED);
}

int vmm_vcpus_create(vmm_vm *vm)
{
    int rc;
    struct sigaction sa = {.sa_handler = sigusr1_noop, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    if ((rc = vmm_cpuid_init(vm))) {
        st_error("vmm.cpu", "KVM_GET_SUPPORTED_CPUID: %s", strerror(-rc));
        return rc;
    }
    int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size <= 0)
        return -errno;
    vm->nvcpus = vm->cfg->vcpus;
    vm->vcpus = calloc((size_t)vm->nvcpus, sizeof *vm->vcpus);
    if (!vm->vcpus)
        return -ENOMEM;
    for (int i = 0; i < vm->nvcpus; i++) {
        vmm_vcpu *c = &vm->vcpus[i];
        c->vm = vm;
        c->id = i;
        c->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)i);
        if (c->fd < 0) {
            rc = -errno;
            st_error("vmm.cpu", "KVM_CREATE_VCPU %d: %s", i, strerror(errno));
            return rc;
        }
        c->run_size = (size_t)mmap_size;
        c->run = mmap(NULL, c->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
        if (c->run == MAP_FAILED) {
            c->run = NULL;
            return -errno;
        }
        if ((rc = vmm_dring_map(c))) {
            st_error("vmm.cpu", "vcpu %d: mapping its dirty ring: %s", i, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static void dump_regs(vmm_vcpu *c, const char *why)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    if (ioctl(c->fd, KVM_GET_REGS, &r) < 0 || ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
        return;
    st_error("vmm.cpu", "vcpu %d %s: rip=%#llx rsp=%#llx rax=%#llx cr0=%#llx cr3=%#llx efer=%#llx",
             c->id, why, (unsigned long long)r.rip, (unsigned long long)r.rsp,
             (unsigned long long)r.rax, (unsigned long long)s.cr0, (unsigned long long)s.cr3,
             (unsigned long long)s.efer);
}

static void handle_io(vmm_vcpu *c)
{
    struct kvm_run *run = c->run;
    uint8_t *p = (uint8_t *)run + run->io.data_offset;
    int wr = run->io.direction == KVM_EXIT_IO_OUT;
    for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size) {
        if (vmm_bus_access(&c->vm->pio, run->io.port, p, run->io.size, wr) < 0 && !wr)
            memset(p, 0xff, run->io.size);
    }
}

static void handle_mmio(vmm_vcpu *c)
{
    struct kvm_run *run = c->run;
    uint32_t len = run->mmio.len > 8 ? 8 : run->mmio.len;
    if (vmm_bus_access(&c->vm->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write) <
            0 &&
        !run->mmio.is_write)
        memset(run->mmio.data, 0xff, len);
}

/* Blocks while paused; applies a pending reset. Returns 1 when stopping. */
static int vcpu_wait(vmm_vcpu *c)
{
    vmm_vm *vm = c->vm;
    pthread_mutex_lock(&vm->lock);
    while (vm->state == VMM_PAUSED) {
        vm->npaused++;
        pthread_cond_broadcast(&vm->cond);
        pthread_cond_wait(&vm->cond, &vm->lock);
        vm->npaused--;
    }
    int stop = vm->state == VMM_STOPPING;
    unsigned gen = vm->reset_gen;
    pthread_mutex_unlock(&vm->lock);
    if (!stop && gen != c->reset_gen) {
        c->reset_gen = gen;
        vmm_vcpu_reset(c);
    }
    return stop;
}

static void *vcpu_main(void *arg)
{
    vmm_vcpu *c = arg;
    vmm_vm *vm = c->vm;
    struct kvm_run *run = c->run;
    char name[16];
    sigset_t set;

    snprintf(name, sizeof name, "vcpu%d", c->id);
    pthread_setname_np(pthread_self(), name);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    if (vm->cfg->seccomp && vmm_sandbox_vcpu() < 0) {
        vmm_vm_stop(vm, 1);
        goto out;
    }
    int io_pending = 0; /* the last exit was port I/O or MMIO */
    for (;;) {
        if (__atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) != VMM_RUNNING ||
            c->reset_gen != __atomic_load_n(&vm->reset_gen, __ATOMIC_ACQUIRE)) {
            /* The instruction behind an I/O exit completes only in the next KVM_RUN: enter
             * once with immediate_exit set, which completes it and runs nothing else, so a
             * parked vCPU's registers are whole (a snapshot saves them). */
            if (io_pending) {
                __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELEASE);
                ioctl(c->fd, KVM_RUN, 0);
                run->immediate_exit = 0;
                io_pending = 0;
            }
            if (vcpu_wait(c))
                break;
        }
        unsigned tg = __atomic_load_n(&vm->throttle_gen, __ATOMIC_ACQUIRE);
        if (tg != c->throttle_gen) {
            /* A live migration's auto-converge: this period's share of sleep (migrate.c). */
            c->throttle_gen = tg;
            uint64_t ns = __atomic_load_n(&vm->throttle_ns, __ATOMIC_RELAXED);
            struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
            if (ns)
                nanosleep(&ts, NULL);
        }
        io_pending = 0;
        if (ioctl(c->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR) {
                run->immediate_exit = 0;
                count_exit(c, VMM_EXIT_INTR);
                continue;
            }
            if (errno == EAGAIN) {
                sched_yield();
                continue;
            }
            st_error("vmm.cpu", "vcpu %d: KVM_RUN: %s", c->id, strerror(errno));
            vmm_vm_stop(vm, 1);
            break;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            count_exit(c, VMM_EXIT_IO);
            handle_io(c);
            io_pending = 1;
            break;
        case KVM_EXIT_MMIO:
            count_exit(c, VMM_EXIT_MMIO);
            handle_mmio(c);
            io_pending = 1;
            break;
        case KVM_EXIT_HLT: count_exit(c, VMM_EXIT_HLT); break;
        case KVM_EXIT_DIRTY_RING_FULL: {
            /* Entering again would only exit again: empty this ring first (dirty_ring.c). */
            __atomic_add_fetch(&vm->dring_full, 1, __ATOMIC_RELAXED);
            int64_t n = vmm_dring_reap(vm, c);
            if (n < 0) {
                st_error("vmm.cpu", "vcpu %d: KVM_RESET_DIRTY_RINGS: %s", c->id, strerror((int)-n));
                vmm_vm_stop(vm, 1);
            }
            break;
        }
        case KVM_EXIT_INTR: count_exit(c, VMM_EXIT_INTR); break;
        case KVM_EXIT_SHUTDOWN:
            count_exit(c, VMM_EXIT_SHUTDOWN);
            dump_regs(c, "triple fault");
            vmm_vm_guest_reset(vm);
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            count_exit(c, VMM_EXIT_SYSTEM_EVENT);
            if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
                vmm_vm_guest_reset(vm);
            else
                vmm_vm_stop(vm, 0);
            break;
        case KVM_EXIT_FAIL_ENTRY:
            count_exit(c, VMM_EXIT_FAIL_ENTRY);
            st_error("vmm.cpu", "vcpu %d: entry failed, reason %#llx", c->id,
                     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            vmm_vm_stop(vm, 1);
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            count_exit(c, VMM_EXIT_INTERNAL_ERROR);
            st_error("vmm.cpu", "vcpu %d: KVM internal error, suberror %u", c->id,
                     run->internal.suberror);
            dump_regs(c, "internal error");
            vmm_vm_stop(vm, 1);
            break;
        default:
            count_exit(c, VMM_EXIT_OTHER);
            st_error("vmm.cpu", "vcpu %d: unhandled exit %u", c->id, run->exit_reason);
            dump_regs(c, "unhandled exit");
            vmm_vm_stop(vm, 1);
            break;
        }
    }
out:;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    __atomic_store_n(&c->cpu_ns_final, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&vm->lock);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    return NULL;
}

int vmm_vcpus_start(vmm_vm *vm)
{
    for (int i = 0; vm->restored == 0 && i < vm->nvcpus; i++) {
        vmm_vcpu *c = &vm->vcpus[i];
        int rc = vmm_vcpu_setup(c);
        if (rc)
            return rc;
    }
    for (int i = 0; i < vm->nvcpus; i++) {
        vmm_vcpu *c = &vm->vcpus[i];
        int rc = pthread_create(&c->thread, NULL, vcpu_main, c);
        if (rc)
            return -rc;
        c->started = 1;
    }
    return 0;
}

void vmm_vcpus_join(vmm_vm *vm)
{
    for (int i = 0; i < vm->nvcpus; i++) {
        vmm_vcpu *c = &vm->vcpus[i];
        if (c->started)
            pthread_join(c->thread, NULL);
        c->started = 0;
        vmm_dring_unmap(c);
        if (c->run)
            munmap(c->run, c->run_size);
        c->run = NULL;
        if (c->fd > 0)
            close(c->fd);
        c->fd = -1;
    }
}

void vmm_vcpus_free(vmm_vm *vm)
{
    free(vm->vcpus);
    vm->vcpus = NULL;
    vm->nvcpus = 0;
}

uint64_t vmm_vcpu_cpu_ns(vmm_vcpu *c)
{
    if (!c->started || __atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&c->cpu_ns_final, __ATOMIC_RELAXED);
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(c->thread, &cid) || clock_gettime(cid, &ts))
        return __atomic_load_n(&c->cpu_ns_final, __ATOMIC_RELAXED);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vmm_vcpu_kick(vmm_vcpu *c)
{
    if (!c->run)
        return;
    __atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_RELEASE);
    if (c->started && !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
        pthread_kill(c->thread, SIGUSR1);
}
