//! smpkill: regression test for what the kernel must (not) do to a child
//! that is running on another CPU.
//!
//! Each spinner child shares one page with us (`PteFlags::SHARE`) and spins
//! on its own slot in it without making a system call, so the only traps it
//! takes are timer interrupts. Every round of its loop it takes a `busy`
//! flag, bumps a heartbeat and lets the flag go: if two CPUs ever ran it at
//! once, one of them would find the flag taken (`overlaps`). We wait until
//! a spinner's status is `ENV_RUNNING` (we are running, so it runs on
//! another CPU) and then check that:
//! - `sys_page_alloc`, `sys_page_map` (to it) and `sys_page_unmap` work,
//!   and take effect before the call returns: a page mapped over its
//!   shared page gets its very next heartbeat (the kernel stops the
//!   child's CPU and flushes its TLB);
//! - `sys_env_set_status(NOT_RUNNABLE)` stops it before the call returns,
//!   and `RUNNABLE` lets it go on;
//! - `sys_env_set_status(RUNNABLE)` succeeds and changes nothing: the
//!   status stays `ENV_RUNNING` (so no second CPU picks it up), it never
//!   runs on two CPUs at once, and it keeps running;
//! - destroying it stops it before the call returns (no heartbeat after),
//!   a second destroy fails with `bad environment` (dying is gone), and
//!   it is freed;
//! - `sys_env_set_status` on a dying child fails with `bad environment`;
//! - killing a spinner round after round works every time: the CPU that
//!   reaps a dying spinner on a timer interrupt must acknowledge the
//!   interrupt, or it never gets another one (halted, it never wakes up
//!   again, so soon no new child runs on another CPU; running a spinner,
//!   it never preempts it, so the spinner is never reaped).
//!
//! Then, with a child that makes system calls: a child blocked in
//! `sys_ipc_send` (then in `sys_ipc_recv`) and woken or stopped by
//! `sys_env_set_status` makes the same call again (it goes on waiting, a
//! stopped receiver receives nothing), and each message is delivered
//! exactly once; page calls on a blocked (not running) child still work.
//!
//! Each check prints `smpkill: <what> OK` (or `... FAILED`); the end is
//! `smpkill: OK`. With one CPU no child ever runs elsewhere: those checks
//! are skipped (with a message) and the rest still run.
//!
//! Waits are bounded by the time-stamp counter, calibrated against our own
//! timer ticks at the start (10 ms each), so a broken kernel gets `FAILED`
//! lines rather than a hang where possible.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, ENV_RUNNABLE, ENV_RUNNING, EnvId, envx};
use abi::error::{Error, Result};
use abi::memlayout::UTOP;
use abi::mmu::{PTE_RW, PteFlags};
use core::sync::atomic::Ordering::SeqCst;
use jos::cprintf;
use jos::env::{env_read, env_status, thisenv_read};
use jos::syscall::{
    sys_env_destroy, sys_env_set_status, sys_getenvid, sys_ipc_recv, sys_ipc_send,
    sys_ipc_try_send, sys_page_alloc, sys_page_map, sys_page_unmap, sys_yield,
};
use user::spin::{Clock, SHARED, Slot, WAIT_MS, map_shared, slot_at, spin_forever};

jos::main!(umain);

/// A page-call target: nothing is mapped there in any child.
const SPARE: usize = 0x0b00_0000;
/// Rounds of kill-a-running-spinner (more than CPUs, NCPU being 8).
const ROUNDS: u32 = 8;
/// Tries of an operation that must fail because the child runs elsewhere
/// (it could have been preempted between our look and the call).
const TRIES: u32 = 5;

fn slot(i: usize) -> &'static Slot {
    slot_at(SHARED, i)
}

fn code(r: Result<()>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.code() as u32,
    }
}

fn show(r: Result<()>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(e) => e.as_str(),
    }
}

struct Test {
    me: EnvId,
    clock: Clock,
    next_slot: usize,
    failures: u32,
    /// No child can be made to run on another CPU any more (after having
    /// done so): a kernel bug took the other CPUs away.
    smp_lost: bool,
}

impl Test {
    /// Waits until `cond` holds, at most `ms` milliseconds.
    fn wait(&self, ms: u64, cond: impl FnMut() -> bool) -> bool {
        self.clock.wait(ms, cond)
    }

    fn pause(&self, ms: u64) {
        self.clock.pause(ms);
    }

