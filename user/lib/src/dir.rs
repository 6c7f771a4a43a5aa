//! Reading a directory record by record, as JOS's ls.c does: a directory
//! is a file of `File` records (josfs), some of them free.

use crate::warn;
use jos::fd::readn;
use josfs::{FILE_SIZE, File};

/// Calls `each` with every record in use of the directory open on `fd`, in
/// order, to its end. A short read or a read error ends the walk with a
/// message naming `path` (the records before it were passed on).
pub fn for_each_entry(fd: usize, path: &str, mut each: impl FnMut(&File)) {
    let mut rec = [0u8; FILE_SIZE];
    loop {
        match readn(fd, &mut rec) {
            Ok(FILE_SIZE) => {
                let f = File::from_bytes(&rec);
                if !f.is_free() {
                    each(&f);
                }
            }
            Ok(0) => break,
            Ok(_) => {
                warn!("short read in directory {}", path);
                break;
            }
            Err(e) => {
                warn!("error reading directory {}: {}", path, e);
                break;
            }
        }
    }
}
