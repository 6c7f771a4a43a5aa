//! stresssched: 20 children each add 10 x 10000 to their own (copy-on-
//! write, so private) counter, yielding in between. If the scheduler ever
//! ran one environment on two CPUs at once, increments would be lost.
//! Each reports the CPU it finished on.
#![no_std]
#![no_main]

use abi::env::ENV_FREE;
use core::ptr::{addr_of_mut, read_volatile, write_volatile};
use jos::cprintf;
use jos::env::{env_status, thisenv_read};
use jos::syscall::{sys_getenvid, sys_yield};

jos::main!(umain);

/// The counter, in the data segment (private to each child after fork).
static mut COUNTER: u32 = 0;

fn umain(_args: &[&str]) {
    let parent = sys_getenvid();
    let mut forked = 0;
    while forked < 20 {
        match jos::fork() {
            Ok(0) => break,
            Ok(_) => forked += 1,
            Err(e) => panic!("fork: {e}"),
        }
    }
    if forked == 20 {
        sys_yield();
        return;
    }
    // Wait for the parent to finish forking.
    while env_status(parent) != ENV_FREE {
        core::hint::spin_loop();
    }
    let counter = addr_of_mut!(COUNTER);
    for _ in 0..10 {
        sys_yield();
        for _ in 0..10000 {
            // SAFETY: our own private copy; separate load and store on
            // purpose (an increment that two CPUs could interleave).
            unsafe { write_volatile(counter, read_volatile(counter) + 1) };
        }
    }
    // SAFETY: as above.
    let c = unsafe { read_volatile(counter) };
    if c != 10 * 10000 {
        panic!("ran on two CPUs at once (counter is {c})");
    }
    let me = thisenv_read();
    cprintf!("[{:08x}] stresssched on CPU {}\n", me.env_id, me.env_cpunum);
}
