//! C's `malloc`, `free`, `realloc`, `calloc`, `memalign` and
//! `posix_memalign`, and the calls behind Rust's `GlobalAlloc`, over the
//! [talc] allocator.
//!
//! talc does the real work: free chunks binned by size (near constant-time
//! allocation), boundary tags, and coalescing of neighbours on free. What
//! this crate adds is what C asks for and talc does not do:
//!
//! - `free(p)` gets no size, so every C block carries a small header just
//!   below the pointer handed out: its size and its prefix (the bytes from
//!   talc's chunk to the pointer, which also says the alignment):
//!
//! ```text
//!   talc's chunk                                      (Layout: prefix + size, align prefix)
//!   +--------------------------+------+-------+--------------------------+
//!   | (alignment padding)      | size | pre^M |  payload: `size` bytes   |
//!   +--------------------------+------+-------+--------------------------+
//!   ^ base                                    ^ p = base + prefix
//!                              <-- HDR ------>
//! ```
//!
//!   `prefix` is `max(align, HDR)`: with malloc's alignment (two words)
//!   that is just the header. The second word is xor-ed with a magic
//!   number, so `free` of a pointer that is no block (or, usually, of one
//!   freed already) panics instead of corrupting the heap.
//! - Where the memory comes from is the [`Backend`]'s business: talc calls
//!   its [`Source::acquire`] when it runs out (the JOS library grows the
//!   heap with `sbrk` there), and every block is offered to
//!   [`Backend::prepare`] before it is handed out (the JOS library makes
//!   its pages present and private there, so that running out of memory is
//!   found here, as a null return, not in a page-fault handler).
//! - Sizes near the top of the address space are refused with checked
//!   arithmetic, never wrapped.
//!
//! The GlobalAlloc calls ([`CAlloc::alloc_layout`] and friends) are given
//! the layout back on free, so their blocks need no header.
//!
//! Pure logic: no system calls, no globals. The JOS library wraps one
//! `CAlloc` in an `EnvCell`; the host tests run it over a plain array.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub use talc;

use abi::error::Error;
use core::alloc::Layout;
use core::ptr::{NonNull, null_mut};
use talc::base::Talc;
use talc::base::binning::DefaultBinning;
use talc::source::Source;

/// Bytes in a machine word.
pub const WORD: usize = size_of::<usize>();

/// The alignment of every block `malloc` returns (two words: 8 bytes on
/// i386, as JOS's and most C libraries' malloc).
pub const MALLOC_ALIGN: usize = 2 * WORD;

/// Bytes of a C block's header: its size and its (disguised) prefix.
pub const HDR: usize = 2 * WORD;

/// Xor-ed into a header's second word.
const MAGIC: usize = 0x5A11_0C8D;

/// What `free` leaves in a header's second word (never a valid one).
const FREED: usize = 0xDEAD_F7EE;

/// Where the memory comes from: talc's [`Source`] (called when the heap
/// is full), plus a hook for every block before it is handed out.
pub trait Backend: Source {
    /// Makes [addr, addr + len) ready to be used by the caller (e.g. its
    /// pages present, private and writable). Returns false if that cannot
    /// be done (out of memory): the block is then given back, and the
    /// allocation fails. The default does nothing and returns true.
    fn prepare(&mut self, _addr: usize, _len: usize) -> bool {
        true
    }
}

/// Returns the bytes between the start of talc's chunk and the pointer a
/// C block hands out, for alignment `align` (a power of two): room for
/// the header, rounded up to the alignment. Cannot fail.
pub const fn prefix(align: usize) -> usize {
    if align > HDR { align } else { HDR }
}

/// Returns the layout of talc's chunk for a C block of `size` bytes
/// aligned to `align`: prefix + size bytes, aligned to the prefix. None if
/// `align` is not a power of two or the size overflows (a Layout's size
/// must stay below isize::MAX).
pub fn chunk_layout(size: usize, align: usize) -> Option<Layout> {
    if !align.is_power_of_two() {
        return None;
    }
    let pre = prefix(align);
    Layout::from_size_align(size.checked_add(pre)?, pre).ok()
}

/// Returns whether `alignment` is one `posix_memalign` accepts: a power
/// of two and a multiple of the pointer size. Cannot fail.
pub fn posix_alignment_ok(alignment: usize) -> bool {
    alignment.is_power_of_two() && alignment.is_multiple_of(size_of::<*mut u8>())
}

