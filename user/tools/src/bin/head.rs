// make: FS=1
//! head: prints the first lines of files (or descriptor 0), as Unix's:
//! `head [-n N] [file...]`, 10 lines unless told; with more than one
//! file, each is headed `==> name <==`.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::fd::close;
use jos::file::open;
use jos::printf;
use user::cli::{for_each_line, write_all};
use user::warn;

jos::main!(umain);

/// Copies the first `n` lines of descriptor `f` to descriptor 1.
fn head(f: usize, n: u32, name: &str) {
    let mut left = n;
    if left == 0 {
        return;
    }
    let r = for_each_line(f, |line| {
        left -= 1;
        write_all(1, line).is_ok() && left > 0
    });
    if let Err(e) = r {
        warn!("error reading {}: {}", name, e);
    }
}

fn usage() {
    warn!("usage: head [-n N] [file...]");
}

fn umain(argv: &[&str]) {
    let mut n = 10;
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match (c, args.value().map(str::parse::<u32>)) {
            ('n', Some(Ok(v))) => n = v,
            _ => return usage(),
        }
    }
    let files = args.rest();
    if files.is_empty() {
        head(0, n, "<stdin>");
        return;
    }
    for (i, path) in files.iter().enumerate() {
        match open(path, O_RDONLY) {
            Ok(f) => {
                if files.len() > 1 {
                    printf!("{}==> {} <==\n", if i > 0 { "\n" } else { "" }, path);
                }
                head(f, n, path);
                let _ = close(f);
            }
            Err(e) => warn!("can't open {}: {}", path, e),
        }
    }
}
