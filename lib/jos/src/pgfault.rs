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
//!
//! ## Dispatch
//!
//! One upcall serves every fault, and [`pgfault_dispatch`] hands each fault
//! to the piece of policy that owns it, in this order:
//!
//! 1. a debug trap (`FEC_DEBUG` in the error code: a single step the
//!    program asked for) goes to the debug handler ([`set_debug_handler`]);
//! 2. a write to a present copy-on-write page goes to the COW handler
//!    ([`set_cow_handler`]; [`crate::fork::pgfault`] unless replaced);
//! 3. a fault inside a registered region goes to that region's handler
//!    ([`add_region`]: the heap, the stack, watched pages, the null guard,
//!    a student's own region), the most recently added first;
//! 4. then the fallback handler, which is what JOS's
//!    [`set_pgfault_handler`] sets.
//!
//! Each handler returns [`Fault::Handled`] (the faulting instruction is
//! retried) or [`Fault::Declined`] (the next candidate gets it). A fault
//! nobody handles is reported (address, access, ip, region) and the
//! environment exits. Any one piece can be replaced without touching the
//! others.
//!
//! ## The table is also the map
//!
//! Each entry is an [`Area`]: a range with a name, a protection and a
//! [`Kind`], and a handler that may be missing. The program's own segments
//! (listed by `libmain`) and the exception stack have none: the dispatcher
//! skips them, and `vm::maps` prints every area, /proc/self/maps style.
use crate::cell::EnvCell;
use crate::syscall::{sys_env_set_pgfault_upcall, sys_getenvid, sys_page_alloc, sys_page_unmap};
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::memlayout::UXSTACKTOP;
use abi::mmu::{FEC_DEBUG, FEC_PR, FEC_WR, PGSIZE, PTE_RW, PteFlags};
use abi::trap::UTrapframe;
use core::arch::global_asm;
use core::mem::offset_of;

/// A JOS-style handler: fixes the fault (e.g. maps a page) and returns,
/// which resumes the faulting instruction.
pub type PgfaultHandler = fn(&mut UTrapframe);

/// What a dispatched handler did with a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fixed: retry the faulting instruction.
    Handled,
    /// Not mine: offer the fault to the next handler.
    Declined,
}

/// A handler in the dispatch table.
pub type FaultHandler = fn(&mut UTrapframe) -> Fault;

/// What backs an area of the address space (the last column of a map).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The program's code.
    Text,
    /// The program's read-only data.
    Rodata,
    /// The program's initialised data (with `.perenv`).
    Data,
    /// The program's zero-initialised data.
    Bss,
    /// The lazy heap (`vm::heap`).
    Heap,
    /// The user stack, or the zone it may grow into (`vm::stack`).
    Stack,
    /// The null guard (`vm::null`).
    NullGuard,
    /// A watched page (`vm::watch`).
    Watch,
    /// The exception stack below UXSTACKTOP.
    ExceptionStack,
    /// Memory with no file behind it: what `add_region` registers.
    Anonymous,
    /// A file's pages from `offset` on (for a later mmap).
    File,
    /// Pages shared with other environments (`PTE_SHARE`).
    Shared,
}

/// The protection an area allows, /proc/self/maps style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    /// Nothing allowed (a guard).
    pub const NONE: Prot = Prot::new(false, false, false);
    /// Read only.
    pub const R: Prot = Prot::new(true, false, false);
    /// Read and write.
    pub const RW: Prot = Prot::new(true, true, false);
    /// Read and execute (code).
    pub const RX: Prot = Prot::new(true, false, true);

    /// Returns the protection with these permissions.
    pub const fn new(read: bool, write: bool, exec: bool) -> Prot {
        Prot { read, write, exec }
    }
}

/// An area of the address space: a range, what it is, and the handler
/// that serves its faults. An area with no handler (the program's own
/// segments, the exception stack) is only listed: the dispatcher skips it.
#[derive(Clone, Copy, Debug)]
pub struct Area {
    pub start: usize,
    pub end: usize,
    pub name: &'static str,
    pub prot: Prot,
    pub kind: Kind,
    /// Offset in the file, for a file mapping; 0 otherwise.
    pub offset: usize,
    /// For a file mapping (`vm::mmap`): the descriptor the mapping holds
    /// its file by (a `dup` of the caller's, closed when the last area
    /// using it goes); None otherwise. A byte: the table is copied on
    /// the exception stack.
    pub fd: Option<u8>,
    pub handler: Option<FaultHandler>,
}

