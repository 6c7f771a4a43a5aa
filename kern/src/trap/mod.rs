//! Traps: the IDT, the dispatcher, page faults and their upcalls, and
//! double faults (JOS's kern/trap.c).
//!
//! Every trap, interrupt and system call enters through `entry` and reaches
//! `trap(tf)`. A trap from user mode is copied into the current Env, so the
//! Env always holds its latest registers, and leaves the kernel through
//! `env_run` (or the scheduler picks someone else).
pub mod entry;
pub mod frame;

use crate::arch::gdt::{self, Taskstate};
use crate::arch::x86::{self, EFlags};
use crate::cpu::{self, CPU_HALTED, CPU_STARTED};
use crate::klock::{self, EnvRef, Kernel};
use crate::{env, monitor, pmap, sched, syscall};
use ::x86::Ring;
use ::x86::dtables::{self, DescriptorTablePointer};
use ::x86::segmentation::{
    BuildDescriptor, Descriptor, DescriptorBuilder, GateDescriptorBuilder, SegmentSelector,
    TaskGateDescriptorBuilder,
};
use abi::env::{ENV_DYING, ENV_RUNNING};
use abi::memlayout::*;
use abi::mmu::{PGSIZE, PteFlags};
use abi::trap::*;
use core::sync::atomic::Ordering;

pub use frame::print_trapframe;

/// An IDT with 256 gates.
#[repr(C, align(8))]
struct Idt([Descriptor; 256]);

/// One IDT per CPU: they differ only in the double-fault task gate.
static mut IDTS: [Idt; NCPU] = [const { Idt([Descriptor::NULL; 256]) }; NCPU];

/// Stacks for the double-fault tasks.
const DF_STACK_SIZE: usize = 4 * PGSIZE;
#[repr(C, align(4096))]
struct DfStacks([[u8; DF_STACK_SIZE]; NCPU]);
static mut DF_STACKS: DfStacks = DfStacks([[0; DF_STACK_SIZE]; NCPU]);

/// An interrupt gate to `handler` in the kernel code segment: interrupts
/// stay off in the handler (the kernel runs with them off). `dpl` is the
/// lowest privilege allowed to `int` to it.
fn interrupt_gate(handler: usize, dpl: Ring) -> Descriptor {
    let kt = SegmentSelector::from_raw(GD_KT);
    <DescriptorBuilder as GateDescriptorBuilder<u32>>::interrupt_descriptor(kt, handler as u32)
        .present()
        .dpl(dpl)
        .finish()
}

/// A task gate: the CPU switches to the task `tss_sel` names.
fn task_gate(tss_sel: u16) -> Descriptor {
    DescriptorBuilder::task_gate_descriptor(SegmentSelector::from_raw(tss_sel))
        .present()
        .dpl(Ring::Ring0)
        .finish()
}

/// Which vectors get a gate, and from which privilege level `int` may use
/// them. Everything else has no gate, so `int $n` from user mode is a
/// General Protection fault.
fn gate_dpl(v: usize) -> Option<Ring> {
    match v as u32 {
        T_BRKPT | T_SYSCALL => Some(Ring::Ring3),
        T_KICK => Some(Ring::Ring0),
        0..=T_SIMDERR => Some(Ring::Ring0),
        v if (IRQ_OFFSET..IRQ_OFFSET + 16).contains(&v) => Some(Ring::Ring0),
        _ => None,
    }
}

/// Sets up this CPU's TSS, double-fault task and IDT, and loads them.
/// Called on every CPU, after `gdt_init_percpu`.
pub fn trap_init_percpu() {
    let i = cpu::cpunum();
    let c = cpu::cpu(i);
    // SAFETY: each CPU only initializes its own CpuInfo, TSS slots and IDT,
    // once, before taking any trap.
    unsafe {
        // (Both TSSs start as Taskstate::new(), whose I/O map base is past
        // the TSS: no I/O bitmap.)
        let ts: &mut Taskstate = &mut (*c).cpu_ts;
        ts.esp0 = kstacktop(i) as u32;
        ts.ss0 = GD_KD;

        let df: &mut Taskstate = &mut (*c).cpu_dfts;
        let stack_top = (&raw const DF_STACKS.0[i]) as usize + DF_STACK_SIZE;
        df.eip = double_fault_task as *const () as u32;
        df.esp = stack_top as u32;
        df.ebp = 0;
        df.cs = GD_KT;
        df.ds = GD_KD;
        df.es = GD_KD;
        df.ss = GD_KD;
        df.fs = GD_KD;
        df.gs = GD_KD;
        df.cr3 = pmap::paddr(pmap::kern_pgdir() as usize) as u32;
        df.eflags = EFlags::new().bits(); // only the always-one bit 1

        gdt::set_tss(gdt::gd_tss(i), &raw const (*c).cpu_ts);
        gdt::set_tss(gdt::gd_dftss(i), &raw const (*c).cpu_dfts);
        gdt::ltr(gdt::gd_tss(i));

        let idt = &mut IDTS[i];
        for v in 0..entry::NVECTORS {
            if let Some(dpl) = gate_dpl(v) {
                idt.0[v] = interrupt_gate(entry::trap_vectors[v], dpl);
            }
        }
        idt.0[T_DBLFLT as usize] = task_gate(gdt::gd_dftss(i));

        dtables::lidt(&DescriptorTablePointer::<Descriptor> {
            limit: (size_of::<Idt>() - 1) as u16,
            base: idt.0.as_ptr(),
        });
    }
}

