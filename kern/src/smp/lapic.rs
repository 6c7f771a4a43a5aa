//! The local APIC (JOS's kern/lapic.c): CPU numbers, the periodic timer
//! that drives preemption, interrupts between CPUs (to start the APs and to
//! stop an env running elsewhere), and
//! end-of-interrupt.
use crate::arch::x86::outb;
use crate::pmap;
use abi::trap::{IRQ_ERROR, IRQ_OFFSET, IRQ_SPURIOUS, IRQ_TIMER};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use volatile::VolatilePtr;

// Register offsets (bytes).
const ID: usize = 0x020;
const VER: usize = 0x030;
const TPR: usize = 0x080;
const EOI: usize = 0x0B0;
const SVR: usize = 0x0F0;
const ENABLE: u32 = 0x100;
const ESR: usize = 0x280;
const ICRLO: usize = 0x300;
const INIT: u32 = 0x500;
const STARTUP: u32 = 0x600;
const DELIVS: u32 = 0x1000;
const ASSERT: u32 = 0x4000;
const LEVEL: u32 = 0x8000;
const BCAST: u32 = 0x80000;
const ICRHI: usize = 0x310;
const TIMER: usize = 0x320;
const X1: u32 = 0xB; // divide counts by 1
const PERIODIC: u32 = 0x20000;
const PCINT: usize = 0x340;
const LINT0: usize = 0x350;
const LINT1: usize = 0x360;
const ERROR: usize = 0x370;
const MASKED: u32 = 0x10000;
const TICR: usize = 0x380;
const TDCR: usize = 0x3E0;

/// Timer period in bus ticks (about 10 ms on QEMU).
const TIMER_TICKS: u32 = 10_000_000;

/// Where the LAPIC's registers are mapped (0 until lapic_init).
pub static LAPIC: AtomicUsize = AtomicUsize::new(0);

/// CPU index by APIC id (APIC ids need not be 0..n-1).
static INDEX: [AtomicU8; 256] = [const { AtomicU8::new(0) }; 256];

/// Records that the CPU with APIC id `apicid` is CPUS[index].
pub fn set_index(apicid: u8, index: usize) {
    INDEX[apicid as usize].store(index as u8, Ordering::Relaxed);
}

/// LAPIC register `reg` (a byte offset, one of the constants above), for
/// volatile reads and writes. Only called once lapic_init has mapped it.
fn register(reg: usize) -> VolatilePtr<'static, u32> {
    let va = LAPIC.load(Ordering::Relaxed) + reg;
    // SAFETY: the LAPIC page is mapped uncached at LAPIC, and reg is the
    // offset of a 32-bit register in it (so va is not null).
    unsafe { VolatilePtr::new(NonNull::new_unchecked(va as *mut u32)) }
}

fn lapicr(reg: usize) -> u32 {
    register(reg).read()
}

fn lapicw(reg: usize, v: u32) {
    register(reg).write(v);
    let _ = lapicr(ID); // wait for the write to finish
}

/// This CPU's number (its index in CPUS; 0 before the LAPIC is mapped).
pub fn cpunum() -> usize {
    if LAPIC.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    INDEX[(lapicr(ID) >> 24) as usize].load(Ordering::Relaxed) as usize
}

/// Maps (once) and sets up this CPU's LAPIC: enabled, periodic timer on
/// IRQ_TIMER, LINT pins masked except the boot CPU's LINT0 (the 8259As
/// arrive there), errors on IRQ_ERROR.
pub fn lapic_init() {
    let pa = crate::smp::mpconfig::LAPIC_PA.load(Ordering::Relaxed);
    if pa == 0 {
        return;
    }
    if LAPIC.load(Ordering::Relaxed) == 0 {
        LAPIC.store(pmap::mmio_map_region(pa, 4096), Ordering::Relaxed);
    }
    lapicw(SVR, ENABLE | (IRQ_OFFSET + IRQ_SPURIOUS));
    lapicw(TDCR, X1);
    lapicw(TIMER, PERIODIC | (IRQ_OFFSET + IRQ_TIMER));
    lapicw(TICR, TIMER_TICKS);
    if cpunum() != crate::smp::mpconfig::BOOTCPU.load(Ordering::Relaxed) {
        lapicw(LINT0, MASKED);
    }
    lapicw(LINT1, MASKED);
    if (lapicr(VER) >> 16) & 0xFF >= 4 {
        lapicw(PCINT, MASKED);
    }
    lapicw(ERROR, IRQ_OFFSET + IRQ_ERROR);
    lapicw(ESR, 0);
    lapicw(ESR, 0);
    lapicw(EOI, 0);
    // Synchronise arbitration ids: broadcast INIT level de-assert.
    lapicw(ICRHI, 0);
    lapicw(ICRLO, BCAST | INIT | LEVEL);
    while lapicr(ICRLO) & DELIVS != 0 {}
    lapicw(TPR, 0);
}

/// Acknowledges the current interrupt (no-op without a LAPIC).
pub fn lapic_eoi() {
    if LAPIC.load(Ordering::Relaxed) != 0 {
        lapicw(EOI, 0);
    }
}

/// Sends interrupt `vector` to the CPU with APIC id `apicid` (a fixed,
/// edge-triggered inter-processor interrupt) and waits until the LAPIC has
/// sent it.
pub fn lapic_ipi(apicid: u8, vector: u32) {
    lapicw(ICRHI, (apicid as u32) << 24);
    lapicw(ICRLO, ASSERT | vector);
    while lapicr(ICRLO) & DELIVS != 0 {
        core::hint::spin_loop();
    }
}

/// Starts the application processor `apicid` at physical `addr` (page
/// aligned, below 1 MiB) with the INIT / STARTUP sequence.
pub fn lapic_startap(apicid: u8, addr: usize) {
    // The warm-reset vector (40:67) points at the trampoline, and CMOS
    // shutdown code 0xA says to use it.
    // SAFETY: CMOS ports and the BIOS data area are ours during boot; the
    // latter is mapped at KERNBASE.
    unsafe {
        outb(0x70, 0xF);
        outb(0x71, 0x0A);
        // 0x467 is not 2-byte aligned: write the vector as bytes.
        let wrv = NonNull::new_unchecked(pmap::kaddr(0x467) as *mut [u8; 4]);
        let seg = ((addr >> 4) as u16).to_le_bytes();
        VolatilePtr::new(wrv).write([0, 0, seg[0], seg[1]]);
    }
    let dest = (apicid as u32) << 24;
    lapicw(ICRHI, dest);
    lapicw(ICRLO, INIT | LEVEL | ASSERT);
    microdelay(200);
    lapicw(ICRLO, INIT | LEVEL);
    microdelay(100);
    for _ in 0..2 {
        lapicw(ICRHI, dest);
        lapicw(ICRLO, STARTUP | (addr >> 12) as u32);
        microdelay(200);
    }
}

/// Waits roughly `us` microseconds (only needed on real hardware).
fn microdelay(us: u32) {
    for _ in 0..us * 10 {
        core::hint::spin_loop();
    }
}
