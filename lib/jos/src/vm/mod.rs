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

/// Turns on the guards every program gets once it handles page faults in
/// user space (any handler, fork, the heap...): stack growth up to the
/// default limit, and null-pointer reports. Programs that never install a
/// handler keep JOS's behaviour: the kernel reports the fault and destroys
/// the environment.
pub fn enable_default_guards() {
    if let Err(e) = stack::enable_stack_growth() {
        crate::cprintf!("vm: no stack growth: {}\n", e);
    }
    if let Err(e) = null::enable_null_guard() {
        crate::cprintf!("vm: no null guard: {}\n", e);
    }
}
