//! The network system calls (JOS's lab 6 puts its driver in the kernel,
//! with these two calls; see the README's "Network"): a frame copied from
//! the caller into the E1000's transmit ring, a frame copied out of its
//! receive ring. One copy per frame each way, between the caller's memory
//! and a kernel buffer the card reads or wrote by DMA; no user page is
//! ever given to the card (e1000.rs).
//!
//! Who may call them: any environment, as in JOS (MIT's net_testoutput and
//! net_testinput call them from ordinary user envs, and so do the network
//! server's input and output helpers). A caller can so send any frame and
//! take any frame received; it cannot make the kernel or the card touch
//! memory that is not its own, and every error is a return value.
//!
//! Neither call waits: a full transmit ring and an empty receive ring are
//! E_AGAIN, and the caller (the library's helpers) yields and tries again.
use crate::env;
use crate::klock::Kernel;
use crate::syscall::page_in;
use abi::error::{Error, Result};
use abi::mmu::PteFlags;
use abi::net::MAX_FRAME;

/// Checks that the caller may access [va, va + len) with `perm` (U added);
/// Err(Fault) if not (after letting its pager serve a page it pages, in
/// which case the call is made again and this does not return).
fn check_user(k: &mut Kernel, va: usize, len: usize, perm: PteFlags) -> Result<()> {
    let me = k.cur();
    if let Err(bad) = env::user_mem_check(k, me, va, len, perm | PteFlags::U) {
        page_in(k, me, bad, perm.contains(PteFlags::W));
        return Err(Error::Fault);
    }
    Ok(())
}

/// Sends the frame of `len` bytes at user address `va` (copied into the
/// next free transmit buffer; the card adds the CRC and pads short frames
/// to 60 bytes). Returns 0; Inval for a length of 0 or over MAX_FRAME
/// (1518), Fault if the caller cannot read the range, Again when the ring
/// is full (nothing was taken: send it again), NotSupp without a card.
pub fn sys_net_try_transmit(k: &mut Kernel, va: usize, len: usize) -> Result<u32> {
    if len == 0 || len > MAX_FRAME {
        return Err(Error::Inval);
    }
    check_user(k, va, len, PteFlags::empty())?;
    let me = k.cur();
    crate::e1000::e1000_transmit(len, |buf| {
        env::user_copy_in(k, me, va, buf).map_err(|_| Error::Fault)
    })?;
    Ok(0)
}

/// Copies the next frame received into the caller's buffer [va, va + len)
/// and returns its length (1..=MAX_FRAME; the CRC stripped). Again when no
/// frame waits; Inval if the buffer is shorter than the frame (which
/// stays, first in line: a buffer of MAX_FRAME bytes always does); Fault
/// if the caller cannot write the buffer (nothing taken); NotSupp without
/// a card.
pub fn sys_net_try_receive(k: &mut Kernel, va: usize, len: usize) -> Result<u32> {
    check_user(k, va, len, PteFlags::W)?;
    let me = k.cur();
    crate::e1000::e1000_receive(|frame| {
        if frame.len() > len {
            return Err(Error::Inval);
        }
        env::user_copy_out(k, me, va, frame).map_err(|_| Error::Fault)?;
        Ok(frame.len() as u32)
    })
}
