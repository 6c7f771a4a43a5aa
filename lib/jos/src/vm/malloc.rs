//! `malloc`, `free`, `realloc`, `calloc`, `posix_memalign` on top of
//! `sbrk`, and the global allocator behind `alloc` (Vec, Box, String).
//!
//! A first-fit allocator with boundary tags and an explicit free list, as
//! in CS:APP's malloc lab: plain and easy to check, not fast.
//!
//! ## Blocks
//!
//! The heap is a sequence of blocks. Each begins with a header word and
//! ends with a footer word, both holding the block's size (a multiple of 8,
//! header and footer included) with bit 0 set when the block is in use. A
//! pointer handed out is the payload's address (`bp`, 8-aligned):
//!
//! ```text
//!          used block                     free block
//!   bp-4  +---------------+        bp-4  +---------------+
//!         | size | 1      | header       | size | 0      | header
//!   bp -> +---------------+        bp -> +---------------+
//!         | payload       |              | next free bp  |
//!         |  ...          |              | prev free bp  |
//!         |               |              |  (unused)     |
//!         +---------------+              +---------------+
//!         | size | 1      | footer       | size | 0      | footer
//!         +---------------+              +---------------+
//! ```
//!
//! The footer lets `free` find the block before this one (`bp - 8` is its
//! footer), so a freed block merges with free neighbours on both sides at
//! once ("coalescing"): two free blocks are never adjacent. Free blocks
//! are linked through their first two payload words into one list (the
//! newest first); `malloc` takes the first block on it that is big
//! enough, splitting off the rest when that is at least a minimal block.
//!
//! The heap starts with a used 8-byte "prologue" block and ends with a
//! used, size-0 "epilogue" header, so the first and last blocks need no
//! special cases. When no free block fits, the heap grows by `sbrk`: the
//! old epilogue becomes the header of the new free block. If someone else
//! moved the break meanwhile (a direct `sbrk` call), their bytes are
//! wrapped in a used "fence" block that is never freed.
//!
//! Pages of the heap appear on first touch (`super::heap`): growing the
//! heap by a large chunk costs nothing until the memory is used. But the
//! allocator never touches a page it did not make present first
//! ([`populate`]), and `malloc` makes the whole block it returns present:
//! a page fault handler cannot return an error, so out of memory must be
//! found here, where `malloc` can return null. (Invariant: the header,
//! footer and links of every free block, and all of every used block, are
//! present and writable.) Sizes near 4 GiB are refused with checked
//! arithmetic, never wrapped.
//!
//! Environments are single-threaded, so there is no lock. Page-fault
//! handlers must not allocate (they may run in the middle of `malloc`),
//! and an `sfork`ed child shares the allocator's data but not the heap
//! pages touched later: use `fork` with the heap.
use super::heap::sbrk;
use super::zero::is_zero_page;
use crate::fork::cow_make_private;
use crate::syscall::sys_page_alloc;
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags, round_down};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::null_mut;

/// Bytes in a header, a footer or a free-list link.
const WORD: usize = size_of::<usize>();
/// Every payload is aligned to this (and every block size a multiple).
pub const ALIGN: usize = 2 * WORD;
/// Header plus footer.
const OVERHEAD: usize = 2 * WORD;
/// The smallest block: header, two links (when free), footer.
const MIN_BLOCK: usize = 4 * WORD;
/// The heap grows by at least this much at a time.
const CHUNK: usize = 16 * PGSIZE;
/// The in-use bit in a header or footer.
const USED: usize = 1;

/// The allocator's state.
struct Allocator {
    /// Set up (the prologue and epilogue exist).
    ready: bool,
    /// The first block on the free list (its `bp`), or 0.
    free_list: usize,
    /// The first block after the prologue (its `bp`).
    first: usize,
    /// The address of the epilogue header.
    epilogue: usize,
}

static mut ALLOC: Allocator = Allocator {
    ready: false,
    free_list: 0,
    first: 0,
    epilogue: 0,
};

/// Runs `f` on the allocator.
fn with_alloc<R>(f: impl FnOnce(&mut Allocator) -> R) -> R {
    let ptr = &raw mut ALLOC;
    // SAFETY: environments are single-threaded and page-fault handlers do
    // not allocate, so this is the only reference to ALLOC while `f` runs.
    let a = unsafe { &mut *ptr };
    f(a)
}

