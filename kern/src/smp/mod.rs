//! Multiprocessor support: finding the CPUs, the local APIC, and starting
//! the application processors.
pub mod lapic;
pub mod mpconfig;
pub mod mpentry;
