//! Watchpoints: report every write into a range of memory, with the old
//! and new value and the ip of the writing instruction.
//!
//! The processor cannot protect less than a page, so [`watch`] makes the
//! whole page holding the range read-only (the same frame, P|U) and
//! registers the page-fault region "watch" over it. Then every write to
//! that page, to the watched bytes or to their neighbours, faults:
//!
//! ```text
//!   program           write to a watched page ----> page fault
//!                                                        |
//!   watch_fault       save the watched values; map the page writable;
//!                     resume at the faulting instruction with the trap
//!                     flag (TF) set, via sys_env_set_trapframe
//!                                                        |
//!   program           the instruction runs once  ----> debug trap
//!                                                        |
//!   watch_debug       map the page read-only again; compare the watched
//!                     values: if one changed, report it; clear TF and
//!                     return to the next instruction
//! ```
//!
//! The report, one line per watch whose value changed:
//!
//! ```text
//!   watch: write at ip 00800f3c to 00804004: 00000001 -> 00000002
//! ```
//!
//! Writes to other data on the page take the same path and are not
//! reported: their instruction is single-stepped and the page protected
//! again, unnoticed except for the time it takes ([`watch_stats`] counts
//! the steps).
//!
//! ## Why resume through `sys_env_set_trapframe`
//!
//! The upcall's usual return (its trampoline restores the registers, then
//! EFLAGS, then jumps) would, with TF set in the restored EFLAGS, single-step
//! the trampoline's own last instructions instead of the faulting one. The
//! system call restores every register at once, so exactly the faulting
//! instruction runs with TF. The debug trap comes back through the same
//! upcall (the error code has `FEC_DEBUG`), and that return is an ordinary
//! one with TF cleared.
//!
//! ## Details that matter
//!
//! - Only changes are reported: a write that stores the value already there
//!   is single-stepped like any other but prints nothing (the fault does not
//!   say which bytes an instruction wrote, only which page).
//! - One instruction can write two watched pages (an unaligned store across
//!   a page boundary): the second fault comes from the same instruction
//!   (same ip and esp) while the first page is still open, so it opens the
//!   second page too and the step covers both.
//! - Another fault in the middle of a step (the instruction also touches a
//!   lazy heap page, say) is handled by its own handler, whose return ends
//!   in a stray debug trap in the upcall's trampoline: that trap closes the
//!   step (nothing changed, the instruction did not complete), and the
//!   instruction faults on the watched page again and is stepped again.
//! - A handler that itself writes to a watched page while a step is pending
//!   closes that step first and starts its own. (Its writes to a page the
//!   pending step opened do not fault, and are reported with the stepped
//!   instruction's ip.)
//! - The state of this module lives in a page of its own, never watched
//!   ([`watch`] refuses it), because the handlers write it; the program's
//!   calls and the handlers copy it in and out (no references held), since
//!   a handler can interrupt the program anywhere it writes a watched page,
//!   the stack included.
//! - `fork` copies a watched page to the child read-only, sharing the
//!   frame; whoever writes it first gets a private copy here (as
//!   copy-on-write would), so the child's watches work on its own memory.
//!   Watches and `sfork` do not mix (the state page would be shared), and
//!   `PTE_SHARE` memory cannot be watched.
//! - The kernel never writes to user memory on a system call here, so no
//!   system call trips over a protected page.
//! - A student's own debug handler (`set_debug_handler`) set after the
//!   first watch replaces [`watch_debug`], and watches stop working.
use super::areas::{Area, Kind, Prot, remove_region};
use super::cow::make_private;
use super::fault::{Fault, FaultHandler};
use crate::cell::EnvCell;
use crate::cprintf;
use crate::pgfault::{add_area, install_upcall, set_debug_handler};
use crate::syscall::{sys_env_set_trapframe, sys_page_map};
use crate::uvpt::{page_refcount, pte_of};
use abi::error::{Error, Result};
use abi::memlayout::UXSTACKTOP;
use abi::mmu::{FEC_WR, PGSIZE, PteFlags, round_down};
use abi::trap::{FL_TF, Trapframe, UTrapframe};
use core::ptr::read_volatile;

/// Most watches at once.
pub const MAX_WATCHES: usize = 8;

/// Most distinct pages under watch at once.
pub const MAX_WATCH_PAGES: usize = 8;

