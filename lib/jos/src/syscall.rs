//! System calls: `int $0x30` with the number in EAX and up to five
//! arguments in EDX, ECX, EBX, EDI, ESI; the result comes back in EAX
//! (negative: an error). One safe wrapper per call, returning `Result`.
use abi::env::EnvId;
use abi::error::{Error, Result};
use abi::syscall::Syscall;
use core::arch::asm;

/// Makes system call `num`; returns the raw result.
///
/// ESI cannot be named as an inline-asm operand on i686, so the fifth
/// argument goes in through a scratch register swapped into ESI around the
/// trap.
///
/// # Safety
/// Pointer arguments must mean what the kernel expects for `num` (the kernel
/// checks them, but it may write through them).
pub unsafe fn syscall(num: Syscall, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32) -> i32 {
    let ret: i32;
    // SAFETY: the kernel preserves every register but EAX; memory the
    // call writes is the caller's concern.
    unsafe {
        asm!(
            "xchg {a5}, %esi",
            "int $0x30",
            "xchg {a5}, %esi",
            a5 = inout(reg) a5 => _,
            inlateout("eax") num as u32 => ret,
            in("edx") a1,
            in("ecx") a2,
            in("ebx") a3,
            in("edi") a4,
            options(att_syntax),
        );
    }
    ret
}

/// Turns a raw result into Ok(value) or Err(error).
fn check(ret: i32) -> Result<u32> {
    if ret < 0 {
        Err(Error::from_code(ret).unwrap_or(Error::Unspecified))
    } else {
        Ok(ret as u32)
    }
}

/// Prints `s` on the console.
pub fn sys_cputs(s: &[u8]) {
    // SAFETY: the kernel only reads [s, s + len).
    unsafe { syscall(Syscall::Cputs, s.as_ptr() as u32, s.len() as u32, 0, 0, 0) };
}

/// Prints `len` bytes at raw address `va` (test programs pass bad pointers
/// on purpose: the kernel must catch them).
pub fn sys_cputs_raw(va: usize, len: usize) {
    // SAFETY: the kernel checks the range before reading it.
    unsafe { syscall(Syscall::Cputs, va as u32, len as u32, 0, 0, 0) };
}

/// Returns a console input character, or 0 if none is waiting.
pub fn sys_cgetc() -> i32 {
    // SAFETY: no pointers.
    unsafe { syscall(Syscall::Cgetc, 0, 0, 0, 0, 0) }
}

/// Returns this environment's id.
pub fn sys_getenvid() -> EnvId {
    // SAFETY: no pointers.
    unsafe { syscall(Syscall::Getenvid, 0, 0, 0, 0, 0) }
}

/// Destroys environment `id` (0: this one). Err(BadEnv) if it is not
/// ourselves or a child.
pub fn sys_env_destroy(id: EnvId) -> Result<()> {
    // SAFETY: no pointers.
    check(unsafe { syscall(Syscall::EnvDestroy, id as u32, 0, 0, 0, 0) }).map(|_| ())
}
