//! Waits: IPC between environments, an env waiting for its pager, an env
//! waiting for the network card, and an env asleep until a time.
//!
//! What an env waits for is one [`Wait`], kept here, kernel-side; the Env
//! shows it to users at UENVS through three fields, which [`set_wait`]
//! keeps in step (the ABI's view, never read back by the kernel):
//!
//! | `Wait`                       | `env_ipc_recving` | `env_ipc_send_to` | `env_pager_fault` |
//! |------------------------------|-------------------|-------------------|-------------------|
//! | `None`                       | 0                 | 0                 | 0                 |
//! | `Recv` (sys_ipc_recv, a call's answer) | 1       | 0                 | 0                 |
//! | `Send { to }`                | 0                 | `to`              | 0                 |
//! | `PagerQueued { pager, msg }` | 0                 | `pager`           | `msg`             |
//! | `PagerAnswer { msg }`        | 1                 | 0                 | `msg`             |
//! | `NetRecv`                    | 0                 | 0                 | 0                 |
//! | `Sleep { until }`            | 0                 | 0                 | 0                 |
//!
//! An env that waits is NOT_RUNNABLE. A wait ends by a delivery (the
//! message, the pager's answer), or by [`cancel`], the one way to end it
//! otherwise (the env stopped, given new registers or a new pager, or the
//! env it waits on freed: [`env_gone`]).
//!
//! Senders (`Send`, `PagerQueued`) wait in their receiver's send queue, first
//! come first served. The message's details stay where users read them: a
//! sender's `env_ipc_send_value/_va/_perm`, a receiver's `env_ipc_dstva` and
//! `env_ipc_recv_from` (a closed receive), the delivered `env_ipc_value`,
//! `_from`, `_perm`.
//!
//! The pager protocol (see `pager.rs` for when a fault goes to a pager): the
//! env sends its pager the message `page | PAGER_WAITING | err`, queued like
//! any send (`PagerQueued`); once the pager has received it, the env waits
//! for the answer alone (`PagerAnswer`). The answer is a `sys_ipc_try_send`
//! from the pager whose value is that message (plus `PAGER_NOMEM` to decline
//! for want of memory): its page is mapped at the faulting page and the env
//! retries the instruction, its registers and `env_ipc_*` message fields
//! untouched. The pager may answer while the fault is still queued.
//!
//! The network card (`net.rs`): an env in sys_net_receive that finds the
//! receive ring empty waits (`NetRecv`) with its system call already set
//! to be made again (eip back on the `int`): every way the wait ends, the
//! card's interrupt ([`net_wake_all`]), a stop, new registers, its death
//! ([`cancel`]), leaves it making the same call again, which takes a frame
//! if one is there and otherwise waits again. So a frame is only ever
//! taken out of the ring by a receive call, under the driver's lock: each
//! frame goes to one env, once, and none is lost while envs come and go.
//! Every waiter is woken at each interrupt (usually there is one, the
//! network server's input helper): those that find no frame left wait
//! again. Waking only as many as there are frames would leave a frame
//! unclaimed, with a waiter asleep, whenever a woken env is stopped or
//! killed before it runs.
//!
//! Sleeping (`sys_sleep_until`) works the same way: the env waits
//! (`Sleep`) with its call set to be made again; CPU 0's clock tick wakes
//! every sleeper whose time has come ([`wake_sleepers`]), and the call,
//! made again, returns once the time is reached. So a sleep ends early for
//! nothing (a stop, new registers) and never late by more than a tick.
use crate::klock::{EnvRef, KCell, Kernel};
use crate::pmap::{self, Page};
use abi::env::*;
use abi::error::{Error, Result};
use abi::memlayout::UTOP;
use abi::mmu::{PGSIZE, PteFlags};

