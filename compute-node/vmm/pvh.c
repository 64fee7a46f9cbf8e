/*
 * pvh.c - the PVH boot ABI's start of day (xen/arch-x86/hvm/start_info.h).
 *
 * At VMM_START_INFO_ADDR: struct hvm_start_info (version 1), then the
 * memory map (struct hvm_memmap_table_entry, E820 types), and the command
 * line at VMM_CMDLINE_ADDR. The BSP starts with %ebx pointing at it.
 *
 *   hvm_start_info: u32 magic 0x336ec578, u32 version, u32 flags,
 *     u32 nr_modules, u64 modlist_paddr, u64 cmdline_paddr, u64 rsdp_paddr,
 *     u64 memmap_paddr, u32 memmap_entries, u32 reserved   (56 bytes)
 *   hvm_memmap_table_entry: u64 addr, u64 size, u32 type, u32 reserved
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "e820.h"
#include "vmm.h"

#define HVM_START_MAGIC 0x336ec578u

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

int vmm_pvh_setup(const vmm_gmem *m, uint64_t ram_size, const char *cmdline, vmm_boot_info *bi,
                  uint64_t entry)
{
    vmm_e820 e[VMM_E820_MAX];
    int n = vmm_e820_build(ram_size, e);
    size_t clen = strlen(cmdline) + 1;
    uint8_t *si = vmm_gmem_ptr(m, VMM_START_INFO_ADDR, 56 + 24ull * (uint64_t)n);
    uint8_t *cl = vmm_gmem_ptr(m, VMM_CMDLINE_ADDR, VMM_CMDLINE_MAX);
    if (!si || !cl || clen > VMM_CMDLINE_MAX)
        return -E2BIG;
    memcpy(cl, cmdline, clen);
    memset(si, 0, 56);
    put32(si + 0, HVM_START_MAGIC);
    put32(si + 4, 1);
    put64(si + 16, 0);
    put64(si + 24, VMM_CMDLINE_ADDR);
    put64(si + 32, VMM_ACPI_ADDR); /* rsdp_paddr */
    put64(si + 40, VMM_START_INFO_ADDR + 56);
    put32(si + 48, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t *t = si + 56 + 24 * i;
        put64(t, e[i].addr);
        put64(t + 8, e[i].size);
        put32(t + 16, e[i].type);
        put32(t + 20, 0);
    }
    bi->mode = VMM_BOOT_PVH;
    bi->entry = entry;
    bi->arg = VMM_START_INFO_ADDR;
    return 0;
}
