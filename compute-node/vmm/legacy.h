/* legacy.h - i8042 reset, debug exit, POST port and CMOS RTC (see legacy.c). */
#ifndef VMM_LEGACY_H
#define VMM_LEGACY_H

#include "vmm.h"

int vmm_legacy_init(vmm_vm *vm);
/* A VM reset: the ACPI PM1 enable and control registers back to 0. */
void vmm_legacy_reset(vmm_vm *vm);

#endif
