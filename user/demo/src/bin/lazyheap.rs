//! lazyheap: the lazy heap (`sbrk`), `malloc` and friends, and Rust's
//! `alloc` crate on top of them.
//!
//! 1. `sbrk` semantics: `sbrk(0)` is the break, `sbrk(1)` then `sbrk(100)`
//!    return the previous breaks to the byte; growing past the limit or
//!    into the stack's region fails and leaves the break alone; a negative
//!    `sbrk` shrinks.
//! 2. First touch: pages appear only when used (the zero page on a read, a
//!    private page on a write) and go away when the heap shrinks.
//! 3. `malloc`/`free`/`realloc` stress: thousands of random-sized blocks
//!    (a fixed-seed PRNG), each filled with its own pattern, freed in
//!    random order, every pattern checked (a checksum of what was written
//!    must equal that of what was read back), and the allocator's own
//!    consistency check run along the way; at the end every block has
//!    merged back into one free block.
//! 4. `realloc` keeps contents; `posix_memalign` aligns.
//! 5. Vec, String, Box and an over-aligned Box through the global allocator.
//! 6. A direct `sbrk` between `malloc`s: the allocator leaves those bytes
//!    alone (its next growth starts a second heap above them) and stays
//!    consistent.
//!
//! Each step prints what it showed; the last line is `lazyheap: OK`, or
//! lines with `FAILED` say what went wrong.
#![no_std]
#![no_main]

extern crate alloc;

use abi::error::Error;
use abi::memlayout::USTACKTOP;
use abi::mmu::{PGSIZE, PteFlags, round_up};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::ptr::{null_mut, read_volatile, write_volatile};
use jos::cprintf;
use jos::rand::Rng;
use jos::uvpt::pte_of;
use jos::vm::heap::{HEAP_CEILING, heap_limit, heap_start, sbrk, set_heap_limit};
use jos::vm::malloc::{free, heap_check, malloc, posix_memalign, realloc};
use jos::vm::zero::is_zero_page;

jos::main!(umain);

/// Prints `lazyheap: FAILED: <what>` unless `ok`; returns 1 if it failed.
fn check(ok: bool, what: &str) -> u32 {
    if !ok {
        cprintf!("lazyheap: FAILED: {}\n", what);
    }
    u32::from(!ok)
}

/// Returns the break, which `sbrk(0)` never fails to give.
fn brk() -> usize {
    sbrk(0).unwrap_or_else(|e| panic!("sbrk(0): {e}"))
}

/// Reads the byte at `va`.
fn peek(va: usize) -> u8 {
    // SAFETY: `va` is in the heap (below the break), mapped on first touch.
    unsafe { read_volatile(va as *const u8) }
}

/// Writes the byte at `va`.
fn poke(va: usize, b: u8) {
    // SAFETY: as in peek.
    unsafe { write_volatile(va as *mut u8, b) }
}

/// Step 1: sbrk semantics. Returns the number of failed checks.
fn sbrk_semantics() -> u32 {
    let mut fails = 0;
    let b0 = brk();
    let r1 = sbrk(1).unwrap_or_else(|e| panic!("sbrk(1): {e}"));
    let r2 = sbrk(100).unwrap_or_else(|e| panic!("sbrk(100): {e}"));
    let b1 = brk();
    cprintf!(
        "lazyheap: heap at {:08x}: sbrk(0) = {:08x}, sbrk(1) = {:08x}, sbrk(100) = {:08x}, sbrk(0) = {:08x}\n",
        heap_start(),
        b0,
        r1,
        r2,
        b1
    );
    fails += check(
        b0 == heap_start() && r1 == b0 && r2 == b0 + 1 && b1 == b0 + 101,
        "sbrk(1) then sbrk(100) do not return the previous breaks",
    );

    // Too much: past the limit, into the stack's region, below the start.
    let huge = 0x4000_0000;
    let r = sbrk(huge);
    cprintf!(
        "lazyheap: sbrk({}) past the limit {:08x}: {}, break {}\n",
        huge,
        heap_limit(),
        r.err().map_or("no error", Error::as_str),
        if brk() == b1 { "unchanged" } else { "CHANGED" }
    );
    fails += check(r == Err(Error::NoMem) && brk() == b1, "sbrk past the limit");
    fails += check(sbrk(isize::MAX).is_err() && brk() == b1, "sbrk(isize::MAX)");
    let to_stack = (USTACKTOP - PGSIZE - b1) as isize;
    fails += check(
        sbrk(to_stack).is_err() && brk() == b1,
        "sbrk into the stack",
    );
    let r = set_heap_limit(USTACKTOP - PGSIZE);
    cprintf!(
        "lazyheap: heap limit into the stack region (above {:08x}): {}\n",
        HEAP_CEILING,
        r.err().map_or("no error", Error::as_str)
    );
    fails += check(r == Err(Error::Inval), "a heap limit in the stack's region");
    let below = -((b1 - heap_start() + 1) as isize);
    fails += check(
        sbrk(below) == Err(Error::Inval) && brk() == b1,
        "sbrk below the heap's start",
    );

    // Shrink back.
    let r3 = sbrk(-101).unwrap_or_else(|e| panic!("sbrk(-101): {e}"));
    cprintf!(
        "lazyheap: sbrk(-101) = {:08x}, sbrk(0) = {:08x}\n",
        r3,
        brk()
    );
    fails += check(r3 == b1 && brk() == b0, "sbrk(-101)");
    fails
}

