/*
 * state.c - the VM's run state: stop, pause, resume and reboot.
 *
 * Only this file writes vm->state, always under vm->lock; vCPU threads read
 * it without the lock on their fast path and take the lock to wait (see
 * vcpu.c). Pause returns only once every live vCPU is parked, so a paused
 * VM's counters and memory are quiet. A reboot is pause + clear RAM (the
 * pages dropped with MADV_DONTNEED) + reload the kernel + reset every device (the registry's
 * reset hooks, in the order the devices were built) + each vCPU
 * resets its own registers when it sees the new reset generation.
 */
#include "vmm.h"

#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <time.h>

#include "stratus/log.h"

const char *vmm_state_name(int state)
{
    switch (state) {
    case VMM_RUNNING: return "running";
    case VMM_PAUSED: return "paused";
    default: return "stopped";
    }
}

static void kick_all(vmm_vm *vm)
{
    for (int i = 0; i < vm->nvcpus; i++)
        vmm_vcpu_kick(&vm->vcpus[i]);
}

void vmm_vm_stop(vmm_vm *vm, int exit_code)
{
    pthread_mutex_lock(&vm->lock);
    if (vm->state != VMM_STOPPING) {
        vm->exit_code = exit_code;
        __atomic_store_n(&vm->state, VMM_STOPPING, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&vm->cond);
    }
    pthread_mutex_unlock(&vm->lock);
    kick_all(vm);
    if (vm->stop_ev)
        event_active(vm->stop_ev, EV_TIMEOUT, 1);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    vmm_vm *vm = arg;
    event_base_loopbreak(vm->base);
}

int vmm_vm_stop_event_init(vmm_vm *vm)
{
    vm->stop_ev = event_new(vm->base, -1, 0, stop_cb, vm);
    return vm->stop_ev ? 0 : -ENOMEM;
}

static int live_vcpus(vmm_vm *vm)
{
    int n = 0;
    for (int i = 0; i < vm->nvcpus; i++)
        n += vm->vcpus[i].started && !__atomic_load_n(&vm->vcpus[i].done, __ATOMIC_ACQUIRE);
    return n;
}

/* Waits (vm->lock held) until every live vCPU is parked; 0 or -ETIMEDOUT. */
static int wait_parked(vmm_vm *vm)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    while (vm->state == VMM_PAUSED && vm->npaused < live_vcpus(vm)) {
        if (pthread_cond_timedwait(&vm->cond, &vm->lock, &dl) == ETIMEDOUT)
            return -ETIMEDOUT;
    }
    return vm->state == VMM_PAUSED ? 0 : -ESHUTDOWN;
}

int vmm_vm_pause(vmm_vm *vm)
{
    int rc = 0;
    pthread_mutex_lock(&vm->lock);
    if (vm->state == VMM_STOPPING) {
        rc = -ESHUTDOWN;
        goto out;
    }
    __atomic_store_n(&vm->state, VMM_PAUSED, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&vm->lock);
    kick_all(vm);
    pthread_mutex_lock(&vm->lock);
    rc = wait_parked(vm);
out:
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

int vmm_vm_wait_parked(vmm_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    int rc = vm->state == VMM_PAUSED ? wait_parked(vm) : -EAGAIN;
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

int vmm_vm_resume(vmm_vm *vm)
{
    int rc = 0;
    pthread_mutex_lock(&vm->lock);
    if (vm->state == VMM_STOPPING)
        rc = -ESHUTDOWN;
    else if (__atomic_load_n(&vm->migrated, __ATOMIC_ACQUIRE))
        rc = -EPERM; /* the guest runs on the migration's target */
    else {
        __atomic_store_n(&vm->state, VMM_RUNNING, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&vm->cond);
    }
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

int vmm_vm_reset(vmm_vm *vm)
{
    int rc = vmm_vm_pause(vm);
    if (rc)
        return rc;
    vmm_dev_reset_all(&vm->devreg);
    vmm_vm_clear_ram(vm);
    if ((rc = vmm_boot_load(vm))) {
        st_error("vmm.reset", "reloading the kernel failed: %s", strerror(-rc));
        vmm_vm_stop(vm, 1);
        return rc;
    }
    pthread_mutex_lock(&vm->lock);
    __atomic_store_n(&vm->reset_gen, vm->reset_gen + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&vm->lock);
    st_info("vmm.reset", "guest rebooted");
    return vmm_vm_resume(vm);
}

void vmm_vm_power_button(vmm_vm *vm)
{
    st_info("vmm.acpi", "power button pressed");
    vmm_irq_line(vm, VMM_ACPI_GED_GSI, 1);
    vmm_irq_line(vm, VMM_ACPI_GED_GSI, 0);
}

void vmm_vm_guest_poweroff(vmm_vm *vm)
{
    st_info("vmm.poweroff", "guest powered off (ACPI S5)");
    pthread_mutex_lock(&vm->lock);
    if (vm->state != VMM_STOPPING)
        vm->powered_off = 1;
    pthread_mutex_unlock(&vm->lock);
    vmm_vm_stop(vm, 0);
}

static void reset_cb(evutil_socket_t fd, short what, void *arg)
{
    vmm_vm_reset(arg);
}

void vmm_vm_guest_reset(vmm_vm *vm)
{
    if (!vm->cfg->restart_on_reset) {
        st_info("vmm.reset", "guest asked for a reset; shutting down (on_reset=shutdown)");
        vmm_vm_stop(vm, 0);
        return;
    }
    /* Stop every vCPU now (the caller parks as soon as it returns), so the guest runs
     * nothing after its reset; the reboot itself happens on the event thread, since a
     * vCPU cannot wait for itself to park. */
    pthread_mutex_lock(&vm->lock);
    if (vm->state == VMM_RUNNING)
        __atomic_store_n(&vm->state, VMM_PAUSED, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&vm->lock);
    kick_all(vm);
    event_base_once(vm->base, -1, EV_TIMEOUT, reset_cb, vm, NULL);
}
