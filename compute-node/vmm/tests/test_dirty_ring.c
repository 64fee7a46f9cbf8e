/*
 * vmm_dirty_ring - reaping KVM's dirty ring without KVM: a ring of struct kvm_dirty_gfn in
 * plain memory, filled as the kernel fills it (slot, offset, then the DIRTY flag), reaped by
 * vmm_dring_collect into bitmaps as a live migration's rounds do. Collection starts at the
 * fetch index, wraps around the ring's end, stops at the first entry KVM has not pushed yet
 * and never runs past one lap of a full ring; each collected entry is flagged RESET and its
 * page set at its slot's place in its region's bitmap; a page of a slot that is not RAM's, or
 * past its slot's end, is reset without being recorded; with no bitmap (no migration running)
 * entries are only reset. The slots of a firmware VM (RAM below 3 GiB split around the BIOS
 * shadow) and of RAM above 4 GiB land where fetch_logs put KVM_GET_DIRTY_LOG's bits. The
 * config's "dirty_ring": absent or true (where offered), false (off), a power of two from
 * 1024 to 65536, anything else refused naming the field.
 */
#include <stdlib.h>
#include <string.h>

#include "dirty_ring.h"
#include "firmware.h"
#include "st_test.h"
#include "vmm.h"

#define N 16

static void push(struct kvm_dirty_gfn *ring, uint32_t at, uint32_t slot, uint64_t offset)
{
    struct kvm_dirty_gfn *e = &ring[at % N];
    e->slot = slot;
    e->offset = offset;
    __atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
}

static int bit(const uint64_t *b, uint64_t i)
{
    return (int)(b[i / 64] >> (i % 64) & 1);
}

static int popcount(const uint64_t *b, size_t words)
{
    int n = 0;
    for (size_t w = 0; w < words; w++)
        n += __builtin_popcountll(b[w]);
    return n;
}

static void test_collect(void)
{
    struct kvm_dirty_gfn ring[N];
    uint64_t a[4] = {0}, b[2] = {0};
    /* Slot 7's page 0 is bit 3 of a, slot 9's is bit 0 of b. */
    vmm_dring_slot sl[] = {{.slot = 7, .pages = 200, .first = 3, .bits = a},
                           {.slot = 9, .pages = 100, .bits = b}};
    uint32_t fetch = 14;
    memset(ring, 0, sizeof ring);
    push(ring, 14, 7, 0);
    push(ring, 15, 7, 61); /* bit 64: the second word */
    push(ring, 16, 9, 99);
    push(ring, 17, 8, 5);   /* no such slot */
    push(ring, 18, 7, 200); /* past slot 7's end */
    push(ring, 20, 7, 1);   /* after a gap: not yet collectable */
    ST_ASSERT_INT_EQ(vmm_dring_collect(ring, N, &fetch, sl, 2), 5);
    ST_ASSERT_INT_EQ(fetch, 19);
    ST_ASSERT_INT_EQ(bit(a, 3), 1);
    ST_ASSERT_INT_EQ(bit(a, 64), 1);
    ST_ASSERT_INT_EQ(bit(b, 99), 1);
    ST_ASSERT_INT_EQ(popcount(a, 4), 2);
    ST_ASSERT_INT_EQ(popcount(b, 2), 1);
    for (uint32_t i = 14; i < 19; i++)
        ST_ASSERT_INT_EQ(ring[i % N].flags, KVM_DIRTY_GFN_F_RESET);
    ST_ASSERT_INT_EQ(ring[19 % N].flags, 0);
    ST_ASSERT_INT_EQ(ring[20 % N].flags, KVM_DIRTY_GFN_F_DIRTY);
    /* Nothing more until KVM pushes the entry at the fetch index. */
    ST_ASSERT_INT_EQ(vmm_dring_collect(ring, N, &fetch, sl, 2), 0);
    push(ring, 19, 9, 0);
    ST_ASSERT_INT_EQ(vmm_dring_collect(ring, N, &fetch, sl, 2), 2);
    ST_ASSERT_INT_EQ(fetch, 21);
    ST_ASSERT_INT_EQ(bit(b, 0), 1);
    ST_ASSERT_INT_EQ(bit(a, 4), 1);
}

static void test_full_ring(void)
{
    struct kvm_dirty_gfn ring[N];
    uint64_t a[1] = {0};
    vmm_dring_slot sl[] = {{.slot = 0, .pages = 64, .bits = a}};
    uint32_t fetch = 5;
    for (uint32_t i = 0; i < N; i++)
        push(ring, fetch + i, 0, i);
    ST_ASSERT_INT_EQ(vmm_dring_collect(ring, N, &fetch, sl, 1), N);
    ST_ASSERT_INT_EQ(fetch, 5 + N);
    ST_ASSERT_INT_EQ(a[0], (1ull << N) - 1);
    /* KVM_RESET_DIRTY_RINGS frees them (flags 0) and the guest fills the ring again. */
    for (uint32_t i = 0; i < N; i++)
        ring[i].flags = 0;
    for (uint32_t i = 0; i < N; i++)
        push(ring, fetch + i, 0, 32 + i);
    ST_ASSERT_INT_EQ(vmm_dring_collect(ring, N, &fetch, sl, 1), N);
    ST_ASSERT_INT_EQ(a[0], ((1ull << N) - 1) | ((1ull << N) - 1) << 32);
}

static void test_no_bitmap(void)
{
    struct kvm_dirty_gfn ring[N];
    vmm_dring_slot sl[] = {{.slot = 0, .pages = 64, .bits = NULL}};
    uint32_t fetch = 0;
    memset(ring, 0, sizeof ring);
    push(ring, 0, 0, 1);
    push(ring, 1, 0, 2);
    ST_ASSERT_INT_EQ(vmm_dring_collect(ring, N, &fetch, sl, 1), 2);
    ST_ASSERT_INT_EQ(ring[0].flags, KVM_DIRTY_GFN_F_RESET);
    ST_ASSERT_INT_EQ(ring[1].flags, KVM_DIRTY_GFN_F_RESET);
}