/// A layout talc accepts for a GlobalAlloc request (talc wants a nonzero
/// size; Rust never asks for zero, but a zero-size layout must not break
/// the heap either).
fn nonzero(layout: Layout) -> Layout {
    if layout.size() == 0 {
        // A size of 1 with the same alignment is always a valid layout.
        Layout::from_size_align(1, layout.align()).unwrap_or(layout)
    } else {
        layout
    }
}

/// What [`CAlloc::stats`] counts, from talc's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Blocks in use (C and Rust ones).
    pub used_blocks: usize,
    /// Their bytes (as asked for, C headers included).
    pub used_bytes: usize,
    /// Free chunks (gaps between blocks).
    pub free_blocks: usize,
    /// Bytes available for allocation.
    pub free_bytes: usize,
    /// Separate heaps (a new one starts where someone else moved the
    /// break in between).
    pub heaps: usize,
    /// Bytes given to the allocator in all.
    pub claimed_bytes: usize,
}

/// The C allocator: talc with a [`Backend`] for memory.
pub struct CAlloc<S: Backend> {
    talc: Talc<S, DefaultBinning>,
}

impl<S: Backend> CAlloc<S> {
    /// Returns an allocator with no memory yet: the backend is asked for
    /// some on the first allocation. Cannot fail.
    pub const fn new(source: S) -> Self {
        Self {
            talc: Talc::new(source),
        }
    }

    /// Returns the backend. Cannot fail.
    pub fn backend(&mut self) -> &mut S {
        &mut self.talc.source
    }

    /// Allocates a chunk of `layout` from talc and prepares it; returns
    /// it, or null (out of memory: the chunk, if any, is given back).
    fn chunk(&mut self, layout: Layout) -> *mut u8 {
        // SAFETY: every layout passed here has a nonzero size (a prefix
        // or `nonzero`).
        let Some(base) = (unsafe { self.talc.allocate(layout) }) else {
            return null_mut();
        };
        let base = base.as_ptr();
        if !self.talc.source.prepare(base as usize, layout.size()) {
            // SAFETY: base was just allocated with layout.
            unsafe { self.talc.deallocate(base, layout) };
            return null_mut();
        }
        base
    }

    /// Allocates `size` bytes aligned to [`MALLOC_ALIGN`] (contents
    /// undefined) and returns them; `malloc(0)` returns a unique pointer
    /// too. Returns null when out of memory or for a size that does not
    /// fit in the address space.
    pub fn malloc(&mut self, size: usize) -> *mut u8 {
        self.memalign(MALLOC_ALIGN, size)
    }

    /// Allocates `size` bytes aligned to `align` (a power of two) and
    /// returns them. Returns null when out of memory, for an `align` that
    /// is not a power of two, or a size that does not fit.
    pub fn memalign(&mut self, align: usize, size: usize) -> *mut u8 {
        let Some(layout) = chunk_layout(size, align) else {
            return null_mut();
        };
        let base = self.chunk(layout);
        if base.is_null() {
            return null_mut();
        }
        // SAFETY: the chunk holds prefix + size bytes; the header is the
        // HDR bytes before base + prefix (prefix >= HDR).
        unsafe {
            let p = base.add(layout.align());
            set_header(p, size, layout.align());
            p
        }
    }

    /// Allocates `n * size` zeroed bytes and returns them. Returns null
    /// when `n * size` overflows or out of memory.
    pub fn calloc(&mut self, n: usize, size: usize) -> *mut u8 {
        let Some(bytes) = n.checked_mul(size) else {
            return null_mut();
        };
        let p = self.malloc(bytes);
        if !p.is_null() {
            // SAFETY: p holds `bytes` bytes just allocated.
            unsafe { p.write_bytes(0, bytes) };
        }
        p
    }

    /// Frees a C block; a null `ptr` is ignored. Cannot fail.
    ///
    /// Panics if `ptr` is not a live C block (its header is not one:
    /// catches most double frees and stray pointers, not all).
    ///
    /// # Safety
    /// `ptr` must be null or a block from this allocator's C calls, not
    /// freed yet (or at least readable: see the panic), and nothing may use
    /// the block afterwards.
    pub unsafe fn free(&mut self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: the caller's promise.
        unsafe {
            let (size, pre) = header(ptr);
            set_freed(ptr);
            let layout = Layout::from_size_align_unchecked(size + pre, pre);
            self.talc.deallocate(ptr.sub(pre), layout);
        }
    }

