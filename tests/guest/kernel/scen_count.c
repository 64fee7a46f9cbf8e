/*
 * scen_count.c - the `count` scenario: a guest whose progress and memory can be seen from
 * outside, for snapshot and restore. It fills count.mib MiB of RAM at 64 MiB with a pattern,
 * then every count.ms prints `DATA count=K` (K = 1, 2, ... count.n), checking one word of
 * every 4 KiB page of the pattern each time, and the whole pattern at the end. A guest
 * snapshotted, stopped and restored carries on at the next K with its memory intact; lost
 * pages or registers show as a gap in K, a failed check or a crash.
 */
#include "guest.h"

#define COUNT_BASE (64ull << 20)

static u64 pattern(u64 i)
{
    return (i + 1) * 0x9E3779B97F4A7C15ull;
}

static void check(const u64 *mem, u64 words, u64 stride, u64 k)
{
    for (u64 i = 0; i < words; i += stride)
        if (mem[i] != pattern(i))
            guest_fail("count %llu: memory at %#llx is %#llx, not %#llx", k, COUNT_BASE + i * 8,
                       mem[i], pattern(i));
}

void scen_count(void)
{
    u64 n = arg_u64("count.n", 50), ms = arg_u64("count.ms", 100);
    u64 mib = arg_u64("count.mib", 16);
    if (n == 0 || n > 1000000 || ms == 0 || ms > 60000 || mib == 0 || mib > 1024)
        guest_fail("count.n 1..1000000, count.ms 1..60000, count.mib 1..1024");
    tsc_calibrate();
    u64 *mem = (u64 *)(uptr)COUNT_BASE;
    u64 words = mib << 17;
    for (u64 i = 0; i < words; i++)
        mem[i] = pattern(i);
    data("count.mib=%llu", mib);
    for (u64 k = 1; k <= n; k++) {
        u64 end = deadline_ms(ms);
        while (!expired(end))
            cpu_relax();
        check(mem, words, 512, k);
        data("count=%llu", k);
    }
    check(mem, words, 1, n);
    data("count.memory=ok");
    guest_pass();
}
