/*
 * gmem.h - guest physical memory as the VMM sees it.
 *
 * Guest RAM is one anonymous mapping (kvm.c); the guest sees it as up to
 * two regions (below the PCI hole at 3 GiB and above 4 GiB). Every guest
 * address the VMM dereferences goes through vmm_gmem_ptr(), which returns a
 * host pointer only when [gpa, gpa+len) lies wholly inside one region; the
 * check is written so that no gpa/len pair can overflow it. This header has
 * no KVM dependency so the fuzzers can use it over a plain buffer.
 */
#ifndef VMM_GMEM_H
#define VMM_GMEM_H

#include <stddef.h>
#include <stdint.h>

#define VMM_GMEM_MAX_REGIONS 2

typedef struct vmm_gmem_region {
    uint64_t gpa;  /* guest physical start */
    uint64_t size; /* bytes */
    uint8_t *hva;  /* host address of gpa */
} vmm_gmem_region;

typedef struct vmm_gmem {
    vmm_gmem_region r[VMM_GMEM_MAX_REGIONS];
    int n;
    /* While a live migration runs (migrate.c): per region, one bit per 4 KiB page the VMM
     * itself wrote (KVM's dirty log sees only the guest's writes); NULL otherwise. Set
     * atomically. */
    uint64_t *dirty[VMM_GMEM_MAX_REGIONS];
} vmm_gmem;

/* Host pointer for [gpa, gpa+len) or NULL when any byte is outside RAM. */
static inline void *vmm_gmem_ptr(const vmm_gmem *m, uint64_t gpa, uint64_t len)
{
    for (int i = 0; i < m->n; i++) {
        const vmm_gmem_region *r = &m->r[i];
        if (gpa < r->gpa)
            continue;
        uint64_t off = gpa - r->gpa;
        if (off > r->size || len > r->size - off)
            continue;
        return r->hva + off;
    }
    return NULL;
}

/* Marks [p, p+len) (host addresses inside guest RAM) as written by the VMM, for a live
 * migration's next round; nothing when none runs or p is not guest RAM. Devices call it for
 * what they write into guest memory (virtq.c: the used ring and every device-writable buffer
 * of a chain it takes; e1000.c: its descriptors and receive buffers). */
static inline void vmm_gmem_mark(const vmm_gmem *m, const void *p, uint64_t len)
{
    const uint8_t *h = (const uint8_t *)p;
    for (int i = 0; m && len && i < m->n; i++) {
        const vmm_gmem_region *r = &m->r[i];
        uint64_t *d = __atomic_load_n(&m->dirty[i], __ATOMIC_ACQUIRE);
        if (!d || h < r->hva || (uint64_t)(h - r->hva) >= r->size)
            continue;
        uint64_t off = (uint64_t)(h - r->hva);
        uint64_t last = len > r->size - off ? r->size - 1 : off + len - 1;
        for (uint64_t pg = off >> 12; pg <= last >> 12; pg++)
            __atomic_fetch_or(&d[pg >> 6], 1ull << (pg & 63), __ATOMIC_RELAXED);
        return;
    }
}

#endif
