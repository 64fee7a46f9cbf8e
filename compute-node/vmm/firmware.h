/*
 * firmware.h - booting through a BIOS image (SeaBIOS) instead of loading a
 * kernel: the ROM and its shadow, the PAM registers of an i440FX-like host
 * bridge, and the fw_cfg items the firmware reads (see firmware.c).
 */
#ifndef VMM_FIRMWARE_H
#define VMM_FIRMWARE_H

#include <stdint.h>

#include "vmm.h"

#define VMM_FW_ROM_MAX (16u << 20)
#define VMM_FW_SHADOW_START 0xE0000ull /* the ROM's top 128 KiB also appear here */
#define VMM_FW_SHADOW_SIZE 0x20000ull

/* KVM memory slots (kvm.c uses 0 and 1 for RAM below 3 GiB and above 4 GiB). */
#define VMM_FW_CHUNKS 5 /* the shadow in PAM's units: 4 x 16 KiB (E segment), 64 KiB (F) */
/* Then a slot per PCI slot for its expansion ROM (pci.c). */
enum {
    VMM_SLOT_LOW = 0,
    VMM_SLOT_HIGH,
    VMM_SLOT_ABOVE_1M,
    VMM_SLOT_ROM,
    VMM_SLOT_SHADOW,
    VMM_SLOT_PCI_ROM = VMM_SLOT_SHADOW + VMM_FW_CHUNKS
};

/* First boot: reads the ROM, maps it (read-only) below 4 GiB and at 0xE0000, makes the host
 * bridge an i440FX with PAM registers, adds fw_cfg on its ports. A reboot (called again): the
 * shadow back to ROM, PAM cleared, fw_cfg's selector reset. */
int vmm_fw_load(vmm_vm *vm);
void vmm_fw_free(vmm_vm *vm);
/* The SHA-256 (hex) of the image at path, read as a load reads it; 0, or a negative errno
 * with err filled. */
int vmm_fw_digest(const char *path, char hex[65], char *err, size_t errlen);

/* The "firmware" device record's hooks (start.c registers them for a firmware boot); the
 * VM's firmware must be loaded (vmm_fw_load) before a restore. */
extern const vmm_dev_ops vmm_firmware_dev;

#endif
