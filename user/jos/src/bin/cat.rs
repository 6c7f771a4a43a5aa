// make: FS=1
//! cat: copies files (or, with none, descriptor 0) to descriptor 1
//! (JOS's user/cat.c). A file that cannot be opened is reported
//! (`cat: can't open foo: file or block not found`) and skipped.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::O_RDONLY;
use jos::cell::EnvCell;
use jos::fd::{close, read};
use jos::file::open;
use user::cli::write_all;
use user::warn;

jos::main!(umain);

/// The copy buffer, as JOS's cat.c has it: in the bss, not on the stack
/// (a spawned program starts with one page of it), nor on the heap (cat
/// then links no allocator).
static BUF: EnvCell<[u8; 8192]> = EnvCell::new([0; 8192]);

/// Copies descriptor `f` (named `name` in messages) to descriptor 1.
/// Returns false if the output went away (so the caller stops).
fn cat(f: usize, name: &str) -> bool {
    BUF.with(|buf| copy(f, name, buf))
}

/// [`cat`] through `buf`.
fn copy(f: usize, name: &str, buf: &mut [u8]) -> bool {
    loop {
        match read(f, buf) {
            Ok(0) => return true,
            Ok(n) => {
                match write_all(1, &buf[..n]) {
                    Ok(()) => {}
                    // The reader went away (`cat f | head`): stop quietly.
                    Err(Error::Eof) => return false,
                    Err(e) => {
                        warn!("write error copying {}: {}", name, e);
                        return false;
                    }
                }
            }
            Err(e) => {
                warn!("error reading {}: {}", name, e);
                return true;
            }
        }
    }
}

fn umain(argv: &[&str]) {
    if argv.len() <= 1 {
        cat(0, "<stdin>");
        return;
    }
    for path in &argv[1..] {
        match open(path, O_RDONLY) {
            Ok(f) => {
                let go_on = cat(f, path);
                let _ = close(f);
                if !go_on {
                    return;
                }
            }
            Err(e) => warn!("can't open {}: {}", path, e),
        }
    }
}
