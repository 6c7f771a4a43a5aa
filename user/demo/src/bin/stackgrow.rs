//! stackgrow: the user stack grows on demand.
//!
//! The kernel maps one stack page. With growth on (default limit: 10
//! pages), a function with a 12 KiB local array writes 10 KiB down into it:
//! the first fault, three pages below the stack, maps every page from there
//! up to the stack's bottom at once, and the stack stays contiguous. Then
//! the limit is raised to 32 pages and a 96 KiB array works too.
#![no_std]
#![no_main]

use abi::memlayout::USTACKTOP;
use abi::mmu::PGSIZE;
use core::mem::MaybeUninit;
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::uvpt::pte_of;
use jos::vm::stack::{
    enable_stack_growth, set_stack_limit, stack_bottom, stack_limit, stack_pages,
};

jos::main!(umain);

/// Fails the program with `what`.
fn fail(what: &str) -> ! {
    panic!("stackgrow: {what}");
}

/// Writes byte `i` of the `N`-byte local array at `depth` bytes below the
/// array's top first (the first touch of the pages under it), then fills
/// and checks the whole array. Returns the stack pages in use after the
/// first write.
#[inline(never)]
fn big_frame<const N: usize>(depth: usize) -> usize {
    let mut buf = MaybeUninit::<[u8; N]>::uninit();
    let p = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: `N - depth` is inside the array; the stack page under it is
    // mapped by the stack's fault handler on this first write.
    unsafe { write_volatile(p.add(N - depth), 0x5a) };
    let pages = stack_pages();
    for i in 0..N {
        // SAFETY: inside the array.
        unsafe { write_volatile(p.add(i), (i * 7) as u8) };
    }
    for i in 0..N {
        // SAFETY: inside the array, written above.
        if unsafe { read_volatile(p.add(i)) } != (i * 7) as u8 {
            fail("the array does not read back what was written");
        }
    }
    cprintf!(
        "stackgrow: wrote {} KiB down a {} KiB local array at {:08x}\n",
        depth / 1024,
        N / 1024,
        p as usize
    );
    pages
}

/// Checks that every page from the stack's bottom to USTACKTOP is mapped
/// and the page below the bottom is not.
fn check_contiguous() {
    let bottom = stack_bottom();
    let mapped = (bottom..USTACKTOP)
        .step_by(PGSIZE)
        .all(|va| pte_of(va).is_some());
    if !mapped || pte_of(bottom - PGSIZE).is_some() {
        fail("the stack is not one run of pages");
    }
    cprintf!(
        "stackgrow: stack is contiguous: [{:08x}, {:08x}), {} pages\n",
        bottom,
        USTACKTOP,
        stack_pages()
    );
}

fn umain(_args: &[&str]) {
    if let Err(e) = enable_stack_growth() {
        panic!("enable_stack_growth: {e}");
    }
    let before = stack_pages();
    cprintf!(
        "stackgrow: stack pages before: {} (limit {})\n",
        before,
        stack_limit()
    );
    let after = big_frame::<{ 12 * 1024 }>(10 * 1024);
    cprintf!("stackgrow: stack pages after the first write: {}\n", after);
    if before != 1 || !(3..=stack_limit()).contains(&after) {
        fail("unexpected stack page counts");
    }
    check_contiguous();

    if let Err(e) = set_stack_limit(32) {
        panic!("set_stack_limit(32): {e}");
    }
    cprintf!("stackgrow: limit now {} pages\n", stack_limit());
    let after = big_frame::<{ 96 * 1024 }>(96 * 1024);
    cprintf!("stackgrow: stack pages after the first write: {}\n", after);
    if !(25..=32).contains(&after) {
        fail("unexpected stack page count with the 96 KiB array");
    }
    check_contiguous();
    cprintf!("stackgrow: OK\n");
}
