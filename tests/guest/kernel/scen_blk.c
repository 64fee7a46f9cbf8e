/*
 * scen_blk.c - the `blk` scenario: virtio-blk capacity, a deterministic
 * pattern written to blk.start.. blk.start+blk.count-1, read back, compared,
 * flushed; `blk.ro=1` expects a write to fail with VIRTIO_BLK_S_IOERR;
 * `blk.check=1` only verifies that the range holds the pattern;
 * `blk.bench=randread` measures random 4 KiB reads (blk.depth, blk.ms).
 *
 * Pattern, compare and checksum run in ring 3 (ring3_call): at ~2 M
 * emulated ring-0 instructions/s a byte loop over 4 KiB in ring 0 would
 * cost milliseconds per sector. blk_request() is shared with scen_hostile.c.
 */
#include "guest.h"
#include "blk.h"

#define BLK_MAX_SECTORS 1024
#define BLK_CHUNK 64

int blk_request(struct virtio_dev *v, u32 type, u64 sector, void *buf, u32 nsect, u8 *status)
{
    struct virtio_blk_req *h = kalloc(sizeof *h, 16); /* small; the heap is plenty for a run */
    volatile u8 *st = kalloc(1, 1);
    struct vbuf b[3];
    int n = 0;
    h->type = type;
    h->sector = sector;
    *st = 0xff;
    b[n++] = (struct vbuf){h, sizeof *h, 0};
    if (nsect)
        b[n++] = (struct vbuf){buf, nsect * 512, type == VIRTIO_BLK_T_IN};
    b[n++] = (struct vbuf){(void *)st, 1, 1};
    if (virtq_call(&v->vq[0], b, n, 5000, NULL) < 0)
        return -1;
    *status = *st;
    return 0;
}

void blk_open(struct virtio_dev *v, u64 extra_features)
{
    virtio_open(v, 2, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH | extra_features, 1);
    virtio_queue_setup(v, 0, 64);
    virtio_driver_ok(v);
}

u64 blk_capacity(struct virtio_dev *v)
{
    u64 cap;
    virtio_cfg_read(v, 0, &cap, 8);
    return cap;
}

struct pattern_args {
    u8 *buf;
    u64 start, count;
    u32 seed, sum;
    u64 bad; /* first sector that differs, or ~0 */
};

static void pattern_sector(u64 s, u32 seed, u8 *o)
{
    memcpy(o, "STRGUEST", 8);
    for (int i = 0; i < 8; i++)
        o[8 + i] = (u8)(s >> (8 * i));
    for (int i = 16; i < 512; i++)
        o[i] = (u8)(s * 251 + (u64)i * 13 + seed);
}

/* Ring 3. */
static u64 pattern_fill(u64 arg)
{
    struct pattern_args *a = (void *)(uptr)arg;
    for (u64 k = 0; k < a->count; k++)
        pattern_sector(a->start + k, a->seed, a->buf + 512 * k);
    return 0;
}

/* Ring 3: compares against the pattern and checksums the range. */
static u64 pattern_check(u64 arg)
{
    struct pattern_args *a = (void *)(uptr)arg;
    u8 want[512];
    a->bad = ~0ull;
    for (u64 k = 0; k < a->count; k++) {
        pattern_sector(a->start + k, a->seed, want);
        for (int i = 0; i < 512; i++)
            if (want[i] != a->buf[512 * k + i]) {
                a->bad = a->start + k;
                return 1;
            }
    }
    a->sum = fnv1a32(FNV1A32_INIT, a->buf, a->count * 512);
    return 0;
}

static void transfer(struct virtio_dev *v, u32 type, u64 start, u64 count, u8 *buf)
{
    for (u64 k = 0; k < count; k += BLK_CHUNK) {
        u32 n = (u32)(count - k < BLK_CHUNK ? count - k : BLK_CHUNK);
        u8 st;
        if (blk_request(v, type, start + k, buf + 512 * k, n, &st) < 0)
            guest_fail("%s of sectors %llu+%u timed out (device status %#x)",
                       type == VIRTIO_BLK_T_OUT ? "write" : "read", start + k, n, virtio_status(v));
        if (st != VIRTIO_BLK_S_OK)
            guest_fail("%s of sectors %llu+%u: status %u",
                       type == VIRTIO_BLK_T_OUT ? "write" : "read", start + k, n, st);
    }
}

/* Benchmark: random 4 KiB reads at queue depth blk.depth for blk.ms. Each
 * slot owns a header, a buffer and a status byte; completions are polled
 * and refilled, one kick per batch. The loop runs in ring 3 (notifies are
 * MMIO writes, fine from there), so the guest's cost per request is native. */
struct rr_slot {
    struct virtio_blk_req h;
    u8 status;
};

struct randread {
    struct virtq *q;
    struct rr_slot *slots;
    u8 *bufs;
    u8 slot_of[256];
    u64 depth, blocks, x, end, ops;
    u64 bad_sector; /* the request that failed, when err = 2 */
    u8 bad_status;
};

static void rr_submit(struct randread *r, u8 i)
{
    r->x ^= r->x << 13, r->x ^= r->x >> 7, r->x ^= r->x << 17;
    r->slots[i].h.type = VIRTIO_BLK_T_IN;
    r->slots[i].h.sector = (r->x % r->blocks) * 8;
    r->slots[i].status = 0xff;
    struct vbuf b[3] = {{&r->slots[i].h, sizeof r->slots[i].h, 0},
                        {r->bufs + 4096 * (u64)i, 4096, 1},
                        {&r->slots[i].status, 1, 1}};
    r->slot_of[virtq_add(r->q, b, 3)] = i;
}

