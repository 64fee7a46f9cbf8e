/*
 * boot.h - guest loading: ELF (PVH) and the Linux boot
 * protocol, and the MP table that tells a guest its CPUs and IOAPIC.
 *
 * The parsers work on a file image in memory and write into guest memory
 * only through vmm_gmem_ptr(), so a malformed kernel file ends in an error,
 * never in a write outside guest RAM. Segments must load at or above 1 MiB:
 * the low megabyte holds what the VMM builds (GDT, start_info or zero page,
 * command line, page tables, MP table).
 */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "e820.h"
#include "gmem.h"

typedef struct vmm_boot_info {
    int mode;       /* VMM_BOOT_PVH or VMM_BOOT_LINUX64 */
    uint64_t entry; /* guest physical entry point */
    uint64_t arg;   /* start_info or zero page address */
} vmm_boot_info;

/* An ELF image: loads PT_LOADs; *pvh_entry = the PHYS32_ENTRY note or 0. */
int vmm_elf_load(const vmm_gmem *m, const uint8_t *img, size_t len, uint64_t *elf_entry,
                 uint64_t *pvh_entry, uint64_t *top);
/* PVH: hvm_start_info + memmap + command line. */
int vmm_pvh_setup(const vmm_gmem *m, uint64_t ram_size, const char *cmdline, vmm_boot_info *bi,
                  uint64_t entry);
/* Linux: bzImage or vmlinux (ELF without a PVH note), initrd, zero page, page tables. */
int vmm_linux_load(const vmm_gmem *m, uint64_t ram_size, const uint8_t *img, size_t len,
                   const uint8_t *initrd, size_t initrd_len, const char *cmdline,
                   vmm_boot_info *bi);
/* The MP table at VMM_MPTABLE_ADDR for ncpus CPUs. */
int vmm_mptable_write(const vmm_gmem *m, int ncpus);
/* At the reset vector: code that pulses the i8042 reset line (see boot.c). */
int vmm_reset_vector_write(const vmm_gmem *m);

#endif
