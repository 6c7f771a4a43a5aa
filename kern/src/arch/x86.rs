//! Thin wrappers around i386 instructions, like JOS's inc/x86.h.
//!
//! Each wrapper is one instruction. Port I/O and control-register writes can
//! break memory safety (a bad CR3 unmaps the kernel), so those are `unsafe`;
//! reads that cannot hurt anything are safe.
use core::arch::asm;

/// Reads a byte from an I/O port.
///
/// # Safety
/// Reading some device registers has side effects; the caller owns the device.
pub unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: the caller guarantees the port read is harmless.
    unsafe {
        asm!("inb %dx, %al", in("dx") port, out("al") v, options(att_syntax, nomem, nostack))
    };
    v
}

/// Writes a byte to an I/O port.
///
/// # Safety
/// The caller owns the device behind `port`.
pub unsafe fn outb(port: u16, v: u8) {
    // SAFETY: the caller guarantees the port write is harmless.
    unsafe {
        asm!("outb %al, %dx", in("dx") port, in("al") v, options(att_syntax, nomem, nostack))
    };
}

/// Loads CR3 (the page-directory base), flushing the TLB.
///
/// # Safety
/// `pa` must be the physical address of a page directory that maps the
/// running kernel.
pub unsafe fn lcr3(pa: usize) {
    // SAFETY: the caller guarantees the new directory maps the kernel.
    unsafe { asm!("movl {}, %cr3", in(reg) pa, options(att_syntax, nostack)) };
}

/// Returns CR3.
pub fn rcr3() -> usize {
    let v: usize;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("movl %cr3, {}", out(reg) v, options(att_syntax, nomem, nostack)) };
    v
}

/// Loads CR0.
///
/// # Safety
/// Changing CR0 changes how every memory access works.
pub unsafe fn lcr0(v: u32) {
    // SAFETY: the caller guarantees the new mode keeps the kernel running.
    unsafe { asm!("movl {}, %cr0", in(reg) v, options(att_syntax, nostack)) };
}

/// Returns CR0.
pub fn rcr0() -> u32 {
    let v: u32;
    // SAFETY: reading CR0 has no side effects.
    unsafe { asm!("movl %cr0, {}", out(reg) v, options(att_syntax, nomem, nostack)) };
    v
}

/// Returns CR2, the address of the last page fault.
pub fn rcr2() -> usize {
    let v: usize;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("movl %cr2, {}", out(reg) v, options(att_syntax, nomem, nostack)) };
    v
}

/// Loads CR4.
///
/// # Safety
/// Changing CR4 changes how paging works.
pub unsafe fn lcr4(v: u32) {
    // SAFETY: the caller guarantees the new mode keeps the kernel running.
    unsafe { asm!("movl {}, %cr4", in(reg) v, options(att_syntax, nostack)) };
}

/// Returns CR4.
pub fn rcr4() -> u32 {
    let v: u32;
    // SAFETY: reading CR4 has no side effects.
    unsafe { asm!("movl %cr4, {}", out(reg) v, options(att_syntax, nomem, nostack)) };
    v
}

/// Invalidates the TLB entry for `va`.
pub fn invlpg(va: usize) {
    // SAFETY: dropping a TLB entry only costs a page walk.
    unsafe { asm!("invlpg ({})", in(reg) va, options(att_syntax, nostack)) };
}

/// Returns the frame pointer (EBP) of the caller of this function.
#[inline(always)]
pub fn read_ebp() -> usize {
    let v: usize;
    // SAFETY: reading a register has no side effects.
    unsafe { asm!("movl %ebp, {}", out(reg) v, options(att_syntax, nomem, nostack)) };
    v
}

/// Returns EFLAGS.
pub fn read_eflags() -> u32 {
    let v: u32;
    // SAFETY: pushf/pop only touch the stack slot they use.
    unsafe { asm!("pushfl; popl {}", out(reg) v, options(att_syntax, nomem)) };
    v
}

/// Disables interrupts on this CPU.
pub fn cli() {
    // SAFETY: masking interrupts cannot break memory safety.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// Enables interrupts on this CPU.
///
/// # Safety
/// The IDT must be ready for whatever interrupt arrives.
pub unsafe fn sti() {
    // SAFETY: the caller guarantees interrupts can be taken.
    unsafe { asm!("sti", options(nomem, nostack)) };
}

/// Spin-loop hint.
pub fn pause() {
    core::hint::spin_loop();
}

/// Halts until the next interrupt.
pub fn hlt() {
    // SAFETY: hlt only waits.
    unsafe { asm!("hlt", options(nomem, nostack)) };
}

/// Returns (eax, ebx, ecx, edx) of CPUID leaf `leaf`.
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86::__cpuid(leaf);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// The x87 state that `fnsave` writes and `frstor` reads (108 bytes in
/// 32-bit protected mode).
#[repr(C, align(4))]
#[derive(Clone, Copy)]
pub struct FpuState(pub [u8; 108]);

/// Saves the x87 state to `st` and reinitialises the FPU (`fnsave`).
/// CR0.TS must be clear (or this traps with #NM).
pub fn fnsave(st: &mut FpuState) {
    // SAFETY: fnsave writes exactly 108 bytes to the borrowed buffer.
    unsafe { asm!("fnsave ({})", in(reg) st as *mut FpuState, options(att_syntax, nostack)) };
}

/// Loads the x87 state from `st` (`frstor`). CR0.TS must be clear.
pub fn frstor(st: &FpuState) {
    // SAFETY: frstor reads 108 bytes from the borrowed buffer; a bad state
    // only makes the next user x87 instruction fault.
    unsafe { asm!("frstor ({})", in(reg) st as *const FpuState, options(att_syntax, nostack)) };
}

/// Resets the FPU to its power-on state (`fninit`).
pub fn fninit() {
    // SAFETY: fninit only changes x87 registers, which the kernel never uses.
    unsafe { asm!("fninit", options(nomem, nostack)) };
}

/// Clears CR0.TS, so x87 instructions run without #NM (`clts`).
pub fn clts() {
    // SAFETY: clts only changes whether x87 instructions trap.
    unsafe { asm!("clts", options(nomem, nostack)) };
}

/// Sets CR0.TS, so the next x87 instruction traps with #NM.
pub fn stts() {
    // SAFETY: setting TS only makes x87 instructions trap; the kernel uses none.
    unsafe { lcr0(rcr0() | CR0_TS) };
}

/// CR0 bits.
pub const CR0_PE: u32 = 0x0000_0001;
/// CR0: write protect (honour read-only pages in ring 0 too).
pub const CR0_WP: u32 = 0x0001_0000;
/// CR0: paging.
pub const CR0_PG: u32 = 0x8000_0000;
/// CR0: task switched (lazy FPU).
pub const CR0_TS: u32 = 0x0000_0008;
/// CR0: emulate coprocessor.
pub const CR0_EM: u32 = 0x0000_0004;
/// CR0: monitor coprocessor.
pub const CR0_MP: u32 = 0x0000_0002;
/// CR0: numeric error (x87 errors as #MF, not the legacy FERR# pin).
pub const CR0_NE: u32 = 0x0000_0020;
/// CR0: alignment mask.
pub const CR0_AM: u32 = 0x0004_0000;
/// CR4: page size extension (4 MiB pages).
pub const CR4_PSE: u32 = 0x0000_0010;
/// CR4: global pages.
pub const CR4_PGE: u32 = 0x0000_0080;
