/*
 * cpu.c - the processor side of the guest: TSS and IDT, the trap handler,
 * the 8259 PICs (remapped and masked), the local APIC (xAPIC MMIO at
 * 0xFEE00000), TSC calibration, extra identity mappings for MMIO above
 * 4 GiB, and MSI vector allocation.
 *
 * Invariants: exceptions are fatal (they print one RESULT ... FAIL line with
 * the vector, error code, RIP and CR2, and exit FAIL); every other vector is
 * counted in g_irq_count and acknowledged at the LAPIC. Interrupts are
 * enabled only once cpu_init() has masked the PICs, so a legacy IRQ never
 * lands on an exception vector.
 */
#include "guest.h"

#define LAPIC_BASE 0xFEE00000ull
#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define IRQ_FIRST_MSI 0x40
#define IRQ_LAST_MSI 0xEF

struct trap_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    u64 vector, error, rip, cs, rflags, rsp, ss;
};

struct tss {
    u32 reserved0;
    u64 rsp0, rsp1, rsp2, reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3, iomap_base;
} __attribute__((packed));

struct idt_gate {
    u16 off_lo, sel;
    u8 ist, type_attr;
    u16 off_mid;
    u32 off_hi, zero;
} __attribute__((packed));

extern u64 tss_desc[2];
extern const u64 isr_table[256];
extern char trap_stack_top[];
extern char ring3_exit[];
__attribute__((noreturn)) void ring3_resume(u64 value);

static struct tss g_tss __attribute__((aligned(16)));
static struct idt_gate g_idt[256] __attribute__((aligned(16)));
static struct {
    u16 limit;
    u64 base;
} __attribute__((packed)) g_idt_ptr;

volatile u32 g_irq_count[256];
static void (*g_irq_fn[256])(int vector);
static int g_next_vector = IRQ_FIRST_MSI;
u64 g_tsc_khz;
const char *g_tsc_source = "none";

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f)
{
    if (f->vector == 6 && (f->cs & 3) == 3 && f->rip == (u64)(uptr)ring3_exit)
        ring3_resume(f->rdi); /* the end of a ring3_call() */
    if (f->vector < 32) {
        u64 cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        guest_fail("exception %llu error=%#llx rip=%#llx cs=%#llx cr2=%#llx rsp=%#llx", f->vector,
                   f->error, f->rip, f->cs, cr2, f->rsp);
    }
    g_irq_count[f->vector & 0xff]++;
    if (g_irq_fn[f->vector & 0xff])
        g_irq_fn[f->vector & 0xff]((int)f->vector);
    if (f->vector == 0xff) /* spurious: no EOI */
        return;
    if (f->vector >= 0x20 && f->vector < 0x30) { /* a masked PIC's spurious IRQ 7/15 */
        if (f->vector >= 0x28)
            outb(0xA0, 0x20);
        outb(0x20, 0x20);
        return;
    }
    lapic_write(LAPIC_EOI, 0);
}

u32 lapic_read(u32 reg)
{
    return mmio_read32((volatile u8 *)LAPIC_BASE + reg);
}
void lapic_write(u32 reg, u32 v)
{
    mmio_write32((volatile u8 *)LAPIC_BASE + reg, v);
}
u32 lapic_id(void)
{
    return lapic_read(LAPIC_ID) >> 24;
}

static void idt_load(void)
{
    g_idt_ptr.limit = sizeof g_idt - 1;
    g_idt_ptr.base = (u64)(uptr)g_idt;
    __asm__ volatile("lidt %0" ::"m"(g_idt_ptr));
}

/* Remaps the PICs to 0x20-0x2f (away from the exception vectors) and masks them. */
static void pic_mask_all(void)
{
    static const u8 seq[][2] = {
        {0x20, 0x11}, {0xA0, 0x11}, {0x21, 0x20}, {0xA1, 0x28}, {0x21, 0x04},
        {0xA1, 0x02}, {0x21, 0x01}, {0xA1, 0x01}, {0x21, 0xff}, {0xA1, 0xff},
    };
    for (unsigned i = 0; i < ARRAY_SIZE(seq); i++)
        outb(seq[i][0], seq[i][1]);
}

static void lapic_enable(void)
{
    u64 base = rdmsr(0x1B);
    if (!(base & (1u << 11)) || (base & (1u << 10))) /* disabled, or in x2APIC mode */
        wrmsr(0x1B, (LAPIC_BASE | (1u << 11) | (base & (1u << 8))));
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_TIMER, 1u << 16);
    lapic_write(LAPIC_LVT_LINT0, 1u << 16);
    lapic_write(LAPIC_LVT_LINT1, 1u << 16);
    lapic_write(LAPIC_LVT_ERROR, 1u << 16);
    lapic_write(LAPIC_SVR, 0x1FF); /* enabled, spurious vector 0xff */
}

void cpu_init(void)
{
    u64 base = (u64)(uptr)&g_tss;
    g_tss.rsp0 = (u64)(uptr)trap_stack_top;
    g_tss.iomap_base = sizeof g_tss;
    tss_desc[0] = (sizeof g_tss - 1) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                  (((base >> 24) & 0xff) << 56);
    tss_desc[1] = base >> 32;
    __asm__ volatile("ltr %w0" ::"r"(0x30));

    for (int v = 0; v < 256; v++) {
        u64 a = isr_table[v];
        g_idt[v].off_lo = a & 0xffff;
        g_idt[v].sel = 0x08;
        g_idt[v].type_attr = 0x8E; /* interrupt gate, DPL 0 */
        g_idt[v].off_mid = (a >> 16) & 0xffff;
        g_idt[v].off_hi = a >> 32;
    }
    idt_load();
    pic_mask_all();
    lapic_enable();
    irq_enable();
}

