/*
 * dirty_ring.c - KVM's dirty ring: turning it on, mapping it, reaping it (see dirty_ring.h).
 *
 * "dirty_ring" absent or true: on with VMM_DRING_DEFAULT entries when the kernel offers it
 * (KVM_CAP_DIRTY_LOG_RING_ACQ_REL, else KVM_CAP_DIRTY_LOG_RING; fewer when its maximum is
 * smaller), else the VM keeps KVM_GET_DIRTY_LOG's bitmaps. false: off. A number: that many
 * entries, and a VM the kernel cannot give them to does not start. With the ring on,
 * KVM_GET_DIRTY_LOG is refused (ENXIO) on every slot: migrate.c reaps the rings instead.
 */
#include "dirty_ring.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stratus/log.h"
#include "vmm.h"

#define PAGE 4096ull

uint32_t vmm_dring_collect(struct kvm_dirty_gfn *ring, uint32_t entries, uint32_t *fetch,
                           const vmm_dring_slot *slots, int nslots)
{
    uint32_t n = 0;
    for (; n < entries; n++) {
        struct kvm_dirty_gfn *e = &ring[*fetch & (entries - 1)];
        /* KVM fills slot and offset, then sets DIRTY (a release): read them after it. */
        if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
            break;
        for (int k = 0; k < nslots; k++) {
            if (slots[k].slot != e->slot || e->offset >= slots[k].pages)
                continue;
            uint64_t bit = slots[k].first + e->offset;
            if (slots[k].bits)
                __atomic_fetch_or(&slots[k].bits[bit / 64], 1ull << (bit % 64), __ATOMIC_RELAXED);
            break;
        }
        __atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
        (*fetch)++;
    }
    return n;
}

int vmm_dring_slots(const vmm_vm *vm, uint64_t *const bits[], vmm_dring_slot *out)
{
    vmm_ram_slot sl[VMM_RAM_SLOTS_MAX];
    int n = vmm_ram_slots(vm, sl);
    for (int k = 0; k < n; k++) {
        int i = 0;
        while (i < vm->gmem.n - 1 && sl[k].hva >= vm->gmem.r[i + 1].hva)
            i++;
        out[k] = (vmm_dring_slot){.slot = sl[k].slot,
                                  .pages = sl[k].size / PAGE,
                                  .first = (uint64_t)(sl[k].hva - vm->gmem.r[i].hva) / PAGE,
                                  .bits = bits[i]};
    }
    return n;
}

int vmm_dring_enable(vmm_vm *vm)
{
    int want = vm->cfg->dirty_ring, cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
    if (!want)
        return 0;
    int max = ioctl(vm->fd, KVM_CHECK_EXTENSION, cap);
    if (max <= 0)
        max = ioctl(vm->fd, KVM_CHECK_EXTENSION, cap = KVM_CAP_DIRTY_LOG_RING);
    uint64_t entries = want > 0 ? (uint64_t)want : VMM_DRING_DEFAULT;
    uint64_t most = max > 0 ? (uint64_t)max / sizeof(struct kvm_dirty_gfn) : 0;
    if (want < 0 && most >= VMM_DRING_MIN && entries > most)
        entries = most; /* the kernel's maximum is a power of two too */
    int rc = -ENOTSUP;
    if (entries <= most) {
        struct kvm_enable_cap ec = {.cap = (uint32_t)cap,
                                    .args = {entries * sizeof(struct kvm_dirty_gfn)}};
        rc = ioctl(vm->fd, KVM_ENABLE_CAP, &ec) < 0 ? -errno : 0;
    }
    if (rc) {
        if (want > 0) {
            st_error("vmm.kvm", "dirty_ring %d: the kernel offers %llu entries at most (%s)", want,
                     (unsigned long long)most, strerror(-rc));
            return rc;
        }
        st_info("vmm.kvm", "no KVM dirty ring (%s): dirty logging uses KVM_GET_DIRTY_LOG",
                strerror(-rc));
        return 0;
    }
    vm->dring_entries = (uint32_t)entries;
    return 0;
}

int vmm_dring_map(vmm_vcpu *c)
{
    vmm_vm *vm = c->vm;
    if (!vm->dring_entries)
        return 0;
    void *p =
        mmap(NULL, (size_t)vm->dring_entries * sizeof(struct kvm_dirty_gfn), PROT_READ | PROT_WRITE,
             MAP_SHARED, c->fd, (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
    if (p == MAP_FAILED)
        return -errno;
    c->dring = p;
    c->dring_fetch = 0;
    return 0;
}

void vmm_dring_unmap(vmm_vcpu *c)
{
    vmm_vm *vm = c->vm;
    if (!c->dring)
        return;
    pthread_mutex_lock(&vm->dring_lock);
    munmap(c->dring, (size_t)vm->dring_entries * sizeof(struct kvm_dirty_gfn));
    c->dring = NULL;
    pthread_mutex_unlock(&vm->dring_lock);
}

int64_t vmm_dring_reap(vmm_vm *vm, vmm_vcpu *full)
{
    uint64_t *bits[VMM_GMEM_MAX_REGIONS] = {NULL};
    vmm_dring_slot sl[VMM_RAM_SLOTS_MAX];
    int64_t n = 0;
    if (!vm->dring_entries)
        return 0;
    pthread_mutex_lock(&vm->dring_lock);
    for (int i = 0; i < vm->gmem.n; i++)
        bits[i] = __atomic_load_n(&vm->dring_bits[i], __ATOMIC_ACQUIRE);
    int ns = vmm_dring_slots(vm, bits, sl);
    for (int i = 0; i < vm->nvcpus; i++) {
        vmm_vcpu *c = &vm->vcpus[i];
        if (c->dring && (!full || c == full))
            n += vmm_dring_collect(c->dring, vm->dring_entries, &c->dring_fetch, sl, ns);
    }
    if (n && ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
        n = -errno;
    pthread_mutex_unlock(&vm->dring_lock);
    return n;
}
