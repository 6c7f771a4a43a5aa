// make: FS=1
//! ls: lists files and directories (JOS's user/ls.c, same output).
//!
//! `ls [-dFlp] [file...]`: a directory is listed by reading its raw `File`
//! records through an ordinary descriptor; with no argument, the current
//! directory (`/`, as JOS's, unless `cd` moved the shell). `-d` shows a
//! directory itself, not what is in it; `-l` puts the size and `d` or `-`
//! first (`%11d %c `); `-F` and `-p` (Unix's name; JOS has only `-F`) put
//! `/` after directories. Entries are shown as `prefix/name`,
//! where the prefix is the directory as it was named.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::fd::{close, stat};
use jos::file::open;
use jos::printf;
use user::warn;

jos::main!(umain);

/// The flags given.
#[derive(Default)]
struct Flags {
    d: bool,
    f: bool,
    l: bool,
}

fn umain(argv: &[&str]) {
    let mut flags = Flags::default();
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match c {
            'd' => flags.d = true,
            'F' | 'p' => flags.f = true,
            'l' => flags.l = true,
            _ => {
                printf!("usage: ls [-dFl] [file...]\n");
                return;
            }
        }
    }
    match args.rest() {
        [] => ls(&flags, &jos::cwd::getcwd(), ""),
        paths => {
            for p in paths {
                ls(&flags, p, p);
            }
        }
    }
}

/// Lists `path`: its entries if it is a directory (and not `-d`), itself
/// otherwise.
fn ls(flags: &Flags, path: &str, prefix: &str) {
    let st = match stat(path) {
        Ok(st) => st,
        Err(e) => {
            warn!("stat {}: {}", path, e);
            return;
        }
    };
    if st.isdir && !flags.d {
        lsdir(flags, path, prefix);
    } else {
        ls1(flags, None, st.isdir, st.size, path.as_bytes());
    }
}

/// Lists the entries of directory `path`, record by record.
fn lsdir(flags: &Flags, path: &str, prefix: &str) {
    let fd = match open(path, O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => {
            warn!("open {}: {}", path, e);
            return;
        }
    };
    user::dir::for_each_entry(fd, path, |f| {
        ls1(flags, Some(prefix), f.is_dir(), f.f_size as u32, f.name())
    });
    let _ = close(fd);
}

/// Prints one line: `[size type ]prefix/name[/]`.
fn ls1(flags: &Flags, prefix: Option<&str>, isdir: bool, size: u32, name: &[u8]) {
    let mut line = jos::alloc::string::String::new();
    use core::fmt::Write;
    if flags.l {
        let _ = write!(
            line,
            "{:11} {} ",
            size as i32,
            if isdir { 'd' } else { '-' }
        );
    }
    if let Some(prefix) = prefix {
        line.push_str(prefix);
        if !prefix.is_empty() && !prefix.ends_with('/') {
            line.push('/');
        }
    }
    line.push_str(&jos::alloc::string::String::from_utf8_lossy(name));
    if flags.f && isdir {
        line.push('/');
    }
    line.push('\n');
    let _ = user::cli::write_all(1, line.as_bytes());
}
