//! fuzzstorm: several system-call fuzzers at once, with random seeds, on
//! every CPU, attacking their own children while those run elsewhere.
//!
//! The parent picks a base seed from the time-stamp counter (or takes
//! `FUZZSTORM_SEED`, hex, from the environment of the build:
//! `FUZZSTORM_SEED=1234abcd make run-fuzzstorm-nox CPUS=4` replays a run,
//! up to the timing of the CPUs), prints it, and forks NFUZZERS fuzzers
//! with distinct seeds drawn from it. Each fuzzer makes NCALLS calls:
//! most are `user::fuzz`'s random calls (syscallfuzz's engine); the rest
//! attack spinner children (made with `jos::fork`) that share a page of
//! heartbeat slots with it and spin there without system calls (as in
//! smpkill), usually on another CPU. On a spinner, a fuzzer makes random
//! calls and checks what must hold:
//! - `sys_env_destroy` works, the heartbeat does not move after it
//!   returns, every later call on the child fails with `bad environment`
//!   (dying or freed), and the child is freed;
//! - `sys_env_set_status(NOT_RUNNABLE)` works and the heartbeat does not
//!   move from its return until `RUNNABLE`; `RUNNABLE` on a running child
//!   is fine; a runnable child runs (its heartbeat moves);
//! - `sys_env_set_trapframe` with a valid frame sends the child to
//!   `landing` (on a stack page given to it with `sys_page_alloc`), which
//!   marks the slot and spins on, or exits: it gets there, and once it has
//!   exited it is gone (`bad environment`);
//! - `sys_page_alloc`, `sys_page_map`, `sys_page_unmap` into it (at pages
//!   it does not use) work; mapping a fresh page over its heartbeat page
//!   moves its heartbeat there at once (the old one stops when the call
//!   returns);
//! - `sys_env_set_pgfault_upcall` works; `sys_ipc_try_send` to it fails
//!   with `env is not recving`;
//! - it never runs on two CPUs at once (its `busy` flag), and the x87
//!   value it inherited from the fuzzer stays on its FPU stack.
//!
//! Each fuzzer keeps a value of its own on the x87 stack and checks it
//! now and then. After MAX_FAILURES failed checks it stops attacking (each
//! failed wait costs seconds). At the end it destroys what is left, waits until every
//! child is freed and prints `fuzzstorm: fuzzer N: C calls, E errors,
//! done`; a broken check prints a line with `FAILED`. The parent waits for
//! every fuzzer and prints `fuzzstorm: OK` if all of them finished and
//! every check held.
//!
//! Waits are bounded by the time-stamp counter (calibrated against the
//! parent's own timer ticks before anything else runs), so a broken kernel
//! gets FAILED lines rather than a hang where possible.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, ENV_RUNNABLE, ENV_RUNNING, EnvId, envx};
use abi::error::{Error, Result};
use abi::memlayout::{UTEXT, UTOP};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use abi::trap::{FL_IF, GD_UD, GD_UT, Trapframe};
use core::hint::spin_loop;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use jos::cprintf;
use jos::env::env_status;
use jos::pgfault::pgfault_upcall_addr;
use jos::rand::Rng;
use jos::syscall::{
    sys_env_destroy, sys_env_set_pgfault_upcall, sys_env_set_status, sys_env_set_trapframe,
    sys_getenvid, sys_ipc_try_send, sys_page_alloc, sys_page_map, sys_page_unmap, sys_yield,
};
use user::fpu;
use user::fuzz::Fuzz;
use user::spin::{Clock, SHARED, map_shared, rdtsc, unmap_shared};

jos::main!(umain);

/// Fuzzers running at once.
const NFUZZERS: usize = 6;
/// Calls per fuzzer (random ones and attacks on spinners).
const NCALLS: u32 = 4000;
/// Children with random registers per fuzzer (each one faults and the
/// kernel prints its trap frame).
const NWILD: u32 = 1;
/// One attack on a spinner for every ATTACK_EVERY steps, on average.
const ATTACK_EVERY: u32 = 8;
/// Spinners alive at once per fuzzer.
const MAXSPIN: usize = 2;
/// How long we wait for something that must happen (ms).
const WAIT_MS: u64 = 5000;
/// How long we watch for something that must not happen (ms).
const WATCH_MS: u64 = 2;
/// After this many failed checks a fuzzer stops attacking (each failed
/// wait costs WAIT_MS): only random calls from then on.
const MAX_FAILURES: u32 = 10;
/// How long the parent waits for the fuzzers (ms): less than the grader's
/// timeout, so a hang shows as a FAILED line.
const STORM_MS: u64 = 90_000;

