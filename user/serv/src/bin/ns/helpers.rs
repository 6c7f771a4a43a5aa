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

/// Forks the input helper (the card's frames to `ns`, `jos::net::input`).
/// Returns its id, or None (with a message) if it cannot be made.
pub fn start_input(ns: EnvId) -> Option<EnvId> {
    spawn_helper("input", || jos::net::input(ns))
}

/// Forks the output helper (frames from `ns` to the card,
/// `jos::net::output`). Returns its id, or None.
pub fn start_output(ns: EnvId) -> Option<EnvId> {
    spawn_helper("output", || jos::net::output(ns))
}

/// Forks a child running `body`, which exits when it returns.
fn spawn_helper(name: &str, body: impl FnOnce()) -> Option<EnvId> {
    match jos::fork() {
        Ok(0) => {
            body();
            jos::exit();
        }
        Ok(id) => Some(id),
        Err(e) => {
            cprintf!("ns: no {} helper: {}\n", name, e);
            None
        }
    }
}

/// Calls `f` with each word of the kernel's command line.
pub fn for_each_karg(mut f: impl FnMut(&str)) {
    let k = jos::kargs::kargs();
    k.as_str().split_ascii_whitespace().for_each(&mut f);
}

/// Makes every copy-on-write page of ours (data, bss, heap, stack: what
/// fork shared with the helpers) private and writable, so the server's
/// writes never fault for a page later. Returns quietly; a page that
/// cannot be copied now (out of memory at start) is said on the console
/// and stays copy-on-write.
pub fn make_pages_private() {
    let _ = jos::fork::for_each_user_page(|va, pte| {
        if pte.flags().contains(abi::mmu::PteFlags::COW)
            && let Err(e) = jos::vm::cow::make_private(va, pte)
        {
            cprintf!("ns: page {:08x} stays copy-on-write: {}\n", va, e);
        }
        Ok(())
    });
}
