//! Waiting for time to pass (JOS's `sleep`, which lab 6's user/testtime.c
//! defines for itself): the kernel's millisecond clock (`sys_time_msec`)
//! and its timed wait (`sys_sleep_until`), so a sleeper takes no CPU.
use crate::syscall::{sys_sleep_until, sys_time_msec};

/// Sleeps at least `msec` milliseconds of the kernel's clock, giving the
/// CPU to other environments meanwhile (JOS's polls the clock and yields;
/// this one waits in the kernel, not runnable, until the clock gets there). Returns the milliseconds that
/// actually passed, at least `msec` (the clock moves in 10 ms steps).
/// Counts elapsed time, so the clock's wrap after 49 days does not end the
/// wait early or make it endless (JOS's panics there instead). Cannot fail.
pub fn sleep_msec(msec: u32) -> u32 {
    let start = sys_time_msec();
    loop {
        let passed = sys_time_msec().wrapping_sub(start);
        if passed >= msec {
            return passed;
        }
        // Asleep in the kernel, not spinning: woken by the clock (at most
        // 24 days at a time, so that the deadline is never read as past).
        let step = (msec - passed).min(i32::MAX as u32);
        sys_sleep_until(sys_time_msec().wrapping_add(step));
    }
}

/// Sleeps at least `sec` seconds (JOS's `sleep`); see [`sleep_msec`].
/// Returns the milliseconds that passed. A wait longer than the clock's
/// range (49 days) is cut to it. Cannot fail.
pub fn sleep(sec: u32) -> u32 {
    sleep_msec(sec.saturating_mul(1000))
}
