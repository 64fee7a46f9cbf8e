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
 *
 * Filling, checking, waiting and dirtying run in ring 3 (ring3_call), as a tenant's program
 * would: at ~2 M emulated ring-0 instructions/s (this host's KVM) filling 64 MiB in ring 0
 * took minutes, and the pages a live migration must catch are a program's, not a kernel's.
 */
#include "guest.h"
#include "blk.h"

#define COUNT_BASE (64ull << 20)

static u64 pattern(u64 i)
{
    return (i + 1) * 0x9E3779B97F4A7C15ull;
}

/* What the ring-3 parts share with the scenario. */
struct count_args {
    u64 *mem, words;
    u64 stride, bad;              /* check_r3: every stride-th word; the first bad word's index */
    u64 end, per_ms, pages, next; /* wait_r3: until the TSC reaches end, per_ms pages a ms */
};

static u64 fill_r3(u64 arg)
{
    struct count_args *a = (void *)(uptr)arg;
    for (u64 i = 0; i < a->words; i++)
        a->mem[i] = pattern(i);
    return 0;
}

static u64 check_r3(u64 arg)
{
    struct count_args *a = (void *)(uptr)arg;
    for (u64 i = 0; i < a->words; i += a->stride)
        if (a->mem[i] != pattern(i)) {
            a->bad = i;
            return 1;
        }
    return 0;
}

/* Waits until a->end, rewriting one word of a page with its own value, page after page round
 * the pattern, at most per_ms pages in each millisecond's share. */
static u64 wait_r3(u64 arg)
{
    struct count_args *a = (void *)(uptr)arg;
    u64 window = 0, quota = 0;
    while (!expired(a->end)) {
        if (a->per_ms && expired(window)) {
            window = rdtsc() + g_tsc_khz; /* deadline_ms(1) without its calibration call */
            quota = a->per_ms;
        }
        if (quota) {
            a->mem[a->next * 512] = pattern(a->next * 512);
            a->next = a->next + 1 == a->pages ? 0 : a->next + 1;
            quota--;
            continue;
        }
        cpu_relax();
    }
    return 0;
}

static void check(struct count_args *a, u64 stride, u64 k)
{
    a->stride = stride;
    if (ring3_call(check_r3, (u64)(uptr)a))
        guest_fail("count %llu: memory at %#llx is %#llx, not %#llx", k, COUNT_BASE + a->bad * 8,
                   a->mem[a->bad], pattern(a->bad));
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
    struct count_args a = {.mem = (u64 *)(uptr)COUNT_BASE, .words = mib << 17};
    ring3_call(fill_r3, (u64)(uptr)&a);
    data("count.mib=%llu", mib);
    a.pages = a.words / 512;
    a.per_ms = (dirty * 256 + 999) / 1000;
    for (u64 k = 1; k <= n; k++) {
        a.end = deadline_ms(ms);
        ring3_call(wait_r3, (u64)(uptr)&a);
        check(&a, 512, k);
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
    check(&a, 1, n);
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
