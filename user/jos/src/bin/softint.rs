//! softint: raises interrupt 14 (Page Fault) with `int $14` from user mode.
//! The IDT gate's DPL is 0, so the CPU raises General Protection instead.
#![no_std]
#![no_main]

use core::arch::asm;

jos::main!(umain);

fn umain(_args: &[&str]) {
    // SAFETY: the trap goes to the kernel, which destroys us.
    unsafe { asm!("int $14", options(att_syntax, nomem, nostack)) };
}
