//! stackoverflow: unbounded recursion ends the environment cleanly, and
//! nothing else suffers.
//!
//! With stack growth on (limit 10 pages), the parent forks:
//! - a child that recurses forever: its stack grows to the limit, then the
//!   first touch of the guard zone below prints
//!   `[envid] user stack overflow at va <va>` and the child exits;
//! - a child whose page-fault handler faults again, forever: each nested
//!   fault takes more of the one-page exception stack, until it runs into
//!   the empty guard page below it: the exception stack has a guard of its
//!   own. Either the kernel finds no room there for the next frame (its
//!   `user_mem_check` line) and destroys the child, or the handler's own
//!   push faults in the guard page, which no handler takes (the library's
//!   `unhandled page fault` line) and the child exits.
//!
//! The parent waits for each child to be gone, then grows its own stack to
//! eight pages and prints `stackoverflow: parent still fine`.
#![no_std]
#![no_main]

use abi::trap::UTrapframe;
use core::hint::black_box;
use core::ptr::read_volatile;
use jos::cprintf;
use jos::pgfault::{Fault, add_region};
use jos::syscall::sys_getenvid;
use jos::vm::stack::{enable_stack_growth, stack_limit, stack_pages};
use user::child::fork_child;

jos::main!(umain);

/// Recurses `depth` more times (forever if `forever`) with a 256-byte
/// frame that the next call reads, so no call can be turned into a loop;
/// returns a sum of the frames.
#[inline(never)]
fn recurse(depth: u32, forever: bool, parent: &[u8; 256]) -> u32 {
    let frame = black_box([parent[0].wrapping_add(1); 256]);
    if depth == 0 && !forever {
        return frame[0] as u32;
    }
    let below = recurse(depth.wrapping_sub(1), forever, &frame);
    below.wrapping_add(frame[255] as u32)
}

/// Where the second child's handler keeps faulting: never mapped.
const NOWHERE: usize = 0x3000_0000;

/// The second child's handler: touches its own unmapped region again, so
/// each fault nests inside the last one on the exception stack.
fn fault_again(utf: &mut UTrapframe) -> Fault {
    // SAFETY: not safe: NOWHERE is unmapped, this faults on purpose, into
    // this handler again.
    let v = unsafe { read_volatile(utf.utf_fault_va as usize as *const u32) };
    black_box(v);
    Fault::Handled
}

/// The first child: recursion without end.
fn overflow_stack() {
    cprintf!(
        "stackoverflow: child {:08x} recursing forever\n",
        sys_getenvid()
    );
    recurse(0, true, &[0; 256]);
    cprintf!("stackoverflow: UNEXPECTED: the recursion returned\n");
}

/// The second child: a page-fault handler that faults forever.
fn overflow_exception_stack() {
    cprintf!(
        "stackoverflow: child {:08x} faulting in its fault handler forever\n",
        sys_getenvid()
    );
    if let Err(e) = add_region(NOWHERE, NOWHERE + 4096, "nowhere", fault_again) {
        panic!("add_region: {e}");
    }
    // SAFETY: not safe: faults on purpose, see fault_again.
    let v = unsafe { read_volatile(NOWHERE as *const u32) };
    black_box(v);
    cprintf!("stackoverflow: UNEXPECTED: the fault returned\n");
}

fn umain(_args: &[&str]) {
    if let Err(e) = enable_stack_growth() {
        panic!("enable_stack_growth: {e}");
    }
    cprintf!(
        "stackoverflow: stack limit {} pages, parent {:08x}\n",
        stack_limit(),
        sys_getenvid()
    );
    for f in [overflow_stack as fn(), overflow_exception_stack] {
        let child = fork_child(f);
        jos::env::wait(child);
        cprintf!("stackoverflow: child {:08x} is gone\n", child);
    }
    // About 28 KiB of frames: the parent's own stack still grows.
    let sum = recurse(100, false, &[0; 256]);
    cprintf!(
        "stackoverflow: parent still fine (recursed 100 deep, {} stack pages, sum {})\n",
        stack_pages(),
        sum
    );
}
