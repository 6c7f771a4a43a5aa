//! Senders blocked in sys_ipc_send, queued per receiver (first come, first
//! served): O(1) to join, to take the oldest, and to leave (a sender woken,
//! redirected or destroyed while it waits).
//!
//! Each receiver (by env index) has a doubly linked list of sender env
//! indices. A sender is in at most one queue, its receiver's, named by its
//! `env_ipc_send_to`, which the Env shows at UENVS. Kernel-private: the
//! links live here, not in the user-readable Env.
use abi::env::NENV;
use spin::Mutex;

/// No env (the end of a list).
const NONE: u16 = u16::MAX;
const _: () = assert!(NENV < NONE as usize);

struct Queues {
    /// First and last sender waiting for receiver i.
    head: [u16; NENV],
    tail: [u16; NENV],
    /// Neighbours of sender i in its receiver's queue.
    next: [u16; NENV],
    prev: [u16; NENV],
}

static QUEUES: Mutex<Queues> = Mutex::new(Queues {
    head: [NONE; NENV],
    tail: [NONE; NENV],
    next: [NONE; NENV],
    prev: [NONE; NENV],
});

/// Puts sender `s` at the end of receiver `r`'s queue. `s` must be in no
/// queue.
pub fn push(r: usize, s: usize) {
    let mut q = QUEUES.lock();
    let t = q.tail[r];
    q.prev[s] = t;
    q.next[s] = NONE;
    if t == NONE {
        q.head[r] = s as u16;
    } else {
        q.next[t as usize] = s as u16;
    }
    q.tail[r] = s as u16;
}

/// Takes the sender that has waited longest for receiver `r`, if any.
pub fn pop(r: usize) -> Option<usize> {
    let h = QUEUES.lock().head[r];
    if h == NONE {
        return None;
    }
    remove(r, h as usize);
    Some(h as usize)
}

/// Takes sender `s` out of receiver `r`'s queue, wherever it is. `s` must
/// be in that queue.
pub fn remove(r: usize, s: usize) {
    let mut q = QUEUES.lock();
    let (p, n) = (q.prev[s], q.next[s]);
    if p == NONE {
        q.head[r] = n;
    } else {
        q.next[p as usize] = n;
    }
    if n == NONE {
        q.tail[r] = p;
    } else {
        q.prev[n as usize] = p;
    }
    q.next[s] = NONE;
    q.prev[s] = NONE;
}