/* A firmware VM of 5 GiB (3 below the PCI hole, 2 above 4 GiB): three KVM slots over two gmem
 * regions. */
static void test_slots(void)
{
    char fw[] = "bios.bin";
    vmm_config cfg = {.firmware = fw};
    vmm_vm vm = {.cfg = &cfg, .ram_size = 5ull << 30};
    vm.ram = (uint8_t *)(uintptr_t)(1ull << 40); /* never dereferenced */
    vm.gmem.n = 2;
    vm.gmem.r[0] = (vmm_gmem_region){0, VMM_LOW_RAM_END, vm.ram};
    vm.gmem.r[1] = (vmm_gmem_region){VMM_HIGH_RAM_START, vm.ram_size - VMM_LOW_RAM_END,
                                     vm.ram + VMM_LOW_RAM_END};
    uint64_t w0 = VMM_LOW_RAM_END / 4096 / 64, w1 = (vm.ram_size - VMM_LOW_RAM_END) / 4096 / 64;
    uint64_t *low = calloc(w0, 8), *high = calloc(w1, 8);
    uint64_t *const bits[VMM_GMEM_MAX_REGIONS] = {low, high};
    vmm_dring_slot sl[VMM_RAM_SLOTS_MAX];
    ST_ASSERT_INT_EQ_FATAL(vmm_dring_slots(&vm, bits, sl), 3);
    ST_ASSERT_INT_EQ(sl[0].slot, VMM_SLOT_LOW);
    ST_ASSERT_INT_EQ(sl[0].first, 0);
    ST_ASSERT_INT_EQ(sl[0].pages, VMM_FW_SHADOW_START / 4096);
    ST_ASSERT_INT_EQ(sl[1].slot, VMM_SLOT_ABOVE_1M);
    ST_ASSERT_INT_EQ(sl[1].first, VMM_BIOS_END / 4096);
    ST_ASSERT_INT_EQ(sl[2].slot, VMM_SLOT_HIGH);
    ST_ASSERT_INT_EQ(sl[2].first, 0);
    ST_ASSERT_INT_EQ(sl[2].pages, 1ull << 19); /* 5 GiB - 3 GiB */
    ST_ASSERT_INT_EQ(sl[0].bits == low && sl[1].bits == low && sl[2].bits == high, 1);

    struct kvm_dirty_gfn ring[N];
    uint32_t fetch = 0;
    memset(ring, 0, sizeof ring);
    push(ring, 0, VMM_SLOT_ABOVE_1M, 0);
    push(ring, 1, VMM_SLOT_HIGH, 5);
    push(ring, 2, VMM_SLOT_LOW, VMM_FW_SHADOW_START / 4096); /* the shadow is not this slot's */
    push(ring, 3, VMM_SLOT_LOW, VMM_FW_SHADOW_START / 4096 - 1);
    ST_ASSERT_INT_EQ(vmm_dring_collect(ring, N, &fetch, sl, 3), 4);
    ST_ASSERT_INT_EQ(bit(low, VMM_BIOS_END / 4096), 1);
    ST_ASSERT_INT_EQ(bit(high, 5), 1);
    ST_ASSERT_INT_EQ(bit(low, VMM_FW_SHADOW_START / 4096 - 1), 1);
    ST_ASSERT_INT_EQ(popcount(low, w0), 2);
    ST_ASSERT_INT_EQ(popcount(high, w1), 1);
    free(low);
    free(high);
}

static int ring_of(const char *extra, char *err, size_t errlen)
{
    char json[256];
    vmm_config c;
    snprintf(json, sizeof json, "{\"kernel\": \"k\"%s}", extra);
    if (vmm_config_parse(&c, json, strlen(json), err, errlen))
        return -2;
    int r = c.dirty_ring;
    vmm_config_free(&c);
    return r;
}

static void test_config(void)
{
    char err[256];
    ST_ASSERT_INT_EQ(ring_of("", err, sizeof err), -1);
    ST_ASSERT_INT_EQ(ring_of(", \"dirty_ring\": true", err, sizeof err), -1);
    ST_ASSERT_INT_EQ(ring_of(", \"dirty_ring\": false", err, sizeof err), 0);
    ST_ASSERT_INT_EQ(ring_of(", \"dirty_ring\": 1024", err, sizeof err), 1024);
    ST_ASSERT_INT_EQ(ring_of(", \"dirty_ring\": 65536", err, sizeof err), 65536);
    static const char *const bad[] = {"512", "3000", "131072", "0", "-4096", "\"4096\"", "4096.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, ", \"dirty_ring\": %s", bad[i]);
        err[0] = 0;
        ST_ASSERT_INT_EQ(ring_of(extra, err, sizeof err), -2);
        ST_ASSERT_INT_EQ(strstr(err, "'dirty_ring'") != NULL, 1);
    }
}

static CU_TestInfo tests[] = {
    {"entries are collected from the fetch index across the ring's end, up to the first not "
     "pushed, into their slot's place; other slots' and out-of-range pages only reset",
     test_collect},
    {"a full ring is collected once around, and again once KVM reset and refilled it",
     test_full_ring},
    {"with no migration running, entries are reset and recorded nowhere", test_no_bitmap},
    {"a firmware VM's slots and RAM above 4 GiB land at their gmem region's pages", test_slots},
    {"the config's dirty_ring: absent, true, false, a power of two, anything else refused",
     test_config},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"dirty_ring", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
