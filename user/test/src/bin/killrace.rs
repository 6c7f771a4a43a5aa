//! killrace: what a parent does to a child running on another CPU takes
//! effect before the system call returns, round after round.
//!
//! The attack this guards against: a child destroyed while it runs on
//! another CPU used to go on executing user code (on its TLB) until its
//! next trap, and its parent could still take pages from it; a page
//! unmapped from it and handed to the parent was then written by the dying
//! child. Each round, with a fresh spinner child on another CPU (see
//! `user::spin`), we check:
//! - destroy: its heartbeat does not move after `sys_env_destroy` returns
//!   (the child spins in user mode, or in a loop of system calls so that
//!   its CPU is often in the kernel when we strike); and every call on the
//!   destroyed child (page map from it, page unmap, page alloc, set
//!   registers, set upcall, set status) fails with `bad environment`;
//! - handover: a page the child writes, mapped into us and then unmapped
//!   from the child, is never written again once the unmap returns (the
//!   child's next write faults, and its handler makes it exit);
//! - set_trapframe: new registers for the running child take effect (it
//!   lands in the function we chose), they are not dropped;
//! - set_status: NOT_RUNNABLE stops it before the call returns, again and
//!   again, RUNNABLE lets it go on, and it never runs on two CPUs at once;
//!   a system call it was making when stopped does not run after the stop
//!   returns (not even one that would undo the stop, or change its pages);
//! - set_trapframe on a child blocked in IPC cancels the wait: no message
//!   is delivered into its new registers.
//!
//! Each check prints `killrace: <what> OK` after all its rounds (or
//! `FAILED` with the round); the end is `killrace: OK`. Needs more than one
//! CPU.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, ENV_RUNNABLE, ENV_RUNNING, EnvId, envx};
use abi::error::{Error, Result};
use abi::memlayout::{USTACKTOP, UTOP};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use abi::trap::{Trapframe, UTrapframe};
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use jos::cprintf;
use jos::env::{env_read, env_status};
use jos::pgfault::{Fault, add_region};
use jos::syscall::{
    sys_env_destroy, sys_env_set_pgfault_upcall, sys_env_set_status, sys_env_set_trapframe,
    sys_getenvid, sys_ipc_recv, sys_ipc_try_send, sys_page_alloc, sys_page_map, sys_page_unmap,
};
use user::spin::{
    Clock, NSLOTS, SHARED, Slot, WAIT_MS, map_shared, slot_at, spin_forever, unmap_shared,
};

jos::main!(umain);

/// A page private to a child, which it writes as it spins.
const VICTIM: usize = 0x0b00_0000;
/// Where a child's page lands in us.
const GRAB: usize = 0x0c00_0000;
/// Rounds of each check.
const ROUNDS: u32 = 10;
/// The mark a child leaves in its slot's `stage` when it lands where
/// set_trapframe sent it.
const LANDED: u32 = 0x4c41_4e44;

/// How a spinner spins.
#[derive(Clone, Copy, PartialEq)]
enum Spin {
    /// Pure user code.
    User,
    /// A system call every round, so its CPU is often in the kernel.
    Syscalls,
    /// User code that also writes its private VICTIM page.
    Victim,
    /// A system call that undoes a stop: set_status(self, RUNNABLE).
    Unstop,
    /// Page calls on its own VICTIM page, over and over.
    PageCalls,
    /// Blocked in ipc_recv, then in ipc_send to its parent.
    Ipc,
}

/// The header (slot 0): which slot the next set_trapframe landing is for.
fn header() -> &'static Slot {
    slot_at(SHARED, 0)
}

fn slot(i: usize) -> &'static Slot {
    slot_at(SHARED, i)
}

fn show(r: Result<()>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(e) => e.as_str(),
    }
}

/// Where set_trapframe sends a child: it marks its slot and exits.
extern "C" fn landing() -> ! {
    let s = header().stage.load(SeqCst) as usize;
    slot(s).stage.store(LANDED, SeqCst);
    jos::exit();
}

/// The VICTIM page's handler in a child: the page was taken away; exit
/// quietly (the parent checks the rest).
fn victim_gone(_utf: &mut UTrapframe) -> Fault {
    jos::exit();
}

struct Race {
    clock: Clock,
    next_slot: usize,
    failures: u32,
}

