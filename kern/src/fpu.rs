//! Each environment's x87 FPU state (not in JOS, whose environments share
//! the FPU: one env could read another's registers).
//!
//! The kernel is soft-float and never touches the FPU, so the FPU belongs
//! to whichever env runs. An env that has never executed an x87 instruction
//! runs with CR0.TS set: its first x87 instruction traps (#NM, "Device Not
//! Available"), and `first_use` gives it a fresh FPU from then on. From then
//! on its state is saved (`fnsave`) at every trap from user mode, before
//! the kernel lock is taken, and restored (`frstor`) by `env_run`, so it
//! never stays in a CPU the env has left, and it follows the env from CPU
//! to CPU. Envs that never use the FPU (every Rust program here: the target
//! is soft-float) pay nothing but the CR0.TS check.
//!
//! The saved states live here, in kernel memory, not in the Env (which
//! every user can read at UENVS). SSE stays off (CR4.OSFXSR clear), so
//! `fnsave` covers everything a user can reach.
use crate::arch::x86::{self, Cr0, FpuState};
use abi::env::{EnvId, NENV, envx};
use core::sync::atomic::{AtomicBool, Ordering};

/// One env's saved FPU state.
struct FpuSlot {
    /// The env has executed an x87 instruction (its state is in `state`).
    used: bool,
    state: FpuState,
}

/// Saved states, by env index.
static mut FPU: [FpuSlot; NENV] = [const {
    FpuSlot {
        used: false,
        state: FpuState([0; 108]),
    }
}; NENV];

/// The slot of env `id`.
///
/// Slot i is only touched by the CPU that runs env i (saving at trap entry,
/// restoring in env_run) or, under the kernel lock, for an env that runs
/// nowhere (env_alloc, fork): never by two CPUs at once.
fn slot(id: EnvId) -> *mut FpuSlot {
    // SAFETY: only the address is taken; envx(id) < NENV.
    unsafe { &raw mut FPU[envx(id)] }
}

/// Sets up this CPU's FPU control bits: x87 errors reported as #MF (NE),
/// WAIT traps too when TS is set (MP), no emulation (EM clear), and TS set
/// until an env that uses the FPU runs.
pub fn fpu_init_percpu() {
    let cr0 = x86::rcr0();
    // SAFETY: these bits only change how x87 instructions behave; the
    // kernel uses none.
    unsafe {
        x86::lcr0(
            (cr0 - Cr0::CR0_EMULATE_COPROCESSOR)
                | Cr0::CR0_MONITOR_COPROCESSOR
                | Cr0::CR0_NUMERIC_ERROR
                | Cr0::CR0_TASK_SWITCHED,
        )
    };
    // SAFETY: cpu_fpu_ts is this CPU's.
    unsafe {
        (*crate::cpu::thiscpu())
            .cpu_fpu_ts
            .store(true, Ordering::Relaxed)
    };
}

/// A new env starts without FPU state (its first x87 instruction gets a
/// fresh FPU).
pub fn env_reset(id: EnvId) {
    // SAFETY: the env is being created: no CPU runs it (see `slot`).
    unsafe { (*slot(id)).used = false };
}

/// Gives `child` a copy of `parent`'s FPU state (as fork copies memory).
/// `parent` is the caller of the system call, so its state was saved at
/// trap entry.
pub fn env_copy(parent: EnvId, child: EnvId) {
    // SAFETY: parent is this CPU's env, in the kernel; child runs nowhere.
    unsafe {
        let (used, state) = ((*slot(parent)).used, (*slot(parent)).state);
        (*slot(child)).used = used;
        (*slot(child)).state = state;
    }
}

/// At trap entry from user mode: saves the FPU state of env `id` (this CPU's
/// env) if it uses the FPU.
pub fn save(id: EnvId) {
    // SAFETY: id is this CPU's env; its slot is this CPU's (see `slot`).
    unsafe {
        let s = slot(id);
        if (*s).used {
            x86::fnsave(&mut (*s).state);
        }
    }
}

/// In env_run: loads the FPU state of env `id` if it uses the FPU (TS clear),
/// else sets TS so that its first x87 instruction traps. `ts` is this
/// CPU's record of CR0.TS (so that CR0 is only touched when TS changes).
pub fn restore(id: EnvId, ts: &AtomicBool) {
    // SAFETY: env id is about to run on this CPU; its slot is this CPU's.
    unsafe {
        let s = slot(id);
        if (*s).used {
            if ts.load(Ordering::Relaxed) {
                x86::clts();
                ts.store(false, Ordering::Relaxed);
            }
            x86::frstor(&(*s).state);
        } else if !ts.load(Ordering::Relaxed) {
            x86::stts();
            ts.store(true, Ordering::Relaxed);
        }
    }
}

/// #NM from user mode: env `id` (this CPU's) executed its first x87
/// instruction. It gets a freshly initialised FPU state, loaded when it
/// resumes. Returns false if it already had FPU state (the trap is then
/// not a first use, which cannot happen while TS follows `restore`).
pub fn first_use(id: EnvId) -> bool {
    // SAFETY: env id is this CPU's env; its slot is this CPU's.
    unsafe {
        let s = slot(id);
        if (*s).used {
            return false;
        }
        x86::clts();
        (*crate::cpu::thiscpu())
            .cpu_fpu_ts
            .store(false, Ordering::Relaxed);
        x86::fninit();
        x86::fnsave(&mut (*s).state);
        (*s).used = true;
    }
    true
}
