// make: FS=1
//! rm: removes files, as Unix's: `rm [-d] file...`; `-d` also removes
//! empty directories (a directory that is not empty never goes).
#![no_std]
#![no_main]

use jos::fd::stat;
use jos::file::remove;
use user::warn;

jos::main!(umain);

fn umain(argv: &[&str]) {
    let mut dirs = false;
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match c {
            'd' => dirs = true,
            _ => return warn!("usage: rm [-d] file..."),
        }
    }
    if args.rest().is_empty() {
        return warn!("usage: rm [-d] file...");
    }
    for path in args.rest() {
        match stat(path) {
            Ok(st) if st.isdir && !dirs => warn!("{}: is a directory", path),
            Ok(_) => {
                if let Err(e) = remove(path) {
                    warn!("remove {}: {}", path, e);
                }
            }
            Err(e) => warn!("remove {}: {}", path, e),
        }
    }
}
