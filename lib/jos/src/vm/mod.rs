//! Virtual-memory tricks, built in the library on the page-fault upcall
//! (`crate::pgfault`) and on reading our own page tables (`crate::uvpt`).
//! Each file is one trick a student can read and replace:
//!
//! - `zero`: the shared zero page, mapped copy-on-write wherever memory
//!   should read as zero; the first write gets a fresh zeroed page.
//! - `heap`: a lazy heap, `sbrk`; pages appear on first touch.
//! - `malloc`: `malloc`, `free`, `realloc`, `posix_memalign` on `sbrk`, and
//!   the global allocator behind `alloc` (Vec, Box, String).
//! - `stack`: the user stack grows on demand, up to a limit, above a guard.
//! - `null`: the null guard, reporting null-pointer dereferences.
//! - `watch`: watchpoints on writes, by page protection and single steps.
//! - `wss`: working-set sizes from the accessed and dirty bits.

pub mod heap;
pub mod malloc;
pub mod null;
pub mod stack;
pub mod watch;
pub mod wss;
pub mod zero;
