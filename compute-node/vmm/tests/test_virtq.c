/*
 * vmm_virtq - descriptor walking over a fake guest memory: well-formed
 * chains come out as iovecs, every malformed shape is refused with -EINVAL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "st_test.h"
#include "virtq.h"

#define MEM (1u << 20)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define QSZ 8

static uint8_t *mem;
static vmm_gmem gm;
static vmm_vq vq;
static vmm_vq_chain chain;

static void desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = mem + DESC + 16 * i;
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

static void post(uint16_t head)
{
    uint16_t idx;
    memcpy(&idx, mem + AVAIL + 2, 2);
    memcpy(mem + AVAIL + 4 + 2 * (idx % QSZ), &head, 2);
    idx++;
    memcpy(mem + AVAIL + 2, &idx, 2);
}

static int setup(void)
{
    mem = calloc(1, MEM);
    gm.n = 1;
    gm.r[0] = (vmm_gmem_region){0, MEM, mem};
    return mem ? 0 : -1;
}

static int teardown(void)
{
    free(mem);
    return 0;
}

static void fresh(void)
{
    memset(mem, 0, MEM);
    vq.max_size = QSZ;
    vmm_vq_reset(&vq);
    vq.desc_gpa = DESC;
    vq.avail_gpa = AVAIL;
    vq.used_gpa = USED;
    CU_ASSERT_FATAL(vmm_vq_start(&vq, &gm) == 0);
}

static void test_good_chain(void)
{
    fresh();
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 0); /* empty */
    desc(0, 0x10000, 16, VRING_DESC_F_NEXT, 1);
    desc(1, 0x11000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
    desc(2, 0x12000, 1, VRING_DESC_F_WRITE, 0);
    post(0);
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 1);
    ST_ASSERT_INT_EQ(chain.head, 0);
    ST_ASSERT_INT_EQ(chain.nr, 1);
    ST_ASSERT_INT_EQ(chain.nw, 2);
    ST_ASSERT_INT_EQ(chain.rlen, 16);
    ST_ASSERT_INT_EQ(chain.wlen, 513);
    CU_ASSERT(chain.iov[1].iov_base == mem + 0x11000);
    vmm_vq_push(&vq, chain.head, 513);
    uint16_t used_idx;
    uint32_t id, len;
    memcpy(&used_idx, mem + USED + 2, 2);
    memcpy(&id, mem + USED + 4, 4);
    memcpy(&len, mem + USED + 8, 4);
    ST_ASSERT_INT_EQ(used_idx, 1);
    ST_ASSERT_INT_EQ(id, 0);
    ST_ASSERT_INT_EQ(len, 513);
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 0);
}

/* A frame over mergeable buffers: its chains become used entries in order (wrapping the
 * ring) and the used index ends past them all. */
static void test_push_many(void)
{
    fresh();
    for (int i = 0; i < QSZ - 2; i++)
        vmm_vq_push(&vq, 0, 0);
    uint16_t heads[3] = {5, 2, 7};
    uint32_t lens[3] = {1526, 1526, 100};
    vmm_vq_push_many(&vq, heads, lens, 3);
    uint16_t used_idx;
    memcpy(&used_idx, mem + USED + 2, 2);
    ST_ASSERT_INT_EQ(used_idx, QSZ + 1);
    for (int i = 0; i < 3; i++) {
        uint32_t id, len, slot = (QSZ - 2 + i) % QSZ;
        memcpy(&id, mem + USED + 4 + 8 * slot, 4);
        memcpy(&len, mem + USED + 8 + 8 * slot, 4);
        ST_ASSERT_INT_EQ(id, heads[i]);
        ST_ASSERT_INT_EQ(len, lens[i]);
    }
}

static void test_indirect(void)
{
    fresh();
    uint8_t *t = mem + 0x20000;
    uint64_t a = 0x21000;
    uint32_t l = 64;
    uint16_t f = VRING_DESC_F_NEXT, n = 1;
    memcpy(t, &a, 8), memcpy(t + 8, &l, 4), memcpy(t + 12, &f, 2), memcpy(t + 14, &n, 2);
    a = 0x22000, f = VRING_DESC_F_WRITE, n = 0;
    memcpy(t + 16, &a, 8), memcpy(t + 24, &l, 4), memcpy(t + 28, &f, 2), memcpy(t + 30, &n, 2);
    desc(3, 0x20000, 32, VRING_DESC_F_INDIRECT, 0);
    post(3);
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 1);
    ST_ASSERT_INT_EQ(chain.nr, 1);
    ST_ASSERT_INT_EQ(chain.nw, 1);
}

static void expect_malformed(void)
{
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), -EINVAL);
}

static void test_loop(void)
{
    fresh();
    desc(0, 0x10000, 16, VRING_DESC_F_NEXT, 1);
    desc(1, 0x10000, 16, VRING_DESC_F_NEXT, 0);
    post(0);
    expect_malformed();
}

