// make: FS=1 NS=1
//! pairtcp: TCP throughput between two machines (`make pair-pairtcp-nox`,
//! scripts/netbench.py). Both run it; the kernel words say who does what:
//! the machine whose address (`ip=`) is the lower of it and `peer=` sends,
//! the other receives. The receiver listens on port 5001, takes one
//! connection, counts what arrives until the sender shuts its side down,
//! answers with the count and prints `pairtcp: received N bytes in M ms
//! (K KB/s)`, timed from the connection to the end of the stream. The
//! sender connects (again every 200 ms while the peer does not listen yet,
//! 20 s at most), sends `kb=N` KiB (default 1024) in 4000-byte writes,
//! shuts down its side, reads the receiver's count (so that it exits only
//! once every byte is there: with `exitdone` its machine ends then) and
//! prints `pairtcp: sent N bytes in M ms, the peer counted C`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::nsipc::{IPPROTO_TCP, PF_INET, SHUT_WR, SOCK_STREAM};
use jos::cprintf;
use jos::fd::close;
use jos::net::inet::{Dotted, inet_aton};
use jos::net::{
    NetAddr, accept, bind, connect, listen, recv, recv_timeout, send, shutdown, socket,
};
use jos::syscall::sys_time_msec;

jos::main!(umain);

const PORT: u16 = 5001;

/// KB/s of `bytes` in `ms` milliseconds.
fn kbps(bytes: usize, ms: u32) -> usize {
    bytes * 1000 / 1024 / (ms.max(1) as usize)
}

/// Takes one connection on PORT and counts its bytes.
#[inline(never)]
fn receive() -> Result<(), Error> {
    let l = socket(PF_INET, SOCK_STREAM, IPPROTO_TCP)?;
    bind(l, NetAddr::new([0; 4], PORT))?;
    listen(l, 1)?;
    cprintf!("pairtcp: receiving on port {}\n", PORT);
    let (s, from) = accept(l)?;
    let t0 = sys_time_msec();
    let mut buf = [0u8; 4096];
    let mut got = 0usize;
    loop {
        match recv(s, &mut buf)? {
            0 => break,
            n => got += n,
        }
    }
    let ms = sys_time_msec().wrapping_sub(t0);
    let count = (got as u32).to_be_bytes();
    send(s, &count)?;
    cprintf!(
        "pairtcp: received {} bytes from {} in {} ms ({} KB/s)\n",
        got,
        Dotted(from.addr),
        ms,
        kbps(got, ms)
    );
    // Wait for the sender to close after reading the count (2 s at most),
    // so that the count leaves before this machine ends.
    let _ = recv_timeout(s, &mut buf, 2000);
    let _ = close(s);
    let _ = close(l);
    Ok(())
}

/// Connects to the peer's PORT, sends `total` bytes, reads the peer's count.
#[inline(never)]
fn transmit(peer: [u8; 4], total: usize) -> Result<(), Error> {
    let start = sys_time_msec();
    let s = loop {
        let s = socket(PF_INET, SOCK_STREAM, IPPROTO_TCP)?;
        match connect(s, NetAddr::new(peer, PORT)) {
            Ok(()) => break s,
            Err(e) => {
                let _ = close(s);
                if sys_time_msec().wrapping_sub(start) > 20_000 {
                    return Err(e);
                }
                jos::time::sleep_msec(200);
            }
        }
    };
    let mut buf = [0u8; 4000];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8;
    }
    let t0 = sys_time_msec();
    let mut sent = 0;
    while sent < total {
        let n = (total - sent).min(buf.len());
        sent += send(s, &buf[..n])?;
    }
    shutdown(s, SHUT_WR)?;
    let mut count = [0u8; 4];
    let mut have = 0;
    while have < 4 {
        match recv(s, &mut count[have..])? {
            0 => break,
            n => have += n,
        }
    }
    let ms = sys_time_msec().wrapping_sub(t0);
    let _ = close(s);
    cprintf!(
        "pairtcp: sent {} bytes in {} ms ({} KB/s), the peer counted {}\n",
        sent,
        ms,
        kbps(sent, ms),
        u32::from_be_bytes(count)
    );
    Ok(())
}

fn umain(_args: &[&str]) {
    // Frames over a page grow the stack.
    if let Err(e) = jos::vm::enable_default_guards() {
        cprintf!("pairtcp: no stack growth: {}\n", e);
        return;
    }
    run();
}

/// The program, in a frame of its own: its buffers grow the stack, which
/// umain enabled first.
#[inline(never)]
fn run() {
    let k = jos::kargs::kargs();
    let me = k
        .arg("ip")
        .and_then(|a| inet_aton(a.split('/').next().unwrap_or(a)));
    let (Some(me), Some(peer)) = (me, k.arg("peer").and_then(inet_aton)) else {
        cprintf!("pairtcp: needs ip=a.b.c.d and peer=a.b.c.d on the kernel's command line\n");
        return;
    };
    let kb = k.arg_u32("kb").unwrap_or(1024) as usize;
    let r = if me < peer {
        cprintf!("pairtcp: sending {} KiB to {}\n", kb, Dotted(peer));
        transmit(peer, kb * 1024)
    } else {
        receive()
    };
    if let Err(e) = r {
        cprintf!("pairtcp: {}\n", e);
    }
}
