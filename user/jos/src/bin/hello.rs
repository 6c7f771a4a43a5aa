// make: FS=1
//! hello: prints a greeting and its env id.
#![no_std]
#![no_main]

use jos::cprintf;

jos::main!(umain);

fn umain(_args: &[&str]) {
    cprintf!("hello, world\n");
    cprintf!("i am environment {:08x}\n", jos::thisenv().env_id);
}
