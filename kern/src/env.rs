//! User environments (JOS's kern/env.c): the Env table, address spaces,
//! loading programs, running and destroying them.
//!
//! The Env array (NENV entries) is mapped read-only for users at UENVS. An
//! env id is `generation << 10 | index`, so a reused slot gets a new id and a
//! stale id is caught by `envid2env`.
//!
//! Every function here expects the caller to hold the kernel lock; Env
//! records are reached through raw pointers into the array, and the lock is
//! what makes each access exclusive.
use crate::arch::x86::{self, EFlags};
use crate::cpu;
use crate::pmap::{self, Alloc, Page, PageTable};
use crate::trap::entry::env_pop_tf;
use abi::elf;
use abi::env::*;
use abi::error::{Error, Result};
use abi::memlayout::*;
use abi::mmu::*;
use abi::trap::{GD_UD, GD_UT};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use spin::Mutex;

/// Set when sys_env_set_trapframe replaced the registers of an env that
/// another CPU had just stopped (cpu::kick): the trap that CPU is handling
/// for it is then void (see trap::trap). By env index.
static TF_REPLACED: [AtomicBool; NENV] = [const { AtomicBool::new(false) }; NENV];

/// Records that `e`'s registers were replaced while its CPU was in a trap.
pub fn set_tf_replaced(e: *const Env) {
    // SAFETY: e points into the Env array; the kernel lock is held.
    TF_REPLACED[envx(unsafe { (*e).env_id })].store(true, Ordering::Relaxed);
}

/// Whether `e`'s registers were replaced (see set_tf_replaced); clears it.
pub fn take_tf_replaced(e: *const Env) -> bool {
    // SAFETY: e points into the Env array; the kernel lock is held.
    let flag = &TF_REPLACED[envx(unsafe { (*e).env_id })];
    flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::Relaxed)
}

/// The envs whose status is ENV_RUNNABLE, one bit per env index: the
/// scheduler finds the next one without looking at every env. Changed only
/// through `set_status`, under the kernel lock.
static RUNNABLE: [AtomicU32; NENV / 32] = [const { AtomicU32::new(0) }; NENV / 32];

/// Sets `e`'s status, keeping the runnable set in step. The kernel lock
/// must be held.
pub fn set_status(e: *mut Env, status: u32) {
    // SAFETY: e points into the Env array; the kernel lock is held.
    let i = unsafe {
        (*e).env_status = status;
        envx((*e).env_id)
    };
    let bit = 1u32 << (i % 32);
    if status == ENV_RUNNABLE {
        RUNNABLE[i / 32].fetch_or(bit, Ordering::Relaxed);
    } else {
        RUNNABLE[i / 32].fetch_and(!bit, Ordering::Relaxed);
    }
}

/// The indices of runnable envs, in round-robin order from index `start`
/// (those at or after it, then those before it). The kernel lock must be
/// held.
pub fn runnable_from(start: usize) -> impl Iterator<Item = usize> {
    let start = start % NENV;
    let words = NENV / 32;
    // Word start/32 twice: its bits at or after `start` first, the ones
    // before it last.
    (0..=words).flat_map(move |k| {
        let w = (start / 32 + k) % words;
        let mut bits = RUNNABLE[w].load(Ordering::Relaxed);
        let lo = start % 32;
        if k == 0 {
            bits &= !0u32 << lo;
        } else if k == words {
            bits &= !(!0u32 << lo);
        }
        core::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(w * 32 + b)
        })
    })
}

/// The head of the free list (a kernel address of an Env, 0: empty),
/// chained through env_link.
static ENV_FREE_LIST: Mutex<usize> = Mutex::new(0);

/// The Env array.
pub fn envs() -> *mut Env {
    pmap::envs_array()
}

/// The Env in slot `i`.
pub fn env_at(i: usize) -> *mut Env {
    assert!(i < NENV);
    // SAFETY: i is inside the array.
    unsafe { envs().add(i) }
}

/// The page directory of `e`.
pub fn env_pgdir(e: *const Env) -> *mut PageTable {
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe { (*e).env_pgdir as usize as *mut PageTable }
}