/// Step 2: pages appear on first touch. Returns the number of failed checks.
fn first_touch() -> u32 {
    let mut fails = 0;
    let b0 = brk();
    let base = round_up(b0, PGSIZE).expect("break below 4 GiB");
    let grow = base - b0 + 3 * PGSIZE + 10;
    sbrk(grow as isize).unwrap_or_else(|e| panic!("sbrk: {e}"));
    let pages = [base, base + PGSIZE, base + 2 * PGSIZE, base + 3 * PGSIZE];
    let before = pages.iter().filter(|&&p| pte_of(p).is_some()).count();

    let r = peek(pages[0] + 123);
    let after_read = pte_of(pages[0]);
    poke(pages[1] + 7, 0xab);
    let after_write = pte_of(pages[1]);
    poke(pages[0] + 5, 0xcd);
    let after_both = pte_of(pages[0]);
    poke(pages[3] + 9, 0xef); // the last page, only partly in the heap
    cprintf!(
        "lazyheap: before touching: {} of 4 pages mapped; read: {}; write: {}\n",
        before,
        if after_read.is_some_and(is_zero_page) {
            "zero page"
        } else {
            "NOT the zero page"
        },
        if after_write.is_some_and(|p| p.flags().contains(PteFlags::W) && !is_zero_page(p)) {
            "private page"
        } else {
            "NOT a private page"
        }
    );
    fails += check(before == 0, "pages mapped before being touched");
    fails += check(
        r == 0 && after_read.is_some_and(is_zero_page),
        "a read maps the zero page",
    );
    fails += check(
        after_write.is_some_and(|p| p.flags().contains(PteFlags::W) && !is_zero_page(p)),
        "a write maps a private page",
    );
    fails += check(
        after_both.is_some_and(|p| p.flags().contains(PteFlags::W) && !is_zero_page(p))
            && peek(pages[0] + 5) == 0xcd
            && peek(pages[0] + 123) == 0,
        "a write after a read replaces the zero page",
    );
    fails += check(pte_of(pages[2]).is_none(), "an untouched page got mapped");
    fails += check(
        peek(pages[1] + 7) == 0xab && peek(pages[3] + 9) == 0xef,
        "data",
    );

    // Shrink by two pages and a bit: pages 2 and 3 go, page 1 stays.
    let r = sbrk(-(2 * PGSIZE as isize + 5)).unwrap_or_else(|e| panic!("sbrk: {e}"));
    let left: [bool; 4] = core::array::from_fn(|i| pte_of(pages[i]).is_some());
    fails += check(r == b0 + grow, "shrinking returns the old break");
    fails += check(
        left == [true, true, false, false],
        "shrinking unmaps exactly the pages above the break",
    );
    sbrk(-((grow - 2 * PGSIZE - 5) as isize)).unwrap_or_else(|e| panic!("sbrk: {e}"));
    let gone = pages.iter().all(|&p| pte_of(p).is_none());
    cprintf!(
        "lazyheap: shrank back to {:08x}: pages unmapped {}\n",
        brk(),
        if gone { "yes" } else { "NO" }
    );
    fails += check(gone && brk() == b0, "shrinking back");
    fails
}

