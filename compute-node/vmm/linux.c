/*
 * linux.c - the Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst).
 *
 * bzImage: the setup header at 0x1f1 of the file says how many 512-byte
 * setup sectors precede the protected-mode kernel; we need protocol >= 2.12
 * and XLF_KERNEL_64, load the kernel at its pref_address (or 16 MiB) and
 * enter at load address + 0x200 in long mode. vmlinux: an ELF whose PT_LOADs
 * carry physical addresses and whose e_entry is startup_64's physical
 * address; we build the setup header ourselves.
 *
 * The zero page (struct boot_params) at VMM_ZERO_PAGE_ADDR carries, at
 * these offsets: e820_entries 0x1e8, the setup header from 0x1f1
 * (boot_flag 0x1fe = 0xAA55, "HdrS" at 0x202, version 0x206,
 * type_of_loader 0x210, loadflags 0x211, ramdisk_image 0x218,
 * ramdisk_size 0x21c, heap_end_ptr 0x224, cmd_line_ptr 0x228,
 * initrd_addr_max 0x22c, cmdline_size 0x238), ext_ramdisk_image 0x0c0,
 * ext_ramdisk_size 0x0c4, ext_cmd_line_ptr 0x0c8 and e820_table 0x2d0
 * (20-byte entries {u64 addr, u64 size, u32 type}, at most 128).
 *
 * Long mode needs page tables: PML4 -> one PDPT -> four page directories
 * of 2 MiB pages identity-mapping the low 4 GiB, at VMM_PML4_ADDR; and a GDT
 * with a 64-bit code segment at 0x10 and data at 0x18 (the protocol's
 * __BOOT_CS and __BOOT_DS).
 */
#include "linux.h"

#include <errno.h>
#include <string.h>

#include "e820.h"
#include "vmm.h"

#define HDR_MAGIC 0x53726448u /* "HdrS" */
#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define DEFAULT_LOAD 0x1000000ull

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

int vmm_linux_zero_page(uint8_t *zp, const uint8_t *setup_hdr, size_t hdr_len, uint64_t ram_size,
                        uint64_t cmdline_addr, size_t cmdline_len, uint64_t initrd_addr,
                        uint64_t initrd_len)
{
    vmm_e820 e[VMM_E820_MAX];
    memset(zp, 0, ZP_SIZE);
    if (setup_hdr) {
        if (hdr_len > ZP_SIZE - ZP_SETUP_HDR)
            return -EINVAL;
        memcpy(zp + ZP_SETUP_HDR, setup_hdr, hdr_len);
    } else {
        put16(zp + ZP_BOOT_FLAG, 0xAA55);
        put32(zp + ZP_HEADER, HDR_MAGIC);
        put16(zp + ZP_VERSION, 0x020f);
        put32(zp + ZP_INITRD_ADDR_MAX, 0x7fffffff);
        put32(zp + ZP_CMDLINE_SIZE, VMM_CMDLINE_MAX - 1);
    }
    zp[ZP_TYPE_OF_LOADER] = 0xff;
    zp[ZP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
    put16(zp + ZP_HEAP_END_PTR, 0xfe00);
    put32(zp + ZP_CMD_LINE_PTR, (uint32_t)cmdline_addr);
    put32(zp + ZP_EXT_CMD_LINE_PTR, (uint32_t)(cmdline_addr >> 32));
    (void)cmdline_len;
    put32(zp + ZP_RAMDISK_IMAGE, (uint32_t)initrd_addr);
    put32(zp + ZP_RAMDISK_SIZE, (uint32_t)initrd_len);
    put32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
    put32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_len >> 32));
    int n = vmm_e820_build(ram_size, e);
    zp[ZP_E820_ENTRIES] = (uint8_t)n;
    vmm_e820_encode(e, n, zp + ZP_E820_TABLE, VMM_E820_MAX * VMM_E820_ENTRY);
    return 0;
}

static int write_long_mode_tables(const vmm_gmem *m)
{
    uint8_t *gdt = vmm_gmem_ptr(m, VMM_GDT_ADDR, 32);
    uint8_t *pt = vmm_gmem_ptr(m, VMM_PML4_ADDR, 6 * 4096);
    if (!gdt || !pt)
        return -E2BIG;
    put64(gdt + 0, 0);
    put64(gdt + 8, 0);
    put64(gdt + 16, 0x00af9b000000ffffull); /* 0x10: 64-bit code */
    put64(gdt + 24, 0x00cf93000000ffffull); /* 0x18: data */
    memset(pt, 0, 6 * 4096);
    uint64_t pdpt = VMM_PML4_ADDR + 4096, pd = VMM_PML4_ADDR + 2 * 4096;
    put64(pt, pdpt | 3);
    for (uint64_t i = 0; i < 4; i++) {
        put64(pt + 4096 + 8 * i, (pd + 4096 * i) | 3);
        for (uint64_t j = 0; j < 512; j++)
            put64(pt + 2 * 4096 + 4096 * i + 8 * j, ((i << 30) | (j << 21)) | 0x83);
    }
    return 0;
}

