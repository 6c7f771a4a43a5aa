//! netwait: envs waiting in sys_net_receive, attacked while they wait
//! (grade/net.py's test over a socket network, each host datagram one
//! raw frame). We fork six waiters, each blocked in sys_net_receive
//! before anything is sent:
//!
//! - W0, W1, W2 and S: each frame they take goes to us by IPC (its
//!   sequence number); S is stopped by us (sys_env_set_status
//!   NOT_RUNNABLE) while it waits, and made runnable again once half the
//!   frames are in: it must take none while stopped;
//! - D: destroyed while it waits (it must never report a frame, and be
//!   freed with all its pages);
//! - T: given new registers while it waits (sys_env_set_trapframe, then
//!   made runnable): it runs `redirected`, which says so and exits; the
//!   receive it was in must leave no trace (no frame taken for it).
//!
//! Then `netwait: ready`; the host sends probes until `netwait: probe`,
//! then COUNT numbered frames (ethertype 0x88B5, `NETWAIT`, a 32-bit
//! sequence number), paced, then `NETWAIT-END` frames until we are done.
//! Several envs wait at once, on any CPU: every numbered frame must reach
//! us exactly once. The report: `netwait: N frames, each once: yes|no
//! (duplicates D, missing M); by waiter a b c s; S while stopped K; from
//! D or T B`, then `netwait: done`.
#![no_std]
#![no_main]

use abi::env::{ENV_NOT_RUNNABLE, ENV_RUNNABLE, EnvId, envx};
use abi::mmu::PteFlags;
use abi::net::MAX_FRAME;
use core::sync::atomic::{AtomicI32, Ordering};
use jos::cprintf;
use jos::ipc::{ipc_recv, ipc_send};
use jos::syscall::{
    sys_env_destroy, sys_env_set_status, sys_env_set_trapframe, sys_net_receive, sys_time_msec,
    sys_yield,
};

jos::main!(umain);

/// Numbered frames the host sends (grade/net.py's NETWAIT_COUNT).
const COUNT: usize = 300;
/// What a waiter sends us for a frame that is not a numbered one.
const END: u32 = 0xFFFF_FF00;
const PROBE: u32 = 0xFFFF_FF01;
const OTHER: u32 = 0xFFFF_FF02;
/// D's and T's report of a frame (neither must ever send one), and T's
/// word from `redirected`.
const FROM_D: u32 = 0xDDDD_0000;
const FROM_T: u32 = 0x7777_0000;
const REDIRECTED: u32 = 0xEEEE_0000;

/// Our env id, for the children (set before the first fork).
static SERVER: AtomicI32 = AtomicI32::new(0);

fn server() -> EnvId {
    SERVER.load(Ordering::Relaxed)
}

/// What a frame is, as the value a waiter sends us.
fn classify(f: &[u8]) -> u32 {
    let body = f.get(14..).unwrap_or(&[]);
    if f.len() < 14 || f[12..14] != [0x88, 0xb5] {
        OTHER
    } else if body.starts_with(b"NETWAIT-PROBE") {
        PROBE
    } else if body.starts_with(b"NETWAIT-END") {
        END
    } else if body.starts_with(b"NETWAIT") && body.len() >= 11 {
        u32::from_be_bytes([body[7], body[8], body[9], body[10]])
    } else {
        OTHER
    }
}

/// A waiter's body: every frame, classified, to the server; `tag` marks
/// the ones D and T would send (never).
fn waiter(tag: u32) -> ! {
    let mut buf = [0u8; MAX_FRAME];
    loop {
        match sys_net_receive(&mut buf) {
            Ok(n) => ipc_send(server(), classify(&buf[..n]) | tag, None, PteFlags::empty()),
            Err(e) => panic!("sys_net_receive: {}", e),
        }
    }
}

/// Where T goes with its new registers.
extern "C" fn redirected() -> ! {
    ipc_send(server(), REDIRECTED, None, PteFlags::empty());
    jos::exit();
}