    fn ok(&self, what: &str) {
        cprintf!("smpkill: {} OK\n", what);
    }

    fn fail(&mut self, what: &str, why: &str) {
        cprintf!("smpkill: {} FAILED: {}\n", what, why);
        self.failures += 1;
    }

    fn new_slot(&mut self) -> usize {
        let s = self.next_slot;
        self.next_slot += 1;
        s
    }

    /// Forks a child that spins on its slot forever (no system calls).
    fn spinner(&mut self) -> (EnvId, usize) {
        let s = self.new_slot();
        match jos::fork() {
            Ok(0) => spin_forever(slot(s)),
            Ok(id) => (id, s),
            Err(e) => panic!("fork: {e}"),
        }
    }

    /// Waits until spinner `id` is in its loop and running (on another CPU,
    /// since we are running too).
    fn wait_running(&self, id: EnvId, s: usize) -> bool {
        self.wait(WAIT_MS, || {
            slot(s).heartbeat.load(SeqCst) != 0 && env_status(id) == ENV_RUNNING
        })
    }

    /// A spinner running elsewhere: `keep` if it still is one (and never
    /// ran on two CPUs), else a new one; None (and a FAILED line) if none
    /// gets to run on another CPU.
    fn running_spinner(
        &mut self,
        keep: Option<(EnvId, usize)>,
        what: &str,
    ) -> Option<(EnvId, usize)> {
        if let Some((id, s)) = keep {
            if slot(s).overlaps.load(SeqCst) == 0 && self.wait_running(id, s) {
                return Some((id, s));
            }
            // Broken by an earlier check: get rid of it.
            let _ = sys_env_destroy(id);
            let _ = self.check_gone(id, s);
        }
        if self.smp_lost {
            self.fail(what, "no child runs on another CPU any more");
            return None;
        }
        let (id, s) = self.spinner();
        if self.wait_running(id, s) {
            return Some((id, s));
        }
        self.smp_lost = true;
        self.fail(
            what,
            "a new child never ran on another CPU (the other CPUs stopped taking timer interrupts?)",
        );
        let _ = sys_env_destroy(id);
        None
    }

    /// Whether the spinner is alive: its heartbeat still moves.
    fn alive(&self, s: usize) -> bool {
        self.clock.alive(slot(s), WAIT_MS)
    }