/// The fuzzers' reports to the parent (shared page).
const REPORTS: usize = SHARED;
/// Fuzzer n's page of spinner slots (shared), at SLOTS + n * PGSIZE.
const SLOTS: usize = 0x0a10_0000;
/// A fuzzer's fresh heartbeat page for the spinner in slot s, at
/// PRIV + s * PGSIZE (after a remap).
const PRIV: usize = 0x0b00_0000;
/// A page of the fuzzer's, mapped into its children (shared, so it stays
/// writable in the fuzzer after a fork).
const SRC_PAGE: usize = 0x0c80_0000;
/// Pages a spinner never uses, for page calls into it: NSPARE of them.
const CHILD_SPARE: usize = 0x0c00_0000;
const NSPARE: u32 = 8;
/// The stack page a spinner gets before it is sent to `landing`.
const ALTSTACK: usize = 0x0d00_0000;

const PTE_RO: PteFlags = PteFlags::P.union(PteFlags::U);

/// One spinner's slot in its fuzzer's slot page.
#[repr(C)]
struct Slot {
    /// Bumped every round of the spin loop.
    heartbeat: AtomicU32,
    /// Held for most of a round of the spin loop.
    busy: AtomicU32,
    /// Rounds that found `busy` taken: the child ran on two CPUs at once.
    overlaps: AtomicU32,
    /// The token of the last `landing` reached.
    landed: AtomicU32,
    /// Rounds that found the x87 value changed.
    fpu_bad: AtomicU32,
    _pad: [u32; 3],
}

const NSLOTS: usize = PGSIZE / core::mem::size_of::<Slot>();

/// A fuzzer's report (in the REPORTS page).
#[repr(C)]
struct Report {
    seed: AtomicU32,
    /// 1 once the fuzzer is done (it then exits).
    done: AtomicU32,
    calls: AtomicU32,
    errors: AtomicU32,
    failures: AtomicU32,
    _pad: [u32; 3],
}

/// Fuzzer n's report; panics if n >= NFUZZERS.
fn report(n: usize) -> &'static Report {
    assert!(n < NFUZZERS);
    // SAFETY: REPORTS is a zeroed shared page mapped before any fork;
    // report n lies inside it; Report is atomics and plain words.
    unsafe { &*(REPORTS as *const Report).add(n) }
}

/// The slot at `va` (a slot page's address plus a slot's offset).
fn slot_at(va: usize) -> &'static Slot {
    // SAFETY: callers pass an address inside a mapped, zero-initialised
    // page of slots (a shared slot page or a fresh heartbeat page) that
    // stays mapped while they use it; Slot is atomics and plain words.
    unsafe { &*(va as *const Slot) }
}

/// The x87 value of this fuzzer (its spinners inherit it with the FPU),
/// set before its first fork: low and high words of the f64's bits.
static FPU_LO: AtomicU32 = AtomicU32::new(0);
static FPU_HI: AtomicU32 = AtomicU32::new(0);

/// The bits of this fuzzer's x87 value.
fn fpu_expected() -> u64 {
    (u64::from(FPU_HI.load(SeqCst)) << 32) | u64::from(FPU_LO.load(SeqCst))
}

/// A spinner's life: no system calls, only its slot, registers and the
/// FPU.
fn spin(sl: &Slot) -> ! {
    let want = fpu_expected();
    loop {
        if sl.busy.swap(1, SeqCst) != 0 {
            sl.overlaps.fetch_add(1, SeqCst);
        }
        sl.heartbeat.fetch_add(1, SeqCst);
        if fpu::top_bits() != want {
            sl.fpu_bad.fetch_add(1, SeqCst);
        }
        for _ in 0..64 {
            spin_loop();
        }
        sl.busy.store(0, SeqCst);
        spin_loop();
    }
}

