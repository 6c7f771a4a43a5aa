//! spin: forks a child that spins forever; the parent yields 8 times and
//! then kills it. Only preemption by the timer lets the parent run again.
#![no_std]
#![no_main]

use jos::cprintf;
use jos::syscall::{sys_env_destroy, sys_yield};

jos::main!(umain);

fn umain(_args: &[&str]) {
    cprintf!("I am the parent.  Forking the child...\n");
    let child = match jos::fork() {
        Ok(0) => {
            cprintf!("I am the child.  Spinning...\n");
            #[allow(clippy::empty_loop)]
            loop {}
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    cprintf!("I am the parent.  Running the child...\n");
    for _ in 0..8 {
        sys_yield();
    }
    cprintf!("I am the parent.  Killing the child...\n");
    if let Err(e) = sys_env_destroy(child) {
        panic!("sys_env_destroy: {e}");
    }
}
