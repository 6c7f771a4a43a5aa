// make: FS=1
//! rm: removes files, as Unix's: `rm [-dr] file...`. A directory goes
//! only with a flag: `-d` removes it if it is empty, `-r` removes it and
//! everything in it (its entries first, depth first). Paths are relative
//! to the current directory; `-r` refuses the root, `.` and `..`, as
//! Unix's does.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::alloc::string::String;
use jos::alloc::vec::Vec;
use jos::fd::{close, stat};
use jos::file::{open, remove};
use user::warn;

jos::main!(umain);

const USAGE: &str = "usage: rm [-dr] file...";

fn umain(argv: &[&str]) {
    let mut dirs = false;
    let mut recursive = false;
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match c {
            'd' => dirs = true,
            'r' => recursive = true,
            _ => return warn!("{}", USAGE),
        }
    }
    if args.rest().is_empty() {
        return warn!("{}", USAGE);
    }
    for path in args.rest() {
        match stat(path) {
            Ok(st) if st.isdir && recursive => {
                let last = path.trim_end_matches('/').rsplit('/').next();
                if matches!(last, Some("" | "." | "..")) {
                    warn!("refusing to remove {}", path);
                } else {
                    remove_tree(path);
                }
            }
            Ok(st) if st.isdir && !dirs => {
                warn!(
                    "{}: is a directory (rm -d if empty, rm -r with what is in it)",
                    path
                )
            }
            Ok(_) => {
                if let Err(e) = remove(path) {
                    warn!("remove {}: {}", path, e);
                }
            }
            Err(e) => warn!("remove {}: {}", path, e),
        }
    }
}

/// Removes directory `dir` and everything in it: each entry (a directory
/// by the same means), then `dir` itself. Prints a message for what cannot
/// be removed (and then for `dir`, which is not empty) and goes on.
fn remove_tree(dir: &str) {
    for (name, isdir) in entries(dir) {
        // Names no file system of ours makes, but a damaged one might hold:
        // `d/..` would be d's parent.
        if matches!(name.as_str(), "" | "." | "..") || name.contains('/') {
            warn!("{}: skipping an entry named {:?}", dir, name);
            continue;
        }
        let path = jos::alloc::format!("{}/{}", dir.trim_end_matches('/'), name);
        if isdir {
            remove_tree(&path);
        } else if let Err(e) = remove(&path) {
            warn!("remove {}: {}", path, e);
        }
    }
    if let Err(e) = remove(dir) {
        warn!("remove {}: {}", dir, e);
    }
}

/// The names in directory `dir` (read whole before anything is removed),
/// each with whether it is a directory. Prints a message and returns what
/// was read if the directory cannot be read to its end.
fn entries(dir: &str) -> Vec<(String, bool)> {
    let mut list = Vec::new();
    let fd = match open(dir, O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => {
            warn!("open {}: {}", dir, e);
            return list;
        }
    };
    user::dir::for_each_entry(fd, dir, |f| {
        list.push((String::from_utf8_lossy(f.name()).into(), f.is_dir()))
    });
    let _ = close(fd);
    list
}
