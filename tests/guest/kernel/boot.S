/*
 * boot.S - PVH entry, the descriptor tables and page tables, the switch to
 * long mode, and the real-mode trampoline application processors start in.
 *
 * The loader (QEMU, stratus-vmm) enters pvh_entry in 32-bit protected mode
 * with paging off and %ebx = the physical address of struct hvm_start_info,
 * as the XEN_ELFNOTE_PHYS32_ENTRY note below says. Everything the switch to
 * long mode needs is built by the assembler, not by code: the GDT and an
 * identity map of the first 4 GiB in 2 MiB pages (the top GiB uncached, for
 * the LAPIC, IOAPIC and PCI BARs) are initialised data, so the emulated
 * ring-0 path from entry to C is about twenty instructions. All pages are
 * user-accessible (U/S set) so ring3_call() can run work in ring 3 over any
 * buffer; SMEP/SMAP stay off.
 *
 * Selectors: 0x08 code64, 0x10 data, 0x18 code32 (ring 0); 0x20 data and
 * 0x28 code64 (ring 3); 0x30 the TSS (filled in by cpu.c).
 */
#define AP_STACK_SIZE 4096
#define MAX_CPUS 32

    .section .note.Xen, "a"
    .balign 4
    .long 4                 /* name size: "Xen\0" */
    .long 4                 /* descriptor size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_entry
    .balign 4

    .section .text.boot, "ax"
    .code32
    .globl pvh_entry
pvh_entry:
    cli
    cld
    mov %ebx, %esi                  /* start_info, kept for guest_main */
    lgdt gdt_ptr
    ljmp $0x18, $1f
1:  mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %esp
    /* PAE, the page tables, EFER.LME, then paging. */
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    ljmp $0x08, $long_bsp

    .code64
long_bsp:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %rsp
    mov %esi, %edi
    call guest_main
2:  cli
    hlt
    jmp 2b

/*
 * Application processors: a SIPI with vector 0x08 starts them in real mode at
 * 0x8000, where scen_smp.c copied ap_tramp_start..ap_tramp_end. They load the
 * same GDT, go through protected mode to long mode with the same page tables,
 * and take a stack indexed by their APIC id.
 */
    .code16
    .globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl ap_tramp_gdtr - ap_tramp_start
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x18, $ap_pm32
    .balign 8
ap_tramp_gdtr:
    .word gdt_end - gdt - 1
    .long gdt
ap_tramp_end:

    .code32
ap_pm32:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    ljmp $0x08, $ap_long

    .code64
ap_long:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $1, %eax
    cpuid
    shr $24, %ebx                   /* initial APIC id */
    mov %ebx, %edi
    and $(MAX_CPUS - 1), %ebx
    inc %ebx
    imul $AP_STACK_SIZE, %ebx
    mov $ap_stacks, %rsp
    add %rbx, %rsp
    call ap_main
3:  cli
    hlt
    jmp 3b

    .section .data.boot, "aw"
    .balign 16
    .globl gdt, gdt_end, tss_desc
gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08 code64, ring 0 */
    .quad 0x00cf92000000ffff        /* 0x10 data, ring 0 */
    .quad 0x00cf9a000000ffff        /* 0x18 code32, ring 0 */
    .quad 0x00cff2000000ffff        /* 0x20 data, ring 3 */
    .quad 0x00affa000000ffff        /* 0x28 code64, ring 3 */
tss_desc:
    .quad 0, 0                      /* 0x30 TSS, cpu.c */
gdt_end:
    .balign 8
    .globl gdt_ptr
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt

    .section .data.pagetables, "aw"
    .balign 4096
    .globl pml4, pdpt_low
pml4:
    .quad pdpt_low + 0x7            /* present, writable, user */
    .fill 511, 8, 0
pdpt_low:
    .quad pd_low + 0x0007, pd_low + 0x1007, pd_low + 0x2007, pd_low + 0x3007
    .fill 508, 8, 0
pd_low:
    .set addr, 0
    .rept 1536                      /* 0-3 GiB: RAM, write-back */
    .quad addr + 0x87               /* present, writable, user, 2 MiB */
    .set addr, addr + 0x200000
    .endr
    .rept 512                       /* 3-4 GiB: MMIO, PCD|PWT */
    .quad addr + 0x9f
    .set addr, addr + 0x200000
    .endr

    .section .bss.stacks, "aw", @nobits
    .balign 4096
    .globl ap_stacks
boot_stack:
    .skip 16384
boot_stack_top:
ap_stacks:
    .skip AP_STACK_SIZE * (MAX_CPUS + 1)
