//! nullderef: the null guard turns a fault near address 0 into a report
//! naming the access and the faulting instruction.
//!
//! The program turns the guard on and forks three children, one after the
//! other; each announces the instruction that will fault, then
//!
//! - reads a u32 through a null pointer,
//! - writes a field at offset 0x10 of a null struct pointer,
//! - calls a null function pointer.
//!
//! Each ends with `[envid] null pointer dereference: read|write|execute at
//! va <va> ip <ip>`, the ip being the one announced. The parent prints
//! `nullderef: OK` when all three are gone.
#![no_std]
#![no_main]

use core::arch::global_asm;
use jos::cprintf;
use jos::syscall::sys_getenvid;
use jos::vm::null::enable_null_guard;
use user::child::run_child;

jos::main!(umain);

// The faulting instructions, each the first of its function so its
// address is the ip the report must show.
global_asm!(
    r#"
    .text
    .globl nullderef_read
nullderef_read:
    movl 0x0, %eax              /* read *(u32 *)0 */
    ret

    .globl nullderef_write
nullderef_write:
    movl $0x2a, 0x10            /* write ((struct s *)0)->field_at_0x10 */
    ret
"#,
    options(att_syntax)
);

unsafe extern "C" {
    /// Reads the u32 at address 0 and returns it.
    fn nullderef_read() -> u32;
    /// Writes 42 to the u32 at address 0x10.
    fn nullderef_write();
}

/// Reads through a null pointer.
fn read_null() {
    let ip = nullderef_read as *const () as usize;
    cprintf!(
        "nullderef: child {:08x} reads address 0 at ip {:08x}\n",
        sys_getenvid(),
        ip
    );
    // SAFETY: not safe: faults on purpose, into the null guard, which ends
    // this environment.
    let v = unsafe { nullderef_read() };
    cprintf!("nullderef: UNEXPECTED: read {:08x} from address 0\n", v);
}

/// Writes through a null struct pointer.
fn write_null() {
    let ip = nullderef_write as *const () as usize;
    cprintf!(
        "nullderef: child {:08x} writes address 0x10 at ip {:08x}\n",
        sys_getenvid(),
        ip
    );
    // SAFETY: not safe: faults on purpose, as above.
    unsafe { nullderef_write() };
    cprintf!("nullderef: UNEXPECTED: wrote address 0x10\n");
}

/// Calls a null function pointer.
fn call_null() {
    cprintf!("nullderef: child {:08x} calls address 0\n", sys_getenvid());
    // SAFETY: not safe: jumps to address 0 on purpose; the fetch faults
    // into the null guard, which ends this environment.
    unsafe { core::arch::asm!("call *{0}", in(reg) 0usize, clobber_abi("C"), options(att_syntax)) };
    cprintf!("nullderef: UNEXPECTED: the call returned\n");
}

fn umain(_args: &[&str]) {
    if let Err(e) = enable_null_guard() {
        panic!("enable_null_guard: {e}");
    }
    for f in [read_null as fn(), write_null, call_null] {
        let child = run_child(f);
        cprintf!("nullderef: child {:08x} is gone\n", child);
    }
    cprintf!("nullderef: OK\n");
}