/// The double-fault task: entered through a task gate with a fresh stack,
/// so even a kernel stack overflow ends in a readable panic. The faulting
/// state is what the CPU saved in this CPU's ordinary TSS.
extern "C" fn double_fault_task() -> ! {
    // SAFETY: the CPU saved the interrupted task's registers in cpu_ts; we
    // only read them.
    let ts = unsafe { (*cpu::thiscpu()).cpu_ts };
    // (The TSS is packed: copy its fields out before formatting them.)
    let (eip, esp, ebp) = (ts.eip, ts.esp as usize, ts.ebp);
    cprintf!(
        "double fault: eip {:08x} esp {:08x} ebp {:08x} cr2 {:08x}\n",
        eip,
        esp,
        ebp,
        x86::rcr2()
    );
    if let Some(cpu) = kstack_cpu(esp)
        && esp < kstacktop(cpu) - KSTKSIZE
    {
        cprintf!(
            "  (esp is in the guard gap below CPU {}'s kernel stack: a kernel stack overflow)\n",
            cpu
        );
    }
    panic!("double fault");
}

/// Where every trap lands (called by `_alltraps` with the frame it built).
#[unsafe(no_mangle)]
extern "C" fn trap(tf: *mut Trapframe) -> ! {
    // The ABI wants the direction flag clear; user code may have set it.
    // SAFETY: cld only changes the direction flag.
    unsafe { core::arch::asm!("cld", options(nomem, nostack)) };

    // SAFETY: tf points at the frame _alltraps built on this CPU's stack.
    let ktf: &mut Trapframe = unsafe { &mut *tf };
    let trapno = ktf.tf_trapno;
    // Interrupts from the LAPIC are acknowledged at once, whatever path
    // this trap takes next (a dying env is freed without dispatching).
    if trapno == IRQ_OFFSET + IRQ_TIMER || trapno == T_KICK {
        crate::smp::lapic::lapic_eoi();
    }
    // The clock (sys_time_msec) counts one CPU's ticks, as JOS's lab 6 does.
    if trapno == IRQ_OFFSET + IRQ_TIMER && cpu::cpunum() == 0 {
        crate::time::time_tick();
    }

    // A CPU that halted in sched_halt wakes up here without the lock.
    // SAFETY: cpu_status belongs to this CPU.
    // (Only this CPU writes its status after boot: no atomic swap needed.)
    let status = unsafe { &(*cpu::thiscpu()).cpu_status };
    let was = status.load(Ordering::Relaxed);
    if was != CPU_STARTED {
        status.store(CPU_STARTED, Ordering::Relaxed);
    }
    let halted = was == CPU_HALTED;
    if halted {
        // With the monitor running on another CPU for good, there is
        // nothing for this one to do: it keeps halting (taking console
        // input in, which needs no kernel lock).
        if monitor::claimed_elsewhere() {
            if trapno == IRQ_OFFSET + IRQ_KBD || trapno == IRQ_OFFSET + IRQ_SERIAL {
                crate::console::intr();
            }
            if let Some(irq) = e1000_irq(trapno) {
                // Acknowledged (nobody runs to take the frames), so the
                // slave PIC's lower IRQs are not held up.
                crate::e1000::e1000_intr();
                crate::arch::picirq::irq_eoi(irq);
            }
            sched::idle();
        }
    }
    assert!(
        !x86::read_eflags().contains(EFlags::FLAGS_IF),
        "interrupts enabled in the kernel"
    );

    if ktf.tf_cs & 3 != 3 {
        if trapno == T_PGFLT {
            // A kernel bug: no guard needed to say so.
            kernel_page_fault(ktf);
        }
        let mut k = if halted {
            klock::lock_kernel()
        } else {
            // SAFETY: a trap in the kernel (a breakpoint or debug trap, the
            // kernel runs with interrupts off) goes on to the monitor, then
            // to user mode or the scheduler: never back to the code it
            // interrupted, which held the lock.
            unsafe { Kernel::assume_held() }
        };
        frame::LAST_TF.store(tf as usize, Ordering::Relaxed);
        trap_dispatch(&mut k, ktf);
        resume(&mut k);
    }

    // From user mode. This CPU's env is ours alone until it leaves user
    // mode: save its registers and FPU state in the Env first, then say so
    // (kick waits for that), and only then wait for the kernel lock.
    // Whoever held the lock meanwhile may have destroyed the env, replaced
    // its registers or stopped it.
    // SAFETY: cpu_env is this CPU's own.
    let ep = unsafe { (*cpu::thiscpu()).cpu_env };
    let Some(ep) = core::ptr::NonNull::new(ep) else {
        panic!("trap from user mode with no current environment");
    };
    let ep = ep.as_ptr();
    // SAFETY: ep is this CPU's env: no other CPU touches its registers, or
    // changes its id, while this CPU is in user mode (cpu_in_user is still
    // set), even holding the lock.
    let id = unsafe {
        (*ep).env_tf = *ktf;
        (*ep).env_id
    };
    crate::fpu::save(id);
    // SAFETY: cpu_in_user is an atomic of this CPU's.
    unsafe {
        (*cpu::thiscpu())
            .cpu_in_user
            .store(false, Ordering::Release)
    };
    let mut k = klock::lock_kernel();
    let k = &mut k;
    // SAFETY: cpu_env points into the Env array (it is null or an EnvRef's).
    let e = unsafe { EnvRef::from_raw(core::ptr::NonNull::new_unchecked(ep)) };

    if k[e].env_status == ENV_DYING {
        // Destroyed meanwhile by another CPU, which left the freeing to us
        // (e is ours again now): this does not return. A device's
        // interrupt is handled first: left unacknowledged, the card's
        // would never come again (a level-triggered line, the slave PIC
        // waiting for its EOI), and its waiters would sleep for ever.
        if e1000_irq(trapno).is_some() {
            interrupt(k, trapno);
        }
        env::env_destroy(k, e);
    }
    if env::take_tf_replaced(k, e) {
        // sys_env_set_trapframe gave the env new registers while this trap
        // waited for the lock: the trap it made (a system call, a fault) is
        // void, and it resumes with the new registers. An interrupt is
        // still handled, from the frame on this stack (the new frame's
        // trap number is the user's).
        if trapno >= IRQ_OFFSET && trapno != T_SYSCALL {
            trap_dispatch(k, ktf);
        }
        resume(k);
    }
    if k[e].env_status != ENV_RUNNING && is_restartable(trapno) {
        // Stopped (sys_env_set_status NOT_RUNNABLE) while this trap waited
        // for the lock: a stopped env does nothing more, not even the system
        // call it was making. The call is restarted when it runs again (eax
        // still holds its number); a fault just happens again.
        if trapno == T_SYSCALL {
            let tf = &mut k[e].env_tf;
            syscall::restart_syscall(tf, tf.tf_regs.reg_eax);
        }
        resume(k);
    }
    frame::LAST_TF.store(&raw const k[e].env_tf as usize, Ordering::Relaxed);
    user_trap_dispatch(k, e);
    resume(k);
}

