//! exhaust: every library call that allocates returns its error when
//! memory runs out (never panics, never leaves half-made state), sizes
//! near 4 GiB are refused, and `map_zero` refuses the ranges it must.
//!
//! 1. Overflows: `malloc`, `calloc`, `realloc`, `posix_memalign`,
//!    `Vec::try_reserve` and `sbrk` with sizes near 4 GiB return null or
//!    an error.
//! 2. Out of memory before any fault handler exists: the program takes
//!    every free page (`sys_page_alloc` until -E_NO_MEM, kept in a hoard),
//!    then `fork`, `sfork`, `set_pgfault_handler`, `add_region`, `sbrk`,
//!    `malloc`, `map_zero` and stack growth each fail with out of memory
//!    (they would install the upcall and its exception stack first).
//! 3. The hoard is freed and the heap set up; then out of memory again,
//!    with the upcall installed: `malloc` until it returns null (the heap
//!    stays consistent), big `malloc`, `calloc`, `realloc` (the block is
//!    kept), `posix_memalign`, `Vec::try_reserve`, `fork`, `sfork`,
//!    `map_zero`, and `watch` on a copy-on-write page each fail cleanly.
//! 4. `map_zero` refuses page 0, the null guard, the exception stack page,
//!    UTOP and a wrapping range.
//! 5. The hoard is freed: `fork` and a big `malloc` work again.
//!
//! One line `exhaust: <call> OK` per check, `exhaust: FAILED: ...` if one
//! is wrong; the last line is `exhaust: OK`.
#![no_std]
#![no_main]

extern crate alloc;

use abi::error::Error;
use abi::memlayout::{UTOP, UXSTACKTOP};
use abi::mmu::{PGSIZE, PTE_RW, PTSIZE};
use abi::trap::UTrapframe;
use alloc::vec::Vec;
use core::ptr::{null_mut, read_volatile, write_volatile};
use core::sync::atomic::{AtomicUsize, Ordering};
use jos::cprintf;
use jos::pgfault::{Fault, add_region};
use jos::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap};
use jos::vm::heap::sbrk;
use jos::vm::malloc::{calloc, free, heap_check, malloc, posix_memalign, realloc};
use jos::vm::stack::enable_stack_growth;
use jos::vm::watch::watch;
use jos::vm::zero::map_zero;

jos::main!(umain);

/// Where the hoard of pages lives: far above any heap, below the stack.
const HOARD: usize = 0xA000_0000;
/// The most pages the hoard may hold (128 MiB, more than QEMU's memory).
const HOARD_MAX: usize = 0x0800_0000 / PGSIZE;

/// Where `map_zero` is tried under exhaustion: a fresh 4 MiB region, so a
/// page table is needed.
const ZERO_VA: usize = 0xB000_0000;

/// Failed checks so far.
static mut FAILS: u32 = 0;

/// Prints `exhaust: <what> OK`, or `exhaust: FAILED: <what>` and counts it.
fn check(ok: bool, what: &str) {
    if ok {
        cprintf!("exhaust: {} OK\n", what);
    } else {
        cprintf!("exhaust: FAILED: {}\n", what);
        // SAFETY: single-threaded; no reference to FAILS is kept.
        unsafe { FAILS += 1 };
    }
}

/// Takes every free page into the hoard; returns how many.
fn hoard() -> usize {
    let mut n = 0;
    while n < HOARD_MAX {
        match sys_page_alloc(0, HOARD + n * PGSIZE, PTE_RW) {
            Ok(()) => n += 1,
            Err(Error::NoMem) => break,
            Err(e) => panic!("hoarding page {n}: {e}"),
        }
    }
    // sys_page_alloc leaves the file server's reserve (the kernel's last
    // free pages); page tables come from it too: take it by mapping one
    // hoarded page once in each of fresh 4 MiB regions, each needing a
    // page table, until none is left.
    // Regions an earlier hoard used have their tables already: go on above.
    let first = TABLES_NEXT.load(Ordering::Relaxed);
    let mut t = 0;
    while n > 0 && first + t < TABLES_MAX {
        match sys_page_map(0, HOARD, 0, TABLES + (first + t) * PTSIZE, PTE_RW) {
            Ok(()) => t += 1,
            Err(Error::NoMem) => break,
            Err(e) => panic!("taking page table {t}: {e}"),
        }
    }
    TABLES_TAKEN.store(t, Ordering::Relaxed);
    TABLES_NEXT.store(first + t, Ordering::Relaxed);
    n
}

/// Where `hoard` maps a page once per page table it takes, and how many
/// at most (the page tables stay ours: JOS never frees them).
const TABLES: usize = 0xB400_0000;
const TABLES_MAX: usize = 100;
static TABLES_TAKEN: AtomicUsize = AtomicUsize::new(0);
static TABLES_NEXT: AtomicUsize = AtomicUsize::new(0);

