// make: FS=1 NS=1
//! outleak (test): the first frames this machine ever sends leave no page
//! behind. The network server's output helper kept the last frame's page
//! mapped until the next frame replaced it, and made the page table for
//! it at the first frame: after the first use of the card two pages
//! stayed taken for good (the DSM programs' page count saw them as a
//! leak). A socket is made and closed first (no frame: a datagram even to
//! 127.0.0.1 would send an ARP request out the card), so the server's own
//! memory is what one needs; then the free pages are counted, three
//! datagrams go to 10.0.2.2 (QEMU's host: at least the ARP request for it
//! goes out the card), and the count must
//! come back (it is taken again every 100 ms, for up to 3 s, while frames
//! are still on their way). Verdict: `outleak: OK` or `outleak: BUG`.
#![no_std]
#![no_main]

use abi::nsipc::{IPPROTO_UDP, PF_INET, SOCK_DGRAM};
use jos::cprintf;
use jos::fd::close;
use jos::net::{NetAddr, bind, sendto, socket};
use jos::uvpt::unreferenced_pages;

jos::main!(umain);

const PORT: u16 = 7210;

/// A socket bound to PORT that sends three datagrams to `to` (none if
/// None), then is closed once they have gone.
fn send_three(to: Option<[u8; 4]>) {
    let s = socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    bind(s, NetAddr::new([0; 4], PORT)).expect("bind");
    if let Some(to) = to {
        for i in 0..3u8 {
            if let Err(e) = sendto(s, &[i; 64], NetAddr::new(to, 9)) {
                cprintf!("outleak: sendto: {}\n", e);
            }
        }
        jos::time::sleep_msec(300);
    }
    let _ = close(s);
}

fn umain(_args: &[&str]) {
    send_three(None);
    let before = unreferenced_pages();
    send_three(Some([10, 0, 2, 2]));
    let mut after = unreferenced_pages();
    for _ in 0..30 {
        if after == before {
            break;
        }
        jos::time::sleep_msec(100);
        after = unreferenced_pages();
    }
    if after == before {
        cprintf!("outleak: OK: no page taken by the first frames out\n");
    } else {
        cprintf!(
            "outleak: BUG: {} pages free before the first frames out, {} after\n",
            before,
            after
        );
    }
}
