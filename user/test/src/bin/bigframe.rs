//! bigframe: a function whose frame is larger than a page must not jump a
//! guard. Stack probes (`"stack-probes"` in i686-jos.json) make every such
//! function touch its frame a page at a time, top down, so the first page
//! it touches below its stack is the guard, whatever the frame's size.
//!
//! Two cases, each ending the environment (the parent forks one child per
//! case and waits for it):
//!
//! 1. The normal stack, growth on (limit 10 pages, a 16-page guard zone
//!    below). A function with a 128 KiB frame is called: without probes it
//!    moves ESP past the whole guard zone at once and writes a byte there,
//!    into `VICTIM_PAGES` pages the child mapped below the guard zone, and
//!    returns as if nothing happened (the child then prints `FAILED: ...
//!    wrote below the guard`). With probes, the stack grows to its limit,
//!    page by page, and the first probe in the guard zone prints
//!    `[envid] user stack overflow at va <va>`: the child exits.
//! 2. The exception stack (one page at UXSTACKTOP - PGSIZE, the empty guard
//!    page below it). A page-fault handler calls a function with an 8 KiB
//!    frame: without probes it writes into the normal stack's top page
//!    below the guard (and the environment goes wrong in some way); with
//!    probes, the probe faults in the guard page with ESP there, the kernel
//!    finds no room for the nested frame (`user_mem_check assertion
//!    failure`) and destroys the child.
//!
//! The parent then prints `bigframe: OK` (it only checks that each child
//! is gone; the grader checks how each one ended).
#![no_std]
#![no_main]

use abi::memlayout::USTACKTOP;
use abi::mmu::{PGSIZE, PTE_RW};
use abi::trap::UTrapframe;
use core::hint::black_box;
use core::mem::MaybeUninit;
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::syscall::sys_page_alloc;
use jos::vm::stack::{GUARD_PAGES, enable_stack_growth, stack_limit};
use user::child::run_child;

jos::main!(umain);

/// The frame of case 1: more than the stack's limit and guard zone.
const BIG: usize = 128 << 10;

/// The frame of case 2: more than the exception stack.
const HANDLER_FRAME: usize = 8 << 10;

/// Pages mapped below the stack's guard zone in case 1.
const VICTIM_PAGES: usize = 16;

/// What the victim pages hold.
const PATTERN: u8 = 0x5A;

/// A function with an `N`-byte frame: writes the frame's lowest byte (the
/// first one a big frame reaches) and lets the compiler see the frame
/// escape, so it is really there. Returns that byte.
#[inline(never)]
fn big_frame<const N: usize>() -> u8 {
    let mut buf = MaybeUninit::<[u8; N]>::uninit();
    let p = buf.as_mut_ptr() as *mut u8;
    // SAFETY: p is the first byte of our own local array.
    unsafe { write_volatile(p, 0xA5) };
    black_box(&mut buf);
    // SAFETY: as above; written just now.
    unsafe { read_volatile(p) }
}

/// Case 1: a 128 KiB frame on the normal stack.
fn stack_case() {
    if let Err(e) = enable_stack_growth() {
        panic!("enable_stack_growth: {e}");
    }
    let guard_lo = USTACKTOP - (stack_limit() + GUARD_PAGES) * PGSIZE;
    let victim = guard_lo - VICTIM_PAGES * PGSIZE;
    let perm = PTE_RW;
    for i in 0..VICTIM_PAGES {
        let va = victim + i * PGSIZE;
        if let Err(e) = sys_page_alloc(0, va, perm) {
            panic!("mapping the victim page at {va:08x}: {e}");
        }
        // SAFETY: just mapped, writable.
        unsafe { (va as *mut u8).write_bytes(PATTERN, PGSIZE) };
    }
    cprintf!(
        "bigframe: stack: calling a {} KiB frame, guard zone {:08x}-{:08x}, victims below\n",
        BIG >> 10,
        guard_lo,
        guard_lo + GUARD_PAGES * PGSIZE
    );
    black_box(big_frame::<BIG>());
    let changed = (0..VICTIM_PAGES * PGSIZE)
        // SAFETY: the victim pages are mapped.
        .find(|i| unsafe { read_volatile((victim + i) as *const u8) } != PATTERN);
    match changed {
        Some(i) => cprintf!(
            "bigframe: stack: FAILED: the {} KiB frame wrote below the guard, at {:08x}\n",
            BIG >> 10,
            victim + i
        ),
        None => cprintf!(
            "bigframe: stack: FAILED: the {} KiB frame returned\n",
            BIG >> 10
        ),
    }
}

/// Case 2's handler: runs on the exception stack, calls an 8 KiB frame,
/// then maps the faulting page.
fn handler(utf: &mut UTrapframe) {
    black_box(big_frame::<HANDLER_FRAME>());
    let va = utf.utf_fault_va as usize & !(PGSIZE - 1);
    if let Err(e) = sys_page_alloc(0, va, PTE_RW) {
        panic!("handler: mapping {va:08x}: {e}");
    }
}

/// Where case 2 faults: never mapped, in no region.
const NOWHERE: usize = 0x3000_0000;

/// Case 2: an 8 KiB frame in a page-fault handler.
fn handler_case() {
    if let Err(e) = jos::set_pgfault_handler(handler) {
        panic!("set_pgfault_handler: {e}");
    }
    cprintf!(
        "bigframe: handler: calling a {} KiB frame on the exception stack\n",
        HANDLER_FRAME >> 10
    );
    // SAFETY: not safe: NOWHERE is unmapped; the fault goes to `handler`.
    let v = unsafe { read_volatile(NOWHERE as *const u32) };
    cprintf!(
        "bigframe: handler: FAILED: the handler returned (read {:08x})\n",
        v
    );
}

fn umain(_args: &[&str]) {
    run_child(stack_case);
    run_child(handler_case);
    cprintf!("bigframe: OK\n");
}
