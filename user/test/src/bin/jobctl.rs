//! jobctl: Ctrl-C and the env tree (see `jos::job`), attacked.
//!
//! Booted alone (no file server, no shell: the only env), it checks:
//! - count: `sys_env_destroy_tree` counts every env it destroys, one
//!   freed on the way as a stranded child (never started) of one destroyed
//!   before it too.
//! - forge: nothing but a typed Ctrl-C raises one, and an env may destroy
//!   only envs below it. A child may not destroy its parent (by either
//!   call), itself or env 0 with `sys_env_destroy_tree`; a child that takes
//!   the console's controller role hears no Ctrl-C it did not get typed; a
//!   grandchild whose parent has exited is still below us (destroyed by
//!   us) and may not destroy us; an id that has gone is refused.
//! - char: with no controller, a typed Ctrl-C is the ordinary character
//!   0x03 (the test types it when asked), as in JOS.
//! - intr: once we are the controller, a typed Ctrl-C is kept for us:
//!   `interrupted()` says so, once.
//! - readline: with no controller, `readline` on the console drops 0x03
//!   as JOS's does (the test types `ab`, Ctrl-C, `cd`: the line is `abcd`).
//! - tree: on every CPU at once, a job of envs that fork (some spinning,
//!   some waiting in IPC, some never started, some whose parent exits) is
//!   destroyed while it grows, round after round: afterwards nothing of
//!   it is left. The grade test also checks that every page came back.
//!
//! With an argument, it is a tool for the shell's Ctrl-C test:
//! `jobctl spin` prints `jobctl: spinning` and spins for ever;
//! `jobctl grab` does the same once a child of its has taken the console's
//! controller role and exited (the shell must be the controller again);
//! `jobctl pages` prints how many physical pages are free.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, EnvId};
use abi::error::Error;
use jos::job::{interrupted, kill_tree, release_console, take_console};
use jos::syscall::{sys_cgetc, sys_env_destroy, sys_env_destroy_tree, sys_exofork, sys_yield};
use jos::{cprintf, printf};

jos::main!(umain);

/// Rounds of the tree check.
const ROUNDS: usize = 3;
/// Children each env of the tree forks, and how deep it goes.
const FAN: usize = 3;
const DEPTH: usize = 2;
/// Yields to wait for something that must happen.
const PATIENCE: u32 = 200_000;

fn umain(args: &[&str]) {
    match args.get(1).copied() {
        Some("spin") => {
            printf!("jobctl: spinning\n");
            #[allow(clippy::empty_loop)]
            loop {}
        }
        Some("grab") => {
            let child = jos::fork().expect("fork");
            if child == 0 {
                take_console();
                jos::env::exit();
            }
            jos::env::wait(child);
            printf!("jobctl: spinning\n");
            #[allow(clippy::empty_loop)]
            loop {}
        }
        Some("pages") => {
            printf!("jobctl: {} pages free\n", jos::uvpt::unreferenced_pages());
        }
        Some(_) => cprintf!("usage: jobctl [spin|grab|pages]\n"),
        None => {
            // First, while the env slots are handed out in order.
            count();
            forge();
            char_and_intr();
            readline();
            tree();
            cprintf!("jobctl: done\n");
        }
    }
}

/// Reports one check.
fn verdict(what: &str, ok: bool) {
    cprintf!("jobctl: {}: {}\n", what, if ok { "OK" } else { "FAILED" });
}

/// Waits until env `id` is free; false if it takes too long.
fn gone(id: EnvId) -> bool {
    (0..PATIENCE).any(|_| {
        let free = jos::env::env_status(id) == ENV_FREE;
        if !free {
            sys_yield();
        }
        free
    })
}

/// A child waiting in IPC, with a child of its own it never started: the
/// tree below us is both, and destroying it destroys (and counts) both,
/// although the second goes as the first's stranded child (env_free), its
/// slot being after the first's.
fn count() {
    let r = jos::fork().expect("fork");
    if r == 0 {
        let _ = sys_exofork();
        loop {
            let _ = jos::ipc::ipc_recv(None);
        }
    }
    // Until it waits, its child made.
    let ready = (0..PATIENCE).any(|_| {
        let waits = jos::env::env_status(r) == abi::env::ENV_NOT_RUNNABLE;
        let x = jos::envs()
            .iter()
            .any(|e| e.env_status != ENV_FREE && e.env_parent_id == r);
        if !(waits && x) {
            sys_yield();
        }
        waits && x
    });
    let n = kill_tree(r);
    let me = jos::env::thisenv_id();
    let clean = (0..PATIENCE).any(|_| {
        let any = jos::envs()
            .iter()
            .any(|e| e.env_status != ENV_FREE && e.env_id != me);
        if any {
            sys_yield();
        }
        !any
    });
    if n != Ok(2) {
        cprintf!("jobctl: count: kill_tree gave {:?}, not 2\n", n);
    }
    verdict("count", ready && n == Ok(2) && clean);
}