/// The block size that holds `size` payload bytes: with header and footer,
/// rounded up to ALIGN, at least MIN_BLOCK. None if that overflows.
fn block_size(size: usize) -> Option<usize> {
    let s = size.checked_add(OVERHEAD + ALIGN - 1)?;
    Some((s & !(ALIGN - 1)).max(MIN_BLOCK))
}

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
            Some(pte) if pte.flags().contains(PteFlags::COW) => cow_make_private(page, pte)?,
            Some(_) => {}
        }
        if last - page < PGSIZE {
            return Ok(());
        }
        page += PGSIZE;
    }
}

/// How [`Allocator::extend`] grows a heap whose epilogue header is at `e`
/// and whose break is `brk` (>= e + WORD) for a block of `asize` bytes:
/// returns (fence, size, need), the bytes of the fence block wrapping what
/// someone else took with sbrk (0 if nothing), of the new free block (at
/// least CHUNK, whole pages), and how far the break must move. None if
/// any of it overflows the address space.
fn grow_plan(e: usize, brk: usize, asize: usize) -> Option<(usize, usize, usize)> {
    let size = asize.max(CHUNK).checked_next_multiple_of(PGSIZE)?;
    let fence = if brk == e + WORD {
        0
    } else {
        (brk - e + WORD).checked_next_multiple_of(ALIGN)?
    };
    let end = e.checked_add(fence)?.checked_add(size)?.checked_add(WORD)?;
    Some((fence, size, end - brk))
}

// ---------------------------------------------------------------------
// Words and blocks. `bp` is always a block's payload address.

/// Reads the word at `addr`.
///
/// # Safety
/// `addr` must be an aligned word of the heap, below the break.
unsafe fn get(addr: usize) -> usize {
    // SAFETY: the caller's promise.
    unsafe { (addr as *const usize).read() }
}

/// Writes the word at `addr`.
///
/// # Safety
/// As for [`get`], and the word must belong to the allocator (a header,
/// footer or link), not to a payload someone holds.
unsafe fn put(addr: usize, value: usize) {
    // SAFETY: the caller's promise.
    unsafe { (addr as *mut usize).write(value) }
}

/// The address of `bp`'s header.
fn header(bp: usize) -> usize {
    bp - WORD
}

/// The size of block `bp`, header and footer included.
///
/// # Safety
/// `bp` must be a block of the heap (or the epilogue's `bp`).
unsafe fn block_len(bp: usize) -> usize {
    // SAFETY: the header of a block is a heap word.
    unsafe { get(header(bp)) & !(ALIGN - 1) }
}

/// Whether block `bp` is in use.
///
/// # Safety
/// As for [`block_len`].
unsafe fn is_used(bp: usize) -> bool {
    // SAFETY: as in block_len.
    unsafe { get(header(bp)) & USED != 0 }
}

/// Writes the header and footer of block `bp`: `size` bytes, in use or not.
///
/// # Safety
/// [header(bp), header(bp) + size) must lie in the heap, and belong to no
/// other live block.
unsafe fn set_block(bp: usize, size: usize, used: bool) {
    let tag = size | if used { USED } else { 0 };
    // SAFETY: header and footer are the first and last words of the range.
    unsafe {
        put(header(bp), tag);
        put(bp + size - OVERHEAD, tag);
    }
}

/// The block after `bp`.
///
/// # Safety
/// `bp` must be a block of the heap (not the epilogue).
unsafe fn next_block(bp: usize) -> usize {
    // SAFETY: the caller's promise.
    bp + unsafe { block_len(bp) }
}

/// The block before `bp`, found through its footer.
///
/// # Safety
/// `bp` must be a block of the heap after the prologue.
unsafe fn prev_block(bp: usize) -> usize {
    // SAFETY: the word before our header is the previous block's footer.
    bp - unsafe { get(bp - OVERHEAD) & !(ALIGN - 1) }
}

/// The free blocks after and before free block `bp` on the free list.
///
/// # Safety
/// `bp` must be a free block.
unsafe fn links(bp: usize) -> (usize, usize) {
    // SAFETY: a free block's first two payload words are its links.
    unsafe { (get(bp), get(bp + WORD)) }
}

