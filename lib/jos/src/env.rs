//! `envs`, `thisenv`, and `exit` with its `atexit` list.
//!
//! The kernel maps its Env array read-only at UENVS in every address space.
//! Like JOS's `thisenv`, our env id is kept in a variable, set at start-up
//! and written by `fork` into a child's copy (a child made some other way
//! finds the copy is not its own and asks the kernel once), so finding
//! ourselves costs no system call. The variable lives in the
//! `.perenv` section, its own pages, which `sfork` keeps copy-on-write
//! while it shares the rest of the data: each env sees its own id.
use crate::syscall;
use abi::env::{Env, EnvId, NENV, envx};
use abi::memlayout::UENVS;
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// Our env id (0 until `refresh_thisenv` first runs).
#[unsafe(link_section = ".perenv")]
static THISENV_ID: AtomicI32 = AtomicI32::new(0);

/// Records our env id, asking the kernel: at start-up, and whenever
/// [`thisenv_id`] finds the cached one is not ours (a child of
/// `sys_exofork` that did not get its id from `fork`).
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
/// physical address). A child started some other way than by libmain or
/// `fork` (a bare `sys_exofork` child, or new registers from
/// set_trapframe in a copied image) would otherwise see its parent's id;
/// then the kernel is asked.
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
    // Two fields, not the whole Env (this runs on every thisenv_id, so on
    // every ipc_recv).
    let (eid, pgdir) = (
        crate::env_field!(envx(id), env_id),
        crate::env_field!(envx(id), env_pgdir),
    );
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

/// Reads field `$field` of `envs[$idx]` from memory now (volatile), for the
/// fields the kernel changes under us, without copying the rest of the Env
/// (as [`env_read`] does). Panics if `$idx >= NENV`.
#[macro_export]
macro_rules! env_field {
    ($idx:expr, $field:ident) => {{
        let e: *const $crate::abi::env::Env = &$crate::env::envs()[$idx];
        // SAFETY: `e` points into the Env array the kernel maps read-only
        // at UENVS for our whole life; the field is aligned.
        unsafe { ::core::ptr::read_volatile(&raw const (*e).$field) }
    }};
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
    // The status first: a slot freed and reused after it was read shows
    // another id, so a status is never taken for the wrong env.
    let status = crate::env_field!(envx(id), env_status);
    if crate::env_field!(envx(id), env_id) == id {
        status
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
    crate::env_field!(envx(thisenv_id()), env_runs)
}

/// Most functions [`atexit`] takes.
const MAX_ATEXIT: usize = 8;

/// The functions [`exit`] runs, as addresses of `fn()`s (0: a free slot).
/// Atomics, not an `EnvCell`: that would make this module depend on the
/// copy-on-write code the cell uses, which depends on `thisenv`.
static ATEXIT: [AtomicUsize; MAX_ATEXIT] = [const { AtomicUsize::new(0) }; MAX_ATEXIT];

/// Has [`exit`] run `f` before it destroys the environment, after those
/// registered before it: `libmain` registers `fd::close_all` first (JOS's
/// `exit` closes every file descriptor, so a file's last writes are flushed
/// and a pipe's other end sees it closed); swap registers the release of
/// its slots when first used. Registering `f` again does nothing. A fork
/// child inherits the list.
///
/// Err(NoMem) if the list is full; `f` is then not registered.
pub fn atexit(f: fn()) -> abi::error::Result<()> {
    let addr = f as usize;
    if ATEXIT.iter().any(|s| s.load(Ordering::Relaxed) == addr) {
        return Ok(());
    }
    ATEXIT
        .iter()
        .find(|s| {
            s.compare_exchange(0, addr, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })
        .map(|_| ())
        .ok_or(abi::error::Error::NoMem)
}

/// Ends this environment: runs the [`atexit`] functions in the order they
/// were registered, then destroys it. Never returns.
pub fn exit() -> ! {
    for slot in &ATEXIT {
        let addr = slot.load(Ordering::Relaxed);
        if addr != 0 {
            // SAFETY: a non-zero slot holds the address of a `fn()`, stored
            // by `atexit` from one (fn pointers and usize have one size).
            let f = unsafe { core::mem::transmute::<usize, fn()>(addr) };
            f();
        }
    }
    let _ = syscall::sys_env_destroy(0);
    unreachable!("sys_env_destroy(0) returned");
}
