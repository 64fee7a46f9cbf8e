/*
 * vmm_vcpu_state - the vCPU and interrupt state the VMM gives a guest, read
 * back through KVM (a real KVM VM, no guest code).
 *
 * Reset: a reset gives the vCPU state of a first boot: after a
 * guest has switched its local APIC to x2APIC mode, reprogrammed it, and
 * pointed KVM's paravirtual MSRs (kvmclock, steal time, async page faults,
 * PV EOI, poll control) into its memory, vmm_vcpu_reset() must bring back
 * exactly what KVM_GET_MSRS / KVM_GET_LAPIC / KVM_GET_XCRS showed after the
 * first set-up, on the BSP and on an AP.
 *
 * Power button: with the IOAPIC pin the DSDT's GED names (VMM_ACPI_GED_GSI)
 * programmed as Linux's GED driver leaves it (edge, active high, one vector,
 * to the BSP) and the BSP's LAPIC software-enabled, a press sets that vector
 * in the LAPIC's IRR (the control API's "power_button" is in vmm_control).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "config.h"
#include "cpu_setup.h"
#include "harness.h"
#include "st_test.h"
#include "vmm.h"

static vmm_config cfg;
static vmm_vm vm;

static const uint32_t msrs[] = {
    0x1b,       /* IA32_APIC_BASE */
    0x11,       /* MSR_KVM_WALL_CLOCK */
    0x12,       /* MSR_KVM_SYSTEM_TIME */
    0x4b564d00, /* MSR_KVM_WALL_CLOCK_NEW */
    0x4b564d01, /* MSR_KVM_SYSTEM_TIME_NEW */
    0x4b564d02, /* MSR_KVM_ASYNC_PF_EN */
    0x4b564d03, /* MSR_KVM_STEAL_TIME */
    0x4b564d04, /* MSR_KVM_PV_EOI_EN */
    0x4b564d05, /* MSR_KVM_POLL_CONTROL */
    0x4b564d06, /* MSR_KVM_ASYNC_PF_INT */
    0x277,      /* PAT */
    0xc0000082, /* LSTAR */
    0xc0000102, /* KERNEL_GS_BASE */
};
#define NMSRS (sizeof msrs / sizeof msrs[0])

typedef struct snapshot {
    uint64_t msr[NMSRS];
    struct kvm_lapic_state lapic;
    uint64_t xcr0;
} snapshot;

static int take(vmm_vcpu *c, snapshot *s)
{
    struct kvm_msrs *m = calloc(1, sizeof *m + NMSRS * sizeof m->entries[0]);
    if (!m)
        return -1;
    m->nmsrs = NMSRS;
    for (size_t i = 0; i < NMSRS; i++)
        m->entries[i].index = msrs[i];
    int n = ioctl(c->fd, KVM_GET_MSRS, m);
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < NMSRS; i++)
        s->msr[i] = m->entries[i].data;
    free(m);
    if (n != (int)NMSRS)
        return -1;
    struct kvm_xcrs x;
    memset(&x, 0, sizeof x);
    if (ioctl(c->fd, KVM_GET_LAPIC, &s->lapic) < 0 || ioctl(c->fd, KVM_GET_XCRS, &x) < 0)
        return -1;
    s->xcr0 = x.xcrs[0].value;
    return 0;
}

static int setup(void)
{
    char err[256];
    const char *json = "{\"kernel\": \"none\", \"memory_mib\": 16, \"vcpus\": 2}";
    if (vmm_config_parse(&cfg, json, strlen(json), err, sizeof err))
        return -1;
    vmm_vm_init(&vm);
    if (vmm_vm_create(&vm, &cfg) || vmm_vcpus_create(&vm))
        return -1;
    vm.boot.mode = VMM_BOOT_PVH;
    vm.boot.entry = 0x100000;
    for (int i = 0; i < vm.nvcpus; i++)
        if (vmm_vcpu_setup(&vm.vcpus[i]))
            return -1;
    return 0;
}

