/*
 * cpu_setup.c - the architectural state a vCPU starts in: CPUID, MSRs, FPU,
 * local APIC LVTs, and the registers of each boot mode.
 *
 * CPUID is what KVM supports (KVM_GET_SUPPORTED_CPUID) with the per-CPU
 * fields fixed: the APIC ID in leaf 1 and the x2APIC ID in leaf 0xB, the
 * logical processor count, and the hypervisor bit; features the config
 * names in "cpuid_disable" are cleared (on this host, hiding cx16 lets a
 * Linux kernel past SLUB, whose cmpxchg16b the ring-0 emulator lacks).
 *
 * Boot modes:
 *  - PVH: 32-bit protected mode, flat 4 GiB code and data segments, paging
 *    off, %ebx = hvm_start_info, %eip = the ELF note's entry.
 *  - FIRMWARE: the architectural RESET state: real mode, CS 0xF000 with base
 *    0xFFFF0000, IP 0xFFF0 (the BIOS's reset vector 16 bytes below 4 GiB).
 *  - LINUX64: long mode with an identity map of the low 4 GiB (2 MiB pages)
 *    that the loader wrote at VMM_PML4_ADDR, the boot GDT (CS 0x10,
 *    DS 0x18), %rsi = boot_params, %rip = the 64-bit entry.
 * Application processors are left to the in-kernel local APIC: they wait in
 * the wait-for-SIPI state until the guest starts them with INIT/SIPI.
 *
 * A reset (reboot) gives the state of a first boot, since KVM keeps what the
 * old guest set: IA32_APIC_BASE back to xAPIC mode at 0xFEE00000 (else the
 * next kernel finds x2APIC "enabled by BIOS"), the LAPIC registers as the
 * first boot had them (saved in cpu->lapic0 by vmm_vcpu_setup), KVM's
 * paravirtual MSRs cleared (kvmclock, steal time, async page faults, PV EOI:
 * left set, KVM would keep writing into the new guest's memory at the old
 * guest's addresses), XCR0, pending events and the BSP runnable.
 */
#include "cpu_setup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "stratus/log.h"

/* CPU features a config may hide from the guest ("cpuid_disable"). */
static const struct {
    const char *name;
    uint32_t leaf, reg, bits; /* reg: 0 eax, 1 ebx, 2 ecx, 3 edx */
} features[] = {
    {"cx16", 1, 2, 1u << 13},   {"x2apic", 1, 2, 1u << 21}, {"movbe", 1, 2, 1u << 22},
    {"popcnt", 1, 2, 1u << 23}, {"aes", 1, 2, 1u << 25},    {"rdrand", 1, 2, 1u << 30},
    {"rdseed", 7, 1, 1u << 18}, {"smap", 7, 1, 1u << 20},   {"smep", 7, 1, 1u << 7},
};

void vmm_cpuid_mask(struct kvm_cpuid2 *c, uint32_t disable)
{
    for (size_t f = 0; f < sizeof features / sizeof features[0]; f++) {
        if (!(disable & (1u << f)))
            continue;
        for (uint32_t i = 0; i < c->nent; i++) {
            struct kvm_cpuid_entry2 *e = &c->entries[i];
            if (e->function != features[f].leaf || (features[f].leaf == 7 && e->index != 0))
                continue;
            uint32_t *r[4] = {&e->eax, &e->ebx, &e->ecx, &e->edx};
            *r[features[f].reg] &= ~features[f].bits;
        }
    }
}

uint32_t vmm_cpuid_feature_bit(const char *name)
{
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
        if (!strcmp(features[i].name, name))
            return 1u << i;
    return 0;
}

int vmm_cpuid_init(vmm_vm *vm)
{
    int n = 128;
    for (;;) {
        struct kvm_cpuid2 *c = calloc(1, sizeof *c + (size_t)n * sizeof c->entries[0]);
        if (!c)
            return -ENOMEM;
        c->nent = (uint32_t)n;
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            vm->cpuid = c;
            return 0;
        }
        int e = errno;
        free(c);
        if (e != E2BIG || n >= 4096)
            return -e;
        n *= 2;
    }
}

static int set_cpuid(vmm_vcpu *cpu)
{
    const struct kvm_cpuid2 *src = cpu->vm->cpuid;
    size_t sz = sizeof *src + src->nent * sizeof src->entries[0];
    struct kvm_cpuid2 *c = malloc(sz);
    if (!c)
        return -ENOMEM;
    memcpy(c, src, sz);
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 1:
            e->ebx &= 0x0000ffff;
            e->ebx |= (uint32_t)cpu->id << 24;
            e->ebx |= (uint32_t)(cpu->vm->nvcpus > 255 ? 255 : cpu->vm->nvcpus) << 16;
            e->ecx |= 1u << 31; /* hypervisor */
            if (cpu->vm->nvcpus > 1)
                e->edx |= 1u << 28; /* HTT: the logical count field is valid */
            break;
        case 0xb:
        case 0x1f: e->edx = (uint32_t)cpu->id; break;
        case 6:
            e->ecx &= ~(1u << 3); /* no energy-performance bias MSR */
            break;
        }
    }
    vmm_cpuid_mask(c, cpu->vm->cfg->cpuid_disable);
    int rc = ioctl(cpu->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
    free(c);
    return rc;
}

