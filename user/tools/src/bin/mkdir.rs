// make: FS=1
//! mkdir: makes directories, as Unix's: `mkdir dir...` (the parent must
//! exist; an existing name is an error). Opens each with `O_MKDIR`.
#![no_std]
#![no_main]

use abi::fsipc::{O_EXCL, O_MKDIR, O_RDONLY};
use jos::fd::close;
use jos::file::open;
use user::warn;

jos::main!(umain);

fn umain(argv: &[&str]) {
    let dirs = argv.get(1..).unwrap_or(&[]);
    if dirs.is_empty() {
        return warn!("usage: mkdir dir...");
    }
    for dir in dirs {
        match open(dir, O_RDONLY | O_MKDIR | O_EXCL) {
            Ok(fd) => {
                let _ = close(fd);
            }
            Err(e) => warn!("{}: {}", dir, e),
        }
    }
}
