//! Hardware mechanism: instruction wrappers, descriptor tables, boot entry.
pub mod entry;
pub mod gdt;
pub mod picirq;
pub mod x86;