/// Longest watched range, in bytes (its value is shown as one integer).
pub const MAX_WATCH_LEN: usize = 8;

/// The page-fault region's name, as unhandled-fault reports show it.
pub const REGION_NAME: &str = "watch";

/// Names a watch, for [`unwatch`] and [`watch_hits`].
pub type WatchId = usize;

/// One watched range.
#[derive(Clone, Copy)]
struct Watch {
    addr: usize,
    len: usize,
    /// `Step::hits` of this slot when the watch was made.
    hits_base: u32,
}

/// One page under watch.
#[derive(Clone, Copy)]
struct WatchedPage {
    va: usize,
    /// Its permissions before the watch (writable): restored when open.
    perm: PteFlags,
    /// Its page-fault region.
    region: usize,
    /// How many watches cover it.
    users: usize,
}

/// What the program's calls write (the handlers only read it).
#[derive(Clone, Copy)]
struct Tables {
    watches: [Option<Watch>; MAX_WATCHES],
    pages: [Option<WatchedPage>; MAX_WATCH_PAGES],
    /// The debug handler is ours, and the one it replaced.
    debug_installed: bool,
    prev_debug: Option<FaultHandler>,
}

/// What the handlers write (the program's calls only read it).
#[derive(Clone, Copy)]
struct Step {
    /// A single step is in progress.
    stepping: bool,
    /// The ip and esp of the instruction being stepped.
    ip: u32,
    esp: u32,
    /// Every watch's value before the step.
    old: [u64; MAX_WATCHES],
    /// Which watched pages are writable for the step.
    open: [bool; MAX_WATCH_PAGES],
    /// Reports per watch slot, ever.
    hits: [u32; MAX_WATCHES],
    /// Writes single-stepped, and writes reported.
    steps: u32,
    reports: u32,
}

/// All of this module's state.
#[derive(Clone, Copy)]
struct State {
    tables: Tables,
    step: Step,
}

/// The state, in its cell, alone in its page (see the module comment).
#[repr(C, align(4096))]
struct StatePage(EnvCell<State>);

const _: () = assert!(size_of::<StatePage>() == PGSIZE);

static STATE: StatePage = StatePage(EnvCell::new(State {
    tables: Tables {
        watches: [None; MAX_WATCHES],
        pages: [None; MAX_WATCH_PAGES],
        debug_installed: false,
        prev_debug: None,
    },
    step: Step {
        stepping: false,
        ip: 0,
        esp: 0,
        old: [0; MAX_WATCHES],
        open: [false; MAX_WATCH_PAGES],
        hits: [0; MAX_WATCHES],
        steps: 0,
        reports: 0,
    },
}));

/// Returns a copy of the tables. The program's calls and the handlers only
/// ever copy the state in and out, and copy it out with
/// `EnvCell::snapshot` (no borrow), since the copy may land on a watched
/// stack page whose fault comes here (as it always did: a copy made while
/// a handler changes the state may mix old and new fields).
fn load_tables() -> Tables {
    // SAFETY: Tables holds integers, flags, bools and options of those
    // and of fn pointers: any mix of two values is a valid value.
    unsafe { STATE.0.snapshot() }.tables
}

/// Stores the tables.
fn store_tables(t: Tables) {
    STATE.0.with(|s| s.tables = t);
}

/// Returns a copy of the step state.
fn load_step() -> Step {
    // SAFETY: Step holds integers and bools: any mix is valid.
    unsafe { STATE.0.snapshot() }.step
}

/// Stores the step state.
fn store_step(step: Step) {
    STATE.0.with(|s| s.step = step);
}

/// Returns the value of the `len` bytes at `addr` (little-endian).
fn read_value(addr: usize, len: usize) -> u64 {
    let mut v = 0u64;
    for i in (0..len).rev() {
        // SAFETY: a watched range is in mapped, readable pages (watch
        // checked them, and watched pages stay mapped read-only).
        let b = unsafe { read_volatile((addr + i) as *const u8) };
        v = v << 8 | u64::from(b);
    }
    v
}