/// What an env waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wait {
    /// Nothing: running, runnable, or stopped by its parent.
    None,
    /// A message: in sys_ipc_recv, or for the answer of its sys_ipc_call
    /// (`env_ipc_recv_from` says whose message it takes, 0 for anyone's).
    Recv,
    /// To deliver its message to `to`, in `to`'s send queue (sys_ipc_send,
    /// or the request of sys_ipc_call).
    Send { to: EnvId },
    /// Its page fault, message `msg`, is in its pager's send queue.
    PagerQueued { pager: EnvId, msg: u32 },
    /// Its pager has received the fault `msg`: it waits for the answer.
    PagerAnswer { msg: u32 },
    /// A frame from the network card: in sys_net_receive with the receive
    /// ring empty, its call to be made again once woken (see the module
    /// comment).
    NetRecv,
    /// The clock to reach `until` (sys_time_msec's milliseconds), in
    /// sys_sleep_until, its call to be made again once woken.
    Sleep { until: u32 },
}

/// Each env's wait, by env index.
static WAITS: KCell<[Wait; NENV]> = KCell::new([Wait::None; NENV]);

/// How many envs wait for the network card (`Wait::NetRecv` in WAITS),
/// kept by set_wait: the card's interrupt looks no further when it is 0,
/// and the scheduler halts rather than give up while it is not.
static NET_WAITERS: KCell<usize> = KCell::new(0);

/// How many envs sleep (`Wait::Sleep`), kept by set_wait: the clock tick
/// looks no further when it is 0.
static SLEEPERS: KCell<usize> = KCell::new(0);

/// What `e` waits for.
#[inline]
pub fn wait(k: &Kernel, e: EnvRef) -> Wait {
    WAITS.get(k)[slot(k, e)]
}

/// `e`'s index in WAITS: its env id's (a slot never used has id 0 and
/// waits for nothing; whatever WAITS[0] says is never asked of it).
#[inline]
fn slot(k: &Kernel, e: EnvRef) -> usize {
    k[e].env_id as usize & (NENV - 1)
}

/// Sets what `e` waits for, and the Env's view of it (see the table
/// above). Queues are the caller's business.
#[inline]
fn set_wait(k: &mut Kernel, e: EnvRef, w: Wait) {
    let i = slot(k, e);
    let was = core::mem::replace(&mut WAITS.get_mut(k)[i], w);
    match (was == Wait::NetRecv, w == Wait::NetRecv) {
        (false, true) => *NET_WAITERS.get_mut(k) += 1,
        (true, false) => *NET_WAITERS.get_mut(k) -= 1,
        _ => {}
    }
    let asleep = |w: Wait| matches!(w, Wait::Sleep { .. });
    match (asleep(was), asleep(w)) {
        (false, true) => *SLEEPERS.get_mut(k) += 1,
        (true, false) => *SLEEPERS.get_mut(k) -= 1,
        _ => {}
    }
    let env = &mut k[e];
    let (recving, send_to, fault) = match w {
        Wait::None => (0, 0, 0),
        Wait::Recv => (1, 0, 0),
        Wait::Send { to } => (0, to, 0),
        Wait::PagerQueued { pager, msg } => (0, pager, msg),
        Wait::PagerAnswer { msg } => (1, 0, msg),
        Wait::NetRecv | Wait::Sleep { .. } => (0, 0, 0),
    };
    env.env_ipc_recving = recving;
    env.env_ipc_send_to = send_to;
    env.env_pager_fault = fault;
}

/// Whether `e` waits for its pager (in either step).
#[inline]
pub fn waits_for_pager(k: &Kernel, e: EnvRef) -> bool {
    matches!(
        wait(k, e),
        Wait::PagerQueued { .. } | Wait::PagerAnswer { .. }
    )
}

/// Ends whatever wait `e` is in, without a message: it leaves any send
/// queue and waits for nothing. Returns the wait it was in. Its status,
/// registers and message fields are the caller's to set.
pub fn cancel(k: &mut Kernel, e: EnvRef) -> Wait {
    let w = wait(k, e);
    match w {
        Wait::Send { to } | Wait::PagerQueued { pager: to, .. } => {
            let me = envx(k[e].env_id);
            sendq_remove(k, envx(to), me);
        }
        Wait::None | Wait::Recv | Wait::PagerAnswer { .. } | Wait::NetRecv | Wait::Sleep { .. } => {
        }
    }
    set_wait(k, e, Wait::None);
    w
}

