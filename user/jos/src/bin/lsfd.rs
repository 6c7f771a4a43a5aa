// make: FS=1
//! lsfd: lists this environment's open file descriptors (those it was
//! started with), one line each: `fd N: name NAME isdir D size S dev DEV`
//! (JOS's user/lsfd.c). On the console, or with `-1` on descriptor 1.
#![no_std]
#![no_main]

use abi::fsipc::MAXFD;
use jos::fd::fstat;
use jos::{cprintf, fprintf};

jos::main!(umain);

fn umain(argv: &[&str]) {
    let mut usefprint = false;
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        if c == '1' {
            usefprint = true;
        } else {
            cprintf!("usage: lsfd [-1]\n");
            return;
        }
    }
    for i in 0..MAXFD {
        let Ok(st) = fstat(i) else { continue };
        // fprintf!, as JOS's lsfd: formatted on the stack, written at
        // once. testshell.key's `size 32` for the pipe needs this fstat to
        // see the pipe as the last byte of the line before left it (full):
        // between the two, nothing but returns and the loop. (A String
        // from alloc::format!, freed there, more than doubled that window:
        // see testshell.rs.)
        let (name, isdir, size) = (st.name_str(), st.isdir as i32, st.size as i32);
        let dev = st.dev.dev_name;
        if usefprint {
            fprintf!(
                1,
                "fd {}: name {} isdir {} size {} dev {}\n",
                i,
                name,
                isdir,
                size,
                dev
            );
        } else {
            cprintf!(
                "fd {}: name {} isdir {} size {} dev {}\n",
                i,
                name,
                isdir,
                size,
                dev
            );
        }
    }
}
