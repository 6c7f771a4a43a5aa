//! Per-CPU state (JOS's struct CpuInfo) and the big kernel lock.
//!
//! Each CPU has its own current environment, TSS and double-fault TSS. The
//! kernel lock serialises all kernel code that touches environments, page
//! tables and the scheduler: taken on entry from user mode, released just
//! before returning to user mode or halting. The lock itself, and the
//! guard that proves it is held, are in `klock.rs`.
use crate::arch::gdt::Taskstate;
use abi::env::Env;
use abi::memlayout::NCPU;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// CPU states.
pub const CPU_UNUSED: u32 = 0;
/// The CPU is running.
pub const CPU_STARTED: u32 = 1;
/// The CPU halted (no runnable environment).
pub const CPU_HALTED: u32 = 2;

/// What the kernel keeps per CPU.
#[repr(C)]
pub struct CpuInfo {
    /// The CPU's local APIC id.
    pub cpu_id: u8,
    /// CPU_UNUSED, CPU_STARTED or CPU_HALTED.
    pub cpu_status: AtomicU32,
    /// The environment running on this CPU, or null (read and written
    /// through the guard: `Kernel::curenv`).
    pub cpu_env: *mut Env,
    /// The task state: the ring-0 stack for traps from user mode.
    pub cpu_ts: Taskstate,
    /// The double-fault task.
    pub cpu_dfts: Taskstate,
    /// The CPU is in user mode (or about to be: between env_run's unlock and
    /// its iret). Cleared at trap entry from user mode before the kernel lock
    /// is taken, after the env's registers are saved: see `kick`.
    pub cpu_in_user: AtomicBool,
    /// Another CPU changed the address space of this CPU's env while it was
    /// stopped by `kick`: flush the TLB before returning to user mode.
    pub cpu_tlb_stale: AtomicBool,
    /// CR0.TS is set on this CPU (kept here so env_run need not read CR0).
    pub cpu_fpu_ts: AtomicBool,
    /// Timer interrupts this CPU has taken (wrapping).
    pub cpu_ticks: AtomicU32,
    /// `cpu_ticks` when env_run last switched this CPU to an env: the
    /// start of its time slice (see sched::sched_tick).
    pub cpu_slice_start: AtomicU32,
}

/// All CPUs' state, indexed by CPU number.
pub static mut CPUS: [CpuInfo; NCPU] = [const {
    CpuInfo {
        cpu_id: 0,
        cpu_status: AtomicU32::new(CPU_UNUSED),
        cpu_env: core::ptr::null_mut(),
        cpu_ts: Taskstate::new(),
        cpu_dfts: Taskstate::new(),
        cpu_in_user: AtomicBool::new(false),
        cpu_tlb_stale: AtomicBool::new(false),
        cpu_fpu_ts: AtomicBool::new(false),
        cpu_ticks: AtomicU32::new(0),
        cpu_slice_start: AtomicU32::new(0),
    }
}; NCPU];

/// Number of CPUs found.
pub static NCPUS: AtomicUsize = AtomicUsize::new(1);

/// Records the CPUs that were found (`apic_ids`: their local APIC ids, CPU 0
/// first): each id in CPUS and in the LAPIC driver's id-to-number table,
/// and their number in NCPUS. With no ids, there stays one CPU, number 0.
/// Boot time only, before the LAPIC is set up and any AP runs.
pub fn set_cpus(apic_ids: impl Iterator<Item = u8>) {
    let mut n = 0;
    for (i, id) in apic_ids.enumerate() {
        // SAFETY: boot time, one CPU: nothing else uses CPUS.
        unsafe { (*cpu(i)).cpu_id = id };
        crate::smp::lapic::set_index(id, i);
        n = i + 1;
    }
    if n > 0 {
        NCPUS.store(n, Ordering::Relaxed);
    }
}

/// This CPU's number: its index in CPUS (the boot CPU is 0).
///
/// On a CPU's own kernel stack (everything after boot), the stack pointer
/// says which CPU this is: CPU i's stack is the i-th KSTKSIZE + KSTKGAP
/// slot below KSTACKTOP. That costs no LAPIC read (a memory-mapped
/// register, slow under emulation), and the kernel asks often. Elsewhere
/// (the boot stack, the AP trampoline's, the double-fault task's) the
/// LAPIC says.
/// (Inlined: the kernel asks on every path, and the stack test is a few
/// instructions; the LAPIC read stays out of line.)
#[inline]
pub fn cpunum() -> usize {
    match abi::memlayout::kstack_cpu(crate::arch::x86::read_esp()) {
        Some(c) => c,
        None => cpunum_lapic(),
    }
}

/// cpunum off the kernel stacks: the LAPIC says (boot and AP start only).
#[cold]
#[inline(never)]
fn cpunum_lapic() -> usize {
    crate::smp::lapic::cpunum()
}

/// This CPU's state.
#[inline]
pub fn thiscpu() -> *mut CpuInfo {
    // SAFETY: only the address is taken; cpunum() < NCPU.
    unsafe { &raw mut CPUS[cpunum()] }
}

/// CPU `i`'s state.
#[inline]
pub fn cpu(i: usize) -> *mut CpuInfo {
    // SAFETY: only the address is taken; callers pass i < NCPU.
    unsafe { &raw mut CPUS[i] }
}