/// Makes `e`, whose wait just ended (its result in eax), runnable, unless
/// its parent stopped it during a closed receive (`env_ipc_held`): then it
/// stays stopped, with the result kept, until the parent makes it
/// runnable. With the parent gone, nobody could, so it runs.
#[inline]
pub fn wake(k: &mut Kernel, e: EnvRef) {
    if k[e].env_ipc_held != 0 && k.parent_alive(e) {
        return;
    }
    k[e].env_ipc_held = 0;
    if k[e].env_status == ENV_NOT_RUNNABLE {
        k.set_status(e, ENV_RUNNABLE);
    }
}

/// Ends `e`'s wait for its pager without an answer (stopped, redirected,
/// or its pager died) and makes it runnable: it retries the faulting
/// instruction.
pub fn retry(k: &mut Kernel, e: EnvRef) {
    cancel(k, e);
    k.set_status(e, ENV_RUNNABLE);
}

/// Whether `dst` takes the message `value` from `src` now. An env waiting
/// for its pager (in either step) takes only the answer to that fault:
/// from its pager, with the fault message as the value (so an answer to an
/// older fault, or any other message of the pager's, is not taken for it).
/// Any other env takes a message while it is receiving: anyone's, or in a
/// closed receive its one env's. `w` is `dst`'s wait (the caller has it
/// already: it goes on to [`deliver`]).
#[inline]
fn takes(k: &Kernel, w: Wait, dst: EnvRef, src: EnvRef, value: u32) -> bool {
    match w {
        Wait::PagerQueued { msg, .. } | Wait::PagerAnswer { msg } => {
            k[src].env_id == k[dst].env_pager && value & !PAGER_NOMEM == msg
        }
        Wait::Recv => accepts(k, dst, k[src].env_id),
        Wait::None | Wait::Send { .. } | Wait::NetRecv | Wait::Sleep { .. } => false,
    }
}

/// Whether `dst`'s receive, if it is receiving, takes a message from
/// `from`: an open receive takes anyone's, a closed one only its env's.
#[inline]
fn accepts(k: &Kernel, dst: EnvRef, from: EnvId) -> bool {
    let only = k[dst].env_ipc_recv_from;
    only == 0 || only == from
}

// ---------------------------------------------------------------------------
// Sending and receiving.

/// Checks a user page address: below UTOP and page-aligned.
pub fn check_va(va: usize) -> Result<()> {
    if va >= UTOP || !va.is_multiple_of(PGSIZE) {
        Err(Error::Inval)
    } else {
        Ok(())
    }
}

/// Checks permissions a user may ask for: U and P, and nothing outside
/// PTE_SYSCALL.
pub fn check_perm(perm: u32) -> Result<PteFlags> {
    let p = PteFlags::from_bits(perm).ok_or(Error::Inval)?;
    if !p.contains(PteFlags::U | PteFlags::P) || !PteFlags::SYSCALL.contains(p) {
        return Err(Error::Inval);
    }
    Ok(p)
}

/// Checks a page `src` offers to send: page-aligned, mapped, and `perm`
/// allowed (writable only if `src` has it writable). `srcva >= UTOP` means
/// no page. Returns the page and permissions to map, if any.
pub fn check_send_page(
    k: &mut Kernel,
    src: EnvRef,
    srcva: usize,
    perm: u32,
) -> Result<Option<(Page, PteFlags)>> {
    if srcva >= UTOP {
        return Ok(None);
    }
    check_va(srcva)?;
    let p = check_perm(perm)?;
    let (pg, pte) = pmap::page_lookup(k.pgdir_mut(src), srcva).ok_or(Error::Inval)?;
    // SAFETY: pte is a live PTE of src's directory.
    if p.contains(PteFlags::W) && !unsafe { *pte }.flags().contains(PteFlags::W) {
        return Err(Error::Inval);
    }
    Ok(Some((pg, p)))
}

