/*
 * multiboot.S - a Multiboot (0.6.96) header and entry for the test guest, linked only into
 * guest-mb.elf, the image a network boot fetches: iPXE boots a Multiboot image it downloaded
 * (its "MBOOT" feature), where it has no loader for our PVH ELF64 (its BIOS build reads
 * ELF32 only).
 *
 * The header gives the load addresses itself (flags bit 16), so the loader copies the file's
 * bytes from __image_start to __load_end, zeroes up to __image_end and enters mb_entry in
 * 32-bit protected mode, paging off, %eax = 0x2BADB002, %ebx = the Multiboot information.
 * mb_entry turns that into the hvm_start_info pvh_entry takes (version 1: the command line
 * and the memory map, copied into this image) and jumps to pvh_entry: from there the guest
 * runs as after a PVH boot. It first ends COM1's current line (see below).
 *
 * guest.elf does not carry this header: QEMU's -kernel tries Multiboot before PVH and would
 * then boot every QEMU test through here instead of the PVH note.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010002 /* a memory map wanted; the address fields are valid */
#define MB_BOOT_MAGIC 0x2BADB002
#define MB_INFO_CMDLINE 0x04
#define MB_INFO_MMAP 0x40
#define HVM_START_MAGIC 0x336ec578
#define MEMMAP_MAX 64

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header     /* header_addr */
    .long __image_start /* load_addr */
    .long __load_end    /* load_end_addr: the last byte the file holds */
    .long __image_end   /* bss_end_addr */
    .long mb_entry      /* entry_addr */

    .section .text.multiboot, "ax"
    .code32
mb_entry:
    cli
    cld
    cmp $MB_BOOT_MAGIC, %eax
    jne 9f
    mov 0(%ebx), %edx              /* the information's flags */
    test $MB_INFO_CMDLINE, %edx
    jz 1f
    mov 16(%ebx), %eax
    mov %eax, mb_start_info + 24   /* cmdline_paddr */
1:  test $MB_INFO_MMAP, %edx
    jz 3f
    mov 48(%ebx), %esi             /* mmap_addr */
    mov 44(%ebx), %ecx             /* mmap_length */
    add %esi, %ecx
    mov $mb_memmap, %edi
    xor %edx, %edx
2:  lea 24(%esi), %eax             /* {size, addr:8, len:8, type} ends 24 bytes in */
    cmp %ecx, %eax
    ja 3f
    cmp $MEMMAP_MAX, %edx
    jae 3f
    mov 4(%esi), %eax              /* to {addr:8, size:8, type, reserved} */
    mov %eax, 0(%edi)
    mov 8(%esi), %eax
    mov %eax, 4(%edi)
    mov 12(%esi), %eax
    mov %eax, 8(%edi)
    mov 16(%esi), %eax
    mov %eax, 12(%edi)
    mov 20(%esi), %eax
    mov %eax, 16(%edi)
    add $24, %edi
    inc %edx
    mov 0(%esi), %eax              /* the entry's size, not counting its size field */
    lea 4(%esi, %eax), %esi
    jmp 2b
3:  mov %edx, mb_start_info + 48   /* memmap_entries (0 without a map) */
    /* End the console line the loader left open (SeaBIOS's sercon flushes lazily: iPXE's
     * last "ok" can be cut short), so the guest's start line starts a line. */
    mov $0x3f8, %dx
    mov $'\r', %al
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
    mov $mb_start_info, %ebx
    jmp pvh_entry
9:  hlt
    jmp 9b

    .section .data.multiboot, "aw"
    .balign 8
mb_start_info:                     /* struct hvm_start_info (kernel/start_info.h) */
    .long HVM_START_MAGIC
    .long 1                        /* version: with the memory map */
    .long 0, 0                     /* flags, nr_modules */
    .quad 0                        /* modlist_paddr */
    .quad 0                        /* cmdline_paddr */
    .quad 0                        /* rsdp_paddr */
    .quad mb_memmap                /* memmap_paddr */
    .long 0, 0                     /* memmap_entries, reserved */
mb_memmap:
    .fill MEMMAP_MAX * 24, 1, 0
