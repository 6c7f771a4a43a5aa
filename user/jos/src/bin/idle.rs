//! idle: spins on `sys_yield` forever, so the scheduler always has another
//! environment to go to (a fairness check: the others must keep running).
#![no_std]
#![no_main]

use jos::syscall::sys_yield;

jos::main!(umain);

fn umain(_args: &[&str]) {
    loop {
        sys_yield();
    }
}