/// Sets the free-list links of free block `bp`.
///
/// # Safety
/// `bp` must be a free block.
unsafe fn set_links(bp: usize, next: usize, prev: usize) {
    // SAFETY: as in links.
    unsafe {
        put(bp, next);
        put(bp + WORD, prev);
    }
}

impl Allocator {
    /// Puts free block `bp` at the head of the free list.
    ///
    /// # Safety
    /// `bp` must be a free block not on the list.
    unsafe fn push(&mut self, bp: usize) {
        // SAFETY: bp and the old head are free blocks.
        unsafe {
            set_links(bp, self.free_list, 0);
            if self.free_list != 0 {
                let (next, _) = links(self.free_list);
                set_links(self.free_list, next, bp);
            }
        }
        self.free_list = bp;
    }

    /// Takes free block `bp` off the free list.
    ///
    /// # Safety
    /// `bp` must be on the free list.
    unsafe fn unlink(&mut self, bp: usize) {
        // SAFETY: bp and its neighbours on the list are free blocks.
        unsafe {
            let (next, prev) = links(bp);
            if prev == 0 {
                self.free_list = next;
            } else {
                set_links(prev, next, links(prev).1);
            }
            if next != 0 {
                set_links(next, links(next).0, prev);
            }
        }
    }

    /// Merges free block `bp` (not on the list) with its free neighbours,
    /// puts the result on the free list and returns it.
    ///
    /// # Safety
    /// `bp` must be a free block (header and footer written) not on the list.
    unsafe fn coalesce(&mut self, mut bp: usize) -> usize {
        // SAFETY: the prologue and epilogue are used, so every neighbour
        // looked at is a block of the heap; free ones are on the list.
        unsafe {
            let mut size = block_len(bp);
            let next = next_block(bp);
            if !is_used(next) {
                self.unlink(next);
                size += block_len(next);
            }
            let prev = prev_block(bp);
            if !is_used(prev) {
                self.unlink(prev);
                size += block_len(prev);
                bp = prev;
            }
            set_block(bp, size, false);
            self.push(bp);
        }
        bp
    }

    /// Shrinks used block `bp` to `asize` bytes if the rest makes a block
    /// of its own, which is then freed. If the pages of the new footer,
    /// header and links cannot be made present (out of memory), the block
    /// stays whole: bigger than asked, never wrong.
    ///
    /// # Safety
    /// `bp` must be a used block of at least `asize` bytes, `asize` a
    /// multiple of ALIGN of at least MIN_BLOCK.
    unsafe fn split(&mut self, bp: usize, asize: usize) {
        // SAFETY: both parts lie inside the old block.
        unsafe {
            let size = block_len(bp);
            if size - asize >= MIN_BLOCK
                && populate(bp + asize - OVERHEAD, OVERHEAD + 2 * WORD).is_ok()
            {
                set_block(bp, asize, true);
                let rest = bp + asize;
                set_block(rest, size - asize, false);
                self.coalesce(rest);
            }
        }
    }

    /// Returns the first free block of at least `asize` bytes, if any.
    fn find_fit(&self, asize: usize) -> Option<usize> {
        let mut bp = self.free_list;
        while bp != 0 {
            // SAFETY: everything on the free list is a free block.
            unsafe {
                if block_len(bp) >= asize {
                    return Some(bp);
                }
                bp = links(bp).0;
            }
        }
        None
    }

    /// Creates the prologue and epilogue at the break. Returns false if
    /// the heap cannot grow.
    fn init(&mut self) -> bool {
        if self.ready {
            return true;
        }
        let Ok(brk) = sbrk(0) else { return false };
        // The prologue's header sits 4 bytes before an 8-aligned address.
        let prologue = (brk + WORD).next_multiple_of(ALIGN) - WORD;
        let need = prologue - brk + OVERHEAD + WORD;
        if sbrk(need as isize).is_err() {
            return false;
        }
        if populate(prologue, OVERHEAD + WORD).is_err() {
            let _ = sbrk(-(need as isize));
            return false;
        }
        let bp = prologue + WORD;
        // SAFETY: [prologue, prologue + 12) was just added to the heap.
        unsafe {
            set_block(bp, OVERHEAD, true);
            put(bp + OVERHEAD - WORD, USED);
        }
        self.first = bp + OVERHEAD;
        self.epilogue = header(self.first);
        self.free_list = 0;
        self.ready = true;
        true
    }

