// make: FS=1
//! mv: renames files and directories, as Unix's: `mv from to`, or
//! `mv path... dir` (each into `dir` under its own name; also when `to`
//! is an existing directory). The file server moves the entry
//! (FSREQ_RENAME): nothing is copied. An existing file at `to` is
//! replaced; a directory never is.
#![no_std]
#![no_main]

use jos::fd::stat;
use jos::rename::rename;
use user::cli::{basename, join};
use user::warn;

jos::main!(umain);

fn mv(from: &str, to: &str) {
    if let Err(e) = rename(from, to) {
        warn!("rename {} to {}: {}", from, to, e);
    }
}

fn umain(argv: &[&str]) {
    let args = argv.get(1..).unwrap_or(&[]);
    let Some((to, froms)) = args.split_last().filter(|(_, f)| !f.is_empty()) else {
        return warn!("usage: mv from to, or mv path... dir");
    };
    let to_dir = stat(to).map(|st| st.isdir).unwrap_or(false);
    if froms.len() > 1 && !to_dir {
        return warn!("{}: not a directory", to);
    }
    for from in froms {
        if to_dir {
            mv(from, &join(to, basename(from)));
        } else {
            mv(from, to);
        }
    }
}