void cpu_ap_init(void)
{
    idt_load(); /* APs take no interrupts: IF stays 0 */
}

int irq_alloc_vectors(int n)
{
    if (n <= 0 || g_next_vector + n - 1 > IRQ_LAST_MSI)
        return -1;
    int v = g_next_vector;
    g_next_vector += n;
    return v;
}

void irq_set_handler(int vector, void (*fn)(int vector))
{
    g_irq_fn[vector & 0xff] = fn;
}

u32 irq_count_range(int first, int n)
{
    u32 sum = 0;
    for (int i = 0; i < n; i++)
        sum += g_irq_count[(first + i) & 0xff];
    return sum;
}

/* ---- time ---- */

/* KVM's pvclock gives the TSC rate as a multiplier and a shift. */
static u64 tsc_khz_kvmclock(void)
{
    static volatile struct {
        u32 version, pad0;
        u64 tsc_timestamp, system_time;
        u32 mul;
        signed char shift;
        u8 flags;
        u8 pad[2];
    } __attribute__((aligned(64))) pv;
    u32 a, b, c, d;
    cpuid(0x40000000, 0, &a, &b, &c, &d);
    if (b != 0x4b4d564b || a < 0x40000001) /* "KVMKVMKVM" */
        return 0;
    cpuid(0x40000001, 0, &a, &b, &c, &d);
    u32 msr = (a & (1u << 3)) ? 0x4b564d01 : (a & 1u) ? 0x12 : 0;
    if (!msr)
        return 0;
    pv.mul = 0;
    wrmsr(msr, (u64)(uptr)&pv | 1);
    u64 end = rdtsc() + 100000000ull;
    while (pv.mul == 0 && rdtsc() < end)
        cpu_relax();
    u32 mul = pv.mul;
    int shift = (int)pv.shift;
    wrmsr(msr, 0);
    if (!mul)
        return 0;
    u64 khz = (1000000ull << 32) / mul;
    return shift < 0 ? khz << -shift : khz >> shift;
}

/* PIT channel 2 in one-shot mode, gated through port 0x61, counting 10 ms. */
static u64 tsc_khz_pit(void)
{
    const u32 ticks = 11932;                /* 1193182 Hz * 10 ms */
    outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
    outb(0x43, 0xB0);                       /* ch2, lo/hi, mode 0 */
    outb(0x42, ticks & 0xff);
    outb(0x42, ticks >> 8);
    u64 t0 = rdtsc();
    /* Bounded by the TSC, not a poll count: under TCG a poll is so cheap
     * that 20000 of them ended before 10 ms did. 2^26 cycles is 10 ms at
     * 6.7 GHz, more than any TSC runs; a missing PIT costs <= ~25 ms. */
    while (!(inb(0x61) & 0x20)) {
        if (rdtsc() - t0 > (1ull << 26))
            return 0;
    }
    u64 t1 = rdtsc();
    return (t1 - t0) / 10;
}

void tsc_calibrate(void)
{
    u32 a, b, c, d;
    if (g_tsc_khz)
        return;
    cpuid(0, 0, &a, &b, &c, &d);
    if (a >= 0x15) {
        cpuid(0x15, 0, &a, &b, &c, &d);
        if (a && b && c) {
            g_tsc_khz = (u64)c * b / a / 1000;
            g_tsc_source = "cpuid15";
            return;
        }
    }
    cpuid(0x40000000, 0, &a, &b, &c, &d);
    if (a >= 0x40000010) {
        cpuid(0x40000010, 0, &a, &b, &c, &d);
        if (a) {
            g_tsc_khz = a;
            g_tsc_source = "cpuid40000010";
            return;
        }
    }
    if ((g_tsc_khz = tsc_khz_kvmclock())) {
        g_tsc_source = "kvmclock";
        return;
    }
    if ((g_tsc_khz = tsc_khz_pit())) {
        g_tsc_source = "pit";
        return;
    }
    g_tsc_khz = 2000000;
    g_tsc_source = "guess";
}

u64 deadline_ms(u64 ms)
{
    tsc_calibrate();
    return rdtsc() + ms * g_tsc_khz;
}

int expired(u64 deadline)
{
    return rdtsc() >= deadline;
}

void delay_us(u64 us)
{
    tsc_calibrate();
    u64 end = rdtsc() + us * g_tsc_khz / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

/* ---- extra mappings: BARs above 4 GiB ---- */
static u64 g_pt_pool[8][512] __attribute__((aligned(4096)));
static int g_pt_used;

static u64 *pt_next(u64 *table, unsigned idx)
{
    if (!(table[idx] & 1)) {
        if (g_pt_used == (int)ARRAY_SIZE(g_pt_pool))
            guest_fail("out of page-table pages mapping MMIO");
        u64 *t = g_pt_pool[g_pt_used++];
        memset(t, 0, 4096);
        table[idx] = (u64)(uptr)t | 0x7;
    }
    return (u64 *)(uptr)(table[idx] & 0x000ffffffffff000ull);
}

void map_mmio(u64 phys, u64 len)
{
    if (phys + len <= 0x100000000ull)
        return; /* boot.S maps the first 4 GiB */
    if (phys >> 46)
        guest_fail("MMIO address %#llx out of range", phys);
    for (u64 a = phys & ~0x1fffffull; a < phys + len; a += 0x200000) {
        u64 *pdpt = pt_next(pml4, (a >> 39) & 511);
        u64 *pd = pt_next(pdpt, (a >> 30) & 511);
        pd[(a >> 21) & 511] = a | 0x9f;
    }
    u64 cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3)::"memory");
}
