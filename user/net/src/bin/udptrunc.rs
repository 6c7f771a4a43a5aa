// make: FS=1 NS=1
//! udptrunc (review finding 6, test): a UDP datagram longer than the
//! receive buffer gives its first bytes (the rest discarded), as BSD's
//! recv does; before the fix the server answered 0 bytes (smoltcp's
//! recv_slice drops the datagram and says Truncated). Sends a 1000-byte
//! datagram to ourselves through 127.0.0.1 and receives it into 100
//! bytes. Verdict: `udptrunc: OK` or `udptrunc: BUG`.
#![no_std]
#![no_main]

use abi::nsipc::*;
use jos::cprintf;
use jos::net::{NetAddr, bind, recvfrom_timeout, sendto, socket};

jos::main!(umain);

fn umain(_args: &[&str]) {
    let s = socket(PF_INET, SOCK_DGRAM, 0).expect("socket");
    bind(s, NetAddr::new([0; 4], 7202)).expect("bind");
    let mut big = [0u8; 1000];
    for (i, b) in big.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let sent = sendto(s, &big, NetAddr::new([127, 0, 0, 1], 7202));
    cprintf!("udptrunc: sent {:?} bytes\n", sent);
    let mut small = [0u8; 100];
    let first = recvfrom_timeout(s, &mut small, 2000);
    let ok = matches!(first, Ok((n, _)) if n == small.len() && small[..] == big[..n]);
    match first {
        Ok((n, _)) if ok => cprintf!("udptrunc: got {} bytes, the datagram's first\n", n),
        Ok((n, _)) => cprintf!(
            "udptrunc: got {} bytes of a 1000-byte datagram into 100\n",
            n
        ),
        Err(e) => cprintf!("udptrunc: recvfrom: {:?}\n", e),
    }
    // The rest of the datagram is gone: the next one is the next datagram.
    let _ = sendto(s, b"next", NetAddr::new([127, 0, 0, 1], 7202));
    let mut next = [0u8; 100];
    let then = recvfrom_timeout(s, &mut next, 2000);
    match then {
        Ok((n, _)) => cprintf!(
            "udptrunc: then {:?}\n",
            core::str::from_utf8(&next[..n]).unwrap_or("?")
        ),
        Err(e) => cprintf!("udptrunc: then {:?}\n", e),
    }
    if ok && matches!(then, Ok((4, _))) && &next[..4] == b"next" {
        cprintf!("udptrunc: OK: a long datagram gives its first bytes\n");
    } else {
        cprintf!("udptrunc: BUG: a long datagram does not give its first bytes\n");
    }
}
