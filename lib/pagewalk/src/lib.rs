//! A model of multi-level page tables over simulated physical memory: the
//! classic "translate / page_allocate" exercise, for any geometry.
//!
//! The i386 two-level scheme ([`Geometry::I386`]) is one instance; the same
//! code walks a three-level table with 8-byte entries or a four-level table
//! with 16 KiB pages. Tables live in a [`SimMemory`], a byte array standing in
//! for physical memory, so the walk can be tested on the host exactly as the
//! hardware would do it: read the entry, check the present bit, follow the
//! physical address to the next level.
//!
//! An entry holds a page-aligned physical address with flag bits in the low
//! `page_shift` bits; bit 0 ([`PRESENT`]) is the present bit, as on i386.
//! Level 0 is the root (the page directory on i386), the last level holds the
//! leaf entries that map pages.
//!
//! A host-side exercise, used by no other crate: `cargo test -p pagewalk`
//! (part of `make test`) checks it, the i386 geometry against `abi::mmu`.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// The present bit of an entry.
pub const PRESENT: u64 = 0x1;
/// Flags given to intermediate entries made by [`page_allocate`]: present,
/// writable, user (`P | W | U`, as JOS's `pgdir_walk` does); the leaf entry
/// alone decides the page's permissions.
pub const TABLE_FLAGS: u64 = 0x7;

/// The shape of a multi-level page table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// log2 of the page size.
    pub page_shift: u32,
    /// Number of table levels walked to reach a page.
    pub levels: u32,
    /// Bits of virtual address consumed by each level's index.
    pub index_bits_per_level: u32,
    /// Bytes per entry (4 or 8).
    pub entry_size: usize,
}

impl Geometry {
    /// i386 without PAE: 4 KiB pages, a page directory and page tables of
    /// 1024 4-byte entries each.
    pub const I386: Geometry = Geometry {
        page_shift: 12,
        levels: 2,
        index_bits_per_level: 10,
        entry_size: 4,
    };

    /// Returns the page size in bytes.
    pub const fn page_size(&self) -> usize {
        1 << self.page_shift
    }

    /// Returns the number of entries in one table.
    pub const fn entries_per_table(&self) -> usize {
        1 << self.index_bits_per_level
    }

    /// Returns the number of virtual-address bits the geometry translates.
    pub const fn va_bits(&self) -> u32 {
        self.page_shift + self.levels * self.index_bits_per_level
    }

    /// Returns the bit position of the index for `level` (0 = root).
    ///
    /// Never fails for a valid `level` (below `levels`); a larger one is a
    /// caller bug and panics.
    pub const fn index_shift(&self, level: u32) -> u32 {
        self.page_shift + (self.levels - 1 - level) * self.index_bits_per_level
    }

    /// Returns the index of `va`'s entry in its table at `level` (0 = root);
    /// for [`Geometry::I386`], level 0 is `pdx(va)` and level 1 `ptx(va)`.
    pub const fn index(&self, level: u32, va: usize) -> usize {
        (va >> self.index_shift(level)) & (self.entries_per_table() - 1)
    }

    /// Returns the offset of `va` within its page.
    pub const fn page_offset(&self, va: usize) -> usize {
        va & (self.page_size() - 1)
    }

    /// Returns whether `va` lies inside the translated address space.
    pub const fn contains(&self, va: usize) -> bool {
        self.va_bits() >= usize::BITS || va >> self.va_bits() == 0
    }

    /// Checks that the geometry is usable: at least one level, at least one
    /// index bit, 4- or 8-byte entries, a table that fits in one page, room
    /// below `page_shift` for the flag bits, and at most `usize::BITS`
    /// virtual-address bits.
    ///
    /// Returns `Err(WalkError::BadGeometry)` otherwise.
    pub fn validate(&self) -> Result<(), WalkError> {
        let ok = self.levels >= 1
            && self.index_bits_per_level >= 1
            && (self.entry_size == 4 || self.entry_size == 8)
            && (3..usize::BITS).contains(&self.page_shift)
            && self.index_bits_per_level < usize::BITS
            && self
                .levels
                .checked_mul(self.index_bits_per_level)
                .and_then(|b| b.checked_add(self.page_shift))
                .is_some_and(|b| b <= usize::BITS)
            && self
                .entries_per_table()
                .checked_mul(self.entry_size)
                .is_some_and(|table| table <= self.page_size());
        if ok {
            Ok(())
        } else {
            Err(WalkError::BadGeometry)
        }
    }

