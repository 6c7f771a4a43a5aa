// make: FS=1
//! testpteshare: a PTE_SHARE page stays shared across fork and spawn
//! (JOS's user/testpteshare.c): the child's write is seen by the parent.
#![no_std]
#![no_main]

use abi::mmu::{PTE_RW, PteFlags};
use jos::cprintf;
use jos::syscall::sys_page_alloc;

jos::main!(umain);

/// The shared page.
const VA: usize = 0xA000_0000;
const MSG: &[u8] = b"hello, world\n\0";
const MSG2: &[u8] = b"goodbye, world\n\0";

/// Writes `s` (with its NUL) at VA.
fn put(s: &[u8]) {
    // SAFETY: VA is our shared page (mapped in umain before any fork or
    // spawn); `s` is shorter than a page.
    unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), VA as *mut u8, s.len()) };
}

/// Whether VA holds `s` (with its NUL).
fn holds(s: &[u8]) -> bool {
    // SAFETY: as in `put`.
    unsafe { core::slice::from_raw_parts(VA as *const u8, s.len()) == s }
}

fn umain(args: &[&str]) {
    if !args.is_empty() {
        // The spawned copy.
        put(MSG2);
        jos::exit();
    }
    if let Err(e) = sys_page_alloc(0, VA, PTE_RW | PteFlags::SHARE) {
        panic!("sys_page_alloc: {e}");
    }
    let r = match jos::fork() {
        Ok(r) => r,
        Err(e) => panic!("fork: {e}"),
    };
    if r == 0 {
        put(MSG);
        jos::exit();
    }
    jos::env::wait(r);
    let ok = if holds(MSG) { "right" } else { "wrong" };
    cprintf!("fork handles PTE_SHARE {}\n", ok);

    let r = match jos::spawnl!("/testpteshare", "testpteshare", "arg") {
        Ok(r) => r,
        Err(e) => panic!("spawn: {e}"),
    };
    jos::env::wait(r);
    let ok = if holds(MSG2) { "right" } else { "wrong" };
    cprintf!("spawn handles PTE_SHARE {}\n", ok);
    // SAFETY: a breakpoint trap: the kernel monitor takes over.
    unsafe { core::arch::asm!("int3") };
}
