//! wss: measures the working-set size of phases that touch different
//! amounts of memory, from the accessed and dirty bits of our own PTEs.
//!
//! 256 pages are allocated in a scratch area. Before each phase the bits
//! of the whole area are cleared (`wss_reset`); after it the pages with A
//! and D set are counted (`wss_count`) and must match what the phase did:
//! reads set A only, writes set A and D, untouched pages neither.
#![no_std]
#![no_main]

use abi::memlayout::UTOP;
use abi::mmu::{PGSIZE, PTE_RW};
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::syscall::sys_page_alloc;
use jos::vm::wss::{wss_count, wss_reset};

jos::main!(umain);

/// The scratch area: 256 pages at 256 MiB.
const SCRATCH: usize = 0x1000_0000;
const NPAGES: usize = 256;
const LEN: usize = NPAGES * PGSIZE;

/// One phase: touch `pages` pages (every `stride`-th from the start),
/// writing every `write_every`-th of them (never if 0) and reading the
/// rest.
struct Phase {
    pages: usize,
    stride: usize,
    write_every: usize,
    what: &'static str,
}

const PHASES: [Phase; 5] = [
    Phase {
        pages: 0,
        stride: 1,
        write_every: 0,
        what: "idle",
    },
    Phase {
        pages: 16,
        stride: 1,
        write_every: 0,
        what: "reads",
    },
    Phase {
        pages: 64,
        stride: 4,
        write_every: 1,
        what: "writes",
    },
    Phase {
        pages: 200,
        stride: 1,
        write_every: 0,
        what: "reads",
    },
    Phase {
        pages: 120,
        stride: 2,
        write_every: 3,
        what: "reads and writes",
    },
];

/// Runs `p`; returns how many pages it wrote.
fn run(p: &Phase) -> usize {
    let mut written = 0;
    for k in 0..p.pages {
        let va = SCRATCH + k * p.stride * PGSIZE + (k * 64) % PGSIZE;
        let ptr = va as *mut u32;
        if p.write_every != 0 && k.is_multiple_of(p.write_every) {
            // SAFETY: inside the scratch area, mapped writable below.
            unsafe { write_volatile(ptr, k as u32) };
            written += 1;
        } else {
            // SAFETY: as above.
            unsafe { read_volatile(ptr) };
        }
    }
    written
}

fn umain(_args: &[&str]) {
    let perm = PTE_RW;
    for i in 0..NPAGES {
        if let Err(e) = sys_page_alloc(0, SCRATCH + i * PGSIZE, perm) {
            panic!("sys_page_alloc: {e}");
        }
    }
    cprintf!("wss: {} pages at {:08x}\n", NPAGES, SCRATCH);
    let mut ok = true;
    for (n, p) in PHASES.iter().enumerate() {
        match wss_reset(SCRATCH, LEN) {
            Ok(cleared) if cleared as usize == NPAGES => {}
            Ok(cleared) => panic!("wss_reset cleared {cleared} pages, expected {NPAGES}"),
            Err(e) => panic!("wss_reset: {e}"),
        }
        cprintf!("wss: phase {}: {}\n", n, p.what);
        let written = run(p);
        let ws = match wss_count(SCRATCH, LEN) {
            Ok(ws) => ws,
            Err(e) => panic!("wss_count: {e}"),
        };
        cprintf!(
            "wss: phase {} touched {} pages: accessed {} dirty {}\n",
            n,
            p.pages,
            ws.accessed,
            ws.dirty
        );
        if ws.mapped != NPAGES || ws.accessed != p.pages || ws.dirty != written {
            cprintf!(
                "wss: phase {} MISMATCH: expected {} mapped, {} accessed, {} dirty\n",
                n,
                NPAGES,
                p.pages,
                written
            );
            ok = false;
        }
    }
    // All of user space at once: the kernel skips the page tables that are
    // not there, and clears exactly the pages that are mapped.
    match (wss_reset(0, UTOP), wss_count(0, UTOP)) {
        (Ok(cleared), Ok(ws)) if cleared as usize == ws.mapped => {
            cprintf!(
                "wss: all of user space: {} pages cleared, as many as mapped\n",
                cleared
            );
        }
        (r, c) => {
            cprintf!(
                "wss: all of user space: MISMATCH: cleared {:?}, mapped {:?}\n",
                r.ok(),
                c.ok().map(|ws| ws.mapped)
            );
            ok = false;
        }
    }
    if ok {
        cprintf!("wss: OK\n");
    }
}
