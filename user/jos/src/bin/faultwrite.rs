//! faultwrite: writes address 0; the kernel reports the fault (err 6:
//! user, write, not present) and destroys us.
#![no_std]
#![no_main]

jos::main!(umain);

fn umain(_args: &[&str]) {
    let p = core::ptr::without_provenance_mut::<u32>(0);
    // SAFETY: not safe: this faults on purpose; the kernel catches it.
    unsafe { core::ptr::write_volatile(p, 0) };
}
