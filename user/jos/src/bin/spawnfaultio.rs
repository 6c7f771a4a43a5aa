// make: FS=1
//! spawnfaultio: spawns `faultio`, which must fault on its I/O port access
//! (a spawned child has no I/O privilege; JOS's user/spawnfaultio.c).
#![no_std]
#![no_main]

use jos::cprintf;

jos::main!(umain);

fn umain(_args: &[&str]) {
    cprintf!("i am parent environment {:08x}\n", jos::thisenv().env_id);
    if let Err(e) = jos::spawnl!("faultio", "faultio") {
        panic!("spawn(faultio) failed: {e}");
    }
}