fn forge() {
    let me = jos::env::thisenv_id();
    let mut ok = true;
    let child = jos::fork().expect("fork");
    if child == 0 {
        let bad = |r: abi::error::Result<u32>| r == Err(Error::BadEnv);
        let mut good = bad(sys_env_destroy_tree(me))
            && sys_env_destroy(me) == Err(Error::BadEnv)
            && bad(sys_env_destroy_tree(jos::env::thisenv_id()))
            && bad(sys_env_destroy_tree(0));
        take_console();
        good &= !interrupted() && !interrupted();
        release_console();
        if !good {
            cprintf!("jobctl: forge: the child got through\n");
        }
        // A grandchild that outlives us, then tries its grandparent.
        let g = jos::fork().expect("fork");
        if g == 0 {
            while jos::env::env_status(jos::env::thisenv().env_parent_id) != ENV_FREE {
                sys_yield();
            }
            if sys_env_destroy_tree(me) != Err(Error::BadEnv) {
                cprintf!("jobctl: forge: the grandchild got through\n");
            }
            // Waits to be destroyed by its grandparent.
            loop {
                sys_yield();
            }
        }
        jos::env::exit();
    }
    ok &= gone(child);
    // The grandchild: ours now that its parent has gone.
    let g = (0..PATIENCE)
        .find_map(|_| {
            let g = jos::envs()
                .iter()
                .find(|e| e.env_status != ENV_FREE && e.env_parent_id == child)
                .map(|e| e.env_id);
            if g.is_none() {
                sys_yield();
            }
            g
        })
        .unwrap_or(0);
    // Let it try, then destroy it.
    for _ in 0..1000 {
        sys_yield();
    }
    ok &= g != 0 && kill_tree(g) == Ok(1) && gone(g);
    // Gone ids are refused.
    ok &= kill_tree(child) == Err(Error::BadEnv) && kill_tree(g) == Err(Error::BadEnv);
    verdict("forge", ok);
}

fn char_and_intr() {
    // No controller: 0x03 is a character.
    cprintf!("jobctl: type Ctrl-C\n");
    let c = loop {
        match sys_cgetc() {
            Ok(0) => sys_yield(),
            Ok(c) => break c,
            Err(_) => break -1,
        }
    };
    cprintf!(
        "jobctl: char: {} (got {:#04x})\n",
        if c == 3 { "OK" } else { "FAILED" },
        c
    );
    // The controller: kept for us, once.
    take_console();
    let before = interrupted();
    cprintf!("jobctl: type Ctrl-C again\n");
    let heard = (0..PATIENCE * 10).any(|_| {
        let yes = interrupted();
        if !yes {
            sys_yield();
        }
        yes
    });
    verdict("intr", !before && heard && !interrupted());
    release_console();
}

/// With no controller, readline on the console drops a typed 0x03.
fn readline() {
    match jos::console::opencons() {
        Ok(0) => {}
        r => {
            cprintf!("jobctl: readline: opencons gave {:?}\n", r);
            return verdict("readline", false);
        }
    }
    // (Descriptor 1 is not open: the prompt goes to the console.)
    cprintf!("jobctl: type a line with Ctrl-C in it\n");
    let line = jos::readline::readline("");
    let _ = jos::fd::close(0);
    cprintf!("jobctl: readline: got {:?}\n", line);
    verdict("readline", line.as_deref() == Some("abcd"));
}

/// What each env of the tree does at depth `d`: forks FAN children (each
/// doing the same one level down), then, by its place, spins, spins in
/// system calls, waits in IPC for ever, makes a child it never starts,
/// or exits (its children then hang below the job's root all the same).
fn grow(d: usize, place: usize) -> ! {
    if d < DEPTH {
        for i in 0..FAN {
            match jos::fork() {
                Ok(0) => grow(d + 1, i),
                Ok(_) => {}
                // Out of envs or memory: stop growing.
                Err(_) => break,
            }
        }
    }
    match (d + place) % 5 {
        0 => loop {
            core::hint::spin_loop();
        },
        1 => loop {
            sys_yield();
        },
        2 => loop {
            let _ = jos::ipc::ipc_recv(None);
        },
        3 => {
            let _ = sys_exofork();
            loop {
                sys_yield();
            }
        }
        _ => jos::env::exit(),
    }
}

fn tree() {
    let me = jos::env::thisenv_id();
    let mut ok = true;
    let mut destroyed = 0;
    for round in 0..ROUNDS {
        let job = jos::fork().expect("fork");
        if job == 0 {
            grow(0, 0);
        }
        // Strike once it has grown (most of it), then sooner, while it
        // grows.
        for _ in 0..[5000, 500, 50][round % 3] {
            sys_yield();
        }
        match kill_tree(job) {
            Ok(n) => destroyed += n,
            Err(e) => {
                cprintf!("jobctl: tree: kill_tree: {}\n", e);
                ok = false;
            }
        }
        // Nothing but us may be left (dying envs are freed by their CPU).
        let left = |e: &abi::env::Env| e.env_status != ENV_FREE && e.env_id != me;
        let clean = (0..PATIENCE).any(|_| {
            let any = jos::envs().iter().any(left);
            if any {
                sys_yield();
            }
            !any
        });
        if !clean {
            for e in jos::envs().iter().filter(|e| left(e)) {
                cprintf!(
                    "jobctl: tree: left: env {:08x} parent {:08x} status {}\n",
                    e.env_id,
                    e.env_parent_id,
                    e.env_status
                );
            }
            ok = false;
        }
    }
    cprintf!(
        "jobctl: tree: {} ({} envs destroyed in {} rounds)\n",
        if ok { "OK" } else { "FAILED" },
        destroyed,
        ROUNDS
    );
}