    /// Mask of the physical-address part of an entry.
    const fn frame_mask(&self) -> u64 {
        !((self.page_size() as u64) - 1)
    }
}

/// Why a page-table operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// The geometry fails [`Geometry::validate`], or the memory is too large
    /// for its entries to address.
    BadGeometry,
    /// The virtual address is beyond the geometry's address space.
    AddressTooLarge,
    /// The flags overlap the address bits of an entry.
    BadFlags,
    /// No free physical page is left.
    OutOfMemory,
    /// A page is already mapped at the address.
    AlreadyMapped,
    /// A physical address (the root, or one found in an entry) is outside
    /// the simulated memory: the tables are corrupt.
    BadPhysAddr,
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WalkError::BadGeometry => "unusable page-table geometry",
            WalkError::AddressTooLarge => "virtual address outside the address space",
            WalkError::BadFlags => "flags overlap the address bits",
            WalkError::OutOfMemory => "out of physical pages",
            WalkError::AlreadyMapped => "page already mapped",
            WalkError::BadPhysAddr => "physical address outside memory",
        })
    }
}

/// Simulated physical memory: a zero-filled byte array of whole pages with a
/// bump allocator. Page 0 is never handed out, so a physical address of 0 in
/// an entry is always a bug.
#[derive(Clone, Debug)]
pub struct SimMemory {
    geometry: Geometry,
    bytes: Vec<u8>,
    next_free: usize,
}

impl SimMemory {
    /// Creates `npages` pages of zeroed memory laid out for `geometry`.
    ///
    /// Returns `Err(WalkError::BadGeometry)` if the geometry is unusable or
    /// the memory is too large for its entries to hold physical addresses.
    pub fn new(geometry: Geometry, npages: usize) -> Result<Self, WalkError> {
        geometry.validate()?;
        let size = npages
            .checked_mul(geometry.page_size())
            .ok_or(WalkError::BadGeometry)?;
        if geometry.entry_size < 8 && size as u64 > 1 << (8 * geometry.entry_size) {
            return Err(WalkError::BadGeometry);
        }
        Ok(SimMemory {
            geometry,
            bytes: vec![0; size],
            next_free: 1,
        })
    }

    /// Returns the page-table geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Returns the size of the memory in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Returns how many pages have been allocated (page 0 not counted).
    pub fn pages_allocated(&self) -> usize {
        self.next_free - 1
    }

    /// Allocates a zeroed page and returns its physical address.
    ///
    /// Returns `None` when no page is left.
    pub fn alloc_page(&mut self) -> Option<usize> {
        let page_size = self.geometry.page_size();
        if (self.next_free + 1) * page_size > self.bytes.len() {
            return None;
        }
        let pa = self.next_free * page_size;
        self.next_free += 1;
        Some(pa)
    }

    /// Reads `size` (1..=8) bytes at `pa` as a little-endian integer.
    ///
    /// Returns `None` if the range is outside memory or `size` is bad.
    pub fn read(&self, pa: usize, size: usize) -> Option<u64> {
        if !(1..=8).contains(&size) {
            return None;
        }
        let src = self.bytes.get(pa..pa.checked_add(size)?)?;
        let mut buf = [0u8; 8];
        buf[..size].copy_from_slice(src);
        Some(u64::from_le_bytes(buf))
    }

    /// Writes the low `size` (1..=8) bytes of `value` at `pa`, little-endian.
    ///
    /// Returns `None` (writing nothing) if the range is outside memory or
    /// `size` is bad.
    pub fn write(&mut self, pa: usize, size: usize, value: u64) -> Option<()> {
        if !(1..=8).contains(&size) {
            return None;
        }
        let dst = self.bytes.get_mut(pa..pa.checked_add(size)?)?;
        dst.copy_from_slice(&value.to_le_bytes()[..size]);
        Some(())
    }