/// Gives the hoard's `n` pages back.
fn unhoard(n: usize) {
    let taken = TABLES_TAKEN.swap(0, Ordering::Relaxed);
    let first = TABLES_NEXT.load(Ordering::Relaxed) - taken;
    for t in first..first + taken {
        if let Err(e) = sys_page_unmap(0, TABLES + t * PTSIZE) {
            panic!("unmapping page table {t}'s page: {e}");
        }
    }
    for i in 0..n {
        if let Err(e) = sys_page_unmap(0, HOARD + i * PGSIZE) {
            panic!("unhoarding page {i}: {e}");
        }
    }
}

/// A handler that should never run.
fn never(_utf: &mut UTrapframe) {
    panic!("a handler that was never set ran");
}

/// A region handler that should never run.
fn never_region(_utf: &mut UTrapframe) -> Fault {
    panic!("a region that was never added ran");
}

/// Step 1: sizes near 4 GiB.
fn overflows() {
    let huge = [
        0xFFFF_FFF0usize,
        usize::MAX,
        usize::MAX - PGSIZE + 1,
        0x8000_0000,
    ];
    check(
        huge.iter().all(|&n| malloc(n).is_null()),
        "malloc(~4 GiB) null",
    );
    check(
        calloc(0x10000, 0x10001).is_null() && calloc(usize::MAX, 2).is_null(),
        "calloc overflow null",
    );
    let p = malloc(32);
    // SAFETY: p is a live block of 32 bytes (checked not null first).
    let kept = !p.is_null()
        && unsafe {
            p.write_bytes(0x77, 32);
            let q = realloc(p, 0xFFFF_FFF0);
            let intact = (0..32).all(|i| p.add(i).read() == 0x77);
            free(p);
            q.is_null() && intact
        };
    check(kept, "realloc(p, ~4 GiB) null, p kept");
    let mut m = null_mut();
    check(
        posix_memalign(&mut m, 4096, 0xFFFF_F000) == Err(Error::NoMem)
            && posix_memalign(&mut m, 0x8000_0000, 0x8000_0000) == Err(Error::NoMem)
            && m.is_null(),
        "posix_memalign(~4 GiB) NoMem",
    );
    let mut v: Vec<u8> = Vec::new();
    check(
        v.try_reserve(0x7FFF_FF00).is_err() && v.try_reserve(usize::MAX).is_err(),
        "Vec::try_reserve(~2 GiB) Err",
    );
    let b = sbrk(0);
    check(
        sbrk(isize::MAX) == Err(Error::NoMem)
            && sbrk(isize::MIN) == Err(Error::Inval)
            && sbrk(-0x1000_0000) == Err(Error::Inval)
            && sbrk(0) == b,
        "sbrk(huge / very negative) refused, break unchanged",
    );
    check(heap_check().is_ok(), "heap consistent after overflows");
}

/// Step 2: out of memory with no upcall yet.
fn exhausted_no_upcall() {
    let n = hoard();
    cprintf!("exhaust: hoarded {} pages, no upcall yet\n", n);
    check(jos::fork() == Err(Error::NoMem), "first fork NoMem");
    check(jos::sfork() == Err(Error::NoMem), "first sfork NoMem");
    check(
        jos::set_pgfault_handler(never) == Err(Error::NoMem),
        "set_pgfault_handler NoMem",
    );
    check(
        add_region(0x4000_0000, 0x4000_1000, "x", never_region) == Err(Error::NoMem),
        "add_region NoMem",
    );
    check(
        enable_stack_growth() == Err(Error::NoMem),
        "stack growth NoMem",
    );
    let b = sbrk(0);
    check(
        sbrk(PGSIZE as isize) == Err(Error::NoMem) && sbrk(0) == b,
        "first sbrk NoMem",
    );
    check(malloc(16).is_null(), "first malloc null");
    check(
        map_zero(ZERO_VA, PGSIZE) == Err(Error::NoMem),
        "first map_zero NoMem",
    );
    unhoard(n);
}

