/*
 * vmm.h - the virtual machine: KVM handles, guest RAM, vCPUs, buses and the
 * run state shared by every thread of stratus-vmm.
 *
 * Threads. One thread per vCPU runs KVM_RUN and handles port I/O and MMIO
 * exits (serial, PCI configuration, virtio registers). The main thread runs
 * the event loop (libevent): queue notifications (ioeventfd), tap traffic and
 * the control API. Devices guard their state with their own mutex.
 *
 * Run state. RUNNING -> PAUSED -> RUNNING, and anything -> STOPPING once:
 * vmm_vm_stop() records the exit code, kicks every vCPU out of KVM_RUN
 * (immediate_exit + SIGUSR1) and breaks the event loop; main joins and exits.
 */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "bus.h"
#include "config.h"
#include "devreg.h"
#include "gmem.h"

struct event_base;
struct vmm_serial;
struct vmm_i8042;
struct vmm_pci;
struct vmm_virtio;
struct vmm_e1000;
struct vmm_firmware;
struct vmm_legacy;

/* Guest physical layout. */
#define VMM_LOW_RAM_END 0xC0000000ull /* RAM above this goes to 4 GiB and up */
#define VMM_HIGH_RAM_START 0x100000000ull
#define VMM_PCI_MMIO_START 0xC0000000ull /* BARs we assign */
#define VMM_PCI_MMIO_END 0xFEC00000ull
#define VMM_GDT_ADDR 0x500ull
#define VMM_START_INFO_ADDR 0x6000ull /* PVH hvm_start_info + memmap */
#define VMM_ZERO_PAGE_ADDR 0x7000ull  /* Linux boot_params */
#define VMM_CMDLINE_ADDR 0x20000ull
#define VMM_CMDLINE_MAX 0x1000ull
#define VMM_PML4_ADDR 0x9000ull /* 4 GiB identity map for 64-bit entry */
#define VMM_EBDA_START 0x9fc00ull
#define VMM_ACPI_ADDR 0xE0000ull /* RSDP and tables */
#define VMM_MPTABLE_ADDR 0xF0000ull
#define VMM_RESET_VECTOR_ADDR 0xFFFF0ull /* F000:FFF0 */
#define VMM_BIOS_END 0x100000ull
#define VMM_KVM_IDMAP_ADDR 0xFFFBC000ull /* KVM's identity-map page, then its 3-page TSS */
#define VMM_IOAPIC_ADDR 0xFEC00000ull
#define VMM_LAPIC_ADDR 0xFEE00000ull
/* ACPI sleep and reset registers (legacy.c, named by the FADT in acpi.c), then the PM1a event
 * and control blocks that the firmware boot's fixed-hardware FADT names. */
#define VMM_ACPI_PM_PORT 0x600 /* 10 ports: sleep control, sleep status, reset, -, PM1 */
#define VMM_ACPI_PM_PORTS 10
#define VMM_ACPI_SLEEP_CTL (VMM_ACPI_PM_PORT + 0)
#define VMM_ACPI_SLEEP_STS (VMM_ACPI_PM_PORT + 1)
#define VMM_ACPI_RESET (VMM_ACPI_PM_PORT + 2)
#define VMM_ACPI_PM1_EVT (VMM_ACPI_PM_PORT + 4) /* PM1a status (16 bits), enable (16 bits) */
#define VMM_ACPI_PM1_CNT (VMM_ACPI_PM_PORT + 8) /* PM1a control (16 bits) */
#define VMM_ACPI_SCI_IRQ 9
#define VMM_ACPI_RESET_VALUE 0x01
#define VMM_ACPI_S5_TYP 5   /* SLP_TYP of \_S5 */
#define VMM_ACPI_GED_GSI 16 /* the power button's event (IOAPIC pin, no PIC behind it) */
/* PCI INTx: slot s's INTA# is GSI 20 + (s & 3), level, active low (the DSDT's _PRT). */
#define VMM_PCI_INTX_GSI(slot) (20u + ((unsigned)(slot)&3u))