impl Race {
    fn fail(&mut self, what: &str, round: u32, why: &str) {
        cprintf!("killrace: {} FAILED in round {}: {}\n", what, round, why);
        self.failures += 1;
    }

    /// Forks a spinner on a fresh slot and waits until it runs on another
    /// CPU. Returns its id and slot, or None (with a FAILED line).
    fn spinner(&mut self, how: Spin, what: &str, round: u32) -> Option<(EnvId, usize)> {
        let s = self.next_slot;
        self.next_slot = if s + 1 < NSLOTS { s + 1 } else { 1 };
        let sl = slot(s);
        sl.heartbeat.store(0, SeqCst);
        sl.busy.store(0, SeqCst);
        sl.overlaps.store(0, SeqCst);
        sl.stage.store(0, SeqCst);
        let id = match jos::fork() {
            Ok(0) => spin(sl, how),
            Ok(id) => id,
            Err(e) => panic!("fork: {e}"),
        };
        let running = self.clock.wait(WAIT_MS, || {
            let st = env_status(id);
            sl.heartbeat.load(SeqCst) > 1
                && (st == ENV_RUNNING || (how == Spin::Ipc && st == ENV_NOT_RUNNABLE))
        });
        if !running {
            let _ = sys_env_destroy(id);
            self.fail(what, round, "the child never ran on another CPU");
            return None;
        }
        Some((id, s))
    }

    /// Runs `check` on ROUNDS fresh spinners of kind `how`, each running
    /// on another CPU. `check` returns Err(why) on a failure (the child is
    /// then destroyed and the check stops with a FAILED line); on success
    /// it has made the child go away (destroyed it, or had it exit), and
    /// the child must be freed. Prints `killrace: <what> OK` after all
    /// rounds.
    fn rounds(&mut self, what: &str, how: Spin, check: Check) {
        for round in 0..ROUNDS {
            let Some((id, s)) = self.spinner(how, what, round) else {
                return;
            };
            let r = check(&self.clock, id, s).and_then(|()| {
                if self.clock.wait(WAIT_MS, || env_status(id) == ENV_FREE) {
                    Ok(())
                } else {
                    Err("the child was never freed")
                }
            });
            if let Err(why) = r {
                let _ = sys_env_destroy(id);
                self.fail(what, round, why);
                return;
            }
        }
        cprintf!("killrace: {} OK\n", what);
    }
}

/// One check on a spinner child (id, slot): Err(why) if it failed.
type Check = fn(&Clock, EnvId, usize) -> core::result::Result<(), &'static str>;

/// Destroy stops the child at once; a destroyed child is gone for every
/// system call.
fn destroy(clock: &Clock, id: EnvId, s: usize) -> core::result::Result<(), &'static str> {
    if let Err(e) = sys_env_destroy(id) {
        panic!("sys_env_destroy: {e}");
    }
    let h = slot(s).heartbeat.load(SeqCst);
    let calls = [
        (
            "page_map from it",
            sys_page_map(id, VICTIM, 0, GRAB, PTE_RW),
        ),
        ("page_unmap", sys_page_unmap(id, VICTIM)),
        ("page_alloc", sys_page_alloc(id, GRAB, PTE_RW)),
        (
            "set_trapframe",
            sys_env_set_trapframe(id, &Trapframe::zeroed()),
        ),
        ("set_pgfault_upcall", sys_env_set_pgfault_upcall(id, 0)),
        ("set_status", sys_env_set_status(id, ENV_RUNNABLE)),
        ("destroy", sys_env_destroy(id)),
    ];
    let _ = sys_page_unmap(0, GRAB);
    for (call, r) in calls {
        if r != Err(Error::BadEnv) {
            cprintf!("killrace: {} on the destroyed child: {}\n", call, show(r));
            return Err("a call on the destroyed child did not fail with bad environment");
        }
    }
    if !clock.still(slot(s)) || slot(s).heartbeat.load(SeqCst) != h {
        return Err("the child ran on after destroy returned");
    }
    Ok(())
}

