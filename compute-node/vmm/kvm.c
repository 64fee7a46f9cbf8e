/*
 * kvm.c - creating the VM: /dev/kvm, guest RAM, the in-kernel irqchip and PIT.
 *
 * Guest RAM is a single memfd mapped MAP_SHARED, so a later snapshot or
 * migration can hand the same pages to another process. Below 3 GiB it is
 * mapped 1:1 (slot 0); the rest, if any, appears at 4 GiB (slot 1), leaving
 * 3 GiB..4 GiB for PCI BARs, the IOAPIC and the local APICs. Pages are only
 * allocated when the guest touches them.
 */
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stratus/log.h"
#include "stratus/uuid.h"

static int set_slot(vmm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, uint8_t *hva)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)hva,
    };
    if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        return -errno;
    vm->gmem.r[vm->gmem.n++] = (vmm_gmem_region){gpa, size, hva};
    return 0;
}

static int setup_memory(vmm_vm *vm)
{
    int rc;
    vm->ram_size = vm->cfg->memory_mib << 20;
    vm->mem_fd = memfd_create("stratus-guest-ram", MFD_CLOEXEC);
    if (vm->mem_fd < 0)
        return -errno;
    if (ftruncate(vm->mem_fd, (off_t)vm->ram_size) < 0)
        return -errno;
    vm->ram =
        mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, vm->mem_fd, 0);
    if (vm->ram == MAP_FAILED) {
        vm->ram = NULL;
        return -errno;
    }
    madvise(vm->ram, vm->ram_size, MADV_DONTDUMP);
    uint64_t low = vm->ram_size < VMM_LOW_RAM_END ? vm->ram_size : VMM_LOW_RAM_END;
    if ((rc = set_slot(vm, 0, 0, low, vm->ram)))
        return rc;
    if (vm->ram_size > low &&
        (rc = set_slot(vm, 1, VMM_HIGH_RAM_START, vm->ram_size - low, vm->ram + low)))
        return rc;
    return 0;
}

int vmm_vm_clear_ram(vmm_vm *vm)
{
    if (fallocate(vm->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)vm->ram_size) <
        0) {
        memset(vm->ram, 0, vm->ram_size);
    }
    return 0;
}

void vmm_vm_init(vmm_vm *vm)
{
    memset(vm, 0, sizeof *vm);
    vm->kvm_fd = vm->fd = vm->mem_fd = -1;
    pthread_mutex_init(&vm->lock, NULL);
    pthread_cond_init(&vm->cond, NULL);
    pthread_mutex_init(&vm->irq_lock, NULL);
    vmm_bus_init(&vm->pio);
    vmm_bus_init(&vm->mmio);
    st_uuid_v4(vm->boot_id);
    clock_gettime(CLOCK_MONOTONIC, &vm->started);
}

int vmm_vm_create(vmm_vm *vm, const vmm_config *cfg)
{
    int rc;
    vm->cfg = cfg;
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        rc = -errno;
        st_error("vmm.kvm", "open /dev/kvm: %s", strerror(errno));
        goto err;
    }
    if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        rc = -ENOTSUP;
        st_error("vmm.kvm", "unexpected KVM API version");
        goto err;
    }
    static const int caps[] = {KVM_CAP_IRQCHIP,       KVM_CAP_IRQFD,
                               KVM_CAP_IOEVENTFD,     KVM_CAP_IRQ_ROUTING,
                               KVM_CAP_USER_MEMORY,   KVM_CAP_IOEVENTFD_ANY_LENGTH,
                               KVM_CAP_IMMEDIATE_EXIT};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i]) <= 0) {
            rc = -ENOTSUP;
            st_error("vmm.kvm", "KVM lacks capability %d", caps[i]);
            goto err;
        }
    }
    do {
        vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    } while (vm->fd < 0 && errno == EINTR);
    if (vm->fd < 0) {
        rc = -errno;
        st_error("vmm.kvm", "KVM_CREATE_VM: %s", strerror(errno));
        goto err;
    }
    /* Needed on Intel (real-mode emulation); harmless elsewhere. */
    ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
    uint64_t idmap = 0xfffbc000ull;
    ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
    if ((rc = setup_memory(vm))) {
        st_error("vmm.kvm", "guest memory (%llu MiB): %s", (unsigned long long)cfg->memory_mib,
                 strerror(-rc));
        goto err;
    }
    if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        rc = -errno;
        st_error("vmm.kvm", "KVM_CREATE_IRQCHIP: %s", strerror(errno));
        goto err;
    }
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0) {
        rc = -errno;
        st_error("vmm.kvm", "KVM_CREATE_PIT2: %s", strerror(errno));
        goto err;
    }
    if ((rc = vmm_irq_init(vm)))
        goto err;
    int khz = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0
                  ? ioctl(vm->fd, KVM_GET_TSC_KHZ, 0)
                  : -1;
    vm->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    return 0;
err:
    vmm_vm_destroy(vm);
    return rc;
}

void vmm_vm_destroy(vmm_vm *vm)
{
    if (vm->ram)
        munmap(vm->ram, vm->ram_size);
    vm->ram = NULL;
    if (vm->mem_fd >= 0)
        close(vm->mem_fd);
    if (vm->fd >= 0)
        close(vm->fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    vm->mem_fd = vm->fd = vm->kvm_fd = -1;
    free(vm->routing);
    vm->routing = NULL;
    free(vm->cpuid);
    vm->cpuid = NULL;
}