enum vmm_state { VMM_RUNNING = 0, VMM_PAUSED, VMM_STOPPING };
enum vmm_boot_mode { VMM_BOOT_PVH = 1, VMM_BOOT_LINUX64, VMM_BOOT_FIRMWARE };

/* Exit reasons counted per vCPU; the names are the JSON keys of "exits". */
enum {
    VMM_EXIT_IO,
    VMM_EXIT_MMIO,
    VMM_EXIT_HLT,
    VMM_EXIT_SHUTDOWN,
    VMM_EXIT_INTR,
    VMM_EXIT_SYSTEM_EVENT,
    VMM_EXIT_FAIL_ENTRY,
    VMM_EXIT_INTERNAL_ERROR,
    VMM_EXIT_OTHER,
    VMM_EXIT_NR
};
extern const char *const vmm_exit_names[VMM_EXIT_NR];

typedef struct vmm_vcpu {
    struct vmm_vm *vm;
    int id;
    int fd;
    struct kvm_run *run;
    size_t run_size;
    pthread_t thread;
    int started;
    uint64_t exits[VMM_EXIT_NR]; /* written by the vCPU thread only (relaxed atomics) */
    uint64_t cpu_ns_final;       /* CPU time recorded when the thread ended */
    int done;
    unsigned reset_gen;            /* last reset this vCPU applied */
    unsigned throttle_gen;         /* last auto-converge period this vCPU slept in */
    struct kvm_lapic_state lapic0; /* the LAPIC as first set up: what a reset restores */
    int have_lapic0;
    struct kvm_dirty_gfn *dring; /* its dirty ring (dirty_ring.c), or NULL */
    uint32_t dring_fetch;        /* the next entry to collect (under vm->dring_lock) */
} vmm_vcpu;

typedef struct vmm_boot {
    int mode;
    uint64_t entry; /* rip */
    uint64_t arg;   /* %ebx (PVH start_info) or %rsi (Linux zero page) */
                    /* firmware: real mode at CS base 0xFFFF0000, IP = entry (0xFFF0) */
} vmm_boot;

#define VMM_HUGE_PAGE (2ull << 20) /* guest RAM is aligned to it (kvm.c) */

