//! The big kernel lock, as a type.
//!
//! [`Kernel`] is the proof that this CPU holds the kernel lock. Only
//! [`lock_kernel`] makes one (at trap entry, when an AP starts, at boot;
//! and the unsafe `Kernel::assume_held` for a trap in the kernel), and the
//! trap, system-call and scheduler paths pass it down as `&mut Kernel`.
//! Whatever the lock guards is reached through it:
//!
//! - an env is named by an [`EnvRef`], a copyable handle (a pointer into
//!   the Env array), and `k[e]` borrows the Env from the guard;
//! - an env's page directory is `k.pgdir(e)` / `k.pgdir_mut(e)`;
//! - other kernel-wide state lives in a [`KCell`], whose contents only a
//!   guard can borrow (the IPC waits and send queues, `ipc.rs`).
//!
//! So code that touches envs or page tables without the lock does not
//! compile, and one `&mut Env` at a time is what the borrow checker allows.
//! The guard is zero-sized and an `EnvRef` is a pointer: it costs nothing
//! at run time, provided the small accessors below inline (they are marked
//! `#[inline]`: the kernel is built in many codegen units, where a call to
//! `index_mut` for every `k[e]` would cost a tenth of a null system call).
use crate::cpu;
use crate::pmap::{self, PageTable};
use abi::env::*;
use abi::error::{Error, Result};
use core::cell::UnsafeCell;
use core::convert::Infallible;
use core::marker::PhantomData;
use core::ops::{Index, IndexMut};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Holding the kernel lock. Not `Copy` or `Clone`, not `Send`: one per
/// lock acquisition, on the CPU that took it.
pub struct Kernel {
    _not_send: PhantomData<*mut ()>,
}

/// An environment: a slot of the Env array (free or not). Made from an
/// index below NENV (`EnvRef::at`) or from the running env; compare two for
/// "the same slot". Reading or writing the Env needs the guard: `k[e]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EnvRef(NonNull<Env>);

impl EnvRef {
    /// The Env in slot `i` (panics unless `i < NENV`).
    #[inline]
    pub fn at(i: usize) -> EnvRef {
        assert!(i < NENV);
        // SAFETY: i is inside the Env array, which is not at address 0.
        EnvRef(unsafe { NonNull::new_unchecked(pmap::envs_array().add(i)) })
    }

    /// The env at `p`, which must point into the Env array (trap entry's
    /// this-CPU env, read before the lock is taken: no second cpunum).
    ///
    /// # Safety
    /// `p` points at an Env of the array.
    #[inline]
    pub unsafe fn from_raw(p: NonNull<Env>) -> EnvRef {
        EnvRef(p)
    }

    /// The slot's index in the Env array.
    #[inline]
    pub fn index(self) -> usize {
        (self.0.as_ptr() as usize - pmap::envs_array() as usize) / size_of::<Env>()
    }

    /// The Env's address (for code that must reach it without the lock:
    /// trap entry, for this CPU's own env, and env_init at boot).
    #[inline]
    pub fn as_ptr(self) -> *mut Env {
        self.0.as_ptr()
    }
}

impl Index<EnvRef> for Kernel {
    type Output = Env;
    #[inline]
    fn index(&self, e: EnvRef) -> &Env {
        // SAFETY: e points into the Env array (EnvRef::at, or a CPU's
        // cpu_env, which is one of those). The guard proves the kernel lock
        // is held, and Envs are only reached through a guard, so nothing
        // writes this Env while &self is borrowed.
        unsafe { e.0.as_ref() }
    }
}

impl IndexMut<EnvRef> for Kernel {
    #[inline]
    fn index_mut(&mut self, e: EnvRef) -> &mut Env {
        // SAFETY: as in index; &mut self makes this borrow the only one.
        unsafe { &mut *e.0.as_ptr() }
    }
}

/// Kernel-wide state that only the holder of the kernel lock may touch (the
/// guard-checked cousin of rCore's `UPSafeCell`).
pub struct KCell<T>(UnsafeCell<T>);

// SAFETY: the contents are reached only through `get`/`get_mut`, which need
// the guard: one CPU at a time, the kernel lock ordering the accesses.
unsafe impl<T> Sync for KCell<T> {}

impl<T> KCell<T> {
    /// A cell holding `v`.
    #[inline]
    pub const fn new(v: T) -> Self {
        KCell(UnsafeCell::new(v))
    }

    /// Borrows the contents for as long as the guard is borrowed.
    #[inline]
    pub fn get<'a>(&'a self, _k: &'a Kernel) -> &'a T {
        // SAFETY: the guard is held (see the Sync impl); no &mut exists while
        // the guard is borrowed shared.
        unsafe { &*self.0.get() }
    }

    /// Borrows the contents mutably for as long as the guard is.
    #[inline]
    pub fn get_mut<'a>(&'a self, _k: &'a mut Kernel) -> &'a mut T {
        // SAFETY: the guard is held and borrowed mutably: this is the only
        // borrow of the contents.
        unsafe { &mut *self.0.get() }
    }
}

