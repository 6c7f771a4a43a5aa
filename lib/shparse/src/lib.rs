//! The shell's command-line grammar: what JOS's `user/sh.c` reads with
//! `gettoken`, plus quoting, `;`, `&` and `>>`. Pure logic (no_std, no
//! heap), tested on the host; `user/jos/src/bin/sh.rs` runs what it parses.
//!
//! ```text
//!   line     := pipeline ((';' | '&') pipeline)* [';' | '&']
//!   pipeline := command ('|' command)*
//!   command  := (word | '<' word | '>' word | '>>' word)*
//! ```
//!
//! Tokens are separated by white space (" \t\r\n", JOS's `WHITESPACE`);
//! the symbols `< | > & ; ( )` (JOS's `SYMBOLS`) end a word and are tokens
//! of their own (`(` and `)` are reserved: a syntax error). Quotes make a
//! word keep spaces and symbols: `'...'` is taken literally, `"..."`
//! takes a backslash before `"` or `\` as that character; outside quotes a
//! backslash takes the next character literally. Quotes may sit in the
//! middle of a word (`a"b c"d` is the one word `ab cd`), and `""` is an
//! empty word.
//!
//! A pipeline ended by `&` runs in the background; one ended by `;` (or
//! the end of the line) is waited for. A command may have no words (`> f`
//! alone creates f, as in JOS and Unix), but not when it is part of a
//! pipe: `| wc` is a syntax error.
//!
//! As JOS's shell, this one needs no heap: nothing is built. [`check`]
//! reads a whole line and says whether it parses (the shell runs nothing
//! of a line that does not); [`next_pipeline`] and [`next_command`] cut
//! a line into its pipelines and a pipeline into its commands, as slices
//! of the line; [`Tokens`] reads a command's tokens one at a time, its
//! words as written (quotes and all); [`Words`] takes their quotes out
//! into a buffer the caller gives.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::fmt;

/// Most words in one command, the program's name included (JOS's
/// `MAXARGS`; the library passes no more to a program).
pub const MAXARGS: usize = 16;

/// One token of a command line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Token<'a> {
    /// A word as written, quotes and backslashes still in it ([`Words`]
    /// takes them out).
    Word(&'a str),
    /// `<`
    Less,
    /// `>`
    Greater,
    /// `>>`
    Append,
    /// `|`
    Pipe,
    /// `&`
    Amp,
    /// `;`
    Semi,
    /// `(` or `)`: reserved.
    Paren(&'static str),
}

/// How a redirection opens its file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RedirKind {
    /// `< file`: fd 0, read-only.
    Input,
    /// `> file`: fd 1, created or truncated (JOS: O_WRONLY|O_CREAT|O_TRUNC).
    Output,
    /// `>> file`: fd 1, created if missing, written at its end.
    Append,
}

impl Token<'_> {
    /// The redirection this token starts, if it is `<`, `>` or `>>`.
    pub fn redir(self) -> Option<RedirKind> {
        match self {
            Token::Less => Some(RedirKind::Input),
            Token::Greater => Some(RedirKind::Output),
            Token::Append => Some(RedirKind::Append),
            _ => None,
        }
    }
}

/// Why a line does not parse. `Display` gives the shell's message (JOS's
/// words where JOS has them).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SyntaxError {
    /// `<`, `>` or `>>` not followed by a word.
    RedirNoWord(&'static str),
    /// More than [`MAXARGS`] words in a command.
    TooManyArgs,
    /// A quote opened and never closed.
    UnterminatedQuote,
    /// A `|` with no command on one side of it.
    EmptyPipe,
    /// A token that cannot appear where it is (`(`, `)`, or `&` after
    /// nothing).
    Unexpected(&'static str),
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Pieces, not `write!`: no formatting machinery for a message.
        let (a, b, c) = match *self {
            SyntaxError::RedirNoWord(s) => ("syntax error: ", s, " not followed by word"),
            SyntaxError::TooManyArgs => ("too many arguments", "", ""),
            SyntaxError::UnterminatedQuote => ("syntax error: unterminated quote", "", ""),
            SyntaxError::EmptyPipe => ("syntax error: | without a command", "", ""),
            SyntaxError::Unexpected(s) => ("syntax error: unexpected ", s, ""),
        };
        f.write_str(a)?;
        f.write_str(b)?;
        f.write_str(c)
    }
}

