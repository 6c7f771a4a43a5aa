//! netidle: the network server's input helper waits in the kernel, not on
//! the CPU (grade/net.py's idle test). We stand in for the server: fork
//! `jos::net::input(us)`, then
//!
//! 1. compute for half a second (a loop reading the clock), and count how many
//!    times the kernel ran the helper meanwhile (its `env_runs` at
//!    UENVS): a helper that polls, yielding, runs at every turn it gets
//!    (dozens of times a second on one CPU, each a slice taken from us);
//!    one waiting for the card's interrupt ran once, to start waiting;
//! 2. say `netidle: waiting` and wait for the helper's first frame in IPC:
//!    every env now waits, the helper for the card, so the machine must
//!    halt (not enter the monitor: "No runnable environments" would be
//!    wrong) until the host sends something (QEMU's user network then
//!    asks for our address: an ARP request, broadcast, is the frame);
//! 3. print the frame's length and the helper's runs in all, and exit.
//!
//! Lines: `netidle: input ran N times in 500 ms of our computing`,
//! `netidle: waiting`, `netidle: frame L bytes; input ran M times in all`.
#![no_std]
#![no_main]

use abi::env::{ENV_NOT_RUNNABLE, envx};
use abi::net::{INPUT_PKT_VA, JifPkt, NSREQ_INPUT};
use jos::cprintf;
use jos::syscall::sys_time_msec;

jos::main!(umain);

/// How long we compute while the helper should sleep.
const BUSY_MS: u32 = 500;

fn runs(id: abi::env::EnvId) -> u32 {
    jos::env::env_read(envx(id)).env_runs
}

fn umain(_args: &[&str]) {
    let ns = jos::env::thisenv_id();
    let input = match jos::fork() {
        Ok(0) => {
            jos::net::input(ns);
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {}", e),
    };
    // Let the helper start and reach its wait (not runnable), or give up
    // after a second (a helper that polls never waits): the count starts
    // then, so a helper still starting when our first yield comes back
    // (its slice ended before it could wait: a loaded host) is not
    // counted.
    let t0 = sys_time_msec();
    while jos::env::env_status(input) != ENV_NOT_RUNNABLE && sys_time_msec().wrapping_sub(t0) < 1000
    {
        jos::syscall::sys_yield();
    }
    let before = runs(input);
    let start = sys_time_msec();
    let mut spins = 0u64;
    while sys_time_msec().wrapping_sub(start) < BUSY_MS {
        spins = core::hint::black_box(spins + 1);
    }
    cprintf!(
        "netidle: input ran {} times in {} ms of our computing\n",
        runs(input) - before,
        BUSY_MS
    );
    cprintf!("netidle: waiting\n");
    let m = jos::ipc::ipc_recv_from(input, Some(INPUT_PKT_VA)).expect("the input helper's frame");
    assert!(m.value == NSREQ_INPUT && !m.perm.is_empty(), "not a frame");
    // SAFETY: the helper sent a page, mapped at INPUT_PKT_VA.
    let len = unsafe { (INPUT_PKT_VA as *const JifPkt).read_volatile() }.jp_len;
    cprintf!(
        "netidle: frame {} bytes; input ran {} times in all\n",
        len,
        runs(input)
    );
    let _ = jos::syscall::sys_env_destroy(input);
}
