// make: FS=1
//! maps: prints its own address space, like Linux's /proc/self/maps
//! (`jos::vm::maps`), then grows it three ways and prints it again:
//!
//! 1. at start: the program's text, rodata, data and bss, its stack page;
//! 2. after `malloc` of 3 pages (written, so present), a call that needs
//!    3 more stack pages (stack growth on), and a watch on a variable: the
//!    map now also has the heap, the stack's growth zone with its new
//!    pages, the null guard, the watched page and the exception stack.
//!
//! The last line is `maps: OK`.
#![no_std]
#![no_main]

use abi::mmu::PGSIZE;
use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};
use jos::cprintf;
use jos::vm::malloc::malloc;
use jos::vm::maps::maps;
use jos::vm::watch::{unwatch, watch};

jos::main!(umain);

/// A variable on a page of its own, to watch.
#[repr(align(4096))]
struct Watched(AtomicU32);

static WATCHED: Watched = Watched(AtomicU32::new(1));

/// Uses a frame of 3 pages, which the stack must grow to hold; returns
/// a byte of it.
#[inline(never)]
fn deep() -> u8 {
    let mut frame = [0u8; 3 * PGSIZE];
    for (i, b) in frame.iter_mut().enumerate().step_by(512) {
        *b = i as u8 | 1;
    }
    black_box(&mut frame)[PGSIZE]
}

fn umain(_args: &[&str]) {
    cprintf!("maps: at start\n");
    maps();

    jos::vm::enable_default_guards().expect("guards");
    let p = malloc(3 * PGSIZE);
    assert!(!p.is_null(), "malloc");
    // SAFETY: malloc returned 3 pages' worth of bytes at p.
    unsafe { core::ptr::write_bytes(p, 0x5a, 3 * PGSIZE) };
    let b = deep();
    let id = watch(WATCHED.0.as_ptr() as usize, 4).expect("watch");
    WATCHED.0.store(2, Ordering::SeqCst);

    cprintf!("maps: after malloc, stack growth and a watch\n");
    maps();

    unwatch(id).expect("unwatch");
    cprintf!("maps: OK ({})\n", b);
}
