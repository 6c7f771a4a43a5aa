//! net_testoutput (JOS's lab-6 net/testoutput.c): stands in for the
//! network server: forks the output helper (jos::net::output) and sends
//! it TESTOUTPUT_COUNT packets, `Packet 00`, `Packet 01`, ..., each on a
//! fresh jif_pkt page, as NSREQ_OUTPUT; MIT's grader then finds exactly
//! those frames, in order, in qemu.pcap.
//!
//! The count is JOS's compile-time TESTOUTPUT_COUNT (10 when not given):
//! here the kernel command-line word `TESTOUTPUT_COUNT=N`, which the
//! GNUmakefile makes from `NET_CFLAGS=-DTESTOUTPUT_COUNT=N` (MIT's
//! grade-lab6 passes that), so no rebuild is needed.
#![no_std]
#![no_main]

use abi::mmu::{PGSIZE, PteFlags};
use abi::net::{JP_DATA, JifPkt, NSREQ_OUTPUT, REQVA};
use jos::syscall::{sys_page_alloc, sys_page_unmap, sys_yield};
use jos::{cprintf, snprintf};

jos::main!(umain);

/// JOS's default count.
const TESTOUTPUT_COUNT: u32 = 10;

fn umain(_args: &[&str]) {
    let ns_envid = jos::env::thisenv_id();
    let count = jos::kargs::kargs()
        .arg_u32("TESTOUTPUT_COUNT")
        .unwrap_or(TESTOUTPUT_COUNT);

    let output_envid = match jos::fork() {
        Err(e) => panic!("error forking: {}", e),
        Ok(0) => {
            jos::net::output(ns_envid);
            return;
        }
        Ok(id) => id,
    };

    let perm = PteFlags::P | PteFlags::U | PteFlags::W;
    for i in 0..count {
        if let Err(e) = sys_page_alloc(0, REQVA, perm) {
            panic!("sys_page_alloc: {}", e);
        }
        // SAFETY: the page just mapped at REQVA is ours until it is sent.
        let data = unsafe {
            core::slice::from_raw_parts_mut((REQVA + JP_DATA) as *mut u8, PGSIZE - JP_DATA)
        };
        let len = snprintf!(data, "Packet {:02}", i);
        // SAFETY: as above; the page's head.
        unsafe { (REQVA as *mut JifPkt).write_volatile(JifPkt { jp_len: len as i32 }) };
        cprintf!("Transmitting packet {}\n", i);
        jos::ipc_send(output_envid, NSREQ_OUTPUT, Some(REQVA), perm);
        if let Err(e) = sys_page_unmap(0, REQVA) {
            panic!("sys_page_unmap: {}", e);
        }
    }

    // Spin for a while, just in case IPCs or packets need to be flushed
    // (JOS's).
    for _ in 0..count * 2 {
        sys_yield();
    }
}
