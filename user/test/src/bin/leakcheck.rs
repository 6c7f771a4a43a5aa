// make: FS=1
//! leakcheck: runs programs from the file system twice each and checks
//! that the second run gives back every page it took. The first run warms
//! the file server's block cache (the blocks the program reads stay cached
//! and are not a leak); the second reads the same blocks, so free memory
//! before and after it must be equal. Free pages are counted from the
//! kernel's page records at UPAGES (a page no one maps has no references).
//!
//! With arguments, checks that one command (`leakcheck ls -l`); without,
//! the list below.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_TYPE_FS};
use jos::cprintf;

jos::main!(umain);

/// What `leakcheck` checks by default: spawn, demand paging, the
/// library's copy-on-write of paged data and its zero page.
const DEFAULT: &[&[&str]] = &[&["hello"], &["pagein", "all"], &["spawnhello"]];

/// Runs `argv` and waits until it and everything it started are gone
/// (every env that was not there before is free: a child may outlive its
/// parent; the envs already running, like the file server and, run from
/// the shell, init, sh and the sh that spawned us, stay). Err if it
/// cannot be spawned.
fn run(argv: &[&str]) -> abi::error::Result<()> {
    let before: jos::alloc::vec::Vec<_> = jos::envs()
        .iter()
        .filter(|e| e.env_status != ENV_FREE)
        .map(|e| e.env_id)
        .collect();
    let id = jos::spawn::spawn(argv[0], argv)?;
    jos::env::wait(id);
    while jos::envs().iter().any(|e| {
        e.env_status != ENV_FREE && e.env_type != ENV_TYPE_FS && !before.contains(&e.env_id)
    }) {
        jos::syscall::sys_yield();
    }
    Ok(())
}

/// Checks one command; returns whether it passed.
fn check(argv: &[&str]) -> bool {
    if let Err(e) = run(argv) {
        cprintf!("leakcheck: spawn {}: {}\n", argv[0], e);
        return false;
    }
    let before = jos::uvpt::unreferenced_pages();
    let _ = run(argv);
    let after = jos::uvpt::unreferenced_pages();
    let verdict = if before == after { "OK" } else { "LEAK" };
    cprintf!(
        "leakcheck: {}: {} pages free before the second run, {} after: {}\n",
        argv.join(" "),
        before,
        after,
        verdict
    );
    before == after
}

fn umain(args: &[&str]) {
    let ok = if args.len() > 1 {
        check(&args[1..])
    } else {
        // Every one is checked, even after a failure.
        DEFAULT.iter().filter(|argv| !check(argv)).count() == 0
    };
    cprintf!("leakcheck: {}\n", if ok { "all OK" } else { "FAILED" });
}
