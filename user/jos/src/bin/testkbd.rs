// make: FS=1
//! testkbd (JOS's user/testkbd.c): the console as file descriptors 0 and 1:
//! reads lines with `readline` (echoed, since descriptor 0 is the console)
//! and prints each back with `fprintf!` to descriptor 1, forever; Ctrl-D
//! is an end of file, reported as such.
#![no_std]
#![no_main]

use jos::console::opencons;
use jos::fd::{close, dup};
use jos::fprintf;
use jos::readline::readline;
use jos::syscall::sys_yield;

jos::main!(umain);

fn umain(_args: &[&str]) {
    // Spin for a bit to let the console quiet.
    for _ in 0..10 {
        sys_yield();
    }

    let _ = close(0);
    match opencons() {
        Ok(0) => {}
        Ok(n) => panic!("first opencons used fd {n}"),
        Err(e) => panic!("opencons: {e}"),
    }
    if let Err(e) = dup(0, 1) {
        panic!("dup: {e}");
    }

    loop {
        match readline("Type a line: ") {
            Some(line) => fprintf!(1, "{}\n", line),
            None => fprintf!(1, "(end of file received)\n"),
        }
    }
}
