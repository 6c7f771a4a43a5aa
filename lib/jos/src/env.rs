//! `envs`, `thisenv` and `exit`.
//!
//! The kernel maps its Env array read-only at UENVS in every address space.
//! JOS keeps `thisenv` in a global variable set at start-up and again in a
//! fork child; that breaks under `sfork`, where parent and child share their
//! data pages. So here `thisenv()` asks the kernel who we are on every call
//! (one cheap system call) and is right in every environment.
use crate::syscall;
use abi::env::{Env, EnvId, NENV, envx};
use abi::memlayout::UENVS;

/// The read-only Env array the kernel maps at UENVS.
///
/// The kernel changes some fields while we run (`env_status`,
/// `env_cpunum`, `env_ipc_*`); read those with [`env_read`], which does not
/// let the compiler reuse an earlier value.
pub fn envs() -> &'static [Env] {
    // SAFETY: the kernel maps NENV Envs read-only at UENVS in every address
    // space, for the whole life of the environment.
    unsafe { core::slice::from_raw_parts(UENVS as *const Env, NENV) }
}

/// This environment's Env record (`&envs[ENVX(sys_getenvid())]`).
pub fn thisenv() -> &'static Env {
    &envs()[envx(syscall::sys_getenvid())]
}

/// Returns a fresh copy of `envs[idx]` read from memory now (volatile), for
/// the fields the kernel changes under us. Panics if `idx >= NENV`.
pub fn env_read(idx: usize) -> Env {
    let e: *const Env = &envs()[idx];
    // SAFETY: `e` points into the mapped, aligned Env array.
    unsafe { core::ptr::read_volatile(e) }
}

/// Returns a fresh copy of this environment's Env record (see [`env_read`]).
pub fn thisenv_read() -> Env {
    env_read(envx(syscall::sys_getenvid()))
}

/// Returns the current status of environment `id` (`ENV_FREE` once it is
/// gone, including when its slot was reused by another environment).
pub fn env_status(id: EnvId) -> u32 {
    let e = env_read(envx(id));
    if e.env_id == id {
        e.env_status
    } else {
        abi::env::ENV_FREE
    }
}

/// Ends this environment. Never returns.
pub fn exit() -> ! {
    let _ = syscall::sys_env_destroy(0);
    unreachable!("sys_env_destroy(0) returned");
}
