//! Spinner children and a clock, for programs that race the kernel against
//! children running on other CPUs (smpkill, killrace, fuzzstorm), and the
//! page such programs share with their children (orphans too).
//!
//! A spinner shares a page with its parent (`PteFlags::SHARE`, so it stays
//! shared across fork) and spins on its own `Slot` in it without making a
//! system call: the only traps it takes are timer interrupts (and kicks).
//! Every round of its loop it takes a `busy` flag, bumps a heartbeat and
//! lets the flag go: if two CPUs ever ran it at once, one of them would
//! find the flag taken (`overlaps`). A heartbeat that moves means the child
//! is running user code right now.
use abi::mmu::{PTE_RW, PteFlags};
use core::hint::spin_loop;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use jos::env::env_read;
use jos::syscall::{sys_page_alloc, sys_page_unmap};

/// Where a test maps the page it shares with its children (`map_shared`):
/// spinner slots (killrace, smpkill), the fuzzers' reports (fuzzstorm),
/// the children's ids (orphans).
pub const SHARED: usize = 0x0a00_0000;

/// How long a test waits for something that must happen (ms): far more
/// than it takes, so that a wait that runs out is a failure, not a slow
/// machine.
pub const WAIT_MS: u64 = 3000;

/// Maps a fresh zeroed page at `va`, writable, that stays shared with
/// the children forked after (`PteFlags::SHARE`). Panics if it cannot.
pub fn map_shared(va: usize) {
    if let Err(e) = sys_page_alloc(0, va, PTE_RW | PteFlags::SHARE) {
        panic!("sys_page_alloc: {e}");
    }
}

/// Unmaps the page at `va` (`map_shared`'s). Panics if it cannot.
pub fn unmap_shared(va: usize) {
    if let Err(e) = sys_page_unmap(0, va) {
        panic!("sys_page_unmap: {e}");
    }
}

/// One child's slot in a shared page.
#[repr(C)]
pub struct Slot {
    /// Bumped every round of the spin loop.
    pub heartbeat: AtomicU32,
    /// Held for most of a round of the spin loop.
    pub busy: AtomicU32,
    /// Rounds that found `busy` taken: the child ran on two CPUs at once.
    pub overlaps: AtomicU32,
    /// Free for the program's own use (progress, marks).
    pub stage: AtomicU32,
    /// Free for the program's own use (results, error codes).
    pub r1: AtomicU32,
    pub r2: AtomicU32,
    _pad: [u32; 2],
}

/// Slots in a page.
pub const NSLOTS: usize = abi::mmu::PGSIZE / core::mem::size_of::<Slot>();

/// Slot `i` of the shared page at `page`. Panics if `i >= NSLOTS`.
///
/// `page` must be a page mapped readable and writable for as long as the
/// slot is used, zeroed before first use (a Slot is valid when zero).
pub fn slot_at(page: usize, i: usize) -> &'static Slot {
    assert!(i < NSLOTS);
    // SAFETY: the caller maps `page` (see above); slot i lies inside it;
    // Slot is atomics and plain words, valid for any bytes.
    unsafe { &*(page as *const Slot).add(i) }
}

/// A spinner's life: no system calls, only its slot and registers.
pub fn spin_forever(sl: &Slot) -> ! {
    loop {
        if sl.busy.swap(1, SeqCst) != 0 {
            sl.overlaps.fetch_add(1, SeqCst);
        }
        sl.heartbeat.fetch_add(1, SeqCst);
        for _ in 0..64 {
            spin_loop();
        }
        sl.busy.store(0, SeqCst);
        spin_loop();
    }
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: rdtsc only reads the time-stamp counter.
    unsafe {
        core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Waits bounded by the time-stamp counter, calibrated against the
/// kernel's 10 ms timer ticks, so a broken kernel gives a failure rather
/// than a hang, without making system calls while waiting.
pub struct Clock {
    /// Time-stamp counter cycles per millisecond.
    pub per_ms: u64,
}

impl Clock {
    /// Measures the time-stamp counter against 5 timer ticks of env index
    /// `me` (its `env_runs` goes up each time the kernel runs it again,
    /// which with nothing else runnable is at every timer interrupt; read
    /// without a system call, which would count too).
    pub fn calibrate(me: usize) -> Clock {
        let runs = || env_read(me).env_runs;
        let r0 = runs();
        while runs() == r0 {
            spin_loop();
        }
        let (r1, t0) = (runs(), rdtsc());
        while runs().wrapping_sub(r1) < 5 {
            spin_loop();
        }
        Clock {
            per_ms: ((rdtsc() - t0) / 50).max(100_000),
        }
    }

    /// Waits until `cond` holds, at most `ms` milliseconds (spinning, no
    /// system calls); returns whether it held.
    pub fn wait(&self, ms: u64, cond: impl FnMut() -> bool) -> bool {
        self.wait_with(ms, spin_loop, cond)
    }

    /// Like `wait`, but gives up the CPU (`sys_yield`) between looks, so
    /// what it waits for can run on this CPU.
    pub fn wait_yielding(&self, ms: u64, cond: impl FnMut() -> bool) -> bool {
        self.wait_with(ms, jos::syscall::sys_yield, cond)
    }

    fn wait_with(
        &self,
        ms: u64,
        mut between: impl FnMut(),
        mut cond: impl FnMut() -> bool,
    ) -> bool {
        let end = rdtsc() + ms * self.per_ms;
        loop {
            if cond() {
                return true;
            }
            if rdtsc() > end {
                return false;
            }
            between();
        }
    }

    /// Spins for `ms` milliseconds.
    pub fn pause(&self, ms: u64) {
        self.wait(ms, || false);
    }

    /// Whether `sl`'s heartbeat stays still for 50 ms from now (its child
    /// runs no user code).
    pub fn still(&self, sl: &Slot) -> bool {
        let h = sl.heartbeat.load(SeqCst);
        self.pause(50);
        sl.heartbeat.load(SeqCst) == h
    }

    /// Whether `sl`'s heartbeat moves within `ms` milliseconds.
    pub fn alive(&self, sl: &Slot, ms: u64) -> bool {
        let h = sl.heartbeat.load(SeqCst);
        self.wait(ms, || sl.heartbeat.load(SeqCst) != h)
    }
}
