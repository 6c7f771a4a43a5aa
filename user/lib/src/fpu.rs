//! x87 instructions by hand, for programs that check that each env's FPU
//! registers are its own (fpuleak, fuzzstorm). The target is soft-float:
//! no Rust code touches the FPU unless it calls these.

/// Pushes `v` on the x87 stack.
pub fn push(v: f64) {
    let bits = v.to_bits();
    // SAFETY: fldl reads 8 bytes from the borrowed value; the FPU is ours.
    unsafe { core::arch::asm!("fldl ({})", in(reg) &bits, options(att_syntax, nostack)) };
}

/// The bits of the value on top of the x87 stack (stored, not popped).
pub fn top_bits() -> u64 {
    let mut bits = 0u64;
    // SAFETY: fstl writes 8 bytes to the borrowed value.
    unsafe { core::arch::asm!("fstl ({})", in(reg) &mut bits, options(att_syntax, nostack)) };
    bits
}

/// Pops the x87 stack.
pub fn pop() {
    let mut bits = 0u64;
    // SAFETY: fstpl writes 8 bytes to the borrowed value.
    unsafe { core::arch::asm!("fstpl ({})", in(reg) &mut bits, options(att_syntax, nostack)) };
}

/// The stack-top field of the x87 status word: 0 for an empty (fresh)
/// FPU, 7 after one push.
pub fn stack_top() -> u16 {
    let sw: u16;
    // SAFETY: fnstsw only reads the status word into ax.
    unsafe { core::arch::asm!("fnstsw %ax", out("ax") sw, options(att_syntax, nomem, nostack)) };
    (sw >> 11) & 7
}
