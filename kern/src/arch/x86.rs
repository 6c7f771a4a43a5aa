//! Thin wrappers around i386 instructions, like JOS's inc/x86.h.
//!
//! Most of them come from the `x86` crate. Its functions are all `unsafe
//! fn` (they need ring 0); where a call cannot break memory safety in this
//! kernel (reading a control register, dropping a TLB entry), the wrapper
//! here is safe, so callers need no `unsafe` block of their own. Port I/O
//! and control-register writes can break memory safety (a bad CR3 unmaps
//! the kernel), so those stay `unsafe`.
//!
//! What the crate lacks stays hand-written: reading EBP, and the x87
//! save/restore instructions (fnsave, frstor, fninit, clts).
use core::arch::asm;

pub use ::x86::bits32::eflags::EFlags;
pub use ::x86::controlregs::{Cr0, Cr4};
/// Port I/O (`inb`, `outb`, and the 32-bit `inl`, `outl` of PCI
/// configuration space): `unsafe`, since reading some device registers
/// has side effects and writing them can make a device DMA anywhere; the
/// caller must own the device behind the port.
pub use ::x86::io::{inb, inl, outb, outl};

/// Loads CR3 (the page-directory base), flushing the TLB.
///
/// # Safety
/// `pa` must be the physical address of a page directory that maps the
/// running kernel.
pub unsafe fn lcr3(pa: usize) {
    // SAFETY: the caller guarantees the new directory maps the kernel.
    unsafe { ::x86::controlregs::cr3_write(pa as u64) };
}

/// Returns CR3.
pub fn rcr3() -> usize {
    // SAFETY: reading CR3 has no side effects (the kernel runs in ring 0).
    unsafe { ::x86::controlregs::cr3() as usize }
}

/// Loads CR0.
///
/// # Safety
/// Changing CR0 changes how every memory access works.
pub unsafe fn lcr0(v: Cr0) {
    // SAFETY: the caller guarantees the new mode keeps the kernel running.
    unsafe { ::x86::controlregs::cr0_write(v) };
}

/// Returns CR0.
pub fn rcr0() -> Cr0 {
    // SAFETY: reading CR0 has no side effects (the kernel runs in ring 0).
    unsafe { ::x86::controlregs::cr0() }
}

/// Returns CR2, the address of the last page fault.
pub fn rcr2() -> usize {
    // SAFETY: reading CR2 has no side effects (the kernel runs in ring 0).
    unsafe { ::x86::controlregs::cr2() }
}

/// Loads CR4.
///
/// # Safety
/// Changing CR4 changes how paging works.
pub unsafe fn lcr4(v: Cr4) {
    // SAFETY: the caller guarantees the new mode keeps the kernel running.
    unsafe { ::x86::controlregs::cr4_write(v) };
}

/// Returns CR4 (the bits the `x86` crate names; the others are reserved or
/// features this kernel never turns on).
pub fn rcr4() -> Cr4 {
    // SAFETY: reading CR4 has no side effects (the kernel runs in ring 0).
    unsafe { ::x86::controlregs::cr4() }
}

/// Invalidates the TLB entry for `va`.
pub fn invlpg(va: usize) {
    // SAFETY: dropping a TLB entry only costs a page walk.
    unsafe { ::x86::tlb::flush(va) };
}

/// Returns ESP (the current stack pointer).
#[inline]
pub fn read_esp() -> usize {
    let v: usize;
    // SAFETY: reading ESP has no side effects.
    unsafe { asm!("movl %esp, {}", out(reg) v, options(att_syntax, nomem, nostack)) };
    v
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
pub fn read_eflags() -> EFlags {
    // SAFETY: pushf/pop only touch the stack slot they use.
    unsafe { ::x86::bits32::eflags::read() }
}

/// Disables interrupts on this CPU.
pub fn cli() {
    // SAFETY: masking interrupts cannot break memory safety.
    unsafe { ::x86::irq::disable() };
}

/// Enables interrupts on this CPU.
///
/// # Safety
/// The IDT must be ready for whatever interrupt arrives.
pub unsafe fn sti() {
    // SAFETY: the caller guarantees interrupts can be taken.
    unsafe { ::x86::irq::enable() };
}

/// Spin-loop hint.
pub fn pause() {
    core::hint::spin_loop();
}

/// Halts until the next interrupt.
pub fn hlt() {
    // SAFETY: hlt only waits.
    unsafe { ::x86::halt() };
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
    unsafe { lcr0(rcr0() | Cr0::CR0_TASK_SWITCHED) };
}
