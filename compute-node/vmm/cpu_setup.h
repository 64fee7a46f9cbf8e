/* cpu_setup.h - initial vCPU state for each boot mode (see cpu_setup.c). */
#ifndef VMM_CPU_SETUP_H
#define VMM_CPU_SETUP_H

#include "vmm.h"

/* "cx16" -> its bit in vmm_config.cpuid_disable, 0 when unknown. */
uint32_t vmm_cpuid_feature_bit(const char *name);
/* Clears the features whose bits are set in disable. */
void vmm_cpuid_mask(struct kvm_cpuid2 *c, uint32_t disable);
/* Reads KVM's supported CPUID once per VM into vm->cpuid. */
int vmm_cpuid_init(vmm_vm *vm);
/* CPUID, MSRs, LAPIC and boot registers of a freshly created vCPU. */
int vmm_vcpu_setup(vmm_vcpu *cpu);
/* One MSR through KVM_SET_MSRS; 0 or -1 when KVM refuses it. */
int vmm_vcpu_set_msr(vmm_vcpu *cpu, uint32_t index, uint64_t value);
/* A restore: records the LAPIC a reboot gives (lapic0) from a fresh vCPU, before the saved
 * state replaces it. */
void vmm_vcpu_record_lapic0(vmm_vcpu *cpu);
/* Registers and MSRs again (reboot); the BSP gets the boot entry state. */
int vmm_vcpu_reset(vmm_vcpu *cpu);

#endif
