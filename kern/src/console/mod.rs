//! The console: every character goes to COM1 and the CGA screen; input comes
//! from COM1 and the PS/2 keyboard.
//!
//! Output is serialized by one lock, taken for a whole `cprintf!` call, so two
//! CPUs never interleave characters within one print.
pub mod cga;
pub mod kbd;
pub mod serial;

/// Prints to the console, like JOS's cprintf, with Rust's format strings
/// (`cprintf!("[{:08x}] new env {:08x}\n", a, b)`): an argument of the
/// wrong type is a compile error. An error code prints through the
/// `Display` of `abi::error::Error`.
#[macro_export]
macro_rules! cprintf {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!($($arg)*))
    };
}

use spin::Mutex;

/// The screen's state; holding this lock is holding the console.
static CONSOLE: Mutex<Option<cga::Cga>> = Mutex::new(None);

/// Initializes the serial port and the screen.
pub fn init() {
    let serial = serial::init();
    let mut cga = cga::Cga::init();
    // The firmware may have left its last line unfinished: start ours on a
    // fresh line. (SeaBIOS mirrors its screen to the serial port under
    // -nographic, lazily, so the serial column cannot be known.)
    serial::putc(b'\n');
    if !cga.at_line_start() {
        cga.putc(b'\n');
    }
    *CONSOLE.lock() = Some(cga);
    if !serial {
        cprintf!("Serial port does not exist!\n");
    }
}

/// Output with the console held.
pub struct Writer<'a> {
    cga: spin::MutexGuard<'a, Option<cga::Cga>>,
}

impl Drop for Writer<'_> {
    /// The screen's cursor catches up once the print is done.
    fn drop(&mut self) {
        if let Some(cga) = self.cga.as_ref() {
            cga.sync_cursor();
        }
    }
}

impl Writer<'_> {
    /// Writes one byte to every output device.
    pub fn putc(&mut self, c: u8) {
        serial::putc(c);
        if let Some(cga) = self.cga.as_mut() {
            cga.putc(c);
        }
    }
}

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(|b| self.putc(b));
        Ok(())
    }
}

/// Takes the console for a sequence of writes.
pub fn lock() -> Writer<'static> {
    Writer {
        cga: CONSOLE.lock(),
    }
}

/// Frees the console lock whoever holds it: only for the panic path, which
/// may have interrupted a print on this CPU.
///
/// # Safety
/// No other CPU may be printing (the panicking CPU has stopped the world or
/// accepts garbled output).
pub unsafe fn force_unlock() {
    if CONSOLE.is_locked() {
        // SAFETY: the caller accepts that a half-finished print is abandoned.
        unsafe { CONSOLE.force_unlock() };
    }
}

/// Writes formatted text, holding the console for the whole of it; used by
/// `cprintf!`.
pub fn print(args: core::fmt::Arguments) {
    use core::fmt::Write;
    let _ = lock().write_fmt(args);
}

/// Writes raw bytes (for `sys_cputs`).
pub fn cputs(s: &[u8]) {
    let mut w = lock();
    s.iter().for_each(|&b| w.putc(b));
}

/// Characters typed but not yet read (filled by interrupts and polling).
struct InputRing {
    buf: [u8; 512],
    rpos: usize,
    wpos: usize,
}

static INPUT: Mutex<InputRing> = Mutex::new(InputRing {
    buf: [0; 512],
    rpos: 0,
    wpos: 0,
});

/// Moves waiting characters from the serial port and keyboard into the
/// input buffer (the keyboard and serial interrupt handler). Once the
/// buffer is full it stops taking them: the rest wait in the UART and
/// QEMU (a long line pasted or typed by a test is not cut in the middle),
/// and are taken when a reader's `cons_getc` polls.
pub fn intr() {
    let mut ring = INPUT.lock();
    // Room for one more key's characters (an escape sequence at most).
    while ring.wpos - ring.rpos + kbd::MAX_SEQ <= ring.buf.len() {
        let key = match serial::getc() {
            Some(c) => kbd::Key::Char(c),
            None => match kbd::getc() {
                Some(key) => key,
                None => break,
            },
        };
        let mut push = |c: u8| {
            let c = if c == b'\r' { b'\n' } else { c };
            let (w, n) = (ring.wpos, ring.buf.len());
            ring.buf[w % n] = c;
            ring.wpos = w + 1;
        };
        match key {
            kbd::Key::Char(c) => push(c),
            kbd::Key::Seq(seq) => seq.iter().for_each(|&c| push(c)),
        }
    }
}

/// Returns the next input character from serial or keyboard, if any
/// (JOS's `cons_getc`, by that name in the symbol table: MIT's 2014 lab-5
/// grader stops QEMU at a breakpoint on it, as a sign that the kernel or
/// the shell waits for input).
#[unsafe(no_mangle)]
#[inline(never)]
pub fn cons_getc() -> Option<u8> {
    // Poll too: interrupts are off in the kernel.
    intr();
    let mut ring = INPUT.lock();
    if ring.rpos == ring.wpos {
        return None;
    }
    let c = ring.buf[ring.rpos % ring.buf.len()];
    ring.rpos += 1;
    Some(c)
}

/// Waits for an input character.
pub fn getchar() -> u8 {
    loop {
        if let Some(c) = cons_getc() {
            return c;
        }
        crate::arch::x86::pause();
    }
}
