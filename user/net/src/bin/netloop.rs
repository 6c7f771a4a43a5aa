// make: FS=1 NS=1
//! netloop: the network server's sockets on this machine alone (no card
//! needed): a forked server and its parent talk TCP and UDP through
//! 127.0.0.1 and through our own address, 10.0.2.15. Prints
//! `netloop: tcp ok`, `netloop: udp ok` and `netloop: all ok`. One round
//! has a forked reader waiting in recv while its parent sends on the same
//! socket.
#![no_std]
#![no_main]

use abi::nsipc::{IPPROTO_TCP, IPPROTO_UDP, PF_INET, SOCK_DGRAM, SOCK_STREAM};
use jos::cprintf;
use jos::fd::close;
use jos::net::{NetAddr, accept, bind, connect, listen, recv, recvfrom, send, sendto, socket};

jos::main!(umain);

const TCP_PORT: u16 = 7001;
const UDP_PORT: u16 = 7002;
/// Bytes each TCP round sends: more than one request page and than the
/// socket's buffer, so that sends wait for the peer.
const BIG: usize = 40000;

fn fail(what: &str, e: abi::error::Error) -> ! {
    panic!("netloop: {what}: {e}");
}

/// The child: accepts three connections and echoes each; answers two
/// datagrams.
fn server(tcp: usize, udp: usize) {
    for _ in 0..3 {
        let (c, _) = accept(tcp).unwrap_or_else(|e| fail("accept", e));
        let mut buf = [0u8; 1500];
        loop {
            match recv(c, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    send(c, &buf[..n]).unwrap_or_else(|e| fail("server send", e));
                }
                Err(e) => fail("server recv", e),
            }
        }
        let _ = close(c);
    }
    for _ in 0..2 {
        let mut buf = [0u8; 512];
        let (n, from) = recvfrom(udp, &mut buf).unwrap_or_else(|e| fail("recvfrom", e));
        sendto(udp, &buf[..n], from).unwrap_or_else(|e| fail("sendto", e));
    }
}

/// One TCP round to `to`: BIG bytes out, the same back.
fn tcp_round(to: [u8; 4]) {
    let s = socket(PF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap_or_else(|e| fail("socket", e));
    connect(s, NetAddr::new(to, TCP_PORT)).unwrap_or_else(|e| fail("connect", e));
    // Send and receive in turns of 1000 bytes (the peer echoes each).
    let mut got = 0;
    let mut buf = [0u8; 1000];
    let mut sent = 0;
    while got < BIG {
        if sent < BIG {
            let chunk: [u8; 1000] = core::array::from_fn(|i| ((sent + i) % 251) as u8);
            send(s, &chunk).unwrap_or_else(|e| fail("send", e));
            sent += 1000;
        }
        let n = recv(s, &mut buf).unwrap_or_else(|e| fail("recv", e));
        if n == 0 {
            panic!("netloop: the stream ended at {got}");
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if b != ((got + i) % 251) as u8 {
                panic!("netloop: byte {} is {b}", got + i);
            }
        }
        got += n;
    }
    let _ = close(s);
}

/// One socket, two envs: a forked reader waits in recv while we send on
/// the same socket (the server keeps a send and a receive waiting at once).
fn split_round() {
    const N: usize = 5000;
    let s = socket(PF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap_or_else(|e| fail("socket", e));
    connect(s, NetAddr::new([127, 0, 0, 1], TCP_PORT)).unwrap_or_else(|e| fail("connect", e));
    let reader = match jos::fork() {
        Ok(0) => {
            let mut got = 0;
            let mut buf = [0u8; 1000];
            while got < N {
                match recv(s, &mut buf) {
                    Ok(0) => panic!("netloop: split: the stream ended at {got}"),
                    Ok(n) => got += n,
                    Err(e) => fail("split recv", e),
                }
            }
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => fail("fork", e),
    };
    // Let the reader wait first.
    jos::time::sleep_msec(20);
    for _ in 0..N / 1000 {
        send(s, &[5u8; 1000]).unwrap_or_else(|e| fail("split send", e));
    }
    jos::env::wait(reader);
    let _ = close(s);
}

fn umain(args: &[&str]) {
    // Frames over a page (buffers) grow the stack.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("no stack growth: {e}");
    }
    run(args);
}

/// The program, once the stack can grow (a frame over a page).
#[inline(never)]
fn run(_args: &[&str]) {
    let tcp = socket(PF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap_or_else(|e| fail("socket", e));
    bind(tcp, NetAddr::new([0; 4], TCP_PORT)).unwrap_or_else(|e| fail("bind", e));
    listen(tcp, 2).unwrap_or_else(|e| fail("listen", e));
    let udp = socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP).unwrap_or_else(|e| fail("socket", e));
    bind(udp, NetAddr::new([0; 4], UDP_PORT)).unwrap_or_else(|e| fail("bind", e));
    let child = match jos::fork() {
        Ok(0) => {
            server(tcp, udp);
            return;
        }
        Ok(id) => id,
        Err(e) => fail("fork", e),
    };
    // The parent lets the server's sockets go: the child holds them.
    let _ = close(tcp);
    let _ = close(udp);
    tcp_round([127, 0, 0, 1]);
    tcp_round([10, 0, 2, 15]);
    split_round();
    cprintf!("netloop: tcp ok\n");
    let u = socket(PF_INET, SOCK_DGRAM, 0).unwrap_or_else(|e| fail("socket", e));
    for to in [[127, 0, 0, 1], [10, 0, 2, 15]] {
        let msg = b"hello over udp";
        sendto(u, msg, NetAddr::new(to, UDP_PORT)).unwrap_or_else(|e| fail("sendto", e));
        let mut buf = [0u8; 64];
        let (n, from) = recvfrom(u, &mut buf).unwrap_or_else(|e| fail("recvfrom", e));
        if &buf[..n] != msg || from.port != UDP_PORT {
            panic!("netloop: udp reply {:?} from port {}", &buf[..n], from.port);
        }
    }
    cprintf!("netloop: udp ok\n");
    let _ = close(u);
    jos::env::wait(child);
    cprintf!("netloop: all ok\n");
}
