//! The COM1 serial port (a 16550 UART), JOS's serial_* in kern/console.c.
use crate::arch::x86::{inb, outb};

const COM1: u16 = 0x3F8;
const COM_RX: u16 = 0; // in: receive buffer (DLAB = 0)
const COM_TX: u16 = 0; // out: transmit buffer (DLAB = 0)
const COM_DLL: u16 = 0; // out: divisor latch low (DLAB = 1)
const COM_DLM: u16 = 1; // out: divisor latch high (DLAB = 1)
const COM_IER: u16 = 1; // out: interrupt enable
const COM_IER_RDI: u8 = 0x01; // enable receiver data interrupt
const COM_IIR: u16 = 2; // in: interrupt identification
const COM_FCR: u16 = 2; // out: FIFO control
const COM_LCR: u16 = 3; // out: line control
const COM_LCR_DLAB: u8 = 0x80;
const COM_LCR_WLEN8: u8 = 0x03;
const COM_MCR: u16 = 4; // out: modem control
const COM_MCR_RTS: u8 = 0x02;
const COM_MCR_DTR: u8 = 0x01;
const COM_MCR_OUT2: u8 = 0x08;
const COM_LSR: u16 = 5; // in: line status
const COM_LSR_DATA: u8 = 0x01;
const COM_LSR_TXRDY: u8 = 0x20;
const COM_LSR_TEMT: u8 = 0x40; // transmitter empty

/// Whether a UART answered at COM1.
static EXISTS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Sets COM1 to 9600 baud, 8N1, receive interrupts on; returns whether it exists.
pub fn init() -> bool {
    // SAFETY: COM1's registers belong to the console driver.
    unsafe {
        // Let the firmware's last characters drain before reprogramming
        // (turning the FIFO off would drop them).
        for _ in 0..100_000 {
            if inb(COM1 + COM_LSR) & COM_LSR_TEMT != 0 {
                break;
            }
        }
        outb(COM1 + COM_FCR, 0); // FIFOs off
        outb(COM1 + COM_LCR, COM_LCR_DLAB);
        outb(COM1 + COM_DLL, (115_200 / 9600) as u8);
        outb(COM1 + COM_DLM, 0);
        outb(COM1 + COM_LCR, COM_LCR_WLEN8);
        outb(COM1 + COM_MCR, COM_MCR_RTS | COM_MCR_DTR | COM_MCR_OUT2);
        outb(COM1 + COM_IER, COM_IER_RDI);
        // A missing port reads as 0xFF.
        let exists = inb(COM1 + COM_LSR) != 0xFF;
        let _ = inb(COM1 + COM_IIR);
        EXISTS.store(exists, core::sync::atomic::Ordering::Relaxed);
        exists
    }
}

/// Sends one byte, waiting (boundedly) for the transmitter.
pub fn putc(c: u8) {
    if !EXISTS.load(core::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // SAFETY: COM1's registers belong to the console driver.
    unsafe {
        for _ in 0..12800 {
            if inb(COM1 + COM_LSR) & COM_LSR_TXRDY != 0 {
                break;
            }
            // A short delay: port 0x84 is unused.
            let _ = inb(0x84);
        }
        outb(COM1 + COM_TX, c);
    }
}

/// Returns a received byte, if any.
pub fn getc() -> Option<u8> {
    if !EXISTS.load(core::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    // SAFETY: COM1's registers belong to the console driver.
    unsafe {
        if inb(COM1 + COM_LSR) & COM_LSR_DATA == 0 {
            return None;
        }
        Some(inb(COM1 + COM_RX))
    }
}
