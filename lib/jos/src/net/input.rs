//! The input helper (JOS's net/input.c): frames from the card to the
//! network server.
use crate::syscall::{
    sys_ipc_send, sys_net_receive, sys_net_try_receive, sys_page_alloc, sys_yield,
};
use abi::env::EnvId;
use abi::error::{Error, Result};
use abi::mmu::PteFlags;
use abi::net::{INPUT_PKT_VA, JP_DATA, JifPkt, MAX_FRAME, NSREQ_INPUT};

/// The input environment's body: receives each frame into a fresh page
/// (a `jif_pkt` at INPUT_PKT_VA) and sends it to `ns_envid` as
/// NSREQ_INPUT, waiting until the server takes it (frames meanwhile wait
/// in the card's ring). A fresh page per frame, because the server keeps
/// reading the page it got after the send returns (JOS's input must not
/// overwrite it). While the ring is empty it waits in the kernel
/// (sys_net_receive: not runnable until the card's receive interrupt), so
/// an idle network costs no CPU; only without the card's interrupt does
/// it poll (yielding). Out of memory (every free page taken by others) it
/// waits, yielding, until a page is free again: frames meanwhile wait in
/// the card's ring, and the last are dropped by the card when it fills.
/// Returns when `ns_envid` is gone, or the card cannot be used.
pub fn input(ns_envid: EnvId) {
    let perm = PteFlags::P | PteFlags::U | PteFlags::W;
    let mut short = false;
    loop {
        match sys_page_alloc(0, INPUT_PKT_VA, perm) {
            Ok(()) => short = false,
            Err(Error::NoMem) => {
                if !short {
                    crate::cprintf!("input: out of memory: waiting for a free page\n");
                    short = true;
                }
                if crate::env::env_status(ns_envid) == abi::env::ENV_FREE {
                    return;
                }
                sys_yield();
                continue;
            }
            Err(e) => {
                crate::cprintf!("input: sys_page_alloc: {}\n", e);
                return;
            }
        }
        // SAFETY: the page just mapped at INPUT_PKT_VA is ours alone until
        // it is sent; the frame's bytes start at JP_DATA, MAX_FRAME of
        // them fit in the page.
        let buf = unsafe {
            core::slice::from_raw_parts_mut((INPUT_PKT_VA + JP_DATA) as *mut u8, MAX_FRAME)
        };
        let len = match receive(buf) {
            Ok(n) => n,
            Err(e) => {
                crate::cprintf!("input: receive: {}\n", e);
                return;
            }
        };
        // SAFETY: as above; the head of the page.
        unsafe { (INPUT_PKT_VA as *mut JifPkt).write_volatile(JifPkt { jp_len: len as i32 }) };
        loop {
            match sys_ipc_send(ns_envid, NSREQ_INPUT, INPUT_PKT_VA, perm) {
                Ok(()) => break,
                // No memory to map the page in the server: try again.
                Err(Error::NoMem) => sys_yield(),
                Err(_) => return, // the server is gone
            }
        }
    }
}

/// Copies the next frame received into `buf` and returns its length,
/// waiting for one: in the kernel (sys_net_receive), or, if the kernel
/// does not use the card's interrupt, by polling, yielding. Err(Inval) for
/// a frame longer than `buf`, Err(NotSupp) without a card.
pub fn receive(buf: &mut [u8]) -> Result<usize> {
    match sys_net_receive(buf) {
        Err(Error::NotSupp) => {}
        r => return r,
    }
    loop {
        match sys_net_try_receive(buf) {
            Err(Error::Again) => sys_yield(),
            r => return r,
        }
    }
}
