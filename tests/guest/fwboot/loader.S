/*
 * loader.S - a boot sector and a small loader that boot the test guest
 * (guest.elf) from a disk through the BIOS, for firmware-boot tests.
 *
 * Disk layout (mkdisk.sh makes it): LBA 0 this boot sector, LBA 1-7 the
 * loader (stage 2), LBA 8 on guest.elf; the word at 0x1b0 of the boot sector
 * (elf_sectors) holds guest.elf's length in sectors.
 *
 *  1. The BIOS loads LBA 0 at 0x7c00 and jumps to it with %dl = the drive.
 *  2. Stage 1 checks the int 13h extensions (AH=41h) and reads stage 2 with
 *     an extended read (AH=42h) to 0x7e00.
 *  3. Stage 2 reads guest.elf to 0x10000 in 32 KiB extended reads, asks
 *     int 15h E820 for the memory map, says on the console (int 10h, which
 *     SeaBIOS sends to the serial port) how many sectors and entries it
 *     got, then enters 32-bit protected mode.
 *  4. It copies guest.elf's PT_LOAD segments to their physical addresses,
 *     zero-fills their tails, finds the PVH entry (the XEN_ELFNOTE_PHYS32_ENTRY
 *     note, type 18), fills an hvm_start_info (version 1, the command line
 *     below, the E820 map) and jumps to the entry with %ebx pointing at it,
 *     as tests/guest/README.md's contract says.
 * Any failure prints "FWBOOT FAIL <why>" and writes 0x11 to the debug-exit
 * port 0xf4.
 */
        .code16
        .text
        .globl _start
#define STAGE2 0x7e00
#define ELFBUF 0x10000
#define MEMMAP 0x5000
#define START_INFO 0x6000

_start:
        cli
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7c00, %sp
        ljmp $0, $1f
1:      sti
        mov %dl, boot_drive
        mov $msg_hello, %si
        call print
        mov $0x41, %ah
        mov $0x55aa, %bx
        mov boot_drive, %dl
        int $0x13
        jc no_ext
        cmp $0xaa55, %bx
        jne no_ext
        movw $7, dap_count
        movw $STAGE2, dap_off
        movw $0, dap_seg
        movl $1, dap_lba
        call read_dap
        jmp stage2

no_ext: mov $msg_noext, %si
fail:   push %si
        mov $msg_fail, %si
        call print
        pop %si
        call print
        mov $msg_nl, %si
        call print
        mov $0x11, %al
        out %al, $0xf4
2:      hlt
        jmp 2b

/* int 13h AH=42h with the packet at dap; fails the boot on error. */
read_dap:
        mov $dap, %si
        mov $0x42, %ah
        mov boot_drive, %dl
        int $0x13
        jc 1f
        ret
1:      mov $msg_read, %si
        jmp fail

/* Prints the NUL-terminated string at %ds:%si through int 10h teletype. */
print:  lodsb
        test %al, %al
        jz 1f
        mov $0x0e, %ah
        mov $0x0007, %bx
        int $0x10
        jmp print
1:      ret

msg_hello:  .asciz "FWBOOT stage 1: booted by the BIOS\r\n"
msg_noext:  .asciz "no int 13h extensions"
msg_read:   .asciz "int 13h read error"
msg_fail:   .asciz "FWBOOT FAIL "
msg_nl:     .asciz "\r\n"
boot_drive: .byte 0
        .balign 4
dap:        .byte 16, 0
dap_count:  .word 0
dap_off:    .word 0
dap_seg:    .word 0
dap_lba:    .long 0, 0

        .org 0x1b0
elf_sectors: .word 0
        .org 0x1fe
        .byte 0x55, 0xaa

/* ---- stage 2 (LBA 1-7, at 0x7e00) ---- */
stage2:
        mov elf_sectors, %cx
        test %cx, %cx
        jz no_elf
        cmp $(0x70000 / 512), %cx  /* the buffer ends at 0x80000 */
        ja no_elf
        movl $8, dap_lba
        movw $0, dap_off
        movw $(ELFBUF >> 4), dap_seg
1:      mov %cx, %ax
        cmp $64, %ax
        jbe 2f
        mov $64, %ax
2:      mov %ax, dap_count
        push %cx
        push %ax
        call read_dap
        pop %ax
        pop %cx
        sub %ax, %cx
        movzwl %ax, %eax
        addl %eax, dap_lba
        shl $5, %ax                 /* sectors * 512 / 16 = paragraphs */
        add %ax, dap_seg
        test %cx, %cx
        jnz 1b

        /* E820 into MEMMAP, 24-byte entries (the last 4 bytes zero) */
        mov $MEMMAP, %di
        mov $(64 * 24 / 2), %cx
        xor %ax, %ax
        rep stosw
        xor %ebx, %ebx
        mov $MEMMAP, %di
        movw $0, e820_count
3:      mov $0xe820, %eax
        mov $24, %ecx
        mov $0x534d4150, %edx
        int $0x15
        jc 4f
        cmp $0x534d4150, %eax
        jne 4f
        incw e820_count
        add $24, %di
        cmpw $64, e820_count
        jae 4f
        test %ebx, %ebx
        jnz 3b
