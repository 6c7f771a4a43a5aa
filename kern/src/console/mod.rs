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

/// How many envs [`InputRing`] remembers as controllers, the newest on top.
const NCTL: usize = 8;

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
///
/// Any env may take the role (as a Unix program may ignore SIGINT); the
/// ring keeps the last NCTL that took it, newest on top: the controller is
/// the top one. When it releases the role or is freed, it leaves the
/// stack and the one below it (the shell that ran it, say: `sh` run from
/// `sh`) is the controller again. Every entry is an env that exists
/// (env_gone takes out each one freed), so no id is ever restored to a
/// slot reused by another env. Taking the role again moves an env to the
/// top; when the stack is full the oldest entry is forgotten.
struct InputRing {
    buf: [u8; 512],
    rpos: usize,
    wpos: usize,
    /// The controllers, oldest first: `ctl[nctl - 1]` is the controller.
    ctl: [EnvId; NCTL],
    nctl: usize,
    /// Whether the controller reads the console itself (it called
    /// cons_getc since it last polled: the shell at its prompt), rather
    /// than waiting for a job (it polls).
    ctl_reads: bool,
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

    /// The controller's env id, 0 for none.
    fn controller(&self) -> EnvId {
        match self.nctl {
            0 => 0,
            n => self.ctl[n - 1],
        }
    }

    /// Takes `id` out of the stack of controllers, if it is there. A
    /// Ctrl-C marked for the controller goes if the controller changes.
    fn remove(&mut self, id: EnvId) {
        let top = self.controller();
        let n = self.nctl;
        if let Some(i) = self.ctl[..n].iter().position(|&c| c == id) {
            self.ctl.copy_within(i + 1..n, i);
            self.nctl = n - 1;
            self.ctl[n - 1] = 0;
        }
        if self.controller() != top {
            self.intr_at = None;
            self.ctl_reads = false;
        }
    }
}

static INPUT: Mutex<InputRing> = Mutex::new(InputRing {
    buf: [0; 512],
    rpos: 0,
    wpos: 0,
    ctl: [0; NCTL],
    nctl: 0,
    ctl_reads: false,
    intr_at: None,
});

/// Moves waiting characters from the serial port and keyboard into the
/// input buffer (the keyboard and serial interrupt handler). Once the
/// buffer is full, with no controller, it stops taking them: the rest wait
/// in the UART and QEMU (a long line pasted or typed by a test is not cut
/// in the middle), and are taken when a reader's `cons_getc` polls. With a
/// controller, a Ctrl-C is marked, not queued (see InputRing), and must
/// get through a full buffer (typed ahead to a job that never reads): so
/// while the controller waits for a job, a full buffer does not stop it:
/// it goes on taking keys and drops all but Ctrl-C, as a Unix tty does.
/// (A controller that reads the console, the shell at its prompt, empties
/// the buffer itself, and reaches the Ctrl-C behind a long paste without
/// losing the paste.) At most the buffer's length of keys per call: an
/// endless stream from the host cannot keep the kernel here.
pub fn intr() {
    let mut ring = INPUT.lock();
    for _ in 0..ring.buf.len() {
        let room = ring.has_room();
        if !room && (ring.controller() == 0 || ring.ctl_reads) {
            break;
        }
        let key = match serial::getc() {
            Some(c) => kbd::Key::Char(c),
            None => match kbd::getc() {
                Some(key) => key,
                None => break,
            },
        };
        match key {
            kbd::Key::Char(CTRL_C) if ring.controller() != 0 => {
                if ring.intr_at.is_none() {
                    ring.intr_at = Some(ring.wpos);
                }
            }
            _ if !room => {}
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
    if reader != 0 {
        let mut ring = INPUT.lock();
        if ring.controller() == reader {
            ring.ctl_reads = true;
        }
    }
    // Poll too: interrupts are off in the kernel.
    intr();
    let mut ring = INPUT.lock();
    if ring.intr_at == Some(ring.rpos) {
        if reader != 0 && reader != ring.controller() {
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
/// each prompt and before each job), on top of the stack of controllers
/// (see InputRing; if it was lower down, it moves to the top). A Ctrl-C
/// marked for another controller is dropped; one for `id` itself stays.
pub fn set_controller(id: EnvId) {
    let mut ring = INPUT.lock();
    if ring.controller() == id {
        return;
    }
    ring.remove(id);
    if ring.nctl == NCTL {
        // Full: the oldest is forgotten.
        ring.ctl.copy_within(1.., 0);
        ring.nctl -= 1;
    }
    let n = ring.nctl;
    ring.ctl[n] = id;
    ring.nctl = n + 1;
    ring.intr_at = None;
    ring.ctl_reads = false;
}

/// Whether env `id` is the console's controller.
pub fn is_controller(id: EnvId) -> bool {
    id != 0 && INPUT.lock().controller() == id
}

/// If env `id` is the controller and a Ctrl-C was typed for it: throws
/// away what was typed before it (unread input of the job it stops),
/// takes the mark and returns true. Otherwise false (for any other env,
/// always: only a typed Ctrl-C reaches the controller). The controller
/// asking means it waits for a job: from now until it reads the console,
/// a full buffer no longer holds a Ctrl-C back (see intr).
pub fn take_intr(id: EnvId) -> bool {
    let mut ring = INPUT.lock();
    if id != 0 && ring.controller() == id {
        ring.ctl_reads = false;
    }
    drop(ring);
    intr();
    let mut ring = INPUT.lock();
    match ring.intr_at {
        Some(at) if id != 0 && ring.controller() == id => {
            ring.rpos = at;
            ring.intr_at = None;
            true
        }
        _ => false,
    }
}

/// Env `id` is being freed, or gives up the role (sys_cons_ctl's
/// release): it leaves the stack of controllers. If it was the
/// controller, the one below it, if any, is the controller again (a
/// Ctrl-C marked for `id` goes); with none, 0x03 is an ordinary character
/// again.
pub fn env_gone(id: EnvId) {
    if id != 0 {
        INPUT.lock().remove(id);
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
