//! The zero page: one physical page of zeros, shared by everyone.
//!
//! The kernel keeps a single zero-filled page and maps it read-only at
//! UZERO in every address space. Memory that should read as zero but has
//! not been written yet (a lazy heap, a big zeroed array) can map that one
//! page, copy-on-write, instead of a fresh page each:
//!
//! ```text
//!   va        PTE                  frame
//!   0x1000    P|U|COW    ------+
//!   0x2000    P|U|COW    ------+--> the zero page (also at UZERO, read-only)
//!   0x3000    P|U|W      --------> a private page (written once)
//! ```
//!
//! Reads never allocate: they hit the shared page. The first write to
//! such a page faults (the PTE is not writable, and has COW); the fault
//! handler [`zero_cow_fault`] recognises the zero page and maps a fresh
//! zeroed page (`sys_page_alloc`) in its place: nothing needs copying, the
//! new page already holds what the old one did. Each mapping of the zero
//! page holds one reference to it (the kernel's `pp_ref`, readable through
//! [`zero_refcount`]); unmapping or replacing the mapping drops it.
//!
//! ## Who sees the write fault
//!
//! The dispatcher (`crate::pgfault`) gives every write to a present COW
//! page to the one COW handler. [`install`] makes [`zero_cow_fault`] that
//! handler, remembering the one it replaces: zero-page writes are ours,
//! every other COW write goes to the previous handler (the library's
//! [`super::cow::pgfault`] if there was none). A student who later sets a
//! COW handler of their own replaces this one too: their handler then also
//! sees zero-page writes, and copying the zero page is correct (just a
//! page copy more than needed).
use super::fault::{Fault, FaultHandler};
use super::null::NULL_GUARD_END;
use crate::cell::EnvCell;
use crate::pgfault::set_cow_handler;
use crate::syscall::{sys_page_map, sys_page_unmap};
use crate::uvpt::{page_refcount, pte_of};
use abi::error::{Error, Result};
use abi::memlayout::{UTOP, UXSTACKTOP, UZERO};
use abi::mmu::{FEC_WR, PGSIZE, PTE_RW, Pte, PteFlags, round_down, round_up};
use abi::trap::UTrapframe;

/// How the zero page is mapped: present, user, read-only, copy-on-write.
pub const PTE_ZERO: PteFlags = PteFlags::P.union(PteFlags::U).union(PteFlags::COW);

/// Returns the physical address of the zero page (read from its mapping at
/// UZERO). Panics if the kernel did not map it there.
pub fn zero_page_pa() -> usize {
    match pte_of(UZERO) {
        Some(pte) => pte.addr(),
        None => panic!("the kernel maps no zero page at UZERO ({UZERO:#x})"),
    }
}

/// Returns whether `pte` maps the zero page. Cannot fail.
pub fn is_zero_page(pte: Pte) -> bool {
    pte.is_present() && pte.addr() == zero_page_pa()
}

/// Returns the zero page's reference count: one per mapping of it in any
/// address space, plus the kernel's own. Never fails (0 if unreadable).
pub fn zero_refcount() -> usize {
    page_refcount(zero_page_pa()).map_or(0, |n| n as usize)
}

/// The COW handler this one replaced, and whether [`install`] ran.
struct State {
    installed: bool,
    prev: Option<FaultHandler>,
}

static STATE: EnvCell<State> = EnvCell::new(State {
    installed: false,
    prev: None,
});

/// Runs `f` on the state above (panics on re-entry: see `EnvCell`).
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(f)
}

/// Makes [`zero_cow_fault`] the copy-on-write handler (once), keeping the
/// current one to pass other COW writes on to. Called by [`map_zero`] and
/// by the heap. Installs the upcall if it was not: Err(NoMem) if that
/// cannot be done (out of memory), and nothing changes.
pub fn install() -> Result<()> {
    if with_state(|s| s.installed) {
        return Ok(());
    }
    let prev = set_cow_handler(zero_cow_fault)?;
    with_state(|s| {
        s.installed = true;
        s.prev = prev;
    });
    Ok(())
}

/// The COW handler for the zero page: a write to a copy-on-write mapping
/// of the zero page gets a fresh zeroed page (`sys_page_alloc`), no copy.
/// Any other fault goes to the COW handler that was set before
/// [`install`], or to the library's [`super::cow::pgfault`] if there was
/// none.
///
/// Panics if no page can be allocated (out of memory).
pub fn zero_cow_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    if utf.utf_err & FEC_WR != 0 && pte_of(va).is_some_and(is_zero_page) {
        if let Err(e) = super::swap::alloc(round_down(va, PGSIZE), PTE_RW) {
            panic!("writing the zero page at va {va:08x} (out of memory and swap): {e}");
        }
        return Fault::Handled;
    }
    let prev = with_state(|s| s.prev).unwrap_or(super::cow::pgfault);
    prev(utf)
}

/// Checks that [va, va + len) is a page-aligned range of ordinary user
/// memory and returns its end rounded up to a page. Err(Inval) for an
/// unaligned `va`, a range that wraps around, or one that touches the null
/// guard ([0, NULL_GUARD_END), page 0 included), the user exception stack
/// (UXSTACKTOP - PGSIZE) or anything at or above UTOP.
fn page_range(va: usize, len: usize) -> Result<usize> {
    if !va.is_multiple_of(PGSIZE) {
        return Err(Error::Inval);
    }
    let end = va
        .checked_add(len)
        .and_then(|e| round_up(e, PGSIZE))
        .ok_or(Error::Inval)?;
    if !user_range_ok(va, end) {
        return Err(Error::Inval);
    }
    Ok(end)
}

/// Whether the page range [va, end) (va <= end) stays clear of the null
/// guard, the exception stack and everything from UTOP up.
fn user_range_ok(va: usize, end: usize) -> bool {
    // UXSTACKTOP == UTOP: the exception stack is the last page below it.
    const TOP: usize = if UXSTACKTOP - PGSIZE < UTOP {
        UXSTACKTOP - PGSIZE
    } else {
        UTOP
    };
    va == end || (va >= NULL_GUARD_END && end <= TOP)
}

/// Maps the zero page copy-on-write (P|U|COW) over every page of
/// [va, va + len), replacing whatever was mapped there: the range reads as
/// zeros, and each page gets its own fresh page on its first write. `va`
/// must be page-aligned; `len` is rounded up to whole pages.
///
/// Err(Inval) for an unaligned `va`, a wrapping range, or one that touches
/// the null guard (the first 64 KiB, page 0 included), the exception stack
/// page or UTOP (nothing is mapped then); Err(NoMem) when the upcall or a
/// page table cannot be allocated (or the zero page's reference count is
/// full); on error, the pages mapped so far are unmapped again.
pub fn map_zero(va: usize, len: usize) -> Result<()> {
    let end = page_range(va, len)?;
    install()?;
    for page in (va..end).step_by(PGSIZE) {
        if let Err(e) = sys_page_map(0, UZERO, 0, page, PTE_ZERO) {
            unmap_range(va, page - va)?;
            return Err(e);
        }
    }
    Ok(())
}

/// Unmaps every page of [va, va + len) (`len` rounded up to whole pages);
/// pages not mapped are skipped. Each unmapped zero-page mapping gives its
/// reference back, each private page is freed once nobody maps it.
///
/// Err(Inval) for a range [`map_zero`] refuses.
pub fn unmap_range(va: usize, len: usize) -> Result<()> {
    let end = page_range(va, len)?;
    for page in (va..end).step_by(PGSIZE) {
        if pte_of(page).is_some() {
            sys_page_unmap(0, page)?;
        }
    }
    Ok(())
}
