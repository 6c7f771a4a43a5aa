//! Code shared by several user programs (each program is a binary in
//! `user/<group>/src/bin/`; what more than one of them needs lives here):
//! test support and the utilities' common parts, not part of the JOS
//! library a student replaces.
//!
//! - `child`: a forked child that runs one function (`fork_child`,
//!   `run_child`: and waits for it).
//! - `cli`: for the command-line programs (cat, ls, wc, grep, ...): error
//!   messages with the program's name, whole writes, lines, cp's and mv's
//!   arguments.
//! - `dir`: a directory's records in use, in order (ls, rm -r).
//! - `dsmrun`: the DSM programs' run in a child, with its page count.
//! - `fuzz`: the random system-call engine of `syscallfuzz` and `fuzzstorm`.
//! - `fpu`: x87 instructions by hand (fpuleak, fuzzstorm).
//! - `rawfmt`: formatted text written byte by byte to a raw address
//!   (faultalloc, faultallocbad).
//! - `spin`: spinner children on other CPUs and a clock to bound waits for
//!   them (smpkill, killrace, fuzzstorm), and the page a test shares with
//!   its children (`SHARED`, `map_shared`; orphans too).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod child;
pub mod cli;
pub mod dir;
pub mod dsmrun;
pub mod fpu;
pub mod fuzz;
pub mod rawfmt;
pub mod spin;
