//! Jobs and Ctrl-C: the policy over two kernel mechanisms.
//!
//! - The console's *controller* (`sys_cons_ctl`): the env a typed Ctrl-C is
//!   kept for, instead of being queued as a character. The interactive
//!   shell takes the role at each prompt and before each job
//!   ([`take_console`]); while it reads its own line, a Ctrl-C reaches it
//!   as the character 0x03 (the line editor then throws the line away);
//!   while it waits for a job, it asks ([`interrupted`]) and stops the job.
//!   With no controller (a program booted alone, or run by a script), 0x03
//!   is an ordinary character. Any env may take the role (as a Unix
//!   program may ignore SIGINT); the kernel keeps a short stack of those
//!   that took it, so when one releases it or exits (an `sh` run from the
//!   shell), the one before it (the shell) is the controller again.
//! - The env tree (`sys_env_destroy_tree`): an env may destroy any env
//!   below it, with all of that one's descendants, at once; the kernel
//!   takes the whole tree under its lock, so nothing in it can fork a new
//!   env meanwhile. A job is the tree below the env the shell forked for
//!   the command line: that env forks for each `|` and spawns the
//!   programs, so every env of the pipeline is in it, even one whose
//!   creator has exited (the kernel moves it up to the nearest ancestor
//!   still there).
//!
//! Neither lets an env touch anything outside its own tree: only the
//! kernel raises a Ctrl-C, from a key typed, and only for the controller.
use crate::env::{env_status, wait};
use crate::syscall::{sys_cons_ctl, sys_env_destroy_tree, sys_yield};
use abi::env::{ENV_FREE, EnvId};
use abi::error::Result;
use abi::syscall::{CONS_CTL_OWNER, CONS_CTL_POLL, CONS_CTL_RELEASE, CONS_CTL_TAKE};

/// Makes us the console's controller (see the module comment), in place of
/// any other env. Cannot fail.
pub fn take_console() {
    let _ = sys_cons_ctl(CONS_CTL_TAKE);
}

/// Stops being the console's controller, if we are. Cannot fail.
pub fn release_console() {
    let _ = sys_cons_ctl(CONS_CTL_RELEASE);
}

/// Whether we are the console's controller. Cannot fail.
pub fn owns_console() -> bool {
    sys_cons_ctl(CONS_CTL_OWNER) == Ok(1)
}

/// Whether a Ctrl-C was typed for us (the controller) since we last asked;
/// the kernel then threw away what was typed before it. Always false when
/// we are not the controller.
pub fn interrupted() -> bool {
    sys_cons_ctl(CONS_CTL_POLL) == Ok(1)
}

/// Destroys env `id` and everything below it in the env tree (see the
/// module comment). Returns how many envs were destroyed; Err(BadEnv) if
/// `id` is gone or was never below us.
pub fn kill_tree(id: EnvId) -> Result<u32> {
    sys_env_destroy_tree(id)
}

/// How a job ended, for [`wait_job`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEnd {
    /// Its env went by itself.
    Done,
    /// A Ctrl-C came first: the job was destroyed, all of it.
    Stopped,
}

/// Waits (giving up the CPU) until env `id`, a job's first env (below us
/// in the env tree), is gone, as [`wait`] does; but if a Ctrl-C is typed
/// for us meanwhile (we are the console's controller), destroys the job
/// first: `id` and every env below it. Returns which happened.
pub fn wait_job(id: EnvId) -> JobEnd {
    while env_status(id) != ENV_FREE {
        if interrupted() {
            let _ = kill_tree(id);
            // Destroyed while running on another CPU, it is freed there.
            wait(id);
            return JobEnd::Stopped;
        }
        sys_yield();
    }
    JobEnd::Done
}
