/*
 * scen_boot.c - the `boot` scenario (hello, memory map total, command line)
 * and the `cpu` scenario (a ring-3 loop for cpu.ms milliseconds of TSC time).
 */
#include "guest.h"
#include "start_info.h"

void scen_boot(u32 start_info)
{
    const struct hvm_start_info *si = (const void *)(uptr)start_info;
    u64 total = 0;
    kprintf("hello from the Stratus test guest\n");
    data("start_info.version=%u", si->version);
    for (u32 i = 0; i < g_memmap_count; i++) {
        const struct hvm_memmap_entry *e = &g_memmap[i];
        data("mem.entry=%#llx+%#llx:%u", e->addr, e->size, e->type);
        if (e->type == 1)
            total += e->size;
    }
    data("mem.entries=%u", g_memmap_count);
    data("mem.total=%llu", total);
    data("cmdline=%s", (const char *)(uptr)si->cmdline_paddr);
    data("apic_id=%u", lapic_id());
    guest_pass();
}

struct spin_args {
    u64 deadline;
    u64 iterations;
    u64 acc;
};

/* Ring 3: integer work until the TSC passes the deadline. */
static u64 spin(u64 arg)
{
    struct spin_args *a = (struct spin_args *)(uptr)arg;
    u64 x = 0x9E3779B97F4A7C15ull, n = 0;
    for (;;) {
        for (int i = 0; i < 4096; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        n += 4096;
        if (rdtsc() >= a->deadline)
            break;
    }
    a->iterations = n;
    a->acc = x;
    return n;
}

void scen_cpu(void)
{
    u64 ms = arg_u64("cpu.ms", 1000);
    tsc_calibrate();
    data("tsc_khz=%llu", g_tsc_khz);
    data("tsc_source=%s", g_tsc_source);
    struct spin_args a = {0, 0, 0};
    u64 t0 = rdtsc();
    a.deadline = t0 + ms * g_tsc_khz;
    ring3_call(spin, (u64)(uptr)&a);
    u64 t1 = rdtsc();
    data("cpu.ms=%llu", ms);
    data("cpu.iterations=%llu", a.iterations);
    data("cpu.elapsed_us=%llu", (t1 - t0) * 1000 / g_tsc_khz);
    if (a.iterations == 0 || t1 < a.deadline)
        guest_fail("ring-3 loop returned early");
    guest_pass();
}
