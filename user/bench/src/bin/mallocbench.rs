//! mallocbench: times a malloc/free/realloc workload with rdtsc.
//!
//! The workload: 512 slots, 20000 operations from a fixed-seed PRNG; an
//! empty slot gets `malloc` of a random size (75% 1-256 bytes, 20% up to
//! 4 KiB, 5% up to 32 KiB), a full one is freed (3 in 4) or `realloc`ed
//! to a new random size. Each block's first and last byte are written, so
//! its pages are really used. It runs twice: "cold" (the heap grows and
//! its pages are mapped as it goes: system calls included) and "warm"
//! (the same workload again on the grown heap: the allocator alone).
//!
//! Prints `mallocbench: <run>: <ops> ops, <cycles> cycles, <n> cycles/op`.
//! The figures are TSC cycles under QEMU's TCG: compare them with each
//! other, not with real hardware.
#![no_std]
#![no_main]

use core::ptr::null_mut;
use jos::cprintf;
use jos::rand::Rng;
use jos::vm::malloc::{free, heap_check, malloc, realloc};
use user::spin::rdtsc;

jos::main!(umain);

const SLOTS: usize = 512;
const OPS: usize = 20_000;

/// A random block size.
fn size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..75 => 1 + rng.below(256) as usize,
        75..95 => 257 + rng.below(4096) as usize,
        _ => 4097 + rng.below(28 << 10) as usize,
    }
}

/// Writes the first and last byte of the `len`-byte block at `p`.
fn touch(p: *mut u8, len: usize) {
    if p.is_null() {
        panic!("mallocbench: out of memory");
    }
    // SAFETY: p is a live block of len (> 0) bytes.
    unsafe {
        p.write_volatile(1);
        p.add(len - 1).write_volatile(2);
    }
}

/// Runs the workload once; returns its cycles. Frees everything at the end.
fn run(slots: &mut [(*mut u8, usize); SLOTS]) -> u64 {
    let mut rng = Rng::new(0x1234_5678);
    let t0 = rdtsc();
    for _ in 0..OPS {
        let s = &mut slots[rng.below(SLOTS as u32) as usize];
        if s.0.is_null() {
            let n = size(&mut rng);
            let p = malloc(n);
            touch(p, n);
            *s = (p, n);
        } else if rng.below(4) == 0 {
            let n = size(&mut rng);
            // SAFETY: s.0 is live; only the result is used after.
            let p = unsafe { realloc(s.0, n) };
            touch(p, n);
            *s = (p, n);
        } else {
            // SAFETY: s.0 is live, forgotten right after.
            unsafe { free(s.0) };
            *s = (null_mut(), 0);
        }
    }
    for s in slots.iter_mut().filter(|s| !s.0.is_null()) {
        // SAFETY: s.0 is live, forgotten right after.
        unsafe { free(s.0) };
        *s = (null_mut(), 0);
    }
    rdtsc() - t0
}

/// The slots, off the one-page stack.
static mut SLOTS_TABLE: [(*mut u8, usize); SLOTS] = [(null_mut(), 0); SLOTS];

fn umain(_args: &[&str]) {
    let table = &raw mut SLOTS_TABLE;
    // SAFETY: the only reference to SLOTS_TABLE.
    let slots = unsafe { &mut *table };
    for what in ["cold", "warm"] {
        let cycles = run(slots);
        cprintf!(
            "mallocbench: {}: {} ops, {} cycles, {} cycles/op\n",
            what,
            OPS,
            cycles,
            cycles / OPS as u64
        );
    }
    match heap_check() {
        Ok(st) => cprintf!(
            "mallocbench: heap after: {} in use, {} free blocks of {} bytes\n",
            st.used_blocks,
            st.free_blocks,
            st.free_bytes
        ),
        Err(e) => cprintf!("mallocbench: heap_check FAILED: {}\n", e),
    }
}
