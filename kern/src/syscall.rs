//! System calls (JOS's kern/syscall.c): argument checking and dispatch.
//!
//! Each `sys_*` returns `Result`; `syscall` turns that into the ABI's
//! non-negative value or negative error code in one place. Every pointer
//! and address from user space is checked before use: env ids through
//! `envid2env` (only self or a child, where JOS requires it), addresses
//! below UTOP and page-aligned, permissions a subset of PTE_SYSCALL with
//! U and P set.
use crate::arch::x86::EFlags;
use crate::ipc::{self, Wait, check_perm, check_va};
use crate::klock::{EnvRef, Kernel};
use crate::pmap::{self, Alloc};
use crate::{console, env, hold, pager, sched};
use abi::env::*;
use abi::error::{Error, Result};
use abi::memlayout::{UTOP, UZERO};
use abi::mmu::{PGSIZE, PTSIZE, PteFlags, pdx};
use abi::syscall::Syscall;
use abi::trap::{GD_UD, GD_UT, T_SYSCALL, Trapframe};

/// EFLAGS bits a user may choose: the arithmetic flags, DF, TF and AC.
const FL_USER: EFlags = EFlags::FLAGS_CF
    .union(EFlags::FLAGS_PF)
    .union(EFlags::FLAGS_AF)
    .union(EFlags::FLAGS_ZF)
    .union(EFlags::FLAGS_SF)
    .union(EFlags::FLAGS_TF)
    .union(EFlags::FLAGS_DF)
    .union(EFlags::FLAGS_OF)
    .union(EFlags::FLAGS_AC);

/// Like user_mem_check, but a failure prints
/// `[envid] user_mem_check assertion failure for va %08x` and destroys
/// `e` (not returning if `e` is the current environment). In a system
/// call, a page the current env's pager serves is no failure: the env
/// waits for it and makes the same call again (this does not return then).
pub fn user_mem_assert(k: &mut Kernel, e: EnvRef, va: usize, len: usize, perm: PteFlags) {
    if let Err(bad) = env::user_mem_check(k, e, va, len, perm | PteFlags::U) {
        page_in(k, e, bad, perm.contains(PteFlags::W));
        cprintf!(
            "[{:08x}] user_mem_check assertion failure for va {:08x}\n",
            k[e].env_id,
            bad
        );
        env::env_destroy(k, e);
    }
}

/// Returns 0 once `sys_time_msec` has reached `until` (at once if it has;
/// up to 24 days ahead counts as the future, so a clock that wrapped is
/// no trouble). Until then the caller sleeps, not runnable, and the call
/// is made again when CPU 0's clock tick wakes it (so it returns at most
/// a tick late), or when its parent stops and restarts it. Cannot fail.
fn sys_sleep_until(k: &mut Kernel, until: u32) -> Result<u32> {
    if ipc::reached(crate::time::time_msec(), until) {
        return Ok(0);
    }
    let me = k.cur();
    restart_syscall(&mut k[me].env_tf, Syscall::SleepUntil.number());
    ipc::sleep_wait(k, me, until);
    sched::sched_yield(k);
}

/// Makes the env whose registers are `tf`, trapped in `int $0x30`, make
/// system call `num` again when it resumes: eip back on the 2-byte
/// instruction, eax the call number (the arguments are still in the other
/// registers, which the kernel never changes).
pub fn restart_syscall(tf: &mut Trapframe, num: u32) {
    tf.tf_eip = tf.tf_eip.wrapping_sub(2);
    tf.tf_regs.reg_eax = num;
}

/// If `e` is the current env, in a system call, and its pager serves its
/// page at `va` (which the call needs and found absent or, with `write`,
/// read-only), `e` waits for the page (pager::fault_in) and, once it has
/// it, makes the same system call again: this does not return then.
/// Otherwise it returns.
pub(crate) fn page_in(k: &mut Kernel, e: EnvRef, va: usize, write: bool) {
    if Some(e) != k.curenv() {
        return;
    }
    if k[e].env_tf.tf_trapno == T_SYSCALL && pager::fault_in(k, e, va, write) {
        // eax still holds the call's number: its result is not set yet.
        let tf = &mut k[e].env_tf;
        restart_syscall(tf, tf.tf_regs.reg_eax);
        sched::sched_yield(k);
    }
}