// ---------------------------------------------------------------------------
// The lock.

static KERNEL_LOCK: AtomicBool = AtomicBool::new(false);
/// Which CPU holds the lock (for `holding_kernel_lock`), or u32::MAX.
static HOLDER: AtomicU32 = AtomicU32::new(u32::MAX);

/// Acquires the kernel lock and returns its guard; panics if this CPU
/// already holds it.
pub fn lock_kernel() -> Kernel {
    let me = cpu::cpunum() as u32;
    assert!(
        HOLDER.load(Ordering::Relaxed) != me || !KERNEL_LOCK.load(Ordering::Relaxed),
        "lock_kernel: CPU {me} already holds the kernel lock"
    );
    while KERNEL_LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    HOLDER.store(me, Ordering::Relaxed);
    Kernel {
        _not_send: PhantomData,
    }
}

/// Whether this CPU holds the kernel lock.
#[inline]
pub fn holding_kernel_lock() -> bool {
    KERNEL_LOCK.load(Ordering::Relaxed) && HOLDER.load(Ordering::Relaxed) == cpu::cpunum() as u32
}

impl Kernel {
    /// The guard of a lock this CPU holds already: for a trap from kernel
    /// mode (a breakpoint or debug trap in the kernel, which goes to the
    /// monitor). Panics if this CPU does not hold the lock.
    ///
    /// # Safety
    /// The code the trap interrupted never runs again with its own guard
    /// (the trap goes on to user mode or the scheduler, never back).
    pub unsafe fn assume_held() -> Kernel {
        assert!(holding_kernel_lock(), "no kernel lock held");
        Kernel {
            _not_send: PhantomData,
        }
    }

    /// Releases the kernel lock, then runs `f`, which never returns (it
    /// goes to user mode, halts, or runs the monitor; `Infallible` has no
    /// values): nothing can use the guard afterwards. Panics if this CPU
    /// does not hold the lock.
    #[inline(always)]
    pub fn unlock_then(&mut self, f: impl FnOnce() -> Infallible) -> ! {
        assert!(
            holding_kernel_lock(),
            "unlock_kernel: CPU {} does not hold the kernel lock",
            cpu::cpunum()
        );
        HOLDER.store(u32::MAX, Ordering::Relaxed);
        KERNEL_LOCK.store(false, Ordering::Release);
        match f() {}
    }

    // -----------------------------------------------------------------------
    // Envs.

    /// The environment running on this CPU, if any.
    #[inline]
    pub fn curenv(&self) -> Option<EnvRef> {
        // SAFETY: each CPU only reads and writes its own cpu_env.
        NonNull::new(unsafe { (*cpu::thiscpu()).cpu_env }).map(EnvRef)
    }

    /// The environment running on this CPU, in a system call or a trap from
    /// user mode (panics if there is none).
    #[inline]
    pub fn cur(&self) -> EnvRef {
        self.curenv().expect("no current environment")
    }

    /// Sets the environment running on this CPU.
    #[inline]
    pub fn set_curenv(&mut self, e: Option<EnvRef>) {
        let p = e.map_or(core::ptr::null_mut(), EnvRef::as_ptr);
        // SAFETY: each CPU only reads and writes its own cpu_env.
        unsafe { (*cpu::thiscpu()).cpu_env = p };
    }

    /// The other CPU (not this one) whose current environment is `e`, if
    /// any. Such an env belongs to that CPU: it may be executing user code
    /// there, and its registers and TLB entries live in that CPU.
    #[inline]
    pub fn cpu_elsewhere(&self, e: EnvRef) -> Option<usize> {
        let me = cpu::cpunum();
        (0..cpu::NCPUS.load(Ordering::Relaxed)).find(|&c| {
            // SAFETY: cpu_env only changes under the kernel lock, held here.
            c != me && core::ptr::eq(unsafe { (*cpu::cpu(c)).cpu_env }, e.as_ptr())
        })
    }

    /// Whether another CPU (not this one) has a current env.
    pub fn any_env_elsewhere(&self) -> bool {
        let me = cpu::cpunum();
        (0..cpu::NCPUS.load(Ordering::Relaxed)).any(|c| {
            // SAFETY: cpu_env only changes under the kernel lock, held here.
            c != me && !unsafe { (*cpu::cpu(c)).cpu_env }.is_null()
        })
    }

