//! JOS in Rust: the kernel.
//!
//! `arch::entry` turns paging on and calls `init::i386_init`, which brings
//! the machine up in JOS's order and ends in the monitor.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[macro_use]
pub mod console;
pub mod arch;
pub mod boot_info;
pub mod check;
pub mod cpu;
pub mod env;
pub mod init;
pub mod kdebug;
pub mod monitor;
pub mod panic;
pub mod pmap;
pub mod sched;
pub mod smp;
pub mod syscall;
pub mod trap;
