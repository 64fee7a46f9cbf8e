/*
 * e820.h - the guest's memory map (BIOS int 15h E820 types), in one place for
 * every path that tells a guest where its RAM is:
 *  - direct boot (PVH's hvm_start_info memmap, Linux's zero page e820_table):
 *    vmm_e820_build(), RAM below the EBDA, the EBDA and the ACPI/MP/reset-vector
 *    area reserved, RAM from 1 MiB to the PCI hole and from 4 GiB on;
 *  - firmware boot (fw_cfg's etc/e820 for SeaBIOS): vmm_e820_firmware(), RAM
 *    below the PCI hole and from 4 GiB on, KVM's identity-map and TSS pages
 *    reserved; SeaBIOS carves its own low areas out of it.
 * vmm_e820_encode() writes either as the 20-byte little-endian entries both
 * the zero page and etc/e820 use.
 */
#ifndef VMM_E820_H
#define VMM_E820_H

#include <stdint.h>

#define E820_RAM 1
#define E820_RESERVED 2
#define VMM_E820_MAX 8
#define VMM_E820_ENTRY 20 /* {u64 addr, u64 size, u32 type}, packed */

typedef struct vmm_e820 {
    uint64_t addr, size;
    uint32_t type;
} vmm_e820;

/* The direct-boot map for ram_size bytes of RAM; returns the entry count (<= VMM_E820_MAX). */
int vmm_e820_build(uint64_t ram_size, vmm_e820 *out);
/* The map fw_cfg's etc/e820 gives the firmware; returns the entry count. */
int vmm_e820_firmware(uint64_t ram_size, vmm_e820 *out);
/* n entries as 20-byte records into out (cap bytes, whole entries only); bytes written. */
uint32_t vmm_e820_encode(const vmm_e820 *e, int n, uint8_t *out, uint32_t cap);

#endif
