//! `malloc`, `free`, `realloc`, `calloc`, `memalign`, `posix_memalign` on
//! top of `sbrk`, and the global allocator behind `alloc` (Vec, Box,
//! String).
//!
//! The allocator itself is [talc](umalloc::talc) (size-binned free lists,
//! boundary tags, coalescing), with the C calls layered on it by the
//! `umalloc` crate (a header below each C block holds its size, since
//! `free` gets none; see there, with its host tests). talc was chosen by
//! measurement: `mallocbench` (a malloc/free/realloc workload timed with
//! rdtsc) ran it about 2.5x faster than linked_list_allocator and about
//! 4x faster than the first-fit allocator this file used to hold.
//!
//! What this file adds is where the memory comes from, [`SbrkSource`]:
//!
//! ```text
//!   talc runs out ----> SbrkSource::acquire
//!                         sbrk(n)            the lazy heap grows (whole pages)
//!                         populate(...)      ... and its new pages are mapped now
//!                         talc.extend/claim  ... and handed to talc
//!   malloc returns <---- prepare(block)      COW pages of the block made private
//! ```
//!
//! The heap (`super::heap`) maps pages on first touch, but a page fault
//! handler cannot return an error: out of memory there is a panic. So the
//! allocator never lets that happen to memory it hands out or writes:
//! every page it gives talc is mapped (present, private, writable) before
//! talc sees it, and every block is made present and private again before
//! it is returned ([`populate`]: after `fork` the heap's pages are
//! copy-on-write). Out of memory is then found here, and `malloc` returns
//! null. (talc's own writes to a copy-on-write page of the heap, after a
//! fork, still go through the COW handler, as any write would.)
//!
//! If someone else moved the break meanwhile (a direct `sbrk` call), their
//! bytes are left alone: the next growth starts a new talc heap above them
//! instead of extending the old one. The heap never shrinks back.
//!
//! One allocator per environment, in an `EnvCell`: a page-fault handler
//! that allocates while the program is inside `malloc` panics (re-entry)
//! rather than corrupt the heap. Handlers must not allocate. An `sfork`ed
//! child shares the allocator's data but not the heap pages touched later:
//! use `fork` with the heap.
use super::cow::make_private;
use super::heap::sbrk_mapped as sbrk;
use super::zero::is_zero_page;
use crate::cell::EnvCell;
use crate::syscall::sys_page_alloc;
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags, round_down, round_up};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use umalloc::talc::base::Talc;
use umalloc::talc::base::binning::Binning;
use umalloc::talc::source::Source;
use umalloc::{Backend, CAlloc};

pub use umalloc::MALLOC_ALIGN as ALIGN;

/// Bytes of slack asked of `sbrk` beyond the block talc wants (its tags
/// and alignment); growth is in whole pages anyway.
const SLACK: usize = 256;

/// Makes every page of [addr, addr + len) present, private and writable:
/// a page not mapped yet, or mapping the zero page, gets a fresh page; a
/// copy-on-write page (after fork) a private copy. Pages already done are
/// kept, even on error.
///
/// Err(NoMem) when out of memory, Err(Inval) if the range wraps around.
fn populate(addr: usize, len: usize) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let last = addr.checked_add(len - 1).ok_or(Error::Inval)?;
    let mut page = round_down(addr, PGSIZE);
    loop {
        match pte_of(page) {
            None => sys_page_alloc(0, page, PTE_RW)?,
            Some(pte) if is_zero_page(pte) => sys_page_alloc(0, page, PTE_RW)?,
            Some(pte) if pte.flags().contains(PteFlags::COW) => make_private(page, pte)?,
            Some(_) => {}
        }
        if last - page < PGSIZE {
            return Ok(());
        }
        page += PGSIZE;
    }
}

/// Where talc's memory comes from: the lazy heap, grown with `sbrk` and
/// mapped at once (see the module comment).
#[derive(Debug)]
pub struct SbrkSource {
    /// The end of the talc heap we grew last (0: none yet).
    heap_end: usize,
    /// The break as we left it: if it moved since, someone else took the
    /// bytes in between.
    brk: usize,
}

// SAFETY: `acquire` uses only `talc`, `sbrk` and system calls; it never
// allocates (no alloc types, no formatting into a String).
unsafe impl Source for SbrkSource {
    fn acquire<B: Binning>(
        talc: &mut Talc<Self, B>,
        layout: Layout,
    ) -> core::result::Result<(), ()> {
        grow(talc, layout).map_err(|_| ())
    }
}

impl Backend for SbrkSource {
    fn prepare(&mut self, addr: usize, len: usize) -> bool {
        populate(addr, len).is_ok()
    }
}

/// Grows the heap by whole pages for a block of `layout`: moves the
/// break, maps the new pages, and gives them to talc (extending its last
/// heap, or as a new heap if the break moved under us).
///
/// Err(NoMem) if the heap cannot grow (its limit, out of memory for the
/// pages, a size that does not fit); the break is then as it was.
fn grow<B: Binning>(talc: &mut Talc<SbrkSource, B>, layout: Layout) -> Result<()> {
    let meta = if talc.is_metadata_established() {
        0
    } else {
        umalloc::talc::min_first_heap_size::<B>()
    };
    let want = layout
        .size()
        .checked_add(layout.align())
        .and_then(|n| n.checked_add(SLACK + meta))
        .ok_or(Error::NoMem)?;
    let brk = sbrk(0)?;
    let new_brk = brk
        .checked_add(want)
        .and_then(|e| round_up(e, PGSIZE))
        .ok_or(Error::NoMem)?;
    let n = new_brk - brk;
    let step = isize::try_from(n).map_err(|_| Error::NoMem)?;
    sbrk(step)?;
    if let Err(e) = populate(brk, n) {
        let _ = sbrk(-step);
        return Err(e);
    }
    let src = &talc.source;
    let heap_end = NonNull::new(src.heap_end as *mut u8).filter(|_| src.brk == brk);
    // SAFETY: [brk, new_brk) was just added to the heap by sbrk (which
    // hands out each byte once) and mapped writable; talc owns it from now
    // on, as it owns the heap it extends (heap_end is what it returned).
    let end = unsafe {
        match heap_end {
            Some(end) => talc.extend(end, new_brk as *mut u8),
            None => match talc.claim(brk as *mut u8, n) {
                Some(end) => end,
                None => {
                    let _ = sbrk(-step);
                    return Err(Error::NoMem);
                }
            },
        }
    };
    talc.source.heap_end = end.as_ptr() as usize;
    talc.source.brk = new_brk;
    Ok(())
}

