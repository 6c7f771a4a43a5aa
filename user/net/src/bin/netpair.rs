// make: FS=1 NS=1
//! netpair: one of two machines wired to each other (`make pair-netpair-nox`,
//! and grade's two-machine test). The peer's address is the kernel word
//! `peer=a.b.c.d`. It answers UDP echo on port 7 (a forked child), pings
//! the peer until it answers (it may boot later; 20 s at most), then
//! counts 5 pings and 20 UDP round trips, printing `netpair: 5 of 5 pings
//! answered` and `netpair: udp rtt min/avg/max N/N/N ms`; then it says
//! `bye` to the peer's echo server, keeps answering until the peer has
//! said `bye` to its own (10 s at most), and prints `netpair: done`.
//! With the kernel word `lossy` (a link through scripts/relay.py that drops
//! frames), each ping and each UDP echo is tried up to 8 times, 300 ms
//! apart, and a line counts the tries repeated; a late or duplicated answer
//! to an earlier try is told apart by its contents and skipped.
//!
//! The guest's clock counts 10 ms ticks, and `recvfrom_timeout` looks for
//! an answer every 10 ms: each trip above takes 10 ms whatever the wire
//! does. So, on a link that is not lossy, `udptrips=N` (default 200) more
//! trips go back to back, each answer waited for by yielding between
//! looks, and their total time gives the round trip to a few
//! microseconds: `netpair: udp back to back: N trips in M ms (U us each)`
//! (a trip with no answer in a second ends them).
#![no_std]
#![no_main]

use abi::error::Error;
use abi::nsipc::{IPPROTO_ICMP, IPPROTO_UDP, PF_INET, SOCK_DGRAM, SOCK_RAW};
use jos::cprintf;
use jos::net::inet::{Dotted, inet_aton, inet_checksum};
use jos::net::{NetAddr, bind, recvfrom, recvfrom_nowait, recvfrom_timeout, sendto, socket};
use jos::syscall::{sys_env_destroy, sys_time_msec, sys_yield};

jos::main!(umain);

/// An ICMP echo request, `id` and `seq`, checksummed.
fn echo_request(id: u16, seq: u16) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = 8;
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    p[8..].copy_from_slice(b"netpair!");
    let c = inet_checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

/// One ping of `peer` on ICMP socket `s`: Ok(ms) if answered in `wait` ms.
fn ping(s: usize, peer: [u8; 4], id: u16, seq: u16, wait: u32) -> Result<u32, Error> {
    let t0 = sys_time_msec();
    sendto(s, &echo_request(id, seq), NetAddr::new(peer, 0))?;
    loop {
        let left = wait.saturating_sub(sys_time_msec().wrapping_sub(t0));
        let mut buf = [0u8; 64];
        let (n, _) = recvfrom_timeout(s, &mut buf, left)?;
        if n >= 8 && buf[0] == 0 && buf[6..8] == seq.to_be_bytes() {
            return Ok(sys_time_msec().wrapping_sub(t0));
        }
    }
}

/// One UDP echo of `msg` through the peer's port 7 on socket `c`: Ok(ms)
/// if the same bytes come back in `wait` ms (other datagrams, answers to
/// earlier tries, are skipped).
fn udp_trip(c: usize, peer: [u8; 4], msg: &[u8], wait: u32) -> Result<u32, Error> {
    let t0 = sys_time_msec();
    sendto(c, msg, NetAddr::new(peer, 7))?;
    loop {
        let left = wait.saturating_sub(sys_time_msec().wrapping_sub(t0));
        let mut buf = [0u8; 16];
        let (m, _) = recvfrom_timeout(c, &mut buf, left)?;
        if buf[..m] == *msg {
            return Ok(sys_time_msec().wrapping_sub(t0));
        }
    }
}

/// `n` UDP echoes through the peer's port 7 on socket `c`, one after the
/// other, each answer looked for between yields (no 10 ms sleeps): returns
/// (the trips done, ms); a trip with no answer in a second ends them.
fn udp_back_to_back(c: usize, peer: [u8; 4], n: u32) -> (u32, u32) {
    let t0 = sys_time_msec();
    for i in 0..n {
        let msg = (0x8000_0000 | i).to_be_bytes();
        if sendto(c, &msg, NetAddr::new(peer, 7)).is_err() {
            return (i, sys_time_msec().wrapping_sub(t0));
        }
        let sent = sys_time_msec();
        loop {
            let mut buf = [0u8; 16];
            match recvfrom_nowait(c, &mut buf) {
                Ok((m, _)) if buf[..m] == msg => break,
                Ok(_) => {}
                Err(Error::Again) if sys_time_msec().wrapping_sub(sent) < 1000 => sys_yield(),
                Err(_) => return (i, sys_time_msec().wrapping_sub(t0)),
            }
        }
    }
    (n, sys_time_msec().wrapping_sub(t0))
}