/// A block size: mostly small, some pages, a few large.
fn block_size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..75 => 1 + rng.below(256) as usize,
        75..95 => 257 + rng.below(4096) as usize,
        _ => 4097 + rng.below(32 << 10) as usize,
    }
}

/// One live block in the stress test.
#[derive(Clone, Copy)]
struct Slot {
    ptr: *mut u8,
    len: usize,
    seed: u8,
}

const EMPTY: Slot = Slot {
    ptr: null_mut(),
    len: 0,
    seed: 0,
};

/// Live blocks at most.
const SLOTS: usize = 256;
/// Operations in the stress test.
const OPS: usize = 6000;

/// The stress test's blocks (kept off the one-page stack).
static mut STRESS: [Slot; SLOTS] = [EMPTY; SLOTS];

/// The pattern byte `k` of a block with `seed`.
fn pattern(seed: u8, k: usize) -> u8 {
    seed.wrapping_add((k as u8).wrapping_mul(31)) ^ (k >> 8) as u8
}

/// Fills `s`'s block with its pattern; returns its checksum.
fn fill(s: &Slot) -> u32 {
    let mut sum = 0u32;
    for k in 0..s.len {
        let b = pattern(s.seed, k);
        // SAFETY: the block holds s.len bytes, and only this slot uses it.
        unsafe { s.ptr.add(k).write(b) };
        sum = sum.wrapping_mul(33).wrapping_add(u32::from(b));
    }
    sum.wrapping_add(s.len as u32)
}

/// Checksums the first `len` bytes of `s`'s block; also returns whether
/// they hold its pattern.
fn verify(s: &Slot, len: usize) -> (u32, bool) {
    let (mut sum, mut ok) = (0u32, true);
    for k in 0..len {
        // SAFETY: as in fill.
        let b = unsafe { s.ptr.add(k).read() };
        ok &= b == pattern(s.seed, k);
        sum = sum.wrapping_mul(33).wrapping_add(u32::from(b));
    }
    (sum.wrapping_add(len as u32), ok)
}

/// Step 3: malloc/free/realloc stress. Returns the number of failed checks.
fn stress() -> u32 {
    let mut fails = 0;
    let table = &raw mut STRESS;
    // SAFETY: the only reference to STRESS, for this function.
    let slots = unsafe { &mut *table };
    let mut rng = Rng::new(0x2545_f491);
    let (mut written, mut read, mut bytes) = (0u32, 0u32, 0usize);
    let (mut mallocs, mut frees, mut reallocs) = (0, 0, 0);
    let mut patterns_ok = true;
    let mut aligned = true;
    let mut consistent = true;
    for op in 0..OPS {
        let s = &mut slots[rng.below(SLOTS as u32) as usize];
        if s.ptr.is_null() {
            let len = block_size(&mut rng);
            let p = malloc(len);
            if p.is_null() {
                panic!("malloc({len}) failed");
            }
            aligned &= (p as usize).is_multiple_of(8);
            *s = Slot {
                ptr: p,
                len,
                seed: rng.next_u32() as u8,
            };
            written = written.wrapping_add(fill(s));
            mallocs += 1;
        } else {
            let (sum, ok) = verify(s, s.len);
            read = read.wrapping_add(sum);
            patterns_ok &= ok;
            bytes += s.len;
            if rng.below(4) == 0 {
                // realloc: the prefix survives; then refill all of it.
                let len = block_size(&mut rng);
                let keep = len.min(s.len);
                // SAFETY: s.ptr is a live block; we use only the result.
                let p = unsafe { realloc(s.ptr, len) };
                if p.is_null() {
                    panic!("realloc({len}) failed");
                }
                let moved = Slot { ptr: p, ..*s };
                patterns_ok &= verify(&moved, keep).1;
                *s = Slot {
                    ptr: p,
                    len,
                    seed: rng.next_u32() as u8,
                };
                written = written.wrapping_add(fill(s));
                reallocs += 1;
            } else {
                // SAFETY: s.ptr is a live block, forgotten right after.
                unsafe { free(s.ptr) };
                *s = EMPTY;
                frees += 1;
            }
        }
        if op % 500 == 0 {
            consistent &= heap_check().is_ok();
        }
    }
    let peak = heap_check();
    // Free what is left, in slot order (random with respect to allocation).
    for s in slots.iter_mut().filter(|s| !s.ptr.is_null()) {
        let (sum, ok) = verify(s, s.len);
        read = read.wrapping_add(sum);
        patterns_ok &= ok;
        bytes += s.len;
        // SAFETY: s.ptr is a live block, forgotten right after.
        unsafe { free(s.ptr) };
        *s = EMPTY;
        frees += 1;
    }
    let end = heap_check();
    cprintf!(
        "lazyheap: malloc stress: {} mallocs, {} reallocs, {} frees, {} bytes checked\n",
        mallocs,
        reallocs,
        frees,
        bytes
    );
    cprintf!(
        "lazyheap: checksum written {:08x}, read back {:08x}: {}\n",
        written,
        read,
        if written == read && patterns_ok {
            "match"
        } else {
            "MISMATCH"
        }
    );
    if let (Ok(p), Ok(e)) = (peak, end) {
        cprintf!(
            "lazyheap: heap at the end of the loop: {} blocks in use, {} free; after freeing all: {} in use, {} free block of {} bytes\n",
            p.used_blocks,
            p.free_blocks,
            e.used_blocks,
            e.free_blocks,
            e.free_bytes
        );
        fails += check(
            e.used_blocks == 0 && e.free_blocks == 1,
            "freed blocks did not coalesce",
        );
    }
    fails += check(written == read && patterns_ok, "block contents");
    fails += check(aligned, "malloc alignment");
    fails += check(consistent && peak.is_ok() && end.is_ok(), "heap_check");
    if let Err(e) = end {
        cprintf!("lazyheap: heap_check: {}\n", e);
    }
    fails
}

