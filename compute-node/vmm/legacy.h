/* legacy.h - i8042 reset, debug exit, POST port and CMOS RTC (see legacy.c). */
#ifndef VMM_LEGACY_H
#define VMM_LEGACY_H

#include "vmm.h"

/* Builds and registers the devices (i8042, CMOS; see legacy.c) and puts them on the ports. */
int vmm_legacy_init(vmm_vm *vm);
/* Frees them (at exit, every vCPU gone). */
void vmm_legacy_free(vmm_vm *vm);

#endif
