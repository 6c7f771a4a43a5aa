//! A lazy heap: `sbrk` moves the break, and pages appear on first touch.
//!
//! The heap starts at the first page boundary after the program's bss (the
//! linker symbol `end`) and grows up, towards the stack:
//!
//! ```text
//!   USTACKTOP   +------------------+
//!               |  stack region    |  (grows down; never the heap's)
//!   ceiling  -> +------------------+  USTACKTOP - STACK_RESERVE
//!               :                  :
//!   limit    -> +------------------+  start + HEAP_MAX by default
//!               :  may grow here   :
//!   break    -> +------------------+  sbrk(0)
//!               |  heap            |  pages mapped only once touched
//!   start    -> +------------------+  round_up(end, PGSIZE)
//!               |  text/data/bss   |
//!   UTEXT       +------------------+
//! ```
//!
//! `sbrk` maps nothing. It only moves the break and resizes the page-fault
//! region "heap" that covers [start, break rounded up to a page). A fault
//! in that region is served by [`heap_fault`]:
//!
//! - a read of a page not mapped yet maps the shared zero page there,
//!   copy-on-write (`super::zero`): reading never allocates;
//! - a write to a page not mapped yet maps a fresh zeroed page;
//! - a write to a page still mapping the zero page gets a fresh page too
//!   (the zero page's COW handler usually gets there first).
//!
//! Shrinking the heap (negative `sbrk`) unmaps the whole pages that are no
//! longer in it, which frees their memory and gives back their zero-page
//! references.
//!
//! `malloc` maps every page it takes at once (see `vm::malloc`), so it
//! moves the break with [`sbrk_mapped`], which adds no fault handler: the
//! heap becomes lazy (its region gets [`heap_fault`], and the zero page's
//! COW handler is installed) only once something asks for that, a call of
//! [`sbrk`] or [`make_lazy`] (swap does, to page the heap). A program that
//! only allocates then links none of it (about 1.5 KB of text).
//!
//! Caveats: the kernel checks system-call buffers against the page table
//! and does not fault pages in, so a heap buffer must have been touched
//! before it is passed to a system call (anything written already has).
//! Heap pages touched after `sfork` are private to the environment that
//! touched them: the lazy heap is not shared memory.
use super::areas::{Area, Kind, Prot, resize_region, update_areas};
use super::fault::{Fault, FaultHandler};
use super::{swap, zero};
use crate::cell::EnvCell;
use crate::pgfault::add_area;
use crate::syscall::sys_page_unmap;
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::memlayout::USTACKTOP;
use abi::mmu::{FEC_WR, PGSIZE, PTE_RW, round_down, round_up};
use abi::trap::UTrapframe;

/// The default most bytes the heap may hold (see [`set_heap_limit`]).
pub const HEAP_MAX: usize = 256 << 20;

/// Room below USTACKTOP the heap never enters, whatever its limit: the
/// stack region (however far the stack may grow) and a gap below it.
pub const STACK_RESERVE: usize = 16 << 20;

/// The highest address the heap may ever reach.
pub const HEAP_CEILING: usize = USTACKTOP - STACK_RESERVE;

/// The page-fault region's name, as unhandled-fault reports show it.
pub const REGION_NAME: &str = "heap";

unsafe extern "C" {
    /// The end of the program's bss, from user/user.ld. Only its address
    /// is used.
    #[link_name = "end"]
    static END: u8;
}

/// The heap's bounds, set up on first use.
#[derive(Clone, Copy)]
struct Heap {
    /// First byte of the heap (page-aligned).
    start: usize,
    /// The break: one past the last byte of the heap.
    brk: usize,
    /// The break may not go beyond this.
    limit: usize,
    /// The page-fault region, once registered.
    region: Option<usize>,
    /// The region's fault handler: [`heap_fault`] once [`make_lazy`] ran
    /// (pages appear on first touch), None before. (Kept here, not named
    /// where the region is registered, so that only `make_lazy` refers to
    /// the handler: a program that never calls it does not link it.)
    handler: Option<FaultHandler>,
}

static HEAP: EnvCell<Heap> = EnvCell::new(Heap {
    start: 0,
    brk: 0,
    limit: 0,
    region: None,
    handler: None,
});

/// Runs `f` on the heap's bounds, setting them up first if needed (panics
/// on re-entry: see `EnvCell`).
fn with_heap<R>(f: impl FnOnce(&mut Heap) -> R) -> R {
    HEAP.with(|heap| {
        if heap.start == 0 {
            let start = round_up(&raw const END as usize, PGSIZE).expect("bss ends below 4 GiB");
            heap.start = start;
            heap.brk = start;
            heap.limit = start.saturating_add(HEAP_MAX).min(HEAP_CEILING);
        }
        f(heap)
    })
}

/// Returns the first address of the heap (page-aligned, just above the
/// program's bss). Cannot fail.
pub fn heap_start() -> usize {
    with_heap(|h| h.start)
}

/// Returns the highest address the break may reach. Cannot fail.
pub fn heap_limit() -> usize {
    with_heap(|h| h.limit)
}

