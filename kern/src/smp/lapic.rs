//! The local APIC: CPU numbers, the timer, end-of-interrupt.
use core::sync::atomic::{AtomicUsize, Ordering};

/// Where the LAPIC's registers are mapped (0 until lapic_init).
pub static LAPIC: AtomicUsize = AtomicUsize::new(0);

/// This CPU's number (its LAPIC id; 0 before the LAPIC is mapped).
pub fn cpunum() -> usize {
    let base = LAPIC.load(Ordering::Relaxed);
    if base == 0 {
        return 0;
    }
    // SAFETY: the LAPIC ID register (offset 0x20) is mapped at base.
    (unsafe { ((base + 0x20) as *const u32).read_volatile() } >> 24) as usize
}

/// Acknowledges the current interrupt (no-op without a LAPIC).
pub fn lapic_eoi() {
    let base = LAPIC.load(Ordering::Relaxed);
    if base != 0 {
        // SAFETY: the EOI register (offset 0xB0) is mapped at base.
        unsafe { ((base + 0xB0) as *mut u32).write_volatile(0) };
    }
}
