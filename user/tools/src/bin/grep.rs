// make: FS=1
//! grep: prints the lines of files (or descriptor 0) that contain a fixed
//! string, as Unix's `grep -F`: `grep [-vcn] string [file...]`. `-v`: the
//! lines that do not; `-c`: only how many lines; `-n`: each line's number
//! first. With more than one file, each line starts with its file's name.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::alloc::vec::Vec;
use jos::fd::close;
use jos::file::open;
use jos::printf;
use user::cli::{for_each_line, write_all};
use user::warn;

jos::main!(umain);

/// The flags given.
#[derive(Default)]
struct Flags {
    invert: bool,
    count: bool,
    number: bool,
}

/// Whether `needle` occurs in `hay` (an empty needle always does).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Greps descriptor `f`; `label` ("" for one file) starts each line.
fn grep(flags: &Flags, pat: &[u8], f: usize, name: &str, label: &str) {
    let mut lineno = 0u32;
    let mut matched = 0u32;
    let r = for_each_line(f, |line| {
        lineno += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        if contains(text, pat) == flags.invert {
            return true;
        }
        matched += 1;
        if flags.count {
            return true;
        }
        let mut out: Vec<u8> = Vec::new();
        if !label.is_empty() {
            out.extend_from_slice(label.as_bytes());
            out.push(b':');
        }
        if flags.number {
            out.extend_from_slice(jos::alloc::format!("{lineno}:").as_bytes());
        }
        out.extend_from_slice(text);
        out.push(b'\n');
        write_all(1, &out).is_ok()
    });
    if let Err(e) = r {
        warn!("error reading {}: {}", name, e);
    }
    if flags.count {
        if label.is_empty() {
            printf!("{}\n", matched);
        } else {
            printf!("{}:{}\n", label, matched);
        }
    }
}

fn umain(argv: &[&str]) {
    let mut flags = Flags::default();
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match c {
            'v' => flags.invert = true,
            'c' => flags.count = true,
            'n' => flags.number = true,
            _ => {
                warn!("usage: grep [-vcn] string [file...]");
                return;
            }
        }
    }
    let Some((pat, files)) = args.rest().split_first() else {
        warn!("usage: grep [-vcn] string [file...]");
        return;
    };
    if files.is_empty() {
        grep(&flags, pat.as_bytes(), 0, "<stdin>", "");
        return;
    }
    for path in files {
        match open(path, O_RDONLY) {
            Ok(f) => {
                let label = if files.len() > 1 { *path } else { "" };
                grep(&flags, pat.as_bytes(), f, path, label);
                let _ = close(f);
            }
            Err(e) => warn!("can't open {}: {}", path, e),
        }
    }
}
