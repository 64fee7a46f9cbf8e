/*
 * kvm.c - creating the VM: /dev/kvm, guest RAM, the in-kernel irqchip and PIT.
 *
 * Guest RAM is one private anonymous mapping advised MADV_HUGEPAGE, so the
 * host backs it with transparent huge pages where it can (Debian's default
 * THP mode, "madvise", honours the advice) and KVM maps it with 2 MiB pages:
 * one fault where 4 KiB pages take 512, in the VMM (a disk read into fresh
 * guest memory) and in the guest's nested page tables alike. It used to be a
 * memfd mapped MAP_SHARED, which is shmem, and shmem gets no huge pages
 * unless the host opts in (shmem_enabled, "never" by default): Linux's
 * reads of a disk into fresh page cache ran 4-6x slower than under QEMU
 * (whose RAM is anonymous and THP-advised), and at QEMU's speed once
 * switched. MADV_DONTFORK: a child must never share it copy-on-write.
 *
 * A VM that may be live-upgraded (upgrade.c) needs RAM another process can map: then it
 * is a memfd mapped MAP_SHARED over the same aligned range, still advised MADV_HUGEPAGE,
 * which shmem honours when the host's shmem_enabled is "advise", "always", "within_size"
 * or "force". "memory_shared" in the config decides; absent, RAM is shared exactly when
 * the host's shmem THP mode gives huge pages ("never" and "deny" do not), so the default
 * never trades the huge pages away.
 * Below 3 GiB it is mapped 1:1 (slot 0); the rest, if any, appears at 4 GiB
 * (slot 1), leaving 3 GiB..4 GiB for PCI BARs, the IOAPIC and the local
 * APICs. For a firmware boot, slot 0 ends at 0xE0000 and slot 2 starts at
 * 1 MiB: firmware.c maps the BIOS shadow between them and the ROM below
 * 4 GiB. Pages are only allocated when the guest touches them.
 */
#include "vmm.h"

#include "dirty_ring.h"
#include "firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/log.h"
#include "stratus/uuid.h"

int vmm_kvm_slot(vmm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)hva,
    };
    return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int vmm_ram_shared(const vmm_config *cfg)
{
    if (cfg->memory_shared >= 0)
        return cfg->memory_shared;
    char buf[128] = "";
    int fd = open("/sys/kernel/mm/transparent_hugepage/shmem_enabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    /* "always within_size [advise] never deny force": the bracketed one is in force. */
    return strstr(buf, "[always]") || strstr(buf, "[within_size]") || strstr(buf, "[advise]") ||
           strstr(buf, "[force]");
}

/* Shared RAM: a memfd (created here, or adopted: a live upgrade's) mapped over vm->ram. */
static int map_shared_ram(vmm_vm *vm)
{
    if (vm->ram_memfd < 0) {
        if (!vmm_ram_shared(vm->cfg))
            return 0;
        vm->ram_memfd = memfd_create("stratus-vmm-ram", MFD_CLOEXEC);
        if (vm->ram_memfd < 0)
            return -errno;
        if (ftruncate(vm->ram_memfd, (off_t)vm->ram_size) < 0)
            return -errno;
    } else {
        struct stat st;
        if (fstat(vm->ram_memfd, &st) < 0)
            return -errno;
        if ((uint64_t)st.st_size != vm->ram_size)
            return -EINVAL; /* another VM's RAM */
    }
    if (mmap(vm->ram, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
             vm->ram_memfd, 0) == MAP_FAILED)
        return -errno;
    return 0;
}

uint8_t *vmm_ram_alloc(uint64_t size)
{
    /* 2 MiB-aligned, as KVM maps a huge page only where guest and host addresses agree
     * modulo 2 MiB (the kernel aligns a large anonymous mapping itself only since 6.7). */
    size_t len = size + VMM_HUGE_PAGE;
    uint8_t *p =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)p + VMM_HUGE_PAGE - 1) & ~(uintptr_t)(VMM_HUGE_PAGE - 1);
    uintptr_t end = start + size;
    if (start > (uintptr_t)p)
        munmap(p, start - (uintptr_t)p);
    if ((uintptr_t)p + len > end)
        munmap((void *)end, (uintptr_t)p + len - end);
    madvise((void *)start, size, MADV_DONTDUMP);
    madvise((void *)start, size, MADV_DONTFORK);
    madvise((void *)start, size, MADV_HUGEPAGE); /* EINVAL without THP: 4 KiB pages then */
    return (uint8_t *)start;
}

