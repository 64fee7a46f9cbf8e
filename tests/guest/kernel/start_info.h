/*
 * start_info.h - the PVH boot ABI (Xen's arch/x86/hvm/start_info.h): what
 * the loader hands the guest in %ebx.
 */
#ifndef GUEST_START_INFO_H
#define GUEST_START_INFO_H

#define HVM_START_MAGIC 0x336ec578u
#define GUEST_MEMMAP_MAX 64

struct hvm_start_info {
    u32 magic;
    u32 version; /* 0, or 1 with the memory map */
    u32 flags;
    u32 nr_modules;
    u64 modlist_paddr;
    u64 cmdline_paddr;
    u64 rsdp_paddr;
    u64 memmap_paddr; /* version >= 1 */
    u32 memmap_entries;
    u32 reserved;
};

struct hvm_memmap_entry {
    u64 addr;
    u64 size;
    u32 type; /* e820 types: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable */
    u32 reserved;
};

extern struct hvm_memmap_entry g_memmap[GUEST_MEMMAP_MAX];
extern u32 g_memmap_count;
extern u64 g_rsdp_paddr;

#endif