    /// Grows the heap by a free block of at least `asize` bytes (merged
    /// with a free last block) and returns it, on the free list. None if
    /// the heap cannot grow (at its limit, out of memory for the pages of
    /// the new tags, or a size that does not fit in the address space):
    /// the break and the blocks are then as they were.
    ///
    /// Panics if the break is below the allocator's blocks (someone shrank
    /// the heap under it).
    fn extend(&mut self, asize: usize) -> Option<usize> {
        let e = self.epilogue;
        let brk = sbrk(0).ok()?;
        assert!(brk >= e + WORD, "malloc: the break moved into the heap");
        let (fence, size, need) = grow_plan(e, brk, asize)?;
        let need = isize::try_from(need).ok()?;
        sbrk(need).ok()?;
        let bp = e + WORD + fence;
        // The pages written below: the fence's footer, the new block's
        // header and links, its footer and the new epilogue.
        if populate(bp - OVERHEAD, OVERHEAD + 2 * WORD).is_err()
            || populate(bp + size - OVERHEAD, OVERHEAD).is_err()
        {
            // Shrinking unmaps the pages wholly above the old break again.
            let _ = sbrk(-need);
            return None;
        }
        // SAFETY: [e, e + fence + size + WORD) is now heap: the fence, the
        // new block and the new epilogue header.
        unsafe {
            if fence != 0 {
                set_block(e + WORD, fence, true);
            }
            set_block(bp, size, false);
            put(bp + size - WORD, USED);
            self.epilogue = bp + size - WORD;
            Some(self.coalesce(bp))
        }
    }

    /// Takes a block of at least `asize` bytes (a multiple of ALIGN, at
    /// least MIN_BLOCK) off the free list, growing the heap if needed, and
    /// returns it, used. Its header, footer and first two words (its links
    /// when free) are present, its other pages maybe not. None if the heap
    /// cannot grow.
    fn take(&mut self, asize: usize) -> Option<usize> {
        if !self.init() {
            return None;
        }
        let bp = self.find_fit(asize).or_else(|| self.extend(asize))?;
        // SAFETY: bp is a free block on the list, at least asize bytes.
        unsafe {
            self.unlink(bp);
            set_block(bp, block_len(bp), true);
            self.split(bp, asize);
        }
        Some(bp)
    }

    /// Makes every page of used block `bp` present; on failure frees it
    /// and returns 0, else returns `bp`.
    ///
    /// # Safety
    /// `bp` must be a used block whose header, footer and links are
    /// present (as [`Allocator::take`] returns them).
    unsafe fn populate_or_free(&mut self, bp: usize) -> usize {
        // SAFETY: the caller's promise; free only writes those words.
        unsafe {
            if populate(header(bp), block_len(bp)).is_err() {
                self.free(bp);
                return 0;
            }
        }
        bp
    }

    /// See [`malloc`].
    fn malloc(&mut self, size: usize) -> usize {
        let Some(asize) = block_size(size) else {
            return 0;
        };
        let Some(bp) = self.take(asize) else {
            return 0;
        };
        // SAFETY: bp is from take.
        unsafe { self.populate_or_free(bp) }
    }

    /// See [`free`].
    ///
    /// # Safety
    /// As for [`free`].
    unsafe fn free(&mut self, bp: usize) {
        // SAFETY: the caller promises bp is a live block from malloc.
        unsafe {
            let size = block_len(bp);
            assert!(
                self.ready && is_used(bp) && get(bp + size - OVERHEAD) == size | USED,
                "free: {bp:#x} is not an allocated block (double free?)"
            );
            set_block(bp, size, false);
            self.coalesce(bp);
        }
    }

    /// See [`realloc`].
    ///
    /// # Safety
    /// As for [`realloc`].
    unsafe fn realloc(&mut self, bp: usize, size: usize) -> usize {
        let Some(asize) = block_size(size) else {
            return 0;
        };
        // SAFETY: bp is a live block (the caller's promise); its next
        // block is a block of the heap (at worst the epilogue).
        unsafe {
            let cur = block_len(bp);
            if asize <= cur {
                self.split(bp, asize);
                return bp;
            }
            let next = next_block(bp);
            if !is_used(next)
                && cur + block_len(next) >= asize
                && populate(header(bp), asize).is_ok()
            {
                self.unlink(next);
                set_block(bp, cur + block_len(next), true);
                self.split(bp, asize);
                return bp;
            }
            let new = self.malloc(size);
            if new != 0 {
                let keep = (cur - OVERHEAD).min(size);
                core::ptr::copy_nonoverlapping(bp as *const u8, new as *mut u8, keep);
                self.free(bp);
            }
            new
        }
    }