/// Step 4: realloc and posix_memalign. Returns the number of failed checks.
fn realloc_memalign() -> u32 {
    let mut fails = 0;
    let p = malloc(10);
    fails += check(!p.is_null(), "malloc(10)");
    for k in 0..10 {
        // SAFETY: p holds 10 bytes.
        unsafe { p.add(k).write(k as u8 + 1) };
    }
    // SAFETY: p is live; only the result is used after.
    let q = unsafe { realloc(p, 5000) };
    // SAFETY: q holds 5000 bytes.
    let kept = !q.is_null() && (0..10).all(|k| unsafe { q.add(k).read() } == k as u8 + 1);
    // SAFETY: as above.
    let r = unsafe { realloc(q, 3) };
    // SAFETY: r holds 3 bytes.
    let kept_small = !r.is_null() && (0..3).all(|k| unsafe { r.add(k).read() } == k as u8 + 1);
    // SAFETY: r is live; realloc(p, 0) frees it.
    let z = unsafe { realloc(r, 0) };
    // SAFETY: realloc(null, n) is malloc(n).
    let n = unsafe { realloc(null_mut(), 20) };
    cprintf!(
        "lazyheap: realloc 10 -> 5000 -> 3 bytes keeps the contents: {}\n",
        if kept && kept_small { "yes" } else { "NO" }
    );
    fails += check(kept && kept_small && z.is_null() && !n.is_null(), "realloc");
    // SAFETY: n is live.
    unsafe { free(n) };

    let mut all_aligned = true;
    for shift in [4, 6, 8, 12, 16] {
        let align = 1usize << shift;
        let mut p = null_mut();
        match posix_memalign(&mut p, align, 100 + shift) {
            Ok(()) => {
                all_aligned &= (p as usize).is_multiple_of(align);
                // SAFETY: p holds 100 + shift bytes.
                unsafe { p.write_bytes(0x77, 100 + shift) };
                // SAFETY: p is live, forgotten right after.
                unsafe { free(p) };
            }
            Err(e) => panic!("posix_memalign({align}): {e}"),
        }
    }
    let mut p = null_mut();
    let bad = posix_memalign(&mut p, 24, 10);
    cprintf!(
        "lazyheap: posix_memalign to 16, 64, 256, 4096, 65536: aligned {}; alignment 24: {}\n",
        if all_aligned { "yes" } else { "NO" },
        bad.err().map_or("no error", Error::as_str)
    );
    fails += check(all_aligned, "posix_memalign alignment");
    fails += check(
        bad == Err(Error::Inval) && p.is_null(),
        "posix_memalign(24)",
    );
    fails
}