/// Step 3: out of memory with the upcall and the heap set up.
fn exhausted() {
    // Set up: the heap, a block to realloc, a heap page that maps the
    // zero page (read, never written) to watch.
    let p = malloc(64);
    check(!p.is_null(), "malloc with memory");
    let zp = sbrk(PGSIZE as isize).unwrap_or_else(|e| panic!("sbrk: {e}"));
    let zp = zp.next_multiple_of(PGSIZE);
    if sbrk(2 * PGSIZE as isize).is_err() {
        panic!("sbrk");
    }
    // SAFETY: zp is in the heap (below the break): a read maps the zero
    // page.
    let _ = unsafe { read_volatile(zp as *const u32) };
    // SAFETY: p is a live block of 64 bytes.
    unsafe { p.write_bytes(0x33, 64) };

    let n = hoard();
    cprintf!("exhaust: hoarded {} pages, upcall installed\n", n);
    let mut small = Vec::new();
    let mut got = 0;
    loop {
        let q = malloc(48);
        if q.is_null() {
            break;
        }
        // SAFETY: q is a fresh block of 48 bytes: its pages are present.
        unsafe { q.write_bytes(0x44, 48) };
        got += 1;
        if small.try_reserve(1).is_err() {
            // SAFETY: q is live.
            unsafe { free(q) };
            break;
        }
        small.push(q);
    }
    cprintf!("exhaust: {} small mallocs before null\n", got);
    check(heap_check().is_ok(), "malloc until null, heap consistent");
    check(malloc(1 << 20).is_null(), "malloc(1 MiB) null");
    check(calloc(1000, 1000).is_null(), "calloc(1000, 1000) null");
    // SAFETY: p is live; on a null return it stays live.
    let kept = unsafe {
        let q = realloc(p, 1 << 20);
        q.is_null() && (0..64).all(|i| p.add(i).read() == 0x33)
    };
    check(kept, "realloc(p, 1 MiB) null, p kept");
    let mut m = null_mut();
    check(
        posix_memalign(&mut m, 4096, 8 * PGSIZE) == Err(Error::NoMem),
        "posix_memalign NoMem",
    );
    let mut v: Vec<u8> = Vec::new();
    check(
        v.try_reserve(1 << 20).is_err(),
        "Vec::try_reserve(1 MiB) Err",
    );
    check(jos::fork() == Err(Error::NoMem), "fork NoMem");
    check(jos::sfork() == Err(Error::NoMem), "sfork NoMem");
    check(
        map_zero(ZERO_VA, 16 * PGSIZE) == Err(Error::NoMem),
        "map_zero NoMem",
    );
    check(
        watch(zp, 4) == Err(Error::NoMem),
        "watch of a zero-page page NoMem",
    );
    check(heap_check().is_ok(), "heap consistent after the failures");
    for q in small {
        // SAFETY: every block in `small` is live.
        unsafe { free(q) };
    }
    // SAFETY: p is live.
    unsafe { free(p) };
    unhoard(n);
}

/// Step 4: ranges map_zero must refuse.
fn map_zero_refusals() {
    let cases: [(usize, usize, &str); 6] = [
        (0, PGSIZE, "page 0"),
        (PGSIZE, PGSIZE, "the null guard"),
        (0x8000, 0x10000, "a range into the null guard"),
        (UXSTACKTOP - PGSIZE, PGSIZE, "the exception stack"),
        (
            UXSTACKTOP - 2 * PGSIZE,
            2 * PGSIZE,
            "a range onto the exception stack",
        ),
        (UTOP, PGSIZE, "UTOP"),
    ];
    for (va, len, what) in cases {
        check(map_zero(va, len) == Err(Error::Inval), what);
    }
    check(
        map_zero(0xFFFF_F000, 2 * PGSIZE) == Err(Error::Inval)
            && map_zero(0x1000_0000, usize::MAX) == Err(Error::Inval),
        "a wrapping range",
    );
}

/// Step 5: with the memory back, fork and a big malloc work.
fn recovered() {
    let child = match jos::fork() {
        Ok(0) => jos::exit(),
        Ok(id) => id,
        Err(e) => {
            check(false, "fork after freeing");
            cprintf!("exhaust: fork: {}\n", e);
            return;
        }
    };
    jos::env::wait(child);
    check(true, "fork after freeing");
    let p = malloc(1 << 20);
    let ok = !p.is_null() && {
        // SAFETY: p is a live block of 1 MiB.
        unsafe {
            write_volatile(p.add((1 << 20) - 1), 9);
            let r = read_volatile(p.add((1 << 20) - 1)) == 9;
            free(p);
            r
        }
    };
    check(ok && heap_check().is_ok(), "malloc(1 MiB) after freeing");
}

fn umain(_args: &[&str]) {
    exhausted_no_upcall();
    // From here on, with memory to spare: the library's guards (stack
    // growth, null pointers), which this program asks for.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("enable_default_guards: {e}");
    }
    overflows();
    exhausted();
    map_zero_refusals();
    recovered();
    // SAFETY: single-threaded; no reference to FAILS is kept.
    let fails = unsafe { FAILS };
    if fails == 0 {
        cprintf!("exhaust: OK\n");
    } else {
        cprintf!("exhaust: {} checks FAILED\n", fails);
    }
}
