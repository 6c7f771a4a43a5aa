//! [`EnvCell`]: the library's global state, one value per environment.
//!
//! The library keeps a few globals (the fault dispatch table, the heap's
//! bounds, the allocator, the stack's limit, ...). A JOS environment runs
//! one thread, so there is no lock to take; but a page fault can interrupt
//! any instruction and run a handler (on the exception stack, through the
//! upcall) that reads the same globals. A `static mut` with a `&mut` taken
//! in ordinary code would then be aliased by the handler's access: undefined
//! behaviour that usually "works" until it does not.
//!
//! An `EnvCell` hands out its value only inside [`EnvCell::with`], and
//! marks itself busy meanwhile (an odd generation number). A second `with`
//! before the first returns (a handler that interrupted the first one, or
//! the first one's closure calling back into the same state) panics, naming
//! the type, instead of creating a second `&mut`:
//!
//! ```text
//!   program: STATE.with(|s| { ... s.x = 1 ... })      busy = true
//!                                  |  page fault
//!   handler:                       +-> STATE.with(..)  busy: panic
//! ```
//!
//! Rules for code that uses one: keep closures short, never call code that
//! may use the same cell from inside (copy what you need out, then act),
//! and never let a reference escape (the closure's result is returned by
//! value).
//!
//! [`EnvCell::get`] copies the value out without writing to the cell (a
//! sequence-lock read: it copies again if a handler changed the value
//! meanwhile); [`EnvCell::get_at`] copies one element of an array so.
//! [`EnvCell::snapshot`] copies the value out without marking the cell
//! busy, for the one case where the copy's destination may itself fault
//! into a handler that uses the cell (a watched stack page, for the
//! watchpoint module's state). The handler may then change the value in
//! the middle of the copy (the generation tells, but copying again would
//! fault again, forever), so it is `unsafe`: only for plain data that any
//! mix of two values leaves valid.
//!
//! Copy-on-write: after `fork` the pages holding these globals are
//! copy-on-write, and the first write to one faults. If that fault happened
//! inside `with`, the dispatcher could not read its own table. So `with`
//! first makes the cell's pages private (as the copy-on-write handler would)
//! while nothing is borrowed, and the accesses inside never fault for that
//! reason.
use crate::uvpt::pte_of;
use abi::mmu::{PGSIZE, PteFlags, round_down};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};

/// A global value of one environment, borrowed only through
/// [`EnvCell::with`], which panics on re-entry (see the module comment).
pub struct EnvCell<T> {
    /// Odd while a `with` holds the value; goes up by 2 with each `with`.
    generation: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: an EnvCell is shared by everything in its environment: the
// program and the fault handlers that interrupt it. The value is reached
// through `with`, which makes the generation odd atomically (a locked
// xadd) before making the one `&mut T` and even again after; anyone who
// finds it odd panics before touching the value. `snapshot` only reads,
// while the generation is even (a handler's `with` may run to its end in
// between, never alongside), and its callers promise the value survives a
// torn copy. So at most
// one `&mut T` exists at a time, whoever tries (an interrupting handler,
// the closure itself, or even another environment sharing the page after
// `sfork`, which the atomic swap also catches). `T: Send` because the
// value may be handed from one such user to the next.
unsafe impl<T: Send> Sync for EnvCell<T> {}

impl<T: Copy, const N: usize> EnvCell<[T; N]> {
    /// Returns a copy of element `i` of the array, read as
    /// [`EnvCell::get`] reads the whole (without writing to the cell), but
    /// copying one element: for a handler on the one-page exception stack
    /// that walks a table (the page-fault dispatcher and its areas).
    ///
    /// Panics if `i >= N`, and if a `with` on this cell is in progress.
    pub fn get_at(&self, i: usize) -> T {
        assert!(i < N, "EnvCell::get_at: index {i} out of {N}");
        // SAFETY: element i (< N, checked) of the array inside the cell.
        unsafe { self.read_seq(self.value.get().cast::<T>().add(i)) }
    }
}

/// Makes the generation even again when dropped.
struct Release<'a>(&'a AtomicU32);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

