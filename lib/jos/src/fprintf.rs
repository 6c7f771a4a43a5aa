//! `printf!` and `fprintf!` (JOS's lib/fprintf.c): formatted text written
//! to a file descriptor, where `cprintf!` always goes to the console.
//!
//! Each call formats into a buffer and writes it with as few `write`s as
//! fit (one for a short line), so a line written to the console or a pipe
//! is not interleaved with other environments' output.
use crate::fd::write;
use abi::error::{Error, Result};
use core::fmt;

/// Bytes buffered per `write`.
const BUF: usize = 256;

/// A `core::fmt` sink that writes to a descriptor, a buffer at a time,
/// and remembers the first error.
struct FdWriter {
    fd: usize,
    buf: [u8; BUF],
    len: usize,
    written: usize,
    error: Option<Error>,
}

impl FdWriter {
    /// Writes what is buffered, unless an earlier write failed or fell
    /// short (then the rest is dropped).
    fn flush(&mut self) {
        if self.error.is_none() && self.len > 0 {
            match write(self.fd, &self.buf[..self.len]) {
                Ok(n) => {
                    self.written += n;
                    if n < self.len {
                        // The other end went away (a pipe): stop here.
                        self.error = Some(Error::Eof);
                    }
                }
                Err(e) => self.error = Some(e),
            }
        }
        self.len = 0;
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            self.buf[self.len] = b;
            self.len += 1;
            if self.len == BUF {
                self.flush();
            }
        }
        Ok(())
    }
}

/// Writes formatted text to descriptor `fd` (what `fprintf!` and
/// `printf!` call); returns the bytes written. If nothing could be
/// written: write's error (E_INVAL for a descriptor not open for
/// writing), or E_EOF if the descriptor took nothing (a pipe with no
/// reader). Never inlined, as `printf::print`.
#[inline(never)]
pub fn vfprintf(fd: usize, args: fmt::Arguments) -> Result<usize> {
    let mut w = FdWriter {
        fd,
        buf: [0; BUF],
        len: 0,
        written: 0,
        error: None,
    };
    let _ = fmt::Write::write_fmt(&mut w, args);
    w.flush();
    match w.error {
        Some(e) if w.written == 0 => Err(e),
        _ => Ok(w.written),
    }
}

/// Prints to file descriptor `fd`: `fprintf!(fd, "{}\n", x)`. Errors are
/// dropped; call [`vfprintf`] to see them.
#[macro_export]
macro_rules! fprintf {
    ($fd:expr, $($arg:tt)*) => {{
        let _ = $crate::fprintf::vfprintf($fd, format_args!($($arg)*));
    }};
}

/// Prints to file descriptor 1 (standard output): `printf!("{}\n", x)`.
/// Errors are dropped, as for `fprintf!`.
#[macro_export]
macro_rules! printf {
    ($($arg:tt)*) => {
        $crate::fprintf!(1, $($arg)*)
    };
}
