//! User environments (JOS's kern/env.c): the Env table, address spaces,
//! loading programs, running and destroying them.
//!
//! The Env array (NENV entries) is mapped read-only for users at UENVS. An
//! env id is `generation << 10 | index`, so a reused slot gets a new id and a
//! stale id is caught by `envid2env`.
//!
//! Every function here takes the kernel lock's guard (`klock::Kernel`):
//! Env records and page directories are borrowed from it. Finding envs by
//! id, their status and the runnable set are the guard's (`klock.rs`); what
//! an env waits for is `ipc.rs`'s.
use crate::arch::x86::{self, EFlags};
use crate::klock::{EnvRef, KCell, Kernel};
use crate::pmap::{self, Alloc, Page, PageTable};
use crate::trap::entry::env_pop_tf;
use crate::{console, cpu, hold, ipc};
use abi::elf;
use abi::env::*;
use abi::error::{Error, Result};
use abi::memlayout::*;
use abi::mmu::*;
use abi::trap::{GD_UD, GD_UT};
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;

/// Whether the kernel prints each env's life on the console, as JOS does:
/// `[xxxxxxxx] new env`, `exiting gracefully`, `destroying`, `free env`.
/// On unless the command line says `envlog=0` (what `make qemu-nox` passes,
/// so the interactive shell is not buried in them); the graders, which boot
/// through the `run-*` targets, match these lines.
static ENV_LOG: AtomicBool = AtomicBool::new(true);

/// Turns the env lines (see ENV_LOG) on or off.
pub fn set_env_log(on: bool) {
    ENV_LOG.store(on, Ordering::Relaxed);
}

/// Whether the env lines (see ENV_LOG) are printed.
#[inline]
pub fn env_log() -> bool {
    ENV_LOG.load(Ordering::Relaxed)
}

/// Set when sys_env_set_trapframe replaced the registers of an env that
/// another CPU had just stopped (Kernel::kick): the trap that CPU is handling
/// for it is then void (see trap::trap). By env index.
static TF_REPLACED: [AtomicBool; NENV] = [const { AtomicBool::new(false) }; NENV];

/// Records that `e`'s registers were replaced while its CPU was in a trap.
#[inline]
pub fn set_tf_replaced(k: &Kernel, e: EnvRef) {
    TF_REPLACED[envx(k[e].env_id)].store(true, Ordering::Relaxed);
}

/// Whether `e`'s registers were replaced (see set_tf_replaced); clears it.
#[inline]
pub fn take_tf_replaced(k: &Kernel, e: EnvRef) -> bool {
    let flag = &TF_REPLACED[envx(k[e].env_id)];
    flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::Relaxed)
}

/// Each env's parent in the env tree, by env index: the env that created
/// it, or, once that one is freed, that one's own tree parent (so the
/// nearest ancestor still there); 0 for none (made by the kernel, or every
/// ancestor gone). Unlike `env_parent_id`, which JOS's programs read and
/// which names the creator for good, this link never points at a freed
/// env: a job's envs stay below the env that started it when an env
/// between them exits (a program that spawned another and ended), so
/// env_destroy_tree reaches them all. Kept only for envs that exist.
static TREE_PARENT: KCell<[EnvId; NENV]> = KCell::new([0; NENV]);

/// The slot of the tree parent (see TREE_PARENT) of the env in slot `j`:
/// None if that slot is free or its link is 0 or names no env that is
/// still there (the link never should; checked all the same).
fn tree_parent(k: &Kernel, j: usize) -> Option<usize> {
    if k[EnvRef::at(j)].env_status == ENV_FREE {
        return None;
    }
    let id = TREE_PARENT.get(k)[j];
    let p = EnvRef::at(envx(id));
    (id != 0 && k[p].env_id == id && k[p].env_status != ENV_FREE).then_some(p.index())
}

