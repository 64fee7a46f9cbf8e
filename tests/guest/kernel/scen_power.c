/*
 * scen_power.c - the `power` and `reset` scenarios: the guest as a small
 * ACPI OSPM, without an AML interpreter.
 *
 * What it reads (ring 3): the FADT (flags, sleep and reset registers, the
 * PM1 blocks, SCI_INT, SMI_CMD), the MADT (IOAPICs, interrupt source
 * overrides) and, in the DSDT, the bytes of two objects: \_S5's first
 * package element (SLP_TYP for soft-off) and the Extended Interrupt
 * descriptor of the Generic Event Device (_HID "ACPI0013").
 *
 * The power button, two ways:
 *   ged  hardware-reduced ACPI (FADT flag HW_REDUCED_ACPI; stratus-vmm,
 *        QEMU -M microvm): the GED's interrupt is the button (the only event
 *        either platform routes through it for this guest). Soft-off is a
 *        write of SLP_TYP << 2 | SLP_EN (0x20) to SLEEP_CONTROL_REG.
 *   pm1  fixed hardware (QEMU -M pc): PWRBTN_STS/PWRBTN_EN in PM1a, the SCI
 *        through the IOAPIC, ACPI mode entered through SMI_CMD. Soft-off is
 *        SLP_TYP << 10 | SLP_EN (bit 13) in PM1a_CNT.
 *
 * `power` (power.wait_ms: 0, the default, waits as long as the host lets it;
 * the TSC's rate is a guess under QEMU's TCG): programs the button's IOAPIC pin,
 * prints DATA power.ready=1, waits for the press, prints power.button=1,
 * poweroff=acpi and RESULT power PASS, then powers off. The VMM exits 0; if
 * the power-off does not happen, the guest halts with interrupts off and the
 * host's time limit ends the run (no PASS). It does not time the wait
 * itself: a VMM may act on the write a moment later (QEMU's main loop), and
 * under TCG the guest's TSC rate is a guess.
 *
 * `reset`: the first boot leaves a marker in CMOS RAM (byte 0x7d, which
 * neither SeaBIOS nor QEMU uses and a reset does not clear), prints
 * reset.boot=1 and writes RESET_VALUE to RESET_REG. The boot that follows
 * finds the marker, clears it, prints reset.boot=2 and PASSes. The VMM must
 * restart on reset (QEMU: -action reboot=reset; stratus-vmm: on_reset restart).
 * A reset that does not come leaves the guest halted, as a power-off does.
 */
#include "guest.h"
#include "cputable.h"

#define FADT_F_PWR_BUTTON (1u << 4)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED (1u << 20)
#define PM1_PWRBTN (1u << 8)
#define PM1_SCI_EN 1u
#define CMOS_MARK_INDEX 0x7d
#define CMOS_MARK 0x5a

struct gas {
    u8 space; /* 0 memory, 1 I/O */
    u8 size;  /* access bytes */
    u64 addr;
};

struct acpi_pm {
    int have_fadt, hw_reduced, fixed_button, reset_sup;
    struct gas sleep_ctl, reset;
    u8 reset_val;
    int s5;                      /* SLP_TYP of \_S5, -1 when not found */
    u32 pm1a_evt, pm1a_cnt;      /* I/O ports (pm1 model) */
    u8 pm1_evt_len, acpi_enable; /* PM1_EVT_LEN, ACPI_ENABLE */
    u32 smi_cmd;
    int have_gsi;                 /* the button's interrupt: */
    u32 gsi;                      /*   GSI, */
    int level, active_low;        /*   trigger and polarity */
    u32 ioapic_addr, ioapic_base; /* the IOAPIC whose range holds gsi */
};

static struct gas gas_at(const u8 *g)
{
    struct gas r = {g[0], g[3] ? (u8)(1u << (g[3] - 1)) : (u8)(g[1] / 8), 0};
    memcpy(&r.addr, g + 4, 8);
    if (!r.size)
        r.size = 1;
    return r;
}

/* The offset of needle in the table, from `from`, or -1. */
static int find(const u8 *t, u32 len, u32 from, const void *needle, u32 n)
{
    for (u32 i = from; i + n <= len; i++)
        if (memcmp(t + i, needle, n) == 0)
            return (int)i;
    return -1;
}

/* An AML integer at p: ZeroOp, OneOp, BytePrefix, WordPrefix. -1 otherwise. */
static int aml_small_int(const u8 *p, const u8 *end)
{
    if (p >= end)
        return -1;
    if (p[0] == 0x00 || p[0] == 0x01)
        return p[0];
    if (p[0] == 0x0A && p + 1 < end)
        return p[1];
    if (p[0] == 0x0B && p + 2 < end)
        return rd16(p + 1);
    return -1;
}

