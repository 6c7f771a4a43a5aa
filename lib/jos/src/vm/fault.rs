//! Fault helpers: what the dispatcher (`crate::pgfault`) and every fault
//! handler share. A leaf: no policy, nothing that registers itself.
//!
//! - [`Fault`] and [`FaultHandler`]: what a handler returns, and its type.
//! - [`page_in`]: makes a page of our demand-paged program present.
//! - [`copy_page_to`]: replaces a page with a private copy, through PFTEMP
//!   (the copy-on-write handler, the watchpoints and a student's own
//!   handler all copy pages this way).
//! - [`pager_declined`]: the dispatcher's last resort for a page our pager
//!   declined for want of memory: yield and retry.
//! - [`report_unhandled`]: the report of a fault nobody took.
use crate::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap, sys_yield};
use abi::error::Result;
use abi::memlayout::PFTEMP;
use abi::mmu::{FEC_DEBUG, FEC_NOMEM, FEC_PR, FEC_WR, PGSIZE, PTE_RW, PteFlags, round_down};
use abi::trap::UTrapframe;
use core::sync::atomic::{AtomicU32, Ordering};

/// What a dispatched handler did with a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fixed: retry the faulting instruction.
    Handled,
    /// Not mine: offer the fault to the next handler.
    Declined,
}

/// A handler in the dispatch table.
pub type FaultHandler = fn(&mut UTrapframe) -> Fault;

/// Makes sure the page at `va` is present if it can be: a page of a
/// program paged in on demand (inside the range its pager serves, see
/// `spawn`) that has not been touched yet is read once, which has the
/// pager map it. Returns whether a page is mapped at `va` now. Code that
/// inspects its own pages through UVPT (watchpoints, `copy_page_to`)
/// calls this first, since "not mapped" no longer means "nothing there".
pub fn page_in(va: usize) -> bool {
    if crate::uvpt::pte_of(va).is_some() {
        return true;
    }
    let me = abi::env::envx(crate::env::thisenv_id());
    let (lo, hi) = (
        crate::env_field!(me, env_pager_lo) as usize,
        crate::env_field!(me, env_pager_hi) as usize,
    );
    if crate::env_field!(me, env_pager) != 0 && (lo..hi).contains(&va) {
        // SAFETY: a read of our own program's page: the pager maps it (or
        // declines, and the fault goes to our handler like any other).
        unsafe { core::ptr::read_volatile(va as *const u8) };
    }
    crate::uvpt::pte_of(va).is_some()
}

/// Replaces the page at `va` (rounded down to its page) with a private
/// copy of its contents, mapped with `perm`: allocates a page at PFTEMP,
/// copies the old page into it, maps it at `va` and unmaps PFTEMP. The
/// copy-on-write handler (`vm::cow`), the watchpoints and a student's own
/// handler all copy pages this way.
///
/// PFTEMP is a scratch page for exactly this sequence: do not call this
/// from a handler that may have interrupted another call of it (the
/// library's handlers never nest it: the copy itself cannot fault).
///
/// Err(NoMem) when out of memory, Err(Inval) if nothing readable is
/// mapped at `va` or `perm` is not a valid user permission; the page at
/// `va` is then left as it was, and PFTEMP unmapped.
pub fn copy_page_to(va: usize, perm: PteFlags) -> Result<()> {
    let va = round_down(va, PGSIZE);
    if !page_in(va) {
        return Err(abi::error::Error::Inval);
    }
    sys_page_alloc(0, PFTEMP, PTE_RW)?;
    // SAFETY: `va` and PFTEMP are two distinct mapped pages (va is mapped,
    // checked above; PFTEMP is this function's scratch page), both readable
    // and PFTEMP writable.
    unsafe { core::ptr::copy_nonoverlapping(va as *const u8, PFTEMP as *mut u8, PGSIZE) };
    // Mapping over an existing entry needs no new page table, but if it
    // fails anyway, do not leave the copy at PFTEMP.
    let r = sys_page_map(0, PFTEMP, 0, va, perm);
    let _ = sys_page_unmap(0, PFTEMP);
    r
}

/// How many times in a row [`pager_declined`] has retried a fault (an
/// atomic: the fault may nest in a handler).
static DECLINED_TRIES: AtomicU32 = AtomicU32::new(0);

/// How many times in a row [`pager_declined`] retries before it gives up.
const MAX_DECLINED: u32 = 100_000;

/// For the dispatcher, last before it gives up on a fault: a page our
/// pager (demand paging, `spawn`) declined for want of memory (FEC_NOMEM:
/// the file server had no page left for a block of our program). The
/// kernel's answer means "not now": other environments free memory, and
/// the dispatcher's hooks (`pgfault::add_unhandled_hook`, e.g. swap's
/// eviction) may have freed some of ours. Yields, and returns Handled: the
/// instruction is retried, and goes to the pager again. Returns Declined
/// for any other fault, and after MAX_DECLINED retries in a row (out of
/// memory for good).
pub fn pager_declined(utf: &UTrapframe) -> Fault {
    if utf.utf_err & FEC_NOMEM == 0 {
        // Written only when it must be: this runs for every fault no one
        // took, and the counter's page may be one this env has not written
        // since a fork (copy-on-write) or at all (the shared zero page): a
        // store would nest a second fault inside this one.
        if DECLINED_TRIES.load(Ordering::Relaxed) != 0 {
            DECLINED_TRIES.store(0, Ordering::Relaxed);
        }
        return Fault::Declined;
    }
    if DECLINED_TRIES.fetch_add(1, Ordering::Relaxed) >= MAX_DECLINED {
        DECLINED_TRIES.store(0, Ordering::Relaxed);
        return Fault::Declined;
    }
    sys_yield();
    Fault::Handled
}

/// Reports a fault that no handler took (what access, where, and the
/// area whose handler declined it, if any), and exits: the dispatcher's
/// last word.
pub fn report_unhandled(utf: &UTrapframe, region: Option<&str>) -> ! {
    let err = utf.utf_err;
    let what = if err & FEC_DEBUG != 0 {
        "debug trap"
    } else if err & FEC_WR != 0 {
        "write"
    } else {
        "read"
    };
    let why = if err & FEC_DEBUG != 0 {
        ""
    } else if err & FEC_PR != 0 {
        " (protection)"
    } else {
        " (not present)"
    };
    crate::cprintf!(
        "[{:08x}] unhandled page fault: {}{} at va {:08x} ip {:08x}, region {}\n",
        crate::syscall::sys_getenvid(),
        what,
        why,
        utf.utf_fault_va,
        utf.utf_eip,
        region.unwrap_or("none")
    );
    crate::env::exit();
}
