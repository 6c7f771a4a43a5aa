//! syscallfuzz: makes thousands of system calls with pseudo-random numbers
//! (valid and invalid) and pseudo-random arguments: small integers, page 0,
//! unmapped and unaligned addresses, the edges of UTOP and ULIM, kernel
//! addresses, our own text and stack, bad and negative env ids, random
//! permission bits. The kernel must reject what is invalid and survive all
//! of it; afterwards this environment exits normally and every page it
//! used is freed.
//!
//! The sequence comes from a fixed-seed xorshift generator, so a failure
//! can be replayed. Calls that would legitimately end or stall us are not
//! made: destroying ourselves, blocking in `sys_ipc_recv` (only its invalid
//! form is used), changing our own status or registers, `sys_cputs` on a
//! bad pointer (the kernel destroys the caller, by design), and mapping or
//! unmapping over our own text, data or stack (changes to our own address
//! space go to a scratch region). Children made by `sys_exofork` get a few
//! random calls and are destroyed at once.
//!
//! The engine is `user::fuzz` (src/fuzz.rs), shared with `fuzzstorm`, which
//! runs several of them at once with random seeds.
#![no_std]
#![no_main]

use jos::cprintf;
use user::fuzz::Fuzz;

jos::main!(umain);

/// How many children to run with random registers (each one faults and is
/// destroyed by the kernel, which prints its trap frame).
const NWILD: u32 = 4;
/// How many system calls to make.
const NCALLS: u32 = 20000;
/// The generator's seed.
const SEED: u32 = 0x6828_1234;

fn umain(_args: &[&str]) {
    let mut f = Fuzz::new("syscallfuzz", SEED, NWILD);
    cprintf!("syscallfuzz: {} calls, seed {:08x}\n", NCALLS, SEED);
    while f.calls < NCALLS {
        f.step();
    }
    f.finish();
    if f.unexpected != 0 {
        cprintf!(
            "syscallfuzz: {} calls succeeded that must fail\n",
            f.unexpected
        );
    }
    cprintf!(
        "syscallfuzz: {} calls, {} errors, done\n",
        f.calls,
        f.errors
    );
}