typedef struct vmm_vm {
    const vmm_config *cfg;
    int kvm_fd, fd;
    uint8_t *ram;
    uint64_t ram_size;
    vmm_gmem gmem;
    uint32_t tsc_khz;
    vmm_boot boot;
    struct kvm_cpuid2 *cpuid;

    vmm_bus pio, mmio;
    int nvcpus;
    vmm_vcpu *vcpus;
    struct event_base *base;
    struct event *stop_ev; /* activated by vmm_vm_stop(): breaks the loop, even before it runs */

    pthread_mutex_t lock; /* state, npaused, exit_code */
    pthread_cond_t cond;
    int state; /* enum vmm_state; read racily by vCPUs, written under lock */
    int npaused;
    int exit_code;
    int powered_off; /* the guest powered off (ACPI S5) */
    unsigned reset_gen;

    pthread_mutex_t irq_lock; /* GSI routing table */
    struct kvm_irq_routing *routing;
    uint32_t next_gsi;

    vmm_devreg devreg; /* every device, in build order: reset, save, restore (devreg.h) */
    struct vmm_serial *serial;
    struct vmm_i8042 *i8042; /* legacy.c */
    struct vmm_legacy *legacy;
    struct vmm_pci *pci;
    struct vmm_firmware *fw; /* firmware boot only (firmware.c) */
    struct vmm_virtio *devs[VMM_MAX_DISKS + VMM_MAX_NICS + 1];
    int ndevs;
    struct vmm_e1000 *e1000[VMM_MAX_NICS]; /* NICs of model e1000 (not virtio) */
    int ne1000;

    char boot_id[37];
    struct timespec started;
    int running;  /* set once vmm_start() succeeded (read by the control API) */
    int ram_fd;   /* restore: guest RAM is this file (a snapshot's memory), mapped private */
    int restored; /* built from a snapshot: the vCPUs start as restored, not set up for a boot */
    int migrated; /* a live migration completed: the target runs the guest, never this process */
    /* Auto-converge (migrate.c): each vCPU sleeps throttle_ns once per throttle_gen. */
    unsigned throttle_gen;
    uint64_t throttle_ns;
    int built_early; /* a migration's target built while the pages come (migrate.c): the
                      * disks another process may hold or change until STATE (writable qcow2,
                      * RBD) and the serial console's input wait for it, not opened here */
    int ram_memfd; /* shared RAM: guest RAM is this memfd mapped MAP_SHARED (owned; -1: anonymous);
                    * set before vmm_vm_create to adopt one (a live upgrade's) */
    uint8_t *ram_adopt; /* set before vmm_vm_create: guest RAM is this private mapping from
                         * vmm_ram_alloc (a migration's target's, written into as the pages
                         * come), borrowed: its owner unmaps it, never the VM */
    int ram_borrowed;   /* vm->ram is ram_adopt's */
    /* KVM's dirty ring (dirty_ring.c): entries per vCPU (0: off, KVM_GET_DIRTY_LOG instead);
     * the reapers' lock; per gmem region, the bitmap reaped pages go to while a live
     * migration runs (migrate.c; NULL otherwise, set atomically); KVM_EXIT_DIRTY_RING_FULL
     * exits so far. */
    uint32_t dring_entries;
    pthread_mutex_t dring_lock;
    uint64_t *dring_bits[VMM_GMEM_MAX_REGIONS];
    uint64_t dring_full;
} vmm_vm;

/* kvm.c */
/* Locks, buses, boot_id: everything that exists before a VM is configured. */
void vmm_vm_init(vmm_vm *vm);
/* /dev/kvm, the VM, guest RAM, irqchip and PIT for cfg (after vmm_vm_init). */
int vmm_vm_create(vmm_vm *vm, const vmm_config *cfg);
void vmm_vm_destroy(vmm_vm *vm);
/* Sets KVM memory slot `slot` (size 0 deletes it); guest RAM's view (gmem) is not changed. */
int vmm_kvm_slot(vmm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva, uint32_t flags);
/* The config's JSON as a snapshot or a migration's HELLO carries it: as given, with a firmware
 * VM's "firmware_sha256" set to its image's (firmware.c). */
const char *vmm_config_json(const vmm_vm *vm);
/* The KVM memory slots over guest RAM that the guest may write, as setup_memory makes them:
 * below 3 GiB and above 4 GiB, and for a firmware boot RAM below 3 GiB split around the BIOS
 * shadow (firmware.c's shadow chunks, which PAM writes remap at any time, are not in it). */
#define VMM_RAM_SLOTS_MAX 3
typedef struct vmm_ram_slot {
    uint32_t slot;
    uint64_t gpa, size;
    uint8_t *hva;
} vmm_ram_slot;
int vmm_ram_slots(const vmm_vm *vm, vmm_ram_slot out[VMM_RAM_SLOTS_MAX]);
/* Whether a VM of cfg gets shared (memfd) RAM: its "memory_shared", else the host's shmem THP
 * mode (kvm.c). */
int vmm_ram_shared(const vmm_config *cfg);
/* Private guest RAM of size bytes, as a VM gets it: anonymous, 2 MiB-aligned, advised
 * MADV_HUGEPAGE; NULL (errno) on failure. */
uint8_t *vmm_ram_alloc(uint64_t size);
/* Zeroes guest RAM (without touching it) for a reboot. */
int vmm_vm_clear_ram(vmm_vm *vm);
/* Host pointer to guest physical memory or NULL (see gmem.h). */
static inline void *vmm_gpa(vmm_vm *vm, uint64_t gpa, uint64_t len)
{
    return vmm_gmem_ptr(&vm->gmem, gpa, len);
}