/// Delivers a message from `src` to `dst`, which takes it ([`takes`]; `w`
/// is its wait): maps the page (if one is offered and wanted), records
/// value, sender and permissions, and makes `dst` runnable with result 0.
/// A pager's answer instead maps the page at the faulting page and has
/// `dst` retry its instruction.
fn deliver(
    k: &mut Kernel,
    src: EnvRef,
    dst: EnvRef,
    w: Wait,
    value: u32,
    srcva: usize,
    perm: u32,
) -> Result<()> {
    let page = check_send_page(k, src, srcva, perm)?;
    if let Wait::PagerQueued { msg, .. } | Wait::PagerAnswer { msg } = w {
        // The pager's answer to a page fault: the page goes where the fault
        // was, and nothing else of dst changes.
        let fault_page = (msg & !(PGSIZE as u32 - 1)) as usize;
        if let Some((pg, p)) = page {
            pmap::page_insert(k.pgdir_mut(dst), pg, fault_page, p)?;
        }
        // With no page, the env's next fault there goes to its own upcall
        // (marked FEC_NOMEM if the answer had PAGER_NOMEM).
        let nomem = if value & PAGER_NOMEM != 0 { 2 } else { 0 };
        k[dst].env_pager_declined = if page.is_some() {
            0
        } else {
            fault_page as u32 + 1 + nomem
        };
        // (Still in the pager's queue, in step 1, if it answered first.)
        retry(k, dst);
        return Ok(());
    }
    let mut sent_perm = 0;
    let dstva = k[dst].env_ipc_dstva as usize;
    if let Some((pg, p)) = page
        && dstva < UTOP
    {
        pmap::page_insert(k.pgdir_mut(dst), pg, dstva, p)?;
        sent_perm = p.bits();
    }
    set_wait(k, dst, Wait::None);
    let from = k[src].env_id;
    let d = &mut k[dst];
    d.env_ipc_recv_from = 0;
    d.env_ipc_from = from;
    d.env_ipc_value = value;
    d.env_ipc_perm = sent_perm;
    d.env_tf.tf_regs.reg_eax = 0;
    // A receiver blocked in sys_ipc_recv wakes up (unless its parent
    // stopped it); one served at once from the send queue is the caller,
    // still running.
    wake(k, dst);
    Ok(())
}

/// Pager `p` (receiving, and taking `e`'s message) gets `e`'s fault
/// message, and `e` waits for the answer.
fn deliver_fault(k: &mut Kernel, e: EnvRef, p: EnvRef, msg: u32) {
    let from = k[e].env_id;
    // (p's recv_from, if set, is e: it takes e's message.)
    set_wait(k, p, Wait::None);
    let pe = &mut k[p];
    pe.env_ipc_from = from;
    pe.env_ipc_value = msg;
    pe.env_ipc_perm = 0;
    pe.env_tf.tf_regs.reg_eax = 0;
    if pe.env_status == ENV_NOT_RUNNABLE {
        k.set_status(p, ENV_RUNNABLE);
    }
    set_wait(k, e, Wait::PagerAnswer { msg });
}

/// Sends the running env `e`'s page fault, message `msg`, to its pager
/// `p`: delivered now if `p` is receiving and takes it, else queued; `e`
/// stops running until the answer (see the module comment).
pub fn send_fault(k: &mut Kernel, e: EnvRef, p: EnvRef, msg: u32) {
    k.set_status(e, ENV_NOT_RUNNABLE);
    if wait(k, p) == Wait::Recv && accepts(k, p, k[e].env_id) {
        deliver_fault(k, e, p, msg);
    } else {
        let to = k[p].env_id;
        let env = &mut k[e];
        env.env_ipc_send_value = msg;
        env.env_ipc_send_va = UTOP as u32;
        env.env_ipc_send_perm = 0;
        set_wait(k, e, Wait::PagerQueued { pager: to, msg });
        let me = envx(k[e].env_id);
        sendq_push(k, envx(to), me);
    }
}

