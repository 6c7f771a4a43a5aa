//! Inter-process communication (JOS's lib/ipc.c): one 32-bit value and,
//! optionally, one page per message, sent to an environment blocked in
//! `ipc_recv`.
use crate::env::{envs, thisenv_id};
use crate::syscall::{
    sys_ipc_call, sys_ipc_recv, sys_ipc_recv_from, sys_ipc_send, sys_ipc_try_send,
};
use abi::env::{EnvId, envx};
use abi::error::Result;
use abi::memlayout::UTOP;
use abi::mmu::PteFlags;

/// A received message: the value, the sender's id, and the permissions of
/// the page mapped with it (empty if no page came).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// The 32-bit value sent.
    pub value: u32,
    /// The sender's env id.
    pub from: EnvId,
    /// Permissions of the page received at the requested address; empty if
    /// none was sent (or none was asked for).
    pub perm: PteFlags,
}

/// Waits for a message. If `pg` is `Some(va)`, a page sent with the message
/// is mapped at `va` (page-aligned, below UTOP); with None, no page is
/// accepted (UTOP is passed to the kernel, as in JOS).
///
/// Err(Inval) for an unaligned `pg` (from the kernel).
pub fn ipc_recv(pg: Option<usize>) -> Result<Message> {
    sys_ipc_recv(pg.unwrap_or(UTOP))?;
    Ok(last_message())
}

/// The message the kernel filled in our Env record before running us
/// again.
fn last_message() -> Message {
    // Three fields, not a copy of the whole Env (a volatile copy of a
    // struct that size is a long run of loads and stores).
    let me = envx(thisenv_id());
    Message {
        value: crate::env_field!(me, env_ipc_value),
        from: crate::env_field!(me, env_ipc_from),
        perm: PteFlags::from_bits_retain(crate::env_field!(me, env_ipc_perm)),
    }
}

/// Waits for a message from `from` alone (a closed receive; others'
/// messages wait their turn); a page sent with it goes at `pg` as for
/// [`ipc_recv`].
///
/// Err(BadEnv) if `from` does not exist or is freed before it sends,
/// Err(Inval) for an unaligned `pg` or `from` ourselves.
pub fn ipc_recv_from(from: EnvId, pg: Option<usize>) -> Result<Message> {
    sys_ipc_recv_from(pg.unwrap_or(UTOP), from)?;
    Ok(last_message())
}

/// Sends a request to a server and waits for its answer, in one system
/// call: `value` (and the page at `pg`, if Some, with `perm`) goes to `to`
/// as [`ipc_send`] sends it, and the answer is taken from `to` alone (a
/// page in it mapped at `reply_pg`). We are waiting from the moment the
/// request is taken, so a server may answer with [`ipc_try_send`] and
/// never wait for us; no other env can answer in its place (L4's call).
///
/// Err(BadEnv) if `to` does not exist or is freed before it answers (a
/// dead server), Err(Inval) for a bad page or `to` ourselves, Err(NoMem)
/// when a page cannot be mapped.
pub fn ipc_call(
    to: EnvId,
    value: u32,
    pg: Option<usize>,
    perm: PteFlags,
    reply_pg: Option<usize>,
) -> Result<Message> {
    sys_ipc_call(
        to,
        value,
        pg.unwrap_or(UTOP),
        perm,
        reply_pg.unwrap_or(UTOP),
    )?;
    Ok(last_message())
}

/// Sends `value` (and the page at `pg`, if Some, with `perm`) to `to`,
/// waiting until `to` receives it. The kernel queues blocked senders and
/// serves them in order, so several senders flooding one receiver all get
/// through (JOS's version spun on `sys_ipc_try_send` and `sys_yield`, which
/// lets one sender starve the others).
///
/// Panics on any error (a bad env, a bad page, out of memory), like JOS.
pub fn ipc_send(to: EnvId, value: u32, pg: Option<usize>, perm: PteFlags) {
    if let Err(e) = sys_ipc_send(to, value, pg.unwrap_or(UTOP), perm) {
        panic!("ipc_send to {to:08x}: {e}");
    }
}

/// Like `ipc_send`, but without waiting: Err(IpcNotRecv) if `to` is not
/// receiving right now (JOS's `sys_ipc_try_send`, for polling loops).
pub fn ipc_try_send(to: EnvId, value: u32, pg: Option<usize>, perm: PteFlags) -> Result<()> {
    sys_ipc_try_send(to, value, pg.unwrap_or(UTOP), perm)
}

/// Returns the id of the first environment of type `env_type` (e.g.
/// `ENV_TYPE_FS`), or None if there is none.
pub fn ipc_find_env(env_type: u32) -> Option<EnvId> {
    envs()
        .iter()
        .find(|e| e.env_type == env_type && e.env_status != abi::env::ENV_FREE)
        .map(|e| e.env_id)
}
