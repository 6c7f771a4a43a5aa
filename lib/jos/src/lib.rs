//! The JOS user library: what every user program links against.
//!
//! - `entry`: `_start`, `libmain`, the program name; `main!` declares `umain`.
//! - `cwd`: the current directory (`getcwd`, `chdir`), which every call
//!   taking a path resolves it against; inherited by fork and spawn.
//! - `args`: command-line flags (`argstart`/`argnext`).
//! - `syscall`: one wrapper per system call.
//! - `env`: `envs`, `thisenv`, `exit` and `atexit`.
//! - `cell`: `EnvCell`, the library's per-environment global state.
//! - `printf`: `cprintf!` and `snprintf!` (JOS's lib/printf.c); `panic`:
//!   user panics.
//! - `pgfault`: the page-fault upcall trampoline and the dispatcher of
//!   fault handlers (the handlers themselves are in `vm`).
//! - `uvpt`: reading our own page tables and page reference counts.
//! - `fork`: copy-on-write `fork` and `sfork`, and `atfork`.
//! - `ipc`: `ipc_send`, `ipc_recv`, `ipc_find_env`.
//! - `fd`: file descriptors (read, write, dup, close, ...) over devices:
//!   `file` (files through the file server: open, remove, sync), `console`
//!   (the console, JOS's lib/console.c), `pipe` (pipes).
//! - `fprintf`: `printf!` and `fprintf!` to a descriptor; `readline`.
//! - `rename`: renaming files (the server's FSREQ_RENAME).
//! - `spawn`: start a program from the file system, paged in on demand.
//! - `progress`: a clock for long work's progress lines (`sys_time_msec`).
//! - `time`: `sleep` (and `sleep_msec`) on the kernel's clock.
//! - `kargs`: the kernel's command-line words (`mac=`, the grader's
//!   switches such as `TESTOUTPUT_COUNT=`).
//! - `net`: sockets over IPC to the network server, and the server's
//!   input and output helpers (JOS's lab 6).
//! - `vm`: the fault handlers' helpers, the area list, copy-on-write, and
//!   the virtual-memory tricks (zero page, lazy heap and `malloc`, mmap,
//!   swap, ...).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

// memcpy, memmove, memset, ...: the only definitions in the build (lib/string).
extern crate string;

// The `alloc` crate (Vec, Box, String), served by `vm::malloc`'s global
// allocator; re-exported so programs can write `jos::alloc::vec::Vec`.
pub extern crate alloc;

pub mod args;
pub mod cell;
pub mod console;
pub mod cwd;
pub mod dsm;
pub mod entry;
pub mod env;
pub mod fd;
pub mod file;
pub mod fork;
pub mod fprintf;
pub mod ipc;
pub mod job;
pub mod kargs;
pub mod net;
pub mod panic;
pub mod pgfault;
pub mod pipe;
pub mod printf;
pub mod progress;
pub mod rand;
pub mod readline;
pub mod rename;
pub mod spawn;
pub mod syscall;
pub mod time;
pub mod uvpt;
pub mod vm;

pub use abi;
pub use env::{envs, exit, thisenv};
pub use fork::{fork, sfork};
pub use ipc::{ipc_find_env, ipc_recv, ipc_send};
pub use pgfault::set_pgfault_handler;

/// Declares the program's entry: `jos::main!(umain);` where
/// `fn umain(args: &[&str])`. Sets up the program name used by `panic!`.
#[macro_export]
macro_rules! main {
    ($umain:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn umain_entry(argc: i32, argv: *const *const u8, cwd: *const u8) {
            // SAFETY: `_start` passes the arguments it was started with.
            unsafe { $crate::entry::libmain(env!("CARGO_BIN_NAME"), argc, argv, cwd, $umain) };
        }
    };
}