static int load_bzimage(const vmm_gmem *m, const uint8_t *img, size_t len, uint64_t *entry,
                        const uint8_t **hdr, size_t *hdr_len, uint32_t *initrd_max)
{
    if (len < 0x270 || get32(img + 0x202) != HDR_MAGIC)
        return -ENOEXEC;
    uint16_t version;
    memcpy(&version, img + 0x206, 2);
    if (version < 0x020c || !(img[0x236] & XLF_KERNEL_64))
        return -ENOEXEC; /* no 64-bit entry point */
    size_t setup_sects = img[0x1f1] ? img[0x1f1] : 4;
    size_t koff = (setup_sects + 1) * 512;
    if (koff >= len)
        return -ENOEXEC;
    uint64_t load;
    memcpy(&load, img + 0x258, 8);
    if (load < VMM_BIOS_END)
        load = DEFAULT_LOAD;
    uint32_t init_size = get32(img + 0x260);
    uint64_t need = len - koff > init_size ? len - koff : init_size;
    uint8_t *dst = vmm_gmem_ptr(m, load, need);
    if (!dst)
        return -E2BIG;
    memcpy(dst, img + koff, len - koff);
    *entry = load + 0x200;
    *hdr = img + ZP_SETUP_HDR;
    *hdr_len = 0x202 + img[0x201] - ZP_SETUP_HDR;
    if (*hdr_len > 0x290 - ZP_SETUP_HDR)
        *hdr_len = 0x290 - ZP_SETUP_HDR;
    *initrd_max = get32(img + 0x22c);
    return 0;
}

int vmm_linux_load(const vmm_gmem *m, uint64_t ram_size, const uint8_t *img, size_t len,
                   const uint8_t *initrd, size_t initrd_len, const char *cmdline, vmm_boot_info *bi)
{
    const uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    uint32_t initrd_max = 0x7fffffff;
    uint64_t entry = 0, top = 0, pvh = 0;
    int rc;

    if (len >= 4 && !memcmp(img, "\177ELF", 4)) {
        if ((rc = vmm_elf_load(m, img, len, &entry, &pvh, &top)))
            return rc;
        if (entry >= 0xffffffff80000000ull)
            entry -= 0xffffffff80000000ull; /* a virtual entry: startup_64's physical twin */
    } else if ((rc = load_bzimage(m, img, len, &entry, &hdr, &hdr_len, &initrd_max))) {
        return rc;
    }
    size_t clen = strlen(cmdline) + 1;
    uint8_t *cl = vmm_gmem_ptr(m, VMM_CMDLINE_ADDR, VMM_CMDLINE_MAX);
    uint8_t *zp = vmm_gmem_ptr(m, VMM_ZERO_PAGE_ADDR, ZP_SIZE);
    if (!cl || !zp || clen > VMM_CMDLINE_MAX)
        return -E2BIG;
    memcpy(cl, cmdline, clen);

    uint64_t initrd_addr = 0;
    if (initrd && initrd_len) {
        uint64_t low = ram_size < VMM_LOW_RAM_END ? ram_size : VMM_LOW_RAM_END;
        uint64_t limit = (uint64_t)initrd_max + 1 < low ? (uint64_t)initrd_max + 1 : low;
        if (initrd_len > limit)
            return -E2BIG;
        initrd_addr = (limit - initrd_len) & ~0xfffull;
        uint8_t *dst = vmm_gmem_ptr(m, initrd_addr, initrd_len);
        if (!dst || initrd_addr < top)
            return -E2BIG;
        memcpy(dst, initrd, initrd_len);
    }
    if ((rc = vmm_linux_zero_page(zp, hdr, hdr_len, ram_size, VMM_CMDLINE_ADDR, clen, initrd_addr,
                                  initrd_len)) ||
        (rc = write_long_mode_tables(m)))
        return rc;
    bi->mode = VMM_BOOT_LINUX64;
    bi->entry = entry;
    bi->arg = VMM_ZERO_PAGE_ADDR;
    return 0;
}
