//! Trap entry and exit (JOS's kern/trapentry.S and env_pop_tf).
//!
//! Every vector has a stub that makes the stack look the same: the CPU has
//! pushed (ss, esp if from user mode,) eflags, cs, eip and, for some
//! exceptions, an error code; the stub pushes a zero error code where the
//! CPU did not, then the trap number, and jumps to `_alltraps`, which pushes
//! the rest of a `Trapframe` (ds, es, then pushal) and calls `trap(tf)`.
//!
//! ```text
//!   high  ss, esp        (only from user mode)
//!         eflags, cs, eip
//!         err            (CPU or stub)
//!         trapno         (stub)
//!         ds, es         (_alltraps)
//!   low   eax ecx edx ebx oesp ebp esi edi   (pushal)  <- tf
//! ```
use abi::trap::Trapframe;
use core::arch::global_asm;

global_asm!(
    r#"
    .macro TRAPHANDLER num
    .text
    .balign 4
    .globl trap_vector_\num
trap_vector_\num:
    .if (\num == 8) || (\num >= 10 && \num <= 14) || (\num == 17)
    .else
    pushl $0                    /* no error code from the CPU */
    .endif
    pushl $\num
    jmp _alltraps
    .endm

    .irp num, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49
    TRAPHANDLER \num
    .endr

    .text
_alltraps:
    pushl %ds
    pushl %es
    pushal
    movw ${kd}, %ax             /* kernel data segments */
    movw %ax, %ds
    movw %ax, %es
    pushl %esp                  /* trap(tf) */
    call trap
1:  jmp 1b                      /* trap never returns */

    /* env_pop_tf(tf): restore a Trapframe and leave the kernel. */
    .globl env_pop_tf
env_pop_tf:
    movl 4(%esp), %esp
    popal
    popl %es
    popl %ds
    addl $8, %esp               /* trapno and err */
    iret

    /* The table of stub addresses, for the IDT. */
    .section .rodata
    .balign 4
    .globl trap_vectors
trap_vectors:
    .irp num, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49
    .long trap_vector_\num
    .endr
"#,
    kd = const abi::trap::GD_KD,
    options(att_syntax)
);

/// Number of stubs: vectors 0 through T_KICK (49).
pub const NVECTORS: usize = 50;

unsafe extern "C" {
    /// Entry stub addresses for vectors 0..NVECTORS.
    pub static trap_vectors: [usize; NVECTORS];
    /// Restores `tf` and returns to it with `iret`.
    pub fn env_pop_tf(tf: *const Trapframe) -> !;
}
