//! User-level page-fault handling (JOS's lib/pgfault.c and lib/pfentry.S):
//! the upcall and the dispatcher. This file is mechanism only: which
//! handlers exist (copy-on-write, the heap, the stack, mmap, swap, ...) is
//! decided elsewhere, by whoever registers them.
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
//!
//! ## Dispatch
//!
//! One upcall serves every fault, and [`pgfault_dispatch`] hands each fault
//! to the piece of policy that owns it, in this order:
//!
//! 1. a debug trap (`FEC_DEBUG` in the error code: a single step the
//!    program asked for) goes to the debug handler ([`set_debug_handler`]);
//! 2. a write to a present copy-on-write page goes to the COW handler
//!    ([`set_cow_handler`]; `vm::cow::pgfault` unless replaced);
//! 3. a fault inside an area with a handler (`vm::areas`, registered with
//!    [`add_region`] or [`add_area`]: the heap, the stack, watched pages,
//!    the null guard, a student's own region) goes to that handler, the
//!    newest area first;
//! 4. the hooks ([`add_unhandled_hook`]: swap evicts pages for a fault our
//!    pager declined for want of memory), then such a fault is retried
//!    after a yield (`vm::fault::pager_declined`);
//! 5. then the fallback handler, which is what JOS's
//!    [`set_pgfault_handler`] sets.
//!
//! Each handler returns [`Fault::Handled`] (the faulting instruction is
//! retried) or [`Fault::Declined`] (the next candidate gets it). A fault
//! nobody handles is reported (address, access, ip, area) and the
//! environment exits. Any one piece can be replaced without touching the
//! others.
use crate::cell::EnvCell;
use crate::syscall::{sys_env_set_pgfault_upcall, sys_page_alloc, sys_page_unmap};
use crate::uvpt::pte_of;
use crate::vm::areas::{self, Area, Kind, Prot};
use crate::vm::fault::report_unhandled;
use abi::error::{Error, Result};
use abi::memlayout::UXSTACKTOP;
use abi::mmu::{FEC_DEBUG, FEC_WR, PGSIZE, PTE_RW, PteFlags};
use abi::trap::UTrapframe;
use core::arch::global_asm;
use core::mem::offset_of;

pub use crate::vm::fault::{Fault, FaultHandler};

/// A JOS-style handler: fixes the fault (e.g. maps a page) and returns,
/// which resumes the faulting instruction.
pub type PgfaultHandler = fn(&mut UTrapframe);

/// Most hooks at once ([`add_unhandled_hook`]).
const MAX_HOOKS: usize = 4;

/// The handlers that are not tied to an area (those are in `vm::areas`).
/// Small: the dispatcher copies it on the exception stack for each fault.
#[derive(Clone, Copy)]
struct Handlers {
    cow: Option<FaultHandler>,
    debug: Option<FaultHandler>,
    hooks: [Option<FaultHandler>; MAX_HOOKS],
    fallback: Option<PgfaultHandler>,
    installed: bool,
}

static HANDLERS: EnvCell<Handlers> = EnvCell::new(Handlers {
    // Copy-on-write pages come from fork, and from the file server paging
    // a spawned program's data: either way they must be copied.
    cow: Some(crate::vm::cow::pgfault),
    debug: None,
    hooks: [None; MAX_HOOKS],
    fallback: None,
    installed: false,
});

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

/// Called by `_pgfault_upcall` with the UTrapframe: finds the handler
/// that owns the fault (see the module comment) and runs it.
extern "C" fn pgfault_dispatch(utf: *mut UTrapframe) {
    // SAFETY: the kernel built a valid UTrapframe at `utf` on our exception
    // stack, and nothing else refers to it while the handlers run.
    let utf = unsafe { &mut *utf };
    let va = utf.utf_fault_va as usize;
    // Read without writing (no copy-on-write copy of the cell's page in a
    // fork child), and small: the exception stack is one page, and a fault
    // in a handler nests a second dispatch on it.
    let h = HANDLERS.get();

    if utf.utf_err & FEC_DEBUG != 0 {
        if let Some(debug) = h.debug
            && debug(utf) == Fault::Handled
        {
            return;
        }
        report_unhandled(utf, None);
    }
    if utf.utf_err & FEC_WR != 0
        && let Some(cow) = h.cow
        && pte_of(va).is_some_and(|p| p.flags().contains(PteFlags::COW))
        && cow(utf) == Fault::Handled
    {
        return;
    }
    // The areas, newest slot first, copied one at a time (a handler may
    // change the list); those with no handler (the segments) are only listed.
    let mut owner = None;
    for a in (0..areas::slots_used()).rev().filter_map(areas::area) {
        if let Some(handler) = a.handler
            && (a.start..a.end).contains(&va)
        {
            owner.get_or_insert(a.name);
            if handler(utf) == Fault::Handled {
                return;
            }
        }
    }
    for hook in h.hooks.into_iter().flatten() {
        if hook(utf) == Fault::Handled {
            return;
        }
    }
    if crate::vm::fault::pager_declined(utf) == Fault::Handled {
        return;
    }
    if let Some(fallback) = h.fallback {
        fallback(utf);
        return;
    }
    report_unhandled(utf, owner);
}

