//! i386 two-level paging: address decomposition, page-table entries, the
//! page-fault error code and the UVPT recursive-mapping formulas.
//!
//! A linear address is split into a page-directory index, a page-table index
//! and an offset within the page:
//!
//! ```text
//! +--------10------+-------10-------+---------12----------+
//! | Page Directory |   Page Table   | Offset within Page  |
//! |      Index     |      Index     |                     |
//! +----------------+----------------+---------------------+
//!  \--- pdx(la) --/ \--- ptx(la) --/ \---- pgoff(la) ----/
//!  \---------- pgnum(la) ----------/
//! ```
//!
//! [`pgaddr`] puts the three parts back together.

use crate::memlayout::UVPT;
use core::fmt;

/// Bytes mapped by one page.
pub const PGSIZE: usize = 4096;
/// log2(PGSIZE).
pub const PGSHIFT: u32 = 12;
/// Bytes mapped by one page-directory entry (one page table): 4 MiB.
pub const PTSIZE: usize = PGSIZE * NPTENTRIES;
/// log2(PTSIZE).
pub const PTSHIFT: u32 = 22;
/// Offset of the page-table index in a linear address.
pub const PTXSHIFT: u32 = 12;
/// Offset of the page-directory index in a linear address.
pub const PDXSHIFT: u32 = 22;
/// Entries in a page directory.
pub const NPDENTRIES: usize = 1024;
/// Entries in a page table.
pub const NPTENTRIES: usize = 1024;

const _: () = assert!(PGSIZE == 1 << PGSHIFT && PTSIZE == 1 << PTSHIFT);
const _: () = assert!(PTSIZE == 4 << 20);
const _: () = assert!(NPDENTRIES * 4 == PGSIZE && NPTENTRIES * 4 == PGSIZE);

/// Returns the page-directory index of linear address `va` (bits 31..22).
pub const fn pdx(va: usize) -> usize {
    (va >> PDXSHIFT) & 0x3FF
}

/// Returns the page-table index of linear address `va` (bits 21..12).
pub const fn ptx(va: usize) -> usize {
    (va >> PTXSHIFT) & 0x3FF
}

/// Returns the offset of `va` within its page (bits 11..0).
pub const fn pgoff(va: usize) -> usize {
    va & (PGSIZE - 1)
}

/// Returns the page number of an address: `pa >> PGSHIFT` (the page-directory
/// and page-table indices together, for a linear address).
pub const fn pgnum(pa: usize) -> usize {
    pa >> PGSHIFT
}

/// Builds a linear address from a page-directory index `d`, a page-table
/// index `t` and an offset `o`: the inverse of [`pdx`], [`ptx`] and [`pgoff`].
///
/// Never fails; out-of-range parts (d or t >= 1024, o >= PGSIZE) are a caller
/// bug, caught by a debug assertion.
pub const fn pgaddr(d: usize, t: usize, o: usize) -> usize {
    debug_assert!(d < NPDENTRIES && t < NPTENTRIES && o < PGSIZE);
    (d << PDXSHIFT) | (t << PTXSHIFT) | o
}

/// Rounds `a` down to the nearest multiple of `n` (JOS's `ROUNDDOWN`).
///
/// `n` need not be a power of two. Cannot overflow; panics if `n` is 0.
pub const fn round_down(a: usize, n: usize) -> usize {
    a - a % n
}

/// Rounds `a` up to the nearest multiple of `n` (JOS's `ROUNDUP`).
///
/// `n` need not be a power of two. Returns `None` if the result does not fit
/// in a `usize` (e.g. `round_up(usize::MAX, PGSIZE)`), where JOS's C macro
/// would silently wrap to 0. Panics if `n` is 0.
pub const fn round_up(a: usize, n: usize) -> Option<usize> {
    let r = a % n;
    if r == 0 {
        Some(a)
    } else {
        a.checked_add(n - r)
    }
}

/// The parts of the range [start, end) that lie before, inside and after
/// the range [lo, hi) (each a `(start, end)` pair, None when empty): how
/// `munmap` and `mprotect` cut a mapping.
///
/// ```text
///   start        lo              hi         end
///     |  before   |    inside     |  after   |
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeSplit {
    /// [start, lo), if not empty.
    pub before: Option<(usize, usize)>,
    /// The overlap of the two ranges, if not empty.
    pub inside: Option<(usize, usize)>,
    /// [hi, end), if not empty.
    pub after: Option<(usize, usize)>,
}

impl RangeSplit {
    /// How many pieces of [start, end) are left once `inside` is cut out
    /// (0, 1 or 2).
    pub fn outside_pieces(&self) -> usize {
        self.before.is_some() as usize + self.after.is_some() as usize
    }
}

