//! Virtual memory in the library, built on the page-fault upcall and its
//! dispatcher (`crate::pgfault`) and on reading our own page tables
//! (`crate::uvpt`).
//!
//! What the dispatcher and every handler share (no policy in these):
//!
//! - `fault`: the handler types, `page_in`, `copy_page_to`, and the retry
//!   of a page our pager declined for want of memory.
//! - `areas`: the list of the address space's areas, which is also the
//!   dispatcher's table of regions.
//! - `cow`: the copy-on-write handler (JOS's `pgfault` in lib/fork.c).
//!
//! The tricks, each a file a student can read and replace:
//!
//! - `zero`: the shared zero page, mapped copy-on-write wherever memory
//!   should read as zero; the first write gets a fresh zeroed page.
//! - `heap`: a lazy heap, `sbrk`; pages appear on first touch.
//! - `malloc`: `malloc`, `free`, `realloc`, `posix_memalign` on `sbrk`, and
//!   the global allocator behind `alloc` (Vec, Box, String).
//! - `stack`: the user stack grows on demand, up to a limit, above a guard.
//! - `null`: the null guard, reporting null-pointer dereferences.
//! - `mmap`: `mmap`, `munmap`, `mprotect`, `msync`: anonymous and file
//!   mappings, private (copy-on-write) or shared, paged in on demand.
//! - `swap`: the heap's and private mappings' pages go out to swap space
//!   kept by the file server when memory is short, and come back on touch.
//! - `watch`: watchpoints on writes, by page protection and single steps.
//! - `wss`: working-set sizes from the accessed and dirty bits.
//! - `maps`: the list of areas, printed like /proc/self/maps.
//!
//! mmap and swap join in through hook lists rather than by being called
//! from the mechanism: before a fork (`fork::atfork`), at exit
//! (`env::atexit`), and before a fault is declared unhandled
//! (`pgfault::add_unhandled_hook`). They register on first use: mmap at
//! its first mapping, swap when `swap::enable` is called (mmap calls it;
//! a program whose heap should swap calls it itself).

use abi::error::Result;

pub mod areas;
pub mod cow;
pub mod fault;
pub mod heap;
pub mod malloc;
pub mod maps;
pub mod mmap;
pub mod null;
pub mod stack;
pub mod swap;
pub mod watch;
pub mod wss;
pub mod zero;

pub use fault::{copy_page_to, page_in};

/// Turns on the library's default guards: stack growth up to the default
/// limit (`stack::enable_stack_growth`) and null-pointer reports
/// (`null::enable_null_guard`); installs the page-fault upcall if needed.
/// Either already on is left as it is.
///
/// This is policy, and a program asks for it: nothing in the upcall, the
/// dispatcher, `fork` or the heap turns it on. A program that does not call
/// this (or the two calls it makes) keeps JOS's behaviour for a fault below
/// its stack or near address 0 even if it handles other faults in user
/// space: no handler claims it, so the fallback handler gets it if one is
/// set, and otherwise the library reports it as an unhandled fault. With no
/// upcall at all, the kernel reports it (`user fault va ...`), which is
/// what MIT's lab 3 and 4 graders expect of faultread, faultdie and the
/// like. A fork child inherits the guards with the rest of its parent's
/// address space.
///
/// Err(NoMem) if the upcall's exception stack cannot be allocated or the
/// page-fault region table is full; the guards set up before the error stay.
pub fn enable_default_guards() -> Result<()> {
    stack::enable_stack_growth()?;
    null::enable_null_guard()
}