/* Ring 3: 0 done, 1 stalled (5 s without a completion), 2 a request failed,
 * 3 a used id out of range. */
static u64 randread_r3(u64 arg)
{
    struct randread *r = (void *)(uptr)arg;
    u64 inflight = r->depth, stall = rdtsc() + 5000 * g_tsc_khz;
    for (u64 i = 0; i < r->depth; i++)
        rr_submit(r, (u8)i);
    virtq_notify(r->q);
    while (inflight) {
        u32 id, queued = 0;
        while (virtq_get(r->q, &id, NULL)) {
            if (id >= r->q->size)
                return 3;
            u8 i = r->slot_of[id];
            if (r->slots[i].status != VIRTIO_BLK_S_OK) {
                r->bad_sector = r->slots[i].h.sector;
                r->bad_status = r->slots[i].status;
                return 2;
            }
            r->ops++;
            inflight--;
            u64 now = rdtsc();
            stall = now + 5000 * g_tsc_khz;
            if (now >= r->end)
                continue;
            rr_submit(r, i);
            inflight++;
            queued++;
        }
        if (queued)
            virtq_notify(r->q);
        if (rdtsc() >= stall)
            return 1;
    }
    return 0;
}

static void blk_randread(struct virtio_dev *v, u64 cap)
{
    static struct randread r;
    r.q = &v->vq[0];
    r.depth = arg_u64("blk.depth", 16);
    r.blocks = cap / 8;
    r.x = arg_u64("blk.seed", 0) * 2 + 0x9E3779B97F4A7C15ull;
    if (r.depth < 1 || r.depth > r.q->size / 3u)
        guest_fail("blk.depth must be 1..%u", r.q->size / 3u);
    if (r.blocks == 0)
        guest_fail("disk smaller than 4 KiB");
    r.slots = kalloc(sizeof *r.slots * r.depth, 16);
    r.bufs = kalloc(4096 * r.depth, 4096);
    u64 t0 = rdtsc();
    r.end = t0 + arg_u64("blk.ms", 1000) * g_tsc_khz;
    u64 rc = ring3_call(randread_r3, (u64)(uptr)&r);
    u64 us = (rdtsc() - t0) * 1000 / g_tsc_khz;
    if (rc == 1)
        guest_fail("random reads stalled (device status %#x)", virtio_status(v));
    if (rc == 2)
        guest_fail("random read at sector %llu: status %u", r.bad_sector, r.bad_status);
    if (rc == 3)
        guest_fail("device returned a descriptor out of range");
    data("blk.bench=randread");
    data("blk.depth=%llu", r.depth);
    data("blk.ops=%llu", r.ops);
    data("blk.elapsed_us=%llu", us);
    data("blk.iops=%llu", us ? r.ops * 1000000 / us : 0);
    data("irqs=%u", virtio_irqs(v));
    guest_pass();
}

void scen_blk(void)
{
    struct virtio_dev v;
    u64 start = arg_u64("blk.start", 16), count = arg_u64("blk.count", 8);
    u32 seed = (u32)arg_u64("blk.seed", 0);
    blk_open(&v, 0);
    u64 cap = blk_capacity(&v);
    data("blk.capacity=%llu", cap);
    data("blk.features=%#llx", v.offered);
    data("blk.ro_feature=%d", (v.offered & VIRTIO_BLK_F_RO) ? 1 : 0);
    const char *bench = arg_str("blk.bench");
    if (bench && strcmp(bench, "randread") == 0)
        blk_randread(&v, cap);
    if (bench)
        guest_fail("blk.bench must be randread");
    if (count == 0 || count > BLK_MAX_SECTORS)
        guest_fail("blk.count must be 1..%d", BLK_MAX_SECTORS);
    if (start >= cap || count > cap - start)
        guest_fail("sectors %llu+%llu beyond the capacity %llu", start, count, cap);

    if (arg_u64("blk.ro", 0)) {
        u8 *buf = kalloc(512, 512), st;
        if (blk_request(&v, VIRTIO_BLK_T_OUT, start, buf, 1, &st) < 0)
            guest_fail("write to a read-only disk timed out (device status %#x)",
                       virtio_status(&v));
        data("blk.write_status=%u", st);
        data("irqs=%u", virtio_irqs(&v));
        if (st != VIRTIO_BLK_S_IOERR)
            guest_fail("write to a read-only disk: status %u, want %u (IOERR)", st,
                       VIRTIO_BLK_S_IOERR);
        guest_pass();
    }

    struct pattern_args a = {0, start, count, seed, 0, 0};
    u8 *rd = kalloc(count * 512, 4096);
    if (!arg_u64("blk.check", 0)) {
        a.buf = kalloc(count * 512, 4096);
        ring3_call(pattern_fill, (u64)(uptr)&a);
        transfer(&v, VIRTIO_BLK_T_OUT, start, count, a.buf);
    }
    transfer(&v, VIRTIO_BLK_T_IN, start, count, rd);
    a.buf = rd;
    if (ring3_call(pattern_check, (u64)(uptr)&a))
        guest_fail("sector %llu does not hold the pattern", a.bad);
    data("blk.checksum=%#08x", a.sum);
    if (!arg_u64("blk.check", 0)) {
        if (v.features & VIRTIO_BLK_F_FLUSH) {
            u8 st;
            if (blk_request(&v, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &st) < 0 || st != VIRTIO_BLK_S_OK)
                guest_fail("flush failed (status %#x)", st);
            data("blk.flush=ok");
        } else {
            data("blk.flush=unsupported");
        }
    }
    data("irqs=%u", virtio_irqs(&v));
    guest_pass();
}
