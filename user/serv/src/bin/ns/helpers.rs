//! The server's helper environments (JOS's net/timer.c, input.c,
//! output.c), forked at start. Each is a child of the server and talks to
//! it alone.
use abi::env::EnvId;
use abi::nsipc::NSREQ_TIMER;
use jos::cprintf;
use jos::syscall::sys_ipc_send;

/// Milliseconds between the timer's ticks.
pub const TICK_MS: u32 = 10;

/// Forks the timer: it sends NSREQ_TIMER to `ns` every TICK_MS, for ever
/// (and exits when `ns` is gone). Returns its id, or None (with a message)
/// if it cannot be made.
pub fn start_timer(ns: EnvId) -> Option<EnvId> {
    match jos::fork() {
        Ok(0) => loop {
            jos::time::sleep_msec(TICK_MS);
            if sys_ipc_send(
                ns,
                NSREQ_TIMER,
                abi::memlayout::UTOP,
                abi::mmu::PteFlags::empty(),
            )
            .is_err()
            {
                jos::exit();
            }
        },
        Ok(id) => Some(id),
        Err(e) => {
            cprintf!("ns: no timer: {}\n", e);
            None
        }
    }
}

/// The input helper (the card's frames to `ns`): not there until the
/// driver is (issue 23's E1000 branch). Returns its id.
pub fn start_input(_ns: EnvId) -> Option<EnvId> {
    None
}

/// The output helper (frames from `ns` to the card): not there until the
/// driver is. Returns its id.
pub fn start_output(_ns: EnvId) -> Option<EnvId> {
    None
}

/// Calls `f` with each word of the kernel's command line (none until the
/// kernel shows it to user space).
pub fn for_each_karg(_f: impl FnMut(&str)) {}
