//! Kernel panics: print where and why, then sit in the monitor.
use crate::{arch::x86, console, cpu, monitor};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Set by the first panic; a panic while panicking only halts.
static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    x86::cli();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // SAFETY: we are already panicking; a garbled line beats a deadlock.
        unsafe { console::force_unlock() };
        cprintf!("kernel panic while panicking: {}\n", "halting");
        loop {
            x86::hlt();
        }
    }
    // SAFETY: the panicking CPU may have been interrupted mid-print; other
    // CPUs are not printing while the kernel is in the monitor.
    unsafe { console::force_unlock() };
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    {
        use core::fmt::Write;
        let mut w = console::lock();
        let _ = writeln!(
            w,
            "kernel panic on CPU {} at {}:{}: {}",
            cpu::cpunum(),
            file,
            line,
            info.message()
        );
    }
    PANICKING.store(false, Ordering::SeqCst);
    loop {
        monitor::monitor(None);
    }
}
