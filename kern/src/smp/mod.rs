//! Multiprocessor support: the local APIC and (later) CPU discovery.
pub mod lapic;
