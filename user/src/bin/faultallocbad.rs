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
    // Writes at most 99 bytes of text at `addr`, then a NUL.
    struct FaultIn {
        addr: usize,
        n: usize,
    }
    impl FaultIn {
        fn put(&mut self, b: u8) {
            if self.n < 99 {
                // SAFETY: the page at `addr` was just mapped; a byte past
                // its end faults into this handler again, which maps that
                // page.
                unsafe { core::ptr::write_volatile((self.addr + self.n) as *mut u8, b) };
                self.n += 1;
            }
        }
    }
    impl core::fmt::Write for FaultIn {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            s.bytes().for_each(|b| self.put(b));
            Ok(())
        }
    }
    let mut w = FaultIn { addr, n: 0 };
    let _ = core::fmt::Write::write_fmt(
        &mut w,
        format_args!("this string was faulted in at {addr:x}"),
    );
    w.put(0);
}

jos::main!(umain);

fn umain(_args: &[&str]) {
    if let Err(e) = jos::set_pgfault_handler(handler) {
        panic!("set_pgfault_handler: {e}");
    }
    jos::syscall::sys_cputs_raw(0xdeadbeef, 4);
}