/// Where `sys_env_set_trapframe` sends a spinner (ecx: its slot, edx: a
/// token; odd tokens say exit). The old registers are gone, so the `busy`
/// flag they held is let go.
extern "fastcall" fn landing(sl: *const Slot, token: u32) -> ! {
    // SAFETY: the fuzzer passes the address of this child's slot, in its
    // slot page (mapped, shared) or the fresh page mapped over it.
    let sl = unsafe { &*sl };
    sl.busy.store(0, SeqCst);
    sl.landed.store(token, SeqCst);
    if token & 1 != 0 {
        jos::exit();
    }
    spin(sl)
}

/// Where a fuzzer sees a spinner's slot page, and what it did to it.
#[derive(Clone, Copy)]
struct Spinner {
    id: EnvId,
    /// Its slot index in the fuzzer's slot page.
    s: usize,
    /// Where the fuzzer sees the child's slot page: the shared slot page,
    /// or the fresh page mapped over it in the child.
    base: usize,
    /// Made NOT_RUNNABLE, with the heartbeat it had then.
    stopped: Option<u32>,
    /// It has a stack page at ALTSTACK.
    altstack: bool,
    /// Sent to `landing` with this token while NOT_RUNNABLE (0: not).
    pending: u32,
}

/// One fuzzer: the random engine plus the spinner attacks.
struct Storm {
    f: Fuzz,
    n: usize,
    /// Attack decisions (from the fuzzer's seed, apart from the engine's).
    rng: Rng,
    /// Bounds waits (calibrated once, by the parent).
    clock: Clock,
    spinners: [Option<Spinner>; MAXSPIN],
    next_slot: usize,
    tokens: u32,
    /// Calls made by the attacks, and how many failed (as they should or
    /// not).
    calls: u32,
    errors: u32,
    failures: u32,
    /// Destroyed children not yet seen freed.
    destroyed: [EnvId; 16],
    /// What happened, for the report.
    spawned: u32,
    attacks: u32,
    /// Attacks on a child running (on another CPU) just before the call.
    elsewhere: u32,
    killed: u32,
    stopped: u32,
    landed: u32,
    exited: u32,
    remapped: u32,
}

impl Storm {
    /// Our page of spinner slots.
    fn slot_page(&self) -> usize {
        SLOTS + self.n * PGSIZE
    }

