//! The output helper (JOS's net/output.c): frames from the network server
//! to the card.
use crate::ipc::ipc_recv_from;
use crate::syscall::{sys_net_try_transmit, sys_yield};
use abi::env::EnvId;
use abi::error::{Error, Result};
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
/// that fails is said and the helper goes on (it needs no memory of its
/// own: the page is the server's). Returns when `ns_envid` is gone.
pub fn output(ns_envid: EnvId) {
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
        if msg.value != NSREQ_OUTPUT || msg.perm.is_empty() {
            crate::cprintf!(
                "output: request {} from {:08x} without a packet page: skipped\n",
                msg.value,
                msg.from
            );
            continue;
        }
        // SAFETY: a page was just mapped at OUTPUT_PKT_VA (perm not
        // empty), page-aligned, so a JifPkt is readable there.
        let jp_len = unsafe { (OUTPUT_PKT_VA as *const JifPkt).read_volatile() }.jp_len;
        let Some(len) = jp_len_ok(jp_len) else {
            crate::cprintf!("output: packet of bad length {}: skipped\n", jp_len);
            continue;
        };
        // SAFETY: len <= MAX_FRAME < PGSIZE - JP_DATA: inside the page.
        // The server may still write its page meanwhile; the kernel copies
        // what is there then (a frame it garbled is its own).
        let frame =
            unsafe { core::slice::from_raw_parts((OUTPUT_PKT_VA + JP_DATA) as *const u8, len) };
        if let Err(e) = transmit(frame) {
            crate::cprintf!("output: transmit: {}\n", e);
        }
    }
}
