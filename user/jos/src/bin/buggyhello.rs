//! buggyhello: hands the kernel a bad pointer (address 1) to print; the
//! kernel must catch it (`user_mem_check assertion failure for va 00000001`)
//! and destroy us.
#![no_std]
#![no_main]

jos::main!(umain);

fn umain(_args: &[&str]) {
    jos::syscall::sys_cputs_raw(1, 1);
}