static int teardown(void)
{
    vmm_vcpus_free(&vm);
    vmm_vm_destroy(&vm);
    vmm_config_free(&cfg);
    return 0;
}

/* What a Linux guest leaves behind: x2APIC on, the LAPIC reprogrammed, the PV MSRs
 * pointing into its memory, AVX state enabled in XCR0. */
static void dirty(vmm_vcpu *c)
{
    uint64_t base = 0xfee00000ull | 1u << 11 | 1u << 10 | (c->id == 0 ? 1u << 8 : 0);
    CU_ASSERT_FATAL(vmm_vcpu_set_msr(c, 0x1b, base) == 0);
    struct kvm_lapic_state l;
    CU_ASSERT_FATAL(ioctl(c->fd, KVM_GET_LAPIC, &l) == 0);
    uint32_t svr = 0x1ff, tpr = 0x20, lvtt = 0x200ef;
    memcpy(&l.regs[0xf0], &svr, 4);
    memcpy(&l.regs[0x80], &tpr, 4);
    memcpy(&l.regs[0x320], &lvtt, 4);
    CU_ASSERT_FATAL(ioctl(c->fd, KVM_SET_LAPIC, &l) == 0);
    uint64_t page = 0x200000 + 0x10000 * (uint64_t)c->id;
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x4b564d06, 0xec) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x4b564d02, page | 1 | 1u << 3) ==
              0); /* enabled, as an interrupt */
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x4b564d01, (page + 0x1000) | 1) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x12, (page + 0x2000) | 1) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x4b564d03, (page + 0x3000) | 1) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x4b564d04, (page + 0x4000) | 1) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x4b564d05, 0) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x4b564d00, page + 0x5000) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0x277, 0x0606060606060606ull) == 0);
    CU_ASSERT(vmm_vcpu_set_msr(c, 0xc0000082, 0xffffffff81000000ull) == 0);
    struct kvm_xcrs x = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 3}}}; /* x87 | SSE */
    ioctl(c->fd, KVM_SET_XCRS, &x);
}

static void check_reset(int id)
{
    vmm_vcpu *c = &vm.vcpus[id];
    snapshot first, dirtied, after;
    CU_ASSERT_FATAL(take(c, &first) == 0);
    ST_ASSERT_INT_EQ(first.msr[0] & ~0xfffull, 0xfee00000ull);
    ST_ASSERT_INT_EQ(first.msr[0] & 0xd00, id == 0 ? 0x900 : 0x800); /* xAPIC, BSP flag */
    dirty(c);
    CU_ASSERT_FATAL(take(c, &dirtied) == 0);
    CU_ASSERT(dirtied.msr[0] & 0x400); /* the dirtying took: x2APIC on */
    CU_ASSERT(memcmp(first.msr, dirtied.msr, sizeof first.msr) != 0);
    /* A reboot resets every vCPU (the wall-clock MSRs are the VM's: the BSP clears them). */
    for (int i = 0; i < vm.nvcpus; i++)
        ST_ASSERT_INT_EQ(vmm_vcpu_reset(&vm.vcpus[i]), 0);
    CU_ASSERT_FATAL(take(c, &after) == 0);
    for (size_t i = 0; i < NMSRS; i++) {
        if (after.msr[i] != first.msr[i])
            fprintf(stderr, "vcpu %d MSR %#x: first boot %#llx, after reset %#llx\n", id, msrs[i],
                    (unsigned long long)first.msr[i], (unsigned long long)after.msr[i]);
        ST_ASSERT_INT_EQ(after.msr[i], first.msr[i]);
    }
    for (int off = 0; off < KVM_APIC_REG_SIZE; off += 16) {
        uint32_t a, b;
        memcpy(&a, &first.lapic.regs[off], 4);
        memcpy(&b, &after.lapic.regs[off], 4);
        if (a != b)
            fprintf(stderr, "vcpu %d LAPIC %#x: first boot %#x, after reset %#x\n", id, off, a, b);
        ST_ASSERT_INT_EQ(b, a);
    }
    ST_ASSERT_INT_EQ(after.xcr0, first.xcr0);
}

