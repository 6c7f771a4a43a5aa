//! badsegment: loads selector 0x28 (the TSS, not a data segment) into DS;
//! the CPU raises General Protection with error code 0x28.
#![no_std]
#![no_main]

use core::arch::asm;

jos::main!(umain);

fn umain(_args: &[&str]) {
    // SAFETY: the load faults before DS changes; the kernel destroys us.
    unsafe {
        asm!(
            "movw $0x28, %ax",
            "movw %ax, %ds",
            out("ax") _,
            options(att_syntax, nomem, nostack),
        )
    };
}
