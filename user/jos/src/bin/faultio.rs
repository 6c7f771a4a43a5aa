//! faultio: an ordinary environment may not use I/O ports (JOS's
//! user/faultio.c). Only the file-system server runs with IOPL 3; here the
//! `outb` that would select disk 1 must be a General Protection fault, and
//! the kernel destroys us before the line after it.
#![no_std]
#![no_main]

use jos::cprintf;

jos::main!(umain);

/// IOPL, bits 12-13 of EFLAGS.
const FL_IOPL_MASK: u32 = 0x3000;

fn umain(_args: &[&str]) {
    let eflags: u32;
    // SAFETY: pushfl/popl only read EFLAGS through the stack.
    unsafe {
        core::arch::asm!("pushfl", "popl {}", out(reg) eflags, options(att_syntax));
    }
    if eflags & FL_IOPL_MASK != 0 {
        cprintf!("eflags wrong\n");
    }
    // SAFETY: a port write; the kernel must not allow it.
    unsafe {
        core::arch::asm!("outb %al, %dx", in("dx") 0x1F6u16, in("al") 0xF0u8, options(att_syntax, nomem, nostack));
    }
    cprintf!("faultio: made it here --- bug\n");
}
