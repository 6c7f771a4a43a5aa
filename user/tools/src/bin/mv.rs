// make: FS=1
//! mv: renames files and directories, as Unix's: `mv from to`, or
//! `mv path... dir` (each into `dir` under its own name; also when `to`
//! is an existing directory). The file server moves the entry
//! (FSREQ_RENAME): nothing is copied. An existing file at `to` is
//! replaced; a directory never is.
#![no_std]
#![no_main]

use jos::rename::rename;
use user::cli::for_each_source;
use user::warn;

jos::main!(umain);

fn mv(from: &str, to: &str) {
    if let Err(e) = rename(from, to) {
        warn!("rename {} to {}: {}", from, to, e);
    }
}

fn umain(argv: &[&str]) {
    for_each_source(argv, "usage: mv from to, or mv path... dir", mv);
}