#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_ENABLE (1u << 11)

/* The MSRs a boot starts from; the last ones are KVM's paravirtual MSRs. */
static const struct {
    uint32_t index;
    uint64_t value;
} boot_msrs[] = {
    {0x174, 0},
    {0x175, 0},
    {0x176, 0}, /* SYSENTER CS/ESP/EIP */
    {0xc0000081, 0},
    {0xc0000082, 0},
    {0xc0000083, 0},
    {0xc0000084, 0},                /* STAR, LSTAR, CSTAR, SFMASK */
    {0xc0000102, 0},                /* KERNEL_GS_BASE */
    {0xc0000103, 0},                /* TSC_AUX */
    {0x10, 0},                      /* TSC */
    {0x1a0, 1},                     /* MISC_ENABLE: fast strings */
    {0x277, 0x0007040600070406ull}, /* PAT: its power-on value */
    {0x2ff, (1u << 11) | 6},        /* MTRR default type: enabled, write-back */
    {0x4b564d02, 0},                /* KVM async page faults: off first */
    {0x4b564d06, 0},                /* ... and their interrupt vector */
    {0x12, 0},                      /* kvmclock (MSR_KVM_SYSTEM_TIME) */
    {0x4b564d01, 0},                /* kvmclock (MSR_KVM_SYSTEM_TIME_NEW) */
    {0x4b564d03, 0},                /* steal time */
    {0x4b564d04, 0},                /* PV EOI */
    {0x4b564d05, 1},                /* poll control: KVM's initial 1 */
};

/* KVM's wall-clock MSRs are per VM, and a write makes KVM store the time at the
 * address written: only the BSP clears them, then wipes what KVM stored at 0. */
static const uint32_t wall_clock_msrs[] = {0x11, 0x4b564d00};

/* KVM_SET_MSRS stops at the first MSR it refuses, so they are set one at a time. */
int vmm_vcpu_set_msr(vmm_vcpu *cpu, uint32_t index, uint64_t value)
{
    struct kvm_msrs *m = calloc(1, sizeof *m + sizeof m->entries[0]);
    if (!m)
        return -1;
    m->nmsrs = 1;
    m->entries[0].index = index;
    m->entries[0].data = value;
    int n = ioctl(cpu->fd, KVM_SET_MSRS, m);
    free(m);
    if (n != 1)
        st_debug("vmm.cpu", "vcpu %d: MSR %#x not set", cpu->id, index);
    return n == 1 ? 0 : -1;
}

static void set_msrs(vmm_vcpu *cpu)
{
    /* xAPIC mode first: KVM refuses some LAPIC state in the wrong mode. */
    vmm_vcpu_set_msr(cpu, 0x1b,
                     VMM_LAPIC_ADDR | APIC_BASE_ENABLE | (cpu->id == 0 ? APIC_BASE_BSP : 0));
    for (size_t i = 0; i < sizeof boot_msrs / sizeof boot_msrs[0]; i++)
        vmm_vcpu_set_msr(cpu, boot_msrs[i].index, boot_msrs[i].value);
    if (cpu->id != 0)
        return;
    for (size_t i = 0; i < sizeof wall_clock_msrs / sizeof wall_clock_msrs[0]; i++)
        vmm_vcpu_set_msr(cpu, wall_clock_msrs[i], 0);
    uint8_t *zero = vmm_gpa(cpu->vm, 0, 12); /* struct pvclock_wall_clock */
    if (zero)
        memset(zero, 0, 12);
}

static void set_lapic(vmm_vcpu *cpu)
{
    struct kvm_lapic_state l;
    if (cpu->have_lapic0)
        l = cpu->lapic0;
    else if (ioctl(cpu->fd, KVM_GET_LAPIC, &l) < 0)
        return;
    uint32_t lvt0, lvt1;
    /* LINT0 = ExtINT (the 8259 reaches the BSP), LINT1 = NMI. */
    memcpy(&lvt0, &l.regs[0x350], 4);
    memcpy(&lvt1, &l.regs[0x360], 4);
    lvt0 = (lvt0 & ~0x700u) | (7u << 8);
    lvt1 = (lvt1 & ~0x700u) | (4u << 8);
    memcpy(&l.regs[0x350], &lvt0, 4);
    memcpy(&l.regs[0x360], &lvt1, 4);
    ioctl(cpu->fd, KVM_SET_LAPIC, &l);
    if (!cpu->have_lapic0) {
        cpu->lapic0 = l;
        cpu->have_lapic0 = 1;
    }
}