impl Area {
    /// Returns the area [start, end) with offset 0.
    pub const fn new(
        start: usize,
        end: usize,
        name: &'static str,
        prot: Prot,
        kind: Kind,
        handler: Option<FaultHandler>,
    ) -> Area {
        Area {
            start,
            end,
            name,
            prot,
            kind,
            offset: 0,
            fd: None,
            handler,
        }
    }
}

/// Most areas at once (the program's own take about six).
pub const MAX_REGIONS: usize = 24;

/// The dispatch table, which is also the list of the address space's
/// areas (see `vm::maps`). The dispatcher takes a copy of it before calling
/// any handler, so handlers may change it (add or remove regions).
#[derive(Clone, Copy)]
struct Table {
    regions: [Option<Area>; MAX_REGIONS],
    cow: Option<FaultHandler>,
    debug: Option<FaultHandler>,
    fallback: Option<PgfaultHandler>,
    installed: bool,
}

static TABLE: EnvCell<Table> = EnvCell::new(Table {
    regions: [None; MAX_REGIONS],
    // Copy-on-write pages come from fork, and from the file server paging
    // a spawned program's data: either way the library copies them.
    cow: Some(crate::fork::pgfault),
    debug: None,
    fallback: None,
    installed: false,
});

/// Runs `f` on the dispatch table (panics on re-entry: see `EnvCell`).
fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    TABLE.with(f)
}

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
    // A copy, read without writing the table (no copy-on-write copy of its
    // page in a fork child, and handlers may change the table); one copy,
    // used in place: the exception stack is one page, and a fault in a
    // handler nests a second dispatch on it.
    let t = TABLE.get();
    let (regions, cow, debug, fallback) = (&t.regions, t.cow, t.debug, t.fallback);

    if utf.utf_err & FEC_DEBUG != 0 {
        if let Some(h) = debug
            && h(utf) == Fault::Handled
        {
            return;
        }
        unhandled(utf, None);
    }
    if utf.utf_err & FEC_WR != 0
        && let Some(h) = cow
        && pte_of(va).is_some_and(|p| p.flags().contains(PteFlags::COW))
        && h(utf) == Fault::Handled
    {
        return;
    }
    let mut owner = None;
    for r in regions.iter().rev().flatten() {
        // Areas with no handler (the program's segments) are only listed.
        if let Some(handler) = r.handler
            && (r.start..r.end).contains(&va)
        {
            owner.get_or_insert(r.name);
            if handler(utf) == Fault::Handled {
                return;
            }
        }
    }
    // A page of our program that our pager declined (short of memory).
    if crate::vm::swap::pager_declined(utf) == Fault::Handled {
        return;
    }
    if let Some(h) = fallback {
        h(utf);
        return;
    }
    unhandled(utf, owner);
}

/// Reports a fault no handler took, and exits.
fn unhandled(utf: &UTrapframe, region: Option<&str>) -> ! {
    let err = utf.utf_err;
    let what = if err & FEC_DEBUG != 0 {
        "debug trap"
    } else if err & FEC_WR != 0 {
        "write"
    } else {
        "read"
    };
    let why = if err & FEC_DEBUG != 0 {
        ""
    } else if err & FEC_PR != 0 {
        " (protection)"
    } else {
        " (not present)"
    };
    crate::cprintf!(
        "[{:08x}] unhandled page fault: {}{} at va {:08x} ip {:08x}, region {}\n",
        sys_getenvid(),
        what,
        why,
        utf.utf_fault_va,
        utf.utf_eip,
        region.unwrap_or("none")
    );
    crate::env::exit();
}

/// Registers `handler` for faults in [start, end), named `name` in
/// reports (an anonymous read-write area in the map). Newer regions are
/// asked first. Returns the region's index (for [`set_region_handler`] /
/// [`remove_region`]), Err(Inval) for an empty range, Err(NoMem) if the
/// table is full or the upcall cannot be installed (out of memory);
/// nothing is registered then. Installs the upcall if needed.
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
/// Err(NoMem) if the table is full or the upcall cannot be installed.
pub fn add_area(area: Area) -> Result<usize> {
    if area.start >= area.end {
        return Err(Error::Inval);
    }
    if area.handler.is_some() {
        install_upcall()?;
    }
    with_table(|t| {
        let i = t.regions.iter().position(|r| r.is_none())?;
        t.regions[i] = Some(area);
        Some(i)
    })
    .ok_or(Error::NoMem)
}