static void test_bsp_reset(void)
{
    check_reset(0);
}

static void test_ap_reset(void)
{
    check_reset(1);
}

#define VECTOR 0x41

static int irr_has(int vector)
{
    struct kvm_lapic_state l;
    if (ioctl(vm.vcpus[0].fd, KVM_GET_LAPIC, &l) < 0)
        return -1;
    uint32_t irr;
    memcpy(&irr, &l.regs[0x200 + (vector / 32) * 16], 4);
    return (irr >> (vector % 32)) & 1;
}

static void test_press_raises_the_ged_vector(void)
{
    /* The LAPIC on (SVR bit 8), as a running kernel has it. */
    struct kvm_lapic_state l;
    CU_ASSERT_FATAL(ioctl(vm.vcpus[0].fd, KVM_GET_LAPIC, &l) == 0);
    uint32_t svr = 0x1ff;
    memcpy(&l.regs[0xf0], &svr, 4);
    CU_ASSERT_FATAL(ioctl(vm.vcpus[0].fd, KVM_SET_LAPIC, &l) == 0);
    /* IOAPIC pin VMM_ACPI_GED_GSI: VECTOR, fixed, physical, edge, active high, unmasked,
     * to APIC 0. */
    struct kvm_irqchip chip = {.chip_id = KVM_IRQCHIP_IOAPIC};
    CU_ASSERT_FATAL(ioctl(vm.fd, KVM_GET_IRQCHIP, &chip) == 0);
    chip.chip.ioapic.redirtbl[VMM_ACPI_GED_GSI].bits = VECTOR;
    CU_ASSERT_FATAL(ioctl(vm.fd, KVM_SET_IRQCHIP, &chip) == 0);
    ST_ASSERT_INT_EQ(irr_has(VECTOR), 0);
    vmm_vm_power_button(&vm);
    ST_ASSERT_INT_EQ(irr_has(VECTOR), 1);
}

/* The VmFlags line of the mapping that starts at p in /proc/self/smaps ("" if none). */
static void vm_flags(const void *p, char *out, size_t n)
{
    char line[512], want[32];
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)p);
    out[0] = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return;
    int in = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, want, strlen(want)))
            in = 1;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            snprintf(out, n, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

/* Guest RAM is anonymous, 2 MiB-aligned and advised for transparent huge pages (a memfd is shmem,
 * which gets none by default: Linux's disk reads into fresh memory ran 4-6x slower than under
 * QEMU), never copied into a child, and a reboot's clear leaves it reading zero. */
static void test_ram_backing(void)
{
    char flags[512];
    ST_ASSERT_INT_EQ((uintptr_t)vm.ram % VMM_HUGE_PAGE, 0); /* KVM maps 2 MiB pages only so */
    vm_flags(vm.ram, flags, sizeof flags);
    CU_ASSERT_PTR_NOT_NULL(strstr(flags, " hg")); /* MADV_HUGEPAGE */
    CU_ASSERT_PTR_NOT_NULL(strstr(flags, " dc")); /* MADV_DONTFORK */
    CU_ASSERT_PTR_NOT_NULL(strstr(flags, " dd")); /* MADV_DONTDUMP */
    vm.ram[0x300000] = 0x5a;
    vmm_vm_clear_ram(&vm);
    ST_ASSERT_INT_EQ(vm.ram[0x300000], 0);
}

static CU_TestInfo tests[] = {
    {"guest RAM: huge-page advised, not forked, not dumped; cleared to zero for a reboot",
     test_ram_backing},
    {"BSP: APIC base, LAPIC, PV MSRs and XCR0 after a reset equal a first boot's", test_bsp_reset},
    {"AP: the same, without the BSP flag", test_ap_reset},
    {"a power-button press sets the GED's vector in the BSP's IRR",
     test_press_raises_the_ged_vector},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"vcpu-state", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
