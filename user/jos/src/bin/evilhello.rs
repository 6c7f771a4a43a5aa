//! evilhello: asks the kernel to print 100 bytes of kernel memory
//! (0xf010000c); the kernel must refuse (`user_mem_check assertion failure
//! for va f0100...`) and destroy us.
#![no_std]
#![no_main]

jos::main!(umain);

fn umain(_args: &[&str]) {
    jos::syscall::sys_cputs_raw(0xf010_000c, 100);
}
