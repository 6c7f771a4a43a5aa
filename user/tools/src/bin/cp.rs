// make: FS=1
//! cp: copies files, as Unix's: `cp from to` (`to` created or emptied),
//! or `cp file... dir` (each into `dir` under its own name; also when
//! `to` is an existing directory). A copy of a file of 1 MiB or more (ten
//! seconds or so under TCG) says how far it got every 2 s:
//! `cp: TO: T s, K of N KiB`.
#![no_std]
#![no_main]

use abi::fsipc::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use jos::cprintf;
use jos::fd::{close, read, stat};
use jos::file::open;
use jos::progress::Progress;
use user::cli::{for_each_source, write_all};
use user::warn;

jos::main!(umain);

/// Files this big or bigger get progress lines (smaller ones never do:
/// whatever the machine's speed, their copy prints nothing).
const PROGRESS_SIZE: u32 = 1 << 20;

/// Copies file `from` to `to`; warns and returns on any error.
fn cp(from: &str, to: &str) {
    let size = match stat(from) {
        Ok(st) if st.isdir => return warn!("{}: is a directory (not copied)", from),
        Ok(st) => st.size,
        Err(e) => return warn!("can't open {}: {}", from, e),
    };
    let src = match open(from, O_RDONLY) {
        Ok(f) => f,
        Err(e) => return warn!("can't open {}: {}", from, e),
    };
    let dst = match open(to, O_WRONLY | O_CREAT | O_TRUNC) {
        Ok(f) => f,
        Err(e) => {
            let _ = close(src);
            return warn!("can't create {}: {}", to, e);
        }
    };
    // On the heap: a spawned program starts with one page of stack.
    let mut buf = jos::alloc::vec![0u8; 4096];
    let mut clock = (size >= PROGRESS_SIZE).then(Progress::start);
    let mut done = 0;
    loop {
        match read(src, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = write_all(dst, &buf[..n]) {
                    warn!("write error copying to {}: {}", to, e);
                    break;
                }
                done += n;
                if let Some(c) = clock.as_mut()
                    && c.due()
                {
                    cprintf!(
                        "cp: {}: {} s, {} of {} KiB\n",
                        to,
                        c.secs(),
                        done >> 10,
                        size >> 10
                    );
                }
            }
            Err(e) => {
                warn!("error reading {}: {}", from, e);
                break;
            }
        }
    }
    let _ = close(src);
    if let Err(e) = close(dst) {
        warn!("close {}: {}", to, e);
    }
}

fn umain(argv: &[&str]) {
    for_each_source(argv, "usage: cp from to, or cp file... dir", cp);
}