    /// See [`memalign`].
    fn memalign(&mut self, align: usize, size: usize) -> usize {
        if align <= ALIGN {
            return self.malloc(size);
        }
        let Some(asize) = block_size(size) else {
            return 0;
        };
        // Room to move forward to an aligned address and leave a free
        // block of its own behind.
        let Some(room) = asize.checked_add(align + MIN_BLOCK) else {
            return 0;
        };
        let Some(room) = block_size(room) else {
            return 0;
        };
        let Some(mut bp) = self.take(room) else {
            return 0;
        };
        if !bp.is_multiple_of(align) {
            let mut abp = bp.next_multiple_of(align);
            if abp - bp < MIN_BLOCK {
                abp += align;
            }
            // The leading block's footer, the aligned block's header and
            // its first two words (links, should it be freed).
            if populate(abp - OVERHEAD, OVERHEAD + 2 * WORD).is_err() {
                // SAFETY: bp is the used block just taken.
                unsafe { self.free(bp) };
                return 0;
            }
            // SAFETY: bp is the used block just allocated; both parts lie
            // inside it, and the leading one is freed as a block of its own.
            unsafe {
                let total = block_len(bp);
                set_block(bp, abp - bp, false);
                set_block(abp, total - (abp - bp), true);
                self.coalesce(bp);
            }
            bp = abp;
        }
        // SAFETY: bp is a used block of at least asize bytes, its header,
        // footer and links present.
        unsafe {
            self.split(bp, asize);
            self.populate_or_free(bp)
        }
    }

    /// See [`heap_check`].
    fn check(&self) -> core::result::Result<HeapStats, &'static str> {
        let mut st = HeapStats::default();
        if !self.ready {
            return Ok(st);
        }
        let mut bp = self.first;
        let mut prev_free = false;
        // SAFETY: we walk block by block from the first to the epilogue,
        // checking each header against its footer before going on.
        unsafe {
            while header(bp) != self.epilogue {
                let size = block_len(bp);
                if header(bp) > self.epilogue || size < MIN_BLOCK {
                    return Err("a block is too small or runs past the epilogue");
                }
                if get(bp + size - OVERHEAD) != get(header(bp)) {
                    return Err("a block's header and footer differ");
                }
                if is_used(bp) {
                    st.used_blocks += 1;
                    st.used_bytes += size;
                    prev_free = false;
                } else {
                    if prev_free {
                        return Err("two free blocks are adjacent (not coalesced)");
                    }
                    st.free_blocks += 1;
                    st.free_bytes += size;
                    prev_free = true;
                }
                bp = next_block(bp);
            }
            if get(self.epilogue) != USED {
                return Err("the epilogue is damaged");
            }
            let (mut n, mut prev, mut fp) = (0, 0, self.free_list);
            while fp != 0 {
                if is_used(fp) || links(fp).1 != prev || n > st.free_blocks {
                    return Err("the free list is damaged");
                }
                n += 1;
                prev = fp;
                fp = links(fp).0;
            }
            if n != st.free_blocks {
                return Err("a free block is missing from the free list");
            }
        }
        Ok(st)
    }
}

/// What [`heap_check`] counted: blocks and their bytes (headers and
/// footers included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Blocks in use (fence blocks included, the prologue not).
    pub used_blocks: usize,
    /// Their bytes.
    pub used_bytes: usize,
    /// Free blocks.
    pub free_blocks: usize,
    /// Their bytes.
    pub free_bytes: usize,
}

/// Allocates `size` bytes (8-aligned, contents undefined) and returns
/// them; `malloc(0)` returns a unique pointer too. Returns null when the
/// heap cannot grow (out of memory or at its limit).
pub fn malloc(size: usize) -> *mut u8 {
    with_alloc(|a| a.malloc(size)) as *mut u8
}

