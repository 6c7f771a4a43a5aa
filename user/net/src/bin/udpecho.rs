// make: FS=1 NS=1
//! udpecho: UDP echo, server and client. `udpecho -s [port]` answers every
//! datagram on `port` (default 7) with its own bytes, for ever, printing
//! `udpecho: serving on port N`. `udpecho host [port] [word...]` sends each
//! word (default `hello`) to host:port (default 7) as a datagram and
//! prints each answer with its round-trip time, `no reply` after 3 seconds.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::nsipc::{IPPROTO_UDP, PF_INET, SOCK_DGRAM};
use jos::net::inet::{Dotted, inet_aton};
use jos::net::{NetAddr, bind, recvfrom, recvfrom_timeout, sendto, socket};
use jos::printf;
use jos::syscall::sys_time_msec;
use user::warn;

jos::main!(umain);

const DEFAULT_PORT: u16 = 7;
/// How long an answer may take (the first datagram to an address waits for
/// ARP, which smoltcp may hold back up to a second).
const WAIT_MS: u32 = 3000;

fn usage() {
    warn!("usage: udpecho -s [port] | udpecho host [port] [word...]");
}

/// Echoes every datagram on `port`, for ever.
fn serve(s: usize, port: u16) {
    if let Err(e) = bind(s, NetAddr::new([0; 4], port)) {
        return warn!("bind {}: {}", port, e);
    }
    printf!("udpecho: serving on port {}\n", port);
    let mut buf = [0u8; 1500];
    loop {
        match recvfrom(s, &mut buf) {
            Ok((n, from)) => {
                let _ = sendto(s, &buf[..n], from);
            }
            Err(e) => return warn!("recvfrom: {}", e),
        }
    }
}

fn umain(argv: &[&str]) {
    let s = match socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP) {
        Ok(s) => s,
        Err(e) => return warn!("socket: {}", e),
    };
    let port_of = |a: Option<&&str>| match a {
        None => Some(DEFAULT_PORT),
        Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0),
    };
    match argv.get(1..).unwrap_or(&[]) {
        ["-s", rest @ ..] if rest.len() <= 1 => match port_of(rest.first()) {
            Some(p) => serve(s, p),
            None => usage(),
        },
        [host, rest @ ..] => {
            let Some(addr) = inet_aton(host) else {
                return warn!("{}: not a dotted address", host);
            };
            let (port, words) = match rest.first().and_then(|p| p.parse::<u16>().ok()) {
                Some(p) if p != 0 => (p, &rest[1..]),
                _ => (DEFAULT_PORT, rest),
            };
            let words: &[&str] = if words.is_empty() { &["hello"] } else { words };
            for w in words {
                let t0 = sys_time_msec();
                if let Err(e) = sendto(s, w.as_bytes(), NetAddr::new(addr, port)) {
                    return warn!("sendto: {}", e);
                }
                let mut buf = [0u8; 1500];
                // A late answer to an earlier word is skipped.
                let r = loop {
                    let left = WAIT_MS.saturating_sub(sys_time_msec().wrapping_sub(t0));
                    match recvfrom_timeout(s, &mut buf, left) {
                        Ok((n, _)) if &buf[..n] != w.as_bytes() => continue,
                        r => break r,
                    }
                };
                match r {
                    Ok((n, from)) => printf!(
                        "reply from {}:{}: {} ({} ms)\n",
                        Dotted(from.addr),
                        from.port,
                        core::str::from_utf8(&buf[..n]).unwrap_or("<binary>"),
                        sys_time_msec().wrapping_sub(t0)
                    ),
                    Err(Error::Again) => printf!("no reply to {}\n", w),
                    Err(e) => return warn!("recvfrom: {}", e),
                }
            }
        }
        _ => usage(),
    }
}