/// Delivers the message of `s`, blocked in sys_ipc_send or sys_ipc_call
/// (just taken out of `e`'s send queue), to `e`, receiving; or, if `s`
/// waits for its pager `e`, gives `e` the fault. A plain send ends (with
/// the delivery's result); a call's request taken goes on to wait for the
/// answer from `e` alone. Returns the delivery's result.
fn deliver_queued(k: &mut Kernel, s: EnvRef, e: EnvRef) -> Result<()> {
    if let Wait::PagerQueued { msg, .. } = wait(k, s) {
        // A page fault of an env we page: it now waits for our answer.
        deliver_fault(k, s, e, msg);
        return Ok(());
    }
    let (v, va, p) = {
        let se = &k[s];
        (
            se.env_ipc_send_value,
            se.env_ipc_send_va,
            se.env_ipc_send_perm,
        )
    };
    // (e is receiving: it took s out of its queue in recv.)
    let r = deliver(k, s, e, Wait::Recv, v, va as usize, p);
    if r.is_ok() && k[s].env_ipc_recv_from != 0 {
        // A call: its dstva and recv_from were set when it was made.
        set_wait(k, s, Wait::Recv);
    } else {
        set_wait(k, s, Wait::None);
        k[s].env_ipc_recv_from = 0;
        k[s].env_tf.tf_regs.reg_eax = match r {
            Ok(()) => 0,
            Err(err) => err.code() as u32,
        };
        wake(k, s);
    }
    r
}

/// sys_ipc_try_send's body: sends `value` (and the page at `srcva` if below
/// UTOP, with `perm`) from the running env `me` to `dst`, which must take it
/// now (else IpcNotRecv).
pub fn try_send(
    k: &mut Kernel,
    me: EnvRef,
    dst: EnvRef,
    value: u32,
    srcva: usize,
    perm: u32,
) -> Result<()> {
    let w = wait(k, dst);
    if !takes(k, w, dst, me, value) {
        return Err(Error::IpcNotRecv);
    }
    deliver(k, me, dst, w, value, srcva, perm)
}

/// The sending half of sys_ipc_send and sys_ipc_call: delivers the running
/// env `me`'s message to `dst` now if it takes it (Ok(true)), or, after
/// checking the page (so the error goes to the sender at once), puts `me`
/// in `dst`'s send queue with the message (Ok(false)); the caller then
/// blocks it. The delivery's or the page check's error otherwise.
pub fn send(
    k: &mut Kernel,
    me: EnvRef,
    dst: EnvRef,
    value: u32,
    srcva: usize,
    perm: u32,
) -> Result<bool> {
    let w = wait(k, dst);
    if takes(k, w, dst, me, value) {
        deliver(k, me, dst, w, value, srcva, perm)?;
        return Ok(true);
    }
    check_send_page(k, me, srcva, perm)?;
    let to = k[dst].env_id;
    set_wait(k, me, Wait::Send { to });
    let i = envx(k[me].env_id);
    sendq_push(k, envx(to), i);
    let env = &mut k[me];
    env.env_ipc_send_value = value;
    env.env_ipc_send_va = srcva as u32;
    env.env_ipc_send_perm = perm;
    Ok(false)
}

/// sys_ipc_call's waiting half, after [`send`] (`delivered`: whether the
/// request was taken at once): the running env `me` waits for the answer
/// from `dst` alone, its page mapped at `dstva`.
pub fn call_wait(k: &mut Kernel, me: EnvRef, dst: EnvRef, delivered: bool, dstva: usize) {
    let to = k[dst].env_id;
    if delivered {
        set_wait(k, me, Wait::Recv);
    }
    k[me].env_ipc_dstva = dstva as u32;
    k[me].env_ipc_recv_from = to;
    k.set_status(me, ENV_NOT_RUNNABLE);
    k[me].env_tf.tf_regs.reg_eax = 0;
}