impl<T> EnvCell<T> {
    /// Returns a cell holding `value`. Cannot fail.
    pub const fn new(value: T) -> Self {
        Self {
            generation: AtomicU32::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` on the value and returns what it returns.
    ///
    /// Panics if the cell is already borrowed (re-entry: a fault handler
    /// interrupting a `with` on the same cell, or `f` itself reaching the
    /// cell again), and if its pages are copy-on-write and out of memory
    /// prevents making them private.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        enter(
            &self.generation,
            self.addr(),
            size_of::<Self>(),
            core::any::type_name::<T>(),
        );
        let _release = Release(&self.generation);
        // SAFETY: the generation was even and is now odd by our doing: no
        // other reference to the value exists, and none can be made until
        // `_release` makes it even after `f` returns (the `&mut` does not
        // outlive `f`).
        f(unsafe { &mut *self.value.get() })
    }

    /// Runs `f` on the value, as [`EnvCell::with`] does, for code that must
    /// not panic when memory runs out (`exit`, freeing things): returns
    /// Err(NoMem), without running `f`, if the cell's pages are
    /// copy-on-write and no page is left to make them private.
    ///
    /// Panics if the cell is already borrowed, as `with` does.
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> abi::error::Result<R> {
        self.try_make_private()?;
        // The pages are private now: `with` finds nothing to copy.
        Ok(self.with(f))
    }

    /// Returns a copy of the value, read as a sequence lock reads: the
    /// generation, the bytes, the generation again; if a handler's `with`
    /// ran in between (the generation changed), the copy is thrown away
    /// and made again. Writes nothing to the cell, so reading a cell on a
    /// copy-on-write page (after fork) does not copy the page.
    ///
    /// Panics if a `with` on this cell is in progress (a handler that
    /// interrupted it).
    pub fn get(&self) -> T
    where
        T: Copy,
    {
        // SAFETY: the pointer is the whole value's, inside the cell.
        unsafe { self.read_seq(self.value.get()) }
    }

    /// Reads the `U` at `p`, a part of the value, as [`EnvCell::get`]
    /// reads the whole: retried until no `with` ran during the copy.
    /// Panics if a `with` on this cell is in progress.
    ///
    /// # Safety
    /// `p` must point to a `U` inside this cell's value (aligned).
    unsafe fn read_seq<U: Copy>(&self, p: *const U) -> U {
        loop {
            let g = self.generation.load(Ordering::Acquire);
            if g & 1 != 0 {
                self.reentered();
            }
            // SAFETY: no `&mut` to the value exists (the generation is
            // even), and `p` points into it (the caller's promise). The
            // bytes are read as MaybeUninit, so a copy torn by a handler's
            // `with` is never taken for a U: it is discarded below.
            // Volatile, as for any data shared with a handler.
            let v = unsafe { core::ptr::read_volatile(p.cast::<MaybeUninit<U>>()) };
            if self.generation.load(Ordering::Acquire) == g {
                // SAFETY: no `with` ran during the copy: it is the bytes
                // of one valid U.
                return unsafe { v.assume_init() };
            }
        }
    }

    /// Returns a copy of the value without marking the cell busy (see the
    /// module comment): the copy may be written anywhere, even to a page
    /// whose fault handler uses this cell.
    ///
    /// Panics if a `with` on this cell is in progress (a handler that
    /// interrupted it).
    ///
    /// # Safety
    /// A handler that runs during the copy may change the value: the copy
    /// may then hold some fields (words) of the old value and some of the
    /// new one. `T` must be valid for any such mix (plain integers, flags,
    /// bools and one-word options; no pointers paired with lengths).
    pub unsafe fn snapshot(&self) -> T
    where
        T: Copy,
    {
        if self.generation.load(Ordering::Acquire) & 1 != 0 {
            self.reentered();
        }
        // SAFETY: no `&mut` to the value exists (the generation is even),
        // and a handler that changes it runs to its end before the copy
        // goes on (the caller accepts the mix). Volatile, as for any data
        // shared with a handler.
        unsafe { core::ptr::read_volatile(self.value.get()) }
    }

    /// Panics: the cell was borrowed while in use. (A call with the
    /// type's name: the panic itself is one function for all cells.)
    #[inline(always)]
    fn reentered(&self) -> ! {
        reentered(core::any::type_name::<T>())
    }

    /// Replaces the value. Panics as [`EnvCell::with`] does.
    pub fn set(&self, value: T) {
        self.with(|v| *v = value);
    }

    /// Returns the address of the cell (for code that must keep other
    /// things off its page). Cannot fail.
    pub fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// `make_private` (which `with` calls, through `enter`) for
    /// [`EnvCell::try_with`]: Err(NoMem)
    /// instead of a panic.
    #[inline(always)]
    fn try_make_private(&self) -> abi::error::Result<()> {
        private_pages(self.addr(), size_of::<Self>()).map_err(|(_, e)| e)
    }
}

// What every cell shares, apart from its type (one copy in the program,
// not one per type of cell).

/// Panics: a cell holding a `name` was borrowed while in use.
/// `with`'s way in, one copy for every cell (inlined, it was some 45
/// bytes at each `with`): makes the cell's pages, `len` bytes at `addr`,
/// private, then marks it busy (its `generation` odd). Panics, naming
/// the type `name`, if it was busy already, or as `make_private` does.
#[inline(never)]
fn enter(generation: &AtomicU32, addr: usize, len: usize, name: &str) {
    make_private(addr, len);
    if generation.fetch_add(1, Ordering::Acquire) & 1 != 0 {
        reentered(name);
    }
}

#[cold]
#[inline(never)]
fn reentered(name: &str) -> ! {
    panic!("EnvCell<{name}> borrowed again while in use (a fault handler re-entered it?)");
}

/// Makes the copy-on-write pages of the `len` bytes at `addr` (a cell)
/// private and writable. Panics if out of memory prevents it.
#[inline(never)]
fn make_private(addr: usize, len: usize) {
    if let Err((page, e)) = private_pages(addr, len) {
        panic!("EnvCell: making its page {page:08x} private: {e}");
    }
}

/// Makes the copy-on-write pages of the `len` bytes at `addr` private;
/// Err(the page, the error) for the first that cannot be (out of memory),
/// which is then left as it was.
#[inline(never)]
fn private_pages(addr: usize, len: usize) -> Result<(), (usize, abi::error::Error)> {
    let end = addr + len;
    let mut page = round_down(addr, PGSIZE);
    while page < end {
        if let Some(pte) = pte_of(page)
            && pte.flags().contains(PteFlags::COW)
        {
            crate::vm::cow::make_private(page, pte).map_err(|e| (page, e))?;
        }
        page += PGSIZE;
    }
    Ok(())
}