/// Prints `len` bytes at user address `s`; destroys the caller if the range
/// is not readable user memory (a length of 0 prints nothing, whatever `s`).
fn sys_cputs(k: &mut Kernel, s: usize, len: usize) -> Result<u32> {
    let me = k.cur();
    user_mem_assert(k, me, s, len, PteFlags::U);
    let _ = env::user_read(k, me, s, len, console::cputs);
    Ok(0)
}

/// Returns a character from the console without waiting (0 if none). A
/// Ctrl-C typed for the console's controller is read as 0x03 by the
/// controller alone (see console::InputRing).
fn sys_cgetc(k: &Kernel) -> Result<u32> {
    let me = k[k.cur()].env_id;
    Ok(console::cons_getc(me).unwrap_or(0) as u32)
}

/// The console's controller (see console::InputRing): with CONS_CTL_TAKE
/// the caller becomes it; with CONS_CTL_POLL, returns 1 if a Ctrl-C was
/// typed for the caller since it last asked (taking it and throwing away
/// the input typed before it), else 0 (always 0 for an env that is not
/// the controller: only a key typed raises it); with CONS_CTL_RELEASE the
/// caller stops being it, if it was (the controller before it, if any, is
/// again); with CONS_CTL_OWNER, returns 1 if the caller is the controller,
/// else 0. Inval for another op.
fn sys_cons_ctl(k: &Kernel, op: u32) -> Result<u32> {
    let me = k[k.cur()].env_id;
    match op {
        abi::syscall::CONS_CTL_TAKE => console::set_controller(me),
        abi::syscall::CONS_CTL_POLL => return Ok(console::take_intr(me) as u32),
        abi::syscall::CONS_CTL_RELEASE => console::env_gone(me),
        abi::syscall::CONS_CTL_OWNER => return Ok(console::is_controller(me) as u32),
        _ => return Err(Error::Inval),
    }
    Ok(0)
}

/// Destroys `envid` and every env below it in the env tree (a job the
/// caller started: see env::env_destroy_tree), all at once. `envid` must be
/// below the caller in the tree (its child, grandchild, ... or one whose
/// creator has gone since): BadEnv otherwise, and for an env that does
/// not exist; the caller itself is not below itself. Returns how many
/// envs were destroyed.
fn sys_env_destroy_tree(k: &mut Kernel, envid: EnvId) -> Result<u32> {
    let me = k.cur();
    if envid == 0 {
        return Err(Error::BadEnv);
    }
    let root = k.envid2env(envid, false)?;
    if !env::descends_from(k, root, k[me].env_id) {
        return Err(Error::BadEnv);
    }
    Ok(env::env_destroy_tree(k, me, root) as u32)
}

/// Returns the caller's env id.
fn sys_getenvid(k: &Kernel) -> Result<u32> {
    Ok(k[k.cur()].env_id as u32)
}

/// Destroys `envid` (the caller or its child).
fn sys_env_destroy(k: &mut Kernel, envid: EnvId) -> Result<u32> {
    let e = k.envid2env(envid, true)?;
    let me = k.cur();
    if env::env_log() {
        if e == me {
            cprintf!("[{:08x}] exiting gracefully\n", k[me].env_id);
        } else {
            cprintf!("[{:08x}] destroying {:08x}\n", k[me].env_id, k[e].env_id);
        }
    }
    env::env_destroy(k, e);
    Ok(0)
}

/// Gives up the CPU; returns 0 when the caller runs again.
fn sys_yield(k: &mut Kernel) -> ! {
    let me = k.cur();
    k[me].env_tf.tf_regs.reg_eax = 0;
    sched::sched_yield(k);
}

