//! External pagers: page faults served by another environment.
//!
//! JOS sends every user page fault to the faulting environment's own
//! upcall. That cannot page in a program's own text before its handler is
//! in memory. So an environment may also have a *pager*
//! (`sys_env_set_pager(env, pager, lo, hi, key)`, set by itself or its
//! parent):
//! a fault in `[lo, hi)` on a page that is not present (or any fault there
//! while the env has no upcall, which would otherwise kill it) becomes an
//! IPC *call* to the pager, made on the env's behalf:
//!
//! 1. the env sends the pager the message `page | PAGER_WAITING | err`
//!    (no page), queued like any `sys_ipc_send`; the Env shows it in
//!    `env_pager_fault`;
//! 2. once the pager has received it, the env waits as if in
//!    `sys_ipc_recv(page)`, but for the answer alone;
//! 3. the pager answers with `sys_ipc_try_send(env, msg, srcva, perm)`,
//!    where `msg` is the fault message (anything else from the pager, or
//!    from anyone else, is not the answer: `E_IPC_NOT_RECV`): the page it
//!    sends is mapped at the faulting page with `perm`, and the env
//!    retries the faulting instruction. Its registers and the message
//!    fields it reads (`env_ipc_value`, `_from`, `_perm`) are untouched:
//!    the env never knows it waited.
//!
//! The pager may answer in step 1 already, reading the fault in the Env
//! without receiving it: a server that is its clients' pager needs that
//! when a client faults between sending a request and receiving the
//! reply (the client cannot take the reply before it has its page).
//!
//! A system call that finds the env's own page absent (`sys_cputs` of a
//! string, a page `sys_ipc_send` sends) sends the same fault first
//! ([`fault_in`]), and the call is made again once the page is there; an
//! upcall whose code is not paged in yet is jumped to all the same (the
//! jump faults, and the pager pages it in): a page not paged in yet is no
//! error.
//!
//! The wait, field by field (the Env shows every one of them at UENVS):
//!
//! | state                         | `env_pager_fault` | `env_ipc_send_to` | `env_ipc_recving` |
//! |-------------------------------|-------------------|-------------------|-------------------|
//! | not waiting                   | 0                 | (its own IPC)     | (its own IPC)     |
//! | step 1: in the pager's queue  | the message       | the pager         | 0                 |
//! | step 2: the pager received it | the message       | 0                 | 1                 |
//!
//! and `env_status` is NOT_RUNNABLE in both steps. It ends in exactly one
//! of these ways: the answer ([`answered`]: a page, or none); the env
//! stopped, given new registers or a new pager ([`cancel`]); the pager
//! freed (step 1: `env_free` empties its queue; step 2: `env_free` finds
//! the envs waiting for it);
//! the env freed (`env_free` takes it out of the queue). Every IPC path
//! asks [`takes`] before delivering, so nothing but the answer reaches a
//! waiting env.
//!
//! A pager that answers with no page declines: the env's next fault on
//! that page goes to its own upcall (or destroys it, as usual). With
//! `PAGER_NOMEM` added to the answer's value it declines for want of
//! memory: the upcall sees `FEC_NOMEM` in the error code, and may give up
//! memory of its own and retry (the library's swap pager does). A pager
//! that dies, or an env stopped or redirected while it waits, simply lets
//! the env retry the instruction. The policy (which file, shared or
//! copied pages) is all the pager's: see the file server's `pager.rs`.
use crate::env::{self, envid2env};
use crate::{pmap, sendq};
use abi::env::*;
use abi::error::{Error, Result};
use abi::memlayout::UTOP;
use abi::mmu::{FEC_NOMEM, FEC_PR, FEC_U, FEC_WR, PGSIZE};

/// Sets `envid`'s pager to `pager` for faults in `[lo, hi)`, with `key`
/// (any word: the pager reads it in the Env to know what it serves), or
/// removes it (`pager` 0). The caller must be `envid` or its parent. Inval for an
/// unaligned or empty range, one reaching past UTOP, or an env paging
/// itself, even through other pagers (`pager`'s pager, and so on: two envs
/// each waiting for the other to page it in would wait for ever); BadEnv
/// for a pager that does not exist. An env waiting for its old pager stops
/// waiting and retries its fault (with the new one).
pub fn set(envid: EnvId, pager: EnvId, lo: usize, hi: usize, key: u32) -> Result<()> {
    let e = envid2env(envid, true)?;
    let mut p = 0;
    if pager != 0 {
        let pe = envid2env(pager, false)?;
        if pe == e
            || !lo.is_multiple_of(PGSIZE)
            || !hi.is_multiple_of(PGSIZE)
            || lo >= hi
            || hi > UTOP
            || pages(pe, e)
        {
            return Err(Error::Inval);
        }
        // SAFETY: pe points into the Env array; the kernel lock is held.
        p = unsafe { (*pe).env_id };
    }
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe {
        if waiting(e) {
            // Its answer would come from the old pager (or none).
            retry(e);
        }
        (*e).env_pager = p;
        (*e).env_pager_lo = if p == 0 { 0 } else { lo as u32 };
        (*e).env_pager_hi = if p == 0 { 0 } else { hi as u32 };
        (*e).env_pager_key = if p == 0 { 0 } else { key };
        (*e).env_pager_declined = 0;
    }
    Ok(())
}

