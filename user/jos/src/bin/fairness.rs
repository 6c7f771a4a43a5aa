//! fairness: two environments flood a third with IPC messages; the
//! receiver counts whose messages it gets. With a fair scheduler both
//! senders get through regularly. (JOS's version ran two copies booted by
//! the kernel; here the first environment forks its partners.)
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::error::Error;
use abi::memlayout::UTOP;
use abi::mmu::PteFlags;
use jos::syscall::{sys_getenvid, sys_ipc_send};
use jos::{cprintf, ipc_recv, ipc_send};

jos::main!(umain);

/// Messages the receiver takes before it reports and exits.
const NMSGS: u32 = 200;

/// Waits until both senders are ready and starts them together (so that
/// on several CPUs neither gets a head start), then receives NMSGS messages
/// and checks that both senders got a fair share.
fn receiver() {
    let mut senders: [EnvId; 2] = [0; 2];
    for s in senders.iter_mut() {
        match ipc_recv(None) {
            Ok(m) => *s = m.from,
            Err(e) => panic!("ipc_recv: {e}"),
        }
    }
    for &s in &senders {
        ipc_send(s, 0, None, PteFlags::empty());
    }
    let mut counts = [0u32; 2];
    for _ in 0..NMSGS {
        let m = match ipc_recv(None) {
            Ok(m) => m,
            Err(e) => panic!("ipc_recv: {e}"),
        };
        match senders.iter().position(|&s| s == m.from) {
            Some(i) => counts[i] += 1,
            None => panic!("message from unexpected env {:08x}", m.from),
        }
    }
    for (s, c) in senders.iter().zip(counts) {
        cprintf!(
            "fairness: {:x} received {} messages from {:x}\n",
            sys_getenvid(),
            c,
            *s
        );
    }
    // A fair scheduler alternates; allow a lot of slack.
    if counts.iter().all(|&c| c >= NMSGS / 10) {
        cprintf!("fairness: OK\n");
    } else {
        cprintf!("fairness: UNFAIR\n");
    }
}

/// Sends to `to` until it is gone; returns how many messages got through.
///
/// Uses the blocking `sys_ipc_send`, which queues senders to one receiver
/// in the order they started waiting. (A `sys_ipc_try_send` + `sys_yield`
/// loop is not fair: with round-robin scheduling the same sender always
/// finds the receiver ready and the other never does.)
fn sender(to: EnvId) -> u32 {
    let id = sys_getenvid();
    cprintf!("{:x} loop sending to {:x}\n", id, to);
    // Say we are ready, and wait for the start signal.
    if let Err(e) = sys_ipc_send(to, 0, UTOP, PteFlags::empty()) {
        panic!("sys_ipc_send: {e}");
    }
    if let Err(e) = ipc_recv(None) {
        panic!("ipc_recv: {e}");
    }
    let mut sent = 0;
    loop {
        match sys_ipc_send(to, sent, UTOP, PteFlags::empty()) {
            Ok(()) => sent += 1,
            Err(Error::BadEnv) => return sent,
            Err(e) => panic!("sys_ipc_send: {e}"),
        }
    }
}

fn fork() -> EnvId {
    match jos::fork() {
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    }
}

fn umain(_args: &[&str]) {
    let receiver_id = fork();
    if receiver_id == 0 {
        receiver();
        return;
    }
    // Two senders: a child and ourselves.
    fork();
    let sent = sender(receiver_id);
    cprintf!("{:x} sent {}\n", sys_getenvid(), sent);
}
