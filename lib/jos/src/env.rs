//! `envs`, `thisenv` and `exit`.
//!
//! The kernel maps its Env array read-only at UENVS in every address space.
//! Like JOS's `thisenv`, our env id is kept in a variable, set at start-up
//! and again in every child `sys_exofork` makes (the wrapper does it), so
//! finding ourselves costs no system call. The variable lives in the
//! `.perenv` section, its own pages, which `sfork` keeps copy-on-write
//! while it shares the rest of the data: each env sees its own id.
use crate::syscall;
use abi::env::{Env, EnvId, NENV, envx};
use abi::memlayout::UENVS;
use core::sync::atomic::{AtomicI32, Ordering};

/// Our env id (0 until `refresh_thisenv` first runs).
#[unsafe(link_section = ".perenv")]
static THISENV_ID: AtomicI32 = AtomicI32::new(0);

/// Records our env id, asking the kernel: at start-up, and in a child just
/// made by `sys_exofork`.
pub fn refresh_thisenv() {
    THISENV_ID.store(syscall::sys_getenvid(), Ordering::Relaxed);
}

/// The address of the variable holding our env id (in a `.perenv` page),
/// for fork to fill in a child's copy.
pub(crate) fn thisenv_slot() -> usize {
    THISENV_ID.as_ptr() as usize
}

/// Our env id, without a system call.
///
/// The cached id is checked first, for free: the Env it names must have
/// our page directory (the one UVPT maps, whose own entry holds its
/// physical address). A program started some other way than by libmain or
/// the sys_exofork wrapper (e.g. new registers from set_trapframe, in a
/// copied image) would otherwise see its parent's id; then the kernel is
/// asked.
pub fn thisenv_id() -> EnvId {
    let id = THISENV_ID.load(Ordering::Relaxed);
    if id != 0 && is_us(id) {
        return id;
    }
    refresh_thisenv();
    THISENV_ID.load(Ordering::Relaxed)
}

/// Whether env `id`'s page directory is ours.
fn is_us(id: EnvId) -> bool {
    use abi::memlayout::{KERNBASE, UVPT};
    let e: *const Env = &envs()[envx(id)];
    // SAFETY: `e` points into the mapped Env array; only two fields are
    // read (this runs on every thisenv_id, so on every ipc_recv).
    let (eid, pgdir) = unsafe {
        (
            core::ptr::read_volatile(&raw const (*e).env_id),
            core::ptr::read_volatile(&raw const (*e).env_pgdir),
        )
    };
    let ours = crate::uvpt::uvpd(abi::mmu::pdx(UVPT)).addr();
    eid == id && (pgdir as usize).wrapping_sub(KERNBASE) == ours
}

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

/// This environment's Env record (`&envs[ENVX(thisenv_id())]`).
pub fn thisenv() -> &'static Env {
    &envs()[envx(thisenv_id())]
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
    env_read(envx(thisenv_id()))
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

/// Waits (giving up the CPU) until environment `id` is gone: freed, or its
/// slot reused by another (JOS's lib/wait.c `wait`).
pub fn wait(id: EnvId) {
    while env_status(id) != abi::env::ENV_FREE {
        syscall::sys_yield();
    }
}

/// How many times the kernel has started running us (our Env's
/// `env_runs`, read now): it changes whenever we were interrupted and
/// resumed, so two equal readings around some code mean it ran without
/// another environment running on our CPU in between.
pub fn thisenv_runs() -> u32 {
    let e: *const Env = thisenv();
    // SAFETY: `e` points into the mapped Env array; one field is read,
    // volatile, since the kernel changes it under us.
    unsafe { core::ptr::read_volatile(&raw const (*e).env_runs) }
}

/// Ends this environment: closes every file descriptor (as JOS's `exit`
/// does, so a file's last writes are flushed and a pipe's other end sees
/// it closed), then destroys it. Never returns.
pub fn exit() -> ! {
    crate::fd::close_all();
    crate::vm::swap::release();
    let _ = syscall::sys_env_destroy(0);
    unreachable!("sys_env_destroy(0) returned");
}