static void from_dsdt(struct acpi_pm *pm)
{
    const u8 *d = acpi_table("DSDT");
    if (!d)
        return;
    u32 len = rd32(d + 4);
    /* Name (_S5, Package (n) {SLP_TYPa, ...}): "_S5_" PackageOp PkgLength NumElements */
    int at = find(d, len, 36, "_S5_\x12", 5);
    if (at >= 0) {
        const u8 *p = d + at + 5;
        p += 1 + (p[0] >> 6); /* PkgLength: its top two bits count the bytes that follow */
        pm->s5 = aml_small_int(p + 1, d + len);
    }
    /* the GED: its _HID string, then an Extended Interrupt descriptor with one interrupt */
    at = find(d, len, 36,
              "\x0d"
              "ACPI0013",
              9);
    if (at >= 0) {
        int irq = find(d, len, (u32)at, "\x89\x06\x00", 3);
        if (irq >= 0 && (u32)irq + 9 <= len && irq - at < 512 && d[irq + 4] == 1) {
            pm->have_gsi = 1;
            pm->gsi = rd32(d + irq + 5);
            pm->level = !(d[irq + 3] & 2);
            pm->active_low = !!(d[irq + 3] & 4);
        }
    }
}

/* The IOAPIC serving pm->gsi, and for the SCI its override (pm1). */
static void from_madt(struct acpi_pm *pm, int sci)
{
    const u8 *m = acpi_table("APIC");
    if (!m)
        return;
    u32 len = rd32(m + 4), best = 0;
    for (u32 off = 44; off + 2 <= len; off += m[off + 1]) {
        u8 type = m[off], elen = m[off + 1];
        if (elen < 2 || off + elen > len)
            break;
        if (sci >= 0 && type == 2 && elen >= 10 && m[off + 3] == sci) {
            u16 fl = rd16(m + off + 8);
            pm->gsi = rd32(m + off + 4);
            pm->active_low = (fl & 3) == 3;
            pm->level = (fl >> 2 & 3) != 1; /* the SCI conforms to level */
        }
    }
    for (u32 off = 44; off + 2 <= len; off += m[off + 1]) {
        u8 type = m[off], elen = m[off + 1];
        if (elen < 2 || off + elen > len)
            break;
        if (type == 1 && elen >= 12 && rd32(m + off + 8) <= pm->gsi && rd32(m + off + 8) >= best) {
            best = rd32(m + off + 8);
            pm->ioapic_addr = rd32(m + off + 4);
            pm->ioapic_base = best;
        }
    }
}

/* Ring 3: fills the struct the argument points to. */
static u64 probe(u64 arg)
{
    struct acpi_pm *pm = (void *)(uptr)arg;
    pm->s5 = -1;
    const u8 *f = acpi_table("FACP");
    if (!f)
        return 0;
    u32 len = rd32(f + 4), flags = len >= 116 ? rd32(f + 112) : 0;
    pm->have_fadt = 1;
    pm->hw_reduced = !!(flags & FADT_F_HW_REDUCED);
    pm->reset_sup = !!(flags & FADT_F_RESET_REG_SUP) && len >= 129;
    if (pm->reset_sup) {
        pm->reset = gas_at(f + 116);
        pm->reset_val = f[128];
    }
    if (pm->hw_reduced && len >= 268)
        pm->sleep_ctl = gas_at(f + 244);
    from_dsdt(pm);
    if (!pm->hw_reduced) {
        pm->fixed_button = !(flags & FADT_F_PWR_BUTTON);
        pm->pm1a_evt = rd32(f + 56);
        pm->pm1a_cnt = rd32(f + 64);
        pm->pm1_evt_len = f[88];
        pm->smi_cmd = rd32(f + 48);
        pm->acpi_enable = f[52];
        pm->have_gsi = pm->fixed_button && pm->pm1a_evt;
        pm->gsi = rd16(f + 46); /* SCI_INT: a GSI unless an override says otherwise */
        pm->level = 1;
        pm->active_low = 1; /* the SCI's default: shareable, level, active low */
        from_madt(pm, (int)rd16(f + 46));
    } else {
        from_madt(pm, -1);
    }
    return 1;
}

static void gas_write(const struct gas *g, u32 v)
{
    if (g->space == 1) {
        if (g->size == 4)
            outl((u16)g->addr, v);
        else if (g->size == 2)
            outw((u16)g->addr, (u16)v);
        else
            outb((u16)g->addr, (u8)v);
    } else if (g->space == 0) {
        map_mmio(g->addr, 8);
        volatile u8 *p = (volatile u8 *)(uptr)g->addr;
        if (g->size == 4)
            mmio_write32(p, v);
        else if (g->size == 2)
            mmio_write16(p, (u16)v);
        else
            mmio_write8(p, (u8)v);
    }
}

static struct acpi_pm g_pm;

