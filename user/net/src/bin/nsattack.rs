// make: FS=1 NS=1
//! nsattack: hostile requests to the network server, which must answer
//! each with an error and live, and give back every page: forged and
//! malformed request values, requests without a page, sockets named by a
//! slot we do not hold (another env's), forged NSREQ_INPUT and NSREQ_TIMER
//! (only the server's helpers may send those), bad arguments to every
//! call, more sockets than an env may have, a client killed while its
//! accept waits, 30 TCP connections to ourselves opened and dropped (half
//! with data unread), a burst of UDP datagrams to a socket nobody reads.
//! A warm-up round first, then the same round measured: the free pages
//! after it must equal those before (`nsattack: no page leaked`). Ends
//! with `nsattack: done, N failures`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use abi::nsipc::*;
use jos::cprintf;
use jos::fd::{close, index2fd};
use jos::ipc::ipc_call;
use jos::net::nsipc::{NSIPCBUF, nsenv};
use jos::net::{NetAddr, accept, bind, connect, listen, recvfrom_nowait, send, sendto, socket};
use jos::syscall::{sys_env_destroy, sys_page_alloc, sys_page_unmap};

jos::main!(umain);

/// A scratch page for raw requests.
const RAWVA: usize = 0x0E00_0000;
const PORT: u16 = 7100;

struct T {
    failures: u32,
}

impl T {
    /// Checks that `r` is an error (any: the server refused).
    fn refused<V: core::fmt::Debug>(&mut self, what: &str, r: Result<V, Error>) {
        if let Ok(v) = r {
            cprintf!("nsattack: {}: accepted ({:?})\n", what, v);
            self.failures += 1;
        }
    }

    /// Checks that `r` is exactly error `e`.
    fn is<V: core::fmt::Debug>(&mut self, what: &str, r: Result<V, Error>, e: Error) {
        if !matches!(&r, Err(x) if *x == e) {
            cprintf!("nsattack: {}: {:?}, wanted {}\n", what, r, e);
            self.failures += 1;
        }
    }
}

/// A raw request `value` to the server, with our page at RAWVA if `page`.
fn raw(value: u32, page: bool) -> Result<u32, Error> {
    let ns = nsenv()?;
    let pg = page.then_some(RAWVA);
    let m = ipc_call(ns, value, pg, PteFlags::P | PteFlags::U | PteFlags::W, None)?;
    abi::error::result_from_ret(m.value as i32).map(|v| v as u32)
}