/// sys_ipc_recv's body: the running env `e` receives, a page at `dstva`,
/// from `only` (0: anyone). A sender already queued to it (the one sender
/// of a closed receive, or the longest waiting) is served at once: true.
/// Else it blocks, NOT_RUNNABLE (false); the caller then schedules.
pub fn recv(k: &mut Kernel, e: EnvRef, dstva: usize, only: EnvId) -> bool {
    set_wait(k, e, Wait::Recv);
    k[e].env_ipc_dstva = dstva as u32;
    k[e].env_ipc_recv_from = only;
    let id = k[e].env_id;
    let me = envx(id);
    if only != 0 {
        // The one sender we take, if it is queued to us already.
        let s = EnvRef::at(envx(only));
        let queued = match wait(k, s) {
            Wait::Send { to } | Wait::PagerQueued { pager: to, .. } => to == id,
            _ => false,
        };
        if k[s].env_id == only && queued {
            sendq_remove(k, me, envx(only));
            if deliver_queued(k, s, e).is_ok() {
                return true;
            }
        }
    } else {
        while let Some(s) = sendq_pop(k, me).map(EnvRef::at) {
            if deliver_queued(k, s, e).is_ok() {
                return true;
            }
        }
    }
    k.set_status(e, ENV_NOT_RUNNABLE);
    false
}

/// `e` is being freed: every wait on it ends, and its own. Senders queued
/// to it fail with BadEnv (a page fault queued to it as the pager is
/// retried); envs waiting for its answer as their pager retry their
/// instruction; a closed receive from it (a call's answer) ends with
/// BadEnv. The envs it paged have no pager any more.
pub fn env_gone(k: &mut Kernel, e: EnvRef) {
    let id = k[e].env_id;
    while let Some(s) = sendq_pop(k, envx(id)).map(EnvRef::at) {
        // (Taken out of the queue already.)
        let w = wait(k, s);
        set_wait(k, s, Wait::None);
        if let Wait::PagerQueued { .. } = w {
            k.set_status(s, ENV_RUNNABLE);
        } else {
            k[s].env_tf.tf_regs.reg_eax = Error::BadEnv.code() as u32;
            k[s].env_ipc_recv_from = 0;
            wake(k, s);
        }
    }
    for i in 0..NENV {
        let w = EnvRef::at(i);
        if k[w].env_status == ENV_FREE {
            continue;
        }
        match wait(k, w) {
            Wait::PagerAnswer { .. } if k[w].env_pager == id => retry(k, w),
            Wait::Recv if k[w].env_ipc_recv_from == id => {
                set_wait(k, w, Wait::None);
                k[w].env_ipc_recv_from = 0;
                k[w].env_tf.tf_regs.reg_eax = Error::BadEnv.code() as u32;
                wake(k, w);
            }
            _ => {}
        }
        // Its pager is gone: the role goes with it. An id comes back once
        // its slot has been reused 2^19 times, and an env holding it then
        // must not answer, or map pages into (sys_pager_map), this env's
        // faults; these now go where an env with no pager's go.
        if k[w].env_pager == id {
            let env = &mut k[w];
            env.env_pager = 0;
            env.env_pager_lo = 0;
            env.env_pager_hi = 0;
            env.env_pager_key = 0;
            env.env_pager_declined = 0;
        }
    }
    // A sender itself leaves its receiver's queue.
    cancel(k, e);
}

// ---------------------------------------------------------------------------
// Waiting for the network card.

/// The running env `e`, whose system call is already set to be made again
/// (see the module comment), waits for a frame: NOT_RUNNABLE until
/// [`net_wake_all`] or [`cancel`]. The caller then schedules.
pub fn net_wait(k: &mut Kernel, e: EnvRef) {
    set_wait(k, e, Wait::NetRecv);
    k.set_status(e, ENV_NOT_RUNNABLE);
}

/// The card received something: every env waiting for a frame stops
/// waiting and is made runnable (its receive call is then made again).
/// Returns how many were woken.
pub fn net_wake_all(k: &mut Kernel) -> usize {
    let mut left = *NET_WAITERS.get(k);
    let mut woken = 0;
    let mut i = 0;
    while left > 0 && i < NENV {
        if WAITS.get(k)[i] == Wait::NetRecv {
            let e = EnvRef::at(i);
            left -= 1;
            set_wait(k, e, Wait::None);
            // (A waiter is NOT_RUNNABLE and runs nowhere: it left its CPU
            // when it began to wait, and a stop or a kill ends the wait.)
            if k[e].env_status == ENV_NOT_RUNNABLE {
                k.set_status(e, ENV_RUNNABLE);
                woken += 1;
            }
        }
        i += 1;
    }
    woken
}

