// make: FS=1 NS=1
//! listenwedge (review PoC): while other envs hold the server's TCP
//! sockets up to MAX_TCP (96, user/serv/src/bin/ns/sock.rs), each accept
//! on an honest server's listening socket uses up one of its listeners and
//! `add_listener` fails silently, so after `backlog` accepts the socket has
//! no listener left: once the hogs are gone, new connections are refused
//! and accept answers E_INVAL for ever (the socket is wedged, not the
//! limit). Here: a listener on port 7300 with backlog 4, four connections
//! to it, two children making listening sockets until refused, four
//! accepts, the children killed, then a fifth connection and accept. The
//! verdict: `listenwedge: OK` (the fifth accepted) or `listenwedge: BUG`.
#![no_std]
#![no_main]

use abi::nsipc::*;
use jos::cprintf;
use jos::net::{NetAddr, accept, bind, connect, listen, socket};
use jos::syscall::sys_env_destroy;

jos::main!(umain);

const PORT: u16 = 7300;

fn hog() -> ! {
    let mut listeners = 0;
    for _ in 0..16 {
        let Ok(s) = socket(PF_INET, SOCK_STREAM, 0) else {
            break;
        };
        if bind(s, NetAddr::new([0; 4], 0)).is_err() {
            break;
        }
        if listen(s, 4).is_ok() {
            listeners += 1;
        }
    }
    cprintf!(
        "listenwedge: hog {:08x}: {} listening sockets\n",
        jos::env::thisenv_id(),
        listeners
    );
    loop {
        jos::time::sleep_msec(1000);
    }
}

fn umain(_args: &[&str]) {
    let l = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
    bind(l, NetAddr::new([0; 4], PORT)).expect("bind");
    listen(l, 4).expect("listen");
    let to = NetAddr::new([127, 0, 0, 1], PORT);
    for i in 0..4 {
        let c = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
        cprintf!("listenwedge: connection {}: {:?}\n", i, connect(c, to));
    }
    let mut hogs = [0; 2];
    for h in hogs.iter_mut() {
        match jos::fork() {
            Ok(0) => hog(),
            Ok(id) => *h = id,
            Err(e) => panic!("fork: {e}"),
        }
        jos::time::sleep_msec(1500);
    }
    for i in 0..4 {
        cprintf!(
            "listenwedge: accept {}: {:?}\n",
            i,
            accept(l).map(|(n, _)| n)
        );
    }
    for h in hogs {
        let _ = sys_env_destroy(h);
    }
    jos::time::sleep_msec(1000);
    cprintf!("listenwedge: hogs gone\n");
    let c = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
    cprintf!("listenwedge: connection 5: {:?}\n", connect(c, to));
    let a5 = accept(l).map(|(n, _)| n);
    cprintf!("listenwedge: accept 5: {:?}\n", a5);
    if a5.is_ok() {
        cprintf!("listenwedge: OK: the listener accepts again once the hogs are gone\n");
    } else {
        cprintf!("listenwedge: BUG: the listener is wedged\n");
    }
    let l2 = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
    cprintf!(
        "listenwedge: (the port is still ours: bind again: {:?})\n",
        bind(l2, NetAddr::new([0; 4], PORT))
    );
}
