//! `mmap` of anonymous memory (part of issue 13; file mappings are not
//! written yet and give E_NOT_SUPP).
//!
//! An anonymous mapping is an area in the address-space list
//! (`pgfault::add_area`) between MMAP_BASE and MMAP_END, with a fault
//! handler and nothing mapped: its pages come on first touch.
//!
//! - `MAP_PRIVATE`: a read maps the shared zero page (copy-on-write, if
//!   the area is writable: the zero page's COW handler gives the page its
//!   own frame on the first write); a write maps a fresh zeroed page.
//!   `fork` copies it copy-on-write like any other memory.
//! - `MAP_SHARED`: a fault maps a fresh zeroed page with PTE_SHARE, so
//!   `fork` shares it; and `fork` first faults in every page of such an
//!   area that is not there yet (a page made after the fork would be the
//!   parent's or the child's alone). `spawn` does not share them (they are
//!   this program's memory, not its descriptors).
//!
//! A write to an area without PROT_WRITE, or any access to a PROT_NONE
//! one, is declined: the library's report names the area.
use super::swap;
use crate::pgfault::{Area, Fault, Kind, Prot, add_area, any_area, areas, remove_region};
use crate::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap};
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::memlayout::UZERO;
use abi::mmu::{FEC_PR, FEC_WR, PGSIZE, PTE_RW, PteFlags, round_down};
use abi::trap::UTrapframe;

/// Pages may be read.
pub const PROT_READ: u32 = 1;
/// Pages may be written.
pub const PROT_WRITE: u32 = 2;
/// Pages may be executed (no NX on i386 without PAE: same as read).
pub const PROT_EXEC: u32 = 4;
/// Stores are seen by every env that shares the mapping.
pub const MAP_SHARED: u32 = 0x01;
/// Stores are the caller's own (copy-on-write).
pub const MAP_PRIVATE: u32 = 0x02;
/// No file: zero-filled memory.
pub const MAP_ANONYMOUS: u32 = 0x20;

/// Where anonymous mappings are placed.
pub const MMAP_BASE: usize = 0x5000_0000;
/// The end (exclusive) of the mapping window.
pub const MMAP_END: usize = 0x9000_0000;

/// The names of our areas in the map (and in fault reports).
pub(crate) const NAME_PRIVATE: &str = "mmap";
const NAME_SHARED: &str = "mmap shared";

/// Whether `a` is one of ours.
fn is_mmap_area(a: &Area) -> bool {
    (a.name == NAME_PRIVATE && a.kind == Kind::Anonymous)
        || (a.name == NAME_SHARED && a.kind == Kind::Shared)
}

/// The lowest gap of `len` bytes (whole pages) in the window that no area
/// overlaps; None if there is none.
fn find_gap(len: usize) -> Option<usize> {
    let list = areas();
    let mut start = MMAP_BASE;
    loop {
        let end = start.checked_add(len)?;
        if end > MMAP_END {
            return None;
        }
        match list
            .iter()
            .flatten()
            .filter(|a| a.start < end && start < a.end)
            .map(|a| a.end)
            .max()
        {
            None => return Some(start),
            Some(e) => start = e.next_multiple_of(PGSIZE),
        }
    }
}

/// Maps `len` bytes (rounded up to pages) of anonymous memory with
/// protection `prot` (PROT_* bits) and `flags` (MAP_ANONYMOUS with
/// MAP_SHARED or MAP_PRIVATE); `fd` and `offset` are for file mappings.
/// Returns the address; nothing is mapped until touched.
///
/// Err(NotSupp) for a file mapping (not written yet); Err(Inval) for a
/// length of 0, unknown bits, or neither or both of SHARED and PRIVATE;
/// Err(NoMem) if the window or the area list is full.
pub fn mmap(len: usize, prot: u32, flags: u32, fd: Option<usize>, offset: usize) -> Result<usize> {
    let sharing = flags & (MAP_SHARED | MAP_PRIVATE);
    if len == 0
        || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0
        || flags & !(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS) != 0
        || (sharing != MAP_SHARED && sharing != MAP_PRIVATE)
    {
        return Err(Error::Inval);
    }
    if flags & MAP_ANONYMOUS == 0 || fd.is_some() || offset != 0 {
        return Err(Error::NotSupp);
    }
    let len = len.checked_next_multiple_of(PGSIZE).ok_or(Error::NoMem)?;
    let start = find_gap(len).ok_or(Error::NoMem)?;
    let shared = sharing == MAP_SHARED;
    // PROT_NONE: listed and guarded, nothing readable; anything else is
    // readable (i386 pages cannot be write- or execute-only).
    let p = if prot == 0 {
        Prot::NONE
    } else {
        Prot::new(true, prot & PROT_WRITE != 0, prot & PROT_EXEC != 0)
    };
    add_area(Area::new(
        start,
        start + len,
        if shared { NAME_SHARED } else { NAME_PRIVATE },
        p,
        if shared {
            Kind::Shared
        } else {
            Kind::Anonymous
        },
        Some(anon_fault),
    ))?;
    if !shared && prot & PROT_WRITE != 0 {
        super::zero::install()?;
    }
    Ok(start)
}

