//! A map of one's own address space, like Linux's /proc/self/maps.
//!
//! The list of areas is the page-fault dispatcher's table (`pgfault`):
//! every trick that owns addresses (the heap, the stack, the null guard,
//! watched pages, a student's `add_region`) registers there, and `libmain`
//! adds the program's own segments and its stack, `install_upcall` the
//! exception stack. Those have no fault handler, so they are only listed.
//! [`maps`] prints the list sorted by address, with how many pages of each
//! area are present now (read at UVPT, so nothing is faulted in):
//!
//! ```text
//! 00800000-00804000 r-xp 00000000 text     4/4 present
//! ```
use super::areas::{Area, Kind, MAX_REGIONS, Prot, areas};
use crate::uvpt::pte_of;
use abi::mmu::PGSIZE;

/// Returns how many of the pages of [start, end) are mapped now.
pub fn present_pages(start: usize, end: usize) -> usize {
    (start..end)
        .step_by(PGSIZE)
        .filter(|&va| pte_of(va).is_some())
        .count()
}

/// Returns the number of pages [start, end) spans.
pub fn area_pages(a: &Area) -> usize {
    (a.end - a.start).div_ceil(PGSIZE)
}

/// Returns the areas sorted by start address (then end), in the first
/// `n` slots of the array; returns the array and `n`.
pub fn sorted_areas() -> ([Option<Area>; MAX_REGIONS], usize) {
    let mut list = areas();
    // Occupied slots first, then by address: an insertion sort.
    let key = |a: &Option<Area>| a.map_or((1, 0, 0), |a| (0, a.start, a.end));
    for i in 1..list.len() {
        let mut j = i;
        while j > 0 && key(&list[j - 1]) > key(&list[j]) {
            list.swap(j - 1, j);
            j -= 1;
        }
    }
    let n = list.iter().filter(|a| a.is_some()).count();
    (list, n)
}

/// Prints the map of the caller's address space, one line per area:
/// `start-end perms offset name present/pages present`. Cannot fail.
pub fn maps() {
    let (list, n) = sorted_areas();
    for a in list[..n].iter().flatten() {
        let Prot { read, write, exec } = a.prot;
        crate::cprintf!(
            "{:08x}-{:08x} {}{}{}{} {:08x} {:<8} {}/{} present\n",
            a.start,
            a.end,
            if read { 'r' } else { '-' },
            if write { 'w' } else { '-' },
            if exec { 'x' } else { '-' },
            if a.kind == Kind::Shared { 's' } else { 'p' },
            a.offset,
            a.name,
            present_pages(a.start, a.end),
            area_pages(a)
        );
    }
}