/// Whether `e` is `p`'s pager, or its pager's pager, and so on (every
/// link made by [`set`], which refuses a cycle, or by sys_exofork, whose
/// new env nobody pages: the chain has no cycle and ends within NENV).
fn pages(p: *const Env, e: *const Env) -> bool {
    let mut q = p;
    for _ in 0..NENV {
        // SAFETY: q and e point into the Env array; the kernel lock is held.
        let next = unsafe { (*q).env_pager };
        if next == 0 {
            return false;
        }
        // SAFETY: as above.
        if next == unsafe { (*e).env_id } {
            return true;
        }
        let n = env::env_at(envx(next));
        // SAFETY: as above.
        if unsafe { (*n).env_id != next || (*n).env_status == ENV_FREE } {
            return false;
        }
        q = n;
    }
    false
}

/// Called for a user page fault of the running env `e` at `va` with error
/// code `err`: if `e`'s pager should serve it, sends it there (`e` stops
/// running until the answer) and returns None. Returns the error code for
/// the env's own upcall if the fault is its own business: outside the
/// range, a present page while an upcall is set, a page the pager
/// declined (then with FEC_NOMEM if for want of memory), or no live pager.
pub fn fault(e: *mut Env, va: usize, err: u32) -> Option<u32> {
    let page = va & !(PGSIZE - 1);
    // SAFETY: e is the running env; the kernel lock is held.
    let (pager, lo, hi, upcall, declined) = unsafe {
        (
            (*e).env_pager,
            (*e).env_pager_lo as usize,
            (*e).env_pager_hi as usize,
            (*e).env_pgfault_upcall,
            (*e).env_pager_declined,
        )
    };
    if pager == 0 || !(lo..hi).contains(&va) || (err & FEC_PR != 0 && upcall != 0) {
        return Some(err);
    }
    if declined & !3 == page as u32 && declined & 1 != 0 {
        // SAFETY: as above.
        unsafe { (*e).env_pager_declined = 0 };
        return Some(if declined & 2 != 0 {
            err | FEC_NOMEM
        } else {
            err
        });
    }
    let Ok(p) = envid2env(pager, false) else {
        return Some(err);
    };
    let msg = page as u32 | PAGER_WAITING | (err & (FEC_PR | FEC_WR | FEC_U));
    // SAFETY: e and p point into the Env array; the kernel lock is held.
    unsafe {
        (*e).env_pager_fault = msg;
        env::set_status(e, ENV_NOT_RUNNABLE);
        if (*p).env_ipc_recving != 0 && !waiting(p) && accepts(p, (*e).env_id) {
            deliver_fault(e, p);
        } else {
            (*e).env_ipc_send_to = (*p).env_id;
            (*e).env_ipc_send_value = msg;
            (*e).env_ipc_send_va = UTOP as u32;
            (*e).env_ipc_send_perm = 0;
            sendq::push(envx((*p).env_id), envx((*e).env_id));
        }
    }
    None
}

/// Whether a fault of `e` on a page not present at `va` would go to its
/// pager (set, alive, and `va` in its range).
pub fn serves(e: *const Env, va: usize) -> bool {
    // SAFETY: e points into the Env array; the kernel lock is held.
    let (pager, lo, hi) = unsafe {
        (
            (*e).env_pager,
            (*e).env_pager_lo as usize,
            (*e).env_pager_hi as usize,
        )
    };
    pager != 0 && (lo..hi).contains(&va) && envid2env(pager, false).is_ok()
}

/// The running env `e` needs its page at `va`, absent (or read-only, with
/// `write`), in a system call: if its pager serves that page, `e` sends
/// it the fault as if it had touched the page (see [`fault`]) and returns
/// true; the caller then has `e` make the same call when it runs again.
pub fn fault_in(e: *mut Env, va: usize, write: bool) -> bool {
    let present = pmap::page_lookup(env::env_pgdir(e), va & !(PGSIZE - 1)).is_some();
    let mut err = FEC_U;
    if write {
        err |= FEC_WR;
    }
    if present {
        err |= FEC_PR;
    }
    fault(e, va, err).is_none()
}

