//! netsink: receives whatever the host injects (grade/net.py's hostile
//! test, over a QEMU socket network whose datagrams are raw frames) and
//! reports it, so the test can check every frame the card accepted came
//! through whole and nothing else did.
//!
//! Says `netsink: ready`, then, per frame: a probe (ethertype 0x88B5,
//! `NETSINK-PROBE`) prints `netsink: probe` (the host sends them until
//! one comes through: QEMU's card holds back what arrives in the first
//! second after RCTL is written); a flood frame (ethertype
//! 0x88B5, `FLOOD`, a 32-bit sequence number, then byte k of the rest
//! (seq + k) mod 256) is checked, not printed; the end frame (0x88B5,
//! `NETSINK-END`) ends it with `netsink: flood N frames, in order: yes|no,
//! corrupt: C` and `netsink: done`; any other frame prints `netsink:
//! frame <len> <fnv-1a 32 of its bytes, %08x>`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::net::MAX_FRAME;
use jos::cprintf;
use jos::syscall::{sys_net_try_receive, sys_yield};

jos::main!(umain);

const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn umain(_args: &[&str]) {
    let mut buf = [0u8; MAX_FRAME];
    let (mut flood, mut corrupt, mut in_order, mut last) = (0u32, 0u32, true, None::<u32>);
    cprintf!("netsink: ready\n");
    loop {
        let n = match sys_net_try_receive(&mut buf) {
            Ok(n) => n,
            Err(Error::Again) => {
                sys_yield();
                continue;
            }
            Err(e) => panic!("receive: {}", e),
        };
        let f = &buf[..n];
        let body = f.get(14..).unwrap_or(&[]);
        if f.len() >= 14 && f[12..14] == ETHERTYPE && body.starts_with(b"NETSINK-END") {
            break;
        }
        if f.len() >= 14 && f[12..14] == ETHERTYPE && body.starts_with(b"NETSINK-PROBE") {
            cprintf!("netsink: probe\n");
            continue;
        }
        if f.len() >= 14 && f[12..14] == ETHERTYPE && body.starts_with(b"FLOOD") && body.len() >= 9
        {
            flood += 1;
            let seq = u32::from_be_bytes([body[5], body[6], body[7], body[8]]);
            if last.is_some_and(|l| seq <= l) {
                in_order = false;
            }
            last = Some(seq);
            let ok = body[9..]
                .iter()
                .enumerate()
                .all(|(k, &b)| b == (seq as usize + k) as u8);
            if !ok {
                corrupt += 1;
            }
            continue;
        }
        cprintf!("netsink: frame {} {:08x}\n", n, fnv1a(f));
    }
    cprintf!(
        "netsink: flood {} frames, in order: {}, corrupt: {}\n",
        flood,
        if in_order { "yes" } else { "no" },
        corrupt
    );
    cprintf!("netsink: done\n");
}
