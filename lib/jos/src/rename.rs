//! Renaming files (`mv`): the client of the file server's FSREQ_RENAME,
//! our addition to JOS's requests. It sits beside `file`'s `remove` and
//! `sync` in spirit, over the same request page.
use crate::file::{fsipc, fsipcbuf_as, put_path};
use abi::error::Result;
use abi::fsipc::{FSREQ_RENAME, FsreqRename};

/// Renames (moves) the file or directory at `from` to `to` (each relative
/// to the current directory unless it starts with `/`), as Unix's
/// `rename(2)`: an existing regular file at `to` is replaced; a directory
/// at either end is never replaced, nor moved into itself. Returns the
/// server's error: E_NOT_FOUND (no `from`, or no directory for `to`),
/// E_FILE_EXISTS (a directory in the way), E_INVAL (a directory into
/// itself), E_BAD_PATH (a path too long, the root, "." or ".."),
/// E_NO_DISK.
pub fn rename(from: &str, to: &str) -> Result<()> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqRename>() };
    put_path(&mut req.req_oldpath, from)?;
    put_path(&mut req.req_newpath, to)?;
    fsipc(FSREQ_RENAME, None).map(|_| ())
}
