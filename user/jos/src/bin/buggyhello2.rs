//! buggyhello2: asks the kernel to print 1 MiB starting at a valid string,
//! running off the end of the mapped program; the kernel must refuse the
//! whole range (and print none of it).
#![no_std]
#![no_main]

jos::main!(umain);

/// A valid string inside the program's image.
static HELLO: &[u8] = b"hello, world\n";

fn umain(_args: &[&str]) {
    jos::syscall::sys_cputs_raw(HELLO.as_ptr() as usize, 1024 * 1024);
}