/// Whether a trap from user mode can be left undone and happen again when
/// the env resumes: a system call (restarted), or a fault (the faulting
/// instruction runs again). Traps that report something that already
/// happened (debug, breakpoint, overflow) and interrupts cannot.
fn is_restartable(trapno: u32) -> bool {
    matches!(
        trapno,
        T_SYSCALL
            | T_DIVIDE
            | T_BOUND
            | T_ILLOP
            | T_DEVICE
            | T_SEGNP
            | T_STACK
            | T_GPFLT
            | T_PGFLT
            | T_FPERR
            | T_ALIGN
            | T_SIMDERR
    )
}

/// Back to this CPU's environment if it is still running here, else to
/// the scheduler.
fn resume(k: &mut Kernel) -> ! {
    if let Some(e) = k.curenv()
        && k[e].env_status == ENV_RUNNING
    {
        env::env_run(k, e);
    }
    sched::sched_yield(k);
}

/// Handles one trap from user mode, of this CPU's env `e`, whose registers
/// are in its Env (the handlers change them there: eax for a system call's
/// result, eip and esp for an upcall); returns if `e` may continue.
fn user_trap_dispatch(k: &mut Kernel, e: EnvRef) {
    let trapno = k[e].env_tf.tf_trapno;
    match trapno {
        T_PGFLT => page_fault_handler(k, e),
        T_BRKPT => monitor::monitor(Some(&mut k[e].env_tf)),
        T_DEBUG => debug_handler(k, e),
        T_SYSCALL => {
            let r = &k[e].env_tf.tf_regs;
            let (num, a1, a2, a3, a4, a5) = (
                r.reg_eax, r.reg_edx, r.reg_ecx, r.reg_ebx, r.reg_edi, r.reg_esi,
            );
            let ret = syscall::syscall(k, num, a1, a2, a3, a4, a5);
            k[e].env_tf.tf_regs.reg_eax = ret as u32;
        }
        T_DEVICE if crate::fpu::first_use(k[e].env_id) => {}
        _ => {
            if !interrupt(k, trapno) {
                print_trapframe(&k[e].env_tf);
                if trapno != IRQ_OFFSET + IRQ_SPURIOUS {
                    env::env_destroy(k, e);
                }
            }
        }
    }
}