4:      cmpw $0, e820_count
        je no_e820

        mov $msg_loaded, %si
        call print
        mov elf_sectors, %ax
        call print_dec
        mov $msg_entries, %si
        call print
        mov e820_count, %ax
        call print_dec
        mov $msg_nl, %si
        call print

        /* SeaBIOS's serial console sends buffered text on its timer tick: wait two
         * ticks (BDA 0x46c) with interrupts on, so the line is out before we leave. */
        mov 0x46c, %cx
5:      hlt
        mov 0x46c, %ax
        sub %cx, %ax
        cmp $2, %ax
        jb 5b
        in $0x92, %al               /* A20 on (fast gate), never the reset bit */
        or $2, %al
        and $0xfe, %al
        out %al, $0x92
        cli
        lgdtl gdt_desc
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x08, $pmode

no_elf: mov $msg_noelf, %si
        jmp fail
no_e820:
        mov $msg_noe820, %si
        jmp fail

/* Prints %ax in decimal. */
print_dec:
        mov $10, %bx
        xor %cx, %cx
1:      xor %dx, %dx
        div %bx
        push %dx
        inc %cx
        test %ax, %ax
        jnz 1b
2:      pop %ax
        add $'0', %al
        mov $0x0e, %ah
        push %cx
        mov $0x0007, %bx
        int $0x10
        pop %cx
        mov $10, %bx
        loop 2b
        ret

        .code32
pmode:  mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov $0x7000, %esp
        cmpl $0x464c457f, ELFBUF    /* "\177ELF" */
        jne pm_fail
        movzwl ELFBUF + 0x38, %ecx  /* e_phnum */
        mov ELFBUF + 0x20, %ebx     /* e_phoff (low half) */
        add $ELFBUF, %ebx
        movl $0, entry
phdr:   test %ecx, %ecx
        jz done
        push %ecx
        cmpl $1, (%ebx)             /* PT_LOAD: copy p_filesz, zero up to p_memsz */
        jne 1f
        mov 0x08(%ebx), %esi
        add $ELFBUF, %esi
        mov 0x18(%ebx), %edi
        mov 0x20(%ebx), %ecx
        cld
        rep movsb
        mov 0x28(%ebx), %ecx
        sub 0x20(%ebx), %ecx
        xor %eax, %eax
        rep stosb
        jmp 3f
1:      cmpl $4, (%ebx)             /* PT_NOTE: look for type 18 named "Xen" */
        jne 3f
        mov 0x08(%ebx), %esi
        add $ELFBUF, %esi
        mov %esi, %edx
        add 0x20(%ebx), %edx        /* end of the notes */
2:      cmp %edx, %esi
        jae 3f
        mov (%esi), %eax            /* namesz */
        add $3, %eax
        and $~3, %eax
        mov 4(%esi), %edi           /* descsz */
        add $3, %edi
        and $~3, %edi
        cmpl $18, 8(%esi)
        jne 4f
        cmpl $0x006e6558, 12(%esi)  /* "Xen\0" */
        jne 4f
        mov 12(%esi,%eax), %eax
        mov %eax, entry
        jmp 3f
4:      lea 12(%esi,%eax), %esi
        add %edi, %esi
        jmp 2b
3:      pop %ecx
        add $0x38, %ebx
        dec %ecx
        jmp phdr
done:   mov entry, %eax
        test %eax, %eax
        jz pm_fail
        mov $START_INFO, %edi
        xor %eax, %eax
        mov $14, %ecx
        rep stosl
        movl $0x336ec578, START_INFO + 0   /* magic */
        movl $1, START_INFO + 4            /* version: with the memory map */
        movl $cmdline, START_INFO + 24
        movl $MEMMAP, START_INFO + 40
        movzwl e820_count, %eax
        mov %eax, START_INFO + 48
        mov $START_INFO, %ebx
        jmp *entry
pm_fail:
        mov $0x11, %al
        out %al, $0xf4
1:      hlt
        jmp 1b

        .balign 8
gdt:    .quad 0
        .quad 0x00cf9a000000ffff    /* 0x08: flat 32-bit code */
        .quad 0x00cf92000000ffff    /* 0x10: flat data */
gdt_desc:
        .word 3 * 8 - 1
        .long gdt
entry:  .long 0
e820_count: .word 0
msg_loaded: .asciz "FWBOOT stage 2: read guest.elf through int 13h: sectors="
msg_entries: .asciz " e820.entries="
msg_noelf:  .asciz "no guest.elf on the disk"
msg_noe820: .asciz "no E820 map"
        /* The command line at a fixed place, disk offset 3584, in a 256-byte buffer: a test
         * may write another one there in a copy of the disk (l1-init.sh's migrate). */
        .org 7 * 512
cmdline:    .asciz "scenario=boot fwboot=1"
        .org 7 * 512 + 256
        .org 8 * 512