    /// Resizes C block `ptr` to `size` bytes, keeping its contents up to
    /// the smaller size and its alignment, in place when it can; returns
    /// the (possibly moved) block. `realloc(null, n)` is `malloc(n)`;
    /// `realloc(p, 0)` frees `p` and returns null.
    ///
    /// Returns null when out of memory (or for a size that does not fit);
    /// `ptr` is then left as it was. Panics as [`CAlloc::free`] does.
    ///
    /// # Safety
    /// As for [`CAlloc::free`]; after a non-null return only the returned
    /// pointer may be used.
    pub unsafe fn realloc(&mut self, ptr: *mut u8, size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.malloc(size);
        }
        if size == 0 {
            // SAFETY: forwarded.
            unsafe { self.free(ptr) };
            return null_mut();
        }
        // SAFETY: the caller promises a live block: its header and chunk
        // are as memalign made them.
        unsafe {
            let (old, pre) = header(ptr);
            let base = ptr.sub(pre);
            let layout = Layout::from_size_align_unchecked(old + pre, pre);
            let Some(new) = chunk_layout(size, pre) else {
                return null_mut();
            };
            if size <= old {
                self.talc.shrink(base, layout, new.size());
                set_header(ptr, size, pre);
                return ptr;
            }
            if self.talc.try_grow_in_place(base, layout, new.size()) {
                if self.talc.source.prepare(ptr as usize + old, size - old) {
                    set_header(ptr, size, pre);
                    return ptr;
                }
                self.talc.shrink(base, new, layout.size());
                return null_mut();
            }
            let q = self.memalign(pre, size);
            if !q.is_null() {
                core::ptr::copy_nonoverlapping(ptr, q, old);
                self.free(ptr);
            }
            q
        }
    }

    /// POSIX's `posix_memalign`: allocates `size` bytes aligned to
    /// `alignment` and stores them in `*memptr`.
    ///
    /// Err(Inval) if `alignment` is not a power of two multiple of the
    /// pointer size, Err(NoMem) when out of memory (or for a size that
    /// does not fit); `*memptr` is then unchanged.
    pub fn posix_memalign(
        &mut self,
        memptr: &mut *mut u8,
        alignment: usize,
        size: usize,
    ) -> Result<(), Error> {
        if !posix_alignment_ok(alignment) {
            return Err(Error::Inval);
        }
        let p = self.memalign(alignment, size);
        if p.is_null() {
            return Err(Error::NoMem);
        }
        *memptr = p;
        Ok(())
    }

    /// GlobalAlloc's `alloc`: a block of `layout` (no header), or null
    /// when out of memory.
    pub fn alloc_layout(&mut self, layout: Layout) -> *mut u8 {
        self.chunk(nonzero(layout))
    }

    /// GlobalAlloc's `dealloc`. Cannot fail.
    ///
    /// # Safety
    /// `ptr` must come from [`CAlloc::alloc_layout`] or
    /// [`CAlloc::realloc_layout`] with this `layout`, not freed yet.
    pub unsafe fn dealloc_layout(&mut self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's promise.
        unsafe { self.talc.deallocate(ptr, nonzero(layout)) }
    }

    /// GlobalAlloc's `realloc`: resizes the block to `new_size` bytes (in
    /// place when it can), keeping its alignment and contents up to the
    /// smaller size; returns it, or null when out of memory (the old block
    /// is then left as it was).
    ///
    /// # Safety
    /// As for [`CAlloc::dealloc_layout`]; `new_size` must be nonzero and,
    /// rounded up to `layout.align()`, at most isize::MAX.
    pub unsafe fn realloc_layout(
        &mut self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        let layout = nonzero(layout);
        // SAFETY: the caller's promises (GlobalAlloc::realloc's contract).
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            if new_size <= layout.size() {
                self.talc.shrink(ptr, layout, new_size);
                return ptr;
            }
            if self.talc.try_grow_in_place(ptr, layout, new_size) {
                let old = layout.size();
                if self.talc.source.prepare(ptr as usize + old, new_size - old) {
                    return ptr;
                }
                self.talc.shrink(ptr, new, old);
                return null_mut();
            }
            let q = self.chunk(new);
            if !q.is_null() {
                core::ptr::copy_nonoverlapping(ptr, q, layout.size());
                self.talc.deallocate(ptr, layout);
            }
            q
        }
    }

    /// Returns the allocator's counts. Cannot fail.
    pub fn stats(&self) -> Stats {
        let c = self.talc.counters();
        Stats {
            used_blocks: c.allocation_count,
            used_bytes: c.allocated_bytes,
            free_blocks: c.fragment_count,
            free_bytes: c.available_bytes,
            heaps: c.heap_count,
            claimed_bytes: c.claimed_bytes,
        }
    }

    /// Checks what can be checked from outside talc and returns the
    /// counts: the bytes in use and free fit in what was claimed, and with
    /// no block in use every heap is one free chunk (freed blocks merged
    /// back). Err names what is wrong.
    pub fn check(&self) -> Result<Stats, &'static str> {
        let st = self.stats();
        if st
            .used_bytes
            .checked_add(st.free_bytes)
            .is_none_or(|n| n > st.claimed_bytes)
        {
            return Err("more bytes in use and free than the heaps hold");
        }
        if st.used_blocks == 0 && st.free_blocks != st.heaps {
            return Err("no block in use, yet the free space is in pieces (not merged)");
        }
        Ok(st)
    }
}

