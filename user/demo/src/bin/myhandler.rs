//! myhandler: a student's own page-fault policy, plugged into the library.
//!
//! This is the exercise "replace the copy-on-write handler" done the way a
//! student would: `my_cow` below copies the page on every copy-on-write
//! fault, then counts it in an `EnvCell` (it never reclaims in place,
//! unlike the library's). The README shows this handler. It
//! also registers an on-demand region of its own, `my_region`, where pages
//! appear (filled with a pattern) when first touched. Everything else (fork,
//! the lazy heap, stack growth) keeps using the library, unchanged.
//!
//! Then it forks; parent and child each write fresh copy-on-write pages,
//! fault in region pages, use the heap and grow the stack, and check every
//! result and their own fault counts.
#![no_std]
#![no_main]

extern crate alloc;

use abi::mmu::{FEC_WR, PGSIZE, PTE_RW, PteFlags, round_down};
use abi::trap::UTrapframe;
use alloc::vec::Vec;
use core::ptr::{read_volatile, write_volatile};
use jos::cell::EnvCell;
use jos::cprintf;
use jos::pgfault::{Fault, add_region, set_cow_handler};
use jos::syscall::sys_page_alloc;
use jos::uvpt::pte_of;
use jos::vm::copy_page_to;

jos::main!(umain);

/// Faults each handler took (per environment: data pages are copy-on-write
/// after fork, so each side counts its own). EnvCells: a handler's `with`
/// makes the cell's page private first, so counting adds no fault.
static COW_FAULTS: EnvCell<u32> = EnvCell::new(0);
static REGION_FAULTS: EnvCell<u32> = EnvCell::new(0);

/// My on-demand region: 16 pages at 1 GiB.
const REGION: usize = 0x4000_0000;
const REGION_PAGES: usize = 16;

/// Four pages of initialized data: copy-on-write in both envs after fork.
#[repr(C, align(4096))]
struct Pages([u8; 4 * PGSIZE]);
static mut SHARED: Pages = Pages([1; 4 * PGSIZE]);

fn cow_faults() -> u32 {
    COW_FAULTS.get()
}

fn region_faults() -> u32 {
    REGION_FAULTS.get()
}

/// My copy-on-write handler: copy the page (the library's `copy_page_to`,
/// through PFTEMP), then count. (The README shows this function.)
fn my_cow(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    if utf.utf_err & FEC_WR == 0 || !pte_of(va).is_some_and(|p| p.flags().contains(PteFlags::COW)) {
        return Fault::Declined; // not mine: the next handler gets it
    }
    // A private copy through PFTEMP, mapped P|U|W over the shared page.
    copy_page_to(va, PTE_RW).expect("out of memory");
    COW_FAULTS.with(|n| *n += 1);
    Fault::Handled
}

/// My region's handler: a fresh page whose words all hold its page number.
fn my_region(utf: &mut UTrapframe) -> Fault {
    let va = round_down(utf.utf_fault_va as usize, PGSIZE);
    if sys_page_alloc(0, va, PTE_RW).is_err() {
        return Fault::Declined;
    }
    let n = ((va - REGION) / PGSIZE) as u32;
    for i in 0..PGSIZE / 4 {
        // SAFETY: the page was just mapped writable at va.
        unsafe { write_volatile((va as *mut u32).add(i), n) };
    }
    REGION_FAULTS.with(|n| *n += 1);
    Fault::Handled
}

fn check(ok: bool, who: &str, what: &str) {
    if !ok {
        panic!("myhandler: {who}: {what} FAILED");
    }
}

/// Reads region pages `pages`: each first touch faults into my_region.
fn touch_region(who: &str, pages: core::ops::Range<usize>) {
    let before = region_faults();
    for p in pages.clone() {
        // SAFETY: a read in my region; the handler maps the page.
        let v = unsafe { read_volatile((REGION + p * PGSIZE + 8) as *const u32) };
        check(v == p as u32, who, "region page contents");
    }
    let got = region_faults() - before;
    cprintf!(
        "myhandler: {}: {} region faults for {} new pages\n",
        who,
        got,
        pages.len()
    );
    check(got as usize == pages.len(), who, "region fault count");
}

/// Writes each of SHARED's pages once: exactly one COW fault per page.
fn write_shared(who: &str, value: u8) {
    let before = cow_faults();
    for p in 0..4 {
        // SAFETY: SHARED is ours; writing through a raw pointer.
        unsafe { write_volatile((&raw mut SHARED.0).cast::<u8>().add(p * PGSIZE), value) };
    }
    let got = cow_faults() - before;
    cprintf!(
        "myhandler: {}: {} copy-on-write faults for 4 shared pages\n",
        who,
        got
    );
    check(got == 4, who, "copy-on-write fault count");
    for p in 0..4 {
        // SAFETY: as above.
        let v = unsafe { read_volatile((&raw const SHARED.0).cast::<u8>().add(p * PGSIZE)) };
        check(v == value, who, "private copy contents");
    }
}

/// Uses the heap (the library's lazy heap and allocator) and checks it.
fn use_heap(who: &str, seed: u32) {
    let v: Vec<u32> = (0..3000).map(|i| i * seed).collect();
    let sum = v.iter().fold(0u32, |a, &x| a.wrapping_add(x));
    let want = (0..3000u32).fold(0u32, |a, i| a.wrapping_add(i * seed));
    check(sum == want, who, "heap checksum");
}

/// Grows the stack by about 6 pages (a 24 KiB local array).
#[inline(never)]
fn grow_stack(who: &str) {
    let mut buf = [0u8; 24 * 1024];
    let b = core::hint::black_box(&mut buf);
    for (i, x) in b.iter_mut().enumerate() {
        *x = i as u8;
    }
    let ok = b.iter().enumerate().all(|(i, &x)| x == i as u8);
    check(ok, who, "grown stack contents");
}

fn side(who: &str, value: u8, region: core::ops::Range<usize>) {
    write_shared(who, value);
    touch_region(who, region);
    use_heap(who, value as u32);
    grow_stack(who);
    cprintf!("myhandler: {} OK\n", who);
}

fn umain(_args: &[&str]) {
    // This program relies on the library's guards (the stack grows on
    // demand, null pointers are reported): it asks for them.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("enable_default_guards: {e}");
    }
    // Plug my policies in; the library's fork will use my COW handler.
    if let Err(e) = set_cow_handler(my_cow) {
        panic!("myhandler: set_cow_handler: {e}");
    }
    if let Err(e) = add_region(REGION, REGION + REGION_PAGES * PGSIZE, "mine", my_region) {
        panic!("myhandler: add_region: {e}");
    }
    touch_region("before fork", 0..4);

    let child = match jos::fork() {
        Ok(id) => id,
        Err(e) => panic!("myhandler: fork: {e}"),
    };
    if child == 0 {
        side("child", 0xc, 4..8);
        return;
    }
    side("parent", 0xa, 8..12);
    // Wait for the child to finish, then check nothing of ours changed.
    jos::env::wait(child);
    // SAFETY: SHARED is ours.
    let v = unsafe { read_volatile((&raw const SHARED.0).cast::<u8>()) };
    check(v == 0xa, "parent", "the child's writes stayed in the child");
    cprintf!("myhandler: OK\n");
}
