//! orphans: nothing a user does may leave pages that no one can free.
//!
//! A child made by `sys_exofork` is not runnable until its parent says so,
//! and only its parent (or itself, once running) may destroy it. If the
//! parent goes away first, the kernel must free it:
//! - children that never ran, when their parent exits;
//! - children of a parent killed in the middle of making them (pages
//!   already mapped into them);
//! - down a tree: an orphan waiting in `ipc_recv` is not stranded (anyone
//!   may send to it) and lives on; when it exits, the never-started child
//!   it made is freed too;
//! - an env whose parent is gone may not make itself NOT_RUNNABLE (nobody
//!   could wake it again): `invalid parameter`.
//!
//! Each check prints `orphans: <what> OK` (or `FAILED`); the end is
//! `orphans: OK`. The grade test also checks that every page came back.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, EnvId};
use abi::error::Error;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::SeqCst};
use jos::cprintf;
use jos::env::{env_read, env_status};
use jos::syscall::{
    sys_env_destroy, sys_env_set_status, sys_exofork, sys_ipc_recv, sys_ipc_send, sys_page_alloc,
    sys_yield,
};
use user::spin::{SHARED, map_shared, unmap_shared};

jos::main!(umain);

/// Where pages go in the never-started children.
const CHILD_PAGES: usize = 0x0c00_0000;
/// Never-started children per maker.
const NKIDS: usize = 3;
/// Pages mapped into each of them.
const NPAGES: usize = 4;
/// Yields to wait for something that must happen.
const PATIENCE: u32 = 20_000;

#[repr(C)]
struct Shared {
    /// Ids of the never-started children, per check.
    kids: [[AtomicI32; NKIDS]; 4],
    /// How many of `kids[i]` are made.
    made: [AtomicU32; 4],
    /// The result of the orphan's set_status(NOT_RUNNABLE) (error code).
    suspend: AtomicI32,
    suspend_done: AtomicU32,
}

fn shared() -> &'static Shared {
    // SAFETY: SHARED is a zeroed page mapped before any fork; Shared is
    // atomics only, valid when zero.
    unsafe { &*(SHARED as *const Shared) }
}

fn rw() -> PteFlags {
    PTE_RW
}

/// Makes NKIDS children that never run, each with NPAGES pages, recording
/// their ids in `kids[slot]`.
fn make_kids(slot: usize) {
    let sh = shared();
    for k in 0..NKIDS {
        let id = match sys_exofork() {
            // Never made runnable: this cannot run.
            Ok(0) => jos::exit(),
            Ok(id) => id,
            Err(e) => panic!("sys_exofork: {e}"),
        };
        for p in 0..NPAGES {
            if let Err(e) = sys_page_alloc(id, CHILD_PAGES + p * PGSIZE, rw()) {
                panic!("sys_page_alloc: {e}");
            }
        }
        sh.kids[slot][k].store(id, SeqCst);
        sh.made[slot].store(k as u32 + 1, SeqCst);
    }
}

/// Waits (yielding) until `cond` holds; false if it never does.
fn wait(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..PATIENCE {
        if cond() {
            return true;
        }
        sys_yield();
    }
    false
}

/// Whether every child in `kids[slot]` is free.
fn kids_freed(slot: usize) -> bool {
    let sh = shared();
    (0..NKIDS).all(|k| env_status(sh.kids[slot][k].load(SeqCst)) == ENV_FREE)
}

fn fork_or_die() -> EnvId {
    match jos::fork() {
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    }
}

fn report(what: &str, ok: bool, failures: &mut u32) {
    if ok {
        cprintf!("orphans: {} OK\n", what);
    } else {
        cprintf!("orphans: {} FAILED\n", what);
        *failures += 1;
    }
}

