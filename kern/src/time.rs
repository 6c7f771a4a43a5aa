//! Time since boot (JOS's kern/time.c, lab 6): CPU 0's timer interrupts,
//! counted. `sys_time_msec` reads it.
use core::sync::atomic::{AtomicU32, Ordering};

/// Milliseconds between two timer interrupts: the LAPIC timer's period
/// (`TIMER_TICKS` bus cycles at QEMU's 1 GHz APIC bus, see lapic.rs).
const MS_PER_TICK: u32 = 10;

/// Timer interrupts taken by CPU 0 since boot.
static TICKS: AtomicU32 = AtomicU32::new(0);

/// Counts one timer interrupt (called on CPU 0 only, so that more CPUs do
/// not make time run faster).
pub fn time_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Returns the milliseconds since boot, in 10 ms steps. It wraps after 49
/// days (JOS panics there instead: a user can wait that long, and the
/// kernel never panics because of what a user did). A tick QEMU could not
/// deliver in time (the host busy) is lost, so this runs slow rather than
/// fast under load.
pub fn time_msec() -> u32 {
    TICKS.load(Ordering::Relaxed).wrapping_mul(MS_PER_TICK)
}