    fn read_entry(&self, slot: usize) -> Result<u64, WalkError> {
        self.read(slot, self.geometry.entry_size)
            .ok_or(WalkError::BadPhysAddr)
    }

    fn write_entry(&mut self, slot: usize, entry: u64) -> Result<(), WalkError> {
        self.write(slot, self.geometry.entry_size, entry)
            .ok_or(WalkError::BadPhysAddr)
    }
}

/// Returns the physical address of the entry for `va` in `table` at `level`.
fn slot(geo: &Geometry, table: usize, level: u32, va: usize) -> usize {
    table + geo.index(level, va) * geo.entry_size
}

/// Translates `va` through the tables rooted at physical address `root`, as
/// the MMU would.
///
/// Returns `None` if `va` is outside the address space, if an entry on the
/// way is not present, or if the tables point outside memory.
pub fn translate(mem: &SimMemory, root: usize, va: usize) -> Option<usize> {
    let geo = mem.geometry;
    if !geo.contains(va) {
        return None;
    }
    let mut table = root;
    for level in 0..geo.levels {
        let entry = mem.read_entry(slot(&geo, table, level, va)).ok()?;
        if entry & PRESENT == 0 {
            return None;
        }
        table = usize::try_from(entry & geo.frame_mask()).ok()?;
    }
    Some(table + geo.page_offset(va))
}

