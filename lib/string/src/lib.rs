//! The memory functions the compiler calls (`memcpy`, `memmove`, `memset`,
//! `memcmp`, `bcmp`, `strlen`), as JOS's lib/string.c has them with its
//! inline assembly: copies and fills a word at a time with `rep movsd` /
//! `rep stosd`, then the odd bytes with `rep movsb` / `rep stosb`.
//!
//! Why not compiler_builtins' (`-Zbuild-std-features=compiler-builtins-mem`,
//! what this tree used before): on i686 they are generic Rust loops. Under
//! QEMU's TCG a `rep movs` is one instruction that a helper runs at host
//! speed, while a loop is translated and run instruction by instruction: the
//! kernel's copy of a 68-byte Trapframe into the Env at every trap took 156
//! instructions, a third of a null system call (486). The kernel and every
//! user program link this crate (kern and jos name it), and nothing else
//! defines these symbols, so a missing one is a link error, never a silent
//! fallback.
//!
//! The direction flag is clear on entry, as the i386 System V ABI requires
//! (the kernel's trap entry clears it; user code gets it clear from iret's
//! EFLAGS and the ABI), and clear on return.
#![no_std]
#![no_builtins]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg(target_arch = "x86")]

use core::arch::asm;
use core::ffi::{c_char, c_int};

/// Copies `n` bytes from `src` to `dst`, which must not overlap. Returns
/// `dst`.
///
/// # Safety
/// `src` is readable and `dst` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract; forward copies are right for
    // non-overlapping ranges.
    unsafe { copy_forward(dst, src, n) };
    dst
}

/// Copies `n` bytes from `src` to `dst`; the ranges may overlap. Returns
/// `dst`.
///
/// # Safety
/// `src` is readable and `dst` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // dst is below src, or at least n above it: a forward copy never
        // reads a byte it has written.
        // SAFETY: the caller's contract.
        unsafe { copy_forward(dst, src, n) };
    } else {
        // dst overlaps the end of src: copy from the last byte down.
        // SAFETY: the caller's contract; n > 0 here (else the first test
        // held), so the last bytes are src + n - 1 and dst + n - 1. The
        // direction flag is set only for the copy.
        unsafe {
            asm!(
                "xchg esi, edx",
                "std",
                "rep movsb",
                "cld",
                "xchg esi, edx",
                inout("edx") src.add(n - 1) => _,
                inout("ecx") n => _,
                inout("edi") dst.add(n - 1) => _,
                options(nostack)
            )
        };
    }
    dst
}

/// Copies `n` bytes upwards, a word at a time, then the odd bytes.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes; if they overlap, `dst`
/// is below `src`.
unsafe fn copy_forward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract. esi cannot be named as an operand
    // (LLVM may keep a base pointer in it on i386), so src comes in edx and
    // is swapped into esi and back by hand; the operands are named
    // registers so that none of them is esi.
    unsafe {
        asm!(
            "xchg esi, edx",
            "rep movsd",
            "mov ecx, eax",
            "rep movsb",
            "xchg esi, edx",
            inout("edx") src => _,
            in("eax") n & 3,
            inout("ecx") n >> 2 => _,
            inout("edi") dst => _,
            options(nostack, preserves_flags)
        )
    };
}

/// Sets `n` bytes at `dst` to the byte `c`. Returns `dst`.
///
/// # Safety
/// `dst` is writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: c_int, n: usize) -> *mut u8 {
    let word = (c as u8 as u32).wrapping_mul(0x0101_0101);
    // SAFETY: the caller's contract.
    unsafe {
        asm!(
            "rep stosd",
            "mov ecx, edx",
            "rep stosb",
            in("edx") n & 3,
            inout("ecx") n >> 2 => _,
            inout("edi") dst => _,
            in("eax") word,
            options(nostack, preserves_flags)
        )
    };
    dst
}

/// Compares `n` bytes: negative, zero or positive as the first differing
/// byte of `a` is below, equal to (none differs) or above `b`'s.
///
/// # Safety
/// `a` and `b` are readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
    for i in 0..n {
        // SAFETY: i < n, within both ranges.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return x as c_int - y as c_int;
        }
    }
    0
}

/// Whether `n` bytes at `a` and `b` differ: zero if they are equal.
///
/// # Safety
/// `a` and `b` are readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { memcmp(a, b, n) }
}

/// The length of the NUL-terminated string at `s`.
///
/// # Safety
/// `s` is readable up to and including its NUL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const c_char) -> usize {
    let mut n = 0;
    // SAFETY: the caller's contract: every byte up to the NUL is readable.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}