static void test_out_of_bounds(void)
{
    fresh();
    desc(0, MEM - 8, 16, 0, 0);
    post(0);
    expect_malformed();
    fresh();
    desc(0, UINT64_MAX - 4, 16, 0, 0); /* addr + len wraps */
    post(0);
    expect_malformed();
    fresh();
    desc(0, 0, 0xffffffffu, VRING_DESC_F_WRITE, 0);
    post(0);
    expect_malformed();
}

static void test_bad_indices(void)
{
    fresh();
    post(QSZ); /* head beyond the table */
    expect_malformed();
    fresh();
    desc(0, 0x10000, 16, VRING_DESC_F_NEXT, QSZ + 3);
    post(0);
    expect_malformed();
    fresh();
    uint16_t idx = QSZ + 1; /* the driver claims more entries than the ring holds */
    memcpy(mem + AVAIL + 2, &idx, 2);
    expect_malformed();
}

static void test_long_indirect(void)
{
    fresh();
    uint8_t *t = mem + 0x20000;
    for (int i = 0; i < QSZ + 1; i++) {
        uint64_t a = 0x30000;
        uint32_t l = 8;
        uint16_t f = i < QSZ ? VRING_DESC_F_NEXT : 0, n = (uint16_t)(i + 1);
        memcpy(t + 16 * i, &a, 8), memcpy(t + 16 * i + 8, &l, 4);
        memcpy(t + 16 * i + 12, &f, 2), memcpy(t + 16 * i + 14, &n, 2);
    }
    desc(0, 0x20000, 16 * (QSZ + 1), VRING_DESC_F_INDIRECT, 0);
    post(0);
    expect_malformed();
}

static void test_bad_indirect_shapes(void)
{
    fresh();
    desc(0, 0x20000, 24, VRING_DESC_F_INDIRECT, 0); /* not a multiple of 16 */
    post(0);
    expect_malformed();
    fresh();
    desc(0, 0x20000, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
    post(0);
    expect_malformed();
    fresh();
    uint8_t *t = mem + 0x20000; /* nested indirect */
    uint64_t a = 0x20000;
    uint32_t l = 16;
    uint16_t f = VRING_DESC_F_INDIRECT, n = 0;
    memcpy(t, &a, 8), memcpy(t + 8, &l, 4), memcpy(t + 12, &f, 2), memcpy(t + 14, &n, 2);
    desc(0, 0x20000, 16, VRING_DESC_F_INDIRECT, 0);
    post(0);
    expect_malformed();
    fresh();
    desc(0, MEM - 16, 32, VRING_DESC_F_INDIRECT, 0); /* table outside RAM */
    post(0);
    expect_malformed();
}

static void test_readable_after_writable(void)
{
    fresh();
    desc(0, 0x10000, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    desc(1, 0x11000, 16, 0, 0);
    post(0);
    expect_malformed();
}

static void test_bad_rings(void)
{
    vq.max_size = QSZ;
    vmm_vq_reset(&vq);
    vq.desc_gpa = MEM - 64; /* table runs past RAM */
    vq.avail_gpa = AVAIL;
    vq.used_gpa = USED;
    ST_ASSERT_INT_EQ(vmm_vq_start(&vq, &gm), -EINVAL);
    vq.desc_gpa = DESC + 8; /* misaligned */
    ST_ASSERT_INT_EQ(vmm_vq_start(&vq, &gm), -EINVAL);
    vq.desc_gpa = DESC;
    vq.size = 3; /* not a power of two */
    ST_ASSERT_INT_EQ(vmm_vq_start(&vq, &gm), -EINVAL);
    vq.size = QSZ * 2; /* above the maximum */
    ST_ASSERT_INT_EQ(vmm_vq_start(&vq, &gm), -EINVAL);
}

static void test_gmem_regions(void)
{
    uint8_t a[64], b[64];
    vmm_gmem m = {.n = 2};
    m.r[0] = (vmm_gmem_region){0, 64, a};
    m.r[1] = (vmm_gmem_region){1ull << 32, 64, b};
    CU_ASSERT(vmm_gmem_ptr(&m, 0, 64) == a);
    CU_ASSERT(vmm_gmem_ptr(&m, 60, 8) == NULL); /* runs off the end */
    CU_ASSERT(vmm_gmem_ptr(&m, (1ull << 32) + 8, 56) == b + 8);
    CU_ASSERT(vmm_gmem_ptr(&m, 64, 0) == a + 64);
    CU_ASSERT(vmm_gmem_ptr(&m, 1000, 1) == NULL); /* the hole */
    CU_ASSERT(vmm_gmem_ptr(&m, UINT64_MAX, 2) == NULL);
}

static uint16_t avail_event(void)
{
    uint16_t v;
    memcpy(&v, mem + USED + 4 + 8 * QSZ, 2);
    return v;
}

static void set_used_event(uint16_t v)
{
    memcpy(mem + AVAIL + 4 + 2 * QSZ, &v, 2);
}

/* VIRTIO_RING_F_EVENT_IDX: finding the ring empty asks for a kick at the next buffer
 * (avail_event = what we consumed); an interrupt is due only once the used index
 * passes the driver's used_event, whatever NO_INTERRUPT says. */
static void test_event_idx(void)
{
    fresh();
    vq.event_idx = 1;
    memcpy(mem + USED + 4 + 8 * QSZ, &(uint16_t){0xffff}, 2);
    ST_ASSERT_INT_EQ(vmm_vq_has_avail(&vq), 0);
    ST_ASSERT_INT_EQ(avail_event(), 0); /* kick me at buffer 0 */
    desc(0, 0x10000, 16, 0, 0);
    desc(1, 0x11000, 16, 0, 0);
    post(0);
    post(1);
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 1);
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 1);
    ST_ASSERT_INT_EQ(avail_event(), 0); /* not rewritten while there is work */
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 0);
    ST_ASSERT_INT_EQ(avail_event(), 2); /* drained: kick me at buffer 2 */

    set_used_event(1); /* the driver wants an interrupt once entry 1 is used */
    uint16_t no_irq = VRING_AVAIL_F_NO_INTERRUPT;
    memcpy(mem + AVAIL, &no_irq, 2); /* ignored with event_idx */
    vmm_vq_push(&vq, 0, 0);
    ST_ASSERT_INT_EQ(vmm_vq_should_notify(&vq), 0); /* used idx 1: entry 1 not used yet */
    vmm_vq_push(&vq, 1, 0);
    ST_ASSERT_INT_EQ(vmm_vq_should_notify(&vq), 1); /* used idx 2 passed used_event 1 */
    ST_ASSERT_INT_EQ(vmm_vq_should_notify(&vq), 0); /* nothing new since */
    set_used_event(5);
    post(0);
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 1);
    vmm_vq_push(&vq, 0, 0);
    ST_ASSERT_INT_EQ(vmm_vq_should_notify(&vq), 0); /* 3 has not passed 5 */

    /* Without event_idx, NO_INTERRUPT decides. */
    fresh();
    memcpy(mem + AVAIL, &no_irq, 2);
    vmm_vq_push(&vq, 0, 0);
    ST_ASSERT_INT_EQ(vmm_vq_should_notify(&vq), 0);
    ST_ASSERT_INT_EQ(avail_event(), 0);
}

