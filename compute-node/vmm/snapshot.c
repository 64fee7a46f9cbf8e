/*
 * snapshot.c - saving a paused VM to a directory and building a VM back from one.
 *
 * Save (PUT /vm/snapshot, event thread, every vCPU parked): the device records first (a
 * device that cannot be saved, the firmware boot's, fails the save before any file is
 * written), then KVM's VM state (irqchip, PIT, kvmclock) and each vCPU's, then `memory`:
 * guest RAM in its host layout (the low region, then the part above 4 GiB), every 4 KiB
 * page that is not all zeros written at its offset and the rest left as holes, then
 * `vmstate` (snapfile.h) written under a temporary name and renamed, so a directory with a
 * vmstate holds a whole snapshot.
 *
 * A vCPU that left KVM_RUN for port I/O or MMIO has not completed the instruction until it
 * enters KVM_RUN again (KVM's API doc, "KVM_EXIT_IO"): vcpu.c re-enters once with
 * immediate_exit set before it parks, so a parked vCPU's registers are consistent.
 *
 * Restore (`stratus-vmm --restore DIR`): the VM is built from the saved config as a start
 * would (taps and disks must exist under the same names), except that guest RAM is the
 * `memory` file mapped MAP_PRIVATE (pages are read when the guest touches them, so restore
 * time does not grow with the guest's size; its writes stay in this process), no kernel is
 * loaded and the vCPUs are not set up for a boot. Then, as Firecracker and QEMU order it:
 * irqchip, PIT; per vCPU CPUID, TSC frequency, MP state, regs, sregs (APIC base), XSAVE or
 * FPU, XCRs, debug registers, LAPIC (after sregs: its mode follows the APIC base), MSRs,
 * events last (an interrupt being injected needs the rest); kvmclock; then the devices'
 * records, and the vCPUs start.
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpu_setup.h"
#include "snapfile.h"
#include "stratus/log.h"

#define PAGE 4096u

static int vm_ioctl_err(char *err, size_t errlen, const char *what)
{
    int e = errno;
    snprintf(err, errlen, "%s: %s", what, strerror(e));
    return -e;
}

/* Where vmm_snapshot_state's time goes (ms, and KVM_GET_MSRS calls), logged with it. */
static struct {
    double msrs;
    int msr_calls;
} g_st;

static double ms_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double ms_now(void)
{
    return ms_of(CLOCK_MONOTONIC);
}

/* Every MSR KVM saves and restores (KVM_GET_MSR_INDEX_LIST), read one batch at a time:
 * KVM_GET_MSRS stops at the first MSR it cannot read, which is then skipped. */
static int save_msrs(vmm_vm *vm, vmm_vcpu *c, vmm_snap_vcpu *v, char *err, size_t errlen)
{
    struct kvm_msr_list probe = {.nmsrs = 0};
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return vm_ioctl_err(err, errlen, "KVM_GET_MSR_INDEX_LIST");
    uint32_t n = probe.nmsrs > VMM_SNAP_MAX_MSRS ? VMM_SNAP_MAX_MSRS : probe.nmsrs;
    struct kvm_msr_list *list = calloc(1, sizeof *list + probe.nmsrs * sizeof(uint32_t));
    struct kvm_msrs *m = calloc(1, sizeof *m + n * sizeof m->entries[0]);
    v->msrs = calloc(n ? n : 1, sizeof *v->msrs);
    int rc = 0;
    if (!list || !m || !v->msrs) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    list->nmsrs = probe.nmsrs;
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
        rc = vm_ioctl_err(err, errlen, "KVM_GET_MSR_INDEX_LIST");
        goto out;
    }
    for (uint32_t i = 0; i < n;) {
        m->nmsrs = n - i;
        for (uint32_t k = 0; k < m->nmsrs; k++)
            m->entries[k] = (struct kvm_msr_entry){.index = list->indices[i + k]};
        int got = ioctl(c->fd, KVM_GET_MSRS, m);
        g_st.msr_calls++;
        if (got < 0) {
            rc = vm_ioctl_err(err, errlen, "KVM_GET_MSRS");
            goto out;
        }
        for (int k = 0; k < got; k++)
            v->msrs[v->nmsrs++] = m->entries[k];
        i += (uint32_t)got + ((uint32_t)got < m->nmsrs ? 1 : 0); /* skip the one refused */
    }
out:
    free(list);
    free(m);
    return rc;
}

