//! Working sets: which of our pages were touched, from the accessed (A)
//! and dirty (D) bits the processor sets in our page-table entries.
//!
//! The processor sets A in a PTE the first time it uses the entry to
//! translate an access, and D the first time it translates a write. We read
//! our own PTEs through UVPT, and the one system call `sys_vm_clear_ad`
//! clears both bits in a range (flushing the TLB, or the processor would
//! keep using its cached translation and never set them again). So:
//!
//! ```text
//!   wss_reset(va, len);      // A = D = 0 on every page of the range
//!   ... run a phase ...
//!   wss_count(va, len);      // pages with A: touched; with D: written
//! ```
//!
//! The count is per page: one byte touched counts the whole page.
use crate::syscall::sys_vm_clear_ad;
use crate::uvpt::uvpt;
use abi::error::{Error, Result};
use abi::mmu::{PGSIZE, PteFlags, pgnum, round_down};

/// What [`wss_count`] found in a range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkingSet {
    /// Pages mapped (present).
    pub mapped: usize,
    /// Mapped pages read or written since the last reset (A set).
    pub accessed: usize,
    /// Mapped pages written since the last reset (D set).
    pub dirty: usize,
}

/// Clears the accessed and dirty bits of our pages in [va, va + len) and
/// flushes them from the TLB. Returns how many mapped pages were cleared.
///
/// Err(Inval) for a range that reaches UTOP or wraps around.
pub fn wss_reset(va: usize, len: usize) -> Result<u32> {
    sys_vm_clear_ad(va, len)
}

/// Counts the pages of [va, va + len) (whole pages: the range is widened to
/// page boundaries) that are mapped, accessed and dirty, reading our page
/// tables through UVPT. Err(Inval) if the range wraps around.
pub fn wss_count(va: usize, len: usize) -> Result<WorkingSet> {
    let end = va.checked_add(len).ok_or(Error::Inval)?;
    let mut ws = WorkingSet::default();
    let mut page = round_down(va, PGSIZE);
    while page < end {
        let pte = uvpt(pgnum(page));
        if pte.is_present() {
            ws.mapped += 1;
            if pte.flags().contains(PteFlags::A) {
                ws.accessed += 1;
            }
            if pte.flags().contains(PteFlags::D) {
                ws.dirty += 1;
            }
        }
        page = match page.checked_add(PGSIZE) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(ws)
}
