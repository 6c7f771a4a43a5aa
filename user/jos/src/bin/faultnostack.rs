//! faultnostack: registers the page-fault upcall without mapping an
//! exception stack, then faults. The kernel must notice that it cannot
//! push the UTrapframe (`user_mem_check assertion failure for va eebfff..`)
//! and destroy us.
#![no_std]
#![no_main]

use jos::pgfault::pgfault_upcall_addr;
use jos::syscall::sys_env_set_pgfault_upcall;

jos::main!(umain);

fn umain(_args: &[&str]) {
    if let Err(e) = sys_env_set_pgfault_upcall(0, pgfault_upcall_addr()) {
        panic!("sys_env_set_pgfault_upcall: {e}");
    }
    let p = core::ptr::without_provenance_mut::<u32>(0);
    // SAFETY: not safe: this faults on purpose.
    unsafe { core::ptr::write_volatile(p, 0) };
}
