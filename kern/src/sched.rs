//! The scheduler (JOS's kern/sched.c): round robin over the Env array, in
//! index order, through the set of runnable envs (Kernel::runnable_from).
//! A timer tick moves on only from an env that has had a whole tick period
//! (sched_tick).
use crate::arch::x86;
use crate::cpu::{self, CPU_HALTED};
use crate::klock::{EnvRef, Kernel};
use crate::{env, ipc, monitor, pmap};
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

/// A timer interrupt on this CPU: runs the next runnable env if the one
/// running here has had its time slice, that is, has held this CPU since
/// before the previous tick (a whole tick period at least, so a slice is
/// one to two periods); else returns, and it goes on.
///
/// JOS's kern/trap.c yields at every tick, however briefly the env has
/// run: an env switched to just before a tick (or with the tick pending
/// while the kernel switched to it, delivered at its first instruction)
/// lost the CPU again at once, having done nothing with it. Under a loaded
/// host, where QEMU's clock runs on while its CPU thread waits, ticks land
/// there often. Such a preemption is pure cost, and it broke the order of
/// turns that a program yielding often relies on: testshell's lsfd, which
/// writes a byte into a full pipe each time its reader takes one, was
/// stopped between its last byte and its look at the pipe (see
/// user/jos/src/bin/testshell.rs).
pub fn sched_tick(k: &mut Kernel) {
    // SAFETY: this CPU's own state; the fields used are atomics.
    let c = unsafe { &*cpu::thiscpu() };
    let now = c.cpu_ticks.load(Ordering::Relaxed).wrapping_add(1);
    c.cpu_ticks.store(now, Ordering::Relaxed);
    if now.wrapping_sub(c.cpu_slice_start.load(Ordering::Relaxed)) >= 2 {
        sched_yield(k);
    }
}

/// Halts this CPU until an interrupt arrives. If no environment is left
/// that could ever run again, the first CPU to find so says so and enters
/// the monitor (keeping the kernel lock); any other CPU just halts, so
/// there is one monitor.
pub fn sched_halt(k: &mut Kernel) -> ! {
    // Work is left while an env can run, or while another CPU is still in
    // a trap for its env (stopped there, it will want the lock: claiming
    // the monitor for good would leave that CPU spinning for ever), or
    // while an env waits for a device (the network card): its interrupt
    // will wake it, so the machine is idle, not finished, and halts with
    // interrupts on. (Envs that only wait for each other in IPC can never
    // run again: that is the end.)
    let any = ipc::device_waiters(k)
        || (0..NENV).any(|i| {
            let s = k[EnvRef::at(i)].env_status;
            s == ENV_RUNNABLE || s == ENV_RUNNING || s == ENV_DYING
        })
        || k.any_env_elsewhere();
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
