//! The copy-on-write handler (the `pgfault` of JOS's lib/fork.c).
//!
//! A page mapped P|U|COW is shared read-only until someone writes it:
//! `fork` maps every writable page so in parent and child, and the file
//! server's pager maps a spawned program's data pages so. The first write
//! faults, and the dispatcher (`crate::pgfault`) gives a write to a present
//! COW page to its COW handler, [`pgfault`] here unless a program set its
//! own (`set_cow_handler`; the zero page's handler passes on to this one
//! what is not the zero page):
//!
//! ```text
//!   write to va, PTE P|U|COW --> pgfault --> page_refcount == 1 ?
//!        yes: remap the same page P|U|W      (nobody else has it)
//!        no:  copy it into a fresh page, map that P|U|W  (copy_page_to)
//! ```
//!
//! A leaf: it knows nothing of fork, the heap or the cells that call
//! [`make_private`] to take their pages out of copy-on-write.
use super::fault::{Fault, copy_page_to};
use crate::syscall::sys_page_map;
use crate::uvpt::{page_refcount, pte_of};
use abi::error::Result;
use abi::mmu::{FEC_WR, PGSIZE, PTE_RW, Pte, PteFlags, round_down};
use abi::trap::UTrapframe;

/// The copy-on-write page-fault handler: a write to a COW page gets a
/// private writable copy of it; then the write is retried. The dispatcher
/// only calls it for writes to present COW pages; anything else is
/// declined.
///
/// Panics if the copy cannot be made (out of memory), naming the address.
pub fn pgfault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    let Some(pte) = pte_of(va).filter(|p| p.flags().contains(PteFlags::COW)) else {
        return Fault::Declined;
    };
    if utf.utf_err & FEC_WR == 0 {
        return Fault::Declined;
    }
    if let Err(e) = make_private(round_down(va, PGSIZE), pte) {
        panic!("copy-on-write fault at va {va:08x}: {e}");
    }
    Fault::Handled
}

/// Makes the copy-on-write page at `va` (mapped by `pte`) private and
/// writable: if no one else maps the physical page any more (reference
/// count 1), it is remapped writable as it is; otherwise it is copied into
/// a fresh page ([`copy_page_to`]).
///
/// Err(NoMem) when out of memory; the page is then left as it was.
pub fn make_private(va: usize, pte: Pte) -> Result<()> {
    // The last user of the page may just make it writable. (If someone
    // mapped it meanwhile, the kernel says Inval: copy after all.)
    if page_refcount(pte.addr()) == Some(1) && sys_page_map(0, va, 0, va, PTE_RW).is_ok() {
        return Ok(());
    }
    copy_page_to(va, PTE_RW)
}
