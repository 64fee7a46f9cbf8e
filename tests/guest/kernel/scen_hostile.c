/*
 * scen_hostile.c - the `hostile` scenario: post one malformed virtio-blk
 * request and report what the device did. For the VMM's robustness tests; a
 * VMM must survive it (and should set DEVICE_NEEDS_RESET).
 *
 *   hostile.blk=loop    the header descriptor's next is itself
 *   hostile.blk=oob     a read into an address 16 GiB above RAM (and 4 GiB)
 *   hostile.blk=long    a chain longer than the queue: 4 * size + 2 entries in
 *                       an indirect table, or (no INDIRECT_DESC, or
 *                       hostile.direct=1) every descriptor chained with the
 *                       last pointing back to 1
 *   hostile.blk=badidx  a valid request, avail.idx advanced by size + 3
 *
 * The chain is written by hand (not virtq_add) and the guest never touches
 * the queue again. `hostile.recover=1` then resets the device and reads
 * sector 0 to see whether it works again (`hostile.recovered`).
 */
#include "guest.h"
#include "blk.h"
#include "start_info.h"

static u64 ram_top(void)
{
    u64 top = 0x100000000ull;
    for (u32 i = 0; i < g_memmap_count; i++)
        if (g_memmap[i].type == 1 && g_memmap[i].addr + g_memmap[i].size > top)
            top = g_memmap[i].addr + g_memmap[i].size;
    return top;
}

static void set(struct virtq_desc *d, const void *addr, u32 len, u16 flags, u16 next)
{
    d->addr = (u64)(uptr)addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
}

void scen_hostile(void)
{
    struct virtio_dev v;
    const char *kind = arg_str("hostile.blk");
    u64 wait = arg_u64("hostile.wait_ms", 500);
    if (!kind)
        guest_fail("hostile.blk= missing (loop, oob, long or badidx)");
    blk_open(&v, arg_u64("hostile.direct", 0) ? 0 : VIRTIO_F_RING_INDIRECT_DESC);
    struct virtq *q = &v.vq[0];
    u16 size = q->size, old_avail = q->avail->idx, old_used = q->used->idx, bump = 1;
    struct virtio_blk_req *h = kalloc(sizeof *h, 16);
    u8 *st = kalloc(1, 1), *data_buf = kalloc(512, 512);
    struct virtq_desc *d = q->desc;
    h->type = VIRTIO_BLK_T_IN;
    *st = 0xff;
    data("hostile.kind=%s", kind);

    if (strcmp(kind, "loop") == 0) {
        set(&d[0], h, sizeof *h, VIRTQ_DESC_F_NEXT, 0);
    } else if (strcmp(kind, "oob") == 0) {
        u64 oob = ram_top() + (16ull << 30);
        data("hostile.addr=%#llx", oob);
        set(&d[0], h, sizeof *h, VIRTQ_DESC_F_NEXT, 1);
        d[1].addr = oob;
        d[1].len = 512;
        d[1].flags = VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT;
        d[1].next = 2;
        set(&d[2], st, 1, VIRTQ_DESC_F_WRITE, 0);
    } else if (strcmp(kind, "long") == 0) {
        if (v.features & VIRTIO_F_RING_INDIRECT_DESC) {
            u32 m = 4u * size + 2;
            struct virtq_desc *t = kalloc(16ull * m, 16);
            u8 *big = kalloc(512ull * (m - 2), 512);
            data("hostile.mode=indirect");
            data("hostile.chain=%u", m);
            set(&t[0], h, sizeof *h, VIRTQ_DESC_F_NEXT, 1);
            for (u32 i = 1; i < m - 1; i++)
                set(&t[i], big + 512ull * (i - 1), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
                    (u16)(i + 1));
            set(&t[m - 1], st, 1, VIRTQ_DESC_F_WRITE, 0);
            set(&d[0], t, 16 * m, VIRTQ_DESC_F_INDIRECT, 0);
        } else {
            data("hostile.mode=direct");
            data("hostile.chain=%u", size);
            set(&d[0], h, sizeof *h, VIRTQ_DESC_F_NEXT, 1);
            for (u16 i = 1; i < size; i++)
                set(&d[i], data_buf, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
                    i + 1 < size ? (u16)(i + 1) : 1);
        }
    } else if (strcmp(kind, "badidx") == 0) {
        set(&d[0], h, sizeof *h, VIRTQ_DESC_F_NEXT, 1);
        set(&d[1], data_buf, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        set(&d[2], st, 1, VIRTQ_DESC_F_WRITE, 0);
        bump = (u16)(size + 3);
    } else {
        guest_fail("hostile.blk must be loop, oob, long or badidx");
    }
    q->avail->ring[old_avail & (size - 1)] = 0;
    barrier();
    q->avail->idx = (u16)(old_avail + bump);
    virtq_notify(q);

    u64 end = deadline_ms(wait);
    while (!expired(end) && q->used->idx == old_used &&
           !(virtio_status(&v) & VIRTIO_STATUS_NEEDS_RESET))
        delay_us(1000);
    u8 status = virtio_status(&v);
    data("hostile.completed=%d", q->used->idx != old_used);
    if (q->used->idx != old_used && strcmp(kind, "loop") != 0)
        data("hostile.req_status=%u", *st); /* 0xff: the device never wrote it */
    data("device_status=0x%02x", status);
    data("needs_reset=%d", (status & VIRTIO_STATUS_NEEDS_RESET) ? 1 : 0);

    if (arg_u64("hostile.recover", 0)) {
        struct virtio_dev v2;
        u8 s = 0xff;
        blk_open(&v2, 0);
        int rc = blk_request(&v2, VIRTIO_BLK_T_IN, 0, data_buf, 1, &s);
        data("hostile.recovered=%d", rc == 0 && s == VIRTIO_BLK_S_OK);
    }
    guest_pass();
}