/// Creates a child with a copy of the caller's registers (returning 0 in
/// the child), an empty address space, and status NOT_RUNNABLE. Returns the
/// child's id, or NoFreeEnv / NoMem.
fn sys_exofork(k: &mut Kernel) -> Result<u32> {
    let me = k.cur();
    let parent = k[me].env_id;
    let e = env::env_alloc(k, parent)?;
    crate::fpu::env_copy(parent, k[e].env_id);
    k.set_status(e, ENV_NOT_RUNNABLE);
    let p = &k[me];
    let (tf, pager, lo, hi, key) = (
        p.env_tf,
        p.env_pager,
        p.env_pager_lo,
        p.env_pager_hi,
        p.env_pager_key,
    );
    let child = &mut k[e];
    child.env_tf = tf;
    child.env_tf.tf_regs.reg_eax = 0;
    // A child is an ordinary env, even the file server's: no I/O ports.
    child.env_tf.tf_eflags &= !EFlags::FLAGS_IOPL3.bits();
    // Its pages not yet present come from the same pager (a program
    // paged in on demand forks children that are paged in too).
    child.env_pager = pager;
    child.env_pager_lo = lo;
    child.env_pager_hi = hi;
    child.env_pager_key = key;
    Ok(child.env_id as u32)
}

/// Sets a child's (or own) status to RUNNABLE or NOT_RUNNABLE. A child
/// running on another CPU is stopped there (kick) before it is made
/// NOT_RUNNABLE, so it runs no user instruction after this returns (a
/// system call it was making is restarted when it runs again); making a
/// running child RUNNABLE changes nothing. A child blocked in IPC stops
/// waiting, and makes the same call again when it runs again. Inval for
/// another status, or for an env making itself NOT_RUNNABLE with no parent
/// left to wake it (it could never run, nor be freed, again).
fn sys_env_set_status(k: &mut Kernel, envid: EnvId, status: u32) -> Result<u32> {
    if status != ENV_RUNNABLE && status != ENV_NOT_RUNNABLE {
        return Err(Error::Inval);
    }
    let e = k.envid2env(envid, true)?;
    if Some(e) == k.curenv() && status == ENV_NOT_RUNNABLE && !k.parent_alive(e) {
        return Err(Error::Inval);
    }
    if let Some(c) = k.cpu_elsewhere(e) {
        if status == ENV_RUNNABLE && k[e].env_status == ENV_RUNNING {
            // Runnable already; RUNNABLE would let a second CPU pick it up.
            return Ok(0);
        }
        k.kick(c, false);
    }
    // Blocked in sys_ipc_send or sys_ipc_recv: the wait ends (so no
    // sender or receiver later touches an env that is running again, or
    // wakes one its parent stopped), and the call is restarted when the
    // env runs again, as any system call a stop interrupts. Stopping and
    // resuming a blocked env is then invisible to it.
    if ipc::wait(k, e) == Wait::Recv && k[e].env_ipc_recv_from != 0 {
        // A closed receive (the answer half of sys_ipc_call, say) is not
        // cancelled: its one sender may answer only now, and never again
        // (a server never waits for a client). A stopped env keeps
        // waiting, and an answer is kept for it until it runs again
        // (ipc::wake); it stays NOT_RUNNABLE either way until then.
        k[e].env_ipc_held = (status == ENV_NOT_RUNNABLE) as u32;
        return Ok(0);
    }
    k[e].env_ipc_held = 0;
    let restart = match ipc::cancel(k, e) {
        // Waiting for its pager: it retries the fault instead. Waiting for
        // the network card: its call is set to be made again already.
        Wait::PagerQueued { .. }
        | Wait::PagerAnswer { .. }
        | Wait::NetRecv
        | Wait::Sleep { .. }
        | Wait::None => None,
        Wait::Send { .. } => {
            // A call whose request was not taken yet is made again whole.
            let call = k[e].env_ipc_recv_from != 0;
            k[e].env_ipc_recv_from = 0;
            Some(if call {
                Syscall::IpcCall
            } else {
                Syscall::IpcSend
            })
        }
        Wait::Recv => Some(Syscall::IpcRecv),
    };
    if let Some(call) = restart {
        restart_syscall(&mut k[e].env_tf, call.number());
    }
    k.set_status(e, status);
    Ok(0)
}

