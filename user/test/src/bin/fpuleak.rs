//! fpuleak: the x87 FPU registers of one environment are its own.
//!
//! The target is soft-float, so no Rust code here touches the FPU; these
//! checks use x87 instructions by hand, as an attacker (or a program built
//! for another target) would:
//! - a reader forked before we touch the FPU finds an empty FPU (status
//!   word TOP = 0, no value) after we load a secret into ours and yield to
//!   it, round after round: nothing leaks from our FPU into its;
//! - our secret stays on our FPU stack across many switches (on 4 CPUs,
//!   across CPUs too), and the reader's own value stays on its: nobody
//!   overwrites anyone else's registers;
//! - a child forked while we hold a value starts with a copy of our FPU
//!   (fork copies the FPU as it copies memory), and what it loads stays
//!   its own.
//!
//! Each check prints `fpuleak: <what> OK` (or `FAILED`); the end is
//! `fpuleak: OK`.
#![no_std]
#![no_main]

use abi::mmu::{PTE_RW, PteFlags};
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use jos::cprintf;
use jos::syscall::{sys_page_alloc, sys_page_unmap, sys_yield};
use user::fpu;

jos::main!(umain);

/// A page shared with the children (PTE_SHARE survives fork).
const SHARED: usize = 0x0a00_0000;
/// Rounds of yielding back and forth.
const ROUNDS: u32 = 300;

const SECRET: f64 = 6828.1234;
const READER_VALUE: f64 = -42.5;
const CHILD_VALUE: f64 = 3.25;

/// Progress and results, in the shared page.
#[repr(C)]
struct Shared {
    /// Set when we have loaded the secret.
    secret_loaded: AtomicU32,
    /// The reader's findings: rounds that saw a non-empty FPU before its
    /// own load, rounds that saw its own value changed.
    reader_leaks: AtomicU32,
    reader_lost: AtomicU32,
    /// The reader is done.
    reader_done: AtomicU32,
    /// The fork child: 1 if it saw our value, 2 if not; its own value kept
    /// (1) or lost (2).
    child_inherited: AtomicU32,
    child_kept: AtomicU32,
}

fn shared() -> &'static Shared {
    // SAFETY: SHARED is a zeroed page mapped before any fork; Shared is
    // atomics only, valid when zero.
    unsafe { &*(SHARED as *const Shared) }
}

fn report(what: &str, ok: bool, failures: &mut u32) {
    if ok {
        cprintf!("fpuleak: {} OK\n", what);
    } else {
        cprintf!("fpuleak: {} FAILED\n", what);
        *failures += 1;
    }
}

/// The reader: forked before anyone touched the FPU.
fn reader() -> ! {
    let sh = shared();
    while sh.secret_loaded.load(SeqCst) == 0 {
        sys_yield();
    }
    // Our FPU must be fresh, however often we and the parent switch.
    for _ in 0..ROUNDS / 2 {
        if fpu::stack_top() != 0 || fpu::top_bits() == SECRET.to_bits() {
            sh.reader_leaks.fetch_add(1, SeqCst);
        }
        sys_yield();
    }
    // Now a value of our own, which must stay.
    fpu::push(READER_VALUE);
    for _ in 0..ROUNDS / 2 {
        if fpu::stack_top() != 7 || fpu::top_bits() != READER_VALUE.to_bits() {
            sh.reader_lost.fetch_add(1, SeqCst);
        }
        sys_yield();
    }
    sh.reader_done.store(1, SeqCst);
    jos::exit();
}

fn umain(_args: &[&str]) {
    let rw = PTE_RW | PteFlags::SHARE;
    if let Err(e) = sys_page_alloc(0, SHARED, rw) {
        panic!("sys_page_alloc: {e}");
    }
    let sh = shared();
    let mut failures = 0;

    let reader_id = match jos::fork() {
        Ok(0) => reader(),
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };

    fpu::push(SECRET);
    sh.secret_loaded.store(1, SeqCst);
    let mut lost = 0;
    while sh.reader_done.load(SeqCst) == 0 {
        sys_yield();
        if fpu::stack_top() != 7 || fpu::top_bits() != SECRET.to_bits() {
            lost += 1;
        }
    }
    report(
        "a fresh env sees an empty FPU, not another env's registers",
        sh.reader_leaks.load(SeqCst) == 0,
        &mut failures,
    );
    report(
        "FPU registers survive switches to other envs",
        lost == 0 && sh.reader_lost.load(SeqCst) == 0,
        &mut failures,
    );
    jos::env::wait(reader_id);

    // Fork copies the FPU; afterwards each side's registers are its own.
    let child = match jos::fork() {
        Ok(0) => {
            let inherited = fpu::stack_top() == 7 && fpu::top_bits() == SECRET.to_bits();
            sh.child_inherited
                .store(if inherited { 1 } else { 2 }, SeqCst);
            fpu::pop();
            fpu::push(CHILD_VALUE);
            let mut kept = true;
            for _ in 0..ROUNDS / 4 {
                sys_yield();
                kept &= fpu::top_bits() == CHILD_VALUE.to_bits();
            }
            sh.child_kept.store(if kept { 1 } else { 2 }, SeqCst);
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    let mut mine = true;
    while sh.child_kept.load(SeqCst) == 0 {
        sys_yield();
        mine &= fpu::top_bits() == SECRET.to_bits();
    }
    report(
        "fork copies the FPU, then each keeps its own",
        sh.child_inherited.load(SeqCst) == 1 && sh.child_kept.load(SeqCst) == 1 && mine,
        &mut failures,
    );
    jos::env::wait(child);
    fpu::pop();
    if let Err(e) = sys_page_unmap(0, SHARED) {
        panic!("sys_page_unmap: {e}");
    }
    if failures == 0 {
        cprintf!("fpuleak: OK\n");
    } else {
        cprintf!("fpuleak: {} check(s) FAILED\n", failures);
    }
}
