//! divzero: divides by zero; the CPU's Divide error trap must reach the
//! kernel, which destroys us before the result is printed.
#![no_std]
#![no_main]

use core::arch::asm;
use jos::cprintf;

jos::main!(umain);

/// Divides with the `divl` instruction itself: Rust's `/` checks for zero
/// and panics instead of letting the CPU trap.
fn hardware_div(dividend: u32, divisor: u32) -> u32 {
    let quotient: u32;
    // SAFETY: divl only touches EAX and EDX; a zero divisor raises #DE,
    // which the kernel handles (by destroying this environment).
    unsafe {
        asm!(
            "divl {d}",
            d = in(reg) divisor,
            inlateout("eax") dividend => quotient,
            inlateout("edx") 0u32 => _,
            options(att_syntax, nomem, nostack),
        );
    }
    quotient
}

fn umain(_args: &[&str]) {
    // The compiler cannot see that this is zero.
    let zero = core::hint::black_box(0u32);
    cprintf!("1/0 is {:08x}!\n", hardware_div(1, zero));
}
