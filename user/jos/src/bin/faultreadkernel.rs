//! faultreadkernel: reads kernel memory at 0xf0100000, which is mapped but
//! not user-accessible; the kernel reports a protection fault and destroys
//! us.
#![no_std]
#![no_main]

use jos::cprintf;

jos::main!(umain);

fn umain(_args: &[&str]) {
    let p = core::ptr::without_provenance::<u32>(0xf010_0000);
    // SAFETY: not safe: this faults on purpose; the kernel catches it.
    let v = unsafe { core::ptr::read_volatile(p) };
    cprintf!("I read {:08x} from location 0xf0100000!\n", v);
}
