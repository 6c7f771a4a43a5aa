//! The CGA/VGA text screen (80x25 at physical 0xB8000), with scrolling.
use crate::arch::x86::{inb, outb};
use abi::memlayout::KERNBASE;
use core::ptr::NonNull;
use volatile::VolatilePtr;

const CRT_ROWS: usize = 25;
const CRT_COLS: usize = 80;
const CRT_SIZE: usize = CRT_ROWS * CRT_COLS;
const CGA_BUF: usize = KERNBASE + 0xB8000;
const CGA_PORT: u16 = 0x3D4;
/// Light grey on black.
const ATTR: u16 = 0x0700;

/// Cell `i` of the text buffer (character | attribute << 8), for volatile
/// reads and writes. Panics if `i` is off the screen.
///
/// (One cell at a time: indexing a volatile slice needs the `volatile`
/// crate's nightly-only `unstable` feature.)
fn cell(i: usize) -> VolatilePtr<'static, u16> {
    assert!(i < CRT_SIZE, "CGA cell {i} off the screen");
    // SAFETY: the text buffer is mapped at KERNBASE + 0xB8000 (both by the
    // entry page directory and by the kernel's), and i < CRT_SIZE.
    unsafe { VolatilePtr::new(NonNull::new_unchecked((CGA_BUF as *mut u16).add(i))) }
}

/// The cursor position; only touched with the console lock held.
pub struct Cga {
    pos: usize,
}

impl Cga {
    /// Reads the hardware cursor position.
    pub fn init() -> Cga {
        // SAFETY: the CRT controller's ports belong to the console driver.
        let pos = unsafe {
            outb(CGA_PORT, 14);
            let hi = inb(CGA_PORT + 1) as usize;
            outb(CGA_PORT, 15);
            hi << 8 | inb(CGA_PORT + 1) as usize
        };
        Cga {
            pos: pos.min(CRT_SIZE - 1),
        }
    }

    /// Whether the cursor is at the start of a line.
    pub fn at_line_start(&self) -> bool {
        self.pos.is_multiple_of(CRT_COLS)
    }

    fn write(&self, i: usize, v: u16) {
        cell(i).write(v);
    }

    fn read(&self, i: usize) -> u16 {
        cell(i).read()
    }

    /// Puts one character, handling \n, \r, \t and backspace, scrolling at the end.
    pub fn putc(&mut self, c: u8) {
        match c {
            b'\x08' => {
                if self.pos > 0 {
                    self.pos -= 1;
                    self.write(self.pos, ATTR | b' ' as u16);
                }
            }
            b'\n' => self.pos += CRT_COLS - self.pos % CRT_COLS,
            b'\r' => self.pos -= self.pos % CRT_COLS,
            b'\t' => {
                for _ in 0..4 {
                    self.putc(b' ');
                }
            }
            _ => {
                self.write(self.pos, ATTR | c as u16);
                self.pos += 1;
            }
        }
        if self.pos >= CRT_SIZE {
            for i in 0..CRT_SIZE - CRT_COLS {
                self.write(i, self.read(i + CRT_COLS));
            }
            for i in CRT_SIZE - CRT_COLS..CRT_SIZE {
                self.write(i, ATTR | b' ' as u16);
            }
            self.pos -= CRT_COLS;
        }
        // SAFETY: the CRT controller's ports belong to the console driver.
        unsafe {
            outb(CGA_PORT, 14);
            outb(CGA_PORT + 1, (self.pos >> 8) as u8);
            outb(CGA_PORT, 15);
            outb(CGA_PORT + 1, self.pos as u8);
        }
    }
}