/// Replaces a child's (or own) registers with the Trapframe at user
/// address `tf`, forced to user mode with interrupts on and IOPL 0. A child
/// running on another CPU is stopped there first (kick) and resumes
/// with the new registers. For the caller itself this does not return: it
/// resumes with the new registers (a way to return from a handler with the
/// trap flag set). A child blocked in sys_ipc_recv or sys_ipc_send stops
/// waiting (it stays not runnable until made runnable; one waiting in
/// sys_net_receive too). Destroys the caller
/// if `tf` is not readable.
fn sys_env_set_trapframe(k: &mut Kernel, envid: EnvId, tf: usize) -> Result<u32> {
    let e = k.envid2env(envid, true)?;
    let me = k.cur();
    user_mem_assert(k, me, tf, size_of::<Trapframe>(), PteFlags::U);
    let mut new = Trapframe::zeroed();
    // SAFETY: Trapframe is plain u32/u16 fields: any bytes are a valid one.
    let raw = unsafe {
        core::slice::from_raw_parts_mut((&raw mut new).cast::<u8>(), size_of::<Trapframe>())
    };
    env::user_copy_in(k, me, tf, raw).map_err(|_| Error::Fault)?;
    new.tf_cs = GD_UT | 3;
    new.tf_ds = GD_UD | 3;
    new.tf_es = GD_UD | 3;
    new.tf_ss = GD_UD | 3;
    // Only the flags a user program may set itself (arithmetic flags,
    // direction, trap for single-stepping, alignment check); interrupts on,
    // IOPL 0, and never virtual-8086 mode or a nested task.
    let user = EFlags::from_bits_truncate(new.tf_eflags) & FL_USER;
    new.tf_eflags = (user | EFlags::FLAGS_IF | EFlags::FLAGS_A1).bits();
    if let Some(c) = k.cpu_elsewhere(e) {
        // Stopped in a trap on its CPU, whose registers it saved already:
        // that trap is void now (see trap::trap).
        k.kick(c, false);
        env::set_tf_replaced(k, e);
    }
    // Blocked in IPC: the wait is cancelled, or a message arriving later
    // would write its result over the new registers' eax.
    ipc::cancel(k, e);
    let env = &mut k[e];
    env.env_ipc_recv_from = 0;
    env.env_ipc_held = 0;
    env.env_tf = new;
    if e == me {
        env::env_run(k, e);
    }
    Ok(0)
}

/// Sets the page-fault upcall of a child (or self). The address is checked
/// when a fault is delivered.
fn sys_env_set_pgfault_upcall(k: &mut Kernel, envid: EnvId, func: usize) -> Result<u32> {
    let e = k.envid2env(envid, true)?;
    k[e].env_pgfault_upcall = func as u32;
    Ok(0)
}

/// Before changing `e`'s address space: if `e` is another CPU's env, stops
/// that CPU (kick) and has it flush its TLB before it runs `e` again, so no
/// stale translation outlives the change (a page unmapped here may be freed
/// at once).
fn stop_elsewhere(k: &Kernel, e: EnvRef) {
    if let Some(c) = k.cpu_elsewhere(e) {
        k.kick(c, true);
    }
}

/// Free pages only the file server may take with sys_page_alloc.
const FS_RESERVE: usize = 32;

/// Free pages, above FS_RESERVE, that only the network server's side (an
/// ENV_TYPE_NS env and its helpers, `env::net_side`) and the file server
/// may take with sys_page_alloc while a network server runs. The helpers
/// share it: the input helper needs a page for each frame (one at a time:
/// the server unmaps it once taken), and a helper's first writes to pages
/// it shares copy-on-write with the server need fresh ones. With no
/// network server nobody is kept out of these pages.
const NS_RESERVE: usize = 32;

