//! The input helper (JOS's net/input.c): frames from the card to the
//! network server.
use crate::syscall::{sys_ipc_send, sys_net_try_receive, sys_page_alloc, sys_yield};
use abi::env::EnvId;
use abi::error::Error;
use abi::mmu::PteFlags;
use abi::net::{INPUT_PKT_VA, JP_DATA, JifPkt, MAX_FRAME, NSREQ_INPUT};

/// The input environment's body: receives each frame into a fresh page
/// (a `jif_pkt` at INPUT_PKT_VA) and sends it to `ns_envid` as
/// NSREQ_INPUT, waiting until the server takes it (frames meanwhile wait
/// in the card's ring). A fresh page per frame, because the server keeps
/// reading the page it got after the send returns (JOS's input must not
/// overwrite it). Polls the ring, yielding, while it is empty. Returns
/// when `ns_envid` is gone, or memory is out.
pub fn input(ns_envid: EnvId) {
    let perm = PteFlags::P | PteFlags::U | PteFlags::W;
    loop {
        if let Err(e) = sys_page_alloc(0, INPUT_PKT_VA, perm) {
            crate::cprintf!("input: sys_page_alloc: {}\n", e);
            return;
        }
        // SAFETY: the page just mapped at INPUT_PKT_VA is ours alone until
        // it is sent; the frame's bytes start at JP_DATA, MAX_FRAME of
        // them fit in the page.
        let buf = unsafe {
            core::slice::from_raw_parts_mut((INPUT_PKT_VA + JP_DATA) as *mut u8, MAX_FRAME)
        };
        let len = loop {
            match sys_net_try_receive(buf) {
                Ok(n) => break n,
                Err(Error::Again) => sys_yield(),
                Err(e) => {
                    crate::cprintf!("input: receive: {}\n", e);
                    return;
                }
            }
        };
        // SAFETY: as above; the head of the page.
        unsafe { (INPUT_PKT_VA as *mut JifPkt).write_volatile(JifPkt { jp_len: len as i32 }) };
        if sys_ipc_send(ns_envid, NSREQ_INPUT, INPUT_PKT_VA, perm).is_err() {
            return; // the server is gone
        }
    }
}
