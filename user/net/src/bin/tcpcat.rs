// make: FS=1 NS=1
//! tcpcat: a small nc. `tcpcat host port` connects, sends its standard
//! input to the peer until its end, then (having shut down its sending
//! side) copies what the peer sends to standard output until the peer
//! closes. `tcpcat -l port` waits for one connection on `port` and copies
//! what it sends to standard output until it closes (printing
//! `tcpcat: listening on port N` first, on the console).
#![no_std]
#![no_main]

use abi::nsipc::{IPPROTO_TCP, PF_INET, SHUT_WR, SOCK_STREAM};
use jos::cprintf;
use jos::fd::{close, read};
use jos::net::inet::inet_aton;
use jos::net::{NetAddr, accept, bind, connect, listen, recv, send, shutdown, socket};
use user::cli::write_all;
use user::warn;

jos::main!(umain);

fn usage() {
    warn!("usage: tcpcat host port | tcpcat -l port");
}

/// Copies what `s` sends to descriptor 1 until it closes.
fn drain(s: usize) {
    let mut buf = [0u8; 1024];
    loop {
        match recv(s, &mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if write_all(1, &buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) => return warn!("recv: {}", e),
        }
    }
}

fn umain(argv: &[&str]) {
    // Frames over a page grow the stack.
    if let Err(e) = jos::vm::enable_default_guards() {
        return warn!("no stack growth: {}", e);
    }
    run(argv);
}

#[inline(never)]
fn run(argv: &[&str]) {
    let s = match socket(PF_INET, SOCK_STREAM, IPPROTO_TCP) {
        Ok(s) => s,
        Err(e) => return warn!("socket: {}", e),
    };
    match argv.get(1..).unwrap_or(&[]) {
        ["-l", port] => {
            let Some(port) = port.parse::<u16>().ok().filter(|&p| p != 0) else {
                return usage();
            };
            if let Err(e) = bind(s, NetAddr::new([0; 4], port)).and_then(|()| listen(s, 1)) {
                return warn!("listen on {}: {}", port, e);
            }
            cprintf!("tcpcat: listening on port {}\n", port);
            match accept(s) {
                Ok((c, _)) => {
                    drain(c);
                    let _ = close(c);
                }
                Err(e) => warn!("accept: {}", e),
            }
        }
        [host, port] => {
            let (Some(addr), Some(port)) = (inet_aton(host), port.parse::<u16>().ok()) else {
                return usage();
            };
            if let Err(e) = connect(s, NetAddr::new(addr, port)) {
                return warn!("connect {}:{}: {}", host, port, e);
            }
            let mut buf = [0u8; 1024];
            loop {
                match read(0, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if let Err(e) = send(s, &buf[..n]) {
                            return warn!("send: {}", e);
                        }
                    }
                    Err(e) => return warn!("read: {}", e),
                }
            }
            let _ = shutdown(s, SHUT_WR);
            drain(s);
        }
        _ => usage(),
    }
    let _ = close(s);
}