/// Whether the env with id `anc` is a strict ancestor of `e` in the env
/// tree (see TREE_PARENT). `anc` 0 is no env.
pub fn descends_from(k: &Kernel, e: EnvRef, anc: EnvId) -> bool {
    let mut j = e.index();
    // Each step goes to an older env; the bound only guards against a
    // slot's generation count wrapping (2^19 reuses of one slot).
    for _ in 0..NENV {
        match tree_parent(k, j) {
            Some(p) if anc != 0 && k[EnvRef::at(p)].env_id == anc => return true,
            Some(p) => j = p,
            None => return false,
        }
    }
    false
}

/// The network server's side of the machine: the id of a live (neither
/// free nor dying) ENV_TYPE_NS env, if there is one. Returns None when no
/// network server runs (JOS's TEST_NO_NS runs, and ours).
pub fn net_server(k: &Kernel) -> Option<EnvId> {
    (0..NENV).map(EnvRef::at).find_map(|e| {
        let env = &k[e];
        (env.env_type == ENV_TYPE_NS && !matches!(env.env_status, ENV_FREE | ENV_DYING))
            .then_some(env.env_id)
    })
}

/// Whether `e` is on the network server's side: an ENV_TYPE_NS env itself
/// or an env below one in the env tree (its helpers, which it forked).
/// The tree link (TREE_PARENT) never names a freed env, so a reused slot
/// or a parent id of an env gone cannot make a stranger a helper; an env
/// whose server is dying or gone is no longer one. Returns false for any
/// other env, and for every env while no network server runs.
pub fn net_side(k: &Kernel, e: EnvRef) -> bool {
    if k[e].env_type == ENV_TYPE_NS {
        return !matches!(k[e].env_status, ENV_FREE | ENV_DYING);
    }
    net_server(k).is_some_and(|ns| descends_from(k, e, ns))
}

/// Whether `e` is a server or below one in the env tree: an env of a type
/// other than ENV_TYPE_USER (the file and network servers) is on the path
/// from `e` up through its tree parents (see TREE_PARENT). False for a
/// free slot.
pub fn server_side(k: &Kernel, e: EnvRef) -> bool {
    let mut j = e.index();
    // As in descends_from, each step goes to an older env.
    for _ in 0..NENV {
        let env = &k[EnvRef::at(j)];
        if env.env_status == ENV_FREE {
            return false;
        }
        if env.env_type != ENV_TYPE_USER {
            return true;
        }
        match tree_parent(k, j) {
            Some(p) => j = p,
            None => return false,
        }
    }
    false
}

/// Destroys `root` and every env below it in the env tree (see
/// TREE_PARENT): all of them, taken at once under the kernel lock, so
/// none of them can make a new env meanwhile; envs running on other CPUs
/// are stopped before this returns (env_destroy), and freed by their CPU.
/// The caller (`me`) must be a strict ancestor of `root`, and so is not
/// among them. Returns how many envs of the tree this call destroyed:
/// every one that existed and was not already dying, whether destroyed
/// here or freed on the way by env_free as a stranded child of one
/// destroyed before it.
pub fn env_destroy_tree(k: &mut Kernel, me: EnvRef, root: EnvRef) -> usize {
    // Which slots are in the tree, with the id each had: 0 unknown, 1 in,
    // 2 out. Found before anything is destroyed, since freeing an env
    // moves its children up to its own tree parent.
    const UNKNOWN: u8 = 0;
    const IN: u8 = 1;
    const OUT: u8 = 2;
    let mut mark = [UNKNOWN; NENV];
    mark[root.index()] = IN;
    mark[me.index()] = OUT;
    for i in 0..NENV {
        // Up from i to a slot whose answer is known (or the top), then the
        // same walk again writing that answer on the way: each slot is
        // walked over a bounded number of times, so this is O(NENV).
        let parent = |j: usize| tree_parent(k, j);
        let mut j = i;
        let mut steps = 0;
        let answer = loop {
            if mark[j] != UNKNOWN {
                break mark[j];
            }
            match parent(j) {
                Some(p) if steps < NENV => j = p,
                _ => break OUT,
            }
            steps += 1;
        };
        let mut j = i;
        for _ in 0..=steps {
            if mark[j] != UNKNOWN {
                break;
            }
            mark[j] = answer;
            match parent(j) {
                Some(p) => j = p,
                None => break,
            }
        }
    }
    let ids: [EnvId; NENV] = core::array::from_fn(|i| k[EnvRef::at(i)].env_id);
    // Each of these is destroyed below, by env_destroy or, first, as a
    // stranded child of one destroyed before it.
    let n = (0..NENV)
        .filter(|&i| mark[i] == IN)
        .filter(|&i| !matches!(k[EnvRef::at(i)].env_status, ENV_FREE | ENV_DYING))
        .count();
    let by = k[me].env_id;
    for i in (0..NENV).filter(|&i| mark[i] == IN) {
        let e = EnvRef::at(i);
        // Freed meanwhile with an env destroyed before it (a child of it
        // that was never started, say: env_free frees those too).
        if k[e].env_id != ids[i] || matches!(k[e].env_status, ENV_FREE | ENV_DYING) {
            continue;
        }
        if env_log() {
            cprintf!("[{:08x}] destroying {:08x}\n", by, ids[i]);
        }
        env_destroy(k, e);
    }
    n
}

