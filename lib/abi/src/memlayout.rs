//! JOS's virtual memory layout, shared by the kernel and user programs.
//!
//! Every address below is a `usize`. User programs, the upcall trampoline and
//! the graders depend on these exact values, so they are JOS's, unchanged.
//!
//! ```text
//! Virtual memory map:                                Permissions
//!                                                    kernel/user
//!
//!    4 Gig -------->  +------------------------------+
//!                     |                              | RW/--
//!                     ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
//!                     :              .               :
//!                     :              .               :
//!                     :              .               :
//!                     |~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~| RW/--
//!                     |                              | RW/--
//!                     |   Remapped Physical Memory   | RW/--
//!                     |                              | RW/--
//!    KERNBASE, ---->  +------------------------------+ 0xf0000000      --+
//!    KSTACKTOP        |     CPU0's Kernel Stack      | RW/--  KSTKSIZE   |
//!                     | - - - - - - - - - - - - - - -|                   |
//!                     |      Invalid Memory (*)      | --/--  KSTKGAP    |
//!                     +------------------------------+                   |
//!                     |     CPU1's Kernel Stack      | RW/--  KSTKSIZE   |
//!                     | - - - - - - - - - - - - - - -|                 PTSIZE
//!                     |      Invalid Memory (*)      | --/--  KSTKGAP    |
//!                     +------------------------------+                   |
//!                     :              .               :                   |
//!                     :              .               :                   |
//!    MMIOLIM ------>  +------------------------------+ 0xefc00000      --+
//!                     |       Memory-mapped I/O      | RW/--  PTSIZE
//! ULIM, MMIOBASE -->  +------------------------------+ 0xef800000
//!                     |  Cur. Page Table (User R-)   | R-/R-  PTSIZE
//!    UVPT      ---->  +------------------------------+ 0xef400000
//!                     |  the zero page (UZERO)       | R-/R-  PGSIZE
//!                     +  - - - - - - - - - - - - - - + 0xef3ff000
//!                     |          RO PAGES            | R-/R-  PTSIZE
//!    UPAGES    ---->  +------------------------------+ 0xef000000
//!                     |           RO ENVS            | R-/R-  PTSIZE
//! UTOP,UENVS ------>  +------------------------------+ 0xeec00000
//! UXSTACKTOP -/       |     User Exception Stack     | RW/RW  PGSIZE
//!                     +------------------------------+ 0xeebff000
//!                     |       Empty Memory (*)       | --/--  PGSIZE
//!    USTACKTOP  --->  +------------------------------+ 0xeebfe000
//!                     |      Normal User Stack       | RW/RW  PGSIZE
//!                     +------------------------------+ 0xeebfd000
//!                     |                              |
//!                     |                              |
//!                     ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
//!                     .                              .
//!                     .                              .
//!                     .                              .
//!                     |~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~|
//!                     |     Program Data & Heap      |
//!    UTEXT -------->  +------------------------------+ 0x00800000
//!    PFTEMP ------->  |       Empty Memory (*)       |        PTSIZE
//!                     |                              |
//!    UTEMP -------->  +------------------------------+ 0x00400000      --+
//!                     |       Empty Memory (*)       |                   |
//!                     | - - - - - - - - - - - - - - -|                   |
//!                     |  User STAB Data (optional)   |                 PTSIZE
//!    USTABDATA ---->  +------------------------------+ 0x00200000        |
//!                     |       Empty Memory (*)       |                   |
//!    0 ------------>  +------------------------------+                 --+
//!
//! (*) Note: The kernel ensures that "Invalid Memory" is *never* mapped.
//!     "Empty Memory" is normally unmapped, but user programs may map pages
//!     there if desired.  JOS user programs map pages temporarily at UTEMP.
//! ```
//!
//! Page 0 is never mapped, so null-pointer dereferences fault.

use crate::mmu::{PGSIZE, PTSIZE, pdx};

/// All of physical memory is mapped at this address in every address space.
pub const KERNBASE: usize = 0xF000_0000;

/// Top of CPU 0's kernel stack; CPU `i`'s stack top is [`kstacktop`]`(i)`.
pub const KSTACKTOP: usize = KERNBASE;
/// Size of one CPU's kernel stack (8 pages).
pub const KSTKSIZE: usize = 8 * PGSIZE;
/// Unmapped guard gap below each CPU's kernel stack (8 pages).
pub const KSTKGAP: usize = 8 * PGSIZE;