/// Makes the page at `va` present, private and writable, as a watched page
/// must be before it is protected: a copy-on-write page (from fork, or the
/// zero page) gets a private copy first, as its first write would. Returns
/// the page's permissions.
///
/// Err(Inval) if nothing is mapped there, the page is read-only, or it is
/// shared memory (`PTE_SHARE`): once another environment maps the same
/// frame, the kernel lets us make it writable again only from a writable
/// mapping, and copying it would end the sharing. Err(NoMem) if the copy
/// cannot be made (the page is then left as it was).
fn prepare_page(va: usize) -> Result<PteFlags> {
    // A program page not paged in yet (demand-paged spawn) is there.
    super::fault::page_in(va);
    let pte = pte_of(va).ok_or(Error::Inval)?;
    if pte.flags().contains(PteFlags::COW) {
        // Not by writing to it: the COW handler cannot return an error.
        make_private(round_down(va, PGSIZE), pte)?;
    }
    let pte = pte_of(va).ok_or(Error::Inval)?;
    let perm = pte.flags() & PteFlags::SYSCALL;
    if !perm.contains(PteFlags::W) || perm.contains(PteFlags::SHARE) {
        return Err(Error::Inval);
    }
    Ok(perm)
}

/// Maps watched page `va` writable again with `perm`. If another
/// environment still shares its frame (a fork child, or the parent, before
/// either wrote it), it first gets a private copy ([`super::copy_page_to`]): the kernel
/// lets a read-only page become writable in place only when it is ours
/// alone.
fn open_page(va: usize, perm: PteFlags) -> Result<()> {
    let pte = pte_of(va).ok_or(Error::Inval)?;
    if page_refcount(pte.addr()).unwrap_or(1) <= 1 {
        return sys_page_map(0, va, 0, va, perm);
    }
    super::fault::copy_page_to(va, perm)
}

/// Maps watched page `va` read-only (its permissions without W).
fn protect_page(va: usize, perm: PteFlags) -> Result<()> {
    sys_page_map(0, va, 0, va, perm - PteFlags::W)
}

/// Returns the first and last page of [addr, addr + len) (len > 0).
fn pages_of(addr: usize, len: usize) -> [usize; 2] {
    [round_down(addr, PGSIZE), round_down(addr + len - 1, PGSIZE)]
}

/// Starts watching the `len` bytes at `addr` (1 to [`MAX_WATCH_LEN`], may
/// cross a page boundary): from now on every write that changes them
/// prints `watch: write at ip <ip> to <addr>: <old> -> <new>`. Returns the
/// watch's id. Installs the page-fault upcall and debug handler if needed.
///
/// Err(Inval) for a bad length, a range that is not mapped writable (a
/// copy-on-write page is made private first) or is `PTE_SHARE` memory, or
/// that touches the exception stack or this module's own state page;
/// Err(NoMem) when
/// [`MAX_WATCHES`] watches or [`MAX_WATCH_PAGES`] pages are in use (or the
/// page-fault region table is full), or when out of memory for the upcall
/// or a private copy of a copy-on-write page. On error nothing is watched
/// (a copy-on-write page may have been made private, which changes nothing
/// the program can see).
pub fn watch(addr: usize, len: usize) -> Result<WatchId> {
    if len == 0 || len > MAX_WATCH_LEN {
        return Err(Error::Inval);
    }
    let end = addr.checked_add(len).ok_or(Error::Inval)?;
    let state_page = STATE.0.addr();
    if end > UXSTACKTOP - PGSIZE || (addr < state_page + PGSIZE && end > state_page) {
        return Err(Error::Inval);
    }
    let pages = pages_of(addr, len);
    // The upcall first: then setting the debug handler below cannot fail.
    install_upcall()?;
    let mut t = load_tables();
    let id = t
        .watches
        .iter()
        .position(|w| w.is_none())
        .ok_or(Error::NoMem)?;

    // The pages not watched yet: make them writable and private, and give
    // each a slot and a region. Nothing is protected before the tables say
    // the page is watched, so the handler always finds its page.
    let mut new: [Option<usize>; 2] = [None; 2];
    for (k, &va) in pages.iter().enumerate() {
        if k == 1 && va == pages[0] {
            break;
        }
        if let Some(p) = t.pages.iter_mut().flatten().find(|p| p.va == va) {
            p.users += 1;
            continue;
        }
        let slot = t.pages.iter().position(|p| p.is_none());
        let r = match slot {
            None => Err(Error::NoMem),
            Some(slot) => prepare_page(va).and_then(|perm| {
                let region = add_area(Area::new(
                    va,
                    va + PGSIZE,
                    REGION_NAME,
                    Prot::RW,
                    Kind::Watch,
                    Some(watch_fault),
                ))?;
                t.pages[slot] = Some(WatchedPage {
                    va,
                    perm,
                    region,
                    users: 1,
                });
                Ok(slot)
            }),
        };
        match r {
            Ok(slot) => new[k] = Some(slot),
            Err(e) => {
                // Undo the first page's region (the tables were not stored).
                if let Some(p) = new[0].and_then(|s| t.pages[s]) {
                    remove_region(p.region);
                }
                return Err(e);
            }
        }
    }
    if !t.debug_installed {
        match set_debug_handler(watch_debug) {
            Ok(prev) => t.prev_debug = prev,
            Err(e) => {
                for p in new.iter().flatten().filter_map(|&s| t.pages[s]) {
                    remove_region(p.region);
                }
                return Err(e);
            }
        }
        t.debug_installed = true;
    }
    t.watches[id] = Some(Watch {
        addr,
        len,
        hits_base: load_step().hits[id],
    });
    store_tables(t);
    for p in new.iter().flatten().filter_map(|&s| t.pages[s]) {
        if let Err(e) = protect_page(p.va, p.perm) {
            panic!("watch: protecting the page at {:08x}: {e}", p.va);
        }
    }
    Ok(id)
}

