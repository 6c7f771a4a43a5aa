// make: FS=1 NS=1
//! ping: ICMP echo requests to a host, with each reply's round-trip time,
//! as Unix's: `ping [-c count] [host]` (host a dotted address, by default
//! the gateway 10.0.2.2; count 4). A second without a reply counts the
//! request lost. Ends with `N packets transmitted, M received`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::nsipc::{IPPROTO_ICMP, PF_INET, SOCK_RAW};
use jos::fd::close;
use jos::net::inet::{Dotted, inet_aton, inet_checksum};
use jos::net::{NetAddr, bind, recvfrom_timeout, sendto, socket};
use jos::printf;
use jos::syscall::sys_time_msec;
use user::warn;

jos::main!(umain);

/// Bytes of an echo request: the 8-byte header and 32 of payload.
const LEN: usize = 40;
/// How long a reply may take.
const WAIT_MS: u32 = 1000;

/// An echo request with identifier `id` and sequence number `seq`.
fn request(id: u16, seq: u16) -> [u8; LEN] {
    let mut p = [0u8; LEN];
    p[0] = 8; // echo request; code 0
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[8..].iter_mut().enumerate() {
        *b = b'a' + (i % 26) as u8;
    }
    let c = inet_checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

fn usage() {
    warn!("usage: ping [-c count] [host]");
}

fn umain(argv: &[&str]) {
    let mut count = 4u32;
    let mut args = jos::args::Argstate::new(argv);
    while let Some(c) = args.next_flag() {
        match (c, args.value().map(str::parse::<u32>)) {
            ('c', Some(Ok(v))) => count = v,
            _ => return usage(),
        }
    }
    let host = match args.rest() {
        [] => [10, 0, 2, 2],
        [h] => match inet_aton(h) {
            Some(a) => a,
            None => return warn!("{}: not a dotted address", h),
        },
        _ => return usage(),
    };
    let s = match socket(PF_INET, SOCK_RAW, IPPROTO_ICMP) {
        Ok(s) => s,
        Err(e) => return warn!("socket: {}", e),
    };
    // The identifier: our MAC's last byte and our env's index, so two
    // pings apart (here, or on a machine we ping) do not mix.
    let id =
        (u16::from(jos::kargs::kargs().mac()[5]) << 8) | (jos::env::thisenv_id() as u16 & 0xFF);
    if let Err(e) = bind(s, NetAddr::new([0; 4], id)) {
        return warn!("bind: {}", e);
    }
    printf!("PING {}: {} data bytes\n", Dotted(host), LEN - 8);
    let mut received = 0;
    for seq in 0..count as u16 {
        let t0 = sys_time_msec();
        if let Err(e) = sendto(s, &request(id, seq), NetAddr::new(host, 0)) {
            warn!("sendto: {}", e);
            break;
        }
        // Replies to earlier requests (late ones) are skipped.
        loop {
            let mut buf = [0u8; 128];
            let left = WAIT_MS.saturating_sub(sys_time_msec().wrapping_sub(t0));
            match recvfrom_timeout(s, &mut buf, left) {
                Ok((n, from)) if n >= 8 && buf[0] == 0 && buf[6..8] == seq.to_be_bytes() => {
                    let ms = sys_time_msec().wrapping_sub(t0);
                    printf!(
                        "{} bytes from {}: icmp_seq={} time={} ms\n",
                        n,
                        Dotted(from.addr),
                        seq,
                        ms
                    );
                    received += 1;
                    break;
                }
                Ok(_) => continue,
                Err(Error::Again) => {
                    printf!("no reply for icmp_seq={}\n", seq);
                    break;
                }
                Err(e) => {
                    warn!("recvfrom: {}", e);
                    break;
                }
            }
        }
        // Requests at least 200 ms apart (Unix sends one a second: the
        // tests would wait).
        let spent = sys_time_msec().wrapping_sub(t0);
        if seq + 1 < count as u16 && spent < 200 {
            jos::time::sleep_msec(200 - spent);
        }
    }
    printf!("{} packets transmitted, {} received\n", count, received);
    let _ = close(s);
}