/// Cuts [start, end) at `lo` and `hi` (see [`RangeSplit`]). An empty
/// range, or one that misses [lo, hi), is all `before` or `after` (or
/// nothing), with `inside` None. Cannot fail.
pub fn split_range(start: usize, end: usize, lo: usize, hi: usize) -> RangeSplit {
    let part = |a: usize, b: usize| (a < b).then_some((a, b));
    let (in_lo, in_hi) = (start.max(lo), end.min(hi));
    if in_lo >= in_hi {
        let whole = part(start, end);
        return if end <= lo {
            RangeSplit {
                before: whole,
                inside: None,
                after: None,
            }
        } else {
            RangeSplit {
                before: None,
                inside: None,
                after: whole,
            }
        };
    }
    RangeSplit {
        before: part(start, in_lo),
        inside: Some((in_lo, in_hi)),
        after: part(in_hi, end),
    }
}

bitflags::bitflags! {
    /// The flag bits (low 12 bits) of a page-table or page-directory entry.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PteFlags: u32 {
        /// Present.
        const P = 0x001;
        /// Writeable.
        const W = 0x002;
        /// User-accessible.
        const U = 0x004;
        /// Write-through caching.
        const PWT = 0x008;
        /// Cache disable.
        const PCD = 0x010;
        /// Accessed (set by the hardware).
        const A = 0x020;
        /// Dirty (set by the hardware).
        const D = 0x040;
        /// Page size: a 4 MiB page (in a page-directory entry).
        const PS = 0x080;
        /// Global: not flushed from the TLB on a CR3 reload.
        const G = 0x100;
        /// Software bit: the page is shared: `fork` maps it into the child
        /// as-is (not copy-on-write).
        const SHARE = 0x400;
        /// Software bit: the page is copy-on-write.
        const COW = 0x800;
        /// The three bits the hardware leaves to software (bits 9..11).
        const AVAIL = 0xE00;
        /// The bits a user may pass to `sys_page_alloc` and `sys_page_map`:
        /// `AVAIL | P | W | U`.
        const SYSCALL = Self::AVAIL.bits() | Self::P.bits() | Self::W.bits() | Self::U.bits();
    }
}

/// Permissions of a private, writable user page: `P | U | W`. What
/// `sys_page_alloc` gets for ordinary memory, and what a copy-on-write page
/// becomes once it is private.
pub const PTE_RW: PteFlags = PteFlags::P.union(PteFlags::U).union(PteFlags::W);

const _: () = assert!(PteFlags::SHARE.bits() & !PteFlags::AVAIL.bits() == 0);
const _: () = assert!(PteFlags::COW.bits() & !PteFlags::AVAIL.bits() == 0);
const _: () = assert!(PteFlags::SYSCALL.bits() == 0xE07);

/// Mask of the address part of an entry (bits 31..12).
const PTE_ADDR_MASK: u32 = !0xFFF;

/// A page-table entry (or, as [`Pde`], a page-directory entry): a
/// page-aligned physical address in bits 31..12 and [`PteFlags`] in 11..0.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pte(u32);

/// A page-directory entry has the same format as a page-table entry (with
/// [`PteFlags::PS`] meaning a 4 MiB page).
pub type Pde = Pte;

impl Pte {
    /// Returns the all-zero entry (not present).
    pub const fn empty() -> Self {
        Pte(0)
    }

    /// Returns an entry mapping the page at physical address `pa` with
    /// `flags`.
    ///
    /// Never fails. `pa` must be page-aligned and below 4 GiB (debug
    /// assertion); only the low 12 bits of `flags` are used.
    pub const fn new(pa: usize, flags: PteFlags) -> Self {
        debug_assert!(
            pgoff(pa) == 0,
            "Pte::new: physical address not page-aligned"
        );
        debug_assert!(
            pa as u64 <= u32::MAX as u64,
            "Pte::new: physical address above 4 GiB"
        );
        Pte((pa as u32 & PTE_ADDR_MASK) | (flags.bits() & !PTE_ADDR_MASK))
    }

    /// Returns the physical address the entry points to (JOS's `PTE_ADDR`).
    pub const fn addr(self) -> usize {
        (self.0 & PTE_ADDR_MASK) as usize
    }

    /// Returns the flag bits of the entry.
    pub const fn flags(self) -> PteFlags {
        PteFlags::from_bits_retain(self.0 & !PTE_ADDR_MASK)
    }

    /// Returns whether the present bit is set.
    pub const fn is_present(self) -> bool {
        self.0 & PteFlags::P.bits() != 0
    }