/// Marks every Env free and puts them on the free list in order, so the
/// first env_alloc returns envs[0] (id 0x1000).
pub fn env_init() {
    let mut head = ENV_FREE_LIST.lock();
    *head = 0;
    for i in (0..NENV).rev() {
        let e = env_at(i);
        // SAFETY: boot time, single CPU: nothing else uses the array.
        unsafe {
            *e = Env::zeroed();
            (*e).env_link = *head as u32;
        }
        *head = e as usize;
    }
}

/// Converts an env id to an Env. Id 0 means the current environment. With
/// `checkperm`, the env must be the current one or its child. Returns
/// Err(BadEnv) for a free slot, a dying env (destroyed while running on
/// another CPU: it is gone for every purpose, only not freed yet), a stale
/// id, or a permission failure.
pub fn envid2env(envid: EnvId, checkperm: bool) -> Result<*mut Env> {
    let cur = cpu::curenv();
    if envid == 0 {
        return if cur.is_null() {
            Err(Error::BadEnv)
        } else {
            Ok(cur)
        };
    }
    let e = env_at(envx(envid));
    // SAFETY: e points into the array; the kernel lock is held.
    unsafe {
        if matches!((*e).env_status, ENV_FREE | ENV_DYING) || (*e).env_id != envid {
            return Err(Error::BadEnv);
        }
        if checkperm && e != cur && (cur.is_null() || (*e).env_parent_id != (*cur).env_id) {
            return Err(Error::BadEnv);
        }
    }
    Ok(e)
}

/// Gives `e` a page directory: empty below UTOP, the kernel's entries above
/// it (copied from kern_pgdir, so page tables above UTOP are shared), and
/// its own UVPT entry. Returns Err(NoMem) if no page is free.
fn env_setup_vm(e: *mut Env) -> Result<()> {
    let pg = pmap::page_alloc(Alloc::Zero).ok_or(Error::NoMem)?;
    pmap::page_incref(pg);
    let pgdir = pg.kva() as *mut PageTable;
    let kern = pmap::kern_pgdir();
    // SAFETY: pgdir is a fresh page; kern_pgdir is only read.
    unsafe {
        for i in pdx(UTOP)..NPDENTRIES {
            (*pgdir).0[i] = (*kern).0[i];
        }
        (*pgdir).0[pdx(UVPT)] = Pte::new(pg.pa(), PteFlags::P | PteFlags::U);
        (*e).env_pgdir = pgdir as u32;
    }
    Ok(())
}

/// Allocates a new environment, child of `parent_id` (0 for the kernel),
/// with an empty address space and registers set for user mode. Returns
/// Err(NoFreeEnv) if all NENV are in use, Err(NoMem) if out of memory.
pub fn env_alloc(parent_id: EnvId) -> Result<*mut Env> {
    let mut head = ENV_FREE_LIST.lock();
    if *head == 0 {
        return Err(Error::NoFreeEnv);
    }
    let e = *head as *mut Env;
    env_setup_vm(e)?;
    // SAFETY: e is a free Env from the list; the kernel lock is held.
    unsafe {
        *head = (*e).env_link as usize;
        drop(head);
        let idx = e.offset_from(envs()) as i32;
        let mut generation = (*e).env_id.wrapping_add(1 << ENVGENSHIFT) & !(NENV as i32 - 1);
        if generation <= 0 {
            generation = 1 << ENVGENSHIFT;
        }
        let pgdir = (*e).env_pgdir;
        *e = Env::zeroed();
        (*e).env_pgdir = pgdir;
        (*e).env_id = generation | idx;
        (*e).env_parent_id = parent_id;
        (*e).env_type = ENV_TYPE_USER;
        set_status(e, ENV_RUNNABLE);
        (*e).env_cpunum = -1;
        crate::fpu::env_reset((*e).env_id);
        TF_REPLACED[idx as usize].store(false, Ordering::Relaxed);

        // User segments with RPL 3; the stack at USTACKTOP; interrupts on.
        let tf = &mut (*e).env_tf;
        tf.tf_ds = GD_UD | 3;
        tf.tf_es = GD_UD | 3;
        tf.tf_ss = GD_UD | 3;
        tf.tf_esp = USTACKTOP as u32;
        tf.tf_cs = GD_UT | 3;
        tf.tf_eflags = EFlags::FLAGS_IF.bits();

        let cur = cpu::curenv();
        let creator = if cur.is_null() { 0 } else { (*cur).env_id };
        cprintf!("[{:08x}] new env {:08x}\n", creator, (*e).env_id);
    }
    Ok(e)
}

