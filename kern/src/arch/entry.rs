//! The kernel's first instructions: the multiboot headers, the entry page
//! directory, and the jump to the high half (JOS's kern/entry.S).
//!
//! Both loaders jump to `_start` in 32-bit protected mode with paging off:
//!
//! | loader | eax | ebx |
//! |---|---|---|
//! | QEMU `-kernel` (multiboot v1) | 0x2BADB002 | physical address of the v1 info |
//! | GRUB `multiboot2` | 0x36D76289 | physical address of the v2 info |
//!
//! The kernel is linked at KERNBASE + 1 MiB but loaded at 1 MiB, so until
//! paging is on, every address the code uses must be made physical by
//! subtracting KERNBASE (what JOS's `RELOC(x)` macro does). `entry_pgdir` maps virtual [0, 4 MiB) and
//! [KERNBASE, KERNBASE + 4 MiB) to physical [0, 4 MiB): the low mapping keeps
//! the next instruction fetch working right after paging is turned on, the
//! high one is where the kernel runs. `pmap` replaces it with the real
//! kernel page directory.
//!
//! `switch_stack` is the last step of entry, for the boot CPU and the APs
//! alike: it moves a CPU from its first stack onto its own kernel stack.

use abi::memlayout::KERNBASE;
use core::arch::global_asm;

/// Size of the boot CPU's stack (KSTKSIZE).
pub const BOOT_STACK_SIZE: usize = 8 * 4096;

global_asm!(
    r#"
    .set KERNBASE, 0xF0000000
    .set MB1_MAGIC, 0x1BADB002
    .set MB1_FLAGS, 0x00000003          /* page-align modules, give memory info */
    .set MB2_MAGIC, 0xE85250D6

/* ---- Multiboot headers: the linker script puts them first in the file. ---- */
    .section .multiboot, "a"
    .balign 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)

    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long 0                             /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + (mb2_header_end - mb2_header))
    /* tag 6: page-align modules */
    .short 6, 0
    .long 8
    /* end tag */
    .short 0, 0
    .long 8
mb2_header_end:

/* ---- Entry point (runs at physical addresses, paging off). ---- */
    .section .text.entry, "ax"
    .globl _start, entry
_start:
entry:
    movw $0x1234, 0x472                 /* BIOS: warm boot on reset */

    /* Keep the loader's magic and info pointer for i386_init. */
    movl %eax, %edi
    movl %ebx, %esi

    /* Load the physical address of entry_pgdir and turn on paging. */
    movl $(entry_pgdir - KERNBASE), %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80010001, %eax               /* CR0_PE | CR0_PG | CR0_WP */
    movl %eax, %cr0

    /* Paging is on, but EIP is still low: jump up to KERNBASE. */
    movl $relocated, %eax
    jmp *%eax
relocated:
    /* A zero frame pointer ends backtraces here. */
    movl $0, %ebp
    movl $bootstacktop, %esp

    pushl %esi                          /* multiboot info (physical) */
    pushl %edi                          /* loader magic */
    call i386_init
1:  hlt
    jmp 1b

/* ---- The entry page table and directory. ---- */
    .section .data.entry_pgdir, "aw"
    .balign 4096
    .globl entry_pgtable, entry_pgdir
entry_pgtable:                          /* physical [0, 4 MiB), present + writable */
    .set i, 0
    .rept 1024
    .long (i * 4096) | 0x003
    .set i, i + 1
    .endr
entry_pgdir:
    .long (entry_pgtable - KERNBASE) + 0x003   /* [0, 4 MiB) */
    .fill 959, 4, 0
    .long (entry_pgtable - KERNBASE) + 0x003   /* [KERNBASE, KERNBASE + 4 MiB) */
    .fill 63, 4, 0

/* ---- The boot CPU's kernel stack. ---- */
    .section .bss.bootstack, "aw", @nobits
    .balign 4096
    .globl bootstack, bootstacktop
bootstack:
    .space {stack_size}
bootstacktop:
"#,
    stack_size = const BOOT_STACK_SIZE,
    options(att_syntax)
);

unsafe extern "C" {
    /// The entry page directory (1024 PDEs), defined above.
    pub static mut entry_pgdir: [u32; 1024];
    /// Lowest address of the boot CPU's stack.
    pub static bootstack: u8;
    /// One past the highest address of the boot CPU's stack.
    pub static bootstacktop: u8;
}

/// Moves onto the stack whose top is `top` and calls `f` there: how the boot
/// CPU (`init`) and each AP (`mpentry`) leave their first stack for their
/// guarded kernel stack. Never returns.
///
/// # Safety
/// `top` must be the top of a mapped, unused stack; nothing on the current
/// stack may be used again.
pub unsafe fn switch_stack(top: usize, f: extern "C" fn() -> !) -> ! {
    debug_assert!(top <= KERNBASE);
    // SAFETY: the caller guarantees the stack; f never returns.
    unsafe {
        core::arch::asm!(
            "movl {top}, %esp",
            "movl $0, %ebp",
            "call *{f}",
            top = in(reg) top,
            f = in(reg) f,
            options(att_syntax, noreturn)
        )
    }
}
