//! The scheduler (JOS's kern/sched.c): round robin over the Env array, in
//! index order, through the set of runnable envs (Kernel::runnable_from).
use crate::arch::x86;
use crate::cpu::{self, CPU_HALTED};
use crate::klock::{EnvRef, Kernel};
use crate::{env, monitor, pmap};
use abi::env::*;
use core::sync::atomic::Ordering;

/// Runs the next runnable environment after the current one (wrapping
/// around), or the current one again if nothing else can run; halts this
/// CPU if nothing can. An env that is still another CPU's (stopped there
/// by a kick, not yet left) is not taken. Never returns.
pub fn sched_yield(k: &mut Kernel) -> ! {
    let cur = k.curenv();
    let start = cur.map_or(0, |c| envx(k[c].env_id) + 1);
    // The runnable set is a bitmap: the cost follows the number of
    // runnable envs, not NENV.
    for i in k.runnable_from(start) {
        let e = EnvRef::at(i);
        if k.cpu_elsewhere(e).is_none() {
            env::env_run(k, e);
        }
    }
    if let Some(c) = cur
        && k[c].env_status == ENV_RUNNING
    {
        env::env_run(k, c);
    }
    sched_halt(k);
}

/// Halts this CPU until an interrupt arrives. If no environment is left at
/// all, the first CPU to find so says so and enters the monitor (keeping
/// the kernel lock); any other CPU just halts, so there is one monitor.
pub fn sched_halt(k: &mut Kernel) -> ! {
    // Work is left while an env can run, or while another CPU is still in
    // a trap for its env (stopped there, it will want the lock: claiming
    // the monitor for good would leave that CPU spinning for ever).
    let any = (0..NENV).any(|i| {
        let s = k[EnvRef::at(i)].env_status;
        s == ENV_RUNNABLE || s == ENV_RUNNING || s == ENV_DYING
    }) || k.any_env_elsewhere();
    if !any && monitor::claim() {
        cprintf!("No runnable environments in the system!\n");
        loop {
            monitor::monitor(None);
        }
    }
    k.set_curenv(None);
    // SAFETY: kern_pgdir maps the kernel.
    unsafe { x86::lcr3(pmap::paddr(pmap::kern_pgdir() as usize)) };
    k.unlock_then(|| idle())
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
