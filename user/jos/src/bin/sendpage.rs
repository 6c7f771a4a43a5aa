//! sendpage: parent and child exchange a page of text through IPC: the
//! parent sends a page at 0xa00000, the child receives it at 0xb00000,
//! checks it, writes its answer there and sends the page back.
#![no_std]
#![no_main]

use abi::mmu::PTE_RW;
use jos::syscall::sys_page_alloc;
use jos::{cprintf, ipc_recv, ipc_send};

jos::main!(umain);

const TEMP_ADDR: usize = 0xa0_0000;
const TEMP_ADDR_CHILD: usize = 0xb0_0000;

const STR1: &str = "hello child environment! how are you?";
const STR2: &str = "hello parent environment! I'm good.";

/// The page at `va` as bytes.
fn page(va: usize) -> &'static mut [u8; 4096] {
    // SAFETY: only called on a page we just mapped (by sys_page_alloc or
    // through ipc_recv), with no other reference to it.
    unsafe { &mut *(va as *mut [u8; 4096]) }
}

/// Writes `s` and a NUL at the start of `buf`.
fn put_str(buf: &mut [u8], s: &str) {
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
}

/// The NUL-terminated string at the start of `buf`.
fn get_str(buf: &[u8]) -> &str {
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>")
}

fn umain(_args: &[&str]) {
    let who = match jos::fork() {
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    if who == 0 {
        let m = match ipc_recv(Some(TEMP_ADDR_CHILD)) {
            Ok(m) => m,
            Err(e) => panic!("ipc_recv: {e}"),
        };
        let buf = page(TEMP_ADDR_CHILD);
        cprintf!("{:x} got message: {}\n", m.from, get_str(buf));
        if get_str(buf).starts_with(STR1) {
            cprintf!("child received correct message\n");
        }
        put_str(buf, STR2);
        ipc_send(m.from, 0, Some(TEMP_ADDR_CHILD), PTE_RW);
        return;
    }
    if let Err(e) = sys_page_alloc(0, TEMP_ADDR, PTE_RW) {
        panic!("sys_page_alloc: {e}");
    }
    put_str(page(TEMP_ADDR), STR1);
    ipc_send(who, 0, Some(TEMP_ADDR), PTE_RW);
    let m = match ipc_recv(Some(TEMP_ADDR)) {
        Ok(m) => m,
        Err(e) => panic!("ipc_recv: {e}"),
    };
    let buf = page(TEMP_ADDR);
    cprintf!("{:x} got message: {}\n", m.from, get_str(buf));
    if get_str(buf).starts_with(STR2) {
        cprintf!("parent received correct message\n");
    }
}