    /// Returns the raw 32-bit value, as the hardware sees it.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// Wraps a raw 32-bit entry value (e.g. one read through UVPT).
    pub const fn from_raw(raw: u32) -> Self {
        Pte(raw)
    }
}

impl fmt::Debug for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pte")
            .field("addr", &format_args!("{:#010x}", self.addr()))
            .field("flags", &self.flags())
            .finish()
    }
}

/// Page-fault error code bit: the fault was a protection violation (set) or
/// caused by a not-present page (clear).
pub const FEC_PR: u32 = 0x1;
/// Page-fault error code bit: the faulting access was a write.
pub const FEC_WR: u32 = 0x2;
/// Page-fault error code bit: the fault happened in user mode.
pub const FEC_U: u32 = 0x4;
/// Not a page-fault bit: set in a UTrapframe's `utf_err` when the upcall is
/// for a debug trap (the single step an env asked for by setting the trap
/// flag), not a page fault. `utf_fault_va` is then the EIP reached.
pub const FEC_DEBUG: u32 = 0x8000_0000;
/// Not a page-fault bit: set in a UTrapframe's `utf_err` for a fault on a
/// page the env's pager declined for want of memory ([`PAGER_NOMEM`]):
/// giving up some memory and retrying is the cure.
///
/// [`PAGER_NOMEM`]: crate::env::PAGER_NOMEM
pub const FEC_NOMEM: u32 = 0x4000_0000;

/// Where the page directory appears in the UVPT window: since the directory
/// is its own page table for the slot `pdx(UVPT)`, the "page table" for
/// `UVPT` itself is the directory. `UVPD = UVPT + (UVPT >> 12) * 4`.
pub const UVPD: usize = UVPT + pgnum(UVPT) * 4;

const _: () = assert!(UVPD == 0xEF7B_D000);

/// Returns the address, in the UVPT window, of the page-table entry that
/// maps `va` in the current address space: `UVPT + pgnum(va) * 4` (JOS's
/// `&uvpt[PGNUM(va)]`).
///
/// Never fails, but the entry is readable only if the page table covering
/// `va` exists, i.e. the PDE at [`uvpd_pde_addr`]`(va)` is present.
pub const fn uvpt_pte_addr(va: usize) -> usize {
    UVPT + pgnum(va) * 4
}

