//! Starting the application processors (JOS's kern/mpentry.S, boot_aps and
//! mp_main).
//!
//! An AP starts in 16-bit real mode at CS:IP = MPENTRY_PADDR >> 4 : 0, so
//! the trampoline below is copied there and uses only addresses relative to
//! it (`x - mpentry_start + MPBOOT`, JOS's `MPBOOTPHYS(x)`). It loads a flat
//! GDT, enters protected mode, turns on paging with the entry page
//! directory, moves onto its kernel stack (given in `mpentry_kstack`) and
//! calls `mp_main`.
use crate::arch::{gdt, x86};
use crate::cpu::{self, CPU_STARTED, NCPUS};
use crate::pmap;
use crate::smp::{lapic, mpconfig};
use abi::memlayout::{KSTKSIZE, MPENTRY_PADDR, kstacktop};
use core::arch::global_asm;
use core::sync::atomic::{AtomicUsize, Ordering};

global_asm!(
    r#"
    .set KERNBASE, 0xF0000000
    .set MPBOOT, {mpentry}
    .set PROT_MODE_CSEG, 0x8
    .set PROT_MODE_DSEG, 0x10

    .text
    .code16
    .globl mpentry_start
mpentry_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    lgdt (mpentry_gdtdesc - mpentry_start + MPBOOT)
    movl %cr0, %eax
    orl $0x1, %eax                      /* CR0_PE */
    movl %eax, %cr0
    ljmpl $PROT_MODE_CSEG, $(mpentry_start32 - mpentry_start + MPBOOT)

    .code32
mpentry_start32:
    movw $PROT_MODE_DSEG, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0, %ax
    movw %ax, %fs
    movw %ax, %gs

    /* Paging with the entry page directory, as the boot CPU did. */
    movl $(entry_pgdir - KERNBASE), %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80010001, %eax               /* CR0_PE | CR0_PG | CR0_WP */
    movl %eax, %cr0

    movl mpentry_kstack, %esp
    movl $0, %ebp
    movl $mp_main, %eax
    call *%eax
1:  jmp 1b

    .p2align 2
mpentry_gdt:
    .quad 0                             /* null */
    .quad 0x00CF9A000000FFFF            /* code: base 0, 4 GiB, readable */
    .quad 0x00CF92000000FFFF            /* data: base 0, 4 GiB, writable */
mpentry_gdtdesc:
    .word 0x17
    .long mpentry_gdt - mpentry_start + MPBOOT
    .globl mpentry_end
mpentry_end:
"#,
    mpentry = const MPENTRY_PADDR,
    options(att_syntax)
);

unsafe extern "C" {
    static mpentry_start: u8;
    static mpentry_end: u8;
}

/// The stack the next AP starts on (a kernel address the entry page
/// directory maps: its kernel stack's KERNBASE alias).
#[unsafe(no_mangle)]
static mpentry_kstack: AtomicUsize = AtomicUsize::new(0);

/// Copies the trampoline to MPENTRY_PADDR and starts each AP in turn,
/// waiting until it says it is up.
pub fn boot_aps() {
    let start = &raw const mpentry_start as usize;
    let len = &raw const mpentry_end as usize - start;
    // SAFETY: MPENTRY_PADDR's page is reserved for this; the source is code.
    unsafe {
        core::ptr::copy_nonoverlapping(
            start as *const u8,
            pmap::kaddr(MPENTRY_PADDR) as *mut u8,
            len,
        )
    };
    let boot = mpconfig::BOOTCPU.load(Ordering::Relaxed);
    for i in 0..NCPUS.load(Ordering::Relaxed) {
        if i == boot {
            continue;
        }
        // SAFETY: only the stack's address is taken.
        let stack = unsafe { (&raw const pmap::PERCPU_KSTACKS.0[i]) as usize };
        mpentry_kstack.store(stack + KSTKSIZE, Ordering::SeqCst);
        // SAFETY: CPU i is not running yet; its id was set by mp_init.
        let apicid = unsafe { (*cpu::cpu(i)).cpu_id };
        lapic::lapic_startap(apicid, MPENTRY_PADDR);
        // SAFETY: cpu_status is atomic.
        while unsafe { (*cpu::cpu(i)).cpu_status.load(Ordering::SeqCst) } != CPU_STARTED {
            core::hint::spin_loop();
        }
    }
}

/// An AP's first Rust code: switch to the kernel's page directory and the
/// guarded alias of its stack, then set up the CPU like the boot CPU.
#[unsafe(no_mangle)]
extern "C" fn mp_main() -> ! {
    if pmap::uses_pse() {
        // SAFETY: enabling PSE before loading a directory that uses it.
        unsafe { x86::lcr4(x86::rcr4() | x86::Cr4::CR4_ENABLE_PSE) };
    }
    // SAFETY: kern_pgdir maps the kernel as the entry directory does.
    unsafe { x86::lcr3(pmap::paddr(pmap::kern_pgdir() as usize)) };
    // The same stack, through its KSTACKTOP alias (with a guard below).
    // SAFETY: both addresses map the same physical stack; nothing on it
    // below the switch point is used again.
    unsafe { crate::arch::entry::switch_stack(kstacktop(cpu::cpunum()), mp_main_stage2) }
}

extern "C" fn mp_main_stage2() -> ! {
    cprintf!("SMP: CPU {} starting\n", cpu::cpunum());
    lapic::lapic_init();
    gdt::gdt_init_percpu();
    crate::trap::trap_init_percpu();
    crate::fpu::fpu_init_percpu();
    // `panic=ap` on the command line: the first AP panics here (the boot
    // CPU keeps waiting for it, so no other AP starts), to test that a
    // panic reports the CPU it happened on.
    if crate::boot_info::get().arg("panic") == Some("ap") {
        panic!("panic requested on the command line");
    }
    // SAFETY: cpu_status is atomic; boot_aps waits for this.
    unsafe {
        (*cpu::thiscpu())
            .cpu_status
            .store(CPU_STARTED, Ordering::SeqCst)
    };
    let mut k = crate::klock::lock_kernel();
    crate::sched::sched_yield(&mut k);
}
