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
        "i faulted at va %x, err %x\n",
        utf.utf_fault_va,
        utf.utf_err & 7
    );
    let _ = sys_env_destroy(sys_getenvid());
}

fn umain(_args: &[&str]) {
    jos::set_pgfault_handler(handler);
    let p = core::ptr::without_provenance_mut::<u32>(0xdeadbeef);
    // SAFETY: not safe: this faults on purpose, into `handler`.
    unsafe { core::ptr::write_volatile(p, 0) };
}
