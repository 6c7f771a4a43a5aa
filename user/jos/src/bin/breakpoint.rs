//! breakpoint: executes `int $3`; the kernel prints the trap frame and
//! enters the monitor (the environment is not destroyed).
#![no_std]
#![no_main]

use core::arch::asm;

jos::main!(umain);

fn umain(_args: &[&str]) {
    // SAFETY: the breakpoint trap goes to the kernel monitor; if the
    // monitor continues us, execution resumes after the instruction. The
    // two one-byte `nop`s after it are what `stepi` in the monitor steps
    // over (grade.py checks one byte per step), whatever code the compiler
    // puts around the block.
    unsafe { asm!("int $3", "nop", "nop", options(att_syntax, nomem, nostack)) };
}
