//! watchdemo: watchpoints report exactly the writes that change the
//! watched bytes, with the old and new value and the writing instruction.
//!
//! DATA below is a few u32s on one page. The program watches
//! `DATA.watched`, then writes it (reported), writes its neighbours on the
//! same page (single-stepped, not reported), writes it with the value it
//! already holds (not reported: only changes are), and writes it through an
//! instruction whose address it prints first (the report shows that ip). A
//! second watch on the same page outlives the first. Last, it watches a
//! local variable on its own stack page, which every call and push also
//! writes. It counts the reports (the library counts them in its handler)
//! and ends with `watchdemo: OK`.
#![no_std]
#![no_main]

use core::arch::global_asm;
use core::hint::black_box;
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::vm::watch::{unwatch, watch, watch_stats};

jos::main!(umain);

/// Data on one page (64 bytes, 64-byte aligned: never across a page).
#[repr(C, align(64))]
struct Data {
    before: u32,
    watched: u32,
    after: u32,
    more: [u32; 13],
}

static mut DATA: Data = Data {
    before: 0,
    watched: 0,
    after: 0,
    more: [0; 13],
};

// `watchdemo_store(p, v)`: *p = v, by the instruction at
// `watchdemo_store_insn`, so the program knows the ip to expect.
global_asm!(
    r#"
    .text
    .globl watchdemo_store
watchdemo_store:
    movl 4(%esp), %ecx
    movl 8(%esp), %eax
    .globl watchdemo_store_insn
watchdemo_store_insn:
    movl %eax, (%ecx)
    ret
"#,
    options(att_syntax)
);

unsafe extern "C" {
    /// Stores `v` at `p`.
    fn watchdemo_store(p: *mut u32, v: u32);
    /// The store instruction inside `watchdemo_store` (address only).
    fn watchdemo_store_insn();
}

/// Fails the program with `what`.
fn fail(what: &str) -> ! {
    panic!("watchdemo: {what}");
}

/// Writes `v` to `p`.
fn put(p: *mut u32, v: u32) {
    // SAFETY: `p` points into DATA or a live local; single-threaded.
    unsafe { write_volatile(p, v) };
}

/// Reads `p`.
fn get(p: *const u32) -> u32 {
    // SAFETY: as in put.
    unsafe { read_volatile(p) }
}

/// Starts a watch on the u32 at `p`; fails the program on error.
fn watch_u32(p: *mut u32) -> usize {
    match watch(p as usize, 4) {
        Ok(id) => id,
        Err(e) => panic!("watch({:08x}): {e}", p as usize),
    }
}

/// Stops watch `id`, checking it reported `expected` writes.
fn unwatch_expect(id: usize, expected: u32, what: &str) {
    match unwatch(id) {
        Ok(n) if n == expected => {
            cprintf!("watchdemo: unwatched {} after {} reports\n", what, n)
        }
        Ok(n) => panic!("watchdemo: {what} reported {n} writes, expected {expected}"),
        Err(e) => panic!("unwatch: {e}"),
    }
}

/// Watches a local variable: its page is the stack page, which every call
/// writes too; only the writes to the variable are reported.
#[inline(never)]
fn watch_local() {
    let mut x: u32 = 7;
    let px = black_box(&raw mut x);
    let id = watch_u32(px);
    cprintf!(
        "watchdemo: watching a stack variable at {:08x}\n",
        px as usize
    );
    put(px, 42);
    cprintf!("watchdemo: the stack variable is now {}\n", get(px));
    unwatch_expect(id, 1, "the stack variable");
}

fn umain(_args: &[&str]) {
    // This program relies on the library's guards (the stack grows on
    // demand, null pointers are reported): it asks for them.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("enable_default_guards: {e}");
    }
    let data = &raw mut DATA;
    // SAFETY: pointers to fields of DATA (no references are made); index 2
    // of the 13-element array.
    let (watched, before, after, more, more2) = unsafe {
        let more = (&raw mut (*data).more).cast::<u32>();
        (
            &raw mut (*data).watched,
            &raw mut (*data).before,
            &raw mut (*data).after,
            more,
            more.add(2),
        )
    };

    let id = watch_u32(watched);
    cprintf!(
        "watchdemo: watching {:08x}; neighbours at {:08x} and {:08x} on the same page\n",
        watched as usize,
        before as usize,
        after as usize
    );
    put(watched, 1);
    put(before, 5);
    put(after, 6);
    put(watched, 2);
    put(watched, 2); // the same value: not a change, not reported
    let insn = watchdemo_store_insn as *const () as usize;
    cprintf!("watchdemo: next write by the instruction at {:08x}\n", insn);
    // SAFETY: `watched` and `after` point into DATA.
    unsafe {
        watchdemo_store(watched, 3);
        watchdemo_store(after, 9);
    }

    let id2 = watch_u32(more2);
    cprintf!("watchdemo: also watching {:08x}\n", more2 as usize);
    put(more2, 0x77);
    put(more, 1);
    unwatch_expect(id, 3, "the first watch");
    put(watched, 100); // the page is still watched, this word no longer
    put(more2, 0x78);
    unwatch_expect(id2, 2, "the second watch");
    put(more2, 0x79); // nothing watched on the page any more

    watch_local();

    let values = [get(before), get(watched), get(after), get(more), get(more2)];
    if values != [5, 100, 9, 1, 0x79] {
        fail("a write was lost");
    }
    cprintf!("watchdemo: every write landed\n");
    let stats = watch_stats();
    cprintf!(
        "watchdemo: {} writes single-stepped, {} reported\n",
        stats.steps,
        stats.reports
    );
    if stats.reports != 6 || stats.steps < 12 {
        fail("unexpected counts");
    }
    cprintf!("watchdemo: OK\n");
}