static void ioapic_route(const struct acpi_pm *pm, int vector)
{
    volatile u8 *io = (volatile u8 *)(uptr)pm->ioapic_addr;
    map_mmio(pm->ioapic_addr, 0x20);
    mmio_write32(io, 1);
    u32 pins = (mmio_read32(io + 0x10) >> 16 & 0xff) + 1;
    u32 pin = pm->gsi - pm->ioapic_base;
    if (pin >= pins)
        guest_fail("GSI %u is beyond the IOAPIC at %#x (%u pins from %u)", pm->gsi, pm->ioapic_addr,
                   pins, pm->ioapic_base);
    mmio_write32(io, 0x10 + 2 * pin + 1);
    mmio_write32(io + 0x10, lapic_id() << 24);
    mmio_write32(io, 0x10 + 2 * pin);
    mmio_write32(io + 0x10, (u32)vector | (pm->level ? 1u << 15 : 0) |
                                (pm->active_low ? 1u << 13 : 0)); /* fixed, physical, unmasked */
}

/* pm1: the SCI stays asserted until PWRBTN_STS is cleared, before the EOI. */
static void sci_ack(int vector)
{
    (void)vector;
    if (inw((u16)g_pm.pm1a_evt) & PM1_PWRBTN)
        outw((u16)g_pm.pm1a_evt, PM1_PWRBTN);
}

/* Waits for the VMM to act on a power-off or reset write. */
__attribute__((noreturn)) static void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" ::: "memory");
}

static void soft_off(void)
{
    if (g_pm.hw_reduced)
        gas_write(&g_pm.sleep_ctl, (u32)g_pm.s5 << 2 | 0x20);
    else
        outw((u16)g_pm.pm1a_cnt, (u16)((u32)g_pm.s5 << 10 | 1u << 13));
    halt_forever();
}

static void require_acpi(void)
{
    tsc_calibrate();
    ring3_call(probe, (u64)(uptr)&g_pm);
    if (!g_pm.have_fadt)
        guest_fail("no ACPI FADT");
    data("power.model=%s", g_pm.hw_reduced ? "ged" : "pm1");
}

void scen_power(void)
{
    require_acpi();
    if (g_pm.s5 < 0)
        guest_fail("no \\_S5 object in the DSDT");
    if (g_pm.hw_reduced && !g_pm.sleep_ctl.addr)
        guest_fail("hardware-reduced ACPI without SLEEP_CONTROL_REG");
    if (!g_pm.have_gsi)
        guest_fail(g_pm.hw_reduced ? "no Generic Event Device (ACPI0013) with an interrupt"
                                   : "no fixed-hardware power button");
    if (!g_pm.ioapic_addr)
        guest_fail("no IOAPIC for GSI %u in the MADT", g_pm.gsi);
    int vec = irq_alloc_vectors(1);
    if (vec < 0)
        guest_fail("no free vector");
    if (!g_pm.hw_reduced) {
        irq_set_handler(vec, sci_ack);
        if (g_pm.smi_cmd && g_pm.acpi_enable && !(inw((u16)g_pm.pm1a_cnt) & PM1_SCI_EN)) {
            outb((u16)g_pm.smi_cmd, g_pm.acpi_enable);
            u64 end = deadline_ms(1000);
            while (!(inw((u16)g_pm.pm1a_cnt) & PM1_SCI_EN) && !expired(end))
                cpu_relax();
            if (!(inw((u16)g_pm.pm1a_cnt) & PM1_SCI_EN))
                guest_fail("ACPI mode not entered through SMI_CMD %#x", g_pm.smi_cmd);
        }
        outw((u16)g_pm.pm1a_evt, PM1_PWRBTN);                          /* clear the status */
        outw((u16)(g_pm.pm1a_evt + g_pm.pm1_evt_len / 2), PM1_PWRBTN); /* enable */
    }
    ioapic_route(&g_pm, vec);
    data("power.gsi=%u", g_pm.gsi);
    data("power.s5=%d", g_pm.s5);
    data("power.ready=1");
    u64 wait = arg_u64("power.wait_ms", 0), end = wait ? deadline_ms(wait) : 0;
    irq_enable();
    while (!g_irq_count[vec] && (!wait || !expired(end)))
        cpu_relax();
    if (!g_irq_count[vec])
        guest_fail("no power button press within power.wait_ms");
    data("power.button=1");
    data("poweroff=acpi");
    guest_pass_then(soft_off);
}

void scen_reset(void)
{
    require_acpi();
    if (!g_pm.reset_sup || !g_pm.reset.addr)
        guest_fail("the FADT has no reset register");
    outb(0x70, CMOS_MARK_INDEX);
    if (inb(0x71) == CMOS_MARK) {
        outb(0x70, CMOS_MARK_INDEX);
        outb(0x71, 0);
        data("reset.boot=2");
        guest_pass();
    }
    outb(0x70, CMOS_MARK_INDEX);
    outb(0x71, CMOS_MARK);
    data("reset.boot=1");
    gas_write(&g_pm.reset, g_pm.reset_val);
    halt_forever();
}
