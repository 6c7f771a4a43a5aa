//! Progress of long work: a program that runs for more than a few seconds
//! (a sort bigger than memory, a large copy, filling the disk) prints a line
//! every [`PROGRESS_MS`] of time, so a person sees that it is still going
//! and how far it got. The clock is the kernel's (`sys_time_msec`); what a
//! line says is the program's.
//!
//! ```ignore
//! let mut p = Progress::start();
//! for page in 0..npages {
//!     work(page);
//!     if p.due() {
//!         cprintf!("copy: {} s, {} of {} pages\n", p.secs(), page + 1, npages);
//!     }
//! }
//! ```
//!
//! `due` is one system call: a loop calls it every page or so, not every
//! element.
use crate::syscall::sys_time_msec;

/// Milliseconds between two progress lines.
pub const PROGRESS_MS: u32 = 2000;

/// The clock of one piece of long work (see the module's comment).
pub struct Progress {
    /// When the work started (`sys_time_msec`).
    start: u32,
    /// When the next line is due.
    next: u32,
}

impl Progress {
    /// Starts the clock: the first line is due [`PROGRESS_MS`] from now.
    pub fn start() -> Progress {
        let now = sys_time_msec();
        Progress {
            start: now,
            next: now.wrapping_add(PROGRESS_MS),
        }
    }

    /// Whether a progress line is due now; if so, the next is due
    /// [`PROGRESS_MS`] later (not earlier: a pause does not bring a burst
    /// of lines).
    pub fn due(&mut self) -> bool {
        let now = sys_time_msec();
        // Wrapping: the difference is negative until `next` is reached.
        if (now.wrapping_sub(self.next) as i32) < 0 {
            return false;
        }
        self.next = now.wrapping_add(PROGRESS_MS);
        true
    }

    /// Whole seconds since `start`.
    pub fn secs(&self) -> u32 {
        sys_time_msec().wrapping_sub(self.start) / 1000
    }
}