/// Stops watch `id`; a page no other watch covers gets its permissions
/// back. Returns how many writes the watch reported.
///
/// Err(Inval) if there is no such watch; Err(NoMem) if a page's
/// permissions cannot be restored (out of memory for a private copy of a
/// page a fork child still shares): the watch then stays as it was.
pub fn unwatch(id: WatchId) -> Result<u32> {
    let mut t = load_tables();
    let w = t.watches.get(id).copied().flatten().ok_or(Error::Inval)?;
    let hits = load_step().hits[id].wrapping_sub(w.hits_base);
    let pages = pages_of(w.addr, w.len);
    // Pages made writable so far, to protect again if a later one fails.
    let mut opened: [Option<WatchedPage>; 2] = [None; 2];
    for (k, &va) in pages.iter().enumerate() {
        if k == 1 && va == pages[0] {
            break;
        }
        let Some(slot) = t.pages.iter().position(|p| p.is_some_and(|p| p.va == va)) else {
            continue;
        };
        let Some(p) = t.pages[slot] else {
            continue;
        };
        if p.users == 1 {
            // Writable first, then out of the tables: a write to the page
            // meanwhile does not fault, so no handler misses it.
            if let Err(e) = open_page(p.va, p.perm) {
                for q in opened.iter().flatten() {
                    let _ = protect_page(q.va, q.perm);
                }
                return Err(e);
            }
            opened[k] = Some(p);
        }
    }
    // Every page that needed it is writable: now update the tables.
    for (k, &va) in pages.iter().enumerate() {
        if k == 1 && va == pages[0] {
            break;
        }
        let Some(slot) = t.pages.iter().position(|p| p.is_some_and(|p| p.va == va)) else {
            continue;
        };
        let Some(p) = t.pages[slot].as_mut() else {
            continue;
        };
        p.users -= 1;
        if p.users == 0 {
            remove_region(p.region);
            t.pages[slot] = None;
        }
    }
    t.watches[id] = None;
    store_tables(t);
    Ok(hits)
}

/// Returns how many writes watch `id` has reported, or None if there is no
/// such watch.
pub fn watch_hits(id: WatchId) -> Option<u32> {
    let w = load_tables().watches.get(id).copied().flatten()?;
    Some(load_step().hits[id].wrapping_sub(w.hits_base))
}

/// Counters over all watches, ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchStats {
    /// Writes to watched pages that were single-stepped (reported or not).
    pub steps: u32,
    /// Reports printed (changed values).
    pub reports: u32,
}

/// Returns the counters over all watches.
pub fn watch_stats() -> WatchStats {
    let s = load_step();
    WatchStats {
        steps: s.steps,
        reports: s.reports,
    }
}

