// make: FS=1 NS=1
//! nsoom (review PoC): an ordinary env takes every free page, then asks
//! the network server for a UDP socket. The server's heap must grow for
//! the socket's buffers; the library's allocator returns null and Rust's
//! allocation error handler panics: the server dies of a client's demand,
//! and after the memory is given back nobody has a network any more.
//! Prints the server's status after giving the memory back, then tries a
//! UDP datagram to ourselves (`nsoom: network ...`). The verdict is the
//! last line: `nsoom: OK` (the server lives and serves) or `nsoom: BUG`.
#![no_std]
#![no_main]

use abi::mmu::{PGSIZE, PTE_RW};
use abi::nsipc::*;
use jos::cprintf;
use jos::net::nsipc::{NSIPCBUF, nsenv};
use jos::net::{NetAddr, bind, recvfrom_timeout, sendto, socket};
use jos::syscall::{sys_page_alloc, sys_page_unmap};

jos::main!(umain);

const HOARD: usize = 0x2000_0000;
const HOARD_MAX: usize = 40_000;

fn umain(_args: &[&str]) {
    let ns = nsenv().expect("nsoom: no network server");
    // Our request page, and the page table of our descriptors, made first.
    sys_page_alloc(0, NSIPCBUF, PTE_RW).expect("request page");
    let fdva = abi::fsipc::FDTABLE + 31 * PGSIZE;
    sys_page_alloc(0, fdva, PTE_RW).expect("fd page table");
    let _ = sys_page_unmap(0, fdva);
    let mut n = 0;
    while n < HOARD_MAX && sys_page_alloc(0, HOARD + n * PGSIZE, PTE_RW).is_ok() {
        n += 1;
    }
    cprintf!("nsoom: holding {} pages: memory exhausted\n", n);
    let r = socket(PF_INET, SOCK_DGRAM, 0);
    cprintf!("nsoom: socket() with memory exhausted: {:?}\n", r);
    // More, until the server says no: its reserve runs out, and each
    // request must then be answered (E_NO_MEM), not end the server.
    let mut more = [0usize; 15];
    let mut made = 0;
    let mut last = Ok(0);
    while made < more.len() {
        last = socket(PF_INET, SOCK_DGRAM, 0);
        match last {
            Ok(s) => {
                more[made] = s;
                made += 1;
            }
            Err(_) => break,
        }
    }
    cprintf!(
        "nsoom: {} more sockets, then {:?}\n",
        made,
        last.map(|_| ())
    );
    for &s in &more[..made] {
        let _ = jos::fd::close(s);
    }
    if let Ok(s) = r {
        let _ = jos::fd::close(s);
    }
    for i in 0..n {
        let _ = sys_page_unmap(0, HOARD + i * PGSIZE);
    }
    jos::time::sleep_msec(200);
    cprintf!(
        "nsoom: memory given back; network server {:08x} status {}\n",
        ns,
        jos::env::env_status(ns)
    );
    let s = match socket(PF_INET, SOCK_DGRAM, 0) {
        Ok(s) => s,
        Err(e) => {
            cprintf!("nsoom: network dead: socket: {:?}\n", e);
            cprintf!("nsoom: BUG: the network server is gone\n");
            return;
        }
    };
    let _ = bind(s, NetAddr::new([0; 4], 7201));
    let _ = sendto(s, b"hello", NetAddr::new([127, 0, 0, 1], 7201));
    let mut buf = [0u8; 64];
    match recvfrom_timeout(s, &mut buf, 2000) {
        Ok((n, _)) => {
            cprintf!("nsoom: network alive: {} bytes back\n", n);
            cprintf!("nsoom: OK: the server survived the hoard and serves\n");
        }
        Err(e) => {
            cprintf!("nsoom: network dead: recvfrom: {:?}\n", e);
            cprintf!("nsoom: BUG: the network server does not serve\n");
        }
    }
}
