//! System calls (JOS's kern/syscall.c): argument checking and dispatch.
//!
//! Each `sys_*` returns `Result`; `syscall` turns that into the ABI's
//! non-negative value or negative error code in one place. Every pointer
//! and address from user space is checked before use: env ids through
//! `envid2env` (only self or a child, where JOS requires it), addresses
//! below UTOP and page-aligned, permissions a subset of PTE_SYSCALL with
//! U and P set.
use crate::arch::x86::EFlags;
use crate::env::{self, envid2env};
use crate::pmap::{self, Alloc};
use crate::{console, cpu, pager, sched, sendq};
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
pub fn user_mem_assert(e: *mut Env, va: usize, len: usize, perm: PteFlags) {
    if let Err(bad) = env::user_mem_check(e, va, len, perm | PteFlags::U) {
        page_in(e, bad, perm.contains(PteFlags::W));
        // SAFETY: e points into the array; the kernel lock is held.
        let id = unsafe { (*e).env_id };
        cprintf!(
            "[{:08x}] user_mem_check assertion failure for va {:08x}\n",
            id,
            bad
        );
        env::env_destroy(e);
    }
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
fn page_in(e: *mut Env, va: usize, write: bool) {
    if e != cur() {
        return;
    }
    // SAFETY: e is the running env; the kernel lock is held.
    let tf = unsafe { &mut (*e).env_tf };
    if tf.tf_trapno == T_SYSCALL && pager::fault_in(e, va, write) {
        // eax still holds the call's number: its result is not set yet.
        restart_syscall(tf, tf.tf_regs.reg_eax);
        sched::sched_yield();
    }
}

/// The current environment (there always is one during a system call).
fn cur() -> *mut Env {
    cpu::curenv()
}

/// Prints `len` bytes at user address `s`; destroys the caller if the range
/// is not readable user memory (a length of 0 prints nothing, whatever `s`).
fn sys_cputs(s: usize, len: usize) -> Result<u32> {
    user_mem_assert(cur(), s, len, PteFlags::U);
    let _ = env::user_read(cur(), s, len, console::cputs);
    Ok(0)
}

/// Returns a character from the console without waiting (0 if none).
fn sys_cgetc() -> Result<u32> {
    Ok(console::cons_getc().unwrap_or(0) as u32)
}

/// Returns the caller's env id.
fn sys_getenvid() -> Result<u32> {
    // SAFETY: cur() is the running env; the kernel lock is held.
    Ok(unsafe { (*cur()).env_id } as u32)
}

/// Destroys `envid` (the caller or its child).
fn sys_env_destroy(envid: EnvId) -> Result<u32> {
    let e = envid2env(envid, true)?;
    // SAFETY: e and cur() point into the Env array; the kernel lock is held.
    unsafe {
        let me = (*cur()).env_id;
        if e == cur() {
            cprintf!("[{:08x}] exiting gracefully\n", me);
        } else {
            cprintf!("[{:08x}] destroying {:08x}\n", me, (*e).env_id);
        }
    }
    env::env_destroy(e);
    Ok(0)
}

/// Gives up the CPU; returns 0 when the caller runs again.
fn sys_yield() -> ! {
    // SAFETY: the caller's saved registers are its own.
    unsafe { (*cur()).env_tf.tf_regs.reg_eax = 0 };
    sched::sched_yield();
}

/// Creates a child with a copy of the caller's registers (returning 0 in
/// the child), an empty address space, and status NOT_RUNNABLE. Returns the
/// child's id, or NoFreeEnv / NoMem.
fn sys_exofork() -> Result<u32> {
    // SAFETY: cur() is the running env; the kernel lock is held.
    let parent = unsafe { (*cur()).env_id };
    let e = env::env_alloc(parent)?;
    // SAFETY: e is the new env; cur() is the caller.
    unsafe {
        crate::fpu::env_copy(parent, (*e).env_id);
        env::set_status(e, ENV_NOT_RUNNABLE);
        (*e).env_tf = (*cur()).env_tf;
        (*e).env_tf.tf_regs.reg_eax = 0;
        // A child is an ordinary env, even the file server's: no I/O ports.
        (*e).env_tf.tf_eflags &= !EFlags::FLAGS_IOPL3.bits();
        // Its pages not yet present come from the same pager (a program
        // paged in on demand forks children that are paged in too).
        (*e).env_pager = (*cur()).env_pager;
        (*e).env_pager_lo = (*cur()).env_pager_lo;
        (*e).env_pager_hi = (*cur()).env_pager_hi;
        (*e).env_pager_key = (*cur()).env_pager_key;
        Ok((*e).env_id as u32)
    }
}

/// Sets a child's (or own) status to RUNNABLE or NOT_RUNNABLE. A child
/// running on another CPU is stopped there (cpu::kick) before it is made
/// NOT_RUNNABLE, so it runs no user instruction after this returns (a
/// system call it was making is restarted when it runs again); making a
/// running child RUNNABLE changes nothing. A child blocked in IPC stops
/// waiting, and makes the same call again when it runs again. Inval for
/// another status, or for an env making itself NOT_RUNNABLE with no parent
/// left to wake it (it could never run, nor be freed, again).
fn sys_env_set_status(envid: EnvId, status: u32) -> Result<u32> {
    if status != ENV_RUNNABLE && status != ENV_NOT_RUNNABLE {
        return Err(Error::Inval);
    }
    let e = envid2env(envid, true)?;
    if e == cur() && status == ENV_NOT_RUNNABLE && !env::parent_alive(e) {
        return Err(Error::Inval);
    }
    if let Some(c) = cpu::env_cpu_elsewhere(e) {
        // SAFETY: e points into the Env array; the kernel lock is held.
        if status == ENV_RUNNABLE && unsafe { (*e).env_status } == ENV_RUNNING {
            // Runnable already; RUNNABLE would let a second CPU pick it up.
            return Ok(0);
        }
        cpu::kick(c, false);
    }
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe {
        // Blocked in sys_ipc_send or sys_ipc_recv: the wait ends (so no
        // sender or receiver later touches an env that is running again,
        // or wakes one its parent stopped), and the call is restarted when
        // the env runs again, as any system call a stop interrupts.
        // Stopping and resuming a blocked env is then invisible to it.
        if (*e).env_ipc_recving != 0 && (*e).env_ipc_recv_from != 0 && !pager::waiting(e) {
            // A closed receive (the answer half of sys_ipc_call, say) is
            // not cancelled: its one sender may answer only now, and never
            // again (a server never waits for a client). A stopped env keeps
            // waiting, and an answer is kept for it until it runs again
            // (env::wake); it stays NOT_RUNNABLE either way until then.
            (*e).env_ipc_held = (status == ENV_NOT_RUNNABLE) as u32;
            return Ok(0);
        }
        (*e).env_ipc_held = 0;
        let restart = if pager::waiting(e) {
            // Waiting for its pager: it retries the fault instead.
            pager::cancel(e);
            None
        } else if (*e).env_ipc_send_to != 0 {
            // A call whose request was not taken yet is made again whole.
            env::cancel_send(e);
            let call = (*e).env_ipc_recv_from != 0;
            (*e).env_ipc_recv_from = 0;
            Some(if call {
                Syscall::IpcCall
            } else {
                Syscall::IpcSend
            })
        } else if (*e).env_ipc_recving != 0 {
            (*e).env_ipc_recving = 0;
            Some(Syscall::IpcRecv)
        } else {
            None
        };
        if let Some(call) = restart {
            restart_syscall(&mut (*e).env_tf, call.number());
        }
        env::set_status(e, status);
    }
    Ok(0)
}

/// Replaces a child's (or own) registers with the Trapframe at user
/// address `tf`, forced to user mode with interrupts on and IOPL 0. A child
/// running on another CPU is stopped there first (cpu::kick) and resumes
/// with the new registers. For the caller itself this does not return: it
/// resumes with the new registers (a way to return from a handler with the
/// trap flag set). A child blocked in sys_ipc_recv or sys_ipc_send stops
/// waiting (it stays not runnable until made runnable). Destroys the caller
/// if `tf` is not readable.
fn sys_env_set_trapframe(envid: EnvId, tf: usize) -> Result<u32> {
    let e = envid2env(envid, true)?;
    user_mem_assert(cur(), tf, size_of::<Trapframe>(), PteFlags::U);
    let mut new = Trapframe::zeroed();
    // SAFETY: Trapframe is plain u32/u16 fields: any bytes are a valid one.
    let raw = unsafe {
        core::slice::from_raw_parts_mut((&raw mut new).cast::<u8>(), size_of::<Trapframe>())
    };
    env::user_copy_in(cur(), tf, raw).map_err(|_| Error::Fault)?;
    new.tf_cs = GD_UT | 3;
    new.tf_ds = GD_UD | 3;
    new.tf_es = GD_UD | 3;
    new.tf_ss = GD_UD | 3;
    // Only the flags a user program may set itself (arithmetic flags,
    // direction, trap for single-stepping, alignment check); interrupts on,
    // IOPL 0, and never virtual-8086 mode or a nested task.
    let user = EFlags::from_bits_truncate(new.tf_eflags) & FL_USER;
    new.tf_eflags = (user | EFlags::FLAGS_IF | EFlags::FLAGS_A1).bits();
    if let Some(c) = cpu::env_cpu_elsewhere(e) {
        // Stopped in a trap on its CPU, whose registers it saved already:
        // that trap is void now (see trap::trap).
        cpu::kick(c, false);
        env::set_tf_replaced(e);
    }
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe {
        // Blocked in IPC: the wait is cancelled, or a message arriving later
        // would write its result over the new registers' eax.
        if pager::waiting(e) {
            pager::cancel(e);
        }
        (*e).env_ipc_recving = 0;
        if (*e).env_ipc_send_to != 0 {
            env::cancel_send(e);
        }
        (*e).env_ipc_recv_from = 0;
        (*e).env_ipc_held = 0;
        (*e).env_tf = new;
    }
    if e == cur() {
        env::env_run(e);
    }
    Ok(0)
}

/// Sets the page-fault upcall of a child (or self). The address is checked
/// when a fault is delivered.
fn sys_env_set_pgfault_upcall(envid: EnvId, func: usize) -> Result<u32> {
    let e = envid2env(envid, true)?;
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe { (*e).env_pgfault_upcall = func as u32 };
    Ok(0)
}

/// Before changing `e`'s address space: if `e` is another CPU's env, stops
/// that CPU (cpu::kick) and has it flush its TLB before it runs `e` again,
/// so no stale translation outlives the change (a page unmapped here may be
/// freed at once).
fn stop_elsewhere(e: *mut Env) {
    if let Some(c) = cpu::env_cpu_elsewhere(e) {
        cpu::kick(c, true);
    }
}

/// Checks a user page address: below UTOP and page-aligned.
fn check_va(va: usize) -> Result<()> {
    if va >= UTOP || !va.is_multiple_of(PGSIZE) {
        Err(Error::Inval)
    } else {
        Ok(())
    }
}

/// Checks permissions a user may ask for: U and P, and nothing outside
/// PTE_SYSCALL.
fn check_perm(perm: u32) -> Result<PteFlags> {
    let p = PteFlags::from_bits(perm).ok_or(Error::Inval)?;
    if !p.contains(PteFlags::U | PteFlags::P) || !PteFlags::SYSCALL.contains(p) {
        return Err(Error::Inval);
    }
    Ok(p)
}

/// Free pages only the file server may take with sys_page_alloc.
const FS_RESERVE: usize = 32;

/// Maps a fresh zeroed page at `va` in a child (or self), replacing what
/// was there (a child running on another CPU is stopped first).
fn sys_page_alloc(envid: EnvId, va: usize, perm: u32) -> Result<u32> {
    let e = envid2env(envid, true)?;
    stop_elsewhere(e);
    check_va(va)?;
    let perm = check_perm(perm)?;
    // The last FS_RESERVE free pages are the file server's: when clients
    // swap, memory is short for good, and the server that keeps their swap
    // space must still be able to grow its cache or heap to serve them.
    // SAFETY: cur() is the running env, alive while its system call runs.
    if pmap::nfree() < FS_RESERVE && unsafe { (*cur()).env_type } != abi::env::ENV_TYPE_FS {
        return Err(Error::NoMem);
    }
    let pg = pmap::page_alloc(Alloc::Zero).ok_or(Error::NoMem)?;
    if let Err(err) = pmap::page_insert(env::env_pgdir(e), pg, va, perm) {
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
    srcenv: EnvId,
    srcva: usize,
    dstenv: EnvId,
    dstva: usize,
    perm: u32,
) -> Result<u32> {
    let src = envid2env(srcenv, true)?;
    let dst = envid2env(dstenv, true)?;
    stop_elsewhere(dst);
    // The zero page may be mapped from UZERO (it is never writable there).
    if srcva != UZERO {
        check_va(srcva)?;
    }
    check_va(dstva)?;
    let perm = check_perm(perm)?;
    let (pg, pte) = pmap::page_lookup(env::env_pgdir(src), srcva).ok_or(Error::Inval)?;
    // SAFETY: pte is a live PTE of src's directory.
    let src_writable = unsafe { *pte }.flags().contains(PteFlags::W);
    let exclusive_in_place = src == dst && srcva == dstva && pg.refcount() == 1;
    if perm.contains(PteFlags::W) && !src_writable && !exclusive_in_place {
        return Err(Error::Inval);
    }
    pmap::page_insert(env::env_pgdir(dst), pg, dstva, perm)?;
    Ok(0)
}

/// Unmaps the page at `va` in a child (or self); nothing mapped is fine.
/// A child running on another CPU is stopped first, and runs no user
/// instruction with the old mapping after this returns.
fn sys_page_unmap(envid: EnvId, va: usize) -> Result<u32> {
    let e = envid2env(envid, true)?;
    stop_elsewhere(e);
    check_va(va)?;
    pmap::page_remove(env::env_pgdir(e), va);
    Ok(0)
}

/// Checks a page `src` offers to send: page-aligned, mapped, and `perm`
/// allowed (writable only if `src` has it writable). `srcva >= UTOP` means
/// no page. Returns the page and permissions to map, if any.
fn check_send_page(
    src: *mut Env,
    srcva: usize,
    perm: u32,
) -> Result<Option<(pmap::Page, PteFlags)>> {
    if srcva >= UTOP {
        return Ok(None);
    }
    check_va(srcva)?;
    let p = check_perm(perm)?;
    let (pg, pte) = pmap::page_lookup(env::env_pgdir(src), srcva).ok_or(Error::Inval)?;
    // SAFETY: pte is a live PTE of src's directory.
    if p.contains(PteFlags::W) && !unsafe { *pte }.flags().contains(PteFlags::W) {
        return Err(Error::Inval);
    }
    Ok(Some((pg, p)))
}

/// A page the caller sends (at `srcva`, if below UTOP and page-aligned)
/// that its pager has not paged in yet: the caller waits for it and sends
/// again (see page_in).
fn page_in_source(srcva: usize) {
    if srcva < UTOP
        && srcva.is_multiple_of(PGSIZE)
        && pmap::page_lookup(env::env_pgdir(cur()), srcva).is_none()
    {
        page_in(cur(), srcva, false);
    }
}

/// Delivers a message from `src` to `dst`, which is waiting in
/// sys_ipc_recv: maps the page (if one is offered and wanted), records
/// value, sender and permissions, and makes `dst` runnable with result 0.
fn ipc_deliver(src: *mut Env, dst: *mut Env, value: u32, srcva: usize, perm: u32) -> Result<()> {
    let page = check_send_page(src, srcva, perm)?;
    if pager::waiting(dst) {
        // The pager's answer to a page fault (pager::takes checked it): the
        // page goes where the fault was, and nothing else of dst changes.
        // SAFETY: dst points into the Env array; the kernel lock is held.
        unsafe {
            if let Some((pg, p)) = page {
                pmap::page_insert(env::env_pgdir(dst), pg, pager::fault_page(dst), p)?;
            }
            pager::answered(dst, page.is_some(), value);
        }
        return Ok(());
    }
    // SAFETY: src and dst point into the Env array; the kernel lock is held.
    unsafe {
        let mut sent_perm = 0;
        let dstva = (*dst).env_ipc_dstva as usize;
        if let Some((pg, p)) = page
            && dstva < UTOP
        {
            pmap::page_insert(env::env_pgdir(dst), pg, dstva, p)?;
            sent_perm = p.bits();
        }
        (*dst).env_ipc_recving = 0;
        (*dst).env_ipc_recv_from = 0;
        (*dst).env_ipc_from = (*src).env_id;
        (*dst).env_ipc_value = value;
        (*dst).env_ipc_perm = sent_perm;
        (*dst).env_tf.tf_regs.reg_eax = 0;
    }
    // A receiver blocked in sys_ipc_recv wakes up (unless its parent
    // stopped it); one served at once from the send queue is the caller,
    // still running.
    env::wake(dst);
    Ok(())
}

/// Delivers the message of `s`, blocked in sys_ipc_send or sys_ipc_call
/// (just taken out of `e`'s send queue), to `e`, receiving; or, if `s`
/// waits for its pager `e`, gives `e` the fault. A plain send ends (with
/// the delivery's result); a call's request taken goes on to wait for the
/// answer from `e` alone. Returns the delivery's result.
///
/// # Safety
/// `s` was queued to send to `e`, which is receiving and takes it; the
/// kernel lock is held.
unsafe fn deliver_queued(s: *mut Env, e: *mut Env) -> Result<()> {
    if pager::waiting(s) {
        // A page fault of an env we page: it now waits for our answer.
        // SAFETY: s waits for us, its pager; we are receiving.
        unsafe { pager::deliver_fault(s, e) };
        return Ok(());
    }
    // SAFETY: s is a blocked sender; the kernel lock is held.
    unsafe {
        let (v, va, p) = (
            (*s).env_ipc_send_value,
            (*s).env_ipc_send_va,
            (*s).env_ipc_send_perm,
        );
        let r = ipc_deliver(s, e, v, va as usize, p);
        (*s).env_ipc_send_to = 0;
        if r.is_ok() && (*s).env_ipc_recv_from != 0 {
            // A call: its dstva and recv_from were set when it was made.
            (*s).env_ipc_recving = 1;
        } else {
            (*s).env_ipc_recv_from = 0;
            (*s).env_tf.tf_regs.reg_eax = match r {
                Ok(()) => 0,
                Err(err) => err.code() as u32,
            };
            env::wake(s);
        }
        r
    }
}

/// Sends `value` (and the page at `srcva` if below UTOP, with `perm`) to
/// `envid`, which must be waiting in sys_ipc_recv (else IpcNotRecv). Any
/// environment may send to any other.
fn sys_ipc_try_send(envid: EnvId, value: u32, srcva: usize, perm: u32) -> Result<u32> {
    let dst = envid2env(envid, false)?;
    page_in_source(srcva);
    if !pager::takes(dst, cur(), value) {
        return Err(Error::IpcNotRecv);
    }
    ipc_deliver(cur(), dst, value, srcva, perm)?;
    Ok(0)
}

/// Like sys_ipc_try_send, but if `envid` is not receiving yet, waits until
/// it is: the caller sleeps and the receiver's next sys_ipc_recv takes the
/// message from the sender that has waited longest. Returns 0 once
/// delivered, BadEnv if the receiver goes away first, Inval for a bad page
/// or a send to oneself (which could never be received).
fn sys_ipc_send(envid: EnvId, value: u32, srcva: usize, perm: u32) -> Result<u32> {
    let dst = envid2env(envid, false)?;
    let me = cur();
    if dst == me {
        return Err(Error::Inval);
    }
    page_in_source(srcva);
    if send_or_queue(me, dst, value, srcva, perm)? {
        return Ok(0);
    }
    env::set_status(me, ENV_NOT_RUNNABLE);
    // SAFETY: me is the running env; the kernel lock is held.
    unsafe { (*me).env_tf.tf_regs.reg_eax = 0 };
    sched::sched_yield();
}

/// The sending half of sys_ipc_send and sys_ipc_call: delivers `me`'s
/// message to `dst` now if it takes it (Ok(true)), or, after checking the
/// page (so the error goes to the sender at once), puts `me` in `dst`'s
/// send queue with the message (Ok(false)); the caller then blocks `me`.
/// The delivery's or the page check's error otherwise.
fn send_or_queue(me: *mut Env, dst: *mut Env, value: u32, srcva: usize, perm: u32) -> Result<bool> {
    if pager::takes(dst, me, value) {
        ipc_deliver(me, dst, value, srcva, perm)?;
        return Ok(true);
    }
    check_send_page(me, srcva, perm)?;
    // SAFETY: dst and me point into the Env array; the kernel lock is held.
    unsafe {
        (*me).env_ipc_send_to = (*dst).env_id;
        sendq::push(envx((*dst).env_id), envx((*me).env_id));
        (*me).env_ipc_send_value = value;
        (*me).env_ipc_send_va = srcva as u32;
        (*me).env_ipc_send_perm = perm;
    }
    Ok(false)
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
fn sys_ipc_recv(dstva: usize, from: EnvId) -> Result<u32> {
    if dstva < UTOP && !dstva.is_multiple_of(PGSIZE) {
        return Err(Error::Inval);
    }
    let e = cur();
    let only = closed_peer(from)?;
    // SAFETY: e is the running env; the kernel lock is held.
    unsafe {
        (*e).env_ipc_recving = 1;
        (*e).env_ipc_dstva = dstva as u32;
        (*e).env_ipc_recv_from = only;
    }
    // SAFETY: as above.
    let me = envx(unsafe { (*e).env_id });
    if only != 0 {
        // The one sender we take, if it is queued to us already.
        let s = env::env_at(envx(only));
        // SAFETY: s points into the Env array; the kernel lock is held.
        if unsafe { (*s).env_id == only && (*s).env_ipc_send_to == (*e).env_id } {
            sendq::remove(me, envx(only));
            // SAFETY: s was queued to us; we receive from it.
            if unsafe { deliver_queued(s, e) }.is_ok() {
                return Ok(0);
            }
        }
    } else {
        while let Some(s) = sendq::pop(me).map(env::env_at) {
            // SAFETY: s was queued to us; we receive from anyone.
            if unsafe { deliver_queued(s, e) }.is_ok() {
                return Ok(0);
            }
        }
    }
    env::set_status(e, ENV_NOT_RUNNABLE);
    sched::sched_yield();
}

/// The env a closed receive from `from` takes messages from: 0 for `from`
/// 0 (an open receive), else its id. BadEnv if it does not exist (or is
/// dying), Inval if it is the caller.
fn closed_peer(from: EnvId) -> Result<EnvId> {
    if from == 0 {
        return Ok(0);
    }
    let p = envid2env(from, false)?;
    if p == cur() {
        return Err(Error::Inval);
    }
    // SAFETY: p points into the Env array; the kernel lock is held.
    Ok(unsafe { (*p).env_id })
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
fn sys_ipc_call(envid: EnvId, value: u32, srcva: usize, perm: u32, dstva: usize) -> Result<u32> {
    if dstva < UTOP && !dstva.is_multiple_of(PGSIZE) {
        return Err(Error::Inval);
    }
    let dst = envid2env(envid, false)?;
    let me = cur();
    if dst == me {
        return Err(Error::Inval);
    }
    page_in_source(srcva);
    let delivered = send_or_queue(me, dst, value, srcva, perm)?;
    // SAFETY: dst and me point into the Env array; the kernel lock is held.
    unsafe {
        let to = (*dst).env_id;
        if delivered {
            (*me).env_ipc_recving = 1;
        }
        (*me).env_ipc_dstva = dstva as u32;
        (*me).env_ipc_recv_from = to;
        env::set_status(me, ENV_NOT_RUNNABLE);
        (*me).env_tf.tf_regs.reg_eax = 0;
    }
    sched::sched_yield();
}

/// Whether env `envid` (any env) maps at `va` the same physical page the
/// caller maps at `myva`: 0 if so, Inval if not (either address unmapped,
/// unaligned or not below UTOP). BadEnv for no such env. A server checks
/// with it that a client holds a page the server shared with it (a file
/// descriptor's page: see the file server's `lookup`); it tells the caller
/// nothing about pages it does not map itself.
fn sys_page_check(envid: EnvId, va: usize, myva: usize) -> Result<u32> {
    let e = envid2env(envid, false)?;
    check_va(va)?;
    check_va(myva)?;
    let (mine, _) = pmap::page_lookup(env::env_pgdir(cur()), myva).ok_or(Error::Inval)?;
    let (theirs, _) = pmap::page_lookup(env::env_pgdir(e), va).ok_or(Error::Inval)?;
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
fn sys_vm_clear_ad(va: usize, len: usize) -> Result<u32> {
    let end = va.checked_add(len).ok_or(Error::Inval)?;
    if end > UTOP {
        return Err(Error::Inval);
    }
    let pgdir = env::env_pgdir(cur());
    let mut n = 0;
    let mut page = va & !(PGSIZE - 1);
    while page < end {
        // A missing page table: skip its 4 MiB at once, so the cost follows
        // what is mapped, not the length asked for.
        // SAFETY: pgdir is the caller's page directory; the lock is held.
        if !unsafe { (*pgdir).0[pdx(page)] }.is_present() {
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

/// Dispatches system call `num` with its arguments; returns the result for
/// EAX (negative: an error code). Unknown numbers return -E_INVAL.
pub fn syscall(num: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32) -> i32 {
    let (a1u, a2u, a3u, a4u) = (a1 as usize, a2 as usize, a3 as usize, a4 as usize);
    let r = match Syscall::from_u32(num) {
        None => Err(Error::Inval),
        Some(Syscall::Cputs) => sys_cputs(a1u, a2u),
        Some(Syscall::Cgetc) => sys_cgetc(),
        Some(Syscall::Getenvid) => sys_getenvid(),
        Some(Syscall::EnvDestroy) => sys_env_destroy(a1 as EnvId),
        Some(Syscall::PageAlloc) => sys_page_alloc(a1 as EnvId, a2u, a3),
        Some(Syscall::PageMap) => sys_page_map(a1 as EnvId, a2u, a3 as EnvId, a4u, a5),
        Some(Syscall::PageUnmap) => sys_page_unmap(a1 as EnvId, a2u),
        Some(Syscall::Exofork) => sys_exofork(),
        Some(Syscall::EnvSetStatus) => sys_env_set_status(a1 as EnvId, a2),
        Some(Syscall::EnvSetTrapframe) => sys_env_set_trapframe(a1 as EnvId, a2u),
        Some(Syscall::EnvSetPgfaultUpcall) => sys_env_set_pgfault_upcall(a1 as EnvId, a2u),
        Some(Syscall::Yield) => sys_yield(),
        Some(Syscall::IpcTrySend) => sys_ipc_try_send(a1 as EnvId, a2, a3u, a4),
        Some(Syscall::IpcRecv) => sys_ipc_recv(a1u, a2 as EnvId),
        Some(Syscall::VmClearAd) => sys_vm_clear_ad(a1u, a2u),
        Some(Syscall::IpcSend) => sys_ipc_send(a1 as EnvId, a2, a3u, a4),
        Some(Syscall::EnvSetPager) => {
            pager::set(a1 as EnvId, a2 as EnvId, a3u, a4u, a5).map(|()| 0)
        }
        Some(Syscall::IpcCall) => sys_ipc_call(a1 as EnvId, a2, a3u, a4, a5 as usize),
        Some(Syscall::PageCheck) => sys_page_check(a1 as EnvId, a2u, a3u),
    };
    match r {
        Ok(v) => v as i32,
        Err(e) => e.code(),
    }
}
