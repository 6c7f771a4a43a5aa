//! The PS/2 keyboard: scan code set 1 to ASCII, with shift, ctrl and caps lock.
//!
//! The cursor keys (E0-prefixed scan codes; JOS's kbd.c maps them to its
//! KEY_UP, KEY_DN, ... codes above 0xE0) become the escape sequences a
//! VT100 terminal sends for them (`ESC [ A` for up, ...), as a PC
//! console does: a program then sees the same bytes whether a key was
//! pressed on the PC keyboard or in a terminal on the serial port, and
//! the library's line editor knows only one form.
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

/// The modifier key `code` is, if any (`escaped`: it came after E0). E0 2A
/// and E0 36 are not the shift keys but the "fake shifts" a keyboard sends
/// around a cursor key or Print Screen (to undo or fake a shift held):
/// they change nothing. E0 1D and E0 38 are the right Ctrl and Alt.
fn modifier(code: u8, escaped: bool) -> u32 {
    match code {
        0x1D => CTL,
        0x2A | 0x36 if !escaped => SHIFT,
        0x38 => ALT,
        _ => 0,
    }
}

/// What one key press gives.
pub enum Key {
    /// One character.
    Char(u8),
    /// An escape sequence (a cursor key), at most [`MAX_SEQ`] bytes.
    Seq(&'static [u8]),
}

/// The longest escape sequence a key gives.
pub const MAX_SEQ: usize = 4;

/// The escape sequence of an E0-prefixed key (the cursor keys and the
/// ones above them), if it has one.
fn escaped_key(code: u8) -> Option<&'static [u8]> {
    Some(match code {
        0x48 => b"\x1b[A",  // up
        0x50 => b"\x1b[B",  // down
        0x4D => b"\x1b[C",  // right
        0x4B => b"\x1b[D",  // left
        0x47 => b"\x1b[H",  // home
        0x4F => b"\x1b[F",  // end
        0x53 => b"\x1b[3~", // delete
        _ => return None,
    })
}

/// Returns what the next key press typed, if a key event is waiting and
/// types something (a release, a modifier or an unknown key: None).
pub fn getc() -> Option<Key> {
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
    let escaped = st & E0ESC != 0;
    if data & 0x80 != 0 {
        // Key release: only modifiers matter.
        st &= !(modifier(data & 0x7F, escaped) | E0ESC);
        SHIFT_STATE.store(st, Ordering::Relaxed);
        return None;
    }
    st &= !E0ESC;
    st |= modifier(data, escaped);
    if data == 0x3A {
        st ^= CAPSLOCK;
    }
    SHIFT_STATE.store(st, Ordering::Relaxed);
    if escaped && data == 0x1C {
        return Some(Key::Char(b'\n')); // keypad enter
    }
    if escaped && let Some(seq) = escaped_key(data) {
        return Some(Key::Seq(seq));
    }
    // Other E0 keys type nothing but the keypad's `/` (E0 37, Print
    // Screen, is not the keypad's `*`).
    if escaped && data != 0x35 {
        return None;
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
    Some(Key::Char(c))
}
