//! `cprintf!` for user programs (JOS's lib/printf.c): formats into a buffer
//! and hands it to `sys_cputs` in chunks, so one print is one system call
//! where it fits.
use crate::syscall::sys_cputs;

/// Bytes buffered per `sys_cputs`.
const BUF: usize = 256;

struct PrintBuf {
    buf: [u8; BUF],
    len: usize,
}

impl PrintBuf {
    fn putc(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
        if self.len == BUF {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            sys_cputs(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

/// Prints formatted text, in as few `sys_cputs` calls as fit (one for a
/// short line, so it is not interleaved with other environments' output);
/// used by `cprintf!`. Never inlined: each copy of its buffer's set-up,
/// the formatting call and the flush cost some 50 bytes, and the shell
/// alone has some twenty `cprintf!`s.
#[inline(never)]
pub fn print(args: core::fmt::Arguments) {
    use core::fmt::Write;
    let mut w = Writer::new();
    let _ = w.write_fmt(args);
    w.flush();
}

/// Formats into `buf`, always NUL-terminating it (truncating the text if
/// needed, as C's `snprintf`); returns the number of text bytes stored, not
/// counting the NUL. Stores nothing if `buf` is empty. Used by `snprintf!`.
pub fn format_into(buf: &mut [u8], args: core::fmt::Arguments) -> usize {
    struct Trunc<'a> {
        buf: &'a mut [u8],
        n: usize,
    }
    impl core::fmt::Write for Trunc<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for b in s.bytes() {
                if self.n < self.buf.len() {
                    self.buf[self.n] = b;
                    self.n += 1;
                }
            }
            Ok(())
        }
    }
    let Some(room) = buf.len().checked_sub(1) else {
        return 0;
    };
    let mut t = Trunc {
        buf: &mut buf[..room],
        n: 0,
    };
    let _ = core::fmt::Write::write_fmt(&mut t, args);
    let n = t.n;
    buf[n] = 0;
    n
}

/// A `core::fmt` sink that prints through `sys_cputs` (for `panic!`
/// messages), buffered so that a short message reaches the console in one
/// system call and is not interleaved with other environments' output.
/// Call [`Writer::flush`] at the end.
pub struct Writer {
    buf: PrintBuf,
}

impl Writer {
    /// Returns an empty writer.
    pub const fn new() -> Self {
        Writer {
            buf: PrintBuf {
                buf: [0; BUF],
                len: 0,
            },
        }
    }

    /// Prints whatever is buffered.
    pub fn flush(&mut self) {
        self.buf.flush();
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(|b| self.buf.putc(b));
        Ok(())
    }
}

/// Formats into a byte buffer: `snprintf!(buf, "{}", x)`; see
/// [`format_into`]. Returns the bytes stored.
#[macro_export]
macro_rules! snprintf {
    ($buf:expr, $($arg:tt)*) => {
        $crate::printf::format_into($buf, format_args!($($arg)*))
    };
}

/// Prints with Rust's format strings (`cprintf!("{:08x}\n", id)`): an
/// argument of the wrong type is a compile error.
#[macro_export]
macro_rules! cprintf {
    ($($arg:tt)*) => {
        $crate::printf::print(format_args!($($arg)*))
    };
}
