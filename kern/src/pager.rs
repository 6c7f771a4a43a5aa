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
//! The wait itself (steps 1 to 3, and how it ends: the answer, the env
//! stopped, given new registers or a new pager, the pager or the env
//! freed) is `ipc.rs`'s: `Wait::PagerQueued` and `Wait::PagerAnswer`.
//!
//! One fault may bring in several pages: the pager may also map pages of
//! its own into the env ahead of its faults (`sys_pager_map(env, srcva,
//! dstva, perm)`, [`map`]), but only where a fault would have reached it:
//! inside the range it pages, at a page the env does not have (a page the
//! env has is never replaced). What it sends and when (fault-around,
//! read-ahead) is its policy.
//!
//! A pager that answers with no page declines: the env's next fault on
//! that page goes to its own upcall (or destroys it, as usual). With
//! `PAGER_NOMEM` added to the answer's value it declines for want of
//! memory: the upcall sees `FEC_NOMEM` in the error code, and may give up
//! memory of its own and retry (the library's swap pager does). A pager
//! that dies, or an env stopped or redirected while it waits, simply lets
//! the env retry the instruction. The policy (which file, shared or
//! copied pages) is all the pager's: see the file server's `pager.rs`.
use crate::ipc;
use crate::klock::{EnvRef, Kernel};
use crate::pmap;
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
pub fn set(
    k: &mut Kernel,
    envid: EnvId,
    pager: EnvId,
    lo: usize,
    hi: usize,
    key: u32,
) -> Result<()> {
    let e = k.envid2env(envid, true)?;
    let mut p = 0;
    if pager != 0 {
        let pe = k.envid2env(pager, false)?;
        if pe == e
            || !lo.is_multiple_of(PGSIZE)
            || !hi.is_multiple_of(PGSIZE)
            || lo >= hi
            || hi > UTOP
            || pages(k, pe, e)
        {
            return Err(Error::Inval);
        }
        p = k[pe].env_id;
    }
    if ipc::waits_for_pager(k, e) {
        // Its answer would come from the old pager (or none).
        ipc::retry(k, e);
    }
    let env = &mut k[e];
    env.env_pager = p;
    env.env_pager_lo = if p == 0 { 0 } else { lo as u32 };
    env.env_pager_hi = if p == 0 { 0 } else { hi as u32 };
    env.env_pager_key = if p == 0 { 0 } else { key };
    env.env_pager_declined = 0;
    Ok(())
}

/// `sys_pager_map`: the running env, `envid`'s pager, maps its page at
/// `srcva` into `envid` at `dstva` with `perm`, before `envid` faults
/// there (fault-around, read-ahead: the pager's policy). Only what the
/// pager could give in answer to a fault anyway: `dstva` page-aligned,
/// inside the range the caller pages, and not mapped (a page the env has
/// is never replaced, so nothing it wrote or was given is lost). The
/// page's checks are a send's (writable only from a writable page).
/// BadEnv if `envid` does not exist or the caller is not its pager; Inval
/// for a `dstva` outside the range, unaligned or mapped, no page at
/// `srcva` or a bad `perm`; NoMem for a page table.
pub fn map(k: &mut Kernel, envid: EnvId, srcva: usize, dstva: usize, perm: u32) -> Result<()> {
    let me = k.cur();
    let e = k.envid2env(envid, false)?;
    let env = &k[e];
    if env.env_pager == 0 || env.env_pager != k[me].env_id {
        return Err(Error::BadEnv);
    }
    let (lo, hi) = (env.env_pager_lo as usize, env.env_pager_hi as usize);
    if !dstva.is_multiple_of(PGSIZE) || !(lo..hi).contains(&dstva) {
        return Err(Error::Inval);
    }
    if pmap::page_lookup(k.pgdir_mut(e), dstva).is_some() {
        return Err(Error::Inval);
    }
    let (pg, p) = ipc::check_send_page(k, me, srcva, perm)?.ok_or(Error::Inval)?;
    // Adding a mapping where there was none needs no TLB shootdown, even
    // if `e` runs on another CPU: no CPU caches a translation not present.
    pmap::page_insert(k.pgdir_mut(e), pg, dstva, p)
}

/// Whether `e` is `p`'s pager, or its pager's pager, and so on (every
/// link made by [`set`], which refuses a cycle, or by sys_exofork, whose
/// new env nobody pages: the chain has no cycle and ends within NENV).
fn pages(k: &Kernel, p: EnvRef, e: EnvRef) -> bool {
    let mut q = p;
    for _ in 0..NENV {
        let next = k[q].env_pager;
        if next == 0 {
            return false;
        }
        if next == k[e].env_id {
            return true;
        }
        let n = EnvRef::at(envx(next));
        if k[n].env_id != next || k[n].env_status == ENV_FREE {
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
pub fn fault(k: &mut Kernel, e: EnvRef, va: usize, err: u32) -> Option<u32> {
    let page = va & !(PGSIZE - 1);
    let env = &k[e];
    let (pager, lo, hi, upcall, declined) = (
        env.env_pager,
        env.env_pager_lo as usize,
        env.env_pager_hi as usize,
        env.env_pgfault_upcall,
        env.env_pager_declined,
    );
    if pager == 0 || !(lo..hi).contains(&va) || (err & FEC_PR != 0 && upcall != 0) {
        return Some(err);
    }
    if declined & !3 == page as u32 && declined & 1 != 0 {
        k[e].env_pager_declined = 0;
        return Some(if declined & 2 != 0 {
            err | FEC_NOMEM
        } else {
            err
        });
    }
    let Ok(p) = k.envid2env(pager, false) else {
        return Some(err);
    };
    let msg = page as u32 | PAGER_WAITING | (err & (FEC_PR | FEC_WR | FEC_U));
    ipc::send_fault(k, e, p, msg);
    None
}

/// Whether a fault of `e` on a page not present at `va` would go to its
/// pager (set, alive, and `va` in its range).
pub fn serves(k: &Kernel, e: EnvRef, va: usize) -> bool {
    let env = &k[e];
    let (pager, lo, hi) = (
        env.env_pager,
        env.env_pager_lo as usize,
        env.env_pager_hi as usize,
    );
    pager != 0 && (lo..hi).contains(&va) && k.envid2env(pager, false).is_ok()
}

/// The running env `e` needs its page at `va`, absent (or read-only, with
/// `write`), in a system call: if its pager serves that page, `e` sends
/// it the fault as if it had touched the page (see [`fault`]) and returns
/// true; the caller then has `e` make the same call when it runs again.
pub fn fault_in(k: &mut Kernel, e: EnvRef, va: usize, write: bool) -> bool {
    // Only a page the pager serves (below UTOP): above it, page_lookup
    // would find the kernel's own mappings (the LAPIC's, whose frame is
    // no page of the allocator's).
    if !serves(k, e, va) {
        return false;
    }
    let present = pmap::page_lookup(k.pgdir_mut(e), va & !(PGSIZE - 1)).is_some();
    let mut err = FEC_U;
    if write {
        err |= FEC_WR;
    }
    if present {
        err |= FEC_PR;
    }
    fault(k, e, va, err).is_none()
}
