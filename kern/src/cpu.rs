//! Per-CPU state (JOS's struct CpuInfo) and the big kernel lock.
//!
//! Each CPU has its own current environment, TSS and double-fault TSS. The
//! kernel lock serialises all kernel code that touches environments, page
//! tables and the scheduler: taken on entry from user mode, released just
//! before returning to user mode or halting.
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
    /// The environment running on this CPU, or null.
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
pub fn cpunum() -> usize {
    abi::memlayout::kstack_cpu(crate::arch::x86::read_esp())
        .unwrap_or_else(crate::smp::lapic::cpunum)
}

/// This CPU's state.
pub fn thiscpu() -> *mut CpuInfo {
    // SAFETY: only the address is taken; cpunum() < NCPU.
    unsafe { &raw mut CPUS[cpunum()] }
}

/// CPU `i`'s state.
pub fn cpu(i: usize) -> *mut CpuInfo {
    // SAFETY: only the address is taken; callers pass i < NCPU.
    unsafe { &raw mut CPUS[i] }
}

/// The environment running on this CPU (null if none).
pub fn curenv() -> *mut Env {
    // SAFETY: each CPU only reads and writes its own cpu_env.
    unsafe { (*thiscpu()).cpu_env }
}

/// Sets the environment running on this CPU.
pub fn set_curenv(e: *mut Env) {
    // SAFETY: each CPU only reads and writes its own cpu_env.
    unsafe { (*thiscpu()).cpu_env = e };
}

/// The other CPU (not this one) whose current environment is `e`, if any.
/// Such an env belongs to that CPU: it may be executing user code there,
/// and its registers and TLB entries live in that CPU. The kernel lock
/// must be held (every cpu_env changes under it).
pub fn env_cpu_elsewhere(e: *const Env) -> Option<usize> {
    let me = cpunum();
    (0..NCPUS.load(Ordering::Relaxed)).find(|&c| {
        // SAFETY: cpu_env only changes under the kernel lock, which we hold.
        c != me && core::ptr::eq(unsafe { (*cpu(c)).cpu_env }, e)
    })
}

/// Whether another CPU (not this one) has a current env. The kernel lock
/// must be held.
pub fn any_env_elsewhere() -> bool {
    let me = cpunum();
    (0..NCPUS.load(Ordering::Relaxed)).any(|c| {
        // SAFETY: cpu_env only changes under the kernel lock, which we hold.
        c != me && !unsafe { (*cpu(c)).cpu_env }.is_null()
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
/// The kernel lock must be held, and `c` must not be this CPU.
pub fn kick(c: usize, flush_tlb: bool) {
    assert!(c != cpunum(), "kick: CPU {c} is this CPU");
    // SAFETY: only the address is taken; the fields are atomics.
    let ci = unsafe { &*cpu(c) };
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

// ---------------------------------------------------------------------------
// The big kernel lock.

static KERNEL_LOCK: AtomicBool = AtomicBool::new(false);
/// Which CPU holds the lock (for `holding_kernel_lock`), or u32::MAX.
static HOLDER: AtomicU32 = AtomicU32::new(u32::MAX);

/// Acquires the kernel lock; panics if this CPU already holds it.
pub fn lock_kernel() {
    let me = cpunum() as u32;
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
}

/// Releases the kernel lock; panics if this CPU does not hold it.
pub fn unlock_kernel() {
    assert!(
        holding_kernel_lock(),
        "unlock_kernel: CPU {} does not hold the kernel lock",
        cpunum()
    );
    HOLDER.store(u32::MAX, Ordering::Relaxed);
    KERNEL_LOCK.store(false, Ordering::Release);
}

/// Whether this CPU holds the kernel lock.
pub fn holding_kernel_lock() -> bool {
    KERNEL_LOCK.load(Ordering::Relaxed) && HOLDER.load(Ordering::Relaxed) == cpunum() as u32
}
