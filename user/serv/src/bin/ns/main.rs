//! ns: the network server (JOS's net/), booted after the file server with
//! `NS=1` as env 00001001, of type ENV_TYPE_NS: a TCP/IP stack (smoltcp:
//! IPv4, ARP, ICMP echo, UDP, TCP) serving sockets over IPC.
//!
//! Its helpers, forked at start as JOS's are: the timer (`NSREQ_TIMER`
//! every TICK_MS, so retransmissions and timeouts happen while no frame
//! comes), the input helper (frames from the card, `NSREQ_INPUT`) and the
//! output helper (frames to the card, `NSREQ_OUTPUT`). The server itself
//! never waits but in `ipc_recv`: every request, frame and tick polls the
//! stack, then answers what it can (`sock.rs`).
//!
//! Addresses come from the kernel's command line (`ip=`, `mask=`, `gw=`,
//! `mac=`), with QEMU's user-network defaults: 10.0.2.15/24 via 10.0.2.2,
//! MAC 52:54:00:12:34:56.
#![no_std]
#![no_main]

extern crate alloc;

mod config;
mod dev;
mod helpers;
mod sock;

use abi::env::EnvId;
use abi::nsipc::{NSREQ_INPUT, NSREQ_TIMER};
use config::Config;
use dev::NetDev;
use jos::cprintf;
use jos::net::inet::Dotted;
use jos::syscall::{sys_ipc_recv, sys_page_unmap, sys_time_msec};
use smoltcp::iface::{self, Interface, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

jos::main!(umain);

/// The stack's clock: the kernel's milliseconds since boot.
pub fn now() -> Instant {
    Instant::from_millis(sys_time_msec() as i64)
}

/// Pages of stack the server maps at start (as the file server does:
/// a server that cannot grow its stack in the middle of a request dies).
const STACK_PAGES: usize = 16;

fn umain(_args: &[&str]) {
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("ns: no stack growth: {e}");
    }
    let top = abi::memlayout::USTACKTOP;
    for va in (top - STACK_PAGES * abi::mmu::PGSIZE..top).step_by(abi::mmu::PGSIZE) {
        if jos::uvpt::pte_of(va).is_none()
            && let Err(e) = jos::syscall::sys_page_alloc(0, va, abi::mmu::PTE_RW)
        {
            panic!("ns: no stack: {e}");
        }
    }
    start();
}

/// The server's start and loop (a frame of its own, over a page: entered
/// once the stack can grow).
#[inline(never)]
fn start() {
    let cfg = Config::from_cmdline();
    let [a, b, c, d] = cfg.ip;
    let mut dev = NetDev::new(cfg.mac, [cfg.ip, [127, 0, 0, 1]]);
    let mut icfg = iface::Config::new(HardwareAddress::Ethernet(EthernetAddress(cfg.mac)));
    icfg.random_seed = sys_time_msec() as u64 ^ 0x6a6f_7321;
    let mut iface = Interface::new(icfg, &mut dev, now());
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(IpAddress::v4(a, b, c, d), cfg.prefix));
        let _ = addrs.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
    });
    let [g0, g1, g2, g3] = cfg.gw;
    let _ = iface
        .routes_mut()
        .add_default_ipv4_route(Ipv4Address::new(g0, g1, g2, g3));
    let mut set = SocketSet::new(alloc::vec::Vec::with_capacity(sock::SET_MAX));
    let mut socks = sock::Socks::new();

    let me = jos::env::thisenv_id();
    let timer = helpers::start_timer(me);
    let input = helpers::start_input(me);
    dev.output = helpers::start_output(me);
    // The helpers share our writable pages copy-on-write: take them back
    // now, while memory is plentiful, so that no later write of ours
    // needs a fresh page (a copy-on-write fault with every page taken by
    // others would end the server).
    helpers::make_pages_private();
    cprintf!(
        "ns: {} bound to static IP {}/{} via {}\n",
        abi::net::MacFmt(cfg.mac),
        Dotted(cfg.ip),
        cfg.prefix,
        Dotted(cfg.gw)
    );
    if dev.output.is_none() {
        cprintf!("ns: no card: this machine's own addresses only\n");
    }

    loop {
        // Poll until the stack has nothing more to do, then answer.
        iface.poll(now(), &mut dev, &mut set);
        while dev.has_input() {
            iface.poll(now(), &mut dev, &mut set);
        }
        socks.progress(&mut iface, &mut set);
        // Answers may have queued data (a send): let it go out now.
        iface.poll(now(), &mut dev, &mut set);

        if sys_ipc_recv(sock::REQVA).is_err() {
            continue;
        }
        let e = jos::env::thisenv_read();
        let (from, value) = (e.env_ipc_from, e.env_ipc_value);
        let has_page =
            abi::mmu::PteFlags::from_bits_retain(e.env_ipc_perm).contains(abi::mmu::PteFlags::P);
        if helper(from, timer) && value == NSREQ_TIMER {
            // Time passed: the poll above the next receive does the rest.
        } else if helper(from, input) && value == NSREQ_INPUT && has_page {
            dev.input_page(sock::REQVA);
        } else {
            socks.request(&mut iface, &mut set, from, value, has_page);
        }
        if has_page {
            let _ = sys_page_unmap(0, sock::REQVA);
        }
    }
}

/// Whether `from` is helper `h` (started).
fn helper(from: EnvId, h: Option<EnvId>) -> bool {
    h.is_some_and(|h| h == from)
}