/// End (exclusive) of the memory-mapped I/O region.
pub const MMIOLIM: usize = 0xEFC0_0000;
/// Start of the memory-mapped I/O region (LAPIC and friends).
pub const MMIOBASE: usize = 0xEF80_0000;
/// Highest user-accessible address (exclusive); above it user has no access
/// at all, below it down to [`UTOP`] user has read-only access.
pub const ULIM: usize = MMIOBASE;

/// The current page table, mapped read-only for the user: the page directory
/// maps itself at this address (PDX 0x3BD). See [`crate::mmu::uvpt_pte_addr`].
pub const UVPT: usize = 0xEF40_0000;
/// The physical-page records ([`crate::env::PageInfo`]), read-only for the user.
pub const UPAGES: usize = 0xEF00_0000;
/// The environment array ([`crate::env::Env`]), read-only for the user.
pub const UENVS: usize = 0xEEC0_0000;
/// The shared zero page: one physical page of zeros, mapped read-only at
/// this address in every address space (the last page of the UPAGES
/// window). User code maps it elsewhere with `sys_page_map(0, UZERO, ...)`
/// wherever memory should read as zero until written.
pub const UZERO: usize = UPAGES + PTSIZE - PGSIZE;

/// Top of user-mappable memory (exclusive): user programs may map pages only
/// below this address.
pub const UTOP: usize = UENVS;
/// Top of the one-page user exception stack.
pub const UXSTACKTOP: usize = UTOP;
/// Top of the normal user stack; one unmapped guard page lies between it and
/// the exception stack.
pub const USTACKTOP: usize = 0xEEBF_E000;

/// Where user programs begin (they are linked at `UTEXT + 0x20`).
pub const UTEXT: usize = 0x0080_0000;
/// A scratch region for temporary user mappings.
pub const UTEMP: usize = 0x0040_0000;
/// The user page-fault handler's scratch page (just below [`UTEXT`]).
pub const PFTEMP: usize = UTEMP + PTSIZE - PGSIZE;

/// The file server's block cache: disk block n is mapped at
/// `DISKMAP + n * PGSIZE` in the server (JOS's fs/fs.h).
pub const DISKMAP: usize = 0x1000_0000;
/// The most disk the block cache can map (3 GiB), so the largest file
/// system.
pub const DISKSIZE: usize = 0xC000_0000;
/// Where the optional user debugging (STAB) data is mapped.
pub const USTABDATA: usize = PTSIZE / 2;

/// Physical address of the application-processor boot trampoline.
pub const MPENTRY_PADDR: usize = 0x7000;
/// Start of the legacy I/O hole in physical memory (VGA, BIOS ROMs).
pub const IOPHYSMEM: usize = 0x000A_0000;
/// Start of extended memory (the first byte above 1 MiB).
pub const EXTPHYSMEM: usize = 0x0010_0000;

/// Maximum number of CPUs the kernel supports.
pub const NCPU: usize = 8;

/// Returns the top of CPU `cpu`'s kernel stack:
/// `KSTACKTOP - cpu * (KSTKSIZE + KSTKGAP)`.
///
/// Never fails; `cpu` must be below [`NCPU`] for the result to be one of the
/// kernel's stacks (checked with a debug assertion).
pub const fn kstacktop(cpu: usize) -> usize {
    debug_assert!(cpu < NCPU);
    KSTACKTOP - cpu * (KSTKSIZE + KSTKGAP)
}

/// The CPU whose kernel-stack slot holds address `esp`: slot i is CPU i's
/// stack and the guard gap below it, the addresses in
/// (`kstacktop(i + 1)`, `kstacktop(i)`]. None outside every slot.
#[inline]
pub const fn kstack_cpu(esp: usize) -> Option<usize> {
    let slot = KSTKSIZE + KSTKGAP;
    if esp > KSTACKTOP || esp <= KSTACKTOP - NCPU * slot {
        return None;
    }
    Some((KSTACKTOP - esp) / slot)
}

// --- Compile-time checks of the layout ------------------------------------

// Everything must fit in a 32-bit address space.
const _: () = assert!(KERNBASE as u64 <= u32::MAX as u64);