static int save_vcpu(vmm_vm *vm, vmm_vcpu *c, vmm_snap_vcpu *v, char *err, size_t errlen)
{
    int fd = c->fd;
    if (ioctl(fd, KVM_GET_REGS, &v->regs) < 0)
        return vm_ioctl_err(err, errlen, "KVM_GET_REGS");
    if (ioctl(fd, KVM_GET_SREGS, &v->sregs) < 0)
        return vm_ioctl_err(err, errlen, "KVM_GET_SREGS");
    v->has_xsave = ioctl(fd, KVM_GET_XSAVE, (struct kvm_xsave *)v->xsave) == 0;
    if (!v->has_xsave && ioctl(fd, KVM_GET_FPU, &v->fpu) < 0)
        return vm_ioctl_err(err, errlen, "KVM_GET_FPU");
    if (ioctl(fd, KVM_GET_XCRS, &v->xcrs) < 0)
        memset(&v->xcrs, 0, sizeof v->xcrs); /* no XSAVE: nothing to restore */
    if (ioctl(fd, KVM_GET_LAPIC, &v->lapic) < 0)
        return vm_ioctl_err(err, errlen, "KVM_GET_LAPIC");
    if (ioctl(fd, KVM_GET_VCPU_EVENTS, &v->events) < 0)
        return vm_ioctl_err(err, errlen, "KVM_GET_VCPU_EVENTS");
    if (ioctl(fd, KVM_GET_MP_STATE, &v->mp) < 0)
        return vm_ioctl_err(err, errlen, "KVM_GET_MP_STATE");
    if (ioctl(fd, KVM_GET_DEBUGREGS, &v->dregs) < 0)
        return vm_ioctl_err(err, errlen, "KVM_GET_DEBUGREGS");
    int khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
    v->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    struct kvm_cpuid2 *cp = calloc(1, sizeof *cp + VMM_SNAP_MAX_CPUID * sizeof cp->entries[0]);
    if (!cp)
        return -ENOMEM;
    cp->nent = VMM_SNAP_MAX_CPUID;
    if (ioctl(fd, KVM_GET_CPUID2, cp) < 0) {
        free(cp);
        return vm_ioctl_err(err, errlen, "KVM_GET_CPUID2");
    }
    v->ncpuid = cp->nent;
    double t = ms_now();
    v->cpuid = malloc((cp->nent ? cp->nent : 1) * sizeof cp->entries[0]);
    if (v->cpuid)
        memcpy(v->cpuid, cp->entries, cp->nent * sizeof cp->entries[0]);
    free(cp);
    if (!v->cpuid)
        return -ENOMEM;
    int rc = save_msrs(vm, c, v, err, errlen);
    g_st.msrs += ms_now() - t;
    return rc;
}

int vmm_page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (unsigned i = 0; i < PAGE / 8; i++)
        if (w[i])
            return 0;
    return 1;
}

/* Guest RAM into path, sparse: runs of non-zero pages written at their offsets. */
static int write_memory(vmm_vm *vm, const char *path, uint64_t *written, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return vm_ioctl_err(err, errlen, path);
    int rc = 0;
    uint64_t off = 0;
    *written = 0;
    while (off < vm->ram_size) {
        if (vmm_page_is_zero(vm->ram + off)) {
            off += PAGE;
            continue;
        }
        uint64_t end = off + PAGE;
        while (end < vm->ram_size && end - off < (64u << 20) && !vmm_page_is_zero(vm->ram + end))
            end += PAGE;
        for (uint64_t at = off; at < end;) {
            ssize_t n = pwrite(fd, vm->ram + at, end - at, (off_t)at);
            if (n <= 0) {
                rc = vm_ioctl_err(err, errlen, path);
                goto out;
            }
            at += (uint64_t)n;
        }
        *written += end - off;
        off = end;
    }
    if (ftruncate(fd, (off_t)vm->ram_size) < 0 || fsync(fd) < 0)
        rc = vm_ioctl_err(err, errlen, path);
out:
    close(fd);
    return rc;
}

static int write_file(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return vm_ioctl_err(err, errlen, path);
    for (size_t at = 0; at < len;) {
        ssize_t n = write(fd, buf + at, len - at);
        if (n <= 0) {
            int rc = vm_ioctl_err(err, errlen, path);
            close(fd);
            return rc;
        }
        at += (size_t)n;
    }
    int rc = fsync(fd) < 0 ? vm_ioctl_err(err, errlen, path) : 0;
    close(fd);
    return rc;
}

