//! faultallocbad: installs faultalloc's handler, then hands the unmapped
//! address 0xdeadbeef to `sys_cputs`. The kernel does not take page faults
//! on behalf of the user: it must refuse the pointer and destroy us.
#![no_std]
#![no_main]

use abi::mmu::{PGSIZE, PTE_RW, round_down};
use abi::trap::UTrapframe;
use jos::cprintf;
use jos::syscall::sys_page_alloc;

/// Maps a page at the faulting address and writes
/// `this string was faulted in at <va>` there (at most 100 bytes, NUL
/// included). Writing may fault again, into the next page.
fn handler(utf: &mut UTrapframe) {
    let addr = utf.utf_fault_va as usize;
    cprintf!("fault {:x}\n", addr);
    let perm = PTE_RW;
    if let Err(e) = sys_page_alloc(0, round_down(addr, PGSIZE), perm) {
        panic!("allocating at {addr:x} in page fault handler: {e}");
    }
    // SAFETY: the page at `addr` was just mapped; a byte past its end
    // faults into this handler again, which maps that page.
    unsafe {
        user::rawfmt::write_cstr_at(
            addr,
            100,
            format_args!("this string was faulted in at {addr:x}"),
        )
    };
}

jos::main!(umain);

fn umain(_args: &[&str]) {
    if let Err(e) = jos::set_pgfault_handler(handler) {
        panic!("set_pgfault_handler: {e}");
    }
    jos::syscall::sys_cputs_raw(0xdeadbeef, 4);
}