/// A page taken from a running child is never written by it again; its
/// next write faults and its handler makes it exit.
fn handover(clock: &Clock, id: EnvId, _s: usize) -> core::result::Result<(), &'static str> {
    let m = sys_page_map(id, VICTIM, 0, GRAB, PTE_RW);
    let u = sys_page_unmap(id, VICTIM);
    if m.is_err() || u.is_err() {
        cprintf!("killrace: page_map {}, page_unmap {}\n", show(m), show(u));
        let _ = sys_page_unmap(0, GRAB);
        return Err("refused");
    }
    // SAFETY: GRAB is mapped (m is Ok); we read one word.
    let counter = || unsafe { &*(GRAB as *const AtomicU32) }.load(SeqCst);
    let c = counter();
    clock.pause(50);
    let after = counter();
    let _ = sys_page_unmap(0, GRAB);
    if after != c {
        return Err("the child wrote the page after page_unmap returned");
    }
    Ok(())
}

/// Sends child `id` (slot `s`) to `landing` with set_trapframe (where it
/// marks its slot and exits).
fn send_to_landing(id: EnvId, s: usize) -> core::result::Result<(), &'static str> {
    header().stage.store(s as u32, SeqCst);
    let mut tf = Trapframe::zeroed();
    tf.tf_eip = landing as *const () as usize as u32;
    tf.tf_esp = (USTACKTOP - 64) as u32;
    let r = sys_env_set_trapframe(id, &tf);
    if r.is_err() {
        cprintf!("killrace: set_trapframe: {}\n", show(r));
        return Err("set_trapframe failed");
    }
    Ok(())
}

/// Whether child slot `s` gets to `landing`.
fn landed(clock: &Clock, s: usize) -> core::result::Result<(), &'static str> {
    if clock.wait(WAIT_MS, || slot(s).stage.load(SeqCst) == LANDED) {
        Ok(())
    } else {
        Err("the child never got to the new eip")
    }
}

/// New registers for a running child take effect.
fn set_trapframe(clock: &Clock, id: EnvId, s: usize) -> core::result::Result<(), &'static str> {
    send_to_landing(id, s)?;
    landed(clock, s)
}

/// NOT_RUNNABLE stops a running child at once, every time; RUNNABLE lets
/// it go on; never on two CPUs at once.
fn set_status(clock: &Clock, id: EnvId, s: usize) -> core::result::Result<(), &'static str> {
    let sl = slot(s);
    for flap in 0..10 {
        if sys_env_set_status(id, ENV_NOT_RUNNABLE).is_err() {
            return Err("set_status NOT_RUNNABLE failed");
        }
        let h = sl.heartbeat.load(SeqCst);
        let still = if flap % 5 == 4 {
            clock.still(sl)
        } else {
            clock.pause(1);
            true
        };
        if !still || sl.heartbeat.load(SeqCst) != h {
            return Err("it ran while NOT_RUNNABLE");
        }
        if sys_env_set_status(id, ENV_RUNNABLE).is_err() || !clock.alive(sl, WAIT_MS) {
            return Err("it did not run again when made RUNNABLE");
        }
    }
    let overlaps = sl.overlaps.load(SeqCst);
    let _ = sys_env_destroy(id);
    if overlaps != 0 {
        return Err("it ran on two CPUs at once");
    }
    Ok(())
}

/// A child stopped while it makes system calls: the call it was making does
/// not run after the stop returns (it would undo the stop, or change its
/// pages); it is restarted when the child runs again.
fn stop_syscalls(clock: &Clock, id: EnvId, s: usize) -> core::result::Result<(), &'static str> {
    let sl = slot(s);
    for _ in 0..4 {
        if sys_env_set_status(id, ENV_NOT_RUNNABLE).is_err() {
            return Err("set_status NOT_RUNNABLE failed");
        }
        let h = sl.heartbeat.load(SeqCst);
        let mapped = mapped_in(id);
        for _ in 0..10 {
            clock.pause(1);
            if sl.heartbeat.load(SeqCst) != h || mapped_in(id) != mapped {
                return Err("it ran on, or its pages changed, after the stop returned");
            }
        }
        if sys_env_set_status(id, ENV_RUNNABLE).is_err() || !clock.alive(sl, WAIT_MS) {
            return Err("it did not run again when made RUNNABLE");
        }
    }
    let _ = sys_env_destroy(id);
    Ok(())
}

