//! JOS in Rust: the kernel.
//!
//! `arch::entry` turns paging on and calls `init::i386_init`, which brings
//! the machine up in JOS's order and ends in the monitor.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

// memcpy, memmove, memset, ...: the only definitions in the build (lib/string).
extern crate string;

// Envs and page tables are borrowed from the kernel lock's guard
// (klock::Kernel), never passed around as raw pointers: see klock.rs.

#[macro_use]
pub mod console;
pub mod arch;
pub mod boot_info;
pub mod cpu;
pub mod done;
pub mod e1000;
pub mod env;
pub mod fpu;
pub mod hold;
pub mod init;
pub mod ipc;
pub mod kdebug;
pub mod klock;
pub mod monitor;
pub mod net;
pub mod pager;
pub mod panic;
pub mod pci;
pub mod pmap;
pub mod sched;
pub mod smp;
pub mod syscall;
pub mod time;
pub mod trap;