fn spawn_waiter(tag: u32) -> EnvId {
    match jos::fork() {
        Ok(0) => waiter(tag),
        Ok(id) => id,
        Err(e) => panic!("fork: {}", e),
    }
}

fn status(id: EnvId) -> u32 {
    jos::env::env_read(envx(id)).env_status
}

fn umain(_args: &[&str]) {
    SERVER.store(jos::env::thisenv_id(), Ordering::Relaxed);
    let w = [spawn_waiter(0), spawn_waiter(0), spawn_waiter(0)];
    let s = spawn_waiter(0);
    let d = spawn_waiter(FROM_D);
    let t = spawn_waiter(FROM_T);
    let all = [w[0], w[1], w[2], s, d, t];
    // Until every one waits in the kernel (nothing is sent before ready).
    let start = sys_time_msec();
    while all.iter().any(|&c| status(c) != ENV_NOT_RUNNABLE) {
        assert!(
            sys_time_msec().wrapping_sub(start) < 5000,
            "the waiters did not all wait"
        );
        sys_yield();
    }
    sys_env_destroy(d).expect("destroying D");
    sys_env_set_status(s, ENV_NOT_RUNNABLE).expect("stopping S");
    let mut tf = jos::env::env_read(envx(t)).env_tf;
    tf.tf_eip = redirected as *const () as u32;
    tf.tf_esp = (tf.tf_esp - 256) & !15;
    sys_env_set_trapframe(t, &tf).expect("new registers for T");
    assert_eq!(status(t), ENV_NOT_RUNNABLE, "T runnable before we said so");
    sys_env_set_status(t, ENV_RUNNABLE).expect("starting T");
    let m = ipc_recv(None).expect("T's word");
    assert!(
        m.from == t && m.value == REDIRECTED,
        "not T's word: {:?}",
        m
    );
    cprintf!("netwait: D destroyed, S stopped, T redirected while waiting\n");

    cprintf!("netwait: ready\n");
    let mut seen = [0u8; COUNT];
    let (mut by, mut stopped_took, mut bad, mut probed) = ([0u32; 4], 0u32, 0u32, false);
    let mut resumed = false;
    let mut ends = 0;
    let mut got = 0;
    loop {
        let m = ipc_recv(None).expect("ipc_recv");
        let who = all.iter().position(|&c| c == m.from);
        match m.value {
            PROBE => {
                if !probed {
                    probed = true;
                    cprintf!("netwait: probe\n");
                }
                continue;
            }
            END => {
                // The frames before END are all taken; a waiter may still
                // be on its way to us with one: wait for a few more ENDs
                // (the host sends one every half second).
                ends += 1;
                if got == COUNT || ends > 4 {
                    break;
                }
                continue;
            }
            OTHER => continue,
            _ => {}
        }
        match who {
            Some(i @ 0..=3) if (m.value as usize) < COUNT => {
                by[i] += 1;
                if i == 3 && !resumed {
                    stopped_took += 1;
                }
                let n = &mut seen[m.value as usize];
                if *n == 0 {
                    got += 1;
                }
                *n = n.saturating_add(1);
            }
            _ => bad += 1,
        }
        if got >= COUNT / 2 && !resumed {
            resumed = true;
            sys_env_set_status(s, ENV_RUNNABLE).expect("resuming S");
        }
    }
    let dups = seen.iter().filter(|&&n| n > 1).count();
    let missing = seen.iter().filter(|&&n| n == 0).count();
    cprintf!(
        "netwait: {} frames, each once: {} (duplicates {}, missing {}); by waiter {} {} {} {}; S while stopped {}; from D or T {}\n",
        got,
        if dups == 0 && missing == 0 {
            "yes"
        } else {
            "no"
        },
        dups,
        missing,
        by[0],
        by[1],
        by[2],
        by[3],
        stopped_took,
        bad
    );
    for c in [w[0], w[1], w[2], s] {
        sys_env_destroy(c).expect("destroying a waiter");
    }
    cprintf!("netwait: done\n");
}