/// Whether the caller may take a free page now that `nfree` are left
/// (see FS_RESERVE and NS_RESERVE): the file server down to the last one,
/// the network server's side down to FS_RESERVE, anyone else down to
/// FS_RESERVE + NS_RESERVE (FS_RESERVE if no network server runs).
fn may_take_page(k: &Kernel, nfree: usize) -> bool {
    if nfree >= FS_RESERVE + NS_RESERVE {
        return true;
    }
    let me = k.cur();
    if k[me].env_type == abi::env::ENV_TYPE_FS {
        return true;
    }
    if nfree < FS_RESERVE {
        return false;
    }
    crate::env::net_server(k).is_none() || crate::env::net_side(k, me)
}

/// Maps a fresh zeroed page at `va` in a child (or self), replacing what
/// was there (a child running on another CPU is stopped first).
fn sys_page_alloc(k: &mut Kernel, envid: EnvId, va: usize, perm: u32) -> Result<u32> {
    let e = k.envid2env(envid, true)?;
    stop_elsewhere(k, e);
    check_va(va)?;
    let perm = check_perm(perm)?;
    // The last FS_RESERVE free pages are the file server's: when clients
    // swap, memory is short for good, and the server that keeps their swap
    // space must still be able to grow its cache or heap to serve them.
    // The NS_RESERVE pages above them are the network server's while one
    // runs, so that no program that takes every page it can ends the
    // network for everyone. (Why this policy stays in the kernel: see the
    // README, "Policy in the kernel".)
    if !may_take_page(k, pmap::nfree()) {
        return Err(Error::NoMem);
    }
    let pg = pmap::page_alloc(Alloc::Zero).ok_or(Error::NoMem)?;
    if let Err(err) = pmap::page_insert(k.pgdir_mut(e), pg, va, perm) {
        pmap::page_free(pg);
        return Err(err);
    }
    Ok(0)
}

/// Maps the page at `srcva` in `srcenv` at `dstva` in `dstenv` (both self or
/// children; `srcva` may also be UZERO, the shared zero page). Writable
/// only if the source mapping is writable, or if the page has no other
/// mapping and is being remapped in place (same env, same address): then
/// nobody else can see the writes. That lets a copy-on-write handler
/// reclaim a page it is the last user of without copying it. A `dstenv`
/// running on another CPU is stopped first.
fn sys_page_map(
    k: &mut Kernel,
    srcenv: EnvId,
    srcva: usize,
    dstenv: EnvId,
    dstva: usize,
    perm: u32,
) -> Result<u32> {
    let src = k.envid2env(srcenv, true)?;
    let dst = k.envid2env(dstenv, true)?;
    stop_elsewhere(k, dst);
    // The zero page may be mapped from UZERO (it is never writable there).
    if srcva != UZERO {
        check_va(srcva)?;
    }
    check_va(dstva)?;
    let perm = check_perm(perm)?;
    let (pg, pte) = pmap::page_lookup(k.pgdir_mut(src), srcva).ok_or(Error::Inval)?;
    // SAFETY: pte is a live PTE of src's directory.
    let src_writable = unsafe { *pte }.flags().contains(PteFlags::W);
    let exclusive_in_place = src == dst && srcva == dstva && pg.refcount() == 1;
    if perm.contains(PteFlags::W) && !src_writable && !exclusive_in_place {
        return Err(Error::Inval);
    }
    pmap::page_insert(k.pgdir_mut(dst), pg, dstva, perm)?;
    Ok(0)
}

/// Unmaps the page at `va` in a child (or self); nothing mapped is fine.
/// A child running on another CPU is stopped first, and runs no user
/// instruction with the old mapping after this returns.
fn sys_page_unmap(k: &mut Kernel, envid: EnvId, va: usize) -> Result<u32> {
    let e = k.envid2env(envid, true)?;
    stop_elsewhere(k, e);
    check_va(va)?;
    pmap::page_remove(k.pgdir_mut(e), va);
    Ok(0)
}

