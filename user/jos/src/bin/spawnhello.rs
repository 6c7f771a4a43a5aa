// make: FS=1
//! spawnhello: spawns `hello` from the file system (JOS's user/spawnhello.c).
#![no_std]
#![no_main]

use jos::cprintf;

jos::main!(umain);

fn umain(_args: &[&str]) {
    cprintf!("i am parent environment {:08x}\n", jos::thisenv().env_id);
    if let Err(e) = jos::spawnl!("hello", "hello") {
        panic!("spawn(hello) failed: {e}");
    }
}
