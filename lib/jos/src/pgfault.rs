//! User-level page-fault handling (JOS's lib/pgfault.c and lib/pfentry.S).
//!
//! When a page fault happens in user mode and we registered an upcall, the
//! kernel switches to the user exception stack (the page below UXSTACKTOP),
//! pushes a [`UTrapframe`] describing the fault and jumps to the upcall,
//! `_pgfault_upcall` below. If the fault happened while already on the
//! exception stack (a fault inside the handler), the new frame goes just
//! below the current ESP, leaving one empty word in between: the upcall uses
//! that word to return.
//!
//! ```text
//!   UXSTACKTOP ->  +------------------+     trap-time stack (normal or
//!                  |  utf_esp         |---> exception stack, for a nested
//!                  |  utf_eflags      |     fault): the upcall stores
//!                  |  utf_eip         |     utf_eip just below utf_esp and
//!                  |  utf_regs (32 B) |     returns there with `ret`
//!                  |  utf_err         |
//!   ESP at entry-> |  utf_fault_va    |
//!                  +------------------+
//! ```
use crate::syscall::{sys_env_set_pgfault_upcall, sys_page_alloc};
use abi::memlayout::UXSTACKTOP;
use abi::mmu::{PGSIZE, PteFlags};
use abi::trap::UTrapframe;
use core::arch::global_asm;
use core::mem::offset_of;

/// A user page-fault handler: may fix the fault (e.g. map a page) and
/// return, which resumes the faulting instruction.
pub type PgfaultHandler = fn(&mut UTrapframe);

/// The handler `_pgfault_upcall` calls, or None before the first
/// `set_pgfault_handler`.
static mut PGFAULT_HANDLER: Option<PgfaultHandler> = None;

unsafe extern "C" {
    /// The assembly entry point the kernel jumps to on a user page fault.
    /// Not callable from Rust: only its address is used.
    fn _pgfault_upcall();
}

// The upcall. On entry ESP points at the UTrapframe on the exception stack.
global_asm!(
    r#"
    .text
    .globl _pgfault_upcall
_pgfault_upcall:
    /* Call the Rust handler with a pointer to the UTrapframe. Keep that
       pointer in EBP (callee-saved) and call with a 16-byte aligned
       stack and the direction flag clear, as Rust code expects. */
    movl %esp, %ebp
    andl $-16, %esp
    subl $12, %esp
    pushl %ebp
    cld
    call {dispatch}
    movl %ebp, %esp

    /* Return to the faulting code without a system call. Push the
       trap-time EIP onto the trap-time stack (into the spare word, for a
       nested fault), and make the trap-time ESP point at it. */
    movl {eip}(%esp), %eax
    movl {esp}(%esp), %ebx
    subl $4, %ebx
    movl %eax, (%ebx)
    movl %ebx, {esp}(%esp)

    /* Restore the general registers (popal skips ESP), then EFLAGS: no
       arithmetic after this point. */
    addl ${regs}, %esp
    popal
    addl $4, %esp               /* skip utf_eip */
    popfl

    /* Switch back to the trap-time stack and return to the trap-time EIP. */
    popl %esp
    ret
"#,
    dispatch = sym pgfault_dispatch,
    regs = const offset_of!(UTrapframe, utf_regs),
    eip = const offset_of!(UTrapframe, utf_eip),
    esp = const offset_of!(UTrapframe, utf_esp),
    options(att_syntax)
);

/// Called by `_pgfault_upcall` with the UTrapframe; runs the handler.
extern "C" fn pgfault_dispatch(utf: *mut UTrapframe) {
    // SAFETY: written only by set_pgfault_handler, before the upcall is
    // registered; a plain copy of a function pointer.
    let handler = unsafe { PGFAULT_HANDLER };
    // SAFETY: the kernel built a valid UTrapframe at `utf` on our exception
    // stack, and nothing else refers to it while the handler runs.
    let utf = unsafe { &mut *utf };
    match handler {
        Some(h) => h(utf),
        None => panic!(
            "page fault at va {:#x} eip {:#x} with no handler",
            utf.utf_fault_va, utf.utf_eip
        ),
    }
}

/// Returns the address of the assembly upcall, as passed to
/// `sys_env_set_pgfault_upcall` (e.g. by `fork` for a child).
pub fn pgfault_upcall_addr() -> usize {
    _pgfault_upcall as *const () as usize
}

/// Sets the user page-fault handler to `handler`. The first time, also maps
/// the exception stack (one page below UXSTACKTOP, P|U|W) and registers
/// `_pgfault_upcall` with the kernel.
///
/// Panics if the stack cannot be allocated or the upcall not registered.
pub fn set_pgfault_handler(handler: PgfaultHandler) {
    // SAFETY: environments are single-threaded, and the upcall reads the
    // handler only during a fault, never in the middle of this write.
    let first = unsafe {
        let old = PGFAULT_HANDLER;
        PGFAULT_HANDLER = Some(handler);
        old.is_none()
    };
    if first {
        let perm = PteFlags::P | PteFlags::U | PteFlags::W;
        if let Err(e) = sys_page_alloc(0, UXSTACKTOP - PGSIZE, perm) {
            panic!("set_pgfault_handler: allocating the exception stack: {e}");
        }
        if let Err(e) = sys_env_set_pgfault_upcall(0, pgfault_upcall_addr()) {
            panic!("set_pgfault_handler: setting the upcall: {e}");
        }
    }
}