static int marked(const uint64_t *bits, uint64_t gpa)
{
    return (int)(bits[gpa >> 18] >> ((gpa >> 12) & 63) & 1);
}

/* A live migration's VMM-side dirty bitmap (gmem.h): while set, taking a chain marks its
 * device-writable buffers (not the readable ones), pushing marks the used ring; unset, nothing
 * is marked; marks past the region's end are not made. */
static void test_dirty_marks(void)
{
    static uint64_t bits[MEM / 4096 / 64];
    fresh();
    desc(0, 0x10000, 16, VRING_DESC_F_NEXT, 1);
    desc(1, 0x11ff0, 0x20, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2); /* straddles two pages */
    desc(2, 0x14000, 1, VRING_DESC_F_WRITE, 0);
    post(0);
    gm.dirty[0] = bits;
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 1);
    CU_ASSERT(!marked(bits, 0x10000));                         /* read by the device */
    CU_ASSERT(marked(bits, 0x11000) && marked(bits, 0x12000)); /* both pages it spans */
    CU_ASSERT(marked(bits, 0x14000) && !marked(bits, 0x13000));
    CU_ASSERT(!marked(bits, USED));
    vmm_vq_push(&vq, chain.head, 17);
    CU_ASSERT(marked(bits, USED));
    vmm_gmem_mark(&gm, mem + MEM - 8, 4096); /* clipped at the end of RAM */
    CU_ASSERT(marked(bits, MEM - 4096));
    vmm_gmem_mark(&gm, mem - 4096, 16); /* not guest RAM: nothing */
    memset(bits, 0, sizeof bits);
    gm.dirty[0] = NULL;
    post(0);
    ST_ASSERT_INT_EQ(vmm_vq_pop(&vq, &gm, &chain), 1);
    vmm_vq_push(&vq, chain.head, 17);
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        CU_ASSERT_EQUAL(bits[i], 0);
}

static CU_TestInfo tests[] = {
    {"a live migration's dirty bitmap: writable buffers and the used ring marked",
     test_dirty_marks},
    {"a readable+writable chain becomes iovecs; push fills the used ring", test_good_chain},
    {"several chains pushed at once land in order, the used index past them all", test_push_many},
    {"an indirect table is walked", test_indirect},
    {"a looping chain is malformed", test_loop},
    {"buffers outside guest RAM (or wrapping) are malformed", test_out_of_bounds},
    {"head/next indices beyond the queue, and an avail index too far ahead", test_bad_indices},
    {"an indirect chain longer than the queue is malformed", test_long_indirect},
    {"odd-sized, NEXT-flagged, nested or out-of-RAM indirect tables", test_bad_indirect_shapes},
    {"a readable buffer after a writable one is malformed", test_readable_after_writable},
    {"rings outside RAM, misaligned, or of a bad size are refused", test_bad_rings},
    {"guest memory lookups respect regions and holes", test_gmem_regions},
    {"event index: avail_event written when drained, interrupts only past used_event",
     test_event_idx},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"virtq", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
