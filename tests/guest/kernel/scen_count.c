/*
 * scen_count.c - the `count` scenario: a guest whose progress and memory can be seen from
 * outside, for snapshot and restore. It fills count.mib MiB of RAM at 64 MiB with a pattern,
 * then every count.ms prints `DATA count=K` (K = 1, 2, ... count.n), checking one word of
 * every 4 KiB page of the pattern each time, and the whole pattern at the end. A guest
 * snapshotted, stopped and restored carries on at the next K with its memory intact; lost
 * pages or registers show as a gap in K, a failed check or a crash.
 *
 * count.dirty=R (MiB/s, default 0) keeps the guest dirtying its pattern while it waits: one
 * word of a page rewritten with its own value (the page is dirtied, the pattern unchanged),
 * page after page round the pattern, at most R MiB of pages in each millisecond's share, a
 * share missed never caught up: a vCPU a live migration throttles (auto-converge) dirties
 * less, as a CPU-bound writer does.
 *
 * count.quit=1 lets a 'q' received on COM1 end the count early: after the count it arrived
 * in, `DATA count.quit=K` and the end checks as after count K (a test that has seen what it
 * needs need not wait for count.n).
 *
 * count.disk=1 also writes sector K of the first virtio-blk disk (512 bytes of K) at each
 * count, and at the end reads sectors 1..count.n back (`count.disk=ok`): a guest migrated with
 * its disk on shared storage finds what it wrote before the move.
 */
#include "guest.h"
#include "blk.h"

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
    u64 mib = arg_u64("count.mib", 16), dirty = arg_u64("count.dirty", 0);
    int quit = arg_u64("count.quit", 0) != 0;
    if (n == 0 || n > 1000000 || ms == 0 || ms > 60000 || mib == 0 || mib > 1024 || dirty > 100000)
        guest_fail("count.n 1..1000000, count.ms 1..60000, count.mib 1..1024, count.dirty "
                   "0..100000");
    tsc_calibrate();
    struct virtio_dev v;
    u64 *sect = 0;
    if (arg_u64("count.disk", 0)) {
        blk_open(&v, 0);
        if (blk_capacity(&v) <= n)
            guest_fail("count.disk: the disk has %llu sectors, count.n is %llu", blk_capacity(&v),
                       n);
        sect = kalloc(512, 512);
    }
    u64 *mem = (u64 *)(uptr)COUNT_BASE;
    u64 words = mib << 17;
    for (u64 i = 0; i < words; i++)
        mem[i] = pattern(i);
    data("count.mib=%llu", mib);
    u64 pages = words / 512, next = 0, per_ms = (dirty * 256 + 999) / 1000;
    for (u64 k = 1; k <= n; k++) {
        u64 end = deadline_ms(ms), window = 0, quota = 0;
        while (!expired(end)) {
            if (per_ms && expired(window)) {
                window = deadline_ms(1);
                quota = per_ms;
            }
            if (quota) {
                mem[next * 512] = pattern(next * 512);
                next = next + 1 == pages ? 0 : next + 1;
                quota--;
                continue;
            }
            cpu_relax();
        }
        check(mem, words, 512, k);
        data("count=%llu", k);
        if (quit && serial_getc() == 'q') {
            data("count.quit=%llu", k);
            n = k;
        }
        if (sect) {
            u8 st;
            for (int i = 0; i < 64; i++)
                sect[i] = k;
            if (blk_request(&v, VIRTIO_BLK_T_OUT, k, sect, 1, &st) < 0 || st != VIRTIO_BLK_S_OK)
                guest_fail("count %llu: writing sector %llu failed (status %u)", k, k, st);
        }
    }
    check(mem, words, 1, n);
    data("count.memory=ok");
    for (u64 k = 1; sect && k <= n; k++) {
        u8 st;
        if (blk_request(&v, VIRTIO_BLK_T_IN, k, sect, 1, &st) < 0 || st != VIRTIO_BLK_S_OK)
            guest_fail("reading sector %llu back failed (status %u)", k, st);
        for (int i = 0; i < 64; i++)
            if (sect[i] != k)
                guest_fail("sector %llu holds %llu, not %llu", k, sect[i], k);
    }
    if (sect)
        data("count.disk=ok");
    guest_pass();
}
