//! forkbomb: forks until the kernel says no (out of environments or out of
//! memory), reports the error, then tells every child to exit and exits
//! itself. Afterwards every page the children used must be free again.
//!
//! The children do not fork: each one just blocks in `ipc_recv` (costing
//! the scheduler nothing) until the parent's message tells it to exit.
#![no_std]
#![no_main]

use abi::env::{EnvId, NENV};
use abi::mmu::PteFlags;
use core::ptr::addr_of_mut;
use jos::{cprintf, ipc_recv, ipc_send};

jos::main!(umain);

/// The ids of the children, in order.
static mut CHILDREN: [EnvId; NENV] = [0; NENV];

/// A child: waits for the word, then exits.
fn child() {
    if let Err(e) = ipc_recv(None) {
        panic!("ipc_recv: {e}");
    }
}

fn umain(_args: &[&str]) {
    // SAFETY: the only reference to CHILDREN; each child has its own
    // (copy-on-write) copy and never uses it.
    let children = unsafe { &mut *addr_of_mut!(CHILDREN) };
    let mut n = 0;
    let err = loop {
        if n == children.len() {
            panic!("forked {n} children and the kernel never refused");
        }
        match jos::fork() {
            Ok(0) => return child(),
            Ok(id) => {
                children[n] = id;
                n += 1;
                if n % 256 == 0 {
                    cprintf!("forkbomb: {} children\n", n);
                }
            }
            Err(e) => break e,
        }
    };
    cprintf!("forkbomb: fork failed after {} children: {}\n", n, err);
    for &id in &children[..n] {
        ipc_send(id, 0, None, PteFlags::empty());
    }
    cprintf!("forkbomb: told {} children to exit\n", n);
}
