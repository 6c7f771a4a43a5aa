//! faultalloc: a page-fault handler that maps a page at the faulting
//! address and writes a string there. Printing the strings at 0xdeadbeef
//! and 0xcafebffe faults them in; the second string crosses into the next
//! page, so its handler faults again, on the exception stack.
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

/// Copies the NUL-terminated string at raw address `va` into `buf` (at
/// most `buf.len() - 1` bytes) and returns it; reading may page-fault.
fn read_cstr(va: usize, buf: &mut [u8]) -> &str {
    let mut n = 0;
    while n + 1 < buf.len() {
        // SAFETY: reads of unmapped memory fault into our handler, which
        // maps the page; nothing else refers to that memory.
        let b = unsafe { core::ptr::read_volatile((va + n) as *const u8) };
        if b == 0 {
            break;
        }
        buf[n] = b;
        n += 1;
    }
    core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>")
}

jos::main!(umain);

fn umain(_args: &[&str]) {
    if let Err(e) = jos::set_pgfault_handler(handler) {
        panic!("set_pgfault_handler: {e}");
    }
    let mut buf = [0u8; 100];
    cprintf!("{}\n", read_cstr(0xdeadbeef, &mut buf));
    cprintf!("{}\n", read_cstr(0xcafebffe, &mut buf));
}