/// One round of every attack.
fn round(t: &mut T) {
    let _ = sys_page_alloc(0, RAWVA, PTE_RW);
    // Malformed values: high bits, unknown requests, no page.
    t.refused("value with high bits", raw(0xFFFF_FFFF, true));
    t.refused("request 0", raw(0, true));
    t.refused("request 14 with no socket", raw(NSREQ_RECVFROM, true));
    t.refused(
        "socket without a page",
        raw(nsreq(NSREQ_SOCKET, None), false),
    );
    // Forged helper messages: not from the helpers, so ordinary (bad) requests.
    t.refused("forged NSREQ_INPUT", raw(NSREQ_INPUT, true));
    t.refused("forged NSREQ_TIMER", raw(NSREQ_TIMER, true));
    // Bad socket arguments.
    for (d, ty, p) in [
        (0, SOCK_STREAM, 0),
        (PF_INET, 9, 0),
        (PF_INET, SOCK_STREAM, IPPROTO_UDP),
        (PF_INET, SOCK_RAW, 0),
    ] {
        t.is("socket(bad)", socket(d, ty, p), Error::Inval);
    }
    // A socket of ours, then requests about slots we do not hold.
    let s = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
    // SAFETY: descriptor s's page is the server's SockFd, mapped.
    let slot = unsafe { (*(index2fd(s) as *const abi::fsipc::Fd)).fd_file_id } as usize;
    for other in [slot + 1, MAXSOCK - 1, 126] {
        t.refused(
            "a slot we do not hold",
            raw(nsreq(NSREQ_RECV, Some((s, other))), true),
        );
    }
    t.refused(
        "our slot at another descriptor",
        raw(nsreq(NSREQ_RECV, Some((s + 1, slot))), true),
    );
    t.refused(
        "SENDPAGE over a page",
        raw(nsreq_page(s, slot, PGSIZE + 1), true),
    );
    t.refused("listen before bind", listen(s, 5));
    t.is(
        "accept on a socket not listening",
        accept(s).map(|_| ()),
        Error::Inval,
    );
    t.is(
        "connect to port 0",
        connect(s, NetAddr::new([127, 0, 0, 1], 0)),
        Error::Inval,
    );
    t.is(
        "connect to a closed port",
        connect(s, NetAddr::new([127, 0, 0, 1], 7999)),
        Error::ConnRefused,
    );
    t.refused("send unconnected", send(s, b"x"));
    let _ = close(s);
    // Bind twice, the same port twice.
    let a = socket(PF_INET, SOCK_DGRAM, 0).expect("socket");
    let b = socket(PF_INET, SOCK_DGRAM, 0).expect("socket");
    if let Err(e) = bind(a, NetAddr::new([0; 4], PORT)) {
        cprintf!("nsattack: bind: {}\n", e);
        t.failures += 1;
    }
    t.is(
        "bind again",
        bind(a, NetAddr::new([0; 4], PORT + 1)),
        Error::Inval,
    );
    t.is(
        "bind a taken port",
        bind(b, NetAddr::new([0; 4], PORT)),
        Error::AddrInUse,
    );
    t.is("listen on UDP", listen(a, 1), Error::Inval);
    t.is(
        "sendto port 0",
        sendto(b, b"x", NetAddr::new([127, 0, 0, 1], 0)),
        Error::Inval,
    );
    t.is(
        "sendto too big",
        sendto(
            b,
            &[0u8; NSBUF_DATA + 1],
            NetAddr::new([127, 0, 0, 1], PORT),
        ),
        Error::Inval,
    );
    // A burst nobody reads: the socket's buffer fills, the rest is dropped.
    for _ in 0..100 {
        let _ = sendto(b, &[7u8; 512], NetAddr::new([127, 0, 0, 1], PORT));
    }
    let mut buf = [0u8; 600];
    let mut got = 0;
    while recvfrom_nowait(a, &mut buf).is_ok() {
        got += 1;
    }
    if got == 0 || got > 100 {
        cprintf!("nsattack: burst: {} datagrams kept\n", got);
        t.failures += 1;
    }
    let _ = close(a);
    let _ = close(b);
    // More sockets than an env may have.
    let mut held = [usize::MAX; 20];
    let mut n = 0;
    let r = loop {
        match socket(PF_INET, SOCK_DGRAM, 0) {
            Ok(s) if n < held.len() => {
                held[n] = s;
                n += 1;
            }
            Ok(s) => {
                let _ = close(s);
                break Ok(n);
            }
            Err(e) => break Err(e),
        }
    };
    if !matches!(r, Err(Error::MaxOpen)) || n != 16 {
        cprintf!("nsattack: socket limit: {:?} after {}\n", r, n);
        t.failures += 1;
    }
    for &s in &held[..n] {
        let _ = close(s);
    }
    // A listener, and a child killed while its accept waits.
    let l = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
    bind(l, NetAddr::new([0; 4], PORT + 2)).expect("bind");
    listen(l, 4).expect("listen");
    match jos::fork() {
        Ok(0) => {
            let _ = accept(l);
            jos::exit();
        }
        Ok(kid) => {
            jos::time::sleep_msec(50);
            let _ = sys_env_destroy(kid);
            jos::env::wait(kid);
        }
        Err(e) => panic!("fork: {e}"),
    }
    // 30 connections opened and dropped, half with unread data; accepted
    // by us in turn and closed.
    for i in 0..30 {
        let c = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
        if connect(c, NetAddr::new([127, 0, 0, 1], PORT + 2)).is_err() {
            cprintf!("nsattack: connection {} refused\n", i);
            t.failures += 1;
            let _ = close(c);
            break;
        }
        if i % 2 == 0 {
            let _ = send(c, &[1u8; 3000]);
        }
        let _ = close(c);
        match accept(l) {
            Ok((x, _)) => {
                let _ = close(x);
            }
            Err(e) => {
                cprintf!("nsattack: accept {}: {}\n", i, e);
                t.failures += 1;
                break;
            }
        }
    }
    let _ = close(l);
    let _ = sys_page_unmap(0, RAWVA);
    let _ = sys_page_unmap(0, NSIPCBUF);
}

fn umain(args: &[&str]) {
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("no stack growth: {e}");
    }
    run(args);
}

#[inline(never)]
fn run(_args: &[&str]) {
    let mut t = T { failures: 0 };
    round(&mut t);
    // Connections closed linger (TIME-WAIT, the last FINs) for a while in
    // the server: let them go before measuring.
    jos::time::sleep_msec(300);
    let before = jos::uvpt::unreferenced_pages();
    round(&mut t);
    jos::time::sleep_msec(300);
    let after = jos::uvpt::unreferenced_pages();
    if after == before {
        cprintf!("nsattack: no page leaked\n");
    } else {
        cprintf!(
            "nsattack: {} pages free before the round, {} after\n",
            before,
            after
        );
        t.failures += 1;
    }
    cprintf!("nsattack: done, {} failures\n", t.failures);
}
