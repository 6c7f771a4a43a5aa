// make: FS=1 NS=1
//! sockhog (review PoC): PER_ENV (16) bounds the sockets one env makes,
//! but the server has only MAXSOCK (64) slots, so four children of one
//! program take them all and every other env's socket() is refused
//! (E_MAX_OPEN) for as long as they live. (A fork-and-exit chain does it
//! with one env alive at a time: an exited owner's sockets, still held by
//! its child, count for nobody.)
#![no_std]
#![no_main]

use abi::nsipc::*;
use jos::cprintf;
use jos::net::socket;
use jos::syscall::sys_env_destroy;

jos::main!(umain);

fn umain(_args: &[&str]) {
    let mut kids = [0; 4];
    for k in kids.iter_mut() {
        match jos::fork() {
            Ok(0) => {
                let mut n = 0;
                while n < 16 && socket(PF_INET, SOCK_DGRAM, 0).is_ok() {
                    n += 1;
                }
                cprintf!("sockhog: child {:08x} holds {} sockets\n", jos::env::thisenv_id(), n);
                loop {
                    jos::time::sleep_msec(1000);
                }
            }
            Ok(id) => *k = id,
            Err(e) => panic!("fork: {e}"),
        }
        jos::time::sleep_msec(1000);
    }
    // Another env (here the parent, which made none) asks for one.
    cprintf!("sockhog: another env's socket(): {:?}\n", socket(PF_INET, SOCK_STREAM, 0));
    for k in kids {
        let _ = sys_env_destroy(k);
    }
    jos::time::sleep_msec(500);
    cprintf!("sockhog: after the children are gone: {:?}\n", socket(PF_INET, SOCK_STREAM, 0));
}
