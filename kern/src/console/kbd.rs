//! The PS/2 keyboard: scan code set 1 to ASCII, with shift, ctrl and caps lock.
use crate::arch::x86::inb;
use core::sync::atomic::{AtomicU32, Ordering};

const KBSTATP: u16 = 0x64;
const KBS_DIB: u8 = 0x01; // data in buffer
const KBDATAP: u16 = 0x60;

const SHIFT: u32 = 1 << 0;
const CTL: u32 = 1 << 1;
const ALT: u32 = 1 << 2;
const CAPSLOCK: u32 = 1 << 3;
const E0ESC: u32 = 1 << 6;

/// Modifier state (only the console's input path touches it).
static SHIFT_STATE: AtomicU32 = AtomicU32::new(0);

/// Unshifted keys, indexed by scan code.
const NORMAL: &[u8; 58] =
    b"\0\x1b1234567890-=\x08\tqwertyuiop[]\n\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 ";
/// Shifted keys.
const SHIFTED: &[u8; 58] =
    b"\0\x1b!@#$%^&*()_+\x08\tQWERTYUIOP{}\n\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 ";

fn modifier(code: u8) -> u32 {
    match code {
        0x1D => CTL,
        0x2A | 0x36 => SHIFT,
        0x38 => ALT,
        _ => 0,
    }
}

/// Returns the next typed character, if a key event is waiting.
pub fn getc() -> Option<u8> {
    // SAFETY: the keyboard controller's ports belong to the console driver.
    let data = unsafe {
        if inb(KBSTATP) & KBS_DIB == 0 {
            return None;
        }
        inb(KBDATAP)
    };
    let mut st = SHIFT_STATE.load(Ordering::Relaxed);
    if data == 0xE0 {
        SHIFT_STATE.store(st | E0ESC, Ordering::Relaxed);
        return None;
    }
    if data & 0x80 != 0 {
        // Key release: only modifiers matter.
        st &= !(modifier(data & 0x7F) | E0ESC);
        SHIFT_STATE.store(st, Ordering::Relaxed);
        return None;
    }
    let escaped = st & E0ESC != 0;
    st &= !E0ESC;
    st |= modifier(data);
    if data == 0x3A {
        st ^= CAPSLOCK;
    }
    SHIFT_STATE.store(st, Ordering::Relaxed);
    if escaped && data == 0x1C {
        return Some(b'\n'); // keypad enter
    }
    let table = if st & SHIFT != 0 { SHIFTED } else { NORMAL };
    let mut c = *table.get(data as usize)?;
    if c == 0 {
        return None;
    }
    if st & CTL != 0 && c.is_ascii_alphabetic() {
        c = c.to_ascii_lowercase() - b'a' + 1;
    } else if st & CAPSLOCK != 0 && c.is_ascii_alphabetic() {
        c ^= 0x20;
    }
    Some(c)
}
