/*
 * entry.S - interrupt and exception entry, and ring3_call().
 *
 * Every vector has a stub that pushes a zero error code where the CPU pushes
 * none, then the vector number, and jumps to isr_common, which saves the
 * general registers and calls trap_dispatch(struct trap_frame *) in cpu.c.
 * The way back from ring 3 is the ud2 at ring3_exit: this host's emulator
 * cannot deliver `int $n` or `syscall` from ring 3 (it raises #UD or leaves
 * CPL at 3), but exceptions arrive intact, so trap_dispatch() recognises
 * that #UD, abandons the ring-3 frame and resumes ring3_call() in ring 0
 * with the value in %rdi, like a longjmp. Interrupts stay disabled (IF=0)
 * while ring 3 runs, so nothing else leaves it.
 */
    .code64
    .text

    .macro ISR num
isr_\num:
    .if (\num == 8) || ((\num >= 10) && (\num <= 14)) || (\num == 17) || (\num == 21) || (\num == 29) || (\num == 30)
    .else
    push $0
    .endif
    push $\num
    jmp isr_common
    .endm

    .altmacro
    .set vec, 0
    .rept 256
    ISR %vec
    .set vec, vec + 1
    .endr
    .noaltmacro

isr_common:
    push %rax
    push %rcx
    push %rdx
    push %rbx
    push %rbp
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    cld
    call trap_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rbp
    pop %rbx
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp
    iretq

/* u64 ring3_call(ring3_fn fn, u64 arg): BSP only (one saved context). */
    .globl ring3_call
ring3_call:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    pushf
    mov %rsp, ring3_saved_rsp(%rip)
    push $0x23                      /* SS: ring-3 data */
    push $user_stack_top            /* RSP */
    push $0x2                       /* RFLAGS: IF=0, IOPL=0 */
    push $0x2b                      /* CS: ring-3 code64 */
    push $user_trampoline           /* RIP */
    mov %rdi, %rax
    mov %rsi, %rdi
    iretq
ring3_return:
    mov $0x10, %ecx
    mov %ecx, %ds
    mov %ecx, %es
    mov %ecx, %ss
    mov ring3_saved_rsp(%rip), %rsp
    popf
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

/* Runs in ring 3. */
user_trampoline:
    call *%rax
    mov %rax, %rdi
    .globl ring3_exit
ring3_exit:
    ud2

/* void ring3_resume(u64 value): from trap_dispatch, back into ring3_call. */
    .globl ring3_resume
ring3_resume:
    mov %rdi, %rax
    jmp ring3_return

    .section .rodata
    .balign 8
    .globl isr_table
    .macro ISRADDR num
    .quad isr_\num
    .endm
isr_table:
    .altmacro
    .set vec, 0
    .rept 256
    ISRADDR %vec
    .set vec, vec + 1
    .endr
    .noaltmacro

    .bss
    .balign 16
ring3_saved_rsp:
    .skip 8
    .balign 4096
user_stack:
    .skip 65536
user_stack_top:
    .globl trap_stack_top
trap_stack:
    .skip 8192
trap_stack_top:
