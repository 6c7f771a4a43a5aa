//! The JOS user library: what every user program links against.
//!
//! `entry` starts the program and calls its `umain`; `syscall` wraps each
//! system call; `console` prints through `sys_cputs`; `panic` reports and
//! exits.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod console;
pub mod entry;
pub mod env;
pub mod panic;
pub mod syscall;

pub use abi;
pub use env::{exit, thisenv};
pub use printfmt;

/// Declares the program's entry: `jos::main!(umain);` where
/// `fn umain(args: &[&str])`. Sets up the program name used by `panic!`.
#[macro_export]
macro_rules! main {
    ($umain:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn umain_entry(argc: i32, argv: *const *const u8) {
            $crate::entry::libmain(env!("CARGO_BIN_NAME"), argc, argv, $umain);
        }
    };
}