void vmm_vcpu_record_lapic0(vmm_vcpu *cpu)
{
    set_lapic(cpu);
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int l)
{
    memset(s, 0, sizeof *s);
    s->base = 0;
    s->limit = 0xffffffff;
    s->selector = sel;
    s->type = type;
    s->present = 1;
    s->s = 1;
    s->g = 1;
    s->l = (uint8_t)l;
    s->db = l ? 0 : 1;
}

/* A real-mode segment as the CPU has it after RESET. */
static void real_seg(struct kvm_segment *s, uint16_t sel, uint64_t base, uint8_t type)
{
    memset(s, 0, sizeof *s);
    s->base = base;
    s->limit = 0xffff;
    s->selector = sel;
    s->type = type;
    s->present = 1;
    s->s = 1;
}

static int set_boot_regs(vmm_vcpu *cpu)
{
    vmm_vm *vm = cpu->vm;
    struct kvm_sregs sr;
    struct kvm_regs r;
    if (ioctl(cpu->fd, KVM_GET_SREGS, &sr) < 0)
        return -errno;
    memset(&r, 0, sizeof r);
    r.rflags = 2;
    r.rip = vm->boot.entry;
    if (vm->boot.mode == VMM_BOOT_FIRMWARE) {
        real_seg(&sr.cs, 0xf000, 0xffff0000, 0xb);
        real_seg(&sr.ds, 0, 0, 0x3);
        sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
        real_seg(&sr.tr, 0, 0, 0xb);
        sr.tr.s = 0;
        real_seg(&sr.ldt, 0, 0, 0x2);
        sr.ldt.s = 0;
        sr.gdt.base = sr.idt.base = 0;
        sr.gdt.limit = sr.idt.limit = 0xffff;
        sr.cr0 = 0x60000010; /* CD | NW | ET: the state after RESET */
        sr.cr2 = sr.cr3 = sr.cr4 = 0;
        sr.efer = 0;
        r.rdx = 0x600; /* the processor signature a BIOS expects in %edx after reset */
    } else if (vm->boot.mode == VMM_BOOT_PVH) {
        flat_seg(&sr.cs, 0x8, 0xb, 0);
        flat_seg(&sr.ds, 0x10, 0x3, 0);
        sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
        sr.cr0 = 0x11; /* PE | ET */
        sr.cr4 = 0;
        sr.efer = 0;
        r.rbx = vm->boot.arg;
    } else {
        flat_seg(&sr.cs, 0x10, 0xb, 1);
        flat_seg(&sr.ds, 0x18, 0x3, 0);
        sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
        sr.gdt.base = VMM_GDT_ADDR;
        sr.gdt.limit = 4 * 8 - 1;
        sr.cr3 = VMM_PML4_ADDR;
        sr.cr4 = 0x20;       /* PAE */
        sr.cr0 = 0x80050033; /* PG | AM | WP | NE | ET | MP | PE */
        sr.efer = 0x500;     /* LME | LMA */
        r.rsi = vm->boot.arg;
    }
    if (ioctl(cpu->fd, KVM_SET_SREGS, &sr) < 0)
        return -errno;
    if (ioctl(cpu->fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    return 0;
}

int vmm_vcpu_setup(vmm_vcpu *cpu)
{
    int rc = set_cpuid(cpu);
    if (rc) {
        st_error("vmm.cpu", "vcpu %d: KVM_SET_CPUID2: %s", cpu->id, strerror(-rc));
        return rc;
    }
    return vmm_vcpu_reset(cpu);
}

int vmm_vcpu_reset(vmm_vcpu *cpu)
{
    struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
    struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 1}}}; /* x87 only */
    struct kvm_vcpu_events ev;
    struct kvm_debugregs dr = {.dr6 = 0xffff0ff0, .dr7 = 0x400};
    set_msrs(cpu);
    ioctl(cpu->fd, KVM_SET_FPU, &fpu);
    ioctl(cpu->fd, KVM_SET_XCRS, &xcrs);
    ioctl(cpu->fd, KVM_SET_DEBUGREGS, &dr);
    memset(&ev, 0, sizeof ev); /* nothing pending or being injected */
    ioctl(cpu->fd, KVM_SET_VCPU_EVENTS, &ev);
    set_lapic(cpu);
    if (cpu->id == 0) {
        struct kvm_mp_state run = {.mp_state = KVM_MP_STATE_RUNNABLE};
        ioctl(cpu->fd, KVM_SET_MP_STATE, &run);
        return set_boot_regs(cpu);
    }
    struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_UNINITIALIZED};
    ioctl(cpu->fd, KVM_SET_MP_STATE, &mp);
    return 0;
}
