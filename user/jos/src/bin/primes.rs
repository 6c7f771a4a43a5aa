//! primes: the concurrent prime sieve. The first environment feeds 2, 3,
//! 4, ... into a pipeline; each stage prints the first number it receives
//! (a prime), forks the next stage, and passes on only the numbers its
//! prime does not divide.
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::mmu::PteFlags;
use jos::env::thisenv_read;
use jos::{cprintf, ipc_recv, ipc_send};

jos::main!(umain);

/// Receives a value from our left neighbour.
fn recv() -> u32 {
    match ipc_recv(None) {
        Ok(m) => m.value,
        Err(e) => panic!("ipc_recv: {e}"),
    }
}

/// Forks; panics on failure.
fn fork() -> EnvId {
    match jos::fork() {
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    }
}

/// One stage of the sieve. Never returns.
fn primeproc() -> ! {
    loop {
        // Fetch a prime from our left neighbour.
        let p = recv();
        cprintf!("CPU {}: {} ", thisenv_read().env_cpunum, p);
        // Fork a right neighbour to continue the chain; the child becomes
        // that next stage (goes round the loop again).
        let id = fork();
        if id == 0 {
            continue;
        }
        // Filter out the multiples of our prime.
        loop {
            let i = recv();
            if !i.is_multiple_of(p) {
                ipc_send(id, i, None, PteFlags::empty());
            }
        }
    }
}

fn umain(_args: &[&str]) {
    let id = fork();
    if id == 0 {
        primeproc();
    }
    // Feed all the integers through.
    for i in 2.. {
        ipc_send(id, i, None, PteFlags::empty());
    }
}