/// Maps fresh zeroed pages over [va, va + len) in `e` with `perm`; a page
/// already mapped there keeps its contents and gains `perm`. Returns
/// Err(NoMem) if memory runs out (what was mapped stays, for env_free).
fn region_alloc(e: *mut Env, va: usize, len: usize, perm: PteFlags) -> Result<()> {
    let pgdir = env_pgdir(e);
    let start = round_down(va, PGSIZE);
    let end = round_up(va + len, PGSIZE).ok_or(Error::Inval)?;
    for a in (start..end).step_by(PGSIZE) {
        match pmap::page_lookup(pgdir, a) {
            Some((_, pte)) => {
                // SAFETY: pte is a live PTE of e's directory.
                unsafe { *pte = Pte::from_raw((*pte).raw() | perm.bits()) };
            }
            None => {
                let pg = pmap::page_alloc(Alloc::Zero).ok_or(Error::NoMem)?;
                if let Err(err) = pmap::page_insert(pgdir, pg, a, perm) {
                    pmap::page_free(pg);
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}

/// Loads the checked ELF image `elf` into `e`: each loadable segment at its
/// address (file bytes copied, the rest zero), one page of stack below
/// USTACKTOP, and the entry point. Returns Err(NoMem) if memory runs out.
fn load_icode(e: *mut Env, elf: &elf::ElfImage) -> Result<()> {
    let pgdir = env_pgdir(e);
    for seg in elf.load_segments() {
        if seg.memsz == 0 {
            continue;
        }
        let mut perm = PteFlags::U;
        if seg.flags & elf::PF_W != 0 {
            perm |= PteFlags::W;
        }
        region_alloc(e, seg.va, seg.memsz, perm)?;
        // Copy the file bytes through the kernel's view of each page.
        let mut done = 0;
        while done < seg.data.len() {
            let va = seg.va + done;
            let n = (PGSIZE - pgoff(va)).min(seg.data.len() - done);
            let (pg, _) = pmap::page_lookup(pgdir, va).expect("region_alloc mapped it");
            // SAFETY: pg is a page of e mapped at its kva; the copy stays in it.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    seg.data[done..].as_ptr(),
                    (pg.kva() + pgoff(va)) as *mut u8,
                    n,
                );
            }
            done += n;
        }
    }
    region_alloc(e, USTACKTOP - PGSIZE, PGSIZE, PteFlags::U | PteFlags::W)?;
    // SAFETY: e is ours; the kernel lock is held.
    unsafe { (*e).env_tf.tf_eip = elf.entry() as u32 };
    Ok(())
}

/// Creates an environment of type `env_type` running the ELF `image` (a
/// boot module); an ENV_TYPE_FS env may use I/O ports. Returns its Env, or
/// the error from env_alloc / load_icode (nothing leaks).
pub fn env_create(image: &[u8], env_type: u32) -> Result<*mut Env> {
    // Check the whole image before creating anything for it.
    let elf = elf::parse(image, UTOP).map_err(|err| {
        use core::fmt::Write;
        let _ = writeln!(crate::console::lock(), "load_icode: bad ELF image: {err}");
        Error::NotExec
    })?;
    let e = env_alloc(0)?;
    if let Err(err) = load_icode(e, &elf) {
        env_free(e);
        return Err(err);
    }
    // SAFETY: e is ours; the kernel lock is held.
    unsafe {
        (*e).env_type = env_type;
        // The file-system server drives the disk itself: it alone may use
        // I/O ports (IOPL 3). Every other env that tries faults.
        if env_type == ENV_TYPE_FS {
            (*e).env_tf.tf_eflags |= EFlags::FLAGS_IOPL3.bits();
        }
    }
    Ok(e)
}

/// Frees `e` and everything it owns: every page mapped below UTOP, its page
/// tables and its page directory. Then frees the children it strands: a
/// child that is not runnable and not waiting in IPC could only ever have
/// been woken by `e` (sys_env_set_status), so nobody could run it or free
/// its pages any more (e.g. a child made by sys_exofork and never started,
/// its parent killed in the middle of fork). And so on down the tree.
/// `e` must run nowhere but (perhaps) on this CPU.
pub fn env_free(e: *mut Env) {
    env_free_one(e);
    while let Some(orphan) = (0..NENV).map(env_at).find(|&c| stranded(c)) {
        // On another CPU (stopped there by a kick): that CPU frees it.
        if let Some(c) = cpu::env_cpu_elsewhere(orphan) {
            set_status(orphan, ENV_DYING);
            cpu::kick(c, false);
        } else {
            env_free_one(orphan);
        }
    }
}

/// Whether `c` can never run again: not runnable, not waiting in IPC (where
/// any env could wake it), and its parent, the only env that could make it
/// runnable, is gone.
fn stranded(c: *const Env) -> bool {
    // SAFETY: c points into the Env array; the kernel lock is held.
    unsafe {
        (*c).env_status == ENV_NOT_RUNNABLE
            && (*c).env_ipc_recving == 0
            && (*c).env_ipc_send_to == 0
            && !parent_alive(c)
    }
}

/// Whether `c`'s parent still exists (a dying parent counts: it strands
/// its children when it is freed). An env made by the kernel has none.
pub fn parent_alive(c: *const Env) -> bool {
    // SAFETY: c points into the Env array; the kernel lock is held.
    let pid = unsafe { (*c).env_parent_id };
    if pid == 0 {
        return false;
    }
    let p = env_at(envx(pid));
    // SAFETY: as above.
    unsafe { (*p).env_id == pid && (*p).env_status != ENV_FREE }
}

/// Makes `e`, whose IPC wait just ended (its result in eax), runnable,
/// unless its parent stopped it during a closed receive
/// (`env_ipc_held`): then it stays stopped, with the result kept, until
/// the parent makes it runnable. With the parent gone, nobody could, so
/// it runs.
pub fn wake(e: *mut Env) {
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe {
        if (*e).env_ipc_held != 0 && parent_alive(e) {
            return;
        }
        (*e).env_ipc_held = 0;
        if (*e).env_status == ENV_NOT_RUNNABLE {
            set_status(e, ENV_RUNNABLE);
        }
    }
}

/// Takes `e`, blocked in sys_ipc_send, out of its receiver's queue: it is
/// no longer sending.
pub fn cancel_send(e: *mut Env) {
    // SAFETY: e points into the Env array; the kernel lock is held.
    unsafe {
        crate::sendq::remove(envx((*e).env_ipc_send_to), envx((*e).env_id));
        (*e).env_ipc_send_to = 0;
    }
}

/// Frees `e` and its address space (env_free without the orphans).
fn env_free_one(e: *mut Env) {
    let cur = cpu::curenv();
    let pgdir = env_pgdir(e);
    // Do not keep running on the page tables being freed.
    if x86::rcr3() == pmap::paddr(pgdir as usize) {
        // SAFETY: kern_pgdir maps the kernel like every env directory.
        unsafe { x86::lcr3(pmap::paddr(pmap::kern_pgdir() as usize)) };
    }
    // SAFETY: e and cur point into the Env array; the kernel lock is held.
    unsafe {
        let by = if cur.is_null() { 0 } else { (*cur).env_id };
        cprintf!("[{:08x}] free env {:08x}\n", by, (*e).env_id);
        for pdeno in 0..pdx(UTOP) {
            let pde = (*pgdir).0[pdeno];
            if !pde.is_present() {
                continue;
            }
            let table = pmap::kaddr(pde.addr()) as *const PageTable;
            for pteno in 0..NPTENTRIES {
                if (*table).0[pteno].is_present() {
                    pmap::page_remove(pgdir, pgaddr(pdeno, pteno, 0));
                }
            }
            (*pgdir).0[pdeno] = Pte::empty();
            pmap::page_decref(Page::from_pa(pde.addr()));
        }
        (*e).env_pgdir = 0;
        pmap::page_decref(Page::from_pa(pmap::paddr(pgdir as usize)));
        // Senders blocked on e will never be received: fail their sends
        // (and calls). (An env whose page fault went to e as its pager
        // just retries the instruction.)
        while let Some(i) = crate::sendq::pop(envx((*e).env_id)) {
            let s = env_at(i);
            // (Taken out of the queue already.)
            (*s).env_ipc_send_to = 0;
            if crate::pager::waiting(s) {
                crate::pager::retry(s);
            } else {
                (*s).env_tf.tf_regs.reg_eax = Error::BadEnv.code() as u32;
                (*s).env_ipc_recv_from = 0;
                wake(s);
            }
        }
        // Envs waiting for e's answer, as their pager (they retry the
        // instruction) or in a closed receive (E_BAD_ENV: a call to a
        // server that dies ends, instead of waiting for ever).
        let id = (*e).env_id;
        for i in 0..NENV {
            let w = env_at(i);
            if (*w).env_ipc_recving == 0 {
                continue;
            }
            if crate::pager::waiting(w) {
                if (*w).env_pager == id {
                    crate::pager::retry(w);
                }
            } else if (*w).env_ipc_recv_from == id {
                (*w).env_ipc_recving = 0;
                (*w).env_ipc_recv_from = 0;
                (*w).env_tf.tf_regs.reg_eax = Error::BadEnv.code() as u32;
                wake(w);
            }
        }
        // A sender itself leaves its receiver's queue.
        if (*e).env_ipc_send_to != 0 {
            cancel_send(e);
        }
        set_status(e, ENV_FREE);
        let mut head = ENV_FREE_LIST.lock();
        (*e).env_link = *head as u32;
        *head = e as usize;
    }
}

/// Destroys `e`. If it is another CPU's env, it is marked dying and that
/// CPU is stopped (cpu::kick) before this returns: it executes no user
/// instruction after that and frees `e` when it gets the kernel lock
/// (freeing it here would pull its page directory from under that CPU).
/// If it is the current environment, this does not return: the scheduler
/// runs something else.
pub fn env_destroy(e: *mut Env) {
    if let Some(c) = cpu::env_cpu_elsewhere(e) {
        set_status(e, ENV_DYING);
        cpu::kick(c, false);
        return;
    }
    env_free(e);
    if e == cpu::curenv() {
        cpu::set_curenv(core::ptr::null_mut());
        crate::sched::sched_yield();
    }
}

/// Switches to environment `e` and returns to user mode in it; does not
/// return.
pub fn env_run(e: *mut Env) -> ! {
    let cur = cpu::curenv();
    // SAFETY: e and cur point into the array; the kernel lock is held.
    unsafe {
        if !cur.is_null() && (*cur).env_status == ENV_RUNNING {
            set_status(cur, ENV_RUNNABLE);
        }
        cpu::set_curenv(e);
        set_status(e, ENV_RUNNING);
        (*e).env_runs = (*e).env_runs.wrapping_add(1);
        (*e).env_cpunum = cpu::cpunum() as i32;
        let pa = pmap::paddr((*e).env_pgdir as usize);
        // A kick may have left this CPU's TLB stale for e's page tables.
        let c = &*cpu::thiscpu();
        let stale = c.cpu_tlb_stale.load(Ordering::Relaxed);
        if stale {
            c.cpu_tlb_stale.store(false, Ordering::Relaxed);
        }
        if x86::rcr3() != pa || stale {
            x86::lcr3(pa);
        }
        crate::fpu::restore(e, &c.cpu_fpu_ts);
        // From here until the iret, a kick waits for this CPU's next trap
        // (published by the unlock's Release).
        c.cpu_in_user.store(true, Ordering::Relaxed);
        cpu::unlock_kernel();
        env_pop_tf(&raw const (*e).env_tf)
    }
}

/// Checks that `e` may access [va, va + len) with permissions `perm | P`.
/// Returns Err(first bad address) otherwise (the first page's bad address is
/// `va` itself, later ones their page start). Addresses at or above ULIM are
/// never allowed.
pub fn user_mem_check(
    e: *const Env,
    va: usize,
    len: usize,
    perm: PteFlags,
) -> core::result::Result<(), usize> {
    if len == 0 {
        return Ok(());
    }
    let pgdir = env_pgdir(e);
    let need = perm | PteFlags::P;
    let last = va.checked_add(len - 1).ok_or(va.max(ULIM))?;
    let mut page = round_down(va, PGSIZE);
    loop {
        let bad = va.max(page);
        if page >= ULIM {
            return Err(bad);
        }
        let ok = pmap::va2pa(pgdir, page).is_some_and(|(_, p)| p.contains(need));
        if !ok {
            return Err(bad);
        }
        if page >= round_down(last, PGSIZE) {
            return Ok(());
        }
        page += PGSIZE;
    }
}

/// Walks the user bytes [va, va + len) of `e`, if `e` may access them
/// with `perm | U | P` (user_mem_check), handing `f` the kernel address of
/// each page-sized piece and its length, in order. Returns Err(first bad
/// address) before touching anything otherwise; a length of 0 touches
/// nothing and is no error, whatever `va`.
///
/// The bytes are reached through the kernel's own mapping of each physical
/// page, never through the user address: a user address (0, say, if the
/// env mapped page 0) never becomes a Rust pointer, and `e` need not be the
/// loaded address space.
fn user_pieces(
    e: *const Env,
    va: usize,
    len: usize,
    perm: PteFlags,
    mut f: impl FnMut(usize, usize),
) -> core::result::Result<(), usize> {
    user_mem_check(e, va, len, perm | PteFlags::U)?;
    let pgdir = env_pgdir(e);
    let mut done = 0;
    while done < len {
        let a = va + done;
        let n = (PGSIZE - pgoff(a)).min(len - done);
        let (pa, _) = pmap::va2pa(pgdir, round_down(a, PGSIZE)).ok_or(a)?;
        f(pmap::kaddr(pa) + pgoff(a), n);
        done += n;
    }
    Ok(())
}

/// Reads the user bytes [va, va + len) of `e`, if `e` may read them,
/// handing them to `f` a page-sized piece at a time, in order (see
/// user_pieces). Returns Err(first bad address) before reading anything
/// otherwise; a length of 0 reads nothing and is no error.
pub fn user_read(
    e: *const Env,
    va: usize,
    len: usize,
    mut f: impl FnMut(&[u8]),
) -> core::result::Result<(), usize> {
    user_pieces(e, va, len, PteFlags::empty(), |kva, n| {
        // SAFETY: [kva, kva + n) lies in one user page, through the
        // kernel's mapping of it (user_pieces). Other envs sharing the page
        // may change the bytes under us, which only changes what f sees.
        f(unsafe { core::slice::from_raw_parts(kva as *const u8, n) })
    })
}

/// Writes `bytes` to user address `va` of `e`, if `e` may write all of
/// them (see user_pieces). Returns Err(first bad address), writing
/// nothing, otherwise.
pub fn user_copy_out(e: *const Env, va: usize, bytes: &[u8]) -> core::result::Result<(), usize> {
    let mut at = 0;
    user_pieces(e, va, bytes.len(), PteFlags::W, |kva, n| {
        // SAFETY: [kva, kva + n) lies in one user page that e may write,
        // through the kernel's mapping of it (user_pieces).
        unsafe { core::ptr::copy_nonoverlapping(bytes[at..].as_ptr(), kva as *mut u8, n) };
        at += n;
    })
}

/// Copies the user bytes at `va` of `e` into `buf` (see user_read).
/// Returns Err(first bad address) if `e` may not read them all.
pub fn user_copy_in(e: *const Env, va: usize, buf: &mut [u8]) -> core::result::Result<(), usize> {
    let mut at = 0;
    user_read(e, va, buf.len(), |piece| {
        buf[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    })
}
