// make: FS=1
//! lsfd: lists this environment's open file descriptors (those it was
//! started with), one line each: `fd N: name NAME isdir D size S dev DEV`
//! (JOS's user/lsfd.c). On the console, or with `-1` on descriptor 1.
#![no_std]
#![no_main]

use abi::fsipc::MAXFD;
use jos::cprintf;
use jos::fd::fstat;

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
        if let Ok(st) = fstat(i) {
            let line = jos::alloc::format!(
                "fd {}: name {} isdir {} size {} dev {}\n",
                i,
                st.name_str(),
                st.isdir as i32,
                st.size as i32,
                st.dev.dev_name
            );
            if usefprint {
                let _ = user::cli::write_all(1, line.as_bytes());
            } else {
                cprintf!("{}", line);
            }
        }
    }
}