/// A page the caller `me` sends (at `srcva`, if below UTOP and
/// page-aligned) that its pager has not paged in yet: the caller waits for
/// it and sends again (see page_in).
fn page_in_source(k: &mut Kernel, me: EnvRef, srcva: usize) {
    if srcva < UTOP
        && srcva.is_multiple_of(PGSIZE)
        && pmap::page_lookup(k.pgdir_mut(me), srcva).is_none()
    {
        page_in(k, me, srcva, false);
    }
}

/// Sends `value` (and the page at `srcva` if below UTOP, with `perm`) to
/// `envid`, which must be waiting in sys_ipc_recv (else IpcNotRecv). Any
/// environment may send to any other.
fn sys_ipc_try_send(
    k: &mut Kernel,
    envid: EnvId,
    value: u32,
    srcva: usize,
    perm: u32,
) -> Result<u32> {
    let dst = k.envid2env(envid, false)?;
    let me = k.cur();
    page_in_source(k, me, srcva);
    ipc::try_send(k, me, dst, value, srcva, perm)?;
    Ok(0)
}

/// Like sys_ipc_try_send, but if `envid` is not receiving yet, waits until
/// it is: the caller sleeps and the receiver's next sys_ipc_recv takes the
/// message from the sender that has waited longest. Returns 0 once
/// delivered, BadEnv if the receiver goes away first, Inval for a bad page
/// or a send to oneself (which could never be received).
fn sys_ipc_send(k: &mut Kernel, envid: EnvId, value: u32, srcva: usize, perm: u32) -> Result<u32> {
    let dst = k.envid2env(envid, false)?;
    let me = k.cur();
    if dst == me {
        return Err(Error::Inval);
    }
    page_in_source(k, me, srcva);
    if ipc::send(k, me, dst, value, srcva, perm)? {
        return Ok(0);
    }
    k.set_status(me, ENV_NOT_RUNNABLE);
    k[me].env_tf.tf_regs.reg_eax = 0;
    sched::sched_yield(k);
}

/// Waits for a message; a page, if one is sent, is mapped at `dstva` (if
/// below UTOP, where it must be page-aligned). With `from` 0 (JOS's call)
/// anyone's message is taken: a sender already waiting in sys_ipc_send is
/// served at once, the longest waiting first. With `from` an env id, the
/// receive is *closed*: only `from`'s message is taken (others stay
/// queued), and if `from` is freed first the wait ends with BadEnv.
/// Returns 0 when a message arrives (the sender sets it), Inval at once
/// for a bad `dstva` or `from` the caller itself, BadEnv for a `from` that
/// does not exist.
fn sys_ipc_recv(k: &mut Kernel, dstva: usize, from: EnvId) -> Result<u32> {
    if dstva < UTOP && !dstva.is_multiple_of(PGSIZE) {
        return Err(Error::Inval);
    }
    let only = closed_peer(k, from)?;
    let me = k.cur();
    // A boot server's first wait lets the boot programs run (hold.rs).
    let id = k[me].env_id;
    hold::serving(k, id);
    if ipc::recv(k, me, dstva, only) {
        return Ok(0);
    }
    sched::sched_yield(k);
}

/// The env a closed receive from `from` takes messages from: 0 for `from`
/// 0 (an open receive), else its id. BadEnv if it does not exist (or is
/// dying), Inval if it is the caller.
fn closed_peer(k: &Kernel, from: EnvId) -> Result<EnvId> {
    if from == 0 {
        return Ok(0);
    }
    let p = k.envid2env(from, false)?;
    if p == k.cur() {
        return Err(Error::Inval);
    }
    Ok(k[p].env_id)
}