/// Handles a trap in the kernel (a breakpoint or debug trap, or an
/// interrupt on a halted CPU), or an interrupt whose env's registers were
/// replaced meanwhile (from the frame `tf` on this CPU's stack); returns if
/// the current environment may continue.
fn trap_dispatch(k: &mut Kernel, tf: &mut Trapframe) {
    match tf.tf_trapno {
        T_BRKPT | T_DEBUG if tf.tf_cs & 3 == 0 => monitor::monitor(Some(tf)),
        t => {
            if !interrupt(k, t) {
                unexpected(k, tf);
            }
        }
    }
}

/// Handles the interrupts the kernel expects (timer, kick, keyboard,
/// serial, the E1000); returns false for any other trap, and if the current
/// environment may continue. A spurious interrupt is announced here, and
/// the caller prints the frame and ignores it.
fn interrupt(k: &mut Kernel, trapno: u32) -> bool {
    match trapno {
        t if t == IRQ_OFFSET + IRQ_SPURIOUS => {
            // Spurious interrupts happen; nothing to acknowledge.
            cprintf!("Spurious interrupt on irq 7\n");
            return false;
        }
        // (Acknowledged in trap.)
        t if t == IRQ_OFFSET + IRQ_TIMER => {
            // The clock moves on CPU 0 (trap counted the tick): sleepers
            // whose time has come wake.
            if cpu::cpunum() == 0 {
                crate::ipc::wake_sleepers(k, crate::time::time_msec());
            }
            sched::sched_tick(k)
        }
        // Another CPU needed this one out of user mode (kick); what it
        // changed takes effect as the env resumes.
        T_KICK => {}
        t if t == IRQ_OFFSET + IRQ_KBD => crate::console::intr(),
        t if t == IRQ_OFFSET + IRQ_SERIAL => crate::console::intr(),
        t => {
            if let Some(irq) = e1000_irq(t) {
                crate::net::net_intr(k);
                crate::arch::picirq::irq_eoi(irq);
            } else if t == IRQ_OFFSET + 15 && crate::arch::picirq::slave_spurious() {
                // The slave's spurious interrupt (as IRQ 7 is the
                // master's), possible since a slave IRQ is enabled: not
                // the running env's doing, so it is not destroyed for it.
            } else {
                return false;
            }
        }
    }
    true
}

/// The E1000's IRQ, if trap `trapno` is its interrupt.
#[inline]
fn e1000_irq(trapno: u32) -> Option<u32> {
    crate::e1000::e1000_irq().filter(|&irq| trapno == IRQ_OFFSET + irq)
}

/// Any other trap (`tf`): a spurious interrupt is printed and ignored; in
/// the kernel it is a bug (panic); from user mode it destroys the current
/// environment (not returning).
fn unexpected(k: &mut Kernel, tf: &Trapframe) {
    print_trapframe(tf);
    if tf.tf_trapno == IRQ_OFFSET + IRQ_SPURIOUS {
        return;
    }
    if tf.tf_cs & 3 == 0 {
        panic!(
            "unhandled trap {} ({}) in kernel",
            tf.tf_trapno,
            trapname(tf.tf_trapno)
        );
    }
    let e = k.cur();
    env::env_destroy(k, e);
}