/// Whether `dst` takes the message `value` from `src` now. An env waiting
/// for its pager (in either step) takes only the answer to that fault:
/// from its pager, with the fault message as the value (so an answer to
/// an older fault, or any other message of the pager's, is not taken for
/// it). Any other env takes a message while it is receiving: anyone's, or
/// in a closed receive its one env's ([`accepts`]).
pub fn takes(dst: *const Env, src: *const Env, value: u32) -> bool {
    // SAFETY: both point into the Env array; the kernel lock is held.
    unsafe {
        if waiting(dst) {
            (*src).env_id == (*dst).env_pager && value & !PAGER_NOMEM == (*dst).env_pager_fault
        } else {
            (*dst).env_ipc_recving != 0 && accepts(dst, (*src).env_id)
        }
    }
}

/// Whether `dst`'s receive, if it is receiving, takes a message from
/// `from`: an open receive takes anyone's, a closed one only its env's.
pub fn accepts(dst: *const Env, from: EnvId) -> bool {
    // SAFETY: dst points into the Env array; the kernel lock is held.
    let only = unsafe { (*dst).env_ipc_recv_from };
    only == 0 || only == from
}

/// Whether `e` is an env waiting for its pager (in either step).
pub fn waiting(e: *const Env) -> bool {
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe { (*e).env_pager_fault != 0 }
}

/// The page `e`, waiting for its pager, faulted on (below UTOP: the
/// range [`set`] accepts ends there).
pub fn fault_page(e: *const Env) -> usize {
    // SAFETY: e points into the Env array; the kernel lock is held.
    (unsafe { (*e).env_pager_fault } & !(PGSIZE as u32 - 1)) as usize
}

/// Step 1 done: pager `p` (receiving) gets `e`'s fault message, and `e`
/// waits for the answer at the faulting page.
///
/// # Safety
/// `e` waits for `p` (its pager), which is receiving; the kernel lock is
/// held.
pub unsafe fn deliver_fault(e: *mut Env, p: *mut Env) {
    // SAFETY: the caller's promise.
    unsafe {
        let msg = (*e).env_pager_fault;
        (*p).env_ipc_recving = 0;
        (*p).env_ipc_from = (*e).env_id;
        (*p).env_ipc_value = msg;
        (*p).env_ipc_perm = 0;
        if (*p).env_status == ENV_NOT_RUNNABLE {
            env::set_status(p, ENV_RUNNABLE);
        }
        (*p).env_tf.tf_regs.reg_eax = 0;
        (*e).env_ipc_send_to = 0;
        (*e).env_ipc_recving = 1;
    }
}

/// Step 3: the pager's answer reached `e` (the page, if any, is mapped
/// already), after the pager received the fault or even before (it may
/// read the fault in the Env and answer at once). `e` retries its
/// instruction; with no page, the fault goes to its own upcall next time
/// (marked FEC_NOMEM if the answer's value had PAGER_NOMEM).
///
/// # Safety
/// `e` waits for its pager; the kernel lock is held.
pub unsafe fn answered(e: *mut Env, gave_page: bool, value: u32) {
    let page = fault_page(e) as u32;
    let nomem = if value & PAGER_NOMEM != 0 { 2 } else { 0 };
    // SAFETY: the caller's promise.
    unsafe {
        (*e).env_pager_declined = if gave_page { 0 } else { page + 1 + nomem };
        // (Still in the pager's queue, in step 1, if it answered first.)
        retry(e);
    }
}

/// Ends `e`'s wait for its pager without an answer (it was stopped,
/// given new registers, or its pager died): it is out of any queue and
/// not receiving, and retries the faulting instruction when it runs
/// again. Its status is the caller's to set.
///
/// # Safety
/// `e` waits for its pager; the kernel lock is held.
pub unsafe fn cancel(e: *mut Env) {
    // SAFETY: the caller's promise.
    unsafe {
        if (*e).env_ipc_send_to != 0 {
            env::cancel_send(e);
        }
        (*e).env_ipc_recving = 0;
        (*e).env_pager_fault = 0;
    }
}

/// Ends `e`'s wait ([`cancel`]) and makes it runnable: it retries the
/// faulting instruction.
///
/// # Safety
/// `e` waits for its pager; the kernel lock is held.
pub unsafe fn retry(e: *mut Env) {
    // SAFETY: the caller's promise.
    unsafe { cancel(e) };
    env::set_status(e, ENV_RUNNABLE);
}
