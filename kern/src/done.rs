//! The end of the boot program (the kernel word `exitdone`): once the
//! program the kernel started at boot (`run=`) and every env it started are
//! gone, the kernel prints `exitdone: the boot program and its envs have
//! exited` and resets the machine, which ends QEMU (the GNUmakefile runs it
//! with -no-reboot).
//!
//! Why: a program that runs with the network server never reaches the
//! monitor, since the server and its helpers wait for frames for ever; a
//! machine that runs it never says it is finished. Two machines booted
//! side by side (scripts/pair.py) end this way, each when its own program
//! has.
//!
//! What is left at the end is servers: the envs of a type other than
//! ENV_TYPE_USER and the envs below them in the env tree (their helpers).
//! Everything else is the boot program's: it or an env below it, or below
//! one of its envs that has exited (the tree link of an env whose ancestors
//! are all gone is 0, and it is of type ENV_TYPE_USER).
use crate::arch::x86;
use crate::klock::{EnvRef, Kernel};
use crate::{boot_info, env};
use abi::env::{ENV_FREE, NENV};
use core::sync::atomic::{AtomicBool, Ordering};

/// Set once the line is printed: it is printed once.
static DONE: AtomicBool = AtomicBool::new(false);
/// Set once the boot program exists, with `exitdone` on the command line
/// (read once, here, not at every env's end): before, the envs freed are a
/// failed load's (a server's or the program's, out of memory at boot), and
/// the program has not ended, since it never began.
static ARMED: AtomicBool = AtomicBool::new(false);

/// The boot program was created: with `exitdone`, from now on the end of
/// the last env outside the servers' is the end of the boot program.
pub fn program_started() {
    if boot_info::get().flag("exitdone") {
        ARMED.store(true, Ordering::Relaxed);
    }
}

/// Called after an env is freed: with `exitdone` on the command line and a
/// boot program started, if no env other than the servers' is left, prints the
/// line and resets the machine (through the keyboard controller, as a PC
/// reboots). Returns if the reset does not happen (no controller).
pub fn env_freed(k: &Kernel) {
    if DONE.load(Ordering::Relaxed) || !ARMED.load(Ordering::Relaxed) {
        return;
    }
    let left = (0..NENV)
        .map(EnvRef::at)
        .any(|e| k[e].env_status != ENV_FREE && !env::server_side(k, e));
    if left {
        return;
    }
    DONE.store(true, Ordering::Relaxed);
    cprintf!("exitdone: the boot program and its envs have exited\n");
    // SAFETY: 0xFE to the 8042's command port pulses the CPU's reset line;
    // nothing is in flight that must survive it.
    unsafe { x86::outb(0x64, 0xFE) };
}
