//! Copy-on-write `fork` and shared-memory `sfork`, entirely in user space
//! (JOS's lib/fork.c).
//!
//! `fork` creates a blank child with `sys_exofork`, then walks our own page
//! tables through UVPT and maps every page below USTACKTOP into the child:
//!
//! | our page                  | child gets        | we keep           |
//! |---------------------------|-------------------|-------------------|
//! | `PTE_SHARE`               | same page, same perms | unchanged     |
//! | writable or `PTE_COW`     | same page, P\|U\|COW  | P\|U\|COW     |
//! | read-only                 | same page, read-only  | unchanged     |
//!
//! The first write to a COW page, by either side, faults into the
//! copy-on-write handler (`vm::cow`), which gives the writer a private
//! writable copy (or, when nobody else maps the page any more, simply makes
//! it writable again). The child gets its own exception stack, since that
//! page cannot be copy-on-write: the handler runs on it.
//!
//! A program paged on demand (started by `spawn`, e.g. from the shell)
//! first brings in its data and bss pages not yet present (`page_in_data`),
//! so that copy-on-write covers them as it does in a program loaded whole.
use crate::cell::EnvCell;
use crate::pgfault::{install_upcall, pgfault_upcall_addr};
use crate::syscall::{
    sys_env_destroy, sys_env_set_pgfault_upcall, sys_env_set_status, sys_exofork, sys_page_alloc,
    sys_page_map, sys_page_unmap,
};
use crate::uvpt::{for_each_present, pte_of};
use crate::vm::cow::make_private;
use abi::env::{ENV_RUNNABLE, EnvId, envx};
use abi::error::{Error, Result};
use abi::fsipc::{FDTABLE, FILEDATA};
use abi::memlayout::{USTACKTOP, UXSTACKTOP};
use abi::mmu::{PGSIZE, PTE_RW, Pte, PteFlags, round_down};

/// Permissions of a copy-on-write page.
const PTE_COW: PteFlags = PteFlags::P.union(PteFlags::U).union(PteFlags::COW);

/// Most functions [`atfork`] takes.
const MAX_ATFORK: usize = 4;

/// A function for [`atfork`].
pub type AtforkFn = fn() -> Result<()>;

/// The functions `fork` and `sfork` run first, in the order registered.
static ATFORK: EnvCell<[Option<AtforkFn>; MAX_ATFORK]> = EnvCell::new([None; MAX_ATFORK]);

/// Has `fork` and `sfork` run `f` before they make the child, after those
/// registered before it: how policy that must prepare the address space
/// joins in (mmap faults in its shared pages so the child shares all of
/// them; swap brings its pages back from swap). An error from `f` fails
/// the fork before any child exists. Registering `f` again does nothing.
/// A child inherits the list.
///
/// Err(NoMem) if the list is full; `f` is then not registered.
pub fn atfork(f: AtforkFn) -> Result<()> {
    let known =
        |list: &[Option<AtforkFn>]| list.iter().flatten().any(|g| core::ptr::fn_addr_eq(*g, f));
    // Read first: a registered `f` (mmap asks at each mmap) writes nothing.
    if known(&ATFORK.get()) {
        return Ok(());
    }
    ATFORK.with(|list| {
        if known(list) {
            return Ok(());
        }
        let slot = list.iter_mut().find(|s| s.is_none()).ok_or(Error::NoMem)?;
        *slot = Some(f);
        Ok(())
    })
}

/// What `fork` and `sfork` do before `sys_exofork`: refuse on the
/// exception stack, install our fault upcall (copy-on-write faults need it,
/// on both sides), run the [`atfork`] functions, and bring in the data and
/// bss pages not yet present ([`page_in_data`]). Err as for [`fork`].
fn before_fork() -> Result<()> {
    on_normal_stack()?;
    install_upcall()?;
    for i in 0..MAX_ATFORK {
        if let Some(f) = ATFORK.get_at(i) {
            f()?;
        }
    }
    // Copy-on-write the same wherever we were started: a program paged on
    // demand (spawned, e.g. from the shell) brings in its data and bss
    // pages not yet present, so each side's first write to each of them
    // after the fork is one copy-on-write fault, as in a program loaded
    // whole. (Left out, the pager would answer that write with a private
    // copy and no copy-on-write handler would run.)
    page_in_data();
    Ok(())
}