int vmm_snapshot_state(vmm_vm *vm, uint8_t **file, size_t *file_len, char *err, size_t errlen)
{
    vmm_snapshot s;
    int rc;
    *file = NULL;
    memset(&s, 0, sizeof s);
    memset(&g_st, 0, sizeof g_st);
    double t0 = ms_now(), cpu0 = ms_of(CLOCK_THREAD_CPUTIME_ID);
    if ((rc = vmm_dev_save_all(&vm->devreg, &s.devs, &s.devs_len, err, errlen)))
        return rc;
    double t1 = ms_now();
    s.config = (char *)vmm_config_json(vm); /* the VM's: not freed (below) */
    s.config_len = strlen(s.config);
    for (int i = 0; i < 3; i++) {
        s.irqchip[i].chip_id = (uint32_t)i;
        if (ioctl(vm->fd, KVM_GET_IRQCHIP, &s.irqchip[i]) < 0) {
            rc = vm_ioctl_err(err, errlen, "KVM_GET_IRQCHIP");
            goto out;
        }
    }
    if (ioctl(vm->fd, KVM_GET_PIT2, &s.pit) < 0) {
        rc = vm_ioctl_err(err, errlen, "KVM_GET_PIT2");
        goto out;
    }
    if (ioctl(vm->fd, KVM_GET_CLOCK, &s.clock) < 0) {
        rc = vm_ioctl_err(err, errlen, "KVM_GET_CLOCK");
        goto out;
    }
    s.clock.flags = 0; /* KVM_SET_CLOCK takes no flags of GET's but KVM_CLOCK_REALTIME */
    s.vcpus = calloc((size_t)vm->nvcpus, sizeof *s.vcpus);
    if (!s.vcpus) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    s.nvcpus = vm->nvcpus;
    double t2 = ms_now();
    for (int i = 0; i < vm->nvcpus; i++)
        if ((rc = save_vcpu(vm, &vm->vcpus[i], &s.vcpus[i], err, errlen)))
            goto out;
    double t3 = ms_now();
    rc = vmm_snap_write(&s, file, file_len, err, errlen);
    double t4 = ms_now();
    /* The thread's CPU time against the clock's: the rest it waited for a CPU. */
    st_info("vmm.snapshot",
            "the state read in %.1f ms (%.1f of it on the CPU): devices %.1f, irqchip, PIT and "
            "clock %.1f, %d vCPUs %.1f (their MSRs %.1f in %d KVM_GET_MSRS), encoded %.1f",
            t4 - t0, ms_of(CLOCK_THREAD_CPUTIME_ID) - cpu0, t1 - t0, t2 - t1, vm->nvcpus, t3 - t2,
            g_st.msrs, g_st.msr_calls, t4 - t3);
out:
    s.config = NULL; /* the config's, not ours */
    vmm_snap_free(&s);
    return rc;
}

int vmm_snapshot_save(vmm_vm *vm, const char *dir, char *err, size_t errlen)
{
    char path[4096], tmp[4096];
    uint8_t *file = NULL;
    size_t file_len;
    uint64_t written = 0;
    struct timespec t0, t1;
    int rc;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = vmm_snapshot_state(vm, &file, &file_len, err, errlen)))
        return rc;
    snprintf(path, sizeof path, "%s/memory", dir);
    if ((rc = write_memory(vm, path, &written, err, errlen)))
        goto out;
    snprintf(tmp, sizeof tmp, "%s/vmstate.tmp", dir);
    snprintf(path, sizeof path, "%s/vmstate", dir);
    if ((rc = write_file(tmp, file, file_len, err, errlen)))
        goto out;
    if (rename(tmp, path) < 0) {
        rc = vm_ioctl_err(err, errlen, path);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st_info("vmm.snapshot",
            "snapshot in %s: %llu MiB of RAM, %llu MiB of it written, %zu "
            "bytes of state, %.1f ms",
            dir, (unsigned long long)(vm->ram_size >> 20), (unsigned long long)(written >> 20),
            file_len,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
out:
    free(file);
    return rc;
}

int vmm_snapshot_load(const char *dir, vmm_snapshot *s, int *mem_fd, char *err, size_t errlen)
{
    char path[4096];
    struct stat st;
    *mem_fd = -1;
    snprintf(path, sizeof path, "%s/vmstate", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    if (st.st_size > (off_t)VMM_SNAP_DEVICES_MAX + (8u << 20)) {
        close(fd);
        snprintf(err, errlen, "%s: %lld bytes, larger than any vmstate", path,
                 (long long)st.st_size);
        return -EINVAL;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        snprintf(err, errlen, "%s: cannot read it", path);
        return -EINVAL;
    }
    char msg[400];
    int rc = vmm_snap_read(s, buf, len, msg, sizeof msg);
    free(buf);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return rc;
    }
    snprintf(path, sizeof path, "%s/memory", dir);
    *mem_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*mem_fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        vmm_snap_free(s);
        return -EINVAL;
    }
    return 0;
}

