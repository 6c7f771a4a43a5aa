//! JOS in Rust: the kernel.
//!
//! `arch::entry` turns paging on and calls `init::i386_init`, which brings
//! the machine up in JOS's order and ends in the monitor.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
// Kernel functions pass Env and page-table pointers around: they always
// point into the Env array or at page-table pages the kernel owns, an
// invariant of the kernel rather than something each caller must promise.
// User input (ids, addresses) becomes such a pointer only through checked
// conversions (envid2env, page_lookup, user_mem_check).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[macro_use]
pub mod console;
pub mod arch;
pub mod boot_info;
pub mod cpu;
pub mod env;
pub mod fpu;
pub mod init;
pub mod kdebug;
pub mod monitor;
pub mod pager;
pub mod panic;
pub mod pmap;
pub mod sched;
pub mod sendq;
pub mod smp;
pub mod syscall;
pub mod trap;