/// Maps a fresh zeroed page at `va` in the tables rooted at `root`, with leaf
/// flags `flags | PRESENT`, allocating intermediate tables on demand (with
/// [`TABLE_FLAGS`]).
///
/// Returns the physical address `va` now translates to. Fails with
/// `AddressTooLarge` if `va` is outside the address space, `BadFlags` if
/// `flags` has bits at or above `page_shift`, `AlreadyMapped` if a page is
/// mapped at `va` already, `OutOfMemory` if no page is left (tables created
/// on the way stay, as in JOS), and `BadPhysAddr` if the tables are corrupt.
pub fn page_allocate(
    mem: &mut SimMemory,
    root: usize,
    va: usize,
    flags: u64,
) -> Result<usize, WalkError> {
    let geo = mem.geometry;
    if !geo.contains(va) {
        return Err(WalkError::AddressTooLarge);
    }
    if flags & geo.frame_mask() != 0 {
        return Err(WalkError::BadFlags);
    }
    let mut table = root;
    for level in 0..geo.levels - 1 {
        let at = slot(&geo, table, level, va);
        let entry = mem.read_entry(at)?;
        table = if entry & PRESENT != 0 {
            usize::try_from(entry & geo.frame_mask()).map_err(|_| WalkError::BadPhysAddr)?
        } else {
            let new = mem.alloc_page().ok_or(WalkError::OutOfMemory)?;
            mem.write_entry(at, new as u64 | TABLE_FLAGS)?;
            new
        };
    }
    let at = slot(&geo, table, geo.levels - 1, va);
    if mem.read_entry(at)? & PRESENT != 0 {
        return Err(WalkError::AlreadyMapped);
    }
    let frame = mem.alloc_page().ok_or(WalkError::OutOfMemory)?;
    mem.write_entry(at, frame as u64 | flags | PRESENT)?;
    Ok(frame + geo.page_offset(va))
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::memlayout::{KERNBASE, USTACKTOP, UTEXT, UVPT};
    use abi::mmu::{self, Pte, PteFlags};

    /// Sv39-like: three levels of 512 8-byte entries, 4 KiB pages.
    const THREE_LEVEL: Geometry = Geometry {
        page_shift: 12,
        levels: 3,
        index_bits_per_level: 9,
        entry_size: 8,
    };

    /// Four levels with 16 KiB pages and 2048 8-byte entries per table.
    const FOUR_LEVEL_16K: Geometry = Geometry {
        page_shift: 14,
        levels: 4,
        index_bits_per_level: 11,
        entry_size: 8,
    };

    fn setup(geo: Geometry, npages: usize) -> (SimMemory, usize) {
        let mut mem = SimMemory::new(geo, npages).unwrap();
        let root = mem.alloc_page().unwrap();
        (mem, root)
    }

    /// A small deterministic pseudo-random sequence (64-bit LCG).
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 11
    }

    #[test]
    fn i386_indices_match_mmu() {
        let g = Geometry::I386;
        assert_eq!(g.va_bits(), 32);
        assert_eq!(g.page_size(), mmu::PGSIZE);
        assert_eq!(g.entries_per_table(), mmu::NPTENTRIES);
        assert_eq!(g.index_shift(0), mmu::PDXSHIFT);
        assert_eq!(g.index_shift(1), mmu::PTXSHIFT);
        let mut s = 42;
        let fixed = [0, UTEXT + 0x20, USTACKTOP - 1, UVPT, KERNBASE, 0xFFFF_FFFF];
        let random = (0..1000).map(|_| (lcg(&mut s) & 0xFFFF_FFFF) as usize);
        for va in fixed.into_iter().chain(random) {
            assert_eq!(g.index(0, va), mmu::pdx(va), "{va:#x}");
            assert_eq!(g.index(1, va), mmu::ptx(va), "{va:#x}");
            assert_eq!(g.page_offset(va), mmu::pgoff(va), "{va:#x}");
        }
    }

    #[test]
    fn i386_allocate_and_translate() {
        let (mut mem, root) = setup(Geometry::I386, 16);
        let va = UTEXT + 0x20;
        let flags = (PteFlags::W | PteFlags::U).bits() as u64;
        let pa = page_allocate(&mut mem, root, va, flags).unwrap();
        assert_eq!(mmu::pgoff(pa), 0x20);
        assert_eq!(translate(&mem, root, va), Some(pa));
        assert_eq!(translate(&mem, root, UTEXT), Some(pa - 0x20));
        assert_eq!(
            translate(&mem, root, UTEXT + 0xFFF),
            Some(pa - 0x20 + 0xFFF)
        );
        // Root, one page table, one page.
        assert_eq!(mem.pages_allocated(), 3);

        // The entries are bit-for-bit what mmu::Pte builds.
        let pde = Pte::from_raw(mem.read(root + mmu::pdx(va) * 4, 4).unwrap() as u32);
        assert_eq!(pde.flags(), PteFlags::P | PteFlags::W | PteFlags::U);
        let pt = pde.addr();
        let pte = Pte::from_raw(mem.read(pt + mmu::ptx(va) * 4, 4).unwrap() as u32);
        assert_eq!(
            pte,
            Pte::new(
                mmu::round_down(pa, mmu::PGSIZE),
                PteFlags::P | PteFlags::W | PteFlags::U
            )
        );

        // Another page under the same page table costs one page; one under
        // another directory entry costs two.
        page_allocate(&mut mem, root, UTEXT + 0x1000, flags).unwrap();
        assert_eq!(mem.pages_allocated(), 4);
        page_allocate(&mut mem, root, USTACKTOP - mmu::PGSIZE, flags).unwrap();
        assert_eq!(mem.pages_allocated(), 6);
    }

    #[test]
    fn unmapped_addresses_translate_to_none() {
        let (mut mem, root) = setup(Geometry::I386, 16);
        assert_eq!(translate(&mem, root, 0), None);
        assert_eq!(translate(&mem, root, UTEXT), None);
        page_allocate(&mut mem, root, UTEXT, 0).unwrap();
        // Same page table, neighbouring pages: the PDE is present, the PTE is not.
        assert_eq!(translate(&mem, root, UTEXT + mmu::PGSIZE), None);
        assert_eq!(translate(&mem, root, UTEXT - 1), None);
        // Different page table entirely.
        assert_eq!(translate(&mem, root, UTEXT + mmu::PTSIZE), None);
        assert_eq!(translate(&mem, root, 0), None);
        if usize::BITS > 32 {
            // Beyond the 32-bit address space, even though pdx/ptx of the low bits are mapped.
            assert_eq!(translate(&mem, root, (1usize << 32) | UTEXT), None);
            assert_eq!(
                page_allocate(&mut mem, root, 1usize << 32, 0),
                Err(WalkError::AddressTooLarge)
            );
        }
    }

    #[test]
    fn leaf_flags_are_kept_but_not_translated() {
        let (mut mem, root) = setup(Geometry::I386, 16);
        let cow = PteFlags::COW.bits() as u64;
        let pa = page_allocate(&mut mem, root, UTEXT, cow).unwrap();
        assert_eq!(translate(&mem, root, UTEXT + 5), Some(pa + 5));
        let pt = Pte::from_raw(mem.read(root + mmu::pdx(UTEXT) * 4, 4).unwrap() as u32).addr();
        let pte = Pte::from_raw(mem.read(pt + mmu::ptx(UTEXT) * 4, 4).unwrap() as u32);
        assert_eq!(pte.flags(), PteFlags::P | PteFlags::COW);
        // Flags that reach into the address bits are refused.
        assert_eq!(
            page_allocate(&mut mem, root, UTEXT + 0x1000, 0x1000),
            Err(WalkError::BadFlags)
        );
    }

    #[test]
    fn already_mapped_is_refused() {
        let (mut mem, root) = setup(Geometry::I386, 16);
        let pa = page_allocate(&mut mem, root, UTEXT, 0).unwrap();
        let used = mem.pages_allocated();
        assert_eq!(
            page_allocate(&mut mem, root, UTEXT + 0x10, 0),
            Err(WalkError::AlreadyMapped)
        );
        assert_eq!(mem.pages_allocated(), used, "no page leaked");
        assert_eq!(translate(&mem, root, UTEXT), Some(pa), "mapping unchanged");
    }

    #[test]
    fn out_of_memory() {
        // Page 0 (reserved), root, one page table: nothing left for the page.
        let (mut mem, root) = setup(Geometry::I386, 3);
        assert_eq!(
            page_allocate(&mut mem, root, UTEXT, 0),
            Err(WalkError::OutOfMemory)
        );
        assert_eq!(translate(&mem, root, UTEXT), None);
        // Not even room for the page table.
        let (mut mem, root) = setup(Geometry::I386, 2);
        assert_eq!(
            page_allocate(&mut mem, root, UTEXT, 0),
            Err(WalkError::OutOfMemory)
        );
        assert_eq!(mem.alloc_page(), None);
    }

    #[test]
    fn corrupt_tables_are_detected() {
        let (mut mem, root) = setup(Geometry::I386, 8);
        // A present PDE pointing far outside the simulated memory.
        mem.write(root + mmu::pdx(UTEXT) * 4, 4, 0x8000_0000 | 1)
            .unwrap();
        assert_eq!(translate(&mem, root, UTEXT), None);
        assert_eq!(
            page_allocate(&mut mem, root, UTEXT, 0),
            Err(WalkError::BadPhysAddr)
        );
        // A root outside memory.
        assert_eq!(translate(&mem, 0x10_0000, UTEXT), None);
    }

    #[test]
    fn pages_are_distinct_and_data_lands_in_the_right_frame() {
        let (mut mem, root) = setup(Geometry::I386, 32);
        let vas = [UTEXT, UTEXT + 0x1000, USTACKTOP - 0x1000, 0x1000];
        let pas: Vec<usize> = vas
            .iter()
            .map(|&va| page_allocate(&mut mem, root, va, 0x6).unwrap())
            .collect();
        for (i, &va) in vas.iter().enumerate() {
            mem.write(translate(&mem, root, va + 7).unwrap(), 1, i as u64 + 1)
                .unwrap();
        }
        for (i, &pa) in pas.iter().enumerate() {
            assert_eq!(mem.read(pa + 7, 1), Some(i as u64 + 1));
            assert_eq!(mem.read(pa + 6, 1), Some(0), "fresh pages are zeroed");
        }
    }

    #[test]
    fn three_level_geometry() {
        let g = THREE_LEVEL;
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.va_bits(), 39);
        let (mut mem, root) = setup(g, 32);
        let va = 0x7F_FFFF_F123;
        assert_eq!(
            (g.index(0, va), g.index(1, va), g.index(2, va)),
            (0x1FF, 0x1FF, 0x1FF)
        );
        let pa = page_allocate(&mut mem, root, va, 0x2).unwrap();
        assert_eq!(pa & 0xFFF, 0x123);
        assert_eq!(translate(&mem, root, va), Some(pa));
        assert_eq!(mem.pages_allocated(), 4, "root + 2 tables + page");
        // The root's last 8-byte entry points at a page-aligned table in memory.
        let top = mem.read(root + 0x1FF * 8, 8).unwrap();
        assert_eq!(top & 0xFFF, TABLE_FLAGS);
        assert!((top as usize) < mem.size() && top as usize > root);
        // Shares nothing below the root with an address in another 1 GiB slot.
        let other = 0x40_0000_0000 | 0x5000;
        assert_eq!(translate(&mem, root, other), None);
        page_allocate(&mut mem, root, other, 0).unwrap();
        assert_eq!(mem.pages_allocated(), 7);
        assert_eq!(translate(&mem, root, 1 << 39), None, "beyond 39 bits");
    }

    #[test]
    fn four_level_16k_geometry() {
        let g = FOUR_LEVEL_16K;
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.page_size(), 16 * 1024);
        assert_eq!(g.va_bits(), 58);
        let (mut mem, root) = setup(g, 400);
        let mut s = 7;
        let mut mapped = Vec::new();
        for _ in 0..40 {
            let va = (lcg(&mut s) as usize) & ((1 << 58) - 1);
            match page_allocate(&mut mem, root, va, 0x6) {
                Ok(pa) => {
                    assert_eq!(pa % g.page_size(), va % g.page_size());
                    mapped.push((va, pa));
                }
                Err(e) => panic!("{va:#x}: {e}"),
            }
        }
        for &(va, pa) in &mapped {
            assert_eq!(translate(&mem, root, va), Some(pa));
            let base = va - g.page_offset(va);
            assert_eq!(
                translate(&mem, root, base + g.page_size() - 1),
                Some(pa - g.page_offset(va) + g.page_size() - 1)
            );
        }
        // Every frame is different.
        let mut frames: Vec<usize> = mapped
            .iter()
            .map(|&(va, pa)| pa - g.page_offset(va))
            .collect();
        frames.sort_unstable();
        frames.dedup();
        assert_eq!(frames.len(), mapped.len());
        // Random other addresses are unmapped (pages are sparse in 2^58 bytes).
        for _ in 0..200 {
            let va = (lcg(&mut s) as usize) & ((1 << 58) - 1);
            let page = va >> g.page_shift;
            if mapped.iter().all(|&(m, _)| m >> g.page_shift != page) {
                assert_eq!(translate(&mem, root, va), None, "{va:#x}");
            }
        }
        assert_eq!(translate(&mem, root, 1 << 58), None);
    }

    #[test]
    fn bad_geometries_are_rejected() {
        let bad = [
            // Table (2048 * 4 bytes) larger than a 4 KiB page.
            Geometry {
                index_bits_per_level: 11,
                ..Geometry::I386
            },
            Geometry {
                levels: 0,
                ..Geometry::I386
            },
            Geometry {
                index_bits_per_level: 0,
                ..Geometry::I386
            },
            Geometry {
                entry_size: 3,
                ..Geometry::I386
            },
            Geometry {
                page_shift: 2,
                ..Geometry::I386
            },
            // 12 + 7 * 9 = 75 bits of virtual address.
            Geometry {
                levels: 7,
                ..THREE_LEVEL
            },
            Geometry {
                levels: u32::MAX,
                ..THREE_LEVEL
            },
        ];
        for g in bad {
            assert_eq!(g.validate(), Err(WalkError::BadGeometry), "{g:?}");
            assert_eq!(SimMemory::new(g, 4).unwrap_err(), WalkError::BadGeometry);
        }
        // 4-byte entries cannot address more than 4 GiB.
        assert_eq!(
            SimMemory::new(Geometry::I386, (1 << 20) + 1).unwrap_err(),
            WalkError::BadGeometry
        );
        // A geometry using every bit of a 64-bit address: 16 + 4 * 12 = 64.
        let full = Geometry {
            page_shift: 16,
            levels: 4,
            index_bits_per_level: 12,
            entry_size: 8,
        };
        assert_eq!(full.validate(), Ok(()));
        assert!(full.contains(usize::MAX));
    }
}