/// New registers for a child blocked in IPC: the wait is cancelled (no
/// message is delivered into the new registers), and it lands.
fn ipc_redirect(clock: &Clock, id: EnvId, s: usize) -> core::result::Result<(), &'static str> {
    let blocked = clock.wait(WAIT_MS, || {
        let e = env_read(envx(id));
        e.env_status == ENV_NOT_RUNNABLE && e.env_ipc_recving != 0
    });
    if !blocked {
        return Err("the child never blocked in ipc_recv");
    }
    send_to_landing(id, s)?;
    let recving = env_read(envx(id)).env_ipc_recving;
    let t = sys_ipc_try_send(id, 7, UTOP, PteFlags::empty());
    if sys_env_set_status(id, ENV_RUNNABLE).is_err() {
        return Err("set_status RUNNABLE failed");
    }
    if recving != 0 || t != Err(Error::IpcNotRecv) {
        cprintf!("killrace: try_send after set_trapframe: {}\n", show(t));
        return Err("the child was still receiving");
    }
    landed(clock, s)
}

/// Whether VICTIM is mapped in child `id` (seen by mapping it into us).
fn mapped_in(id: EnvId) -> bool {
    let r = sys_page_map(id, VICTIM, 0, GRAB, PteFlags::P | PteFlags::U).is_ok();
    let _ = sys_page_unmap(0, GRAB);
    r
}

/// A child's life.
fn spin(sl: &Slot, how: Spin) -> ! {
    match how {
        Spin::User => spin_forever(sl),
        Spin::Syscalls => loop {
            if sl.busy.swap(1, SeqCst) != 0 {
                sl.overlaps.fetch_add(1, SeqCst);
            }
            sl.heartbeat.fetch_add(1, SeqCst);
            sys_getenvid();
            sl.busy.store(0, SeqCst);
        },
        Spin::Unstop => loop {
            sl.heartbeat.fetch_add(1, SeqCst);
            let _ = sys_env_set_status(0, ENV_RUNNABLE);
        },
        Spin::PageCalls => loop {
            sl.heartbeat.fetch_add(1, SeqCst);
            let _ = sys_page_alloc(0, VICTIM, PTE_RW);
            let _ = sys_page_unmap(0, VICTIM);
        },
        Spin::Ipc => {
            sl.heartbeat.store(2, SeqCst);
            let _ = sys_ipc_recv(UTOP);
            // set_trapframe sends us to `landing` instead; we never return.
            sl.stage.store(0xdead, SeqCst);
            jos::exit();
        }
        Spin::Victim => {
            if let Err(e) = sys_page_alloc(0, VICTIM, PTE_RW) {
                panic!("sys_page_alloc: {e}");
            }
            if let Err(e) = add_region(VICTIM, VICTIM + PGSIZE, "victim", victim_gone) {
                panic!("add_region: {e}");
            }
            // SAFETY: VICTIM is our page until the parent takes it; then
            // the write faults and victim_gone ends us.
            let counter = unsafe { &*(VICTIM as *const AtomicU32) };
            loop {
                sl.heartbeat.fetch_add(1, SeqCst);
                counter.fetch_add(1, SeqCst);
            }
        }
    }
}

fn umain(_args: &[&str]) {
    // The page we share with every child: slot 0 is the header, then one
    // slot per child.
    map_shared(SHARED);
    let mut r = Race {
        clock: Clock::calibrate(envx(sys_getenvid())),
        next_slot: 1,
        failures: 0,
    };
    let checks: [(&str, Spin, Check); 8] = [
        (
            "destroy stops a child spinning in user mode at once",
            Spin::User,
            destroy,
        ),
        (
            "destroy stops a child making system calls at once",
            Spin::Syscalls,
            destroy,
        ),
        (
            "a page unmapped from a running child is never written by it again",
            Spin::Victim,
            handover,
        ),
        (
            "set_trapframe on a running child takes effect",
            Spin::User,
            set_trapframe,
        ),
        (
            "set_status NOT_RUNNABLE stops a running child at once, again and again",
            Spin::User,
            set_status,
        ),
        (
            "a child stopped in set_status(self, RUNNABLE) stays stopped",
            Spin::Unstop,
            stop_syscalls,
        ),
        (
            "a child stopped in page calls: its pages do not change after the stop",
            Spin::PageCalls,
            stop_syscalls,
        ),
        (
            "set_trapframe on a child blocked in IPC cancels the wait",
            Spin::Ipc,
            ipc_redirect,
        ),
    ];
    for (what, how, check) in checks {
        r.rounds(what, how, check);
    }
    unmap_shared(SHARED);
    if r.failures == 0 {
        cprintf!("killrace: OK\n");
    } else {
        cprintf!("killrace: {} check(s) FAILED\n", r.failures);
    }
}