/// Allocates `n * size` zeroed bytes and returns them. Returns null when
/// `n * size` overflows or the heap cannot grow.
pub fn calloc(n: usize, size: usize) -> *mut u8 {
    let Some(bytes) = n.checked_mul(size) else {
        return null_mut();
    };
    let p = malloc(bytes);
    if !p.is_null() {
        // SAFETY: p holds `bytes` bytes just allocated.
        unsafe { p.write_bytes(0, bytes) };
    }
    p
}

/// Frees a block from `malloc`, `calloc`, `realloc` or `posix_memalign`;
/// a null `ptr` is ignored. Cannot fail.
///
/// Panics if `ptr` does not look like an allocated block (e.g. a double
/// free), though not every bad pointer is caught.
///
/// # Safety
/// `ptr` must be null or a block from this allocator not freed yet, and
/// nothing may use the block afterwards.
pub unsafe fn free(ptr: *mut u8) {
    if !ptr.is_null() {
        // SAFETY: forwarded.
        with_alloc(|a| unsafe { a.free(ptr as usize) });
    }
}

/// Resizes block `ptr` to `size` bytes, keeping its contents up to the
/// smaller size, in place when it can; returns the (possibly moved) block.
/// `realloc(null, n)` is `malloc(n)`; `realloc(p, 0)` frees `p` and
/// returns null. The result is 8-aligned (a larger alignment from
/// `posix_memalign` is not kept if the block moves).
///
/// Returns null when out of memory; `ptr` is then left as it was.
///
/// # Safety
/// As for [`free`]: `ptr` must be null or a live block from this allocator;
/// after a non-null return, only the returned pointer may be used.
pub unsafe fn realloc(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        return malloc(size);
    }
    if size == 0 {
        // SAFETY: forwarded.
        unsafe { free(ptr) };
        return null_mut();
    }
    // SAFETY: forwarded.
    with_alloc(|a| unsafe { a.realloc(ptr as usize, size) }) as *mut u8
}

/// Allocates `size` bytes aligned to `align` (a power of two) and returns
/// them. Returns null when out of memory or `align` is not a power of two.
pub fn memalign(align: usize, size: usize) -> *mut u8 {
    if !align.is_power_of_two() {
        return null_mut();
    }
    with_alloc(|a| a.memalign(align, size)) as *mut u8
}

/// POSIX's `posix_memalign`: allocates `size` bytes aligned to `alignment`
/// and stores them in `*memptr`. Free them with [`free`].
///
/// Err(Inval) if `alignment` is not a power of two multiple of the
/// pointer size, Err(NoMem) when out of memory; `*memptr` is then
/// unchanged.
pub fn posix_memalign(memptr: &mut *mut u8, alignment: usize, size: usize) -> Result<()> {
    if !alignment.is_power_of_two() || !alignment.is_multiple_of(size_of::<*mut u8>()) {
        return Err(Error::Inval);
    }
    let p = memalign(alignment, size);
    if p.is_null() {
        return Err(Error::NoMem);
    }
    *memptr = p;
    Ok(())
}

/// Walks every block and the free list, checking the allocator's
/// invariants (matching header and footer, no two free blocks adjacent,
/// the free list holds exactly the free blocks), and returns the counts.
/// Err names the first broken invariant.
pub fn heap_check() -> core::result::Result<HeapStats, &'static str> {
    with_alloc(|a| a.check())
}

/// The global allocator: Rust's `alloc` (Vec, Box, String) on top of
/// [`malloc`]. A failed allocation returns null, and Rust's allocation
/// error handler then panics with `memory allocation of N bytes failed`.
pub struct JosAllocator;

// SAFETY: blocks come from malloc/memalign, which hand out disjoint,
// suitably aligned memory of at least the requested size and never move a
// live block except through `realloc`, which copies it.
unsafe impl GlobalAlloc for JosAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        memalign(layout.align(), layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator handed out.
        unsafe { free(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= ALIGN {
            // SAFETY: as in dealloc; new_size is not zero (GlobalAlloc's
            // contract), so realloc does not free.
            return unsafe { realloc(ptr, new_size) };
        }
        // A larger alignment: a new aligned block, then copy.
        let new = memalign(layout.align(), new_size);
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct, and hold at least
            // the smaller size.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                free(ptr);
            }
        }
        new
    }
}

/// Every user program allocates through [`JosAllocator`].
#[global_allocator]
static GLOBAL: JosAllocator = JosAllocator;
