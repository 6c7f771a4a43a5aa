//! sleepcheck: `jos::time::sleep_msec` sleeps in the kernel
//! (`sys_sleep_until`), not on the CPU, and every way a sleep can be
//! interrupted leaves it right:
//!
//! 1. a child sleeps a second while we compute for half of it: the kernel
//!    runs it about once (to start sleeping), where a sleeper that polls
//!    the clock and yields runs at every turn, each a slice taken from us;
//! 2. a sleeper stopped by its parent (not runnable) past its time and
//!    then resumed finishes its sleep (its call, made again, returns);
//! 3. a sleeper destroyed while it sleeps is freed;
//! 4. we sleep 200 ms ourselves: at least that, at most a few ticks more.
//!
//! Lines: `sleepcheck: sleeper ran N times in 500 ms of our computing`,
//! `sleepcheck: stopped sleeper slept N ms`, `sleepcheck: destroyed
//! sleeper freed`, `sleepcheck: slept N ms for 200`, `sleepcheck: done`.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, ENV_RUNNABLE, EnvId, envx};
use jos::cprintf;
use jos::syscall::{sys_env_destroy, sys_env_set_status, sys_time_msec, sys_yield};
use jos::time::sleep_msec;

jos::main!(umain);

fn runs(id: EnvId) -> u32 {
    jos::env::env_read(envx(id)).env_runs
}

/// Forks a child that sleeps `ms` and prints what it measured if `say`.
fn sleeper(ms: u32, say: bool) -> EnvId {
    match jos::fork() {
        Ok(0) => {
            let slept = sleep_msec(ms);
            if say {
                cprintf!("sleepcheck: stopped sleeper slept {} ms\n", slept);
            }
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    }
}

/// Computes (reading the clock) for `ms`.
fn compute(ms: u32) {
    let start = sys_time_msec();
    while sys_time_msec().wrapping_sub(start) < ms {}
}

fn umain(_args: &[&str]) {
    // 1.
    let a = sleeper(1000, false);
    // Let it start sleeping (a fork child's first run is its own).
    while jos::env::env_status(a) != ENV_NOT_RUNNABLE {
        sys_yield();
    }
    let before = runs(a);
    compute(500);
    cprintf!(
        "sleepcheck: sleeper ran {} times in 500 ms of our computing\n",
        runs(a) - before
    );
    // 2.
    let b = sleeper(300, true);
    compute(50);
    sys_env_set_status(b, ENV_NOT_RUNNABLE).expect("stop the sleeper");
    compute(400);
    sys_env_set_status(b, ENV_RUNNABLE).expect("resume the sleeper");
    jos::env::wait(b);
    // 3.
    let c = sleeper(10_000, false);
    compute(50);
    sys_env_destroy(c).expect("destroy the sleeper");
    let t = sys_time_msec();
    while jos::env::env_status(c) != ENV_FREE && sys_time_msec().wrapping_sub(t) < 1000 {
        sys_yield();
    }
    if jos::env::env_status(c) == ENV_FREE {
        cprintf!("sleepcheck: destroyed sleeper freed\n");
    }
    // 4.
    let slept = sleep_msec(200);
    cprintf!("sleepcheck: slept {} ms for 200\n", slept);
    jos::env::wait(a);
    cprintf!("sleepcheck: done\n");
}