fn umain(_args: &[&str]) {
    let k = jos::kargs::kargs();
    let Some(peer) = k.arg("peer").and_then(inet_aton) else {
        cprintf!("netpair: no peer=a.b.c.d on the kernel's command line\n");
        return;
    };
    // The echo server, in a child.
    let u = socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    bind(u, NetAddr::new([0; 4], 7)).expect("bind");
    let server = match jos::fork() {
        Ok(0) => loop {
            let mut buf = [0u8; 256];
            if let Ok((n, from)) = recvfrom(u, &mut buf) {
                if &buf[..n] == b"bye" {
                    jos::exit();
                }
                let _ = sendto(u, &buf[..n], from);
            }
        },
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    let _ = jos::fd::close(u);
    cprintf!("netpair: pinging {}\n", Dotted(peer));
    let s = socket(PF_INET, SOCK_RAW, IPPROTO_ICMP).expect("socket");
    // The identifier: our MAC's last byte (the peer's differs): with
    // the same one, each machine's socket would take the other's requests
    // (smoltcp then does not answer them itself).
    let id = 0x6e00 | u16::from(k.mac()[5]);
    let lossy = k.flag("lossy");
    let (tries, wait) = if lossy { (8, 300) } else { (1, 500) };
    let mut repeated = 0;
    bind(s, NetAddr::new([0; 4], id)).expect("bind");
    let start = sys_time_msec();
    let mut seq = 0u16;
    while ping(s, peer, id, seq, 500).is_err() {
        seq += 1;
        if sys_time_msec().wrapping_sub(start) > 20_000 {
            cprintf!("netpair: no answer from {} in 20 s\n", Dotted(peer));
            let _ = sys_env_destroy(server);
            return;
        }
    }
    let mut answered = 0;
    for _ in 0..5 {
        for t in 0..tries {
            seq += 1;
            repeated += usize::from(t > 0);
            if ping(s, peer, id, seq, wait).is_ok() {
                answered += 1;
                break;
            }
        }
    }
    cprintf!("netpair: {} of 5 pings answered\n", answered);
    let c = socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    let (mut lo, mut hi, mut sum, mut n) = (u32::MAX, 0, 0, 0);
    for i in 0..20u32 {
        let msg = i.to_be_bytes();
        for t in 0..tries {
            repeated += usize::from(t > 0);
            if let Ok(t) = udp_trip(c, peer, &msg, if lossy { wait } else { 1000 }) {
                lo = lo.min(t);
                hi = hi.max(t);
                sum += t;
                n += 1;
                break;
            }
        }
    }
    if let Some(avg) = sum.checked_div(n) {
        cprintf!(
            "netpair: udp rtt min/avg/max {}/{}/{} ms ({} of 20)\n",
            lo,
            avg,
            hi,
            n
        );
    }
    if lossy {
        cprintf!("netpair: lossy link: {} tries repeated\n", repeated);
    } else {
        let (done, ms) = udp_back_to_back(c, peer, k.arg_u32("udptrips").unwrap_or(200));
        if let Some(us) = (ms * 1000).checked_div(done) {
            cprintf!(
                "netpair: udp back to back: {} trips in {} ms ({} us each)\n",
                done,
                ms,
                us
            );
        }
    }
    // Tell the peer we are done (its echo server exits), and serve it
    // until it says so too (10 s at most): neither stops answering while
    // the other still counts.
    for _ in 0..3 {
        let _ = sendto(c, b"bye", NetAddr::new(peer, 7));
        jos::time::sleep_msec(50);
    }
    let t0 = sys_time_msec();
    while jos::env::env_status(server) != abi::env::ENV_FREE
        && sys_time_msec().wrapping_sub(t0) < 10_000
    {
        jos::time::sleep_msec(20);
    }
    let _ = sys_env_destroy(server);
    cprintf!("netpair: done\n");
}
