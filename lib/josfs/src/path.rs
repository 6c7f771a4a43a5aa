//! Path names, as JOS's `walk_path` reads them.
//!
//! A path is a sequence of names separated by one or more slashes; leading
//! slashes are skipped, so "motd", "/motd" and "//motd/" all name the same
//! file (JOS walks every path from the root; there is no current directory).
//! "." and ".." mean nothing special: JOS looks them up like any other name
//! and does not find them. We do the same, and additionally refuse to
//! *create* an entry called "." or "..", so that no image we write can make
//! them mean something odd later.

use crate::{Error, MAXNAMELEN, MAXPATHLEN, Result};

/// Checks a whole path: shorter than [`MAXPATHLEN`] (room for the NUL
/// JOS's IPC request carries), no NUL byte inside, and every component
/// shorter than [`MAXNAMELEN`]. Returns `E_BAD_PATH` if not.
pub fn check_path(path: &[u8]) -> Result<()> {
    if path.len() >= MAXPATHLEN || path.contains(&0) {
        return Err(Error::BadPath);
    }
    if components(path).any(|c| c.len() >= MAXNAMELEN) {
        return Err(Error::BadPath);
    }
    Ok(())
}

/// Checks one name for a new directory entry: not empty, shorter than
/// [`MAXNAMELEN`], no '/' or NUL, and not "." or "..". Returns
/// `E_BAD_PATH` if not.
pub fn check_name(name: &[u8]) -> Result<()> {
    if name.is_empty()
        || name.len() >= MAXNAMELEN
        || name.contains(&b'/')
        || name.contains(&0)
        || name == b"."
        || name == b".."
    {
        return Err(Error::BadPath);
    }
    Ok(())
}

/// Returns the non-empty components of `path`, in order ("a//b/" gives "a",
/// "b"; "/" and "" give none).
pub fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&c| c == b'/').filter(|c| !c.is_empty())
}

/// Splits `path` into its parent path and its last component: "/a/b/c"
/// gives ("/a/b", "c"). Returns `None` for a path with no components (the
/// root).
pub fn split_last(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut end = path.len();
    while end > 0 && path[end - 1] == b'/' {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let start = path[..end]
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(0, |i| i + 1);
    Some((&path[..start], &path[start..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn components_skip_slashes() {
        let c: Vec<&[u8]> = components(b"//a///bb/c/").collect();
        assert_eq!(c, [&b"a"[..], b"bb", b"c"]);
        assert_eq!(components(b"/").count(), 0);
        assert_eq!(components(b"").count(), 0);
        assert_eq!(components(b"motd").count(), 1);
    }

    #[test]
    fn path_limits() {
        check_path(b"/a/b").unwrap();
        check_path(b"").unwrap();
        let long_name = [b'n'; MAXNAMELEN];
        assert_eq!(check_path(&long_name), Err(Error::BadPath));
        check_path(&long_name[1..]).unwrap();
        let mut long_path = Vec::new();
        while long_path.len() < MAXPATHLEN {
            long_path.extend_from_slice(b"/abc");
        }
        assert_eq!(check_path(&long_path), Err(Error::BadPath));
        long_path.truncate(MAXPATHLEN - 1);
        check_path(&long_path).unwrap();
        assert_eq!(check_path(b"a\0b"), Err(Error::BadPath));
    }

    #[test]
    fn names() {
        check_name(b"motd").unwrap();
        check_name(b"...").unwrap();
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
            assert_eq!(check_name(bad), Err(Error::BadPath));
        }
    }

    #[test]
    fn split() {
        assert_eq!(split_last(b"/a/b/c"), Some((&b"/a/b/"[..], &b"c"[..])));
        assert_eq!(split_last(b"c//"), Some((&b""[..], &b"c"[..])));
        assert_eq!(split_last(b"///"), None);
    }
}
