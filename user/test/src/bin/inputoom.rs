//! inputoom: the network server's input helper out of memory (review
//! finding 2, grade/net.py). No network server: we stand in for one, as
//! JOS's testinput does: fork `jos::net::input(us)`, take one frame, then
//! hold every page an ordinary env may take, so the helper's page for the
//! next frame cannot be had; take the frame it may still have, wait a
//! second (the host sends frames all along), give the memory back, and
//! see whether the helper is still there and sends frames again. Before
//! the fix it printed `input: sys_page_alloc: out of memory` and exited.
//! Verdict: `inputoom: OK` or `inputoom: BUG`.
#![no_std]
#![no_main]

use abi::mmu::{PGSIZE, PTE_RW};
use abi::net::{NSREQ_INPUT, REQVA};
use jos::cprintf;
use jos::syscall::{sys_ipc_recv, sys_page_alloc, sys_page_unmap};

jos::main!(umain);

const HOARD: usize = 0x2000_0000;
const HOARD_MAX: usize = 40_000;

/// Receives one message; returns whether it is a frame from `helper`.
fn take_frame(helper: abi::env::EnvId) -> bool {
    if sys_ipc_recv(REQVA).is_err() {
        return false;
    }
    let e = jos::env::thisenv_read();
    let ok = e.env_ipc_from == helper && e.env_ipc_value == NSREQ_INPUT;
    let _ = sys_page_unmap(0, REQVA);
    ok
}

fn umain(_args: &[&str]) {
    let me = jos::env::thisenv_id();
    let helper = match jos::fork() {
        Ok(0) => {
            jos::net::input(me);
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    // REQVA's page table made now, while memory is plentiful.
    sys_page_alloc(0, REQVA, PTE_RW).expect("REQVA");
    let _ = sys_page_unmap(0, REQVA);
    cprintf!("inputoom: waiting for frames\n");
    cprintf!("inputoom: first frame: {}\n", take_frame(helper));
    let mut n = 0;
    while n < HOARD_MAX && sys_page_alloc(0, HOARD + n * PGSIZE, PTE_RW).is_ok() {
        n += 1;
    }
    cprintf!("inputoom: holding {} pages\n", n);
    // The helper's page for the frame it was waiting for: taken, and it
    // finds no page for the next one.
    take_frame(helper);
    jos::time::sleep_msec(1000);
    for i in 0..n {
        let _ = sys_page_unmap(0, HOARD + i * PGSIZE);
    }
    jos::time::sleep_msec(200);
    let alive = jos::env::env_status(helper) != abi::env::ENV_FREE;
    cprintf!("inputoom: memory given back; helper there: {}\n", alive);
    if alive && take_frame(helper) {
        cprintf!("inputoom: OK: the helper waited for memory and sends frames again\n");
    } else {
        cprintf!("inputoom: BUG: the helper is gone\n");
    }
}