static int setup_memory(vmm_vm *vm)
{
    int rc;
    vm->ram_size = vm->cfg->memory_mib << 20;
    if (vm->ram_adopt) {
        vm->ram = vm->ram_adopt; /* private, and what it holds is the guest's */
        vm->ram_borrowed = 1;
    } else {
        if (!(vm->ram = vmm_ram_alloc(vm->ram_size)))
            return -errno;
        if (vm->ram_fd < 0 && (rc = map_shared_ram(vm)))
            return rc;
    }
    /* A restore maps the snapshot's memory file over it, privately: pages are read as the
     * guest touches them, and its writes stay in this process. */
    if (vm->ram_fd >= 0 &&
        mmap(vm->ram, vm->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
             vm->ram_fd, 0) == MAP_FAILED)
        return -errno;
    madvise(vm->ram, vm->ram_size, MADV_DONTDUMP);
    madvise(vm->ram, vm->ram_size, MADV_DONTFORK);
    madvise(vm->ram, vm->ram_size, MADV_HUGEPAGE); /* EINVAL without THP: 4 KiB pages then */
    uint64_t low = vm->ram_size < VMM_LOW_RAM_END ? vm->ram_size : VMM_LOW_RAM_END;
    vmm_ram_slot sl[VMM_RAM_SLOTS_MAX];
    for (int i = 0, n = vmm_ram_slots(vm, sl); i < n; i++)
        if ((rc = vmm_kvm_slot(vm, sl[i].slot, sl[i].gpa, sl[i].size, sl[i].hva, 0)))
            return rc;
    /* The VMM's view of RAM below 3 GiB is one region, even where KVM's slots are split. */
    vm->gmem.r[vm->gmem.n++] = (vmm_gmem_region){0, low, vm->ram};
    if (vm->ram_size > low)
        vm->gmem.r[vm->gmem.n++] =
            (vmm_gmem_region){VMM_HIGH_RAM_START, vm->ram_size - low, vm->ram + low};
    return 0;
}

int vmm_ram_slots(const vmm_vm *vm, vmm_ram_slot out[VMM_RAM_SLOTS_MAX])
{
    int n = 0;
    uint64_t low = vm->ram_size < VMM_LOW_RAM_END ? vm->ram_size : VMM_LOW_RAM_END;
    if (vm->cfg->firmware) {
        /* KVM sees RAM around the BIOS shadow at 0xE0000-0xFFFFF (firmware.c maps it). */
        out[n++] = (vmm_ram_slot){VMM_SLOT_LOW, 0, VMM_FW_SHADOW_START, vm->ram};
        out[n++] = (vmm_ram_slot){VMM_SLOT_ABOVE_1M, VMM_BIOS_END, low - VMM_BIOS_END,
                                  vm->ram + VMM_BIOS_END};
    } else
        out[n++] = (vmm_ram_slot){VMM_SLOT_LOW, 0, low, vm->ram};
    if (vm->ram_size > low)
        out[n++] =
            (vmm_ram_slot){VMM_SLOT_HIGH, VMM_HIGH_RAM_START, vm->ram_size - low, vm->ram + low};
    return n;
}

int vmm_vm_clear_ram(vmm_vm *vm)
{
    /* A restored VM's RAM is the snapshot's file mapped privately: dropped pages would read
     * the file again, so a reboot gets fresh anonymous memory in the same place (KVM's
     * mappings follow through its MMU notifier). */
    if (vm->ram_fd >= 0) {
        if (mmap(vm->ram, vm->ram_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
            memset(vm->ram, 0, vm->ram_size);
            return 0;
        }
        vm->ram_fd = -1; /* only a mark: main closes the file */
        madvise(vm->ram, vm->ram_size, MADV_DONTDUMP);
        madvise(vm->ram, vm->ram_size, MADV_DONTFORK);
        madvise(vm->ram, vm->ram_size, MADV_HUGEPAGE);
        return 0;
    }
    /* A memfd's pages are freed by punching them out: they read as zero again (KVM's
     * mappings follow, as for MADV_DONTNEED). */
    if (vm->ram_memfd >= 0) {
        if (fallocate(vm->ram_memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                      (off_t)vm->ram_size) < 0)
            memset(vm->ram, 0, vm->ram_size);
        return 0;
    }
    /* Private anonymous memory reads as zero once dropped (KVM's mappings follow). */
    if (madvise(vm->ram, vm->ram_size, MADV_DONTNEED) < 0) {
        memset(vm->ram, 0, vm->ram_size);
    }
    return 0;
}

void vmm_vm_init(vmm_vm *vm)
{
    memset(vm, 0, sizeof *vm);
    vm->kvm_fd = vm->fd = vm->ram_fd = vm->ram_memfd = -1;
    pthread_mutex_init(&vm->lock, NULL);
    pthread_cond_init(&vm->cond, NULL);
    pthread_mutex_init(&vm->irq_lock, NULL);
    pthread_mutex_init(&vm->dring_lock, NULL);
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
    /* The dirty ring only exists if turned on before the first vCPU (dirty_ring.c). */
    if ((rc = vmm_dring_enable(vm)))
        goto err;
    /* Needed on Intel (real-mode emulation); harmless elsewhere. */
    ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_KVM_IDMAP_ADDR + 0x1000);
    uint64_t idmap = VMM_KVM_IDMAP_ADDR;
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
    if (vm->ram && !vm->ram_borrowed)
        munmap(vm->ram, vm->ram_size);
    vm->ram = NULL;
    if (vm->ram_memfd >= 0)
        close(vm->ram_memfd);
    vm->ram_memfd = -1;
    if (vm->fd >= 0)
        close(vm->fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    vm->fd = vm->kvm_fd = -1;
    free(vm->routing);
    vm->routing = NULL;
    free(vm->cpuid);
    vm->cpuid = NULL;
}