    /// Converts an env id to an Env. Id 0 means the current environment.
    /// With `checkperm`, the env must be the current one or its child.
    /// Returns Err(BadEnv) for a free slot, a dying env (destroyed while
    /// running on another CPU: it is gone for every purpose, only not freed
    /// yet), a stale id, or a permission failure.
    #[inline]
    pub fn envid2env(&self, envid: EnvId, checkperm: bool) -> Result<EnvRef> {
        let cur = self.curenv();
        if envid == 0 {
            return cur.ok_or(Error::BadEnv);
        }
        let e = EnvRef::at(envx(envid));
        let env = &self[e];
        if matches!(env.env_status, ENV_FREE | ENV_DYING) || env.env_id != envid {
            return Err(Error::BadEnv);
        }
        if checkperm && Some(e) != cur && cur.is_none_or(|c| env.env_parent_id != self[c].env_id) {
            return Err(Error::BadEnv);
        }
        Ok(e)
    }

    /// Whether `c`'s parent still exists (a dying parent counts: it strands
    /// its children when it is freed). An env made by the kernel has none.
    #[inline]
    pub fn parent_alive(&self, c: EnvRef) -> bool {
        let pid = self[c].env_parent_id;
        if pid == 0 {
            return false;
        }
        let p = &self[EnvRef::at(envx(pid))];
        p.env_id == pid && p.env_status != ENV_FREE
    }

    /// Sets `e`'s status, keeping the runnable set in step.
    #[inline]
    pub fn set_status(&mut self, e: EnvRef, status: u32) {
        self[e].env_status = status;
        let i = envx(self[e].env_id);
        let bit = 1u32 << (i % 32);
        if status == ENV_RUNNABLE {
            RUNNABLE[i / 32].fetch_or(bit, Ordering::Relaxed);
        } else {
            RUNNABLE[i / 32].fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// The indices of runnable envs, in round-robin order from index
    /// `start` (those at or after it, then those before it).
    pub fn runnable_from(&self, start: usize) -> impl Iterator<Item = usize> + use<> {
        let start = start % NENV;
        let words = NENV / 32;
        // Word start/32 twice: its bits at or after `start` first, the ones
        // before it last.
        (0..=words).flat_map(move |k| {
            let w = (start / 32 + k) % words;
            let mut bits = RUNNABLE[w].load(Ordering::Relaxed);
            let lo = start % 32;
            if k == 0 {
                bits &= !0u32 << lo;
            } else if k == words {
                bits &= !(!0u32 << lo);
            }
            core::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(w * 32 + b)
            })
        })
    }

    /// Stops CPU `c` from executing user code: if it is in user mode, sends it
    /// an inter-processor interrupt (T_KICK) and waits until it has entered the
    /// kernel. On return, CPU `c` saved its env's registers (and FPU state) in
    /// the Env and is waiting for the kernel lock, which the caller holds, so
    /// it runs no user instruction until the caller releases the lock; when it
    /// gets the lock it sees whatever the caller changed (a dying env, a new
    /// trap frame, a new status). With `flush_tlb`, it also reloads CR3 before
    /// it returns to user mode (the caller changed its env's page tables).
    /// `c` must not be this CPU.
    pub fn kick(&self, c: usize, flush_tlb: bool) {
        assert!(c != cpu::cpunum(), "kick: CPU {c} is this CPU");
        // SAFETY: only the address is taken; the fields are atomics.
        let ci = unsafe { &*cpu::cpu(c) };
        // Ordering: c sets cpu_in_user before it releases the kernel lock
        // (env_run) and we read it after taking that lock, so we see it; c
        // clears it (Release) only after saving its env's registers, so once we
        // see it clear (Acquire) we see them. c reads cpu_tlb_stale after it
        // takes the lock we release.
        if flush_tlb {
            ci.cpu_tlb_stale.store(true, Ordering::Relaxed);
        }
        if !ci.cpu_in_user.load(Ordering::Acquire) {
            return;
        }
        crate::smp::lapic::lapic_ipi(ci.cpu_id, abi::trap::T_KICK);
        while ci.cpu_in_user.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
    }

    // -----------------------------------------------------------------------
    // Page directories.

    /// The page directory of `e` (which must have one: not a free slot).
    #[inline]
    pub fn pgdir(&self, e: EnvRef) -> &PageTable {
        let pd = self[e].env_pgdir as usize as *const PageTable;
        assert!(!pd.is_null(), "env without a page directory");
        // SAFETY: env_pgdir is a page-directory page the kernel allocated
        // for e (env_setup_vm) and reaches only through the guard.
        unsafe { &*pd }
    }

    /// The page directory of `e`, to change it.
    #[inline]
    pub fn pgdir_mut(&mut self, e: EnvRef) -> &mut PageTable {
        let pd = self[e].env_pgdir as usize as *mut PageTable;
        assert!(!pd.is_null(), "env without a page directory");
        // SAFETY: as in pgdir; &mut self makes this borrow the only one.
        unsafe { &mut *pd }
    }
}

/// The envs whose status is ENV_RUNNABLE, one bit per env index: the
/// scheduler finds the next one without looking at every env. Changed only
/// through `Kernel::set_status`.
static RUNNABLE: [AtomicU32; NENV / 32] = [const { AtomicU32::new(0) }; NENV / 32];
