//! Virtual-memory tricks, built in the library on the page-fault upcall
//! (`crate::pgfault`) and on reading our own page tables (`crate::uvpt`).
//! Each file is one trick a student can read and replace:
//!
//! - `zero`: the shared zero page, mapped copy-on-write wherever memory
//!   should read as zero; the first write gets a fresh zeroed page.
//! - `heap`: a lazy heap, `sbrk`; pages appear on first touch.
//! - `malloc`: `malloc`, `free`, `realloc`, `posix_memalign` on `sbrk`, and
//!   the global allocator behind `alloc` (Vec, Box, String).
//! - `stack`: the user stack grows on demand, up to a limit, above a guard.
//! - `null`: the null guard, reporting null-pointer dereferences.
//! - `watch`: watchpoints on writes, by page protection and single steps.
//! - `wss`: working-set sizes from the accessed and dirty bits.
//! - `maps`: the list of areas, printed like /proc/self/maps.

use crate::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap};
use abi::error::Result;
use abi::memlayout::PFTEMP;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags, round_down};

pub mod heap;
pub mod malloc;
pub mod maps;
pub mod mmap;
pub mod null;
pub mod stack;
pub mod swap;
pub mod watch;
pub mod wss;
pub mod zero;

/// Turns on the library's default guards: stack growth up to the default
/// limit (`stack::enable_stack_growth`) and null-pointer reports
/// (`null::enable_null_guard`); installs the page-fault upcall if needed.
/// Either already on is left as it is.
///
/// This is policy, and a program asks for it: nothing in the upcall, the
/// dispatcher, `fork` or the heap turns it on. A program that does not call
/// this (or the two calls it makes) keeps JOS's behaviour for a fault below
/// its stack or near address 0 even if it handles other faults in user
/// space: no handler claims it, so the fallback handler gets it if one is
/// set, and otherwise the library reports it as an unhandled fault. With no
/// upcall at all, the kernel reports it (`user fault va ...`), which is
/// what MIT's lab 3 and 4 graders expect of faultread, faultdie and the
/// like. A fork child inherits the guards with the rest of its parent's
/// address space.
///
/// Err(NoMem) if the upcall's exception stack cannot be allocated or the
/// page-fault region table is full; the guards set up before the error stay.
pub fn enable_default_guards() -> Result<()> {
    stack::enable_stack_growth()?;
    null::enable_null_guard()
}

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
    let e = crate::env::thisenv_read();
    if e.env_pager != 0 && (e.env_pager_lo as usize..e.env_pager_hi as usize).contains(&va) {
        // SAFETY: a read of our own program's page: the pager maps it (or
        // declines, and the fault goes to our handler like any other).
        unsafe { core::ptr::read_volatile(va as *const u8) };
    }
    crate::uvpt::pte_of(va).is_some()
}

/// Replaces the page at `va` (rounded down to its page) with a private
/// copy of its contents, mapped with `perm`: allocates a page at PFTEMP,
/// copies the old page into it, maps it at `va` and unmaps PFTEMP. The
/// copy-on-write handler (`fork`), the watchpoints and a student's own
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
