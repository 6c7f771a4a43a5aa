//! `readline` for user programs (JOS's lib/readline.c): a line from
//! descriptor 0, for the shell and other interactive programs, with a
//! little line editing:
//!
//! | typed                 | does                                          |
//! |-----------------------|-----------------------------------------------|
//! | Backspace, DEL        | takes back the last character                 |
//! | Ctrl-U                | erases the whole line                         |
//! | Ctrl-C                | throws the line away (`^C` and a new line shown), only for the console's controller |
//! | Up (`ESC [ A`)        | replaces the line by the previous one of the history |
//! | Down (`ESC [ B`)      | the next one (past the newest: what was being typed) |
//! | Enter (`\n` or `\r`)  | ends the line                                 |
//!
//! The line is read into the caller's buffer, as JOS's `buf`; the history
//! is a [`History`], which the program keeps (the shell has one for its
//! whole life, in a static). Neither needs the heap. Erasing on the screen
//! is done as a terminal does it: back, blank, back for each character.
//!
//! Ctrl-C is the kernel's only when there is a controller (see
//! [`crate::job`]): a reader echoing on the console that is the controller
//! gets it at its place in the input. Anywhere else (no controller, input
//! from a file or a pipe) 0x03 is an ordinary control character, ignored
//! as JOS's readline ignores it.
use crate::console::{cputchar, getchar, iscons};
use crate::syscall::sys_cputs;
use abi::error::Error;
use alloc::string::String;

/// Longest line kept, plus one (JOS's BUFLEN, which counts the NUL): a
/// line of more than BUFLEN - 1 characters is refused as too long.
pub const BUFLEN: usize = 1024;

/// How many earlier lines a [`History`] remembers at most.
pub const HISTORY_LEN: usize = 32;

/// How many bytes of earlier lines a [`History`] remembers at most (the
/// oldest lines go first when a new one does not fit).
pub const HISTORY_BYTES: usize = 4096;

// A line always fits in the history once the older ones are gone.
const _: () = assert!(BUFLEN < HISTORY_BYTES);

const CTRL_U: u8 = 0x15;
const CTRL_C: u8 = 0x03;
const ESC: u8 = 0x1b;

/// What [`read_line`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// A line, without its ending: its length in the buffer.
    Line(usize),
    /// A line longer than BUFLEN - 1 characters, ended and thrown away.
    TooLong,
    /// Ctrl-C: the line typed so far was thrown away.
    Interrupted,
    /// The end of input (Ctrl-D on the console), or a read error (printed).
    End,
}

/// The last lines read, for the up and down arrows: at most
/// [`HISTORY_LEN`] lines and [`HISTORY_BYTES`] bytes of them, kept one
/// after the other in `text`, each ended by a NUL, oldest first.
pub struct History {
    text: [u8; HISTORY_BYTES],
    /// Bytes of `text` in use.
    used: usize,
    /// Lines in `text`.
    lines: usize,
    /// The line being typed, kept while an older one is shown.
    draft: [u8; BUFLEN],
    draft_len: usize,
}

impl History {
    /// An empty history.
    pub const fn new() -> Self {
        History {
            text: [0; HISTORY_BYTES],
            used: 0,
            lines: 0,
            draft: [0; BUFLEN],
            draft_len: 0,
        }
    }

    /// Line `i` (0: the oldest); empty if there is no such line.
    fn line(&self, i: usize) -> &[u8] {
        let mut lines = self.text[..self.used].split(|&b| b == 0);
        lines.nth(i).unwrap_or_default()
    }

    /// Adds `line` (of printable ASCII, shorter than BUFLEN), the oldest
    /// lines going until it fits. An empty line, or one the same as the
    /// newest, is not added.
    fn remember(&mut self, line: &[u8]) {
        if line.is_empty() || (self.lines > 0 && self.line(self.lines - 1) == line) {
            return;
        }
        while self.lines == HISTORY_LEN || self.used + line.len() + 1 > HISTORY_BYTES {
            // Take out the oldest line and its NUL.
            let first = self.text.iter().position(|&b| b == 0).unwrap_or(0) + 1;
            self.text.copy_within(first..self.used, 0);
            self.used -= first;
            self.lines -= 1;
        }
        self.text[self.used..self.used + line.len()].copy_from_slice(line);
        self.text[self.used + line.len()] = 0;
        self.used += line.len() + 1;
        self.lines += 1;
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

/// `\x08 \x08` (back, blank, back) 64 times: erases 64 characters in one
/// `sys_cputs`.
const ERASE: [u8; 3 * 64] = {
    let mut a = [0u8; 3 * 64];
    let mut i = 0;
    while i < a.len() {
        a[i] = b"\x08 \x08"[i % 3];
        i += 1;
    }
    a
};

/// The line being typed: its text in `buf[..len]`, and how many characters
/// typed beyond BUFLEN - 1 were not kept (they are on the screen all the
/// same).
struct Edit<'a> {
    buf: &'a mut [u8; BUFLEN],
    len: usize,
    dropped: usize,
    echoing: bool,
}

impl Edit<'_> {
    /// Adds the printable character `c`.
    fn push(&mut self, c: u8) {
        if self.echoing {
            cputchar(c);
        }
        if self.dropped == 0 && self.len < BUFLEN - 1 {
            self.buf[self.len] = c;
            self.len += 1;
        } else {
            self.dropped += 1;
        }
    }

