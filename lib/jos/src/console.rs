//! `cprintf!` for user programs: formats into a buffer and hands it to
//! `sys_cputs` in chunks, so one print is one system call where it fits.
use crate::syscall::sys_cputs;
use printfmt::Arg;

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

/// Formats printf-style and prints; used by `cprintf!`.
pub fn vcprintf(fmt: &str, args: &[Arg]) {
    let mut pb = PrintBuf {
        buf: [0; BUF],
        len: 0,
    };
    printfmt::vprintfmt(&mut |b| pb.putc(b), fmt, args);
    pb.flush();
}

/// Formats printf-style into `buf`, always NUL-terminating it (truncating
/// the text if needed, as C's `snprintf`); returns the number of text bytes
/// stored, not counting the NUL. Stores nothing if `buf` is empty.
pub fn vsnprintf(buf: &mut [u8], fmt: &str, args: &[Arg]) -> usize {
    let Some(room) = buf.len().checked_sub(1) else {
        return 0;
    };
    let mut n = 0;
    printfmt::vprintfmt(
        &mut |b| {
            if n < room {
                buf[n] = b;
                n += 1;
            }
        },
        fmt,
        args,
    );
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

/// Formats printf-style into a byte buffer: `snprintf!(buf, fmt, args...)`;
/// see [`vsnprintf`].
#[macro_export]
macro_rules! snprintf {
    ($buf:expr, $fmt:expr $(, $arg:expr)* $(,)?) => {
        $crate::console::vsnprintf($buf, $fmt, &[$($crate::printfmt::Arg::from($arg)),*])
    };
}

/// Prints a printf-style format (`%d %u %x %o %s %c %p %e`, width, `0`/`-`).
#[macro_export]
macro_rules! cprintf {
    ($fmt:expr $(, $arg:expr)* $(,)?) => {
        $crate::console::vcprintf($fmt, &[$($crate::printfmt::Arg::from($arg)),*])
    };
}