/// The allocator of this environment.
static ALLOC: EnvCell<CAlloc<SbrkSource>> = EnvCell::new(CAlloc::new(SbrkSource {
    heap_end: 0,
    brk: 0,
}));

/// What [`heap_check`] counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Blocks in use (C and Rust ones).
    pub used_blocks: usize,
    /// Their bytes (C headers included).
    pub used_bytes: usize,
    /// Free chunks.
    pub free_blocks: usize,
    /// Their bytes.
    pub free_bytes: usize,
    /// talc heaps: 1, plus one for each time someone else moved the break
    /// between two growths.
    pub heaps: usize,
}

/// Allocates `size` bytes (8-aligned, contents undefined) and returns
/// them, every page present; `malloc(0)` returns a unique pointer too.
/// Returns null when the heap cannot grow (out of memory or at its limit)
/// or for a size that does not fit in the address space.
pub fn malloc(size: usize) -> *mut u8 {
    ALLOC.with(|a| a.malloc(size))
}

/// Allocates `n * size` zeroed bytes and returns them. Returns null when
/// `n * size` overflows or the heap cannot grow.
pub fn calloc(n: usize, size: usize) -> *mut u8 {
    ALLOC.with(|a| a.calloc(n, size))
}

/// Frees a block from `malloc`, `calloc`, `realloc`, `memalign` or
/// `posix_memalign`; a null `ptr` is ignored. Cannot fail.
///
/// Panics if `ptr` does not look like an allocated block (e.g. a double
/// free), though not every bad pointer is caught.
///
/// # Safety
/// `ptr` must be null or a block from this allocator not freed yet, and
/// nothing may use the block afterwards.
pub unsafe fn free(ptr: *mut u8) {
    // SAFETY: forwarded.
    ALLOC.with(|a| unsafe { a.free(ptr) });
}

/// Resizes block `ptr` to `size` bytes, keeping its contents up to the
/// smaller size (and its alignment), in place when it can; returns the
/// (possibly moved) block, every page present. `realloc(null, n)` is
/// `malloc(n)`; `realloc(p, 0)` frees `p` and returns null.
///
/// Returns null when out of memory; `ptr` is then left as it was.
///
/// # Safety
/// As for [`free`]: `ptr` must be null or a live block from this allocator;
/// after a non-null return, only the returned pointer may be used.
pub unsafe fn realloc(ptr: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: forwarded.
    ALLOC.with(|a| unsafe { a.realloc(ptr, size) })
}

/// Allocates `size` bytes aligned to `align` (a power of two) and returns
/// them. Returns null when out of memory or `align` is not a power of two.
pub fn memalign(align: usize, size: usize) -> *mut u8 {
    ALLOC.with(|a| a.memalign(align, size))
}

/// POSIX's `posix_memalign`: allocates `size` bytes aligned to `alignment`
/// and stores them in `*memptr`. Free them with [`free`].
///
/// Err(Inval) if `alignment` is not a power of two multiple of the
/// pointer size, Err(NoMem) when out of memory; `*memptr` is then
/// unchanged.
pub fn posix_memalign(memptr: &mut *mut u8, alignment: usize, size: usize) -> Result<()> {
    ALLOC.with(|a| a.posix_memalign(memptr, alignment, size))
}

/// Returns the allocator's counts after checking what can be checked
/// (the bytes add up; with nothing in use, every heap is one free chunk).
/// Err names the first broken invariant.
pub fn heap_check() -> core::result::Result<HeapStats, &'static str> {
    ALLOC.with(|a| a.check()).map(|st| HeapStats {
        used_blocks: st.used_blocks,
        used_bytes: st.used_bytes,
        free_blocks: st.free_blocks,
        free_bytes: st.free_bytes,
        heaps: st.heaps,
    })
}

/// The global allocator: Rust's `alloc` (Vec, Box, String) on the same
/// talc heap as [`malloc`] (no header: Rust passes the layout back). A
/// failed allocation returns null, and Rust's allocation error handler
/// then panics with `memory allocation of N bytes failed`.
pub struct JosAllocator;

// SAFETY: blocks come from talc, which hands out disjoint memory of at
// least the layout's size and alignment, and moves a live block only in
// realloc, by copying it.
unsafe impl GlobalAlloc for JosAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOC.with(|a| a.alloc_layout(layout))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator handed out, with
        // its layout.
        ALLOC.with(|a| unsafe { a.dealloc_layout(ptr, layout) });
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc::realloc's contract is realloc_layout's.
        ALLOC.with(|a| unsafe { a.realloc_layout(ptr, layout, new_size) })
    }
}

/// Every user program allocates through [`JosAllocator`].
#[global_allocator]
static GLOBAL: JosAllocator = JosAllocator;