/* KVM_SET_MSRS stops at the first MSR it refuses: the rest are set after it. */
static void restore_msrs(vmm_vcpu *c, const vmm_snap_vcpu *v)
{
    struct kvm_msrs *m = calloc(1, sizeof *m + v->nmsrs * sizeof m->entries[0]);
    if (!m)
        return;
    for (uint32_t i = 0; i < v->nmsrs;) {
        m->nmsrs = v->nmsrs - i;
        memcpy(m->entries, v->msrs + i, m->nmsrs * sizeof m->entries[0]);
        int n = ioctl(c->fd, KVM_SET_MSRS, m);
        if (n < 0)
            break;
        if ((uint32_t)n < m->nmsrs)
            st_debug("vmm.snapshot", "vcpu %d: MSR %#x not restored", c->id,
                     v->msrs[i + (uint32_t)n].index);
        i += (uint32_t)n + 1;
    }
    free(m);
}

static int restore_vcpu(vmm_vm *vm, vmm_vcpu *c, const vmm_snap_vcpu *v, char *err, size_t errlen)
{
    int fd = c->fd;
    struct kvm_cpuid2 *cp = calloc(1, sizeof *cp + v->ncpuid * sizeof cp->entries[0]);
    if (!cp)
        return -ENOMEM;
    cp->nent = v->ncpuid;
    memcpy(cp->entries, v->cpuid, v->ncpuid * sizeof cp->entries[0]);
    int r = ioctl(fd, KVM_SET_CPUID2, cp);
    free(cp);
    if (r < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_CPUID2");
    if (v->tsc_khz && v->tsc_khz != vm->tsc_khz && ioctl(fd, KVM_SET_TSC_KHZ, v->tsc_khz) < 0)
        st_warn("vmm.snapshot", "vcpu %d: TSC at %u kHz cannot be set (this host: %u kHz)", c->id,
                v->tsc_khz, vm->tsc_khz);
    if (ioctl(fd, KVM_SET_MP_STATE, &v->mp) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_MP_STATE");
    if (ioctl(fd, KVM_SET_REGS, &v->regs) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_REGS");
    if (ioctl(fd, KVM_SET_SREGS, &v->sregs) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_SREGS");
    if (v->has_xsave ? ioctl(fd, KVM_SET_XSAVE, (const struct kvm_xsave *)v->xsave) < 0
                     : ioctl(fd, KVM_SET_FPU, &v->fpu) < 0)
        return vm_ioctl_err(err, errlen, v->has_xsave ? "KVM_SET_XSAVE" : "KVM_SET_FPU");
    if (v->xcrs.nr_xcrs && ioctl(fd, KVM_SET_XCRS, &v->xcrs) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_XCRS");
    if (ioctl(fd, KVM_SET_DEBUGREGS, &v->dregs) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_DEBUGREGS");
    if (ioctl(fd, KVM_SET_LAPIC, &v->lapic) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_LAPIC");
    restore_msrs(c, v);
    if (ioctl(fd, KVM_SET_VCPU_EVENTS, &v->events) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_VCPU_EVENTS");
    return 0;
}

int vmm_snapshot_restore(vmm_vm *vm, const vmm_snapshot *s, char *err, size_t errlen)
{
    int rc;
    char msg[400];
    if (s->nvcpus != vm->nvcpus) {
        snprintf(err, errlen, "vmstate holds %d vCPUs, its config %d", s->nvcpus, vm->nvcpus);
        return -EINVAL;
    }
    for (int i = 0; i < 3; i++) {
        struct kvm_irqchip chip = s->irqchip[i];
        if (chip.chip_id != (uint32_t)i) {
            snprintf(err, errlen, "vmstate: irqchip %d says chip %u", i, chip.chip_id);
            return -EINVAL;
        }
        if (ioctl(vm->fd, KVM_SET_IRQCHIP, &chip) < 0)
            return vm_ioctl_err(err, errlen, "KVM_SET_IRQCHIP");
    }
    struct kvm_pit_state2 pit = s->pit;
    if (ioctl(vm->fd, KVM_SET_PIT2, &pit) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_PIT2");
    for (int i = 0; i < vm->nvcpus; i++) {
        vmm_vcpu_record_lapic0(&vm->vcpus[i]); /* what a later reboot puts back */
        if ((rc = restore_vcpu(vm, &vm->vcpus[i], &s->vcpus[i], msg, sizeof msg))) {
            snprintf(err, errlen, "vcpu %d: %s", i, msg);
            return rc;
        }
    }
    struct kvm_clock_data clock = {.clock = s->clock.clock};
    if (ioctl(vm->fd, KVM_SET_CLOCK, &clock) < 0)
        return vm_ioctl_err(err, errlen, "KVM_SET_CLOCK");
    if ((rc = vmm_dev_restore_all(&vm->devreg, s->devs, s->devs_len, msg, sizeof msg))) {
        snprintf(err, errlen, "devices: %s", msg);
        return rc;
    }
    return 0;
}