fn umain(_args: &[&str]) {
    // A page shared with every child (PTE_SHARE survives fork).
    map_shared(SHARED);
    let sh = shared();
    let mut failures = 0;

    // 1. The maker exits, leaving never-started children.
    let maker = fork_or_die();
    if maker == 0 {
        make_kids(0);
        jos::exit();
    }
    let ok = wait(|| env_status(maker) == ENV_FREE) && wait(|| kids_freed(0));
    report(
        "children never started are freed when their parent exits",
        ok && sh.made[0].load(SeqCst) == NKIDS as u32,
        &mut failures,
    );

    // 2. The maker is killed half-way through: it made its children and
    // spins (on another CPU, with several).
    let maker = fork_or_die();
    if maker == 0 {
        make_kids(1);
        loop {
            core::hint::spin_loop();
        }
    }
    let made = wait(|| shared().made[1].load(SeqCst) == NKIDS as u32);
    let killed = sys_env_destroy(maker).is_ok();
    let ok = made && killed && wait(|| kids_freed(1));
    report(
        "children of a parent killed in the middle of fork are freed",
        ok,
        &mut failures,
    );

    // 3. A tree: the maker forks a child that makes never-started children
    // and then waits in ipc_recv; the maker exits. The waiting orphan is not
    // stranded (we can send to it); when it exits, its children go too.
    let maker = fork_or_die();
    if maker == 0 {
        let waiter = fork_or_die();
        if waiter == 0 {
            make_kids(2);
            let _ = sys_ipc_recv(abi::memlayout::UTOP);
            jos::exit();
        }
        while shared().made[2].load(SeqCst) != NKIDS as u32 {
            sys_yield();
        }
        jos::exit();
    }
    let gone = wait(|| env_status(maker) == ENV_FREE);
    // The waiter: the one env whose parent is the maker.
    let waiter = (0..abi::env::NENV)
        .map(env_read)
        .find(|e| e.env_parent_id == maker && e.env_status != ENV_FREE)
        .map(|e| e.env_id);
    let waiting = waiter.is_some_and(|w| {
        wait(|| {
            let e = env_read(abi::env::envx(w));
            e.env_status == ENV_NOT_RUNNABLE && e.env_ipc_recving != 0
        })
    });
    let kids_alive = (0..NKIDS).all(|k| env_status(sh.kids[2][k].load(SeqCst)) != ENV_FREE);
    report(
        "an orphan waiting in ipc_recv lives on",
        gone && waiting && kids_alive,
        &mut failures,
    );
    let sent =
        waiter.is_some_and(|w| sys_ipc_send(w, 1, abi::memlayout::UTOP, PteFlags::empty()).is_ok());
    let freed =
        waiter.is_some_and(|w| wait(|| env_status(w) == ENV_FREE)) && wait(|| kids_freed(2));
    report(
        "when it exits, its never-started children are freed",
        sent && freed,
        &mut failures,
    );

    // 4. An orphan may not suspend itself.
    let maker = fork_or_die();
    if maker == 0 {
        let me = jos::env::thisenv().env_id;
        let child = fork_or_die();
        if child == 0 {
            jos::env::wait(me);
            let r = sys_env_set_status(0, ENV_NOT_RUNNABLE);
            shared().suspend.store(
                match r {
                    Ok(()) => 0,
                    Err(e) => e.code(),
                },
                SeqCst,
            );
            shared().suspend_done.store(1, SeqCst);
            jos::exit();
        }
        jos::exit();
    }
    let done = wait(|| sh.suspend_done.load(SeqCst) != 0);
    report(
        "an env whose parent is gone may not make itself NOT_RUNNABLE",
        done && sh.suspend.load(SeqCst) == Error::Inval.code(),
        &mut failures,
    );
    // Let every child finish before the pages are counted.
    let me = jos::env::thisenv().env_id;
    wait(|| {
        (0..abi::env::NENV)
            .map(env_read)
            .all(|e| e.env_status == ENV_FREE || e.env_id == me)
    });

    unmap_shared(SHARED);
    if failures == 0 {
        cprintf!("orphans: OK\n");
    } else {
        cprintf!("orphans: {} check(s) FAILED\n", failures);
    }
}
