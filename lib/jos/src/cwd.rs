//! The current directory: per-environment library state (policy here in
//! the library; the kernel knows nothing of it and the file server keeps
//! taking absolute paths, each checked as hostile).
//!
//! Every library call that takes a path (`file::open`, and through it
//! `fd::stat`, `mkdir`'s O_MKDIR and redirections; `file::remove`,
//! `rename::rename`, `spawn`) resolves it first with [`resolve_into`]:
//! `d/f` becomes `/cwd/d/f`, and `.`, `..` and repeated `/` are taken out
//! (lexically: `lib/pathname`, host-tested).
//!
//! Who inherits it:
//! - a `fork` child (and an `sfork` one, which shares it as threads share
//!   a Unix process's) gets it with the rest of its parent's memory: it is
//!   ordinary data;
//! - a `spawn`ed child starts with nothing of its parent's memory, so
//!   `spawn` writes the parent's directory into the child's first stack
//!   page with the argument strings, and passes its address as a third
//!   word after argc and argv (`_start` hands it to `libmain`, which calls
//!   [`inherit`]). The stack page is the one place a child is given at
//!   birth (no fixed address added to the memory layout, and nothing to
//!   ask anyone after start), and like argv the string stays there for
//!   the life of the program, so inheriting costs no copy and no heap.
//!   A program the kernel starts (no arguments) is in `/`.
use crate::cell::EnvCell;
use crate::fd::stat;
use abi::error::{Error, Result};
use abi::fsipc::MAXPATHLEN;
use alloc::string::String;

/// The current directory: the one set by `chdir` if any, else the one
/// inherited at start (`/` for a program the kernel started). All zero at
/// first, so it costs a program that never moves nothing but bss.
struct Cwd {
    /// Where the parent was when it spawned us (in our first stack page);
    /// None: `/`.
    inherited: Option<&'static str>,
    /// Set by `chdir`: an absolute, resolved path, `set[..set_len]` (none
    /// while `set_len` is 0).
    set_len: usize,
    set: [u8; MAXPATHLEN - 1],
    /// Where `chdir` resolves its path (not on the stack, which may be one
    /// page).
    next: [u8; MAXPATHLEN - 1],
}

/// The current directory, given its fields: `set[..set_len]` if `chdir`
/// set it, else the inherited one, else `/`.
fn path_of<'a>(inherited: Option<&'static str>, set_len: usize, set: &'a [u8]) -> &'a str {
    match set_len {
        0 => inherited.unwrap_or("/"),
        // SAFETY: only `chdir` writes `set`, with what `pathname::resolve`
        // made of two &strs: their components (cut at `/`, an ASCII byte,
        // so each is UTF-8) joined by `/`. No check here: every `open`
        // comes this way.
        n => unsafe { core::str::from_utf8_unchecked(&set[..n]) },
    }
}

impl Cwd {
    /// The current directory.
    fn path(&self) -> &str {
        path_of(self.inherited, self.set_len, &self.set)
    }
}

static CWD: EnvCell<Cwd> = EnvCell::new(Cwd {
    inherited: None,
    set_len: 0,
    set: [0; MAXPATHLEN - 1],
    next: [0; MAXPATHLEN - 1],
});

/// Runs `f` on the current directory (an absolute path) and returns what
/// it returns: the current directory without a copy (the shell's `pwd`,
/// `spawn`). `f` must not reach the current directory again (it would
/// panic, see `EnvCell`): no `open`, `stat`, `chdir` or `spawn` inside.
pub fn with_cwd<R>(f: impl FnOnce(&str) -> R) -> R {
    CWD.with(|c| f(c.path()))
}

/// Sets the directory we start in to `dir`, as `libmain` found it on the
/// stack (see the module comment). A `dir` that is not an absolute path
/// shorter than MAXPATHLEN is ignored (we stay in `/`). `/` itself, where
/// we are already, writes nothing: a program spawned from the root starts
/// as it did before there was a current directory (no bss page touched).
pub(crate) fn inherit(dir: &'static str) {
    if dir != "/" && dir.starts_with('/') && dir.len() < MAXPATHLEN {
        CWD.with(|c| c.inherited = Some(dir));
    }
}

/// Returns a copy of the current directory, an absolute path (`/` unless
/// `chdir` or the parent that spawned us said otherwise). Panics only if
/// out of memory for the copy.
pub fn getcwd() -> String {
    with_cwd(|dir| String::from(dir))
}

/// Writes into `out` the absolute path that `path` names from the current
/// directory (see `pathname::resolve`), and returns its length.
/// E_BAD_PATH if it does not fit; E_NO_MEM if out of memory.
pub fn resolve_into(path: &str, out: &mut [u8]) -> Result<usize> {
    // try_with: out of memory (the cell's page copy-on-write after fork,
    // and no page to copy it to) is E_NO_MEM from `open`, not a panic.
    CWD.try_with(|c| pathname::resolve(c.path(), path, out))?
        .ok_or(Error::BadPath)
}

/// Makes `path` (resolved from the current directory) the current
/// directory, after checking it is a directory. Errors: the file server's
/// (E_NOT_FOUND for a path that does not exist, ...), E_BAD_PATH for a
/// path too long or one that names a file, not a directory; the current
/// directory is then unchanged.
pub fn chdir(path: &str) -> Result<()> {
    // `stat` resolves `path` as below (the directory does not change in
    // between), and fails as below for a path too long.
    if !stat(path)?.isdir {
        return Err(Error::BadPath);
    }
    CWD.with(|c| {
        let cur = path_of(c.inherited, c.set_len, &c.set);
        let n = pathname::resolve(cur, path, &mut c.next).ok_or(Error::BadPath)?;
        c.set[..n].copy_from_slice(&c.next[..n]);
        c.set_len = n;
        Ok(())
    })
}