/// Maps our page at `va` (entry `pte`) into `child` as the table at the
/// top of this file says.
///
/// Err(NoMem) when a page table cannot be allocated, Err(BadEnv) for a bad
/// child.
fn duppage(child: EnvId, va: usize, pte: Pte) -> Result<()> {
    let flags = pte.flags();
    if flags.contains(PteFlags::SHARE) {
        sys_page_map(0, va, child, va, flags & PteFlags::SYSCALL)
    } else if flags.intersects(PteFlags::W | PteFlags::COW) {
        // The child first: if we remapped our page first, a write to it
        // (e.g. to the stack) before the second call would give us a private
        // copy, and the child would share that copy writable with us.
        sys_page_map(0, va, child, va, PTE_COW)?;
        sys_page_map(0, va, 0, va, PTE_COW)
    } else {
        sys_page_map(0, va, child, va, flags & PteFlags::SYSCALL)
    }
}

/// Calls `f(va, pte)` for every mapped page below USTACKTOP, skipping whole
/// page tables that are not present; stops at the first error.
///
/// The file descriptors' Fd pages (FDTABLE..FILEDATA) come last, after
/// their data pages: a pipe's other end, in another environment, decides
/// that we closed it by comparing reference counts (see `pipe.rs`), and
/// while a child has an Fd page but not yet the pipe page it refers to,
/// the counts would say so wrongly. (`spawn` sharing its pages with a
/// child needs the same order: it may use this walk.)
pub fn for_each_user_page(mut f: impl FnMut(usize, Pte) -> Result<()>) -> Result<()> {
    walk_user_pages(&mut f)
}

/// [`for_each_user_page`] through a `dyn` closure: one copy of the walk
/// for fork, sfork and spawn, not one per closure (an indirect call per
/// present page is nothing beside the system call each one makes).
#[inline(never)]
fn walk_user_pages(f: &mut dyn FnMut(usize, Pte) -> Result<()>) -> Result<()> {
    for_each_present(0, FDTABLE, &mut *f)?;
    for_each_present(FILEDATA, USTACKTOP, &mut *f)?;
    for_each_present(FDTABLE, FILEDATA, f)
}

/// Gives a new child its exception stack and upcall, and lets it run.
fn start_child(child: EnvId) -> Result<()> {
    sys_page_alloc(child, UXSTACKTOP - PGSIZE, PTE_RW)?;
    sys_env_set_pgfault_upcall(child, pgfault_upcall_addr())?;
    sys_env_set_status(child, ENV_RUNNABLE)
}

/// Sets up `child`'s address space with `map` over our pages, then starts
/// it; on failure destroys the child so nothing leaks.
///
/// Kept out of line: the parent's work happens in frames below `fork`'s,
/// which the child (resuming inside `fork` on a copy of this stack) never
/// looks at.
#[inline(never)]
fn populate_child(child: EnvId, map: impl FnMut(usize, Pte) -> Result<()>) -> Result<EnvId> {
    let r = for_each_user_page(map).and_then(|()| start_child(child));
    if let Err(e) = r {
        let _ = sys_env_destroy(child);
        return Err(e);
    }
    Ok(child)
}

/// Creates a child environment with a copy-on-write copy of our address
/// space. Returns the child's id in the parent and 0 in the child.
///
/// Err(Inval) in a page-fault handler (on the exception stack),
/// Err(NoFreeEnv) or Err(NoMem) from `sys_exofork`, Err(NoMem) while
/// mapping pages (the half-built child is destroyed), or Err(NoMem) if the
/// exception stack for our own fault handler cannot be set up (then no
/// child was made).
pub fn fork() -> Result<EnvId> {
    before_fork()?;
    let child = sys_exofork()?;
    if child == 0 {
        // The child: our registers are the parent's at `sys_exofork`, our
        // pages a copy-on-write snapshot; `sys_exofork` recorded our id.
        return Ok(0);
    }
    populate_child(child, |va, pte| {
        if perenv().contains(&va) {
            give_perenv_page(child, va)
        } else {
            duppage(child, va, pte)
        }
    })
}

/// A scratch page for `give_perenv_page` (the one below PFTEMP, which the
/// copy-on-write handler uses and could take over in the middle).
const FORKTEMP: usize = abi::memlayout::PFTEMP - PGSIZE;

