//! faultwritekernel: writes kernel memory at 0xf0100000; the kernel reports
//! the fault (err 7: user, write, protection) and destroys us.
#![no_std]
#![no_main]

jos::main!(umain);

fn umain(_args: &[&str]) {
    let p = core::ptr::without_provenance_mut::<u32>(0xf010_0000);
    // SAFETY: not safe: this faults on purpose; the kernel catches it.
    unsafe { core::ptr::write_volatile(p, 0) };
}
