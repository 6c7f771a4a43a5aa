//! faultbadhandler: maps an exception stack but registers 0xdeadbeef, an
//! unmapped address, as the page-fault upcall, then faults. The kernel
//! runs the "upcall", which faults again with the exception stack in use,
//! and so on until the stack runs out; it must end up destroying us.
#![no_std]
#![no_main]

use abi::memlayout::UXSTACKTOP;
use abi::mmu::{PGSIZE, PTE_RW};
use jos::syscall::{sys_env_set_pgfault_upcall, sys_page_alloc};

jos::main!(umain);

fn umain(_args: &[&str]) {
    let perm = PTE_RW;
    if let Err(e) = sys_page_alloc(0, UXSTACKTOP - PGSIZE, perm) {
        panic!("sys_page_alloc: {e}");
    }
    if let Err(e) = sys_env_set_pgfault_upcall(0, 0xdeadbeef) {
        panic!("sys_env_set_pgfault_upcall: {e}");
    }
    let p = core::ptr::without_provenance_mut::<u32>(0);
    // SAFETY: not safe: this faults on purpose.
    unsafe { core::ptr::write_volatile(p, 0) };
}