    /// The slot of spinner `sp`, where we see it now.
    fn slot(&self, sp: &Spinner) -> &'static Slot {
        slot_at(sp.base + sp.s * core::mem::size_of::<Slot>())
    }

    /// Waits until `cond` holds, at most `ms` milliseconds, yielding the
    /// CPU between looks if `yielding`; returns whether it held.
    fn wait(&self, ms: u64, yielding: bool, cond: impl FnMut() -> bool) -> bool {
        if yielding {
            self.clock.wait_yielding(ms, cond)
        } else {
            self.clock.wait(ms, cond)
        }
    }

    /// Reports a check that did not hold (about child `id`, 0: none).
    fn fail(&mut self, what: &str, id: EnvId) {
        cprintf!(
            "fuzzstorm: fuzzer {}: FAILED: {} (child {:08x})\n",
            self.n,
            what,
            id
        );
        self.failures += 1;
    }

    /// Counts a call made by an attack.
    fn count<T>(&mut self, r: Result<T>) -> Result<T> {
        self.calls += 1;
        if r.is_err() {
            self.errors += 1;
        }
        r
    }

    /// A call on a live child must work (or find no memory).
    fn expect_ok(&mut self, what: &str, id: EnvId, r: Result<()>) -> bool {
        match self.count(r) {
            Ok(()) => true,
            Err(Error::NoMem) => false,
            Err(e) => {
                cprintf!(
                    "fuzzstorm: fuzzer {}: {} on live child {:08x}: {}\n",
                    self.n,
                    what,
                    id,
                    e
                );
                self.fail("a call on a live child failed", id);
                false
            }
        }
    }

    /// A call on a destroyed or exited child must fail with BadEnv.
    fn expect_bad_env(&mut self, what: &str, id: EnvId, r: Result<()>) {
        let r = self.count(r);
        if r != Err(Error::BadEnv) {
            match r {
                Ok(()) => cprintf!(
                    "fuzzstorm: fuzzer {}: {} on dead child {:08x}: ok\n",
                    self.n,
                    what,
                    id
                ),
                Err(e) => cprintf!(
                    "fuzzstorm: fuzzer {}: {} on dead child {:08x}: {}\n",
                    self.n,
                    what,
                    id,
                    e
                ),
            };
            self.fail(
                "a call on a dead child did not fail with bad environment",
                id,
            );
        }
    }

    /// The registers that send spinner `sp` to `landing` with `token`.
    fn landing_frame(&self, sp: &Spinner, token: u32) -> Trapframe {
        let mut tf = Trapframe::zeroed();
        let f: extern "fastcall" fn(*const Slot, u32) -> ! = landing;
        tf.tf_eip = f as usize as u32;
        // As if called: the return address slot at the top of the stack.
        tf.tf_esp = (ALTSTACK + PGSIZE - 4) as u32;
        tf.tf_regs.reg_ecx = (self.slot_page() + sp.s * core::mem::size_of::<Slot>()) as u32;
        tf.tf_regs.reg_edx = token;
        tf.tf_cs = GD_UT | 3;
        tf.tf_ds = GD_UD | 3;
        tf.tf_es = GD_UD | 3;
        tf.tf_ss = GD_UD | 3;
        tf.tf_eflags = FL_IF | 0x2;
        tf
    }

    /// Forks a spinner into `spinners[i]`.
    fn spawn(&mut self, i: usize) {
        let s = self.next_slot;
        self.next_slot = (self.next_slot + 1) % NSLOTS;
        let va = self.slot_page() + s * core::mem::size_of::<Slot>();
        let sl = slot_at(va);
        for w in [
            &sl.heartbeat,
            &sl.busy,
            &sl.overlaps,
            &sl.landed,
            &sl.fpu_bad,
        ] {
            w.store(0, SeqCst);
        }
        let r = jos::fork();
        match r {
            Ok(0) => spin(slot_at(va)),
            Ok(id) => {
                self.calls += 1;
                self.spawned += 1;
                self.f.protect(id);
                self.spinners[i] = Some(Spinner {
                    id,
                    s,
                    base: self.slot_page(),
                    stopped: None,
                    altstack: false,
                    pending: 0,
                });
            }
            Err(e) => {
                self.calls += 1;
                self.errors += 1;
                if e != Error::NoMem && e != Error::NoFreeEnv {
                    cprintf!("fuzzstorm: fuzzer {}: fork: {}\n", self.n, e);
                    self.fail("fork failed", 0);
                }
            }
        }
    }

    /// The checks that hold at any time: a stopped child does not move, no
    /// child runs on two CPUs at once, the x87 value stays.
    fn check_spinner(&mut self, sp: &Spinner) {
        let sl = self.slot(sp);
        if let Some(h) = sp.stopped
            && sl.heartbeat.load(SeqCst) != h
        {
            self.fail("a NOT_RUNNABLE child ran", sp.id);
            // Report it once.
            self.update(sp.id, |x| x.stopped = Some(sl.heartbeat.load(SeqCst)));
        }
        if sl.overlaps.swap(0, SeqCst) != 0 {
            self.fail("a child ran on two CPUs at once", sp.id);
        }
        if sl.fpu_bad.swap(0, SeqCst) != 0 {
            self.fail("a child's x87 value changed", sp.id);
        }
    }

    /// Applies `f` to the live spinner `id`.
    fn update(&mut self, id: EnvId, f: impl FnOnce(&mut Spinner)) {
        if let Some(sp) = self.spinners.iter_mut().flatten().find(|sp| sp.id == id) {
            f(sp);
        }
    }

    /// Forgets spinner `i` (destroyed or exited).
    fn forget(&mut self, i: usize) {
        if let Some(sp) = self.spinners[i].take() {
            self.f.unprotect(sp.id);
            if sp.base != self.slot_page() {
                let _ = sys_page_unmap(0, sp.base);
            }
        }
    }

    /// One to three calls on a dead child: each must fail with BadEnv.
    fn dead_calls(&mut self, sp: &Spinner) {
        let id = sp.id;
        for _ in 0..=self.rng.below(3) {
            let spare = CHILD_SPARE + self.rng.below(NSPARE) as usize * PGSIZE;
            match self.rng.below(9) {
                0 => self.expect_bad_env("destroy", id, sys_env_destroy(id)),
                1 => {
                    let r = sys_env_set_status(id, ENV_RUNNABLE);
                    self.expect_bad_env("set_status RUNNABLE", id, r)
                }
                2 => {
                    let r = sys_env_set_status(id, ENV_NOT_RUNNABLE);
                    self.expect_bad_env("set_status NOT_RUNNABLE", id, r)
                }
                3 => {
                    let tf = self.landing_frame(sp, 2);
                    let r = sys_env_set_trapframe(id, &tf);
                    self.expect_bad_env("set_trapframe", id, r)
                }
                4 => {
                    let r = sys_page_alloc(id, spare, PTE_RW);
                    self.expect_bad_env("page_alloc", id, r)
                }
                5 => {
                    let r = sys_page_map(0, SRC_PAGE, id, spare, PTE_RO);
                    self.expect_bad_env("page_map", id, r)
                }
                6 => {
                    let r = sys_page_unmap(id, spare);
                    self.expect_bad_env("page_unmap", id, r)
                }
                7 => {
                    let r = sys_env_set_pgfault_upcall(id, pgfault_upcall_addr());
                    self.expect_bad_env("set_pgfault_upcall", id, r)
                }
                _ => {
                    let r = sys_ipc_try_send(id, 1, UTOP, PteFlags::empty());
                    self.expect_bad_env("ipc_try_send", id, r)
                }
            }
        }
    }

    /// Destroys spinner `i`: it must not move after the call returns, and
    /// be gone for every call after it.
    fn destroy(&mut self, i: usize) {
        let Some(sp) = self.spinners[i] else { return };
        let r = sys_env_destroy(sp.id);
        let sl = self.slot(&sp);
        let h = sl.heartbeat.load(SeqCst);
        if !self.expect_ok("destroy", sp.id, r) {
            return;
        }
        self.wait(WATCH_MS, false, || false);
        if sl.heartbeat.load(SeqCst) != h {
            self.fail("a destroyed child ran on after destroy returned", sp.id);
        }
        self.check_spinner(&Spinner {
            stopped: None,
            ..sp
        });
        self.dead_calls(&sp);
        self.forget(i);
        self.killed += 1;
        self.remember_destroyed(sp.id);
    }

    /// Keeps `id` to check that it is freed; checks the oldest now if
    /// there is no room.
    fn remember_destroyed(&mut self, id: EnvId) {
        if let Some(d) = self.destroyed.iter_mut().find(|d| **d == 0) {
            *d = id;
            return;
        }
        let old = self.destroyed[0];
        self.destroyed.rotate_left(1);
        self.destroyed[self.destroyed.len() - 1] = id;
        self.check_freed(old);
    }

    /// A destroyed child must be freed (soon).
    fn check_freed(&mut self, id: EnvId) {
        if !self.wait(WAIT_MS, true, || env_status(id) == ENV_FREE) {
            self.fail("a destroyed child was never freed", id);
        }
    }

    /// Waits until spinner `i` reaches `landing` with its pending token;
    /// if the token says exit, until it is gone.
    fn wait_landing(&mut self, i: usize) {
        let Some(sp) = self.spinners[i] else { return };
        let token = sp.pending;
        let sl = self.slot(&sp);
        if !self.wait(WAIT_MS, true, || sl.landed.load(SeqCst) == token) {
            self.fail(
                "a child sent to landing by set_trapframe never got there",
                sp.id,
            );
            self.update(sp.id, |x| x.pending = 0);
            return;
        }
        self.landed += 1;
        self.update(sp.id, |x| x.pending = 0);
        if token & 1 == 0 {
            return;
        }
        // It exits: then it is gone.
        if !self.wait(WAIT_MS, true, || env_status(sp.id) == ENV_FREE) {
            self.fail("a child that exited in landing was never freed", sp.id);
            return;
        }
        self.exited += 1;
        self.check_spinner(&sp);
        self.dead_calls(&sp);
        self.forget(i);
    }

    /// One attack on one of our spinners (a new one if the place is
    /// empty).
    fn attack(&mut self) {
        let i = self.rng.below(MAXSPIN as u32) as usize;
        let Some(sp) = self.spinners[i] else {
            return self.spawn(i);
        };
        self.check_spinner(&sp);
        // Mostly wait until it runs (on another CPU, since we run too).
        if sp.stopped.is_none() && self.rng.below(4) != 0 {
            self.wait(20, false, || env_status(sp.id) == ENV_RUNNING);
        }
        let id = sp.id;
        self.attacks += 1;
        if env_status(id) == ENV_RUNNING {
            self.elsewhere += 1;
        }
        match self.rng.below(20) {
            0 | 1 => self.destroy(i),
            2..=4 => match sp.stopped {
                None => {
                    let r = sys_env_set_status(id, ENV_NOT_RUNNABLE);
                    let h = self.slot(&sp).heartbeat.load(SeqCst);
                    if self.expect_ok("set_status NOT_RUNNABLE", id, r) {
                        self.stopped += 1;
                        self.update(id, |x| x.stopped = Some(h));
                        self.wait(WATCH_MS, false, || false);
                    }
                }
                Some(_) => {
                    let r = sys_env_set_status(id, ENV_RUNNABLE);
                    if self.expect_ok("set_status RUNNABLE", id, r) {
                        self.update(id, |x| x.stopped = None);
                        if sp.pending != 0 {
                            self.wait_landing(i);
                        }
                    }
                }
            },
            5..=7 => {
                if !sp.altstack {
                    let r = sys_page_alloc(id, ALTSTACK, PTE_RW);
                    if !self.expect_ok("page_alloc of a stack", id, r) {
                        return;
                    }
                    self.update(id, |x| x.altstack = true);
                }
                self.tokens += 1;
                let exit = self.rng.below(4) == 0;
                let token = (self.tokens << 1) | exit as u32;
                let tf = self.landing_frame(&sp, token);
                let r = sys_env_set_trapframe(id, &tf);
                if self.expect_ok("set_trapframe", id, r) {
                    self.update(id, |x| x.pending = token);
                    if sp.stopped.is_none() {
                        self.wait_landing(i);
                    }
                }
            }
            8..=10 => {
                let spare = CHILD_SPARE + self.rng.below(NSPARE) as usize * PGSIZE;
                let (what, r) = match self.rng.below(4) {
                    0 => ("page_alloc", sys_page_alloc(id, spare, PTE_RW)),
                    1 => ("page_map", sys_page_map(0, SRC_PAGE, id, spare, PTE_RW)),
                    2 => ("page_map text", sys_page_map(0, UTEXT, id, spare, PTE_RO)),
                    _ => ("page_unmap", sys_page_unmap(id, spare)),
                };
                self.expect_ok(what, id, r);
            }
            11 if sp.base == self.slot_page() => self.remap(i),
            12 | 13 => {
                let r = sys_env_set_pgfault_upcall(id, pgfault_upcall_addr());
                self.expect_ok("set_pgfault_upcall", id, r);
            }
            14 | 15 => {
                let (va, perm) = if self.rng.below(2) == 0 {
                    (UTOP, PteFlags::empty())
                } else {
                    (SRC_PAGE, PTE_RO)
                };
                let r = self.count(sys_ipc_try_send(id, self.tokens, va, perm));
                if r != Err(Error::IpcNotRecv) {
                    self.fail(
                        "ipc_try_send to a spinner did not fail with env is not recving",
                        id,
                    );
                }
            }
            16 | 17 if sp.stopped.is_none() => {
                let r = sys_env_set_status(id, ENV_RUNNABLE);
                self.expect_ok("set_status RUNNABLE (running)", id, r);
            }
            _ => {
                // A runnable child runs.
                if sp.stopped.is_none() {
                    let sl = self.slot(&sp);
                    let h = sl.heartbeat.load(SeqCst);
                    if !self.wait(WAIT_MS, true, || sl.heartbeat.load(SeqCst) != h) {
                        self.fail("a runnable child does not run", id);
                    }
                }
            }
        }
        if let Some(sp) = self.spinners[i]
            && sp.id == id
        {
            self.check_spinner(&sp);
        }
    }

    /// Maps a fresh page over spinner `i`'s slot page: its heartbeat moves
    /// there, and the old one stops when the call returns.
    fn remap(&mut self, i: usize) {
        let Some(sp) = self.spinners[i] else { return };
        let fresh = PRIV + sp.s * PGSIZE;
        let r = self.count(sys_page_alloc(0, fresh, PTE_RW | PteFlags::SHARE));
        if r.is_err() {
            return;
        }
        let r = sys_page_map(0, fresh, sp.id, self.slot_page(), PTE_RW);
        let old = self.slot(&sp);
        let h = old.heartbeat.load(SeqCst);
        if !self.expect_ok("page_map over the heartbeat page", sp.id, r) {
            let _ = sys_page_unmap(0, fresh);
            return;
        }
        self.remapped += 1;
        if old.overlaps.load(SeqCst) != 0 {
            self.fail("a child ran on two CPUs at once", sp.id);
        }
        self.update(sp.id, |x| {
            x.base = fresh;
            x.stopped = x.stopped.map(|_| 0);
        });
        self.wait(WATCH_MS, false, || false);
        if old.heartbeat.load(SeqCst) != h {
            self.fail(
                "a child wrote its old heartbeat page after page_map returned",
                sp.id,
            );
        }
        if sp.stopped.is_none() && sp.pending == 0 {
            let new = slot_at(fresh + sp.s * core::mem::size_of::<Slot>());
            if !self.wait(WAIT_MS, true, || new.heartbeat.load(SeqCst) != 0) {
                self.fail("a child never wrote its new heartbeat page", sp.id);
            }
        }
    }

    /// Checks our own x87 value.
    fn check_fpu(&mut self) {
        if fpu::top_bits() != fpu_expected() {
            self.fail("the fuzzer's x87 value changed", 0);
        }
    }

    /// Destroys every spinner left and waits until all are freed.
    fn finish(&mut self) {
        for i in 0..MAXSPIN {
            if let Some(sp) = self.spinners[i] {
                self.check_spinner(&sp);
                self.destroy(i);
            }
        }
        for j in 0..self.destroyed.len() {
            let id = self.destroyed[j];
            if id != 0 {
                self.check_freed(id);
            }
        }
        self.f.finish();
    }
}

