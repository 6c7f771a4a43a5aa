// make: FS=1
//! wc: counts lines, words and bytes of files (or descriptor 0), as
//! Unix's: `wc [-l] [file...]` prints `lines words bytes name` per file
//! (`-l`: lines only), and a `total` line for more than one file.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::fd::{close, read};
use jos::file::open;
use jos::printf;
use user::warn;

jos::main!(umain);

/// Counts so far.
#[derive(Default, Clone, Copy)]
struct Counts {
    lines: u32,
    words: u32,
    bytes: u32,
}

/// Counts descriptor `f` (named `name` in messages).
fn count(f: usize, name: &str) -> Counts {
    let mut c = Counts::default();
    let mut in_word = false;
    // On the heap: a spawned program starts with one page of stack.
    let mut buf = jos::alloc::vec![0u8; 4096];
    loop {
        let n = match read(f, &mut buf) {
            Ok(0) => return c,
            Ok(n) => n,
            Err(e) => {
                warn!("error reading {}: {}", name, e);
                return c;
            }
        };
        c.bytes += n as u32;
        for &b in &buf[..n] {
            if b == b'\n' {
                c.lines += 1;
            }
            let space = matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
            if !space && !in_word {
                c.words += 1;
            }
            in_word = !space;
        }
    }
}

/// Prints one line of counts.
fn show(c: Counts, lines_only: bool, name: &str) {
    let sep = if name.is_empty() { "" } else { " " };
    if lines_only {
        printf!("{:7}{}{}\n", c.lines, sep, name);
    } else {
        printf!("{:7} {:7} {:7}{}{}\n", c.lines, c.words, c.bytes, sep, name);
    }
}

fn umain(argv: &[&str]) {
    let mut lines_only = false;
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match c {
            'l' => lines_only = true,
            _ => {
                warn!("usage: wc [-l] [file...]");
                return;
            }
        }
    }
    let files = args.rest();
    if files.is_empty() {
        show(count(0, "<stdin>"), lines_only, "");
        return;
    }
    let mut total = Counts::default();
    for path in files {
        match open(path, O_RDONLY) {
            Ok(f) => {
                let c = count(f, path);
                let _ = close(f);
                show(c, lines_only, path);
                total.lines += c.lines;
                total.words += c.words;
                total.bytes += c.bytes;
            }
            Err(e) => warn!("can't open {}: {}", path, e),
        }
    }
    if files.len() > 1 {
        show(total, lines_only, "total");
    }
}