/// Returns the address, in the UVPT window, of the page-directory entry for
/// `va`: `UVPD + pdx(va) * 4` (JOS's `&uvpd[PDX(va)]`).
///
/// Never fails; the page directory is always mapped there.
pub const fn uvpd_pde_addr(va: usize) -> usize {
    UVPD + pdx(va) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memlayout::*;

    #[test]
    fn split_range_cuts() {
        let p = PGSIZE;
        // The middle page of three: a piece on each side.
        let s = split_range(0, 3 * p, p, 2 * p);
        assert_eq!(s.before, Some((0, p)));
        assert_eq!(s.inside, Some((p, 2 * p)));
        assert_eq!(s.after, Some((2 * p, 3 * p)));
        assert_eq!(s.outside_pieces(), 2);
        // A cut covering the whole range, and more: nothing outside.
        let s = split_range(p, 2 * p, 0, 4 * p);
        assert_eq!(
            (s.before, s.inside, s.after),
            (None, Some((p, 2 * p)), None)
        );
        assert_eq!(s.outside_pieces(), 0);
        // Either end.
        assert_eq!(split_range(0, 3 * p, 0, p).before, None);
        assert_eq!(split_range(0, 3 * p, 0, p).after, Some((p, 3 * p)));
        assert_eq!(split_range(0, 3 * p, 2 * p, 9 * p).before, Some((0, 2 * p)));
        assert_eq!(split_range(0, 3 * p, 2 * p, 9 * p).after, None);
        // Missing it, on either side, or touching it: not inside at all.
        let below = split_range(0, p, p, 2 * p);
        assert_eq!(
            (below.before, below.inside, below.after),
            (Some((0, p)), None, None)
        );
        let above = split_range(3 * p, 4 * p, p, 3 * p);
        assert_eq!(
            (above.before, above.inside, above.after),
            (None, None, Some((3 * p, 4 * p)))
        );
        // An empty cut inside: nothing inside, the range is one piece.
        let empty = split_range(0, 3 * p, p, p);
        assert_eq!(empty.inside, None);
        // Near the top of the address space: no overflow.
        let top = split_range(usize::MAX - 2 * p, usize::MAX, usize::MAX - p, usize::MAX);
        assert_eq!(top.inside, Some((usize::MAX - p, usize::MAX)));
    }

    #[test]
    fn split_and_rebuild_addresses() {
        let va = 0xEEBF_DFC0;
        assert_eq!(pdx(va), 0x3BA);
        assert_eq!(ptx(va), 0x3FD);
        assert_eq!(pgoff(va), 0xFC0);
        assert_eq!(pgnum(va), 0xEEBFD);
        assert_eq!(pgaddr(pdx(va), ptx(va), pgoff(va)), va);
        assert_eq!(pdx(UTEXT + 0x20), 2);
        assert_eq!(ptx(UTEXT + 0x20), 0);
        assert_eq!(pdx(KERNBASE), 0x3C0);
    }

    #[test]
    fn pgaddr_round_trips_at_the_corners() {
        for &(d, t, o) in &[
            (0, 0, 0),
            (0x3FF, 0x3FF, 0xFFF),
            (1, 0, 0),
            (0, 1, 0),
            (0x3BD, 0x3BD, 0),
        ] {
            let va = pgaddr(d, t, o);
            assert_eq!((pdx(va), ptx(va), pgoff(va)), (d, t, o));
        }
        assert_eq!(pgaddr(0x3FF, 0x3FF, 0xFFF), 0xFFFF_FFFF);
        // pgnum covers both indices.
        let va = pgaddr(0x123, 0x2AB, 0x7);
        assert_eq!(pgnum(va), (0x123 << 10) | 0x2AB);
    }

    #[test]
    fn round_down_cases() {
        assert_eq!(round_down(0, PGSIZE), 0);
        assert_eq!(round_down(PGSIZE - 1, PGSIZE), 0);
        assert_eq!(round_down(PGSIZE, PGSIZE), PGSIZE);
        assert_eq!(round_down(0x12345, PGSIZE), 0x12000);
        assert_eq!(round_down(usize::MAX, PGSIZE), usize::MAX - (PGSIZE - 1));
        // Not a power of two.
        assert_eq!(round_down(17, 5), 15);
        assert_eq!(round_down(usize::MAX, 1), usize::MAX);
    }

    #[test]
    #[should_panic]
    fn round_down_by_zero_panics() {
        let n = core::hint::black_box(0);
        let _ = round_down(5, n);
    }

    #[test]
    fn round_up_cases() {
        assert_eq!(round_up(0, PGSIZE), Some(0));
        assert_eq!(round_up(1, PGSIZE), Some(PGSIZE));
        assert_eq!(round_up(PGSIZE, PGSIZE), Some(PGSIZE));
        assert_eq!(round_up(PGSIZE + 1, PGSIZE), Some(2 * PGSIZE));
        assert_eq!(round_up(17, 5), Some(20));
        assert_eq!(round_up(20, 5), Some(20));
    }

    #[test]
    fn round_up_overflow_is_none() {
        assert_eq!(round_up(usize::MAX, PGSIZE), None);
        let top_page = usize::MAX - (PGSIZE - 1);
        assert_eq!(round_up(top_page, PGSIZE), Some(top_page));
        assert_eq!(round_up(top_page + 1, PGSIZE), None);
        assert_eq!(round_up(usize::MAX, 1), Some(usize::MAX));
        // usize::MAX is a multiple of itself; one past zero is not representable.
        assert_eq!(round_up(usize::MAX, usize::MAX), Some(usize::MAX));
        assert_eq!(round_up(1, usize::MAX), Some(usize::MAX));
        assert_eq!(
            round_up(usize::MAX - 1, usize::MAX - 1),
            Some(usize::MAX - 1)
        );
        assert_eq!(round_up(usize::MAX, usize::MAX - 1), None);
    }

    #[test]
    fn pte_new_addr_flags() {
        let pte = Pte::new(0x0012_3000, PteFlags::P | PteFlags::W | PteFlags::U);
        assert_eq!(pte.raw(), 0x0012_3007);
        assert_eq!(pte.addr(), 0x0012_3000);
        assert_eq!(pte.flags(), PteFlags::P | PteFlags::W | PteFlags::U);
        assert!(pte.is_present());
        assert_eq!(Pte::from_raw(pte.raw()), pte);

        let top = Pte::new(0xFFFF_F000, PteFlags::P | PteFlags::COW);
        assert_eq!(top.addr(), 0xFFFF_F000);
        assert_eq!(top.raw(), 0xFFFF_F801);
    }

    #[test]
    fn empty_and_not_present_entries() {
        assert_eq!(Pte::empty().raw(), 0);
        assert!(!Pte::empty().is_present());
        assert_eq!(Pte::default(), Pte::empty());
        // An entry can keep its address and software bits while not present.
        let swapped = Pte::new(0x5000, PteFlags::COW);
        assert!(!swapped.is_present());
        assert_eq!(swapped.addr(), 0x5000);
        assert!(swapped.flags().contains(PteFlags::COW));
    }

    #[test]
    fn pte_from_raw_splits_every_bit() {
        let pte = Pte::from_raw(0xDEAD_BFFF);
        assert_eq!(pte.addr(), 0xDEAD_B000);
        assert_eq!(pte.flags().bits(), 0xFFF);
        assert!(pte.flags().contains(PteFlags::all()));
        // Every one of the low 12 bits is a named flag (bit 9 via AVAIL).
        assert_eq!(PteFlags::all().bits(), 0xFFF);
    }

    #[test]
    fn software_bits() {
        assert!(PteFlags::AVAIL.contains(PteFlags::COW));
        assert!(PteFlags::AVAIL.contains(PteFlags::SHARE));
        assert!(!PteFlags::COW.intersects(PteFlags::SHARE));
        assert_eq!(PteFlags::COW.bits(), 0x800);
        assert_eq!(PteFlags::SHARE.bits(), 0x400);
        assert!(
            PteFlags::SYSCALL.contains(
                PteFlags::COW | PteFlags::SHARE | PteFlags::P | PteFlags::W | PteFlags::U
            )
        );
        // A user may not ask for hardware-managed or caching bits.
        for bad in [
            PteFlags::PWT,
            PteFlags::PCD,
            PteFlags::A,
            PteFlags::D,
            PteFlags::PS,
            PteFlags::G,
        ] {
            assert!(!PteFlags::SYSCALL.intersects(bad), "{bad:?}");
        }
        // Checking user-supplied permissions the way sys_page_alloc does.
        let ok = PteFlags::from_bits_retain(0x807);
        assert!(PteFlags::SYSCALL.contains(ok));
        let bad = PteFlags::from_bits_retain(0x1007);
        assert!(!PteFlags::SYSCALL.contains(bad));
    }

    #[test]
    fn pte_debug_is_readable() {
        let s = format!("{:?}", Pte::new(0x7000, PteFlags::P | PteFlags::U));
        assert!(s.contains("0x00007000"), "{s}");
        assert!(s.contains('P') && s.contains('U'), "{s}");
    }

    #[test]
    fn page_fault_error_bits() {
        assert_eq!(FEC_PR | FEC_WR | FEC_U, 0x7);
        // console.md's example: err 4 is a user read of a not-present page.
        let err = 4;
        assert!(err & FEC_U != 0 && err & FEC_WR == 0 && err & FEC_PR == 0);
    }

    #[test]
    fn uvpt_formulas() {
        assert_eq!(UVPD, 0xEF7B_D000);
        assert_eq!(uvpd_pde_addr(UVPT), 0xEF7B_DEF4);
        // The PTE "mapping" UVPT's own page table is the directory: the PTE
        // address for UVPT lands at the start of the UVPD page, and the PTE
        // for UVPD is the directory's self-referencing entry.
        assert_eq!(uvpt_pte_addr(UVPT), UVPD);
        assert_eq!(uvpt_pte_addr(UVPD), uvpd_pde_addr(UVPT));
        // The whole UVPT window is 4 MiB of PTEs, one per page of the 4 GiB space.
        assert_eq!(uvpt_pte_addr(0), UVPT);
        assert_eq!(uvpt_pte_addr(0xFFFF_FFFF), UVPT + PTSIZE - 4);
        assert_eq!(uvpd_pde_addr(0), UVPD);
        assert_eq!(uvpd_pde_addr(0xFFFF_FFFF), UVPD + PGSIZE - 4);
        // Addresses within one page share a PTE; 4 MiB apart share a PTE slot index.
        assert_eq!(uvpt_pte_addr(UTEXT), uvpt_pte_addr(UTEXT + PGSIZE - 1));
        assert_eq!(uvpt_pte_addr(UTEXT + PGSIZE), uvpt_pte_addr(UTEXT) + 4);
        assert_eq!(uvpt_pte_addr(USTACKTOP - PGSIZE), 0xEF7B_AFF4);
        // Both are inside the read-only user window below ULIM.
        for va in [
            0,
            UTEXT,
            USTACKTOP - 1,
            UTOP,
            KERNBASE,
            usize::MAX & 0xFFFF_FFFF,
        ] {
            assert!((UVPT..ULIM).contains(&uvpt_pte_addr(va)));
            assert!((UVPD..UVPD + PGSIZE).contains(&uvpd_pde_addr(va)));
        }
    }
}
