// make: FS=1
//! pipefork: a pipe must not look closed while the holder of its write
//! end forks (a companion to JOS's testpiperace tests, for fork).
//!
//! The parent holds both ends of a pipe; a checker child holds the read
//! end only and asks `pipeisclosed` over and over, while the parent forks
//! children that exit at once. Each fork maps the parent's two Fd pages
//! and the pipe page into the child: were an Fd page of the read end
//! mapped before the pipe page, for a moment the read end's count would
//! equal the pipe page's, and the checker would see the write end closed.
//! `fork` maps the fd table's pages last, so it never should. At the end
//! the parent writes one byte, the checker's sign to stop. The last line
//! is `pipefork: OK` (or `RACE: pipe appears closed`). Best on 2 CPUs.
#![no_std]
#![no_main]

use jos::console::opencons;
use jos::cprintf;
use jos::env::wait;
use jos::fd::{close, fstat, write};
use jos::pipe::{pipe, pipeisclosed};

jos::main!(umain);

/// Children the parent forks.
const FORKS: u32 = 300;

/// Console descriptors the parent opens after the pipe's two.
const EXTRA_FDS: usize = 29;

/// The checker: looks at the pipe until a byte arrives; returns whether it
/// ever looked closed before that.
fn checker(rfd: usize) -> bool {
    let waiting = || fstat(rfd).map_or(0, |st| st.size);
    loop {
        if waiting() > 0 {
            return false;
        }
        // Closed with no byte waiting (the byte may come in between).
        if pipeisclosed(rfd) == Ok(true) && waiting() == 0 {
            return true;
        }
    }
}

fn umain(_args: &[&str]) {
    let p = pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    let kid = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    if kid == 0 {
        let _ = close(p[1]);
        if checker(p[0]) {
            cprintf!("RACE: pipe appears closed\n");
        } else {
            cprintf!("pipefork: OK\n");
        }
        return;
    }
    // More descriptors after the pipe's: with the fd table walked in
    // address order, the read end's Fd page would be mapped into each
    // child this many system calls before the pipe page.
    for _ in 0..EXTRA_FDS {
        opencons().unwrap_or_else(|e| panic!("opencons: {e}"));
    }
    for _ in 0..FORKS {
        match jos::fork() {
            Ok(0) => jos::exit(),
            Ok(child) => wait(child),
            Err(e) => panic!("fork: {e}"),
        }
    }
    if write(p[1], b"!") != Ok(1) {
        panic!("write to the checker failed");
    }
    wait(kid);
}
