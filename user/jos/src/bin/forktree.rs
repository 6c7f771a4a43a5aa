//! forktree: each environment prints its name, a string of '0's and '1's,
//! and forks two children named after it with '0' and '1' appended, down
//! to names of length 3.
#![no_std]
#![no_main]

use jos::syscall::sys_getenvid;
use jos::{cprintf, snprintf};

jos::main!(umain);

/// The longest name.
const DEPTH: usize = 3;

/// Forks a child named `cur` + `branch`, unless `cur` is long enough.
fn forkchild(cur: &str, branch: char) {
    if cur.len() >= DEPTH {
        return;
    }
    let mut nxt = [0u8; DEPTH + 1];
    let n = snprintf!(&mut nxt, "{}{}", cur, branch);
    match jos::fork() {
        Ok(0) => {
            forktree(core::str::from_utf8(&nxt[..n]).unwrap_or("?"));
            jos::exit();
        }
        Ok(_) => {}
        Err(e) => panic!("fork: {e}"),
    }
}

/// Prints our name and forks our two children.
fn forktree(cur: &str) {
    cprintf!("{:04x}: I am '{}'\n", sys_getenvid(), cur);
    forkchild(cur, '0');
    forkchild(cur, '1');
}

fn umain(_args: &[&str]) {
    forktree("");
}
