/* cpu_setup.h - initial vCPU state for each boot mode (see cpu_setup.c). */
#ifndef VMM_CPU_SETUP_H
#define VMM_CPU_SETUP_H

#include "vmm.h"

/* Reads KVM's supported CPUID once per VM into vm->cpuid. */
int vmm_cpuid_init(vmm_vm *vm);
/* CPUID, MSRs, LAPIC and boot registers of a freshly created vCPU. */
int vmm_vcpu_setup(vmm_vcpu *cpu);
/* Registers and MSRs again (reboot); the BSP gets the boot entry state. */
int vmm_vcpu_reset(vmm_vcpu *cpu);

#endif
