//! The output helper (JOS's net/output.c): frames from the network server
//! to the card.
use crate::ipc::{Message, ipc_recv_from};
use crate::syscall::{sys_net_try_transmit, sys_page_alloc, sys_page_unmap, sys_yield};
use abi::env::EnvId;
use abi::error::{Error, Result};
use abi::mmu::PTE_RW;
use abi::net::{JP_DATA, JifPkt, NSREQ_OUTPUT, OUTPUT_PKT_VA, jp_len_ok};

/// Sends one frame through the card, waiting (yielding the CPU) while
/// the transmit ring is full: a frame is never dropped for want of room.
/// Err(Inval) for a length of 0 or over abi::net::MAX_FRAME, Err(NotSupp)
/// without a card.
pub fn transmit(frame: &[u8]) -> Result<()> {
    loop {
        match sys_net_try_transmit(frame) {
            Err(Error::Again) => sys_yield(),
            r => return r,
        }
    }
}

/// The output environment's body: takes NSREQ_OUTPUT requests from
/// `ns_envid` alone (a closed receive: anyone else's message waits
/// unread) and transmits the frame of each (`jif_pkt` page at
/// OUTPUT_PKT_VA). A request with another value, without a page, or
/// with a bad length is skipped with a line on the console; a transmit
/// that fails is said and the helper goes on. Returns when `ns_envid` is
/// gone.
///
/// The helper holds no page between frames: each request's page is
/// unmapped once the card has its bytes (the kernel copies them), and
/// the page table that maps OUTPUT_PKT_VA is made at start. Otherwise
/// the first frame ever sent would leave two pages here for good (the
/// last frame's page, kept until the next one replaced it, and that
/// table), and a page count around a program's first use of the network
/// (the DSM programs') would see them as leaked.
pub fn output(ns_envid: EnvId) {
    // The page table, now: a page mapped and unmapped leaves it. Without
    // memory now, the first request's mapping makes it instead.
    if sys_page_alloc(0, OUTPUT_PKT_VA, PTE_RW).is_ok() {
        let _ = sys_page_unmap(0, OUTPUT_PKT_VA);
    }
    loop {
        let msg = match ipc_recv_from(ns_envid, Some(OUTPUT_PKT_VA)) {
            Ok(m) => m,
            Err(Error::BadEnv) => return, // the server is gone
            Err(_) => {
                // Anything else (none is expected): the server is still
                // there, so the helper stays, and tries again.
                sys_yield();
                continue;
            }
        };
        if msg.perm.is_empty() {
            skipped(&msg);
            continue;
        }
        if msg.value == NSREQ_OUTPUT {
            transmit_page();
        } else {
            skipped(&msg);
        }
        let _ = sys_page_unmap(0, OUTPUT_PKT_VA);
    }
}

/// Says that request `msg` (not NSREQ_OUTPUT, or without a page) is
/// skipped.
fn skipped(msg: &Message) {
    crate::cprintf!(
        "output: request {} from {:08x} without a packet page: skipped\n",
        msg.value,
        msg.from
    );
}

/// Transmits the frame of the request's page, mapped at OUTPUT_PKT_VA.
fn transmit_page() {
    // SAFETY: the caller has a page mapped at OUTPUT_PKT_VA, page-aligned,
    // so a JifPkt is readable there.
    let jp_len = unsafe { (OUTPUT_PKT_VA as *const JifPkt).read_volatile() }.jp_len;
    let Some(len) = jp_len_ok(jp_len) else {
        crate::cprintf!("output: packet of bad length {}: skipped\n", jp_len);
        return;
    };
    // SAFETY: len <= MAX_FRAME < PGSIZE - JP_DATA: inside the page.
    // The server may still write its page meanwhile; the kernel copies
    // what is there then (a frame it garbled is its own).
    let frame = unsafe { core::slice::from_raw_parts((OUTPUT_PKT_VA + JP_DATA) as *const u8, len) };
    if let Err(e) = transmit(frame) {
        crate::cprintf!("output: transmit: {}\n", e);
    }
}