/// The watch region's fault handler: a write to a watched page starts a
/// single step of the faulting instruction (see the module comment) and
/// does not return. Declines reads, pages that are not watched, and
/// watched pages the program unmapped.
///
/// Panics if the page cannot be made writable or the step cannot start.
pub fn watch_fault(utf: &mut UTrapframe) -> Fault {
    let page = round_down(utf.utf_fault_va as usize, PGSIZE);
    if utf.utf_err & FEC_WR == 0 || pte_of(page).is_none() {
        return Fault::Declined;
    }
    let t = load_tables();
    let Some(slot) = t.pages.iter().position(|p| p.is_some_and(|p| p.va == page)) else {
        return Fault::Declined;
    };
    let mut s = load_step();
    let same_instruction = s.stepping && s.ip == utf.utf_eip && s.esp == utf.utf_esp;
    if s.stepping && !same_instruction {
        // A step is pending for another instruction (we are nested in a
        // handler that interrupted it): close it before starting ours.
        finish_step(&t);
        s = load_step();
    }
    if s.open[slot] {
        // Open, yet the write faulted: not a protection fault of ours.
        return Fault::Declined;
    }
    if !s.stepping {
        s.stepping = true;
        s.ip = utf.utf_eip;
        s.esp = utf.utf_esp;
        for (old, w) in s.old.iter_mut().zip(t.watches.iter()) {
            *old = w.map_or(0, |w| read_value(w.addr, w.len));
        }
        s.steps += 1;
    }
    let Some(p) = t.pages[slot] else {
        return Fault::Declined;
    };
    if let Err(e) = open_page(p.va, p.perm) {
        panic!("watch: opening the page at {:08x}: {e}", p.va);
    }
    s.open[slot] = true;
    store_step(s);
    step_from(utf);
}

/// The debug-trap handler: the single step of a write to a watched page is
/// done, so protect the page again and report every watched value that
/// changed, then clear TF and go on. A trap with no step pending goes to
/// the debug handler [`watch`] replaced; with none, it is a leftover of an
/// interrupted step (see the module comment) and is dropped.
pub fn watch_debug(utf: &mut UTrapframe) -> Fault {
    let t = load_tables();
    if !load_step().stepping {
        if let Some(prev) = t.prev_debug {
            return prev(utf);
        }
    } else {
        finish_step(&t);
    }
    utf.utf_eflags &= !FL_TF;
    Fault::Handled
}

/// Ends the pending step: protects the pages it opened and reports each
/// watch whose value changed (with the ip of the stepped instruction).
fn finish_step(t: &Tables) {
    let mut s = load_step();
    for (open, p) in s.open.iter_mut().zip(t.pages.iter()) {
        if let (true, Some(p)) = (*open, p)
            && let Err(e) = protect_page(p.va, p.perm)
        {
            panic!("watch: protecting the page at {:08x}: {e}", p.va);
        }
        *open = false;
    }
    for (i, w) in t.watches.iter().enumerate() {
        let Some(w) = w else { continue };
        let new = read_value(w.addr, w.len);
        if new == s.old[i] {
            continue;
        }
        if w.len <= 4 {
            cprintf!(
                "watch: write at ip {:08x} to {:08x}: {:08x} -> {:08x}\n",
                s.ip,
                w.addr,
                s.old[i],
                new
            );
        } else {
            cprintf!(
                "watch: write at ip {:08x} to {:08x}: {:016x} -> {:016x}\n",
                s.ip,
                w.addr,
                s.old[i],
                new
            );
        }
        s.hits[i] += 1;
        s.reports += 1;
    }
    s.stepping = false;
    store_step(s);
}

/// Resumes the interrupted code described by `utf` with the trap flag set,
/// so that exactly one instruction runs before the debug trap. Does not
/// return.
///
/// Panics if the kernel refuses the registers.
fn step_from(utf: &UTrapframe) -> ! {
    let tf = Trapframe {
        tf_regs: utf.utf_regs,
        tf_eip: utf.utf_eip,
        tf_eflags: utf.utf_eflags | FL_TF,
        tf_esp: utf.utf_esp,
        // The kernel sets the segment registers itself.
        ..Trapframe::zeroed()
    };
    match sys_env_set_trapframe(0, &tf) {
        Ok(()) => unreachable!("sys_env_set_trapframe on ourselves returned"),
        Err(e) => panic!("watch: resuming with the trap flag: {e}"),
    }
}
