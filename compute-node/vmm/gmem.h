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

#endif
