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
/// inherited at start (`/` for a program the kernel started).
struct Cwd {
    /// Where the parent was when it spawned us (in our first stack page).
    inherited: &'static str,
    /// Set by `chdir`: always an absolute, resolved path.
    owned: Option<String>,
}

static CWD: EnvCell<Cwd> = EnvCell::new(Cwd {
    inherited: "/",
    owned: None,
});

/// Runs `f` on the current directory (an absolute path) and returns what
/// it returns. `f` must not reach the current directory again (it would
/// panic, see `EnvCell`).
fn with_cwd<R>(f: impl FnOnce(&str) -> R) -> R {
    CWD.with(|c| f(c.owned.as_deref().unwrap_or(c.inherited)))
}

/// Sets the directory we start in to `dir`, as `libmain` found it on the
/// stack (see the module comment). A `dir` that is not an absolute path
/// shorter than MAXPATHLEN is ignored (we stay in `/`). `/` itself, where
/// we are already, writes nothing: a program spawned from the root starts
/// as it did before there was a current directory (no bss page touched).
pub(crate) fn inherit(dir: &'static str) {
    if dir != "/" && dir.starts_with('/') && dir.len() < MAXPATHLEN {
        CWD.with(|c| c.inherited = dir);
    }
}

/// Returns the current directory, an absolute path (`/` unless `chdir`
/// or the parent that spawned us said otherwise). Panics only if out of
/// memory for the copy.
pub fn getcwd() -> String {
    with_cwd(|c| String::from(c))
}

/// Writes into `out` the absolute path that `path` names from the current
/// directory (see `pathname::resolve`), and returns its length.
/// E_BAD_PATH if it does not fit; E_NO_MEM if out of memory.
pub fn resolve_into(path: &str, out: &mut [u8]) -> Result<usize> {
    // try_with: out of memory (the cell's page copy-on-write after fork,
    // and no page to copy it to) is E_NO_MEM from `open`, not a panic.
    CWD.try_with(|c| pathname::resolve(c.owned.as_deref().unwrap_or(c.inherited), path, out))?
        .ok_or(Error::BadPath)
}

/// Returns the absolute path that `path` names from the current
/// directory. E_BAD_PATH if it is MAXPATHLEN bytes or longer; E_NO_MEM as
/// [`resolve_into`] (a heap that cannot grow panics, as any allocation).
pub fn resolve(path: &str) -> Result<String> {
    // On the heap: a program's stack may be one page.
    let mut buf = alloc::vec![0u8; MAXPATHLEN - 1];
    let n = resolve_into(path, &mut buf)?;
    buf.truncate(n);
    // The result is made of `path`'s and the cwd's own components, cut
    // only at `/`: UTF-8 still.
    String::from_utf8(buf).map_err(|_| Error::BadPath)
}

/// Makes `path` (resolved from the current directory) the current
/// directory, after checking it is a directory. Errors: the file server's
/// (E_NOT_FOUND for a path that does not exist, ...), E_BAD_PATH for a
/// path too long or one that names a file, not a directory; the current
/// directory is then unchanged.
pub fn chdir(path: &str) -> Result<()> {
    let dir = resolve(path)?;
    if !stat(&dir)?.isdir {
        return Err(Error::BadPath);
    }
    CWD.with(|c| c.owned = Some(dir));
    Ok(())
}
