//! netblast: senders much faster than the wire. Forks; parent and child
//! each send COUNT frames (the argument-less default 600, or the kernel
//! word `NETBLAST_COUNT=N`) straight through sys_net_try_transmit,
//! retrying at once on E_AGAIN (a full ring), from two CPUs at once when
//! there are two. Frame i of sender s: broadcast, ethertype 0x88B5, then
//! `BLAST`, s, i (32 bits, big-endian), then byte k (i + s + k) mod 256,
//! 60 to 1518 bytes long as i goes. grade/net.py finds in the capture
//! every frame of each sender, whole and in its order, and nothing else.
//!
//! Each sender prints `netblast: sender S: N frames, ring full F times`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::net::MAX_FRAME;
use jos::cprintf;
use jos::syscall::sys_net_try_transmit;

jos::main!(umain);

/// The length of frame `i` (as grade/net.py computes it).
fn frame_len(i: u32) -> usize {
    60 + (i as usize * 97) % (MAX_FRAME - 59)
}

fn umain(_args: &[&str]) {
    let count = jos::kargs::kargs().arg_u32("NETBLAST_COUNT").unwrap_or(600);
    let mac = jos::kargs::kargs().mac();
    let sender: u8 = match jos::fork() {
        Err(e) => panic!("fork: {}", e),
        Ok(0) => 1,
        Ok(_) => 0,
    };
    let mut f = [0u8; MAX_FRAME];
    f[0..6].fill(0xff);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..19].copy_from_slice(b"BLAST");
    f[19] = sender;
    let mut full = 0u32;
    for i in 0..count {
        f[20..24].copy_from_slice(&i.to_be_bytes());
        for (k, b) in f[24..].iter_mut().enumerate() {
            *b = (i as usize + usize::from(sender) + k) as u8;
        }
        let frame = &f[..frame_len(i)];
        loop {
            match sys_net_try_transmit(frame) {
                Ok(()) => break,
                Err(Error::Again) => full += 1,
                Err(e) => panic!("transmit {}: {}", i, e),
            }
        }
    }
    cprintf!(
        "netblast: sender {}: {} frames, ring full {} times\n",
        sender,
        count,
        full
    );
}