    /// Takes back the last character, if any.
    fn backspace(&mut self) {
        if self.len + self.dropped == 0 {
            return;
        }
        if self.echoing {
            // Back, blank, back: erases it on a serial terminal too.
            sys_cputs(&ERASE[..3]);
        }
        if self.dropped > 0 {
            self.dropped -= 1;
        } else {
            self.len -= 1;
        }
    }

    /// Erases the whole line, on the screen too.
    fn clear(&mut self) {
        if self.echoing {
            let mut n = self.len + self.dropped;
            while n > 0 {
                let k = n.min(64);
                sys_cputs(&ERASE[..3 * k]);
                n -= k;
            }
        }
        self.len = 0;
        self.dropped = 0;
    }

    /// Replaces the line by `text` (from the history), shown.
    fn replace(&mut self, text: &[u8]) {
        self.clear();
        text.iter().for_each(|&c| self.push(c));
    }
}

/// Prints `prompt` (to descriptor 1, if not empty), then reads a line from
/// descriptor 0 into `buf`, up to a newline or carriage return, editing it
/// as the module comment says (the arrows go through `history`, if any).
/// If descriptor 0 is the console, what is typed is echoed on it (a file
/// or a pipe is not echoed). Only printable ASCII is kept; other
/// characters are dropped.
///
/// Returns `Input::Line(n)`, the line being `buf[..n]` (and adds it to the
/// history, unless it is empty or the same as the newest);
/// `Input::Interrupted` for a Ctrl-C read from the console by its
/// controller (the line so far is not kept; otherwise 0x03 is dropped like
/// any other control character); `Input::TooLong` for a line of more than
/// BUFLEN - 1 characters (the whole line is read and thrown away);
/// `Input::End` at the end of input or on a read error, which it prints
/// (`read error: ...`), as JOS does.
pub fn read_line(prompt: &str, buf: &mut [u8; BUFLEN], mut history: Option<&mut History>) -> Input {
    if !prompt.is_empty() {
        let _ = crate::fd::write(1, prompt.as_bytes());
    }
    let mut edit = Edit {
        buf,
        len: 0,
        dropped: 0,
        echoing: iscons(0) == Ok(true),
    };
    // Which history line is shown: `lines` for the one being typed, kept
    // in the history's `draft` while an older one is shown.
    let mut at = history.as_ref().map_or(0, |h| h.lines);
    let mut escape = Escape::None;
    loop {
        let c = match getchar() {
            Ok(c) => c,
            Err(Error::Eof) => return Input::End,
            Err(e) => {
                crate::cprintf!("read error: {}\n", e);
                return Input::End;
            }
        };
        // An escape sequence: ESC, `[` (or `O`), parameters, a letter.
        match (escape, c) {
            (Escape::Esc, b'[' | b'O') => {
                escape = Escape::Bracket;
                continue;
            }
            (Escape::Bracket, b'0'..=b'9' | b';') => continue,
            (Escape::Bracket, b'A' | b'B') => {
                escape = Escape::None;
                if let Some(h) = history.as_deref_mut() {
                    let up = c == b'A';
                    if up && at > 0 {
                        if at == h.lines {
                            h.draft[..edit.len].copy_from_slice(&edit.buf[..edit.len]);
                            h.draft_len = edit.len;
                        }
                        at -= 1;
                        edit.replace(h.line(at));
                    } else if !up && at < h.lines {
                        at += 1;
                        if at == h.lines {
                            edit.replace(&h.draft[..h.draft_len]);
                        } else {
                            edit.replace(h.line(at));
                        }
                    }
                }
                continue;
            }
            // Another key's sequence (or Alt and a key): ignored.
            (Escape::Esc | Escape::Bracket, b' '..=b'~') => {
                escape = Escape::None;
                continue;
            }
            // A control character ends the sequence and counts as itself.
            _ => escape = Escape::None,
        }
        match c {
            ESC => escape = Escape::Esc,
            b'\x08' | b'\x7f' => edit.backspace(),
            CTRL_U => edit.clear(),
            CTRL_C if edit.echoing && crate::job::owns_console() => {
                sys_cputs(b"^C\n");
                return Input::Interrupted;
            }
            b' '..=b'~' => edit.push(c),
            b'\n' | b'\r' => {
                if edit.echoing {
                    cputchar(b'\n');
                }
                if edit.dropped > 0 {
                    return Input::TooLong;
                }
                if let Some(h) = history {
                    h.remember(&edit.buf[..edit.len]);
                }
                return Input::Line(edit.len);
            }
            _ => {}
        }
    }
}

/// Where an escape sequence (an arrow key) has got to.
#[derive(Clone, Copy)]
enum Escape {
    None,
    Esc,
    Bracket,
}

/// Reads a line as [`read_line`] does, with no history (the arrows do
/// nothing), and returns a copy of it on the heap.
///
/// Returns the line; for a line too long, prints `line too long (max 1023
/// characters)` and returns an empty line; for a Ctrl-C, an empty line;
/// None at the end of input or on a read error (printed).
pub fn readline(prompt: &str) -> Option<String> {
    let mut buf = [0; BUFLEN];
    match read_line(prompt, &mut buf, None) {
        Input::Line(n) => Some(buf[..n].iter().map(|&c| char::from(c)).collect()),
        Input::TooLong => {
            crate::cprintf!("line too long (max {} characters)\n", BUFLEN - 1);
            Some(String::new())
        }
        Input::Interrupted => Some(String::new()),
        Input::End => None,
    }
}
