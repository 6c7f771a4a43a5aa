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

use abi::env::EnvId;
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

/// Ctrl-C, the character that interrupts the console's controller.
pub const CTRL_C: u8 = 0x03;

/// Characters typed but not yet read (filled by interrupts and polling),
/// and the console's controller.
///
/// The controller (JOS has none; a Unix terminal's foreground process
/// group is the nearest thing) is the env that asked to be told of Ctrl-C
/// (sys_cons_ctl): the interactive shell. While there is one, a Ctrl-C
/// typed is not queued as a character: the ring remembers where in the
/// input it was typed (`intr_at`), a mark no other reader reads past. The
/// controller either asks whether it came (sys_cons_ctl's poll, while it
/// waits for a job, which it then stops: what was typed before the mark,
/// the job's unread input, is thrown away), or reads the console itself
/// and gets the character 0x03 at the mark (at its prompt). Only the
/// kernel sets the mark, and only from a key typed: no env can forge one.
/// With no controller, 0x03 is an ordinary character, as in JOS.
struct InputRing {
    buf: [u8; 512],
    rpos: usize,
    wpos: usize,
    /// The controller's env id, 0 for none.
    ctl: EnvId,
    /// Where a Ctrl-C for the controller was typed (a `wpos`), if one was
    /// and it has not taken it yet; later ones until then are dropped.
    intr_at: Option<usize>,
}

impl InputRing {
    /// Room for one more key's characters (an escape sequence at most).
    fn has_room(&self) -> bool {
        self.wpos - self.rpos + kbd::MAX_SEQ <= self.buf.len()
    }

    /// Appends `c` (the caller checked there is room).
    fn push(&mut self, c: u8) {
        let (w, n) = (self.wpos, self.buf.len());
        self.buf[w % n] = c;
        self.wpos = w + 1;
    }
}

static INPUT: Mutex<InputRing> = Mutex::new(InputRing {
    buf: [0; 512],
    rpos: 0,
    wpos: 0,
    ctl: 0,
    intr_at: None,
});

/// Moves waiting characters from the serial port and keyboard into the
/// input buffer (the keyboard and serial interrupt handler). Once the
/// buffer is full it stops taking them: the rest wait in the UART and
/// QEMU (a long line pasted or typed by a test is not cut in the middle),
/// and are taken when a reader's `cons_getc` polls. A Ctrl-C with a
/// controller is marked, not queued (see InputRing).
pub fn intr() {
    let mut ring = INPUT.lock();
    while ring.has_room() {
        let key = match serial::getc() {
            Some(c) => kbd::Key::Char(c),
            None => match kbd::getc() {
                Some(key) => key,
                None => break,
            },
        };
        match key {
            kbd::Key::Char(CTRL_C) if ring.ctl != 0 => {
                if ring.intr_at.is_none() {
                    ring.intr_at = Some(ring.wpos);
                }
            }
            kbd::Key::Char(b'\r') => ring.push(b'\n'),
            kbd::Key::Char(c) => ring.push(c),
            kbd::Key::Seq(seq) => seq.iter().for_each(|&c| ring.push(c)),
        }
    }
}

/// Returns the next input character from serial or keyboard, if any, for
/// `reader`: the env reading (sys_cgetc), or 0 for the kernel (its
/// monitor). At a Ctrl-C's mark (see InputRing), the controller and the
/// kernel get 0x03 and the mark goes; any other env gets nothing until
/// the controller has taken it. (JOS's `cons_getc`, by that name in the
/// symbol table: MIT's 2014 lab-5 grader stops QEMU at a breakpoint on
/// it, as a sign that the kernel or the shell waits for input.)
#[unsafe(no_mangle)]
#[inline(never)]
pub fn cons_getc(reader: EnvId) -> Option<u8> {
    // Poll too: interrupts are off in the kernel.
    intr();
    let mut ring = INPUT.lock();
    if ring.intr_at == Some(ring.rpos) {
        if reader != 0 && reader != ring.ctl {
            return None;
        }
        ring.intr_at = None;
        return Some(CTRL_C);
    }
    if ring.rpos == ring.wpos {
        return None;
    }
    let c = ring.buf[ring.rpos % ring.buf.len()];
    ring.rpos += 1;
    Some(c)
}

/// Makes env `id` the console's controller (the interactive shell, at
/// each prompt), in place of any other. A Ctrl-C marked for another
/// controller is dropped; one for `id` itself stays.
pub fn set_controller(id: EnvId) {
    let mut ring = INPUT.lock();
    if ring.ctl != id {
        ring.ctl = id;
        ring.intr_at = None;
    }
}

/// If env `id` is the controller and a Ctrl-C was typed for it: throws
/// away what was typed before it (unread input of the job it stops),
/// takes the mark and returns true. Otherwise false (for any other env,
/// always: only a typed Ctrl-C reaches the controller).
pub fn take_intr(id: EnvId) -> bool {
    intr();
    let mut ring = INPUT.lock();
    match ring.intr_at {
        Some(at) if id != 0 && ring.ctl == id => {
            ring.rpos = at;
            ring.intr_at = None;
            true
        }
        _ => false,
    }
}

/// Env `id` is being freed: if it was the controller, there is none any
/// more (a Ctrl-C marked for it goes, and 0x03 is an ordinary character
/// again).
pub fn env_gone(id: EnvId) {
    let mut ring = INPUT.lock();
    if ring.ctl == id {
        ring.ctl = 0;
        ring.intr_at = None;
    }
}

/// Waits for an input character.
pub fn getchar() -> u8 {
    loop {
        if let Some(c) = cons_getc(0) {
            return c;
        }
        crate::arch::x86::pause();
    }
}
