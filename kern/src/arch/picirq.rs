//! The two 8259A interrupt controllers (JOS's kern/picirq.c).
//!
//! Remapped so IRQ n arrives as vector IRQ_OFFSET + n, and masked except for
//! the cascade (IRQ 2) and what drivers enable. The LAPIC timer is used for
//! preemption, not the PIT.
use crate::arch::x86::{inb, outb};
use abi::trap::IRQ_OFFSET;
use core::sync::atomic::{AtomicU16, Ordering};

const IO_PIC1: u16 = 0x20;
const IO_PIC2: u16 = 0xA0;
const IRQ_SLAVE: u8 = 2;

/// The current mask (1 = masked); starts with everything but the cascade off.
static MASK: AtomicU16 = AtomicU16::new(!(1 << IRQ_SLAVE));

/// Remaps and masks both PICs.
pub fn pic_init() {
    // SAFETY: the PICs' ports belong to this driver.
    unsafe {
        outb(IO_PIC1 + 1, 0xFF);
        outb(IO_PIC2 + 1, 0xFF);
        // Master: ICW1 edge-triggered, cascade, ICW4; ICW2 vector base;
        // ICW3 slave on IRQ 2; ICW4 auto EOI, 8086 mode.
        outb(IO_PIC1, 0x11);
        outb(IO_PIC1 + 1, IRQ_OFFSET as u8);
        outb(IO_PIC1 + 1, 1 << IRQ_SLAVE);
        outb(IO_PIC1 + 1, 0x3);
        // Slave: the same, vectors after the master's, cascade identity 2.
        outb(IO_PIC2, 0x11);
        outb(IO_PIC2 + 1, IRQ_OFFSET as u8 + 8);
        outb(IO_PIC2 + 1, IRQ_SLAVE);
        outb(IO_PIC2 + 1, 0x1);
        // OCW3: read the IRR by default.
        outb(IO_PIC1, 0x68);
        outb(IO_PIC1, 0x0a);
        outb(IO_PIC2, 0x68);
        outb(IO_PIC2, 0x0a);
    }
    irq_setmask(MASK.load(Ordering::Relaxed));
}

/// Sets the mask (bit n set: IRQ n off) and prints the enabled IRQs.
pub fn irq_setmask(mask: u16) {
    MASK.store(mask, Ordering::Relaxed);
    // SAFETY: the PICs' ports belong to this driver.
    unsafe {
        outb(IO_PIC1 + 1, mask as u8);
        outb(IO_PIC2 + 1, (mask >> 8) as u8);
    }
    cprintf!("enabled interrupts:");
    for i in 0..16 {
        if mask & (1 << i) == 0 {
            cprintf!(" {}", i);
        }
    }
    cprintf!("\n");
}

/// Unmasks IRQ `irq`.
pub fn irq_enable(irq: u32) {
    irq_setmask(MASK.load(Ordering::Relaxed) & !(1 << irq));
}

/// Acknowledges IRQ `irq` at the end of its handler: the master runs in
/// automatic EOI mode and needs nothing, the slave (IRQs 8 to 15, where
/// PCI devices such as the E1000 usually are) needs an end-of-interrupt,
/// or it delivers no IRQ of its own again.
pub fn irq_eoi(irq: u32) {
    if (8..16).contains(&irq) {
        // SAFETY: the PICs' ports belong to this driver; OCW2 0x60 | n is
        // a specific EOI for the slave's line n.
        unsafe { outb(IO_PIC2, 0x60 | (irq - 8) as u8) };
    }
}

/// Whether an interrupt on the slave's last line (IRQ 15) is spurious:
/// the slave raised a line that dropped before the CPU took it (its
/// in-service bit is clear). Such an interrupt needs no end-of-interrupt
/// and has no handler: it is ignored. Only once a slave IRQ is enabled
/// (a PCI device's) can one come.
pub fn slave_spurious() -> bool {
    // SAFETY: the PICs' ports belong to this driver. OCW3 0x0b selects
    // the in-service register for the next read, 0x0a the request
    // register again (pic_init's default).
    unsafe {
        outb(IO_PIC2, 0x0b);
        let isr = inb(IO_PIC2);
        outb(IO_PIC2, 0x0a);
        isr & 0x80 == 0
    }
}
