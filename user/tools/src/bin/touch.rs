// make: FS=1
//! touch: creates empty files, as Unix's `touch file...` (JOS keeps no
//! times, so an existing file is left as it is).
#![no_std]
#![no_main]

use abi::fsipc::{O_CREAT, O_RDONLY};
use jos::fd::close;
use jos::file::open;
use user::warn;

jos::main!(umain);

fn umain(argv: &[&str]) {
    let files = argv.get(1..).unwrap_or(&[]);
    if files.is_empty() {
        return warn!("usage: touch file...");
    }
    for f in files {
        match open(f, O_RDONLY | O_CREAT) {
            Ok(fd) => {
                let _ = close(fd);
            }
            Err(e) => warn!("{}: {}", f, e),
        }
    }
}
