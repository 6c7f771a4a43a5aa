//! faultdie: a page-fault handler that reports the fault and destroys the
//! environment; then a write to 0xdeadbeef.
#![no_std]
#![no_main]

use abi::trap::UTrapframe;
use jos::cprintf;
use jos::syscall::{sys_env_destroy, sys_getenvid};

jos::main!(umain);

fn handler(utf: &mut UTrapframe) {
    cprintf!(
        "i faulted at va {:x}, err {:x}\n",
        utf.utf_fault_va,
        utf.utf_err & 7
    );
    let _ = sys_env_destroy(sys_getenvid());
}

fn umain(_args: &[&str]) {
    if let Err(e) = jos::set_pgfault_handler(handler) {
        panic!("set_pgfault_handler: {e}");
    }
    // JOS's `*(unsigned*)0xDeadBeef = 0`: a 4-byte store to an unaligned,
    // unmapped address. Written in assembly because a Rust pointer write
    // would first (rightly) panic on the misalignment.
    // SAFETY: not safe: this faults on purpose, into `handler`.
    unsafe {
        core::arch::asm!("movl $0, ({0})", in(reg) 0xdeadbeef_usize, options(att_syntax, nostack))
    };
}
