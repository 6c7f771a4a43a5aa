// make: FS=1 NS=1
//! nsinput (review PoC): a frame that arrives while an ordinary env holds
//! every free page ends the network server's input helper for good
//! (lib/jos/src/net/input.rs: `sys_page_alloc` fails, it prints and
//! returns, and the helper exits): the server receives no frame again,
//! though the memory comes back. Binds UDP port 7 (the host's
//! 127.0.0.1:GDBPORT+1), takes every page for 4 s while the host sends
//! datagrams, gives them back, then counts the host's datagrams for 5 s.
//! Prints the status of each of the server's helpers before and after.
//! Needs the host to send UDP datagrams to 127.0.0.1:GDBPORT+1 throughout
//! (e.g. 20 a second from the start of the boot). The verdict:
//! `nsinput: OK` (every helper still there, datagrams received after) or
//! `nsinput: BUG`.
#![no_std]
#![no_main]

use abi::mmu::{PGSIZE, PTE_RW};
use abi::nsipc::*;
use jos::cprintf;
use jos::net::nsipc::{NSIPCBUF, nsenv};
use jos::net::{NetAddr, bind, recvfrom_timeout, socket};

use jos::syscall::{sys_page_alloc, sys_page_unmap};

jos::main!(umain);

const HOARD: usize = 0x2000_0000;
const HOARD_MAX: usize = 40_000;

/// Prints the server's helpers that exist; returns how many.
fn helpers(ns: abi::env::EnvId, when: &str) -> usize {
    let mut n = 0;
    for e in jos::env::envs() {
        if e.env_parent_id == ns && jos::env::env_status(e.env_id) != abi::env::ENV_FREE {
            cprintf!(
                "nsinput: {}: helper {:08x} status {}\n",
                when,
                e.env_id,
                jos::env::env_status(e.env_id)
            );
            n += 1;
        }
    }
    n
}

fn count(s: usize, msec: u32) -> u32 {
    let mut buf = [0u8; 256];
    let mut n = 0;
    let start = jos::syscall::sys_time_msec();
    while jos::syscall::sys_time_msec().wrapping_sub(start) < msec {
        if recvfrom_timeout(s, &mut buf, 200).is_ok() {
            n += 1;
        }
    }
    n
}

fn umain(_args: &[&str]) {
    let ns = nsenv().expect("nsinput: no network server");
    let s = socket(PF_INET, SOCK_DGRAM, 0).expect("socket");
    bind(s, NetAddr::new([0; 4], 7)).expect("bind 7");
    let before = helpers(ns, "before");
    cprintf!(
        "nsinput: datagrams from the host before: {}\n",
        count(s, 1500)
    );
    sys_page_alloc(0, NSIPCBUF, PTE_RW).expect("request page");
    let mut n = 0;
    while n < HOARD_MAX && sys_page_alloc(0, HOARD + n * PGSIZE, PTE_RW).is_ok() {
        n += 1;
    }
    cprintf!("nsinput: holding {} pages: memory exhausted\n", n);
    jos::time::sleep_msec(2000);
    for i in 0..n {
        let _ = sys_page_unmap(0, HOARD + i * PGSIZE);
    }
    cprintf!(
        "nsinput: memory given back; server status {}\n",
        jos::env::env_status(ns)
    );
    let after = helpers(ns, "after");
    // What the server had queued before (the socket's buffer) is not new.
    let mut buf = [0u8; 256];
    let mut old = 0;
    while jos::net::recvfrom_nowait(s, &mut buf).is_ok() {
        old += 1;
    }
    cprintf!("nsinput: {} datagrams queued before, drained\n", old);
    let got = count(s, 2000);
    cprintf!("nsinput: datagrams from the host after: {}\n", got);
    if after == before && got > 0 {
        cprintf!("nsinput: OK: the helpers live and frames come in again\n");
    } else {
        cprintf!(
            "nsinput: BUG: {} of {} helpers left, {} datagrams after\n",
            after,
            before,
            got
        );
    }
}
