//! Reading our own page tables (JOS's `uvpt[]` and `uvpd[]`), and the
//! kernel's page reference counts (`pages[]` at UPAGES).
//!
//! The page directory maps itself at slot `PDX(UVPT)`, so every page table
//! of the current address space appears, read-only, as one 4 MiB array of
//! entries at UVPT, and the directory itself as one page at UVPD:
//!
//! ```text
//!   uvpt[PGNUM(va)]  at UVPT + (va >> 12) * 4   the PTE mapping va
//!   uvpd[PDX(va)]    at UVPD + (va >> 22) * 4   the PDE covering va
//! ```
//!
//! A `uvpt` entry is readable only when its page table exists (the PDE is
//! present); the accessors here check the PDE first, so they never fault.
//! Entries are read volatile: the kernel changes them under us (a page fault
//! handler, another environment sharing our pages via `sfork`...).
use abi::env::PageInfo;
use abi::memlayout::UPAGES;
use abi::mmu::{NPDENTRIES, NPTENTRIES, Pde, Pte, PteFlags, pgnum, uvpd_pde_addr, uvpt_pte_addr};
use core::ptr::read_volatile;

/// Returns page-directory entry `pdx` (JOS's `uvpd[pdx]`).
///
/// Panics if `pdx >= NPDENTRIES`.
pub fn uvpd(pdx: usize) -> Pde {
    assert!(pdx < NPDENTRIES, "uvpd: index {pdx} out of range");
    let p = uvpd_pde_addr(pdx << 22) as *const u32;
    // SAFETY: the page directory is always mapped read-only at UVPD, and
    // `p` is an aligned entry inside it.
    Pte::from_raw(unsafe { read_volatile(p) })
}

/// Returns page-table entry number `pgnum` (JOS's `uvpt[pgnum]`, the PTE
/// for the page at `pgnum << 12`), or an empty entry if that page's page
/// table does not exist.
///
/// Panics if `pgnum` is not a page number (`>= NPDENTRIES * NPTENTRIES`).
pub fn uvpt(pgnum: usize) -> Pte {
    assert!(
        pgnum < NPDENTRIES * NPTENTRIES,
        "uvpt: page number {pgnum:#x} out of range"
    );
    // Only a user-accessible page table can be read through UVPT: the
    // kernel's 4 MiB (PS) entries above KERNBASE have no U bit, and reading
    // through them would fault.
    let pde = uvpd(pgnum / NPTENTRIES);
    if !pde.is_present() || !pde.flags().contains(PteFlags::U) || pde.flags().contains(PteFlags::PS)
    {
        return Pte::empty();
    }
    let p = uvpt_pte_addr(pgnum << 12) as *const u32;
    // SAFETY: the PDE is present, so the page table is mapped in the UVPT
    // window and `p` is an aligned entry in it.
    Pte::from_raw(unsafe { read_volatile(p) })
}

/// Calls `f(va, pte)` for every present page in `[lo, hi)` (page-aligned),
/// in address order, skipping whole page tables that are not present and
/// reading the entries of those that are straight from the UVPT window: a
/// walk over a large range (the file server's 3 GiB block cache, an address
/// space being forked) without the directory look-up `uvpt` makes for each
/// entry. Stops at, and returns, the first error `f` returns.
pub fn for_each_present<E>(
    lo: usize,
    hi: usize,
    mut f: impl FnMut(usize, Pte) -> Result<(), E>,
) -> Result<(), E> {
    let (mut pn, end) = (pgnum(lo), pgnum(hi).min(NPDENTRIES * NPTENTRIES));
    while pn < end {
        let pdx = pn / NPTENTRIES;
        let table_end = ((pdx + 1) * NPTENTRIES).min(end);
        let pde = uvpd(pdx);
        if pde.is_present()
            && pde.flags().contains(PteFlags::U)
            && !pde.flags().contains(PteFlags::PS)
        {
            let table = uvpt_pte_addr(0) as *const u32;
            for pn in pn..table_end {
                // SAFETY: the PDE covering page `pn` is present (and a user
                // page table), so its entries are mapped in the UVPT window;
                // `table + pn` is an aligned entry there.
                let raw = unsafe { read_volatile(table.add(pn)) };
                let pte = Pte::from_raw(raw);
                if pte.is_present() {
                    f(pn << 12, pte)?;
                }
            }
        }
        pn = table_end;
    }
    Ok(())
}

/// Returns the entry mapping virtual address `va` if a page is mapped there
/// (present), None otherwise.
pub fn pte_of(va: usize) -> Option<Pte> {
    let pte = uvpt(pgnum(va));
    pte.is_present().then_some(pte)
}

/// Returns the kernel's reference count of the physical page at `pa` (how
/// many mappings it has in all address spaces), read from `pages[]` at
/// UPAGES; None if `pa` is beyond physical memory.
pub fn page_refcount(pa: usize) -> Option<u32> {
    let rec = UPAGES + pgnum(pa) * size_of::<PageInfo>();
    pte_of(rec)?;
    // `PageInfo`s are 8 bytes and the array is page-aligned, so a record
    // never straddles a page: the check above covers all of it.
    let p = rec as *const PageInfo;
    // SAFETY: the page holding the record is mapped (user-readable at
    // UPAGES) and `p` is aligned.
    Some(unsafe { read_volatile(&raw const (*p).pp_ref) })
}

/// Counts the physical pages with no reference, read from `pages[]` at
/// UPAGES: the free ones, plus a constant number the kernel owns without
/// counting (its image, the I/O hole). Leak checks compare it before and
/// after a run. Cannot fail.
pub fn unreferenced_pages() -> usize {
    (0..)
        .map(|i| page_refcount(i * abi::mmu::PGSIZE))
        .take_while(Option::is_some)
        .filter(|&r| r == Some(0))
        .count()
}

/// Returns how many mappings (in all address spaces) the page mapped at
/// our address `va` has (JOS's `pageref`): 0 if nothing is mapped there.
pub fn pageref(va: usize) -> u32 {
    pte_of(va)
        .and_then(|pte| page_refcount(pte.addr()))
        .unwrap_or(0)
}
