//! Support shared by the test programs in `src/bin` (not part of the JOS
//! library a student replaces): spinning children on other CPUs and a
//! clock to bound waits for them.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod spin;