/// Unmaps the mapping that starts at `addr`, `len` bytes long (rounded up
/// to pages): exactly one whole mapping made by [`mmap`]. Its pages are
/// freed once no one else maps them.
///
/// Err(Inval) if [addr, addr + len) is not exactly such a mapping
/// (unmapping part of one is not supported).
pub fn munmap(addr: usize, len: usize) -> Result<()> {
    let len = len.checked_next_multiple_of(PGSIZE).ok_or(Error::Inval)?;
    let (id, a) = areas()
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            a.filter(|a| is_mmap_area(a) && a.start == addr)
                .map(|a| (i, a))
        })
        .ok_or(Error::Inval)?;
    if a.end - a.start != len {
        return Err(Error::Inval);
    }
    for va in (a.start..a.end).step_by(PGSIZE) {
        if pte_of(va).is_some() {
            sys_page_unmap(0, va)?;
        }
    }
    swap::forget_range(a.start, a.end);
    remove_region(id);
    Ok(())
}

/// The fault handler of every anonymous mapping: maps the page the fault
/// needs (see the module comment), or declines a write to a read-only
/// mapping and any access to a PROT_NONE one.
pub fn anon_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    let Some(a) = areas()
        .into_iter()
        .flatten()
        .find(|a| is_mmap_area(a) && (a.start..a.end).contains(&va))
    else {
        return Fault::Declined;
    };
    let write = utf.utf_err & FEC_WR != 0;
    if utf.utf_err & FEC_PR != 0 || !a.prot.read || (write && !a.prot.write) {
        // Present (a protection fault: not ours to fix) or not allowed.
        return Fault::Declined;
    }
    let page = round_down(va, PGSIZE);
    if swap::swapped_out(page) {
        return match swap::page_in(page) {
            Ok(()) => Fault::Handled,
            Err(e) => panic!("mmap: cannot page in va {va:08x}: {e}"),
        };
    }
    let ro = PteFlags::P | PteFlags::U;
    // When memory is short, the swap pager evicts pages and we try again.
    let r = swap::retry(|| match (a.kind, write, a.prot.write) {
        (Kind::Shared, _, true) => sys_page_alloc(0, page, PTE_RW | PteFlags::SHARE),
        (Kind::Shared, _, false) => sys_page_alloc(0, page, ro | PteFlags::SHARE),
        (_, true, _) => sys_page_alloc(0, page, PTE_RW),
        (_, false, true) => sys_page_map(0, UZERO, 0, page, ro | PteFlags::COW),
        (_, false, false) => sys_page_map(0, UZERO, 0, page, ro),
    });
    match r {
        Ok(()) => {
            swap::touch(page);
            Fault::Handled
        }
        Err(e) => panic!("mmap: no page for va {va:08x} (out of memory and swap): {e}"),
    }
}

/// Before `fork`: faults in every page of every shared mapping that is not
/// there yet, so that parent and child share all of it. Err(NoMem) if a
/// page cannot be had.
pub fn before_fork() -> Result<()> {
    // Most programs have none: then no copy of the area list (fork may run
    // on a one-page stack).
    if !any_area(|a| is_mmap_area(a) && a.kind == Kind::Shared) {
        return Ok(());
    }
    for a in areas().into_iter().flatten() {
        if !is_mmap_area(&a) || a.kind != Kind::Shared || !a.prot.read {
            continue;
        }
        for va in (a.start..a.end).step_by(PGSIZE) {
            if pte_of(va).is_none() {
                let perm = if a.prot.write {
                    PTE_RW
                } else {
                    PteFlags::P | PteFlags::U
                };
                sys_page_alloc(0, va, perm | PteFlags::SHARE)?;
            }
        }
    }
    Ok(())
}
