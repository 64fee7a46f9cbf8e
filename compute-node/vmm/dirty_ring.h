/*
 * dirty_ring.h - KVM's dirty ring (KVM_CAP_DIRTY_LOG_RING): per vCPU, the pages the guest
 * wrote in slots with dirty logging on, for a live migration's rounds (migrate.c).
 *
 * Enabled on the VM before any vCPU exists (kvm.c), with "dirty_ring" entries (config.h);
 * each vCPU maps its ring (vcpu.c). The reaper reads a ring from its fetch index: every
 * entry flagged DIRTY names a slot and a page in it, which is ORed into the bitmap of its
 * gmem region (vm->dring_bits, NULL while no migration runs: the entry is only dropped), then
 * flagged RESET; KVM_RESET_DIRTY_RINGS then write-protects those pages again and frees the
 * entries. A vCPU whose ring is full exits with KVM_EXIT_DIRTY_RING_FULL and reaps its own
 * ring before entering again, as QEMU's vCPU threads do; the migration reaps every ring once
 * a round. One lock (vm->dring_lock) serialises the reapers, so a fetch index has one writer
 * and an entry is reset only once it was collected.
 */
#ifndef VMM_DIRTY_RING_H
#define VMM_DIRTY_RING_H

#include <linux/kvm.h>
#include <stdint.h>

#define VMM_DRING_DEFAULT 4096 /* entries, as QEMU's dirty-ring-size */
#define VMM_DRING_MIN 1024     /* x86 reserves 64 + the PML buffer's 512 entries */
#define VMM_DRING_MAX 65536    /* the kernel's KVM_DIRTY_RING_MAX_ENTRIES */

/* Where a KVM slot's pages go: bit first + page of bits (NULL: collected, not recorded). */
typedef struct vmm_dring_slot {
    uint32_t slot;
    uint64_t pages, first;
    uint64_t *bits;
} vmm_dring_slot;

/* Collects one ring of `entries` (a power of two) from *fetch on, up to the first entry not
 * flagged DIRTY: each page named by a slot of `slots` is set in its bits (atomically: a
 * vCPU's reap and the migration's may fill one bitmap), each entry is flagged RESET and
 * *fetch advances. Returns the number of entries collected. No KVM needed. */
uint32_t vmm_dring_collect(struct kvm_dirty_gfn *ring, uint32_t entries, uint32_t *fetch,
                           const vmm_dring_slot *slots, int nslots);

struct vmm_vm;
struct vmm_vcpu;
struct vmm_config;
/* The RAM slots (vmm_ram_slots) with the bitmaps of their regions in bits; their number. */
int vmm_dring_slots(const struct vmm_vm *vm, uint64_t *const bits[], vmm_dring_slot *out);
/* Before any vCPU: turns the ring on as the config asks. 0 (vm->dring_entries says whether
 * it is on) or a negative errno when an explicit size cannot be had. */
int vmm_dring_enable(struct vmm_vm *vm);
/* Maps vCPU c's ring (nothing when the ring is off); 0 or a negative errno. */
int vmm_dring_map(struct vmm_vcpu *c);
void vmm_dring_unmap(struct vmm_vcpu *c);
/* Reaps one vCPU's ring (full) or every vCPU's (NULL) into vm->dring_bits, then
 * KVM_RESET_DIRTY_RINGS; the entries collected or a negative errno. */
int64_t vmm_dring_reap(struct vmm_vm *vm, struct vmm_vcpu *full);

#endif
