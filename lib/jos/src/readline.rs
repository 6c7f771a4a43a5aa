//! `readline` for user programs (JOS's lib/readline.c): a line from
//! descriptor 0, for the shell and other interactive programs.
use crate::console::{cputchar, getchar, iscons};
use abi::error::Error;
use alloc::string::String;

/// Longest line kept (JOS's BUFLEN, less the NUL): more is dropped.
pub const BUFLEN: usize = 1024;

/// Prints `prompt` (to descriptor 1, if not empty), then reads a line from
/// descriptor 0 up to a newline or carriage return, and returns it without
/// that ending. Backspace (or DEL) takes back the last character. If
/// descriptor 0 is the console, what is typed is echoed on it (a file or a
/// pipe is not echoed). Only printable ASCII is kept; other characters and
/// those beyond BUFLEN - 1 are dropped.
///
/// Returns None at the end of input (Ctrl-D on the console) or on a read
/// error, which it prints (`read error: ...`), as JOS does.
pub fn readline(prompt: &str) -> Option<String> {
    if !prompt.is_empty() {
        crate::fprintf!(1, "{}", prompt);
    }
    let echoing = iscons(0) == Ok(true);
    let mut line = String::new();
    loop {
        let c = match getchar() {
            Ok(c) => c,
            Err(Error::Eof) => return None,
            Err(e) => {
                crate::cprintf!("read error: {}\n", e);
                return None;
            }
        };
        match c {
            b'\x08' | b'\x7f' if !line.is_empty() => {
                if echoing {
                    // Back, blank, back: erases it on a serial terminal too.
                    crate::syscall::sys_cputs(b"\x08 \x08");
                }
                line.pop();
            }
            b' '..=b'~' if line.len() < BUFLEN - 1 => {
                if echoing {
                    cputchar(c);
                }
                line.push(c as char);
            }
            b'\n' | b'\r' => {
                if echoing {
                    cputchar(b'\n');
                }
                return Some(line);
            }
            _ => {}
        }
    }
}