/// Whether some env waits for a device (the network card) or the clock:
/// an interrupt can make it runnable, so a machine with nothing runnable
/// is idle, not finished.
#[inline]
pub fn device_waiters(k: &Kernel) -> bool {
    *NET_WAITERS.get(k) > 0 || *SLEEPERS.get(k) > 0
}

// ---------------------------------------------------------------------------
// Sleeping.

/// Whether the clock at `now` has reached `until` (both wrap after 49
/// days: a time up to 24 days ahead is in the future).
#[inline]
pub fn reached(now: u32, until: u32) -> bool {
    (now.wrapping_sub(until) as i32) >= 0
}

/// The running env `e`, whose system call is already set to be made
/// again, sleeps until the clock reaches `until`: NOT_RUNNABLE until
/// [`wake_sleepers`] or [`cancel`]. The caller then schedules.
pub fn sleep_wait(k: &mut Kernel, e: EnvRef, until: u32) {
    set_wait(k, e, Wait::Sleep { until });
    k.set_status(e, ENV_NOT_RUNNABLE);
}

/// The clock reads `now`: every env asleep until then or before wakes
/// (runnable; its sleep call, made again, returns). Called on each of CPU
/// 0's ticks; costs nothing while nobody sleeps.
pub fn wake_sleepers(k: &mut Kernel, now: u32) {
    let mut left = *SLEEPERS.get(k);
    let mut i = 0;
    while left > 0 && i < NENV {
        if let Wait::Sleep { until } = WAITS.get(k)[i] {
            left -= 1;
            if reached(now, until) {
                let e = EnvRef::at(i);
                set_wait(k, e, Wait::None);
                if k[e].env_status == ENV_NOT_RUNNABLE {
                    k.set_status(e, ENV_RUNNABLE);
                }
            }
        }
        i += 1;
    }
}

// ---------------------------------------------------------------------------
// The send queues.
//
// Each receiver (by env index) has a doubly linked list of the env indices
// of the senders waiting for it: O(1) to join, to take the oldest, and to
// leave (a sender woken, redirected or destroyed while it waits). A sender
// is in at most one queue, its receiver's (its `Wait`).

/// No env (the end of a list).
const NONE: u16 = u16::MAX;
const _: () = assert!(NENV < NONE as usize);

struct Queues {
    /// First and last sender waiting for receiver i.
    head: [u16; NENV],
    tail: [u16; NENV],
    /// Neighbours of sender i in its receiver's queue.
    next: [u16; NENV],
    prev: [u16; NENV],
}

static QUEUES: KCell<Queues> = KCell::new(Queues {
    head: [NONE; NENV],
    tail: [NONE; NENV],
    next: [NONE; NENV],
    prev: [NONE; NENV],
});

/// Puts sender `s` at the end of receiver `r`'s queue. `s` must be in no
/// queue.
fn sendq_push(k: &mut Kernel, r: usize, s: usize) {
    let q = QUEUES.get_mut(k);
    let t = q.tail[r];
    q.prev[s] = t;
    q.next[s] = NONE;
    if t == NONE {
        q.head[r] = s as u16;
    } else {
        q.next[t as usize] = s as u16;
    }
    q.tail[r] = s as u16;
}

/// Takes the sender that has waited longest for receiver `r`, if any.
fn sendq_pop(k: &mut Kernel, r: usize) -> Option<usize> {
    let h = QUEUES.get(k).head[r];
    if h == NONE {
        return None;
    }
    sendq_remove(k, r, h as usize);
    Some(h as usize)
}

/// Takes sender `s` out of receiver `r`'s queue, wherever it is. `s` must
/// be in that queue.
fn sendq_remove(k: &mut Kernel, r: usize, s: usize) {
    let q = QUEUES.get_mut(k);
    let (p, n) = (q.prev[s], q.next[s]);
    if p == NONE {
        q.head[r] = n;
    } else {
        q.next[p as usize] = n;
    }
    if n == NONE {
        q.tail[r] = p;
    } else {
        q.prev[n as usize] = p;
    }
    q.next[s] = NONE;
    q.prev[s] = NONE;
}
