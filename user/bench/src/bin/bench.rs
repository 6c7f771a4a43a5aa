//! bench: microbenchmarks of the kernel's paths, in time-stamp counter
//! cycles (the median of several runs of many iterations each), one line
//! each: `bench: <what>: <cycles> cycles`. `make bench` runs this on one and
//! two CPUs and adds whole-program timings (scripts/bench.py).
//!
//! - null system call: `sys_getenvid`;
//! - yield round trip: we and a child both loop on `sys_yield`; the time per
//!   yield of ours (with one CPU: we, then the child, then we again);
//! - upcall round trip: a store to an unmapped page, delivered to a user
//!   handler that skips the instruction;
//! - copy-on-write fault: a write to a page shared with a child after fork;
//! - page alloc + map + unmap: `sys_page_alloc`, `sys_page_map` to a second
//!   address, `sys_page_unmap` of both;
//! - fork of a 1 MiB process: `fork()` in the parent, with 256 data pages;
//! - IPC round trip: `ipc_send` to a child that sends the value back.
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::memlayout::UTOP;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use abi::trap::UTrapframe;
use jos::cprintf;
use jos::pgfault::{Fault, add_region};
use jos::syscall::{
    sys_env_destroy, sys_getenvid, sys_ipc_recv, sys_ipc_send, sys_page_alloc, sys_page_map,
    sys_page_unmap, sys_yield,
};
use user::spin::rdtsc;

jos::main!(umain);

/// Runs of each benchmark (the median is reported).
const RUNS: usize = 7;
/// Scratch pages for the page-call benchmark.
const SCRATCH: usize = 0x1000_0000;
/// The page whose faults the upcall benchmark's handler skips.
const FAULTPAGE: usize = 0x2000_0000;
/// The data the fork and COW benchmarks copy.
const DATA: usize = 0x3000_0000;
const DATA_PAGES: usize = 256;

/// The median of `RUNS` runs of `f`, each timing `iters` iterations;
/// returns cycles per iteration.
fn measure(iters: u64, mut f: impl FnMut(u64)) -> u64 {
    let mut t = [0u64; RUNS];
    for r in t.iter_mut() {
        let t0 = rdtsc();
        f(iters);
        *r = (rdtsc() - t0) / iters;
    }
    t.sort_unstable();
    t[RUNS / 2]
}

fn report(what: &str, cycles: u64) {
    cprintf!("bench: {}: {} cycles\n", what, cycles);
}

fn fork() -> EnvId {
    match jos::fork() {
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    }
}

/// Skips the 6-byte `movl $1, (%eax)` that faulted.
fn skip_store(utf: &mut UTrapframe) -> Fault {
    utf.utf_eip += 6;
    Fault::Handled
}

/// A store to FAULTPAGE, which is never mapped: `movl $1, (%eax)`, encoded
/// as 6 bytes (c7 00 01 00 00 00) so that the handler can skip it.
fn faulting_store() {
    // SAFETY: the store faults and the handler skips it; nothing is written.
    unsafe {
        core::arch::asm!(
            ".byte 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00",
            in("eax") FAULTPAGE,
            options(nostack)
        );
    }
}

fn touch_data() {
    for i in 0..DATA_PAGES {
        if let Err(e) = sys_page_alloc(0, DATA + i * PGSIZE, PTE_RW) {
            panic!("sys_page_alloc: {e}");
        }
    }
}

fn umain(_args: &[&str]) {
    report(
        "null system call",
        measure(2000, |n| {
            for _ in 0..n {
                sys_getenvid();
            }
        }),
    );

    // Yield round trip: a child yields as long as we do.
    let child = fork();
    if child == 0 {
        loop {
            sys_yield();
        }
    }
    report(
        "yield round trip",
        measure(500, |n| {
            for _ in 0..n {
                sys_yield();
            }
        }),
    );
    let _ = sys_env_destroy(child);
    jos::env::wait(child);

    // Upcall round trip.
    if let Err(e) = add_region(FAULTPAGE, FAULTPAGE + PGSIZE, "bench", skip_store) {
        panic!("add_region: {e}");
    }
    report(
        "upcall round trip",
        measure(500, |n| {
            for _ in 0..n {
                faulting_store();
            }
        }),
    );

    report(
        "page alloc + map + unmap",
        measure(200, |n| {
            for _ in 0..n {
                let r = sys_page_alloc(0, SCRATCH, PTE_RW)
                    .and_then(|()| sys_page_map(0, SCRATCH, 0, SCRATCH + PGSIZE, PTE_RW))
                    .and_then(|()| sys_page_unmap(0, SCRATCH))
                    .and_then(|()| sys_page_unmap(0, SCRATCH + PGSIZE));
                if let Err(e) = r {
                    panic!("page calls: {e}");
                }
            }
        }),
    );

    // Fork of a 1 MiB process: each child exits at once.
    touch_data();
    report(
        "fork of a 1 MiB process",
        measure(1, |_| {
            let id = fork();
            if id == 0 {
                jos::exit();
            }
            jos::env::wait(id);
        }),
    );

    // Copy-on-write faults: a child shares our data (and waits), we write.
    let cow = {
        let mut t = [0u64; RUNS];
        for r in t.iter_mut() {
            let id = fork();
            if id == 0 {
                let _ = sys_ipc_recv(UTOP);
                jos::exit();
            }
            let t0 = rdtsc();
            for i in 0..DATA_PAGES {
                // SAFETY: DATA's pages are ours (copy-on-write after fork).
                unsafe { core::ptr::write_volatile((DATA + i * PGSIZE) as *mut u32, 1) };
            }
            *r = (rdtsc() - t0) / DATA_PAGES as u64;
            let _ = sys_ipc_send(id, 0, UTOP, PteFlags::empty());
            jos::env::wait(id);
        }
        t.sort_unstable();
        t[RUNS / 2]
    };
    report("copy-on-write fault", cow);

    // IPC round trip with a child that echoes.
    let echo = fork();
    if echo == 0 {
        loop {
            if let Ok(m) = jos::ipc_recv(None) {
                jos::ipc_send(m.from, m.value, None, PteFlags::empty());
            }
        }
    }
    report(
        "IPC round trip",
        measure(300, |n| {
            for i in 0..n {
                jos::ipc_send(echo, i as u32, None, PteFlags::empty());
                let _ = jos::ipc_recv(None);
            }
        }),
    );
    let _ = sys_env_destroy(echo);
    jos::env::wait(echo);
    for i in 0..DATA_PAGES {
        let _ = sys_page_unmap(0, DATA + i * PGSIZE);
    }
    cprintf!("bench: done\n");
}