/// A page fault in the kernel: a bug. Prints the frame and panics.
fn kernel_page_fault(tf: &Trapframe) -> ! {
    let fault_va = x86::rcr2();
    print_trapframe(tf);
    panic!(
        "kernel page fault at va {:08x} ip {:08x}",
        fault_va, tf.tf_eip
    );
}

/// A user page fault of `e`: it goes to the env's pager if it has one for
/// that page (kern/src/pager.rs), else to its upcall on its exception
/// stack, or destroys it.
fn page_fault_handler(k: &mut Kernel, e: EnvRef) {
    let fault_va = x86::rcr2();
    // A page its pager serves (demand paging): the env waits for it.
    let Some(err) = crate::pager::fault(k, e, fault_va, k[e].env_tf.tf_err) else {
        return;
    };
    if !deliver_upcall(k, e, fault_va, err) {
        cprintf!(
            "[{:08x}] user fault va {:08x} ip {:08x}\n",
            k[e].env_id,
            fault_va,
            k[e].env_tf.tf_eip
        );
        print_trapframe(&k[e].env_tf);
        env::env_destroy(k, e);
    }
}

/// Debug traps (single steps) from user mode: the monitor's `stepi` comes
/// back to the monitor; an environment that set the trap flag itself gets
/// the trap through its upcall, with FEC_DEBUG in the error code
/// (watchpoints use this).
fn debug_handler(k: &mut Kernel, e: EnvRef) {
    if monitor::take_step_request() {
        monitor::monitor(Some(&mut k[e].env_tf));
        return;
    }
    let eip = k[e].env_tf.tf_eip as usize;
    if !deliver_upcall(k, e, eip, abi::mmu::FEC_DEBUG) {
        print_trapframe(&k[e].env_tf);
        env::env_destroy(k, e);
    }
}

/// Sends the current environment to its page-fault upcall with a
/// UTrapframe describing (`fault_va`, `err`) and the trapped registers.
/// Returns false if it has no upcall. If its exception stack or the upcall
/// address is bad, the environment is destroyed (with the user_mem_check
/// message) and this does not return.
fn deliver_upcall(k: &mut Kernel, e: EnvRef, fault_va: usize, err: u32) -> bool {
    let upcall = k[e].env_pgfault_upcall as usize;
    if upcall == 0 {
        return false;
    }

    // Push a UTrapframe on the exception stack: at its top, or, for a fault
    // while already on it (a fault in the handler), below the current ESP
    // with one scratch word between, which the upcall's return needs.
    let tf = k[e].env_tf;
    let esp = tf.tf_esp as usize;
    // An ESP in the guard page below the exception stack means the handler
    // ran off its stack: that counts as nested too, so the push lands in
    // the guard and the env is destroyed, rather than starting over on top
    // of the handler's live frames. (ESP == USTACKTOP is an empty normal
    // stack.)
    let on_xstack = (USTACKTOP + 1..UXSTACKTOP).contains(&esp);
    let top = if on_xstack { esp - 4 } else { UXSTACKTOP };
    let utf_va = top.wrapping_sub(size_of::<UTrapframe>());
    syscall::user_mem_assert(
        k,
        e,
        utf_va,
        size_of::<UTrapframe>(),
        PteFlags::U | PteFlags::W,
    );
    // The upcall's code may be a page its pager has not paged in yet: the
    // jump there faults, and the pager pages it in then.
    if !crate::pager::serves(k, e, upcall) {
        syscall::user_mem_assert(k, e, upcall, 1, PteFlags::U);
    }

    let utf = UTrapframe {
        utf_fault_va: fault_va as u32,
        utf_err: err,
        utf_regs: tf.tf_regs,
        utf_eip: tf.tf_eip,
        utf_eflags: tf.tf_eflags,
        utf_esp: tf.tf_esp,
    };
    // SAFETY: UTrapframe is plain u32 fields, so its bytes are initialised.
    let bytes = unsafe {
        core::slice::from_raw_parts((&raw const utf).cast::<u8>(), size_of::<UTrapframe>())
    };
    // user_mem_assert checked the range is writable: this cannot fail.
    let _ = env::user_copy_out(k, e, utf_va, bytes);
    let tf = &mut k[e].env_tf;
    tf.tf_esp = utf_va as u32;
    tf.tf_eip = upcall as u32;
    // The handler itself runs without single-stepping; the trapped eflags
    // (with TF, if it was set) are in the UTrapframe for it to restore.
    tf.tf_eflags &= !EFlags::FLAGS_TF.bits();
    true
}
