/*
 * snapfile.h - the `vmstate` file of a snapshot: its writer and its reader.
 *
 * A snapshot is a directory holding `memory` (guest RAM byte for byte, written sparse) and
 * `vmstate`, little-endian throughout:
 *
 *   header (136 bytes)
 *     "STVMMSNP"        magic
 *     u32 format        VMM_SNAP_FORMAT; a reader takes no other
 *     u32 flags         0
 *     u64 body length   the bytes after the header (a shorter file is "truncated")
 *     char sha256[64]   SHA-256 of the body, lowercase hex
 *     char writer[48]   the writing stratus-vmm's version, NUL-padded
 *   body: sections, each u32 tag, u32 length, payload, in this order:
 *     CONFIG   the VM config as JSON (what was given; at most 1 MiB)
 *     IRQCHIP  KVM_GET_IRQCHIP's PIC master, PIC slave, IOAPIC (3 x struct kvm_irqchip)
 *     PIT      struct kvm_pit_state2 (KVM_GET_PIT2)
 *     CLOCK    struct kvm_clock_data (KVM_GET_CLOCK)
 *     VCPU     one per vCPU, in id order: u32 id, u32 TSC kHz, kvm_regs, kvm_sregs,
 *              u8 1 + kvm_xsave's 4 KiB region or u8 0 + kvm_fpu, kvm_xcrs, kvm_lapic_state,
 *              kvm_vcpu_events, kvm_mp_state, kvm_debugregs, u32 n + n x (u32 index,
 *              u64 value) MSRs, u32 n + n x kvm_cpuid_entry2 (at most 1 MiB)
 *     DEVICES  vmm_dev_save_all's records (devreg.h; at most 64 MiB)
 *
 * The structs are KVM's x86-64 ABI, as the ioctls take them. The file is hostile input:
 * the reader checks the header, the length, the checksum, then every section's tag, order
 * and length (exact for fixed structs, bounded otherwise) and refuses anything else with
 * a message; it never returns a partly read snapshot. No KVM dependency (the unit test and
 * the fuzzer use it directly); what KVM accepts of the values is KVM's to check.
 */
#ifndef VMM_SNAPFILE_H
#define VMM_SNAPFILE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#define VMM_SNAP_MAGIC "STVMMSNP"
#define VMM_SNAP_FORMAT 1
#define VMM_SNAP_HEADER 136
#define VMM_SNAP_WRITER_MAX 48
#define VMM_SNAP_MAX_VCPUS 64
#define VMM_SNAP_MAX_MSRS 1024
#define VMM_SNAP_MAX_CPUID 256
#define VMM_SNAP_CONFIG_MAX (1u << 20)
#define VMM_SNAP_VCPU_MAX (1u << 20)
#define VMM_SNAP_DEVICES_MAX (64u << 20)

enum {
    VMM_SNAP_CONFIG = 1,
    VMM_SNAP_IRQCHIP,
    VMM_SNAP_PIT,
    VMM_SNAP_CLOCK,
    VMM_SNAP_VCPU,
    VMM_SNAP_DEVICES,
};

typedef struct vmm_snap_vcpu {
    uint32_t tsc_khz;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    int has_xsave; /* xsave holds the FPU state; else fpu does */
    /* struct kvm_xsave's 4 KiB region (newer headers end the struct in a flexible array,
     * which may not sit inside another struct). */
    uint32_t xsave[1024];
    struct kvm_fpu fpu;
    struct kvm_xcrs xcrs;
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    struct kvm_mp_state mp;
    struct kvm_debugregs dregs;
    uint32_t nmsrs;
    struct kvm_msr_entry *msrs;
    uint32_t ncpuid;
    struct kvm_cpuid_entry2 *cpuid;
} vmm_snap_vcpu;

typedef struct vmm_snapshot {
    char writer[VMM_SNAP_WRITER_MAX]; /* NUL-terminated */
    char *config;                     /* NUL-terminated JSON */
    size_t config_len;
    struct kvm_irqchip irqchip[3]; /* PIC master, PIC slave, IOAPIC */
    struct kvm_pit_state2 pit;
    struct kvm_clock_data clock;
    int nvcpus;
    vmm_snap_vcpu *vcpus;
    uint8_t *devs; /* the device records */
    size_t devs_len;
} vmm_snapshot;

/* This build's version string, what the writer records. */
extern const char vmm_version[];

/* The vmstate file of s as a malloc'd buffer; 0 or a negative errno with err filled. */
int vmm_snap_write(const vmm_snapshot *s, uint8_t **out, size_t *len, char *err, size_t errlen);
/* Reads a vmstate file into s (everything copied; vmm_snap_free releases it); 0, or
 * -EINVAL with err filled and s empty. */
int vmm_snap_read(vmm_snapshot *s, const uint8_t *buf, size_t len, char *err, size_t errlen);
void vmm_snap_free(vmm_snapshot *s);

#endif
