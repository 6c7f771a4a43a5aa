// make: FS=1 NS=1
//! dsmmatmul: C = A × B for `size=`×`size=` matrices of doubles (64 by
//! default) in shared memory, the rows of C split among the machines
//! (`peer=`; none: one machine computes it all). Machine 0 fills A and B;
//! a barrier; each machine computes its rows of C; a barrier; each reads
//! all of C and prints its checksum, which must equal the one machine's.
//! Each machine's rows of C start on a page of their own, so no two
//! machines ever write one page. Prints the multiplication's time and
//! the statistics.
#![no_std]
#![no_main]

use jos::cprintf;
use jos::dsm::sync::Barrier;
use jos::dsm::{DSM_BASE, DSM_MAX, dsm_attach_kargs, print_stats};
use jos::syscall::{sys_time_msec, sys_yield};

jos::main!(umain);

const PGSIZE: usize = abi::mmu::PGSIZE;

fn round_up(x: usize) -> usize {
    x.div_ceil(PGSIZE) * PGSIZE
}

/// The inputs: small integers, so every product and sum is exact.
fn a_at(i: usize, j: usize) -> f64 {
    ((i * 3 + j * 5) % 11) as f64 - 5.0
}

fn b_at(i: usize, j: usize) -> f64 {
    ((i * 7 + j * 2) % 13) as f64 - 6.0
}

fn umain(_args: &[&str]) {
    user::dsmrun::leak_checked("dsmmatmul", run);
}

fn run() {
    let k = jos::kargs::kargs();
    let n = k.arg_u32("size").unwrap_or(64) as usize;
    // Machines at most: 16 (the layout needs to know before attaching).
    let max_nodes = 16;
    let machines = k.arg("peer").map_or(1, |p| p.split(',').count() + 1);
    let mat = round_up(n * n * 8);
    let block = round_up(n.div_ceil(machines) * n * 8);
    // Page 0: the barrier; then A, B, and C in blocks of rows.
    let (a_off, b_off, c_off) = (PGSIZE, PGSIZE + mat, PGSIZE + 2 * mat);
    let len = c_off + block * machines;
    if n == 0 || machines > max_nodes || len > DSM_MAX {
        cprintf!("dsmmatmul: size {} does not fit\n", n);
        return;
    }
    let d = match dsm_attach_kargs(DSM_BASE, len) {
        Ok(d) => d,
        Err(e) => {
            cprintf!("dsmmatmul: dsm_attach: {}\n", e);
            return;
        }
    };
    let (me, parties) = (d.node() as usize, d.nodes());
    let base = d.base();
    let barrier: &Barrier = d.at(0);
    let a = (base + a_off) as *mut f64;
    let b = (base + b_off) as *mut f64;
    // Machine k's rows [lo, hi) of C, at c_off + k * block.
    let rows = |k: usize| (k * n / parties, (k + 1) * n / parties);
    let c_row = |i: usize| {
        let k = (0..parties).find(|&k| i < rows(k).1).unwrap_or(0);
        (base + c_off + k * block + (i - rows(k).0) * n * 8) as *mut f64
    };
    assert_eq!(parties, machines);
    if me == 0 {
        for i in 0..n {
            for j in 0..n {
                // SAFETY: inside A and B, in the shared range (mapped or
                // faulted in by the DSM layer).
                unsafe {
                    *a.add(i * n + j) = a_at(i, j);
                    *b.add(i * n + j) = b_at(i, j);
                }
            }
        }
    }
    cprintf!("dsmmatmul: node {} of {}: {}x{}\n", me, parties, n, n);
    barrier.wait(parties as u32);
    let t0 = sys_time_msec();
    let (lo, hi) = rows(me);
    for i in lo..hi {
        let c = c_row(i);
        for j in 0..n {
            let mut s = 0.0;
            for x in 0..n {
                // SAFETY: inside A and B (read-only here).
                s += unsafe { *a.add(i * n + x) * *b.add(x * n + j) };
            }
            // SAFETY: our own row of C.
            unsafe { *c.add(j) = s };
            if parties > 1 && j % 16 == 15 {
                // Let this machine's daemon (and the network server) run:
                // the other machine may be waiting for a page of ours.
                sys_yield();
            }
        }
    }
    barrier.wait(parties as u32);
    let ms = sys_time_msec().wrapping_sub(t0);
    // The checksum: every entry, weighted by its place (a misplaced row
    // changes it), as an exact integer.
    let mut sum: i64 = 0;
    for i in 0..n {
        let c = c_row(i);
        for j in 0..n {
            // SAFETY: inside C.
            let v = unsafe { *c.add(j) } as i64;
            sum = sum.wrapping_add(v * ((i * 31 + j * 17) % 101 + 1) as i64);
        }
    }
    cprintf!(
        "dsmmatmul: node {}: rows {}..{} in {} ms; checksum {}\n",
        me,
        lo,
        hi,
        ms,
        sum
    );
    let stats = d.detach();
    print_stats("dsmmatmul", me as u8, &stats);
}
