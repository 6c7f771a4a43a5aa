//! The scheduler (JOS's kern/sched.c): round robin over the Env array, in
//! index order, through the set of runnable envs (env::runnable_from).
use crate::arch::x86;
use crate::cpu::{self, CPU_HALTED};
use crate::{env, monitor, pmap};
use abi::env::*;
use core::sync::atomic::Ordering;

/// Runs the next runnable environment after the current one (wrapping
/// around), or the current one again if nothing else can run; halts this
/// CPU if nothing can. An env that is still another CPU's (stopped there
/// by a kick, not yet left) is not taken. Never returns. The kernel lock
/// must be held.
pub fn sched_yield() -> ! {
    let cur = cpu::curenv();
    // SAFETY: cur points into the Env array (or is null); the kernel lock is held.
    let start = if cur.is_null() {
        0
    } else {
        // SAFETY: cur is this CPU's env, in the Env array.
        envx(unsafe { (*cur).env_id }) + 1
    };
    // The runnable set is a bitmap: the cost follows the number of
    // runnable envs, not NENV.
    for i in env::runnable_from(start) {
        let e = env::env_at(i);
        if cpu::env_cpu_elsewhere(e).is_none() {
            env::env_run(e);
        }
    }
    // SAFETY: as above.
    if !cur.is_null() && unsafe { (*cur).env_status } == ENV_RUNNING {
        env::env_run(cur);
    }
    sched_halt();
}

/// Halts this CPU until an interrupt arrives. If no environment is left at
/// all, the first CPU to find so says so and enters the monitor (keeping
/// the kernel lock); any other CPU just halts, so there is one monitor.
pub fn sched_halt() -> ! {
    // Work is left while an env can run, or while another CPU is still in
    // a trap for its env (stopped there, it will want the lock: claiming
    // the monitor for good would leave that CPU spinning for ever).
    let any = (0..NENV).any(|i| {
        // SAFETY: the kernel lock is held.
        let s = unsafe { (*env::env_at(i)).env_status };
        s == ENV_RUNNABLE || s == ENV_RUNNING || s == ENV_DYING
    }) || cpu::any_env_elsewhere();
    if !any && monitor::claim() {
        cprintf!("No runnable environments in the system!\n");
        loop {
            monitor::monitor(None);
        }
    }
    cpu::set_curenv(core::ptr::null_mut());
    // SAFETY: kern_pgdir maps the kernel.
    unsafe { x86::lcr3(pmap::paddr(pmap::kern_pgdir() as usize)) };
    cpu::unlock_kernel();
    idle();
}

/// Halts this CPU (the kernel lock not held, no env) until an interrupt
/// arrives; the interrupt enters trap() as on a fresh CPU.
pub fn idle() -> ! {
    // SAFETY: this CPU's state is its own.
    unsafe {
        (*cpu::thiscpu())
            .cpu_status
            .store(CPU_HALTED, Ordering::SeqCst);
    }
    // Reset the stack (nothing on it is needed any more), enable interrupts
    // and wait.
    // SAFETY: esp0 in the TSS is the top of this CPU's kernel stack.
    unsafe {
        let top = (*cpu::thiscpu()).cpu_ts.esp0;
        core::arch::asm!(
            "movl $0, %ebp",
            "movl {0}, %esp",
            "pushl $0",
            "pushl $0",
            "sti",
            "2: hlt",
            "jmp 2b",
            in(reg) top,
            options(att_syntax, noreturn)
        );
    }
}