/// The head of the free list (a kernel address of an Env, 0: empty),
/// chained through env_link.
static ENV_FREE_LIST: Mutex<usize> = Mutex::new(0);

/// Marks every Env free and puts them on the free list in order, so the
/// first env_alloc returns envs[0] (id 0x1000).
pub fn env_init() {
    let mut head = ENV_FREE_LIST.lock();
    *head = 0;
    for i in (0..NENV).rev() {
        let e = EnvRef::at(i).as_ptr();
        // SAFETY: boot time, single CPU, before the kernel lock exists:
        // nothing else uses the array.
        unsafe {
            *e = Env::zeroed();
            (*e).env_link = *head as u32;
        }
        *head = e as usize;
    }
}

/// Gives `e` a page directory: empty below UTOP, the kernel's entries above
/// it (copied from kern_pgdir, so page tables above UTOP are shared), and
/// its own UVPT entry. Returns Err(NoMem) if no page is free.
fn env_setup_vm(k: &mut Kernel, e: EnvRef) -> Result<()> {
    let pg = pmap::page_alloc(Alloc::Zero).ok_or(Error::NoMem)?;
    pmap::page_incref(pg);
    let pgdir = pg.kva() as *mut PageTable;
    let kern = pmap::kern_pgdir();
    // SAFETY: pgdir is a fresh page, ours; kern_pgdir's entries above UTOP
    // are only read after boot.
    unsafe {
        for i in pdx(UTOP)..NPDENTRIES {
            (*pgdir).0[i] = (*kern).0[i];
        }
        (*pgdir).0[pdx(UVPT)] = Pte::new(pg.pa(), PteFlags::P | PteFlags::U);
    }
    k[e].env_pgdir = pgdir as u32;
    Ok(())
}

/// The Env at kernel address `a` (one from the free list).
fn env_from_addr(a: usize) -> EnvRef {
    EnvRef::at((a - pmap::envs_array() as usize) / size_of::<Env>())
}

/// Allocates a new environment, child of `parent_id` (0 for the kernel),
/// with an empty address space and registers set for user mode. Returns
/// Err(NoFreeEnv) if all NENV are in use, Err(NoMem) if out of memory.
pub fn env_alloc(k: &mut Kernel, parent_id: EnvId) -> Result<EnvRef> {
    let mut head = ENV_FREE_LIST.lock();
    if *head == 0 {
        return Err(Error::NoFreeEnv);
    }
    let e = env_from_addr(*head);
    env_setup_vm(k, e)?;
    *head = k[e].env_link as usize;
    drop(head);
    let idx = e.index() as i32;
    let creator = k.curenv().map_or(0, |c| k[c].env_id);
    let env = &mut k[e];
    let mut generation = env.env_id.wrapping_add(1 << ENVGENSHIFT) & !(NENV as i32 - 1);
    if generation <= 0 {
        generation = 1 << ENVGENSHIFT;
    }
    let pgdir = env.env_pgdir;
    *env = Env::zeroed();
    env.env_pgdir = pgdir;
    env.env_id = generation | idx;
    env.env_parent_id = parent_id;
    env.env_type = ENV_TYPE_USER;
    env.env_cpunum = -1;

    // User segments with RPL 3; the stack at USTACKTOP; interrupts on.
    let tf = &mut env.env_tf;
    tf.tf_ds = GD_UD | 3;
    tf.tf_es = GD_UD | 3;
    tf.tf_ss = GD_UD | 3;
    tf.tf_esp = USTACKTOP as u32;
    tf.tf_cs = GD_UT | 3;
    tf.tf_eflags = EFlags::FLAGS_IF.bits();
    let id = env.env_id;
    TREE_PARENT.get_mut(k)[idx as usize] = parent_id;
    k.set_status(e, ENV_RUNNABLE);
    crate::fpu::env_reset(id);
    TF_REPLACED[idx as usize].store(false, Ordering::Relaxed);
    if env_log() {
        cprintf!("[{:08x}] new env {:08x}\n", creator, id);
    }
    Ok(e)
}

