/* linux.h - the Linux boot protocol's zero page (see linux.c for the layout). */
#ifndef VMM_LINUX_H
#define VMM_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"

/* Offsets in struct boot_params (Documentation/arch/x86/zero-page.rst, boot.rst). */
#define ZP_SIZE 4096
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_SETUP_HDR 0x1f1
#define ZP_BOOT_FLAG 0x1fe
#define ZP_HEADER 0x202
#define ZP_VERSION 0x206
#define ZP_TYPE_OF_LOADER 0x210
#define ZP_LOADFLAGS 0x211
#define ZP_RAMDISK_IMAGE 0x218
#define ZP_RAMDISK_SIZE 0x21c
#define ZP_HEAP_END_PTR 0x224
#define ZP_CMD_LINE_PTR 0x228
#define ZP_INITRD_ADDR_MAX 0x22c
#define ZP_CMDLINE_SIZE 0x238
#define ZP_E820_TABLE 0x2d0

/* Fills a 4 KiB zero page; setup_hdr (from a bzImage) may be NULL for vmlinux. */
int vmm_linux_zero_page(uint8_t *zp, const uint8_t *setup_hdr, size_t hdr_len, uint64_t ram_size,
                        uint64_t cmdline_addr, size_t cmdline_len, uint64_t initrd_addr,
                        uint64_t initrd_len);

#endif
