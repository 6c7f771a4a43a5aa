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

/// Cells `2i` and `2i + 1` of the text buffer as one 32-bit word, for
/// volatile writes (half as many bus writes as cell by cell). Panics if
/// off the screen.
///
/// (Word by word: indexing a volatile slice needs the `volatile` crate's
/// nightly-only `unstable` feature.)
fn pair(i: usize) -> VolatilePtr<'static, u32> {
    assert!(i < CRT_SIZE / 2, "CGA cell pair {i} off the screen");
    // SAFETY: the text buffer is mapped at KERNBASE + 0xB8000 (both by the
    // entry page directory and by the kernel's), 4-byte aligned, and
    // 2i + 1 < CRT_SIZE.
    unsafe { VolatilePtr::new(NonNull::new_unchecked((CGA_BUF as *mut u32).add(i))) }
}

/// The screen: the cursor position and a copy of the text buffer in
/// ordinary memory, so that scrolling never reads the (slow, memory-mapped)
/// buffer, and writes it in whole words. Only touched with the console lock
/// held.
pub struct Cga {
    pos: usize,
    shadow: [u16; CRT_SIZE],
}

impl Cga {
    /// Reads the hardware cursor position and the screen's contents.
    pub fn init() -> Cga {
        // SAFETY: the CRT controller's ports belong to the console driver.
        let pos = unsafe {
            outb(CGA_PORT, 14);
            let hi = inb(CGA_PORT + 1) as usize;
            outb(CGA_PORT, 15);
            hi << 8 | inb(CGA_PORT + 1) as usize
        };
        let mut shadow = [0; CRT_SIZE];
        for (i, c) in shadow.chunks_exact_mut(2).enumerate() {
            let w = pair(i).read();
            c[0] = w as u16;
            c[1] = (w >> 16) as u16;
        }
        Cga {
            pos: pos.min(CRT_SIZE - 1),
            shadow,
        }
    }

    /// Whether the cursor is at the start of a line.
    pub fn at_line_start(&self) -> bool {
        self.pos.is_multiple_of(CRT_COLS)
    }

    /// Sets cell `i` on the screen and in the copy.
    fn write(&mut self, i: usize, v: u16) {
        self.shadow[i] = v;
        let j = i & !1;
        pair(j / 2).write(self.shadow[j] as u32 | (self.shadow[j + 1] as u32) << 16);
    }

    /// Puts one character, handling \n, \r, \t and backspace, scrolling
    /// at the end. The hardware cursor follows at `sync_cursor`.
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
            // Scroll: move the copy up a line, then write the whole screen
            // from it, two cells per bus write (C JOS moves the buffer
            // itself, reading it too).
            self.shadow.copy_within(CRT_COLS.., 0);
            self.shadow[CRT_SIZE - CRT_COLS..].fill(ATTR | b' ' as u16);
            for (i, c) in self.shadow.chunks_exact(2).enumerate() {
                pair(i).write(c[0] as u32 | (c[1] as u32) << 16);
            }
            self.pos -= CRT_COLS;
        }
    }

    /// Moves the hardware cursor to where the next character goes (once per
    /// print, not per character: each move is four port writes).
    pub fn sync_cursor(&self) {
        // SAFETY: the CRT controller's ports belong to the console driver.
        unsafe {
            outb(CGA_PORT, 14);
            outb(CGA_PORT + 1, (self.pos >> 8) as u8);
            outb(CGA_PORT, 15);
            outb(CGA_PORT + 1, self.pos as u8);
        }
    }
}