// The regions stack up exactly as the diagram shows.
const _: () = assert!(MMIOLIM == KSTACKTOP - PTSIZE);
const _: () = assert!(MMIOBASE == MMIOLIM - PTSIZE);
const _: () = assert!(UVPT == ULIM - PTSIZE);
const _: () = assert!(UPAGES == UVPT - PTSIZE);
const _: () = assert!(UENVS == UPAGES - PTSIZE);
const _: () = assert!(USTACKTOP == UTOP - 2 * PGSIZE);
const _: () = assert!(PFTEMP == 0x007F_F000 && PFTEMP + PGSIZE == UTEXT);
const _: () = assert!(UTEXT == 2 * PTSIZE && UTEMP == PTSIZE);

// Strictly increasing from page 0 to the top.
const _: () = assert!(PGSIZE <= USTABDATA);
const _: () = assert!(USTABDATA < UTEMP && UTEMP < PFTEMP && PFTEMP < UTEXT);
const _: () = assert!(UTEXT < USTACKTOP && USTACKTOP < UXSTACKTOP);
const _: () = assert!(UTOP < UPAGES && UPAGES < UVPT && UVPT < ULIM);
const _: () = assert!(ULIM < MMIOLIM && MMIOLIM < KERNBASE);

// Exactly one unmapped guard page between the user stack and the exception stack.
const _: () = assert!(UXSTACKTOP - PGSIZE - USTACKTOP == PGSIZE);

// The recursive mapping needs a page-table-aligned slot: PDX 0x3BD.
const _: () = assert!(pdx(UVPT) == 0x3BD);
const _: () = assert!(
    KERNBASE.is_multiple_of(PTSIZE)
        && MMIOLIM.is_multiple_of(PTSIZE)
        && MMIOBASE.is_multiple_of(PTSIZE)
        && UVPT.is_multiple_of(PTSIZE)
        && UPAGES.is_multiple_of(PTSIZE)
        && UENVS.is_multiple_of(PTSIZE)
        && UTEXT.is_multiple_of(PTSIZE)
        && UTEMP.is_multiple_of(PTSIZE)
);
const _: () = assert!(USTACKTOP.is_multiple_of(PGSIZE) && PFTEMP.is_multiple_of(PGSIZE));

// All CPUs' kernel stacks fit between MMIOLIM and KSTACKTOP.
const _: () = assert!(NCPU * (KSTKSIZE + KSTKGAP) <= KSTACKTOP - MMIOLIM);

// Physical memory landmarks.
const _: () = assert!(MPENTRY_PADDR.is_multiple_of(PGSIZE) && MPENTRY_PADDR < IOPHYSMEM);
const _: () = assert!(IOPHYSMEM < EXTPHYSMEM && EXTPHYSMEM == 1 << 20);

// The PageInfo array (8 bytes per page of the kernel's at most 256 MiB)
// ends well below the zero page.
const _: () = assert!((0x1000_0000 / PGSIZE) * 8 <= UZERO - UPAGES);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kstack_cpu_finds_the_slot() {
        for cpu in 0..NCPU {
            let top = kstacktop(cpu);
            assert_eq!(kstack_cpu(top), Some(cpu));
            assert_eq!(kstack_cpu(top - 4), Some(cpu));
            assert_eq!(kstack_cpu(top - KSTKSIZE - 4), Some(cpu)); // in the gap
            assert_eq!(kstack_cpu(top - KSTKSIZE - KSTKGAP + 1), Some(cpu));
        }
        assert_eq!(kstack_cpu(KSTACKTOP + 4), None);
        assert_eq!(kstack_cpu(KSTACKTOP - NCPU * (KSTKSIZE + KSTKGAP)), None);
        assert_eq!(kstack_cpu(0), None);
    }

    #[test]
    fn kernel_stacks_are_separated_by_gaps() {
        assert_eq!(kstacktop(0), KSTACKTOP);
        assert_eq!(kstacktop(1), 0xEFFF_0000);
        for cpu in 1..NCPU {
            // The bottom of the previous stack minus the gap is this stack's top.
            assert_eq!(kstacktop(cpu - 1) - KSTKSIZE - KSTKGAP, kstacktop(cpu));
        }
        assert!(kstacktop(NCPU - 1) - KSTKSIZE >= MMIOLIM);
    }

    #[test]
    fn user_regions_match_jos() {
        assert_eq!(USTACKTOP, 0xEEBF_E000);
        assert_eq!(UXSTACKTOP - PGSIZE, 0xEEBF_F000);
        assert_eq!(PFTEMP, 0x007F_F000);
        assert_eq!(USTABDATA, 0x0020_0000);
        // The first instruction of a user program sits in the first text page.
        assert_eq!(pdx(UTEXT + 0x20), 2);
    }
}
