//! `thisenv` and `exit`.
use crate::syscall;
use abi::env::{Env, NENV, envx};
use abi::memlayout::UENVS;

/// Index of this environment in `envs`, set at start-up.
static mut THISENV: usize = 0;

/// The read-only Env array the kernel maps at UENVS.
pub fn envs() -> &'static [Env] {
    // SAFETY: the kernel maps NENV Envs read-only at UENVS in every address space.
    unsafe { core::slice::from_raw_parts(UENVS as *const Env, NENV) }
}

/// Points `thisenv` at our slot of `envs` (also after fork, in the child).
pub fn init() {
    let id = syscall::sys_getenvid();
    // SAFETY: single-threaded per environment; only written here.
    unsafe { THISENV = envx(id) };
}

/// This environment's Env record (read-only, kept current by the kernel).
pub fn thisenv() -> &'static Env {
    // SAFETY: THISENV is a valid index, written once at start-up.
    &envs()[unsafe { THISENV }]
}

/// Ends this environment.
pub fn exit() -> ! {
    let _ = syscall::sys_env_destroy(0);
    unreachable!("sys_env_destroy(0) returned");
}