/// Gives `child` (made by sys_exofork, not yet running) its own copy of our
/// `.perenv` page at `va`, with the child's env id already in it: the
/// child's first act, recording its id, then costs no copy-on-write fault.
/// Err(NoMem) if out of memory.
fn give_perenv_page(child: EnvId, va: usize) -> Result<()> {
    sys_page_alloc(child, va, PTE_RW)?;
    sys_page_map(child, va, 0, FORKTEMP, PTE_RW)?;
    // SAFETY: va (ours, mapped) and FORKTEMP (the child's new page, mapped
    // here) are distinct pages; the id slot lies in the page it names.
    unsafe {
        core::ptr::copy_nonoverlapping(va as *const u8, FORKTEMP as *mut u8, PGSIZE);
        let slot = crate::env::thisenv_slot();
        if round_down(slot, PGSIZE) == va {
            ((FORKTEMP + slot - va) as *mut EnvId).write_volatile(child);
        }
    }
    sys_page_unmap(0, FORKTEMP)
}

/// Err(Inval) if we are running on the exception stack (in a page-fault
/// handler): the child gets a fresh, empty exception stack, so it could not
/// return from fork there.
fn on_normal_stack() -> Result<()> {
    let here = 0u8;
    let sp = core::ptr::addr_of!(here) as usize;
    if (UXSTACKTOP - PGSIZE..UXSTACKTOP).contains(&sp) {
        return Err(Error::Inval);
    }
    Ok(())
}

/// Returns the lowest address of the user stack: the bottom of the run of
/// mapped pages just below USTACKTOP.
fn stack_bottom() -> usize {
    let mut va = USTACKTOP;
    while va > PGSIZE && pte_of(va - PGSIZE).is_some() {
        va -= PGSIZE;
    }
    va
}

/// The `.perenv` pages (see `jos::env`): per-environment data that sfork
/// does not share.
fn perenv() -> core::ops::Range<usize> {
    unsafe extern "C" {
        static __perenv_start: u8;
        static __perenv_end: u8;
    }
    // Only the symbols' addresses are taken (user.ld defines them).
    (&raw const __perenv_start) as usize..(&raw const __perenv_end) as usize
}

/// Touches every page of our data and bss (`.perenv`'s end to `end`) that
/// is not present: in a program paged on demand (`spawn`), the pager
/// would later give parent and child each its own copy of such a page, so
/// fork's copy-on-write would never apply to it and sfork could not share
/// it. (A read brings the page in copy-on-write, the file's block or the
/// zero page, which fork shares copy-on-write and sfork makes private and
/// shares.) Programs loaded whole have them all.
fn page_in_data() {
    unsafe extern "C" {
        static __perenv_end: u8;
        static end: u8;
    }
    if crate::env_field!(envx(crate::env::thisenv_id()), env_pager) == 0 {
        return;
    }
    // Only the symbols' addresses are taken (user.ld defines them).
    let (lo, hi) = (
        (&raw const __perenv_end) as usize,
        (&raw const end) as usize,
    );
    for va in (round_down(lo, PGSIZE)..hi).step_by(PGSIZE) {
        crate::vm::fault::page_in(va);
    }
}

/// Creates a child that shares all our memory (writable pages stay
/// writable in both) except the user stack, which is copy-on-write, and
/// the `.perenv` pages, which the child gets copies of.
/// Returns the child's id in the parent and 0 in the child. `thisenv()` is
/// right in both (it does not live in the shared data).
///
/// Err as for [`fork`].
pub fn sfork() -> Result<EnvId> {
    before_fork()?;
    let stack = stack_bottom();
    // A page we hold copy-on-write (from an earlier fork) is not really
    // ours to share: make it private first, or the first write by either
    // side would split it again.
    for_each_user_page(|va, pte| {
        if va < stack && !perenv().contains(&va) && pte.flags().contains(PteFlags::COW) {
            make_private(va, pte)?;
        }
        Ok(())
    })?;
    let child = sys_exofork()?;
    if child == 0 {
        return Ok(0);
    }
    populate_child(child, |va, pte| {
        if perenv().contains(&va) {
            give_perenv_page(child, va)
        } else if va >= stack {
            duppage(child, va, pte)
        } else {
            sys_page_map(0, va, child, va, pte.flags() & PteFlags::SYSCALL)
        }
    })
}
