//! net_testinput (JOS's lab-6 net/testinput.c): stands in for the network
//! server: forks the output and input helpers (jos::net), announces our
//! IP address with an ARP request for the gateway (QEMU's user network
//! answers it, and then knows where 10.0.2.15 is), and prints every frame
//! the input helper hands it as JOS's hexdump (`input: 0000   5254 ...`),
//! a blank line after each. After the first frame (the ARP reply) it says
//! `Waiting for packets...`, MIT's grader's cue to send UDP datagrams to
//! the guest's port 7. It never exits (as JOS's).
//!
//! Our MAC address is the kernel's (the `mac=` word, as the driver set
//! it); the addresses are JOS's (net/ns.h): 10.0.2.15, gateway 10.0.2.2.
#![no_std]
#![no_main]

use abi::mmu::PteFlags;
use abi::net::{JP_DATA, JifPkt, NSREQ_INPUT, NSREQ_OUTPUT, REQVA};
use jos::cprintf;
use jos::syscall::{sys_page_alloc, sys_page_unmap};

jos::main!(umain);

/// Our address and the gateway's (JOS's IP and DEFAULT).
const IP: [u8; 4] = [10, 0, 2, 15];
const GATEWAY: [u8; 4] = [10, 0, 2, 2];

/// Sends an ARP request for the gateway from us through the output
/// helper (JOS's announce: QEMU's ARP answers only such requests).
fn announce(output_envid: abi::env::EnvId) {
    let mac = jos::kargs::kargs().mac();
    let perm = PteFlags::P | PteFlags::U | PteFlags::W;
    if let Err(e) = sys_page_alloc(0, REQVA, perm) {
        panic!("sys_page_alloc: {}", e);
    }
    let mut arp = [0u8; 42];
    arp[0..6].fill(0xff); // to everyone
    arp[6..12].copy_from_slice(&mac);
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes()); // ARP
    arp[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    arp[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    arp[18] = 6; // hardware address length
    arp[19] = 4; // protocol address length
    arp[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    arp[22..28].copy_from_slice(&mac);
    arp[28..32].copy_from_slice(&IP);
    // target hardware address: zero
    arp[38..42].copy_from_slice(&GATEWAY);
    // SAFETY: the page just mapped at REQVA is ours until it is sent.
    unsafe {
        (REQVA as *mut JifPkt).write_volatile(JifPkt {
            jp_len: arp.len() as i32,
        });
        core::ptr::copy_nonoverlapping(arp.as_ptr(), (REQVA + JP_DATA) as *mut u8, arp.len());
    }
    jos::ipc_send(output_envid, NSREQ_OUTPUT, Some(REQVA), perm);
    let _ = sys_page_unmap(0, REQVA);
}

/// Prints `data` as JOS's testinput does: lines of 16 bytes, `prefix`,
/// the offset (`%04x`), three spaces, the bytes in hex in groups of two,
/// an extra space after the eighth.
fn hexdump(prefix: &str, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (line, chunk) in data.chunks(16).enumerate() {
        let mut buf = [0u8; 80];
        let mut n = jos::snprintf!(&mut buf[..], "{}{:04x}   ", prefix, line * 16);
        for (i, b) in chunk.iter().enumerate() {
            buf[n] = HEX[usize::from(b >> 4)];
            buf[n + 1] = HEX[usize::from(b & 0xf)];
            n += 2;
            // Separators only between bytes: none after the line's last.
            if i + 1 < chunk.len() {
                if i % 2 == 1 {
                    buf[n] = b' ';
                    n += 1;
                }
                if i % 16 == 7 {
                    buf[n] = b' ';
                    n += 1;
                }
            }
        }
        cprintf!("{}\n", core::str::from_utf8(&buf[..n]).unwrap_or("?"));
    }
}

fn umain(_args: &[&str]) {
    let ns_envid = jos::env::thisenv_id();

    let output_envid = match jos::fork() {
        Err(e) => panic!("error forking: {}", e),
        Ok(0) => {
            jos::net::output(ns_envid);
            return;
        }
        Ok(id) => id,
    };
    let input_envid = match jos::fork() {
        Err(e) => panic!("error forking: {}", e),
        Ok(0) => {
            jos::net::input(ns_envid);
            return;
        }
        Ok(id) => id,
    };

    cprintf!("Sending ARP announcement...\n");
    announce(output_envid);

    let mut first = true;
    loop {
        let msg = match jos::ipc_recv(Some(REQVA)) {
            Ok(m) => m,
            Err(e) => panic!("ipc_recv: {}", e),
        };
        if msg.from != input_envid {
            panic!("IPC from unexpected environment {:08x}", msg.from);
        }
        if msg.value != NSREQ_INPUT {
            panic!("Unexpected IPC {}", msg.value);
        }
        // SAFETY: the input helper sent a page, mapped at REQVA.
        let jp_len = unsafe { (REQVA as *const JifPkt).read_volatile() }.jp_len;
        let Some(len) = abi::net::jp_len_ok(jp_len) else {
            panic!("packet of bad length {}", jp_len);
        };
        // SAFETY: len <= MAX_FRAME: inside the page.
        let data = unsafe { core::slice::from_raw_parts((REQVA + JP_DATA) as *const u8, len) };
        hexdump("input: ", data);
        cprintf!("\n");

        // Only say we wait for packets once the ARP reply is in.
        if first {
            cprintf!("Waiting for packets...\n");
        }
        first = false;
    }
}