/// A call: sends `value` (and the page at `srcva`, as sys_ipc_send does)
/// to `envid`, waiting in its send queue if it is not receiving, then, in
/// the same system call, waits for the answer from `envid` alone, as
/// `sys_ipc_recv(dstva, envid)`. The caller is so always waiting when the
/// answer comes: a server can answer with sys_ipc_try_send and never wait
/// for a client, and no third env can answer for the server. Returns 0
/// with the answer in the Env's `env_ipc_*` fields; BadEnv if `envid` does
/// not exist or is freed before it answers, Inval for a bad page, a bad
/// `dstva` or a call to oneself. Stopped before the request is taken, the
/// call is made again when the env runs again; stopped after, it goes on
/// waiting for the answer (see sys_env_set_status).
fn sys_ipc_call(
    k: &mut Kernel,
    envid: EnvId,
    value: u32,
    srcva: usize,
    perm: u32,
    dstva: usize,
) -> Result<u32> {
    if dstva < UTOP && !dstva.is_multiple_of(PGSIZE) {
        return Err(Error::Inval);
    }
    let dst = k.envid2env(envid, false)?;
    let me = k.cur();
    if dst == me {
        return Err(Error::Inval);
    }
    page_in_source(k, me, srcva);
    let delivered = ipc::send(k, me, dst, value, srcva, perm)?;
    ipc::call_wait(k, me, dst, delivered, dstva);
    sched::sched_yield(k);
}

/// Whether env `envid` (any env) maps at `va` the same physical page the
/// caller maps at `myva`: 0 if so, Inval if not (either address unmapped,
/// unaligned or not below UTOP). BadEnv for no such env. A server checks
/// with it that a client holds a page the server shared with it (a file
/// descriptor's page: see the file server's `lookup`); it tells the caller
/// nothing about pages it does not map itself.
fn sys_page_check(k: &mut Kernel, envid: EnvId, va: usize, myva: usize) -> Result<u32> {
    let e = k.envid2env(envid, false)?;
    check_va(va)?;
    check_va(myva)?;
    let me = k.cur();
    let (mine, _) = pmap::page_lookup(k.pgdir_mut(me), myva).ok_or(Error::Inval)?;
    let (theirs, _) = pmap::page_lookup(k.pgdir_mut(e), va).ok_or(Error::Inval)?;
    if mine == theirs {
        Ok(0)
    } else {
        Err(Error::Inval)
    }
}

/// Clears the accessed and dirty bits of the caller's pages in
/// [va, va + len) (below UTOP) and flushes their TLB entries, so reading the
/// PTEs through UVPT later shows which pages were touched since. Returns
/// the number of mapped pages cleared, or Inval for a range reaching UTOP.
fn sys_vm_clear_ad(k: &mut Kernel, va: usize, len: usize) -> Result<u32> {
    let end = va.checked_add(len).ok_or(Error::Inval)?;
    if end > UTOP {
        return Err(Error::Inval);
    }
    let me = k.cur();
    let pgdir = k.pgdir_mut(me);
    let mut n = 0;
    let mut page = va & !(PGSIZE - 1);
    while page < end {
        // A missing page table: skip its 4 MiB at once, so the cost follows
        // what is mapped, not the length asked for.
        if !pgdir.0[pdx(page)].is_present() {
            page = (page & !(PTSIZE - 1)) + PTSIZE;
            continue;
        }
        if let Some((_, pte)) = pmap::page_lookup(pgdir, page) {
            // SAFETY: pte is a live PTE of the caller's directory.
            unsafe {
                *pte = abi::mmu::Pte::from_raw((*pte).raw() & !(PteFlags::A | PteFlags::D).bits())
            };
            pmap::tlb_invalidate(pgdir, page);
            n += 1;
        }
        page += PGSIZE;
    }
    Ok(n)
}

