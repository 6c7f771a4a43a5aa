//! faultread: reads address 0, which is never mapped; the kernel reports
//! `user fault va 00000000` and destroys us before anything is printed.
#![no_std]
#![no_main]

use jos::cprintf;

jos::main!(umain);

fn umain(_args: &[&str]) {
    let p = core::ptr::without_provenance::<u32>(0);
    // SAFETY: not safe at all: this faults, on purpose; the kernel catches it.
    let v = unsafe { core::ptr::read_volatile(p) };
    cprintf!("I read {:08x} from location 0!\n", v);
}
