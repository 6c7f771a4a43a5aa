//! testbss: checks that a 4 MiB bss array starts zeroed and holds what is
//! written to it, then writes well past its end, into unmapped memory (a
//! page fault at 0x00c0....).
#![no_std]
#![no_main]

use core::ptr::{addr_of_mut, read_volatile, write_volatile};
use jos::cprintf;

jos::main!(umain);

/// Number of 32-bit words in the array (4 MiB).
const ARRAYSIZE: usize = 1024 * 1024;

/// The big zero-initialised array, in .bss.
static mut BIGARRAY: [u32; ARRAYSIZE] = [0; ARRAYSIZE];

fn umain(_args: &[&str]) {
    let base: *mut u32 = addr_of_mut!(BIGARRAY).cast();
    cprintf!("Making sure bss works right...\n");
    for i in 0..ARRAYSIZE {
        // SAFETY: i < ARRAYSIZE; single-threaded, no references exist.
        if unsafe { read_volatile(base.add(i)) } != 0 {
            panic!("bigarray[{i}] isn't cleared!");
        }
    }
    for i in 0..ARRAYSIZE {
        // SAFETY: as above.
        unsafe { write_volatile(base.add(i), i as u32) };
    }
    for i in 0..ARRAYSIZE {
        // SAFETY: as above.
        if unsafe { read_volatile(base.add(i)) } != i as u32 {
            panic!("bigarray[{i}] didn't hold its value!");
        }
    }
    cprintf!("Yes, good.  Now doing a wild write off the end...\n");
    // bigarray[ARRAYSIZE + 1024]: 4 KiB past the end, which the loader
    // never mapped.
    let wild = (base as usize + (ARRAYSIZE + 1024) * 4) as *mut u32;
    // SAFETY: not safe: this faults on purpose; the kernel catches it.
    unsafe { write_volatile(wild, 0) };
    panic!("SHOULD HAVE TRAPPED!!!");
}
