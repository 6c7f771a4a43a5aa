//! Hardware mechanism: instruction wrappers and the boot entry code.
pub mod entry;
pub mod x86;
