// make: FS=1 NS=1
//! dsmpingpong: one shared page written by the machines in turn, `n=`
//! rounds (20 by default): machine k waits until the turn word says k,
//! adds 1 to the ball and passes the turn on. Every write takes the page
//! from the other machine (the invalidation traffic the statistics
//! show). Prints the ball and the statistics; the peers are `peer=`.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use jos::cprintf;
use jos::dsm::{DSM_BASE, dsm_attach_kargs, print_stats};
use jos::syscall::{sys_time_msec, sys_yield};

jos::main!(umain);

fn umain(_args: &[&str]) {
    user::dsmrun::leak_checked("dsmpingpong", run);
}

fn run() {
    let n = jos::kargs::kargs().arg_u32("n").unwrap_or(20);
    let d = match dsm_attach_kargs(DSM_BASE, abi::mmu::PGSIZE) {
        Ok(d) => d,
        Err(e) => {
            cprintf!("dsmpingpong: dsm_attach: {}\n", e);
            return;
        }
    };
    let (me, parties) = (d.node() as u32, d.nodes() as u32);
    let turn: &AtomicU32 = d.at(0);
    let ball: &AtomicU32 = d.at(4);
    let t0 = sys_time_msec();
    // Turn t belongs to machine t % parties; each machine plays n turns.
    for t in (me..n * parties).step_by(parties as usize) {
        while turn.load(Ordering::Acquire) != t {
            sys_yield();
        }
        ball.store(ball.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        turn.store(t + 1, Ordering::Release);
    }
    // The last turn's ball, as every machine sees it.
    while turn.load(Ordering::Acquire) != n * parties {
        sys_yield();
    }
    cprintf!(
        "dsmpingpong: node {}: ball {} after {} turns each, {} ms\n",
        me,
        ball.load(Ordering::Relaxed),
        n,
        sys_time_msec().wrapping_sub(t0)
    );
    let node = d.node();
    let stats = d.detach();
    print_stats("dsmpingpong", node, &stats);
}