/// Sets the highest address the break may reach. Returns Err(Inval) if
/// `limit` is below the current break or above [`HEAP_CEILING`] (into the
/// stack's region); the limit is then unchanged.
pub fn set_heap_limit(limit: usize) -> Result<()> {
    with_heap(|h| {
        if limit < h.brk || limit > HEAP_CEILING {
            return Err(Error::Inval);
        }
        h.limit = limit;
        Ok(())
    })
}

/// Moves the break by `n` bytes (any number, not only whole pages) and
/// returns the previous break: `sbrk(0)` returns the current one. Growing
/// maps nothing (pages appear on first touch); shrinking unmaps the whole
/// pages no longer in the heap.
///
/// Err(NoMem) if the break would pass the limit (or wrap around),
/// Err(Inval) if it would go below the heap's start; either way the break
/// is unchanged. Err(NoMem) also if the page-fault table is full the first
/// time the heap grows, or the upcall cannot be installed (out of memory)
/// the first time `sbrk` is called.
pub fn sbrk(n: isize) -> Result<usize> {
    make_lazy()?;
    sbrk_mapped(n)
}

/// Moves the break as [`sbrk`] does, for a caller that maps the new pages
/// itself before anything touches them (`malloc`): it does not make the
/// heap lazy (see the module comment), so pages that no one mapped fault
/// as unhandled unless something else did. Returns the previous break;
/// errors as [`sbrk`]'s (the page-fault table full at the first growth).
pub fn sbrk_mapped(n: isize) -> Result<usize> {
    let Heap {
        start,
        brk: old,
        limit,
        region,
        handler,
    } = with_heap(|h| *h);
    let new = match old.checked_add_signed(n) {
        Some(new) if new < start => return Err(Error::Inval),
        Some(new) if new > limit => return Err(Error::NoMem),
        Some(new) => new,
        None if n < 0 => return Err(Error::Inval),
        None => return Err(Error::NoMem),
    };
    if new == old {
        return Ok(old);
    }
    let top = round_up(new, PGSIZE).ok_or(Error::NoMem)?;
    let id = match region {
        Some(id) => id,
        None => {
            // The first growth: register the region, with its fault
            // handler if the heap is lazy (`make_lazy` installed the zero
            // page's COW handler already).
            let id = add_area(Area::new(
                start,
                top,
                REGION_NAME,
                Prot::RW,
                Kind::Heap,
                handler,
            ))?;
            with_heap(|h| h.region = Some(id));
            id
        }
    };
    if new < old {
        // Shrinking: the pages wholly above the new break go.
        // (Unmapping a zero-page mapping gives its reference back.)
        let old_top = round_up(old, PGSIZE).ok_or(Error::Inval)?;
        for page in (top..old_top).step_by(PGSIZE) {
            if pte_of(page).is_some() {
                sys_page_unmap(0, page)?;
            }
        }
        swap::forget_range(top, old_top);
    }
    with_heap(|h| h.brk = new);
    resize_region(id, start, top);
    Ok(old)
}

/// Makes the heap lazy, once: installs the zero page's COW handler (and
/// the upcall), and gives the heap's region [`heap_fault`] as its handler,
/// now if the heap has grown, else at its first growth. [`sbrk`] calls it;
/// so does swap, which pages heap pages out and needs them faulted back.
///
/// Err(NoMem) if the upcall cannot be installed (out of memory); nothing
/// changes then.
pub fn make_lazy() -> Result<()> {
    if with_heap(|h| h.handler.is_some()) {
        return Ok(());
    }
    zero::install()?;
    let region = with_heap(|h| {
        h.handler = Some(heap_fault);
        h.region
    });
    if let Some(id) = region {
        update_areas(|t| {
            if let Some(Some(a)) = t.get_mut(id) {
                a.handler = Some(heap_fault);
            }
        });
    }
    Ok(())
}

/// The heap's fault handler: maps the page at the faulting address on
/// first touch (the zero page for a read, a fresh page for a write, a
/// fresh page for a write to the zero page). Declines faults outside
/// [start, break rounded up to a page) and faults on pages it did not map
/// lazily (e.g. a write to a read-only page the program mapped itself).
///
/// Panics if no page can be allocated (out of memory).
pub fn heap_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    let (start, brk) = with_heap(|h| (h.start, h.brk));
    let top = round_up(brk, PGSIZE).unwrap_or(brk);
    if !(start..top).contains(&va) {
        return Fault::Declined;
    }
    let page = round_down(va, PGSIZE);
    if swap::swapped_out(page) {
        if let Err(e) = swap::page_in(page) {
            panic!("heap: cannot page in va {va:08x}: {e}");
        }
        return Fault::Handled;
    }
    let write = utf.utf_err & FEC_WR != 0;
    let fresh = match pte_of(page) {
        None => write,
        Some(pte) if write && zero::is_zero_page(pte) => true,
        Some(_) => return Fault::Declined,
    };
    // A read maps the zero page; if that fails (e.g. its reference count
    // is full), a fresh page reads as zeros just as well.
    if !fresh && zero::map_zero(page, PGSIZE).is_ok() {
        return Fault::Handled;
    }
    if let Err(e) = swap::alloc(page, PTE_RW) {
        panic!("heap: no memory for the page at va {va:08x} (out of memory and swap): {e}");
    }
    Fault::Handled
}