/// The seed of fuzzer `n` from the base seed (never 0).
fn fuzzer_seed(base: u32, n: usize) -> u32 {
    let mut r = Rng::new(base ^ (n as u32 + 1).wrapping_mul(0x9e37_79b9));
    for _ in 0..4 {
        r.next_u32();
    }
    r.next_u32() | 1
}

/// Fuzzer `n`'s life.
fn run_fuzzer(n: usize, seed: u32, per_ms: u64) {
    let mut name = [0u8; 32];
    let len = jos::snprintf!(&mut name, "fuzzstorm: fuzzer {}", n);
    let name = core::str::from_utf8(&name[..len]).unwrap_or("fuzzstorm");
    let mut st = Storm {
        f: Fuzz::new(name, seed, NWILD),
        n,
        rng: Rng::new(seed ^ 0x5bd1_e995),
        clock: Clock { per_ms },
        spinners: [None; MAXSPIN],
        next_slot: 0,
        tokens: 0,
        calls: 0,
        errors: 0,
        failures: 0,
        destroyed: [0; 16],
        spawned: 0,
        attacks: 0,
        elsewhere: 0,
        killed: 0,
        stopped: 0,
        landed: 0,
        exited: 0,
        remapped: 0,
    };
    st.f.takes_faults();
    report(n).seed.store(seed, SeqCst);
    cprintf!("fuzzstorm: fuzzer {}: seed {:08x}\n", n, seed);
    if let Err(e) = sys_page_alloc(0, SRC_PAGE, PTE_RW | PteFlags::SHARE) {
        panic!("sys_page_alloc: {e}");
    }
    // Our x87 value, before the first fork (spinners inherit it).
    let value = f64::from(seed) / 7.0 + n as f64;
    let bits = value.to_bits();
    FPU_LO.store(bits as u32, SeqCst);
    FPU_HI.store((bits >> 32) as u32, SeqCst);
    fpu::push(value);

    let mut steps = 0u32;
    while st.f.calls + st.calls < NCALLS {
        if st.rng.below(ATTACK_EVERY) == 0 && st.failures < MAX_FAILURES {
            st.attack();
        } else {
            st.f.step();
        }
        steps += 1;
        if steps.is_multiple_of(64) {
            st.check_fpu();
        }
    }
    st.finish();
    st.check_fpu();
    fpu::pop();
    let _ = sys_page_unmap(0, SRC_PAGE);

    let calls = st.f.calls + st.calls;
    let errors = st.f.errors + st.errors;
    if st.f.unexpected != 0 {
        cprintf!(
            "fuzzstorm: fuzzer {}: FAILED: {} calls succeeded that must fail\n",
            n,
            st.f.unexpected
        );
    }
    let failures = st.failures + st.f.unexpected;
    cprintf!(
        "fuzzstorm: fuzzer {}: {} spinners, {} attacks ({} on one running elsewhere): \
         {} destroyed, {} stopped, {} landings ({} exits), {} heartbeat remaps\n",
        n,
        st.spawned,
        st.attacks,
        st.elsewhere,
        st.killed,
        st.stopped,
        st.landed,
        st.exited,
        st.remapped
    );
    let r = report(n);
    r.calls.store(calls, SeqCst);
    r.errors.store(errors, SeqCst);
    r.failures.store(failures, SeqCst);
    r.done.store(1, SeqCst);
    cprintf!(
        "fuzzstorm: fuzzer {}: {} calls, {} errors, done\n",
        n,
        calls,
        errors
    );
}

