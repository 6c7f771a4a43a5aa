//! Path names, resolved the way the user library hands them to the file
//! server: a path relative to the current directory (`d/f`, `../f`, `.`)
//! becomes the absolute path it names (`/home/d/f`), with `.`, `..` and
//! repeated or trailing `/` taken out. Pure logic (no_std, no allocation:
//! the result is written into the caller's buffer, for the library writes
//! it straight into the file server's request page), tested on the host.
//!
//! ```text
//!   cwd          path          resolved
//!   /            motd          /motd
//!   /d           f             /d/f
//!   /d/e         ../f          /d/f
//!   /d           /motd         /motd        (absolute: cwd ignored)
//!   /d           .//x/./y/     /d/x/y
//!   /            ../..         /            (`..` of the root is the root)
//! ```
//!
//! Resolution is lexical, as Plan 9's `cleanname`: `a/..` is taken out
//! without asking whether `a` exists or is a directory (the file system
//! has no links, so the result names the same file Unix would find
//! whenever Unix finds one). The file server still checks every path it
//! gets: this is a convenience for programs, not a guard.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

/// Writes into `out` the absolute path that `path` names when the current
/// directory is `cwd` (an absolute path; a `cwd` not starting with `/` is
/// taken as if it did): `path` alone if it starts with `/`, else `cwd`
/// then `path`, with the components `.` and empty (repeated `/`) dropped
/// and each `..` taking out the component before it (none at the root).
/// The result starts with `/` and has no `/` at its end unless it is `/`
/// itself; an empty `path` names `cwd`.
///
/// Returns the result's length in bytes, or `None` if it (or a step on
/// the way, a component later taken out by `..`) does not fit in `out`.
/// The bytes of `out` past the result may have been written too (with a
/// component `..` took out): a caller that wants a C string puts the NUL
/// there itself.
pub fn resolve(cwd: &str, path: &str, out: &mut [u8]) -> Option<usize> {
    let mut len = 0;
    // Split as bytes: `str::split('/')` costs a program core's char
    // searcher (about 0.5 KB), and a `/` is one byte in UTF-8 anyway.
    let start = if path.starts_with('/') { "" } else { cwd };
    let slash = |b: &u8| *b == b'/';
    for part in start
        .as_bytes()
        .split(slash)
        .chain(path.as_bytes().split(slash))
    {
        match part {
            b"" | b"." => {}
            b".." => {
                // Back to the `/` before the last component (0 at the root).
                len = out[..len].iter().rposition(|&b| b == b'/').unwrap_or(0);
            }
            name => {
                let end = len.checked_add(1 + name.len())?;
                let dst = out.get_mut(len..end)?;
                dst[0] = b'/';
                dst[1..].copy_from_slice(name);
                len = end;
            }
        }
    }
    if len == 0 {
        *out.first_mut()? = b'/';
        len = 1;
    }
    Some(len)
}
