//! The network system calls (JOS's lab 6 puts its driver in the kernel,
//! with these two calls; see the README's "Network"): a frame copied from
//! the caller into the E1000's transmit ring, a frame copied out of its
//! receive ring. One copy per frame each way, between the caller's memory
//! and a kernel buffer the card reads or wrote by DMA; no user page is
//! ever given to the card (e1000.rs).
//!
//! Who may call them: while a network server runs (an ENV_TYPE_NS env,
//! neither free nor dying), only it and the envs below it in the env tree
//! (the input and output helpers it forked; `env::net_side`): anyone else
//! gets E_BAD_ENV, so no program can take the frames meant for the server
//! (other programs' TCP data) or put forged ones on the wire behind its
//! back. With no network server (MIT's TEST_NO_NS runs of net_testoutput
//! and net_testinput, and our driver tests) any environment may, as in
//! JOS. A caller cannot make the kernel or the card touch memory that is
//! not its own, and every error is a return value.
//!
//! The `try` calls never wait: a full transmit ring and an empty receive
//! ring are E_AGAIN. sys_net_receive waits while the receive ring is empty
//! (ipc.rs's `Wait::NetRecv`), woken by the card's receive interrupt
//! ([`net_intr`]); the network server's input helper uses it, so an idle
//! network costs no CPU. Transmit has no waiting form: QEMU's card sends a
//! frame the moment TDT moves, so its ring is never full (the README's
//! "Network" says what was measured, and what real hardware would need).
use crate::klock::Kernel;
use crate::syscall::{page_in, restart_syscall};
use crate::{env, ipc, sched};
use abi::error::{Error, Result};
use abi::mmu::PteFlags;
use abi::net::MAX_FRAME;
use abi::syscall::Syscall;

/// Whether the calling env may use the card (see the module's doc: the
/// network server and its helpers while a server runs, anyone without
/// one). Returns Err(BadEnv) if it may not.
fn may_use_card(k: &Kernel) -> Result<()> {
    let me = k.cur();
    if env::net_server(k).is_none() || env::net_side(k, me) {
        Ok(())
    } else {
        Err(Error::BadEnv)
    }
}

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
/// is full (nothing was taken: send it again), NotSupp without a card,
/// BadEnv for a caller that may not use the card (see the module's doc).
pub fn sys_net_try_transmit(k: &mut Kernel, va: usize, len: usize) -> Result<u32> {
    may_use_card(k)?;
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
/// a card; BadEnv for a caller that may not use the card (the module's
/// doc: nothing taken).
pub fn sys_net_try_receive(k: &mut Kernel, va: usize, len: usize) -> Result<u32> {
    may_use_card(k)?;
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

/// Copies the next frame received into the caller's buffer, as
/// sys_net_try_receive, but when none waits the caller waits (not
/// runnable) until the card's receive interrupt, and then makes the same
/// call again: it returns only with a frame or an error (Inval, Fault as
/// sys_net_try_receive; BadEnv, at once, for a caller that may not use
/// the card). NotSupp without a card, or for a card whose
/// interrupt line the kernel does not use (nothing would wake the caller:
/// poll with sys_net_try_receive then). A wait ended otherwise (the
/// caller stopped by its parent, given new registers or destroyed) leaves
/// no trace: a stopped caller makes the call again when it runs again.
pub fn sys_net_receive(k: &mut Kernel, va: usize, len: usize) -> Result<u32> {
    may_use_card(k)?;
    if crate::e1000::e1000_irq().is_none() {
        return Err(Error::NotSupp);
    }
    match sys_net_try_receive(k, va, len) {
        Err(Error::Again) => {}
        r => return r,
    }
    // Nothing there: wait, the call set to be made again (its arguments
    // are still in edx and ecx). The kernel lock is held from the look at
    // the ring until the caller waits, and the interrupt takes it too: a
    // frame that arrives meanwhile wakes the caller.
    let me = k.cur();
    restart_syscall(&mut k[me].env_tf, Syscall::NetReceive.number());
    ipc::net_wait(k, me);
    sched::sched_yield(k);
}

/// The E1000's interrupt: acknowledges it (reading ICR lowers the line)
/// and, if the card received something (or is running out of receive
/// descriptors, or has overrun), wakes every env waiting in
/// sys_net_receive. No frame is touched here: the woken envs take them.
/// The caller acknowledges the interrupt controller.
pub fn net_intr(k: &mut Kernel) {
    let cause = crate::e1000::e1000_intr();
    if cause & crate::e1000::RX_INTRS != 0 {
        ipc::net_wake_all(k);
    }
}
