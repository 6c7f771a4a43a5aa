//! Servers first: a program the kernel starts at boot (`run=`) is held, not
//! runnable, until every server the kernel started at boot (`fs=`: an env
//! of a type other than ENV_TYPE_USER) is serving, that is, has waited for
//! its first request (`sys_ipc_recv`), or is gone.
//!
//! Why: a server prints its start-up checks (the file server's `superblock
//! is good` ...). Run beside it, a program's console lines would interleave
//! with them in an order that depends on the timer and on how busy the host
//! is; held, its output starts once the servers have said all they say at
//! start. A client would wait for the server's first answer anyway.
//!
//! No user env can delay anyone with this: only envs the kernel creates at
//! boot are servers here or held, and until the servers serve, no other env
//! exists to run. A server that dies before it serves releases the held
//! programs as its first request would.
use crate::klock::{EnvRef, KCell, Kernel};
use abi::env::{ENV_NOT_RUNNABLE, ENV_RUNNABLE, EnvId};

/// Boot servers and boot programs this tracks (more start unheld).
const MAX: usize = 4;

/// The state, under the kernel lock. A 0 id is an empty slot.
struct Hold {
    /// Boot servers not yet serving.
    starting: [EnvId; MAX],
    /// Boot programs waiting for them.
    held: [EnvId; MAX],
}

static HOLD: KCell<Hold> = KCell::new(Hold {
    starting: [0; MAX],
    held: [0; MAX],
});

/// Puts `id` in the first empty slot of `set`; returns false if none is.
fn insert(set: &mut [EnvId; MAX], id: EnvId) -> bool {
    match set.iter_mut().find(|s| **s == 0) {
        Some(s) => {
            *s = id;
            true
        }
        None => false,
    }
}

/// Records that `e`, just created at boot, is a server: programs created
/// at boot after it are held until it serves.
pub fn server_created(k: &mut Kernel, e: EnvRef) {
    let id = k[e].env_id;
    insert(&mut HOLD.get_mut(k).starting, id);
}

/// Holds `e`, a program just created at boot, if a boot server is still
/// starting: `e` is not runnable until the last one serves (or is gone).
pub fn program_created(k: &mut Kernel, e: EnvRef) {
    let id = k[e].env_id;
    let h = HOLD.get_mut(k);
    if h.starting.iter().all(|&s| s == 0) || !insert(&mut h.held, id) {
        return;
    }
    k.set_status(e, ENV_NOT_RUNNABLE);
}

/// Notes that env `id` waits for a request (sys_ipc_recv) or is being
/// freed: if it was the last boot server still starting, the held programs
/// become runnable. An env being freed is also no longer held. Cheap when
/// nothing is held (every receive calls it).
pub fn serving(k: &mut Kernel, id: EnvId) {
    // 0 marks an empty slot, never an env.
    if id == 0 {
        return;
    }
    let h = HOLD.get_mut(k);
    for s in h.held.iter_mut().filter(|s| **s == id) {
        *s = 0;
    }
    let Some(s) = h.starting.iter_mut().find(|s| **s == id) else {
        return;
    };
    *s = 0;
    if h.starting.iter().any(|&s| s != 0) {
        return;
    }
    let held = core::mem::replace(&mut h.held, [0; MAX]);
    for id in held.into_iter().filter(|&id| id != 0) {
        if let Ok(e) = k.envid2env(id, false)
            && k[e].env_status == ENV_NOT_RUNNABLE
        {
            k.set_status(e, ENV_RUNNABLE);
        }
    }
}

/// Whether `e` is a boot program still held (not runnable, yet not
/// stranded: see env_free).
pub fn is_held(k: &Kernel, e: EnvRef) -> bool {
    let id = k[e].env_id;
    id != 0 && HOLD.get(k).held.contains(&id)
}
