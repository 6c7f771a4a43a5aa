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
//! The history belongs to a [`LineEditor`], which the program keeps (the
//! shell has one for its whole life). Erasing on the screen is done as a
//! terminal does it: back, blank, back for each character.
//!
//! Ctrl-C is the kernel's only when there is a controller (see
//! [`crate::job`]): a reader echoing on the console that is the controller
//! gets it at its place in the input. Anywhere else (no controller, input
//! from a file or a pipe) 0x03 is an ordinary control character, ignored
//! as JOS's readline ignores it.
use crate::console::{cputchar, getchar, iscons};
use abi::error::Error;
use alloc::collections::VecDeque;
use alloc::string::String;

/// Longest line kept, plus one (JOS's BUFLEN, which counts the NUL): a
/// line of more than BUFLEN - 1 characters is refused as too long.
pub const BUFLEN: usize = 1024;

/// How many earlier lines a [`LineEditor`] remembers.
pub const HISTORY_LEN: usize = 32;

const CTRL_U: u8 = 0x15;
const CTRL_C: u8 = 0x03;
const ESC: u8 = 0x1b;

/// What [`LineEditor::read`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// A line, without its ending.
    Line(String),
    /// A line longer than BUFLEN - 1 characters, ended and thrown away.
    TooLong,
    /// Ctrl-C: the line typed so far was thrown away.
    Interrupted,
    /// The end of input (Ctrl-D on the console), or a read error (printed).
    End,
}

/// A line reader with a history of the last [`HISTORY_LEN`] lines it read.
pub struct LineEditor {
    history: VecDeque<String>,
}

/// Where an escape sequence (an arrow key) has got to.
#[derive(Clone, Copy)]
enum Escape {
    None,
    Esc,
    Bracket,
}

/// The line being typed: its text, and how many characters typed beyond
/// BUFLEN - 1 were not kept (they are on the screen all the same).
struct Edit {
    line: String,
    dropped: usize,
    echoing: bool,
}

impl Edit {
    /// Characters on the screen since the prompt.
    fn shown(&self) -> usize {
        self.line.len() + self.dropped
    }

    /// Adds the printable character `c`.
    fn push(&mut self, c: u8) {
        if self.echoing {
            cputchar(c);
        }
        if self.dropped == 0 && self.line.len() < BUFLEN - 1 {
            self.line.push(c as char);
        } else {
            self.dropped += 1;
        }
    }

    /// Takes back the last character, if any.
    fn backspace(&mut self) {
        if self.shown() == 0 {
            return;
        }
        if self.echoing {
            // Back, blank, back: erases it on a serial terminal too.
            crate::syscall::sys_cputs(b"\x08 \x08");
        }
        if self.dropped > 0 {
            self.dropped -= 1;
        } else {
            self.line.pop();
        }
    }

    /// Erases the whole line, on the screen too.
    fn clear(&mut self) {
        if self.echoing {
            let mut n = self.shown();
            let chunk = b"\x08 \x08".repeat(64);
            while n > 0 {
                let k = n.min(64);
                crate::syscall::sys_cputs(&chunk[..3 * k]);
                n -= k;
            }
        }
        self.line.clear();
        self.dropped = 0;
    }

    /// Replaces the line by `text` (from the history), shown.
    fn replace(&mut self, text: &str) {
        self.clear();
        text.bytes().for_each(|c| self.push(c));
    }
}

impl LineEditor {
    /// An editor with an empty history.
    pub const fn new() -> Self {
        LineEditor {
            history: VecDeque::new(),
        }
    }

    /// Prints `prompt` (to descriptor 1, if not empty), then reads a line
    /// from descriptor 0 up to a newline or carriage return, editing it as
    /// the module comment says. If descriptor 0 is the console, what is
    /// typed is echoed on it (a file or a pipe is not echoed). Only
    /// printable ASCII is kept; other characters are dropped.
    ///
    /// Returns the line (and adds it to the history, unless it is empty or
    /// the same as the newest); `Input::Interrupted` for a Ctrl-C read
    /// from the console by its controller (the line so far is not kept;
    /// otherwise 0x03 is dropped like any other control character); `Input::TooLong` for a line of more than
    /// BUFLEN - 1 characters (the whole line is read and thrown away);
    /// `Input::End` at the end of input or on a read error, which it prints
    /// (`read error: ...`), as JOS does.
    pub fn read(&mut self, prompt: &str) -> Input {
        if !prompt.is_empty() {
            crate::fprintf!(1, "{}", prompt);
        }
        let mut edit = Edit {
            line: String::new(),
            dropped: 0,
            echoing: iscons(0) == Ok(true),
        };
        // Which history line is shown: history.len() for the one being
        // typed, kept in `draft` while an older one is shown.
        let mut at = self.history.len();
        let mut draft = String::new();
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
                (Escape::Bracket, b'A') => {
                    escape = Escape::None;
                    if at > 0 {
                        if at == self.history.len() {
                            draft = edit.line.clone();
                        }
                        at -= 1;
                        edit.replace(&self.history[at]);
                    }
                    continue;
                }
                (Escape::Bracket, b'B') => {
                    escape = Escape::None;
                    if at < self.history.len() {
                        at += 1;
                        let text = self.history.get(at).unwrap_or(&draft).clone();
                        edit.replace(&text);
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
                    crate::syscall::sys_cputs(b"^C\n");
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
                    self.remember(&edit.line);
                    return Input::Line(edit.line);
                }
                _ => {}
            }
        }
    }

    /// Adds `line` to the history, the oldest going if it is full.
    fn remember(&mut self, line: &str) {
        if line.is_empty() || self.history.back().map(String::as_str) == Some(line) {
            return;
        }
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(String::from(line));
    }
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a line as [`LineEditor::read`] does, with no history (the arrows
/// do nothing).
///
/// Returns the line; for a line too long, prints `line too long (max 1023
/// characters)` and returns an empty line; for a Ctrl-C, an empty line;
/// None at the end of input or on a read error (printed).
pub fn readline(prompt: &str) -> Option<String> {
    match LineEditor::new().read(prompt) {
        Input::Line(line) => Some(line),
        Input::TooLong => {
            crate::cprintf!("line too long (max {} characters)\n", BUFLEN - 1);
            Some(String::new())
        }
        Input::Interrupted => Some(String::new()),
        Input::End => None,
    }
}
