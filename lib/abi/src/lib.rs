//! The ABI shared by the JOS kernel and its user library.
//!
//! Everything that both sides of the user/kernel boundary must agree on lives
//! here, exactly once: the virtual memory layout ([`memlayout`]), page-table
//! arithmetic and entry formats ([`mmu`]), error codes ([`error`]), system-call
//! numbers ([`syscall`]), trap numbers and frames ([`trap`]), the `Env` record
//! that user code reads at `UENVS` ([`mod@env`]) and the ELF format the loader
//! accepts ([`elf`]).
//!
//! The crate is `no_std` and uses no floating point, so it builds for the
//! soft-float i686 kernel target as well as for the host, where
//! `cargo test -p abi` runs its unit tests.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
// Nothing here needs `unsafe`: headers are decoded from byte slices and all
// structures are plain data. Keep it that way unless there is no alternative.
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate alloc;

pub mod elf;
pub mod env;
pub mod error;
pub mod fsipc;
pub mod memlayout;
pub mod mmu;
pub mod net;
pub mod nsipc;
pub mod syscall;
pub mod trap;
