/*
 * mptable.c - an Intel MultiProcessor Specification 1.4 table, so a guest
 * without ACPI finds its CPUs, the IOAPIC and how ISA interrupts reach it.
 *
 * At VMM_MPTABLE_ADDR (inside the BIOS area the guest scans, reserved in
 * the e820 map): the 16-byte floating pointer "_MP_", then the "PCMP"
 * configuration table with one processor entry per vCPU (APIC ID = vCPU
 * index, vCPU 0 the bootstrap processor), buses PCI (0) and ISA (1), the
 * IOAPIC (ID = vCPU count) at VMM_IOAPIC_ADDR, ISA IRQ n -> IOAPIC pin n
 * except IRQ 0 (the PIT) -> pin 2 as irq.c routes it, and LINT0 = ExtINT,
 * LINT1 = NMI on every local APIC. Checksums make each structure sum to 0.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "vmm.h"

static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return (uint8_t)(0 - s);
}

int vmm_mptable_write(const vmm_gmem *m, int ncpus)
{
    size_t size = 16 + 44 + (size_t)ncpus * 20 + 2 * 8 + 8 + 16 * 8 + 2 * 8;
    uint8_t *base = vmm_gmem_ptr(m, VMM_MPTABLE_ADDR, size);
    if (!base)
        return -E2BIG;
    memset(base, 0, size);
    uint8_t *mpf = base, *mpc = base + 16, *p = mpc + 44;
    uint32_t u32;
    uint16_t u16, count = 0;
    uint8_t ioapic_id = (uint8_t)ncpus;

    for (int i = 0; i < ncpus; i++, p += 20, count++) {
        p[0] = 0;                               /* processor */
        p[1] = (uint8_t)i;                      /* local APIC ID */
        p[2] = 0x14;                            /* local APIC version */
        p[3] = (uint8_t)(1 | (i == 0 ? 2 : 0)); /* enabled, bootstrap */
        u32 = 0x600;                            /* CPU signature: family 6 */
        memcpy(p + 4, &u32, 4);
        u32 = 0x201; /* features: FPU, APIC */
        memcpy(p + 8, &u32, 4);
    }
    static const char *const buses[2] = {"PCI   ", "ISA   "};
    for (int b = 0; b < 2; b++, p += 8, count++) {
        p[0] = 1;
        p[1] = (uint8_t)b;
        memcpy(p + 2, buses[b], 6);
    }
    p[0] = 2; /* IOAPIC */
    p[1] = ioapic_id;
    p[2] = 0x11;
    p[3] = 1;
    u32 = (uint32_t)VMM_IOAPIC_ADDR;
    memcpy(p + 4, &u32, 4);
    p += 8;
    count++;
    for (int irq = 0; irq < 16; irq++, p += 8, count++) {
        p[0] = 3; /* I/O interrupt */
        p[1] = 0; /* INT */
        p[4] = 1; /* source bus: ISA */
        p[5] = (uint8_t)irq;
        p[6] = ioapic_id;
        p[7] = (uint8_t)(irq == 0 ? 2 : irq);
        if (irq == 2) {
            p[1] = 3; /* ExtINT: the 8259 cascade to pin 0 */
            p[5] = 0;
            p[7] = 0;
        }
    }
    for (int l = 0; l < 2; l++, p += 8, count++) {
        p[0] = 4;              /* local interrupt */
        p[1] = l == 0 ? 3 : 1; /* ExtINT, NMI */
        p[4] = 1;
        p[5] = 0;
        p[6] = 0xff; /* every local APIC */
        p[7] = (uint8_t)l;
    }
    /* Configuration table header. */
    memcpy(mpc, "PCMP", 4);
    u16 = (uint16_t)(p - mpc);
    memcpy(mpc + 4, &u16, 2);
    mpc[6] = 4;
    memcpy(mpc + 8, "STRATUS ", 8);
    memcpy(mpc + 16, "VMM         ", 12);
    memcpy(mpc + 34, &count, 2);
    u32 = (uint32_t)VMM_LAPIC_ADDR;
    memcpy(mpc + 36, &u32, 4);
    mpc[7] = checksum(mpc, u16);
    /* Floating pointer. */
    memcpy(mpf, "_MP_", 4);
    u32 = (uint32_t)(VMM_MPTABLE_ADDR + 16);
    memcpy(mpf + 4, &u32, 4);
    mpf[8] = 1;
    mpf[9] = 4;
    mpf[10] = checksum(mpf, 16);
    return 0;
}