/// Returns the first area that satisfies `pred`, without copying the
/// list (a fault handler's exception stack is one page).
pub fn find_area(pred: impl Fn(&Area) -> bool) -> Option<Area> {
    with_table(|t| t.regions.iter().flatten().find(|a| pred(a)).copied())
}

/// Whether some area satisfies `pred` (without copying the list: callers
/// on a one-page stack, like `fork`, cannot afford the copy).
pub fn any_area(pred: impl Fn(&Area) -> bool) -> bool {
    with_table(|t| t.regions.iter().flatten().any(pred))
}

/// The area satisfying `pred` that contains `addr`, or else the lowest
/// one above it; None if there is none. Copies one area, not the list
/// (for handlers on the one-page exception stack).
pub fn next_area(addr: usize, pred: impl Fn(&Area) -> bool) -> Option<Area> {
    with_table(|t| {
        t.regions
            .iter()
            .flatten()
            .filter(|a| a.end > addr && pred(a))
            .min_by_key(|a| a.start)
            .copied()
    })
}

/// Returns a copy of the list of areas (empty slots are None), in
/// registration order; `vm::maps` sorts and prints it. (Only the list is
/// copied, not the whole table: stacks are a page.)
pub fn areas() -> [Option<Area>; MAX_REGIONS] {
    with_table(|t| t.regions)
}

/// Runs `f` on the list of areas itself (empty slots are None), to change
/// several at once (split one, remove others) with no fault handler
/// seeing the list half-changed; returns what `f` returns. `f` must not
/// touch memory that may fault into a handler that reads the list.
pub fn update_areas<R>(f: impl FnOnce(&mut [Option<Area>; MAX_REGIONS]) -> R) -> R {
    with_table(|t| f(&mut t.regions))
}

/// Replaces the handler of region `id` (from add_region), keeping its
/// range: how a student swaps in their own policy for one region. Returns
/// the old handler, or None if there is no such region (or the area has
/// no handler: it stays out of dispatch).
pub fn set_region_handler(id: usize, handler: FaultHandler) -> Option<FaultHandler> {
    with_table(|t| {
        let r = t.regions.get_mut(id)?.as_mut()?;
        let old = r.handler?;
        r.handler = Some(handler);
        Some(old)
    })
}

/// Finds the region (an area with a handler) named `name`; returns its
/// id and range, or None.
pub fn find_region(name: &str) -> Option<(usize, usize, usize)> {
    with_table(|t| {
        t.regions.iter().enumerate().find_map(|(i, r)| {
            r.filter(|r| r.name == name && r.handler.is_some())
                .map(|r| (i, r.start, r.end))
        })
    })
}

/// Changes the range of region `id` (e.g. a heap that grew). Returns false
/// if there is no such region.
pub fn resize_region(id: usize, start: usize, end: usize) -> bool {
    with_table(|t| match t.regions.get_mut(id).and_then(|r| r.as_mut()) {
        Some(r) => {
            r.start = start;
            r.end = end;
            true
        }
        None => false,
    })
}

/// Removes region `id`.
pub fn remove_region(id: usize) {
    with_table(|t| {
        if let Some(r) = t.regions.get_mut(id) {
            *r = None;
        }
    });
}

/// Sets the handler for writes to copy-on-write pages (fork installs its
/// own if none is set). Returns the previous one.
///
/// Err(NoMem) if the upcall cannot be installed (out of memory); the
/// handler is then not set.
pub fn set_cow_handler(handler: FaultHandler) -> Result<Option<FaultHandler>> {
    install_upcall()?;
    Ok(with_table(|t| t.cow.replace(handler)))
}

/// The current copy-on-write handler.
pub fn cow_handler() -> Option<FaultHandler> {
    TABLE.get().cow
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
    Ok(with_table(|t| t.debug.replace(handler)))
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
    with_table(|t| t.fallback = Some(handler));
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
    if TABLE.get().installed {
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
    with_table(|t| t.installed = true);
    // Listed in the map (a fork child's parent listed it already).
    if !areas()
        .iter()
        .flatten()
        .any(|a| a.kind == Kind::ExceptionStack)
    {
        let xs = Area::new(
            xstack,
            UXSTACKTOP,
            "xstack",
            Prot::RW,
            Kind::ExceptionStack,
            None,
        );
        let _ = add_area(xs);
    }
    Ok(())
}
