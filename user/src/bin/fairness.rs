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
use jos::syscall::{sys_getenvid, sys_ipc_try_send, sys_yield};
use jos::{cprintf, ipc_recv};

jos::main!(umain);

/// Messages the receiver takes before it reports and exits.
const NMSGS: u32 = 200;

/// Receives NMSGS messages and checks both senders got a fair share.
fn receiver() {
    let mut senders: [EnvId; 2] = [0; 2];
    let mut counts = [0u32; 2];
    for _ in 0..NMSGS {
        let m = match ipc_recv(None) {
            Ok(m) => m,
            Err(e) => panic!("ipc_recv: {e}"),
        };
        let slot = senders.iter().position(|&s| s == m.from || s == 0);
        match slot {
            Some(i) => {
                senders[i] = m.from;
                counts[i] += 1;
            }
            None => panic!("message from a third env {:08x}", m.from),
        }
    }
    for (s, c) in senders.iter().zip(counts) {
        cprintf!(
            "fairness: %x received %d messages from %x\n",
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
fn sender(to: EnvId) -> u32 {
    let id = sys_getenvid();
    cprintf!("%x loop sending to %x\n", id, to);
    let mut sent = 0;
    loop {
        match sys_ipc_try_send(to, sent, UTOP, PteFlags::empty()) {
            Ok(()) => sent += 1,
            Err(Error::IpcNotRecv) => sys_yield(),
            Err(Error::BadEnv) => return sent,
            Err(e) => panic!("sys_ipc_try_send: {e}"),
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
    cprintf!("%x sent %d\n", sys_getenvid(), sent);
}