/// The base seed: FUZZSTORM_SEED (hex) at build time, else the time-stamp
/// counter.
fn base_seed() -> (u32, bool) {
    if let Some(s) = option_env!("FUZZSTORM_SEED")
        && let Ok(v) = u32::from_str_radix(s.trim_start_matches("0x"), 16)
    {
        return (v, true);
    }
    let t = rdtsc();
    let mut r = Rng::new((t as u32) ^ ((t >> 32) as u32) ^ 0x6828_0000);
    (r.next_u32(), false)
}

/// Prints the seed, starts the fuzzers, waits for them, sums up.
fn umain(_args: &[&str]) {
    let (base, fixed) = base_seed();
    cprintf!("fuzzstorm: seed {:08x}\n", base);
    cprintf!(
        "fuzzstorm: {} fuzzers, {} calls each ({}; replay with FUZZSTORM_SEED={:08x})\n",
        NFUZZERS,
        NCALLS,
        if fixed {
            "seed from FUZZSTORM_SEED"
        } else {
            "seed from rdtsc"
        },
        base
    );
    for n in 0..=NFUZZERS {
        let va = if n == 0 {
            REPORTS
        } else {
            SLOTS + (n - 1) * PGSIZE
        };
        map_shared(va);
    }
    let per_ms = Clock::calibrate(envx(sys_getenvid())).per_ms;

    let mut ids = [0; NFUZZERS];
    for (n, id) in ids.iter_mut().enumerate() {
        match jos::fork() {
            Ok(0) => {
                run_fuzzer(n, fuzzer_seed(base, n), per_ms);
                jos::exit();
            }
            Ok(child) => *id = child,
            Err(e) => panic!("fork: {e}"),
        }
    }
    let end = rdtsc() + STORM_MS * per_ms;
    for (n, &id) in ids.iter().enumerate() {
        while env_status(id) != ENV_FREE && rdtsc() < end {
            sys_yield();
        }
        if env_status(id) != ENV_FREE {
            cprintf!(
                "fuzzstorm: fuzzer {} ({:08x}) FAILED: still there after {} s, status {}\n",
                n,
                id,
                (STORM_MS / 1000) as u32,
                env_status(id)
            );
        }
    }

    let mut bad = 0;
    let mut calls = 0;
    for n in 0..NFUZZERS {
        let r = report(n);
        calls += r.calls.load(SeqCst);
        if r.done.load(SeqCst) == 0 {
            cprintf!(
                "fuzzstorm: fuzzer {} (seed {:08x}) FAILED: it never finished\n",
                n,
                r.seed.load(SeqCst)
            );
            bad += 1;
        } else if r.failures.load(SeqCst) != 0 {
            cprintf!(
                "fuzzstorm: fuzzer {} (seed {:08x}) FAILED: {} check(s)\n",
                n,
                r.seed.load(SeqCst),
                r.failures.load(SeqCst)
            );
            bad += 1;
        }
    }
    for n in 0..=NFUZZERS {
        let va = if n == 0 {
            REPORTS
        } else {
            SLOTS + (n - 1) * PGSIZE
        };
        unmap_shared(va);
    }
    cprintf!("fuzzstorm: {} calls in all, seed {:08x}\n", calls, base);
    if bad == 0 {
        cprintf!("fuzzstorm: OK\n");
    } else {
        cprintf!("fuzzstorm: {} fuzzer(s) FAILED (seed {:08x})\n", bad, base);
    }
}
