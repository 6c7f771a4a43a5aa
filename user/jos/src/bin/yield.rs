//! yield: gives up the CPU five times, saying so each time it is back.
#![no_std]
#![no_main]

use jos::cprintf;
use jos::syscall::sys_yield;

jos::main!(umain);

fn umain(_args: &[&str]) {
    let id = jos::thisenv().env_id;
    cprintf!("Hello, I am environment {:08x}.\n", id);
    for i in 0..5 {
        sys_yield();
        cprintf!("Back in environment {:08x}, iteration {}.\n", id, i);
    }
    cprintf!("All done in environment {:08x}.\n", id);
}