/// Copies the kernel's command line (as much of it as fits in `len`
/// bytes, no NUL added) to the caller's buffer at `va`, and returns its
/// whole length (a longer buffer then reads all of it). The user library
/// reads its words with it (`mac=`, `TESTOUTPUT_COUNT=`, ...: see
/// jos::kargs). Fault if the caller cannot write the part copied.
fn sys_kern_cmdline(k: &mut Kernel, va: usize, len: usize) -> Result<u32> {
    let cmdline = crate::boot_info::get().cmdline().as_bytes();
    let n = len.min(cmdline.len());
    let me = k.cur();
    if let Err(bad) = env::user_mem_check(k, me, va, n, PteFlags::U | PteFlags::W) {
        page_in(k, me, bad, true);
        return Err(Error::Fault);
    }
    env::user_copy_out(k, me, va, &cmdline[..n]).map_err(|_| Error::Fault)?;
    Ok(cmdline.len() as u32)
}

/// Dispatches system call `num` with its arguments; returns the result for
/// EAX (negative: an error code). Unknown numbers return -E_INVAL.
pub fn syscall(k: &mut Kernel, num: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32) -> i32 {
    let (a1u, a2u, a3u, a4u) = (a1 as usize, a2 as usize, a3 as usize, a4 as usize);
    let r = match Syscall::from_u32(num) {
        None => Err(Error::Inval),
        Some(Syscall::Cputs) => sys_cputs(k, a1u, a2u),
        Some(Syscall::Cgetc) => sys_cgetc(k),
        Some(Syscall::Getenvid) => sys_getenvid(k),
        Some(Syscall::EnvDestroy) => sys_env_destroy(k, a1 as EnvId),
        Some(Syscall::PageAlloc) => sys_page_alloc(k, a1 as EnvId, a2u, a3),
        Some(Syscall::PageMap) => sys_page_map(k, a1 as EnvId, a2u, a3 as EnvId, a4u, a5),
        Some(Syscall::PageUnmap) => sys_page_unmap(k, a1 as EnvId, a2u),
        Some(Syscall::Exofork) => sys_exofork(k),
        Some(Syscall::EnvSetStatus) => sys_env_set_status(k, a1 as EnvId, a2),
        Some(Syscall::EnvSetTrapframe) => sys_env_set_trapframe(k, a1 as EnvId, a2u),
        Some(Syscall::EnvSetPgfaultUpcall) => sys_env_set_pgfault_upcall(k, a1 as EnvId, a2u),
        Some(Syscall::Yield) => sys_yield(k),
        Some(Syscall::IpcTrySend) => sys_ipc_try_send(k, a1 as EnvId, a2, a3u, a4),
        Some(Syscall::IpcRecv) => sys_ipc_recv(k, a1u, a2 as EnvId),
        Some(Syscall::VmClearAd) => sys_vm_clear_ad(k, a1u, a2u),
        Some(Syscall::IpcSend) => sys_ipc_send(k, a1 as EnvId, a2, a3u, a4),
        Some(Syscall::EnvSetPager) => {
            pager::set(k, a1 as EnvId, a2 as EnvId, a3u, a4u, a5).map(|()| 0)
        }
        Some(Syscall::IpcCall) => sys_ipc_call(k, a1 as EnvId, a2, a3u, a4, a5 as usize),
        Some(Syscall::PageCheck) => sys_page_check(k, a1 as EnvId, a2u, a3u),
        Some(Syscall::ConsCtl) => sys_cons_ctl(k, a1),
        Some(Syscall::EnvDestroyTree) => sys_env_destroy_tree(k, a1 as EnvId),
        Some(Syscall::TimeMsec) => Ok(crate::time::time_msec()),
        Some(Syscall::SleepUntil) => sys_sleep_until(k, a1u as u32),
        Some(Syscall::PagerMap) => pager::map(k, a1 as EnvId, a2u, a3u, a4).map(|()| 0),
        Some(Syscall::NetTryTransmit) => crate::net::sys_net_try_transmit(k, a1u, a2u),
        Some(Syscall::NetTryReceive) => crate::net::sys_net_try_receive(k, a1u, a2u),
        Some(Syscall::KernCmdline) => sys_kern_cmdline(k, a1u, a2u),
        Some(Syscall::NetReceive) => crate::net::sys_net_receive(k, a1u, a2u),
    };
    match r {
        Ok(v) => v as i32,
        Err(e) => e.code(),
    }
}