/// JOS's `WHITESPACE`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// JOS's `SYMBOLS`.
fn is_symbol(c: u8) -> bool {
    matches!(c, b'<' | b'|' | b'>' | b'&' | b';' | b'(' | b')')
}

/// The tokens of a line, in order (JOS's `gettoken`, with quotes), read
/// as bytes: every character that matters is ASCII, and a word's other
/// bytes are kept as they are. After an error (an unterminated quote)
/// there are no more tokens.
#[derive(Clone)]
pub struct Tokens<'a> {
    line: &'a str,
    /// Where the next token is looked for.
    pos: usize,
}

impl<'a> Tokens<'a> {
    /// The tokens of `line`.
    pub fn new(line: &'a str) -> Self {
        Tokens { line, pos: 0 }
    }

    /// The next byte, if any, taken.
    fn take(&mut self) -> Option<u8> {
        let c = *self.line.as_bytes().get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    /// The next byte, if any, left in place.
    fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    /// Moves past the rest of a quoted string, to its closing `quote`;
    /// in `"..."` a backslash takes a `"` or `\` after it along. False if
    /// the line ends first.
    fn skip_quoted(&mut self, quote: u8) -> bool {
        loop {
            match self.take() {
                Some(c) if c == quote => return true,
                Some(b'\\') if quote == b'"' && matches!(self.peek(), Some(b'"' | b'\\')) => {
                    self.pos += 1;
                }
                Some(_) => {}
                None => return false,
            }
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Result<Token<'a>, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
        let start = self.pos;
        let tok = match self.take()? {
            b'<' => Token::Less,
            b'>' if self.peek() == Some(b'>') => {
                self.pos += 1;
                Token::Append
            }
            b'>' => Token::Greater,
            b'|' => Token::Pipe,
            b'&' => Token::Amp,
            b';' => Token::Semi,
            b'(' => Token::Paren("("),
            b')' => Token::Paren(")"),
            _ => {
                // A word: up to a space or a symbol outside quotes.
                self.pos = start;
                while let Some(c) = self.peek().filter(|&c| !is_space(c) && !is_symbol(c)) {
                    self.pos += 1;
                    let closed = match c {
                        b'\'' | b'"' => self.skip_quoted(c),
                        b'\\' => {
                            self.take();
                            true
                        }
                        _ => true,
                    };
                    if !closed {
                        return Some(Err(SyntaxError::UnterminatedQuote));
                    }
                }
                // `get`, not `[]`: both ends are at ASCII bytes, so this
                // cannot fail, and `get` brings no panic message along.
                Token::Word(self.line.get(start..self.pos).unwrap_or_default())
            }
        };
        Some(Ok(tok))
    }
}

/// Checks that `line` parses (the grammar in the module comment, at most
/// [`MAXARGS`] words a command, quotes closed). An unterminated quote is
/// reported before any other error, as the line is read before it is
/// parsed.
pub fn check(line: &str) -> Result<(), SyntaxError> {
    for tok in Tokens::new(line) {
        tok?;
    }
    let mut toks = Tokens::new(line).map_while(Result::ok);
    // In the command being read: its words, and whether it has anything.
    let mut words = 0;
    let mut empty = true;
    // A `|` came before it in its pipeline.
    let mut piped = false;
    while let Some(tok) = toks.next() {
        match tok {
            Token::Word(_) => {
                if words == MAXARGS {
                    return Err(SyntaxError::TooManyArgs);
                }
                words += 1;
                empty = false;
            }
            Token::Less | Token::Greater | Token::Append => {
                let Some(Token::Word(_)) = toks.next() else {
                    let sym = match tok {
                        Token::Less => "<",
                        Token::Greater => ">",
                        _ => ">>",
                    };
                    return Err(SyntaxError::RedirNoWord(sym));
                };
                empty = false;
            }
            Token::Pipe | Token::Amp | Token::Semi => {
                if empty && (piped || tok == Token::Pipe) {
                    return Err(SyntaxError::EmptyPipe);
                }
                if empty && tok == Token::Amp {
                    return Err(SyntaxError::Unexpected("&"));
                }
                // (`;;` or a leading `;`: nothing to run, and no error.)
                piped = tok == Token::Pipe;
                words = 0;
                empty = true;
            }
            Token::Paren(p) => return Err(SyntaxError::Unexpected(p)),
        }
    }
    if empty && piped {
        return Err(SyntaxError::EmptyPipe);
    }
    Ok(())
}

/// Cuts the first pipeline off `line` (which [`check`] passed), at the
/// first `;` or `&` after something to run: returns the pipeline's text,
/// whether it ended with `&` (to run in the background), and the rest of
/// the line. None if nothing is left to run (only spaces and `;`).
pub fn next_pipeline(line: &str) -> Option<(&str, bool, &str)> {
    let mut toks = Tokens::new(line);
    let mut start = None;
    loop {
        let before = toks.pos;
        match toks.next() {
            Some(Ok(tok @ (Token::Semi | Token::Amp))) => {
                if let Some(s) = start {
                    let rest = line.get(toks.pos..).unwrap_or_default();
                    return Some((line.get(s..before)?, tok == Token::Amp, rest));
                }
            }
            Some(Ok(_)) => {
                start.get_or_insert(before);
            }
            _ => return Some((line.get(start?..)?, false, "")),
        }
    }
}

/// Cuts the first command off `pipeline` (a pipeline's text, as
/// [`next_pipeline`] gives it), at its first `|`: returns the command's
/// text and, if there was a `|`, the rest of the pipeline after it.
pub fn next_command(pipeline: &str) -> (&str, Option<&str>) {
    let mut toks = Tokens::new(pipeline);
    loop {
        let before = toks.pos;
        match toks.next() {
            Some(Ok(Token::Pipe)) => {
                let cmd = pipeline.get(..before).unwrap_or_default();
                return (cmd, pipeline.get(toks.pos..));
            }
            Some(Ok(_)) => {}
            _ => return (pipeline, None),
        }
    }
}

/// Writes `word` (a word as written) into `out` with its quotes and
/// backslashes taken out, as the module comment says; returns the length
/// written, or None if `out` is too short. Never longer than `word`.
pub fn unquote(word: &str, out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    let mut put = |c: u8| {
        *out.get_mut(n)? = c;
        n += 1;
        Some(())
    };
    let mut bytes = word.bytes().peekable();
    while let Some(c) = bytes.next() {
        match c {
            b'\'' | b'"' => {
                while let Some(q) = bytes.next().filter(|&q| q != c) {
                    let escaped =
                        q == b'\\' && c == b'"' && matches!(bytes.peek(), Some(b'"' | b'\\'));
                    put(if escaped { bytes.next()? } else { q })?;
                }
            }
            b'\\' => put(bytes.next().unwrap_or(b'\\'))?,
            _ => put(c)?,
        }
    }
    Some(n)
}

/// Room for the words of one command, quotes taken out: each
/// [`Words::add`] takes the next bytes of the caller's buffer.
pub struct Words<'b> {
    free: &'b mut [u8],
}

impl<'b> Words<'b> {
    /// Words to be written into `buf` (as long as the line is enough).
    pub fn new(buf: &'b mut [u8]) -> Self {
        Words { free: buf }
    }

    /// Takes the quotes out of `word` (a word as written) and returns it;
    /// None if the buffer is full.
    pub fn add(&mut self, word: &str) -> Option<&'b str> {
        let n = unquote(word, self.free)?;
        let (done, rest) = core::mem::take(&mut self.free).split_at_mut(n);
        self.free = rest;
        // Quotes and backslashes are ASCII: what is left of a &str is
        // UTF-8 still (a backslash before a multi-byte character takes
        // only itself out).
        core::str::from_utf8(done).ok()
    }
}

#[cfg(test)]
mod tests;
