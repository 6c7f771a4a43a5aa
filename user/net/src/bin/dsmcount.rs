// make: FS=1 NS=1
//! dsmcount: every machine adds 1 to one shared counter `n=` times (100 by
//! default), each addition a plain load and store under a lock in the
//! shared memory (`jos::dsm::sync::Lock`, on the counter's page). The
//! peers are the kernel's `peer=` (none: one machine alone). Prints the
//! counter every machine reads at the end (and `halfway` after n/2
//! additions), which must be n times the
//! number of machines, then the statistics. With `think=MS`, each machine
//! sleeps that long between additions (the others take the lock then:
//! contention, and the page travels at every addition).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use jos::cprintf;
use jos::dsm::sync::{Barrier, Lock};
use jos::dsm::{DSM_BASE, dsm_attach_kargs, print_stats};
use jos::syscall::sys_time_msec;

jos::main!(umain);

const PGSIZE: usize = abi::mmu::PGSIZE;

fn umain(_args: &[&str]) {
    user::dsmrun::leak_checked("dsmcount", run);
}

fn run() {
    let k = jos::kargs::kargs();
    let n = k.arg_u32("n").unwrap_or(100);
    let think = k.arg_u32("think").unwrap_or(0);
    let d = match dsm_attach_kargs(DSM_BASE, 2 * PGSIZE) {
        Ok(d) => d,
        Err(e) => {
            cprintf!("dsmcount: dsm_attach: {}\n", e);
            return;
        }
    };
    let parties = d.nodes() as u32;
    // Page 0: the lock and the counter it guards; page 1: the barrier.
    let lock: &Lock = d.at(0);
    let counter: &AtomicU32 = d.at(4);
    let barrier: &Barrier = d.at(PGSIZE);
    cprintf!("dsmcount: node {} of {}: adding {}\n", d.node(), parties, n);
    barrier.wait(parties);
    let t0 = sys_time_msec();
    for i in 0..n {
        if i == n / 2 {
            cprintf!("dsmcount: node {}: halfway\n", d.node());
        }
        lock.lock();
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        lock.unlock();
        if think > 0 {
            jos::time::sleep_msec(think);
        }
    }
    barrier.wait(parties);
    let ms = sys_time_msec().wrapping_sub(t0);
    let total = counter.load(Ordering::Relaxed);
    cprintf!(
        "dsmcount: node {}: counter {} (expected {}) in {} ms\n",
        d.node(),
        total,
        n * parties,
        ms
    );
    let node = d.node();
    let stats = d.detach();
    print_stats("dsmcount", node, &stats);
}
