//! Code shared by several user programs (each program is a binary in
//! `src/bin/`; what more than one of them needs lives here).
//!
//! - `fuzz`: the random system-call engine of `syscallfuzz` and `fuzzstorm`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod fuzz;