/// Registers `handler` for faults in [start, end), named `name` in
/// reports (an anonymous read-write area in the map). Newer regions are
/// asked first. Returns the region's index (for `vm::areas`'s
/// `set_region_handler` and `remove_region`), Err(Inval) for an empty
/// range, Err(NoMem) if the list is full or the upcall cannot be installed
/// (out of memory); nothing is registered then. Installs the upcall if
/// needed.
pub fn add_region(
    start: usize,
    end: usize,
    name: &'static str,
    handler: FaultHandler,
) -> Result<usize> {
    add_area(Area::new(
        start,
        end,
        name,
        Prot::RW,
        Kind::Anonymous,
        Some(handler),
    ))
}

/// Registers `area` in the list: with a handler it takes part in
/// dispatch like [`add_region`]'s (and installs the upcall); without one
/// it is only listed. Returns its index; Err(Inval) for an empty range,
/// Err(NoMem) if the list is full or the upcall cannot be installed.
pub fn add_area(area: Area) -> Result<usize> {
    if area.start >= area.end {
        return Err(Error::Inval);
    }
    if area.handler.is_some() {
        install_upcall()?;
    }
    areas::insert(area)
}

/// Adds `hook` to the hooks the dispatcher runs before it declares a fault
/// unhandled (after the COW handler and the areas declined it; before the
/// fallback), in the order added: how policy that no area owns joins in
/// (swap evicts pages when our pager declined one for want of memory).
/// Adding a hook already there does nothing. Installs the upcall if
/// needed.
///
/// Err(NoMem) if the list is full or the upcall cannot be installed (out
/// of memory); the hook is then not added.
pub fn add_unhandled_hook(hook: FaultHandler) -> Result<()> {
    install_upcall()?;
    HANDLERS.with(|t| {
        if t.hooks
            .iter()
            .flatten()
            .any(|h| core::ptr::fn_addr_eq(*h, hook))
        {
            return Ok(());
        }
        let slot = t.hooks.iter_mut().find(|s| s.is_none());
        *slot.ok_or(Error::NoMem)? = Some(hook);
        Ok(())
    })
}

/// Sets the handler for writes to copy-on-write pages (`vm::cow::pgfault`
/// until then). Returns the previous one.
///
/// Err(NoMem) if the upcall cannot be installed (out of memory); the
/// handler is then not set.
pub fn set_cow_handler(handler: FaultHandler) -> Result<Option<FaultHandler>> {
    install_upcall()?;
    Ok(HANDLERS.with(|t| t.cow.replace(handler)))
}

/// The current copy-on-write handler.
pub fn cow_handler() -> Option<FaultHandler> {
    HANDLERS.get().cow
}

/// Sets the handler for debug traps (single steps). Returns the previous one.
///
/// A handler that wants to go on stepping must not just return with TF set
/// in `utf_eflags`: the trap would come after the upcall's own last
/// instruction, not the program's. Resume with `sys_env_set_trapframe` on
/// yourself instead (see `vm::watch`).
///
/// Err(NoMem) if the upcall cannot be installed (out of memory); the
/// handler is then not set.
pub fn set_debug_handler(handler: FaultHandler) -> Result<Option<FaultHandler>> {
    install_upcall()?;
    Ok(HANDLERS.with(|t| t.debug.replace(handler)))
}

/// Returns the address of the assembly upcall, as passed to
/// `sys_env_set_pgfault_upcall` (e.g. by `fork` for a child).
pub fn pgfault_upcall_addr() -> usize {
    _pgfault_upcall as *const () as usize
}

/// Sets the fallback page-fault handler: JOS's `set_pgfault_handler`, for
/// faults that no copy-on-write page or region claims. The first use of
/// any handler maps the exception stack and registers the upcall.
///
/// Err(NoMem) if that cannot be done (out of memory; JOS's C version
/// panics); the handler is then not set.
pub fn set_pgfault_handler(handler: PgfaultHandler) -> Result<()> {
    install_upcall()?;
    HANDLERS.with(|t| t.fallback = Some(handler));
    Ok(())
}

/// Maps the exception stack (one page below UXSTACKTOP, P|U|W) and
/// registers `_pgfault_upcall` with the kernel, once. Until then, faults
/// are the kernel's business (it reports them and destroys the env), which
/// is what JOS programs without a handler expect. Mechanism only: no
/// policy (stack growth, the null guard) comes with it; a program asks for
/// those itself (`vm::enable_default_guards`).
///
/// Err(NoMem) if the exception stack cannot be allocated (out of memory):
/// nothing is installed then, and a later call tries again. An exception
/// stack that is already mapped (a fork child's, which its parent made)
/// is kept.
pub fn install_upcall() -> Result<()> {
    if HANDLERS.get().installed {
        return Ok(());
    }
    let xstack = UXSTACKTOP - PGSIZE;
    let fresh = pte_of(xstack).is_none();
    if fresh {
        sys_page_alloc(0, xstack, PTE_RW)?;
    }
    if let Err(e) = sys_env_set_pgfault_upcall(0, pgfault_upcall_addr()) {
        if fresh {
            let _ = sys_page_unmap(0, xstack);
        }
        return Err(e);
    }
    HANDLERS.with(|t| t.installed = true);
    // Listed in the map (a fork child's parent listed it already).
    if !areas::any_area(|a| a.kind == Kind::ExceptionStack) {
        let xs = Area::new(
            xstack,
            UXSTACKTOP,
            "xstack",
            Prot::RW,
            Kind::ExceptionStack,
            None,
        );
        let _ = areas::insert(xs);
    }
    Ok(())
}
