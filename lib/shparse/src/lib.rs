//! The shell's command-line grammar: what JOS's `user/sh.c` reads with
//! `gettoken`, plus quoting, `;`, `&` and `>>`. Pure logic (no_std with
//! `alloc`), tested on the host; `user/jos/src/bin/sh.rs` runs what it parses.
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
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Most words in one command, the program's name included (JOS's
/// `MAXARGS`; the library passes no more to a program).
pub const MAXARGS: usize = 16;

/// One token of a command line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Token {
    /// A word, quotes removed.
    Word(String),
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
    Paren(char),
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

/// A redirection: `kind` of `path`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Redir {
    /// What to open and which descriptor it becomes.
    pub kind: RedirKind,
    /// The file.
    pub path: String,
}

/// One command: its words and its redirections, in the order written
/// (each is carried out in turn, so for two `>` the last one wins, but
/// both files are created).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Command {
    /// The program and its arguments (maybe none).
    pub argv: Vec<String>,
    /// Redirections, in order.
    pub redirs: Vec<Redir>,
}

/// Commands joined by pipes, and whether the shell waits for them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Pipeline {
    /// The commands, left to right: each one's output is the next one's
    /// input.
    pub commands: Vec<Command>,
    /// Ended by `&`: not waited for.
    pub background: bool,
}

/// Why a line does not parse. `Display` gives the shell's message (JOS's
/// words where JOS has them).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SyntaxError {
    /// `<`, `>` or `>>` not followed by a word.
    RedirNoWord(&'static str),
    /// More than [`MAXARGS`] words in a command.
    TooManyArgs,
    /// A quote opened and never closed.
    UnterminatedQuote,
    /// A `|` with no command on one side of it.
    EmptyPipe,
    /// A token that cannot appear where it is (`(`, `)`, or `;`/`&` after
    /// nothing).
    Unexpected(char),
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::RedirNoWord(s) => write!(f, "syntax error: {s} not followed by word"),
            SyntaxError::TooManyArgs => write!(f, "too many arguments"),
            SyntaxError::UnterminatedQuote => write!(f, "syntax error: unterminated quote"),
            SyntaxError::EmptyPipe => write!(f, "syntax error: | without a command"),
            SyntaxError::Unexpected(c) => write!(f, "syntax error: unexpected {c}"),
        }
    }
}

/// JOS's `WHITESPACE`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// JOS's `SYMBOLS`.
fn is_symbol(c: char) -> bool {
    matches!(c, '<' | '|' | '>' | '&' | ';' | '(' | ')')
}

/// Splits `line` into tokens (JOS's `gettoken`, with quotes). Fails only
/// with [`SyntaxError::UnterminatedQuote`]; a backslash at the very end
/// stands for itself.
pub fn tokenize(line: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if is_space(c) {
            chars.next();
            continue;
        }
        if is_symbol(c) {
            chars.next();
            tokens.push(match c {
                '<' => Token::Less,
                '>' if chars.peek() == Some(&'>') => {
                    chars.next();
                    Token::Append
                }
                '>' => Token::Greater,
                '|' => Token::Pipe,
                '&' => Token::Amp,
                ';' => Token::Semi,
                _ => Token::Paren(c),
            });
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if is_space(c) || is_symbol(c) {
                break;
            }
            chars.next();
            match c {
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => word.push(q),
                        None => return Err(SyntaxError::UnterminatedQuote),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                            word.extend(chars.next());
                        }
                        Some(q) => word.push(q),
                        None => return Err(SyntaxError::UnterminatedQuote),
                    }
                },
                '\\' => word.push(chars.next().unwrap_or('\\')),
                _ => word.push(c),
            }
        }
        tokens.push(Token::Word(word));
    }
    Ok(tokens)
}

/// Parses a command line into the pipelines to run, in order. An empty
/// line (or one of only `;`) gives none.
pub fn parse(line: &str) -> Result<Vec<Pipeline>, SyntaxError> {
    let mut list = Vec::new();
    let mut pipeline = Pipeline::default();
    let mut cmd = Command::default();
    let mut tokens = tokenize(line)?.into_iter();
    while let Some(tok) = tokens.next() {
        match tok {
            Token::Word(w) => {
                if cmd.argv.len() == MAXARGS {
                    return Err(SyntaxError::TooManyArgs);
                }
                cmd.argv.push(w);
            }
            Token::Less | Token::Greater | Token::Append => {
                let (kind, sym) = match tok {
                    Token::Less => (RedirKind::Input, "<"),
                    Token::Greater => (RedirKind::Output, ">"),
                    _ => (RedirKind::Append, ">>"),
                };
                match tokens.next() {
                    Some(Token::Word(path)) => cmd.redirs.push(Redir { kind, path }),
                    _ => return Err(SyntaxError::RedirNoWord(sym)),
                }
            }
            Token::Pipe => {
                if is_empty(&cmd) {
                    return Err(SyntaxError::EmptyPipe);
                }
                pipeline.commands.push(core::mem::take(&mut cmd));
            }
            Token::Amp | Token::Semi => {
                let background = tok == Token::Amp;
                if is_empty(&cmd) {
                    if !pipeline.commands.is_empty() {
                        return Err(SyntaxError::EmptyPipe);
                    }
                    if background {
                        return Err(SyntaxError::Unexpected('&'));
                    }
                    continue; // `;;` or a leading `;`: nothing to run
                }
                pipeline.commands.push(core::mem::take(&mut cmd));
                pipeline.background = background;
                list.push(core::mem::take(&mut pipeline));
            }
            Token::Paren(c) => return Err(SyntaxError::Unexpected(c)),
        }
    }
    if is_empty(&cmd) {
        if !pipeline.commands.is_empty() {
            return Err(SyntaxError::EmptyPipe);
        }
    } else {
        pipeline.commands.push(cmd);
        list.push(pipeline);
    }
    Ok(list)
}

/// Whether `cmd` has neither words nor redirections.
fn is_empty(cmd: &Command) -> bool {
    cmd.argv.is_empty() && cmd.redirs.is_empty()
}

#[cfg(test)]
mod tests;
