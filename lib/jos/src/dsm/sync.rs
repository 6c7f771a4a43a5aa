//! Locks and barriers built on the shared memory itself: an atomic
//! exchange on a page this machine may write is atomic across machines
//! too, because the protocol lets only one machine write a page at a time
//! (the exchange's write fault brings the page here, writable, before the
//! instruction runs again). Waiting spins on a read copy, which costs no
//! message until the holder writes (and the copy is invalidated).
//!
//! Place each lock with the data it guards, on one page: taking the lock
//! then brings the data along.
use crate::syscall::sys_yield;
use core::sync::atomic::{AtomicU32, Ordering};

/// Types that may live in the shared range (any bytes are a valid value:
/// a fresh range is all zeros).
pub trait Shared {}

/// A spin lock in shared memory (zero: free).
#[repr(C)]
pub struct Lock(AtomicU32);

impl Shared for Lock {}
impl Shared for AtomicU32 {}

impl Lock {
    /// Takes the lock, waiting (on a read copy, giving the CPU away) while
    /// another machine or environment holds it.
    pub fn lock(&self) {
        while self.0.swap(1, Ordering::Acquire) != 0 {
            while self.0.load(Ordering::Relaxed) != 0 {
                sys_yield();
            }
        }
    }

    /// Gives the lock back.
    pub fn unlock(&self) {
        self.0.store(0, Ordering::Release);
    }
}

/// A barrier in shared memory for a fixed number of parties (zero: fresh).
#[repr(C)]
pub struct Barrier {
    lock: Lock,
    /// Arrivals in the current round.
    count: AtomicU32,
    /// Rounds completed.
    round: AtomicU32,
}

impl Shared for Barrier {}

impl Barrier {
    /// Waits until `parties` callers (one per machine, say) have called
    /// `wait` in this round.
    pub fn wait(&self, parties: u32) {
        self.lock.lock();
        let round = self.round.load(Ordering::Relaxed);
        let n = self.count.load(Ordering::Relaxed) + 1;
        if n == parties {
            self.count.store(0, Ordering::Relaxed);
            self.round.store(round.wrapping_add(1), Ordering::Release);
            self.lock.unlock();
            return;
        }
        self.count.store(n, Ordering::Relaxed);
        self.lock.unlock();
        while self.round.load(Ordering::Acquire) == round {
            sys_yield();
        }
    }
}