/// Writes the header of the C block at `p`: `size` bytes, `pre` bytes of
/// prefix.
///
/// # Safety
/// The HDR bytes below `p` must belong to the block's chunk.
unsafe fn set_header(p: *mut u8, size: usize, pre: usize) {
    // SAFETY: the caller's promise; p - HDR is word-aligned (p is aligned
    // to at least HDR).
    unsafe {
        let h = p.sub(HDR).cast::<usize>();
        h.write(size);
        h.add(1).write(pre ^ MAGIC);
    }
}

/// Marks the header of the C block at `p` freed.
///
/// # Safety
/// As for [`set_header`].
unsafe fn set_freed(p: *mut u8) {
    // SAFETY: the caller's promise.
    unsafe { p.sub(HDR).cast::<usize>().add(1).write(FREED) }
}

/// Reads the header of the C block at `p`: returns (size, prefix).
///
/// Panics if it is no valid header (not a C block, or freed).
///
/// # Safety
/// The HDR bytes below `p` must be readable.
unsafe fn header(p: *mut u8) -> (usize, usize) {
    // SAFETY: the caller's promise.
    let (size, pre) = unsafe {
        let h = p.sub(HDR).cast::<usize>();
        (h.read(), h.add(1).read() ^ MAGIC)
    };
    let valid = pre.is_power_of_two()
        && pre >= HDR
        && (p as usize).is_multiple_of(pre)
        && size
            .checked_add(pre)
            .is_some_and(|n| n <= isize::MAX as usize);
    assert!(
        valid,
        "free: {p:p} is not an allocated block (double free?)"
    );
    (size, pre)
}

// talc's `Source` for a plain heap of its own: exported for tests and
// programs that want a `CAlloc` over a fixed array.
/// A [`Backend`] over one fixed region: talc claims it on the first
/// allocation, and that is all the memory there is.
#[derive(Debug)]
pub struct Fixed {
    base: usize,
    size: usize,
}

impl Fixed {
    /// Returns a backend over [base, base + size).
    ///
    /// # Safety
    /// The region must be writable memory that nothing else uses while
    /// the allocator lives.
    pub unsafe fn new(base: *mut u8, size: usize) -> Self {
        Self {
            base: base as usize,
            size,
        }
    }
}

// SAFETY: `acquire` uses only `talc` (claims the region once), never an
// allocator.
unsafe impl Source for Fixed {
    fn acquire<B: talc::base::binning::Binning>(
        talc: &mut Talc<Self, B>,
        _layout: Layout,
    ) -> Result<(), ()> {
        let (base, size) = (talc.source.base, talc.source.size);
        if size == 0 {
            return Err(());
        }
        talc.source.size = 0;
        // SAFETY: the region is ours (Fixed::new's promise), claimed once.
        unsafe { talc.claim(base as *mut u8, size) }
            .map(|_: NonNull<u8>| ())
            .ok_or(())
    }
}

impl Backend for Fixed {}

#[cfg(test)]
mod tests;