/// Maps fresh zeroed pages over [va, va + len) in `e` with `perm`; a page
/// already mapped there keeps its contents and gains `perm`. Returns
/// Err(NoMem) if memory runs out (what was mapped stays, for env_free).
fn region_alloc(k: &mut Kernel, e: EnvRef, va: usize, len: usize, perm: PteFlags) -> Result<()> {
    let pgdir = k.pgdir_mut(e);
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
fn load_icode(k: &mut Kernel, e: EnvRef, elf: &elf::ElfImage) -> Result<()> {
    for seg in elf.load_segments() {
        if seg.memsz == 0 {
            continue;
        }
        let mut perm = PteFlags::U;
        if seg.flags & elf::PF_W != 0 {
            perm |= PteFlags::W;
        }
        region_alloc(k, e, seg.va, seg.memsz, perm)?;
        // Copy the file bytes through the kernel's view of each page.
        let mut done = 0;
        while done < seg.data.len() {
            let va = seg.va + done;
            let n = (PGSIZE - pgoff(va)).min(seg.data.len() - done);
            let (pg, _) = pmap::page_lookup(k.pgdir_mut(e), va).expect("region_alloc mapped it");
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
    region_alloc(k, e, USTACKTOP - PGSIZE, PGSIZE, PteFlags::U | PteFlags::W)?;
    k[e].env_tf.tf_eip = elf.entry() as u32;
    Ok(())
}

/// Creates an environment of type `env_type` running the ELF `image` (a
/// boot module); an ENV_TYPE_FS env may use I/O ports. Returns its Env, or
/// the error from env_alloc / load_icode (nothing leaks).
pub fn env_create(k: &mut Kernel, image: &[u8], env_type: u32) -> Result<EnvRef> {
    // Check the whole image before creating anything for it.
    let elf = elf::parse(image, UTOP).map_err(|err| {
        use core::fmt::Write;
        let _ = writeln!(crate::console::lock(), "load_icode: bad ELF image: {err}");
        Error::NotExec
    })?;
    let e = env_alloc(k, 0)?;
    if let Err(err) = load_icode(k, e, &elf) {
        env_free(k, e);
        return Err(err);
    }
    let env = &mut k[e];
    env.env_type = env_type;
    // The file-system server drives the disk itself: it alone may use
    // I/O ports (IOPL 3). Every other env that tries faults.
    if env_type == ENV_TYPE_FS {
        env.env_tf.tf_eflags |= EFlags::FLAGS_IOPL3.bits();
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
pub fn env_free(k: &mut Kernel, e: EnvRef) {
    env_free_one(k, e);
    while let Some(orphan) = (0..NENV).map(EnvRef::at).find(|&c| stranded(k, c)) {
        // On another CPU (stopped there by a kick): that CPU frees it.
        if let Some(c) = k.cpu_elsewhere(orphan) {
            k.set_status(orphan, ENV_DYING);
            k.kick(c, false);
        } else {
            env_free_one(k, orphan);
        }
    }
    // With `exitdone`, the boot program's last env ends the machine.
    crate::done::env_freed(k);
}

/// Whether `c` can never run again: not runnable, not waiting in IPC (where
/// any env could wake it), its parent, the only env that could make it
/// runnable, gone, and not a boot program held for the servers (hold.rs).
fn stranded(k: &Kernel, c: EnvRef) -> bool {
    k[c].env_status == ENV_NOT_RUNNABLE
        && ipc::wait(k, c) == ipc::Wait::None
        && !k.parent_alive(c)
        && !hold::is_held(k, c)
}

/// Frees `e` and its address space (env_free without the orphans).
fn env_free_one(k: &mut Kernel, e: EnvRef) {
    let by = k.curenv().map_or(0, |c| k[c].env_id);
    if env_log() {
        cprintf!("[{:08x}] free env {:08x}\n", by, k[e].env_id);
    }
    let pgdir = k.pgdir_mut(e);
    let pgdir_pa = pmap::paddr(pgdir as *const PageTable as usize);
    // Do not keep running on the page tables being freed.
    if x86::rcr3() == pgdir_pa {
        // SAFETY: kern_pgdir maps the kernel like every env directory.
        unsafe { x86::lcr3(pmap::paddr(pmap::kern_pgdir() as usize)) };
    }
    for pdeno in 0..pdx(UTOP) {
        let pde = pgdir.0[pdeno];
        if !pde.is_present() {
            continue;
        }
        let table = pmap::kaddr(pde.addr()) as *const PageTable;
        for pteno in 0..NPTENTRIES {
            // SAFETY: a present PDE below UTOP points at a page table of e's.
            if unsafe { (*table).0[pteno] }.is_present() {
                pmap::page_remove(pgdir, pgaddr(pdeno, pteno, 0));
            }
        }
        pgdir.0[pdeno] = Pte::empty();
        pmap::page_decref(Page::from_pa(pde.addr()));
    }
    k[e].env_pgdir = 0;
    pmap::page_decref(Page::from_pa(pgdir_pa));
    // Every wait on e ends, and e's own; a boot server that dies before it
    // serves releases the programs held for it.
    ipc::env_gone(k, e);
    let id = k[e].env_id;
    hold::serving(k, id);
    // Its children in the env tree move up to its own tree parent; it is
    // no longer the console's controller.
    let tree = TREE_PARENT.get_mut(k);
    let up = tree[e.index()];
    tree[e.index()] = 0;
    tree.iter_mut().filter(|p| **p == id).for_each(|p| *p = up);
    console::env_gone(id);
    k.set_status(e, ENV_FREE);
    let mut head = ENV_FREE_LIST.lock();
    k[e].env_link = *head as u32;
    *head = e.as_ptr() as usize;
}

/// Destroys `e`. If it is another CPU's env, it is marked dying and that
/// CPU is stopped (kick) before this returns: it executes no user
/// instruction after that and frees `e` when it gets the kernel lock
/// (freeing it here would pull its page directory from under that CPU).
/// If it is the current environment, this does not return: the scheduler
/// runs something else.
pub fn env_destroy(k: &mut Kernel, e: EnvRef) {
    if let Some(c) = k.cpu_elsewhere(e) {
        k.set_status(e, ENV_DYING);
        k.kick(c, false);
        return;
    }
    env_free(k, e);
    if Some(e) == k.curenv() {
        k.set_curenv(None);
        crate::sched::sched_yield(k);
    }
}

/// Switches to environment `e` and returns to user mode in it; does not
/// return.
pub fn env_run(k: &mut Kernel, e: EnvRef) -> ! {
    let cur = k.curenv();
    // Back to the env that is running here already (the end of most system
    // calls): it is this CPU's and RUNNING, its runnable bit clear, so
    // there is nothing to switch.
    if cur != Some(e) || k[e].env_status != ENV_RUNNING {
        if let Some(cur) = cur
            && k[cur].env_status == ENV_RUNNING
        {
            k.set_status(cur, ENV_RUNNABLE);
        }
        k.set_curenv(Some(e));
        k.set_status(e, ENV_RUNNING);
        // A new time slice starts (sched::sched_tick).
        // SAFETY: this CPU's own state; the fields used are atomics.
        let c = unsafe { &*cpu::thiscpu() };
        let now = c.cpu_ticks.load(Ordering::Relaxed);
        c.cpu_slice_start.store(now, Ordering::Relaxed);
    }
    let env = &mut k[e];
    env.env_runs = env.env_runs.wrapping_add(1);
    env.env_cpunum = cpu::cpunum() as i32;
    let pa = pmap::paddr(env.env_pgdir as usize);
    let id = env.env_id;
    let tf = &raw const env.env_tf;
    // SAFETY: this CPU's own state; the fields used are atomics.
    let c = unsafe { &*cpu::thiscpu() };
    // A kick may have left this CPU's TLB stale for e's page tables.
    let stale = c.cpu_tlb_stale.load(Ordering::Relaxed);
    if stale {
        c.cpu_tlb_stale.store(false, Ordering::Relaxed);
    }
    if x86::rcr3() != pa || stale {
        // SAFETY: e's directory maps the kernel like every directory.
        unsafe { x86::lcr3(pa) };
    }
    crate::fpu::restore(id, &c.cpu_fpu_ts);
    // From here until the iret, a kick waits for this CPU's next trap
    // (published by the unlock's Release).
    c.cpu_in_user.store(true, Ordering::Relaxed);
    k.unlock_then(|| {
        // SAFETY: tf is e's saved registers in the Env array. e is this
        // CPU's env: no other CPU changes its registers until it has
        // trapped again (kick waits for that).
        unsafe { env_pop_tf(tf) }
    })
}

/// Checks that `e` may access [va, va + len) with permissions `perm | P`.
/// Returns Err(first bad address) otherwise (the first page's bad address is
/// `va` itself, later ones their page start). Addresses at or above ULIM are
/// never allowed.
pub fn user_mem_check(
    k: &Kernel,
    e: EnvRef,
    va: usize,
    len: usize,
    perm: PteFlags,
) -> core::result::Result<(), usize> {
    if len == 0 {
        return Ok(());
    }
    let pgdir = k.pgdir(e);
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
    k: &Kernel,
    e: EnvRef,
    va: usize,
    len: usize,
    perm: PteFlags,
    mut f: impl FnMut(usize, usize),
) -> core::result::Result<(), usize> {
    user_mem_check(k, e, va, len, perm | PteFlags::U)?;
    let pgdir = k.pgdir(e);
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
    k: &Kernel,
    e: EnvRef,
    va: usize,
    len: usize,
    mut f: impl FnMut(&[u8]),
) -> core::result::Result<(), usize> {
    user_pieces(k, e, va, len, PteFlags::empty(), |kva, n| {
        // SAFETY: [kva, kva + n) lies in one user page, through the
        // kernel's mapping of it (user_pieces). Other envs sharing the page
        // may change the bytes under us, which only changes what f sees.
        f(unsafe { core::slice::from_raw_parts(kva as *const u8, n) })
    })
}

/// Writes `bytes` to user address `va` of `e`, if `e` may write all of
/// them (see user_pieces). Returns Err(first bad address), writing
/// nothing, otherwise.
pub fn user_copy_out(
    k: &mut Kernel,
    e: EnvRef,
    va: usize,
    bytes: &[u8],
) -> core::result::Result<(), usize> {
    let mut at = 0;
    user_pieces(k, e, va, bytes.len(), PteFlags::W, |kva, n| {
        // SAFETY: [kva, kva + n) lies in one user page that e may write,
        // through the kernel's mapping of it (user_pieces).
        unsafe { core::ptr::copy_nonoverlapping(bytes[at..].as_ptr(), kva as *mut u8, n) };
        at += n;
    })
}

/// Copies the user bytes at `va` of `e` into `buf` (see user_read).
/// Returns Err(first bad address) if `e` may not read them all.
pub fn user_copy_in(
    k: &Kernel,
    e: EnvRef,
    va: usize,
    buf: &mut [u8],
) -> core::result::Result<(), usize> {
    let mut at = 0;
    user_read(k, e, va, buf.len(), |piece| {
        buf[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    })
}