/* irq.c */
int vmm_irq_init(vmm_vm *vm);
/* A fresh GSI for an MSI route. */
uint32_t vmm_irq_alloc_gsi(vmm_vm *vm);
/* Points gsi at an MSI address/data pair and commits the table to KVM. */
int vmm_irq_set_msi(vmm_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data);
/* Binds an eventfd to gsi (KVM_IRQFD). */
int vmm_irq_bind_irqfd(vmm_vm *vm, int efd, uint32_t gsi);
/* Level of an ISA interrupt line (IOAPIC/PIC pin). */
void vmm_irq_line(vmm_vm *vm, uint32_t irq, int level);
/* Registers (or removes) an MMIO ioeventfd of any length at addr. */
int vmm_ioeventfd(vmm_vm *vm, uint64_t addr, int efd, int deassign);

/* vcpu.c */
int vmm_vcpus_create(vmm_vm *vm);
int vmm_vcpus_start(vmm_vm *vm);
void vmm_vcpus_join(vmm_vm *vm);
void vmm_vcpus_free(vmm_vm *vm);
/* CPU time consumed so far by a vCPU thread, in ns. */
uint64_t vmm_vcpu_cpu_ns(vmm_vcpu *c);

/* run state (state.c) */
void vmm_vm_stop(vmm_vm *vm, int exit_code);
/* Creates the event that lets any thread break the event loop. */
int vmm_vm_stop_event_init(vmm_vm *vm);
int vmm_vm_pause(vmm_vm *vm);
int vmm_vm_resume(vmm_vm *vm);
/* 0 once a paused VM's vCPUs are all parked; -EAGAIN when not paused, -ETIMEDOUT. */
int vmm_vm_wait_parked(vmm_vm *vm);
/* Reboots the guest: pause, clear RAM, reload, reset devices (the registry's hooks, in
 * order) and vCPUs. */
int vmm_vm_reset(vmm_vm *vm);
/* Called by i8042 / triple fault: restart or stop per config. */
void vmm_vm_guest_reset(vmm_vm *vm);
/* Presses the ACPI power button: an edge on the GED's GSI (the guest decides). */
void vmm_vm_power_button(vmm_vm *vm);
/* The guest powered itself off (ACPI S5): stop with exit status 0. */
void vmm_vm_guest_poweroff(vmm_vm *vm);
const char *vmm_state_name(int state);
void vmm_vcpu_kick(vmm_vcpu *c);

/* start.c: builds the VM of cfg and starts its vCPUs; 0, or -1 with err filled. */
int vmm_start(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen);
/* Its devices alone, by the init list (guest RAM, vm->base and, with KVM, the VM exist;
 * the unit tests call it on a vmm_vm without KVM); 0 or a negative errno with err filled. */
int vmm_start_devices(vmm_vm *vm, const vmm_config *cfg, char *err, size_t errlen);

/* start.c: builds the VM of a snapshot's config (guest RAM mapped from mem_fd), puts the
 * saved state back (snapshot.c) and starts its vCPUs; 0, or -1 with err filled. */
struct vmm_snapshot;
int vmm_start_restored(vmm_vm *vm, const vmm_config *cfg, const struct vmm_snapshot *s, int mem_fd,
                       char *err, size_t errlen);
/* Its two halves, which a migration's target runs apart (migrate.c): the build (KVM and RAM,
 * the devices, the firmware, the vCPUs; nothing runs and guest RAM is not read) while the
 * pages come, then the state put back and the vCPUs started once STATE came. */
int vmm_build_restored(vmm_vm *vm, const vmm_config *cfg, int mem_fd, char *err, size_t errlen);
int vmm_run_restored(vmm_vm *vm, const vmm_config *cfg, const struct vmm_snapshot *s, char *err,
                     size_t errlen);

/* boot.c: loads the kernel named in the config (PVH ELF, vmlinux, bzImage). */
int vmm_boot_load(vmm_vm *vm);

#endif