    /// After `id` was destroyed: waits until it is free, then checks that
    /// it never runs again and never ran on two CPUs. Returns an error
    /// message.
    fn check_gone(&self, id: EnvId, s: usize) -> core::result::Result<(), &'static str> {
        if !self.wait(WAIT_MS, || env_status(id) == ENV_FREE) {
            // Get rid of it if we can (a broken kernel may have left it
            // not runnable).
            let _ = sys_env_destroy(id);
            return Err("it was never freed");
        }
        let h = slot(s).heartbeat.load(SeqCst);
        self.pause(50);
        if slot(s).heartbeat.load(SeqCst) != h {
            return Err("it ran on after it was freed");
        }
        if slot(s).overlaps.load(SeqCst) != 0 {
            return Err("it ran on two CPUs at once");
        }
        Ok(())
    }

    /// Whether spinner slot `s` stays still from now on (its child runs no
    /// more user code).
    fn still(&self, s: usize) -> bool {
        self.clock.still(slot(s))
    }

    /// Page calls, set_status NOT_RUNNABLE and RUNNABLE, then destroy, on
    /// children running elsewhere.
    fn running_checks(&mut self, first: (EnvId, usize)) {
        let mut child = Some(first);

        // Page calls work, and take effect at once: mapping a fresh page
        // over the child's shared page moves its heartbeat to the new page
        // before the call returns (the kernel stops the child's CPU and
        // flushes its TLB).
        let what = "page_alloc, page_map, page_unmap on a child running elsewhere: at once";
        if let Some((id, s)) = self.running_spinner(child.take(), what) {
            let a = sys_page_alloc(id, SPARE, PTE_RW);
            let u = sys_page_unmap(id, SPARE);
            if let Err(e) = sys_page_alloc(0, SPARE, PTE_RW) {
                panic!("sys_page_alloc: {e}");
            }
            let m = sys_page_map(0, SPARE, id, SHARED, PTE_RW);
            let old = slot(s).heartbeat.load(SeqCst);
            // SAFETY: SPARE is our fresh zeroed page; slot s lies inside it.
            let moved = unsafe { &*(SPARE as *const Slot).add(s) };
            let new_alive = self.wait(WAIT_MS, || moved.heartbeat.load(SeqCst) > 1);
            let old_still = slot(s).heartbeat.load(SeqCst) == old;
            let _ = sys_env_destroy(id);
            let gone = self.wait(WAIT_MS, || env_status(id) == ENV_FREE);
            let _ = sys_page_unmap(0, SPARE);
            if a.is_err() || u.is_err() || m.is_err() {
                cprintf!(
                    "smpkill: page_alloc {}, page_unmap {}, page_map {}\n",
                    show(a),
                    show(u),
                    show(m)
                );
                self.fail(what, "refused");
            } else if !old_still {
                self.fail(what, "the child wrote the old page after page_map returned");
            } else if !new_alive {
                self.fail(what, "the child never wrote the new page");
            } else if !gone {
                self.fail(what, "the child was never freed");
            } else {
                self.ok(what);
            }
        }

        // NOT_RUNNABLE: it stops before the call returns; RUNNABLE again
        // lets it go on.
        let what = "set_status NOT_RUNNABLE on a child running elsewhere: stops at once";
        if let Some((id, s)) = self.running_spinner(None, what) {
            child = Some((id, s));
            let r = sys_env_set_status(id, ENV_NOT_RUNNABLE);
            let stopped = self.still(s);
            let r2 = sys_env_set_status(id, ENV_RUNNABLE);
            if r.is_err() || r2.is_err() {
                cprintf!("smpkill: NOT_RUNNABLE {}, RUNNABLE {}\n", show(r), show(r2));
                self.fail(what, "refused");
            } else if !stopped {
                self.fail(what, "the child ran on after set_status returned");
            } else if !self.alive(s) {
                self.fail(what, "the child did not run again when made RUNNABLE");
            } else {
                self.ok(what);
            }
        }

        // RUNNABLE: Ok, and nothing changes: it stays RUNNING (a RUNNABLE
        // status would let a second CPU pick it up). Right after the call
        // its CPU may be half-way through rescheduling it (RUNNABLE for an
        // instant): look again after seeing it run.
        let what =
            "set_status RUNNABLE on a child running elsewhere: no-op, never on two CPUs at once";
        if let Some((id, s)) = self.running_spinner(child.take(), what) {
            child = Some((id, s));
            let mut r = Ok(());
            let mut stayed = false;
            let mut lost = false;
            for _ in 0..TRIES {
                if !self.wait_running(id, s) {
                    lost = true;
                    break;
                }
                r = sys_env_set_status(id, ENV_RUNNABLE);
                if r.is_err() || env_status(id) == ENV_RUNNING {
                    stayed = true;
                    break;
                }
            }
            // Give every CPU (ours too, by yielding) the chance to run it.
            for _ in 0..20 {
                sys_yield();
                self.pause(5);
            }
            if r.is_err() {
                self.fail(what, show(r));
            } else if slot(s).overlaps.load(SeqCst) != 0 {
                self.fail(what, "it ran on two CPUs at once");
            } else if lost {
                self.fail(what, "the child stopped running on another CPU");
            } else if !stayed {
                self.fail(
                    what,
                    "it was left RUNNABLE while running (a second CPU may run it)",
                );
            } else if !self.alive(s) {
                self.fail(what, "the child stopped running");
            } else {
                self.ok(what);
            }
        }

        // Destroy: the child stops before the call returns (it is dying
        // until its CPU frees it), a second destroy finds no such env, and
        // it is freed.
        let what = "destroy a child running elsewhere: stops at once, then freed";
        if let Some((id, s)) = self.running_spinner(child.take(), what) {
            let r1 = sys_env_destroy(id);
            let h = slot(s).heartbeat.load(SeqCst);
            let r2 = sys_env_destroy(id);
            let gone = self.check_gone(id, s);
            if r1.is_err() {
                self.fail(what, "destroy failed");
            } else if r2 != Err(Error::BadEnv) {
                cprintf!("smpkill: the second destroy: {}\n", show(r2));
                self.fail(what, "the second destroy did not fail with bad environment");
            } else if slot(s).heartbeat.load(SeqCst) != h {
                self.fail(what, "the child ran on after destroy returned");
            } else if let Err(why) = gone {
                self.fail(what, why);
            } else {
                self.ok(what);
            }
        }
    }

    /// set_status on a child destroyed while running elsewhere (dying):
    /// BadEnv, it must not come back.
    fn dying_check(&mut self) {
        let what = "set_status on a dying child: bad environment";
        let Some((id, s)) = self.running_spinner(None, what) else {
            return;
        };
        let r0 = sys_env_destroy(id);
        let r1 = sys_env_set_status(id, ENV_RUNNABLE);
        let r2 = sys_env_set_status(id, ENV_NOT_RUNNABLE);
        let gone = self.check_gone(id, s);
        if r0.is_err() {
            self.fail(what, "destroy failed");
        } else if r1 != Err(Error::BadEnv) {
            cprintf!(
                "smpkill: set_status RUNNABLE on the dying child: {}\n",
                show(r1)
            );
            self.fail(
                what,
                "set_status RUNNABLE did not fail with bad environment",
            );
        } else if r2 != Err(Error::BadEnv) {
            cprintf!(
                "smpkill: set_status NOT_RUNNABLE on the dying child: {}\n",
                show(r2)
            );
            self.fail(
                what,
                "set_status NOT_RUNNABLE did not fail with bad environment",
            );
        } else if let Err(why) = gone {
            self.fail(what, why);
        } else {
            self.ok(what);
        }
    }

    /// Kill a spinner running elsewhere, ROUNDS times: each must be reaped.
    fn rounds_check(&mut self) {
        let what = "rounds of killing a spinner running elsewhere: every one reaped";
        for round in 0..ROUNDS {
            let Some((id, s)) = self.running_spinner(None, what) else {
                cprintf!("smpkill: (in round {})\n", round);
                return;
            };
            if let Err(e) = sys_env_destroy(id) {
                panic!("sys_env_destroy: {e}");
            }
            if let Err(why) = self.check_gone(id, s) {
                cprintf!("smpkill: (in round {})\n", round);
                self.fail(what, why);
                return;
            }
        }
        cprintf!("smpkill: {} {} OK\n", ROUNDS, what);
    }

    /// A child blocked in ipc_send, then in ipc_recv, woken and stopped by
    /// set_status: the call is restarted each time (it goes on waiting),
    /// and each message is delivered exactly once.
    fn ipc_check(&mut self) {
        let parent = self.me;
        let s = self.new_slot();
        let id = match jos::fork() {
            Ok(0) => {
                let sl = slot(s);
                let r = sys_ipc_send(parent, 42, UTOP, PteFlags::empty());
                sl.r1.store(code(r), SeqCst);
                sl.stage.store(1, SeqCst);
                let r = sys_ipc_recv(UTOP);
                sl.r2.store(code(r), SeqCst);
                sl.stage.store(2, SeqCst);
                let _ = sys_ipc_send(parent, 7, UTOP, PteFlags::empty());
                jos::exit();
            }
            Ok(id) => id,
            Err(e) => panic!("fork: {e}"),
        };
        let sl = slot(s);
        let sending = || {
            let e = env_read(envx(id));
            e.env_id == id && e.env_status == ENV_NOT_RUNNABLE && e.env_ipc_send_to == parent
        };
        let receiving = || {
            let e = env_read(envx(id));
            e.env_id == id && e.env_status == ENV_NOT_RUNNABLE && e.env_ipc_recving != 0
        };

        // Blocked in ipc_send to us (we are not receiving).
        let what = "ipc_send woken and stopped by set_status: restarted, still waiting";
        if !self.wait(WAIT_MS, sending) {
            self.fail(what, "the child never blocked in ipc_send");
            let _ = sys_env_destroy(id);
            return;
        }
        // Page calls on a child that is not running are fine.
        let what2 = "page_alloc, page_unmap on a blocked child: allowed";
        let a = sys_page_alloc(id, SPARE, PTE_RW);
        let u = sys_page_unmap(id, SPARE);
        if a.is_ok() && u.is_ok() {
            self.ok(what2);
        } else {
            cprintf!("smpkill: page_alloc {}, page_unmap {}\n", show(a), show(u));
            self.fail(what2, "refused");
        }
        let woken = sys_env_set_status(id, ENV_RUNNABLE);
        let again = self.wait(WAIT_MS, sending);
        let stopped = sys_env_set_status(id, ENV_NOT_RUNNABLE);
        let off_queue = env_read(envx(id)).env_ipc_send_to == 0;
        let resumed = sys_env_set_status(id, ENV_RUNNABLE);
        let again2 = self.wait(WAIT_MS, sending);
        if woken.is_err() || stopped.is_err() || resumed.is_err() {
            self.fail(what, "set_status failed");
        } else if !again || !again2 || !off_queue || sl.stage.load(SeqCst) != 0 {
            self.fail(what, "the send did not go on waiting");
        } else {
            self.ok(what);
        }

        // We receive the message once, and the child's send returns 0.
        let what = "the restarted send is delivered once";
        let r = sys_ipc_recv(UTOP);
        let me = thisenv_read();
        let got = r.is_ok() && me.env_ipc_from == id && me.env_ipc_value == 42;
        if got && self.wait(WAIT_MS, || sl.stage.load(SeqCst) >= 1) && sl.r1.load(SeqCst) == 0 {
            self.ok(what);
        } else {
            cprintf!(
                "smpkill: received {}: value {} from {:08x}; the child's send returned {}\n",
                show(r),
                me.env_ipc_value,
                me.env_ipc_from,
                sl.r1.load(SeqCst) as i32
            );
            self.fail(what, "wrong delivery");
        }

        // Blocked in ipc_recv: woken and stopped, it goes on receiving.
        let what = "ipc_recv woken and stopped by set_status: restarted, still receiving";
        if !self.wait(WAIT_MS, receiving) {
            self.fail(what, "the child never blocked in ipc_recv");
            let _ = sys_env_destroy(id);
            return;
        }
        let woken = sys_env_set_status(id, ENV_RUNNABLE);
        let again = self.wait(WAIT_MS, receiving);
        let stopped = sys_env_set_status(id, ENV_NOT_RUNNABLE);
        let t = sys_ipc_try_send(id, 1, UTOP, PteFlags::empty());
        let resumed = sys_env_set_status(id, ENV_RUNNABLE);
        let again2 = self.wait(WAIT_MS, receiving);
        if woken.is_err() || stopped.is_err() || resumed.is_err() {
            self.fail(what, "set_status failed");
        } else if t != Err(Error::IpcNotRecv) {
            cprintf!("smpkill: ipc_try_send to the stopped child: {}\n", show(t));
            self.fail(what, "a stopped child received");
        } else if !again || !again2 || sl.stage.load(SeqCst) != 1 {
            self.fail(what, "the receive did not go on waiting");
        } else {
            self.ok(what);
        }

        // Our message reaches it; then its own message reaches us.
        let what = "the restarted receive gets the next message, once";
        let t = sys_ipc_try_send(id, 1, UTOP, PteFlags::empty());
        let r = sys_ipc_recv(UTOP);
        let me = thisenv_read();
        if t.is_ok()
            && sl.r2.load(SeqCst) == 0
            && r.is_ok()
            && me.env_ipc_from == id
            && me.env_ipc_value == 7
        {
            self.ok(what);
        } else {
            cprintf!(
                "smpkill: try_send {}, the child's recv {}, then received {} from {:08x}\n",
                show(t),
                sl.r2.load(SeqCst) as i32,
                me.env_ipc_value,
                me.env_ipc_from
            );
            self.fail(what, "wrong delivery");
        }
        if !self.wait(WAIT_MS, || env_status(id) == ENV_FREE) {
            self.fail("the IPC child exits", "it never did");
        }
    }
}

fn umain(_args: &[&str]) {
    // The page we share with every child (one slot each).
    map_shared(SHARED);
    let me = sys_getenvid();
    let mut t = Test {
        me,
        clock: Clock::calibrate(envx(me)),
        next_slot: 0,
        failures: 0,
        smp_lost: false,
    };

    // Does a child run on another CPU at all?
    let (id, s) = t.spinner();
    if t.wait_running(id, s) {
        t.ok("a child runs on another CPU");
        t.running_checks((id, s));
        t.dying_check();
        t.rounds_check();
    } else {
        cprintf!(
            "smpkill: one CPU: no child runs on another CPU; skipping the checks that need one\n"
        );
        if let Err(e) = sys_env_destroy(id) {
            panic!("sys_env_destroy: {e}");
        }
        if let Err(why) = t.check_gone(id, s) {
            t.fail("the spinner is killed", why);
        }
    }
    t.ipc_check();

    if let Err(e) = sys_page_unmap(0, SHARED) {
        panic!("sys_page_unmap: {e}");
    }
    if t.failures == 0 {
        cprintf!("smpkill: OK\n");
    } else {
        cprintf!("smpkill: {} check(s) FAILED\n", t.failures);
    }
}
