//! faultregs: checks that a page fault handled in user space preserves
//! every register. A test routine loads known values into all registers,
//! records them (`before`), and stores to the unmapped page UTEMP; the
//! handler checks the UTrapframe against `before` (`during`) and maps the
//! page; back after the store, the routine records the registers again
//! (`after`), which must also equal `before`.
#![no_std]
#![no_main]

use abi::memlayout::UTEMP;
use abi::mmu::PTE_RW;
use abi::trap::{FL_RF, PushRegs, UTrapframe};
use core::arch::naked_asm;
use core::ptr::{addr_of, read_volatile};
use jos::cprintf;
use jos::syscall::sys_page_alloc;

jos::main!(umain);

/// The registers compared (the layout the assembly below stores into).
#[repr(C)]
#[derive(Clone, Copy)]
struct Regs {
    /// edi, esi, ebp, (oesp), ebx, edx, ecx, eax at offsets 0x00..0x1c.
    regs: PushRegs,
    /// At 0x20.
    eip: u32,
    /// At 0x24.
    eflags: u32,
    /// At 0x28.
    esp: u32,
}

impl Regs {
    const fn zeroed() -> Self {
        Regs {
            regs: PushRegs::zeroed(),
            eip: 0,
            eflags: 0,
            esp: 0,
        }
    }
}

/// Written by `fault_test` just before the faulting store.
static mut BEFORE: Regs = Regs::zeroed();
/// Written by `fault_test` just after the faulting store.
static mut AFTER: Regs = Regs::zeroed();

/// Prints the two register sets side by side, one `OK` or `MISMATCH` per
/// register, then `Registers <testname> OK` (or `MISMATCH`).
fn check_regs(a: &Regs, an: &str, b: &Regs, bn: &str, testname: &str) {
    let mut mismatch = false;
    cprintf!("{:<6} {:<8} {:<8}\n", "", an, bn);
    let pairs = [
        ("edi", a.regs.reg_edi, b.regs.reg_edi),
        ("esi", a.regs.reg_esi, b.regs.reg_esi),
        ("ebp", a.regs.reg_ebp, b.regs.reg_ebp),
        ("ebx", a.regs.reg_ebx, b.regs.reg_ebx),
        ("edx", a.regs.reg_edx, b.regs.reg_edx),
        ("ecx", a.regs.reg_ecx, b.regs.reg_ecx),
        ("eax", a.regs.reg_eax, b.regs.reg_eax),
        ("eip", a.eip, b.eip),
        ("eflags", a.eflags, b.eflags),
        ("esp", a.esp, b.esp),
    ];
    for (name, x, y) in pairs {
        cprintf!("{:<6} {:08x} {:08x} ", name, x, y);
        if x == y {
            cprintf!("OK\n");
        } else {
            cprintf!("MISMATCH\n");
            mismatch = true;
        }
    }
    cprintf!("Registers {} ", testname);
    if mismatch {
        cprintf!("MISMATCH\n");
    } else {
        cprintf!("OK\n");
    }
}

/// The page-fault handler: compares the UTrapframe with `before`, then
/// maps UTEMP so the store succeeds when it is retried.
fn pgfault(utf: &mut UTrapframe) {
    if utf.utf_fault_va as usize != UTEMP {
        panic!(
            "pgfault expected at UTEMP, got {:#010x} (eip {:08x})",
            utf.utf_fault_va, utf.utf_eip
        );
    }
    let during = Regs {
        regs: utf.utf_regs,
        eip: utf.utf_eip,
        eflags: utf.utf_eflags & !FL_RF,
        esp: utf.utf_esp,
    };
    // SAFETY: written by fault_test before the fault, not written since.
    let before = unsafe { read_volatile(addr_of!(BEFORE)) };
    check_regs(&before, "before", &during, "during", "in UTrapframe");
    if let Err(e) = sys_page_alloc(0, UTEMP, PTE_RW) {
        panic!("sys_page_alloc: {e}");
    }
}

/// Loads distinctive values into every general register, turns on most
/// arithmetic flags, records all registers in BEFORE, stores 42 to UTEMP
/// (which faults), and records them again in AFTER. Preserves the
/// callee-saved registers for its Rust caller.
#[unsafe(naked)]
extern "C" fn fault_test() {
    naked_asm!(
        "pushl %ebp",
        "pushl %ebx",
        "pushl %esi",
        "pushl %edi",
        "movl $0x0ed10ed1, %edi",
        "movl $0x0e510e51, %esi",
        "movl $0x0eb90eb9, %ebp",
        "movl $0x0eb10eb1, %ebx",
        "movl $0x0ed20ed2, %edx",
        "movl $0x0ec10ec1, %ecx",
        "movl $0x0ea10ea1, %eax",
        // Light up eflags (OF, SF, ZF, AF, PF) to catch more errors, and
        // record it: nothing below changes the flags.
        "pushl %eax",
        "pushfl",
        "popl %eax",
        "orl $0x8d4, %eax",
        "pushl %eax",
        "popfl",
        "movl %eax, {before}+0x24",
        // The eip of the faulting store.
        "leal 0f, %eax",
        "movl %eax, {before}+0x20",
        "popl %eax",
        "movl %edi, {before}+0x00",
        "movl %esi, {before}+0x04",
        "movl %ebp, {before}+0x08",
        "movl %ebx, {before}+0x10",
        "movl %edx, {before}+0x14",
        "movl %ecx, {before}+0x18",
        "movl %eax, {before}+0x1c",
        "movl %esp, {before}+0x28",
        // Fault at UTEMP.
        "0: movl $42, {utemp}",
        "movl %edi, {after}+0x00",
        "movl %esi, {after}+0x04",
        "movl %ebp, {after}+0x08",
        "movl %ebx, {after}+0x10",
        "movl %edx, {after}+0x14",
        "movl %ecx, {after}+0x18",
        "movl %eax, {after}+0x1c",
        "movl %esp, {after}+0x28",
        // eflags after the fault (the stack is back, so push/pop is fine).
        "pushl %eax",
        "pushfl",
        "popl %eax",
        "movl %eax, {after}+0x24",
        "popl %eax",
        "popl %edi",
        "popl %esi",
        "popl %ebx",
        "popl %ebp",
        "ret",
        before = sym BEFORE,
        after = sym AFTER,
        utemp = const UTEMP,
        options(att_syntax),
    );
}

fn umain(_args: &[&str]) {
    if let Err(e) = jos::set_pgfault_handler(pgfault) {
        panic!("set_pgfault_handler: {e}");
    }
    fault_test();
    // A rough check that EIP was restored (we would hardly be here if not).
    // SAFETY: the handler mapped UTEMP.
    if unsafe { read_volatile(UTEMP as *const i32) } != 42 {
        cprintf!("EIP after page-fault MISMATCH\n");
    }
    // SAFETY: fault_test has returned; nothing writes these any more.
    let (before, mut after) = unsafe {
        (
            read_volatile(addr_of!(BEFORE)),
            read_volatile(addr_of!(AFTER)),
        )
    };
    after.eip = before.eip;
    check_regs(&before, "before", &after, "after", "after page-fault");
}
