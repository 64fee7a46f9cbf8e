/*
 * scen_smp.c - the `smp` scenario: start the application processors with
 * INIT, SIPI, SIPI through the LAPIC and let each print its APIC id.
 *
 * The APs come up in real mode at 0x8000 (SIPI vector 0x08), where the
 * trampoline from boot.S is copied; they reach ap_main() in long mode on a
 * stack of their own, print `DATA smp.cpu=<id>` and count themselves in.
 * CPUs are the table's (MADT/MP), each sent INIT/SIPI by APIC id; without a
 * table the IPIs go to all-but-self and `smp.n` says how many to expect.
 * `smp.table=madt|mp|none` restricts the search (default any: MADT first).
 */
#include "guest.h"
#include "cputable.h"
#include "start_info.h"

#define TRAMPOLINE 0x8000
#define ICR_LO 0x300
#define ICR_HI 0x310
#define ICR_BUSY (1u << 12)
#define ICR_INIT 0x00004500u
#define ICR_SIPI 0x00004600u
#define ICR_ALL_BUT_SELF (3u << 18)

static volatile u32 g_online;

void ap_main(u32 apic_id)
{
    cpu_ap_init();
    data("smp.cpu=%u", apic_id);
    __asm__ volatile("lock; incl %0" : "+m"(g_online)::"memory");
    for (;;)
        __asm__ volatile("cli; hlt");
}

static void ipi(int all, u32 id, u32 cmd)
{
    if (!all)
        lapic_write(ICR_HI, id << 24);
    lapic_write(ICR_LO, cmd | (all ? ICR_ALL_BUT_SELF : 0));
    for (int i = 0; i < 1000 && (lapic_read(ICR_LO) & ICR_BUSY); i++)
        cpu_relax();
}

static int trampoline_is_ram(void)
{
    if (!g_memmap_count)
        return 1; /* no map: trust the PVH convention */
    for (u32 i = 0; i < g_memmap_count; i++)
        if (g_memmap[i].type == 1 && g_memmap[i].addr <= TRAMPOLINE &&
            g_memmap[i].addr + g_memmap[i].size >= TRAMPOLINE + 4096)
            return 1;
    return 0;
}

void scen_smp(void)
{
    static struct cpu_table t;
    u64 n_arg = arg_u64("smp.n", 0), wait = arg_u64("smp.wait_ms", 2000);
    const char *table = arg_str("smp.table");
    t.want = !table || strcmp(table, "any") == 0 ? CPU_TABLE_ANY
             : strcmp(table, "madt") == 0        ? CPU_TABLE_MADT
             : strcmp(table, "mp") == 0          ? CPU_TABLE_MP
             : strcmp(table, "none") == 0        ? CPU_TABLE_NONE
                                                 : -1;
    if (t.want < 0)
        guest_fail("smp.table must be any, madt, mp or none");
    ring3_call(cpu_table_find, (u64)(uptr)&t);
    u64 expected = n_arg ? n_arg : (u64)t.n;
    data("smp.source=%s", t.n ? t.source : "arg");
    data("smp.table_cpus=%d", t.n);
    data("smp.expected=%llu", expected);
    if (!expected)
        guest_fail("no smp.n= and no MADT or MP table");
    if (expected > CPU_TABLE_MAX)
        guest_fail("at most %d CPUs", CPU_TABLE_MAX);
    if (!trampoline_is_ram())
        guest_fail("the AP trampoline page %#x is not RAM in the memory map", TRAMPOLINE);
    u32 bsp = lapic_id();
    data("smp.cpu=%u", bsp);
    g_online = 1;
    memcpy((void *)(uptr)TRAMPOLINE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
    tsc_calibrate();
    int all = t.n == 0;
    for (int i = 0; i < (all ? 1 : t.n); i++)
        if (all || t.ids[i] != bsp)
            ipi(all, all ? 0 : t.ids[i], ICR_INIT);
    delay_us(10000);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < (all ? 1 : t.n); i++)
            if (all || t.ids[i] != bsp)
                ipi(all, all ? 0 : t.ids[i], ICR_SIPI | (TRAMPOLINE >> 12));
        delay_us(200);
    }
    u64 end = deadline_ms(wait);
    while (g_online < expected && !expired(end))
        cpu_relax();
    data("smp.online=%u", g_online);
    if (g_online < expected)
        guest_fail("%u of %llu CPUs checked in", g_online, expected);
    guest_pass();
}
