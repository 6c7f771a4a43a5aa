// make: FS=1
//! sync: asks the file server to write every dirty block to disk.
#![no_std]
#![no_main]

jos::main!(umain);

fn umain(_argv: &[&str]) {
    if let Err(e) = jos::file::sync() {
        user::warn!("{}", e);
    }
}