/// A type more aligned than malloc's 8 bytes.
#[repr(C, align(256))]
struct Aligned([u8; 300]);

/// Step 5: the alloc crate. Returns the number of failed checks.
fn collections() -> u32 {
    let mut fails = 0;
    let mut v: Vec<u32> = Vec::new();
    for i in 0..20_000u32 {
        v.push(i.wrapping_mul(i));
    }
    let sum = v.iter().fold(0u32, |a, &x| a.wrapping_add(x));
    let expect = (0..20_000u32).fold(0u32, |a, i| a.wrapping_add(i.wrapping_mul(i)));
    let mut s = String::new();
    for i in 0..200 {
        let _ = write!(s, "{i},");
    }
    s.push_str("end");
    let b = Box::new(0x1234_5678u64);
    let big = alloc::vec![7u8; 100_000].into_boxed_slice();
    let a = Box::new(Aligned([1; 300]));
    let a_ok = (&raw const *a as usize).is_multiple_of(256) && a.0.iter().all(|&x| x == 1);
    cprintf!(
        "lazyheap: Vec of {} u32s sums to {:08x}, String of {} bytes ends {}, Box {:x}, boxed slice of {} bytes, Box aligned to 256: {}\n",
        v.len(),
        sum,
        s.len(),
        &s[s.len() - 8..],
        *b,
        big.len(),
        if a_ok { "yes" } else { "NO" }
    );
    fails += check(sum == expect && v.len() == 20_000, "Vec");
    fails += check(
        s.starts_with("0,1,2,") && s.ends_with("199,end") && s.len() == 693,
        "String",
    );
    fails += check(*b == 0x1234_5678 && big.iter().all(|&x| x == 7), "Box");
    fails += check(a_ok, "an over-aligned Box");
    drop((v, s, b, big, a));
    let st = heap_check();
    fails += check(
        st.is_ok_and(|st| st.used_blocks == 0),
        "leaked blocks after the drops",
    );
    fails
}

/// Step 6: someone else moves the break while malloc uses the heap.
/// Returns the number of failed checks.
fn foreign_sbrk() -> u32 {
    let mut fails = 0;
    let p = malloc(100);
    let b = brk();
    let mine = sbrk(5).unwrap_or_else(|e| panic!("sbrk(5): {e}"));
    for k in 0..5 {
        poke(mine + k, 0xee);
    }
    // Bigger than any free block: the heap must grow past our 5 bytes.
    let q = malloc(2 << 20);
    let q_ok = !q.is_null() && q as usize > mine;
    if q_ok {
        // SAFETY: q holds 2 MiB.
        unsafe { q.write_bytes(0x11, 2 << 20) };
    }
    // SAFETY: p and q are live, forgotten right after.
    unsafe {
        free(p);
        free(q);
    }
    let st = heap_check();
    let untouched = (0..5).all(|k| peek(mine + k) == 0xee);
    cprintf!(
        "lazyheap: sbrk(5) = {:08x} between mallocs: the heap grew past it, bytes untouched {}, heap {}\n",
        mine,
        if untouched { "yes" } else { "NO" },
        if st.is_ok() { "consistent" } else { "DAMAGED" }
    );
    fails += check(
        mine == b && q_ok && untouched,
        "a direct sbrk between mallocs",
    );
    fails += check(
        st.is_ok_and(|st| st.used_blocks == 0 && st.heaps == 2),
        "a second heap above a direct sbrk",
    );
    fails
}

fn umain(_args: &[&str]) {
    // This program relies on the library's guards (the stack grows on
    // demand, null pointers are reported): it asks for them.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("enable_default_guards: {e}");
    }
    let fails = sbrk_semantics()
        + first_touch()
        + stress()
        + realloc_memalign()
        + collections()
        + foreign_sbrk();
    if fails == 0 {
        cprintf!("lazyheap: OK\n");
    } else {
        cprintf!("lazyheap: {} checks FAILED\n", fails);
    }
}
