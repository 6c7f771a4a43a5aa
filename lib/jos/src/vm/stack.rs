//! A user stack that grows on demand, above a guard zone.
//!
//! The kernel maps one stack page below USTACKTOP. Once growth is enabled
//! ([`enable_stack_growth`] or [`set_stack_limit`]), the page-fault region
//! "stack" covers the area below that page, and [`stack_fault`] maps stack
//! pages as the program first touches them:
//!
//! ```text
//!   UXSTACKTOP  +--------------------+  0xEEC00000
//!               |  exception stack   |  one page (the upcall's handlers)
//!               +--------------------+  0xEEBFF000
//!               |  empty guard page  |  never mapped: a handler that runs
//!   USTACKTOP   +--------------------+  off its stack faults (or the kernel
//!               |  first stack page  |  refuses the nested frame)
//!               +--------------------+  <- region "stack" ends here
//!               |  grows on demand   |  up to `limit - 1` more pages
//!   stack_lo -> +--------------------+  USTACKTOP - limit * PGSIZE
//!               |  guard zone        |  GUARD_PAGES, never mapped:
//!               |                    |  a fault here is a stack overflow
//!               +--------------------+  <- region "stack" starts here
//! ```
//!
//! A fault in the region below the current bottom of the stack maps every
//! page from the faulting one up to that bottom (so the stack stays one
//! contiguous run of pages, as `sfork` expects), a page at a time. A fault
//! in the guard zone is an overflow: the environment prints
//! `[envid] user stack overflow at va <va>` and exits.
//!
//! The guard zone is more than one page because a function with a large
//! frame (a local array) moves ESP by several pages at once and could skip
//! a single guard page; 64 KiB catches frames up to that size.
//!
//! Growth is off until a program asks for it: programs that never use the
//! virtual-memory library keep JOS's behaviour (a fault below the stack is
//! the kernel's "user fault" report). Any program enables it with one call;
//! a fork child inherits it with the rest of the address space.
//!
//! Caveats: whatever faults in the region grows the stack, even a stray
//! pointer (the handler does not compare the address with ESP); and the
//! kernel does not fault stack pages in for system calls, which only
//! matters for a buffer on a stack page that was never touched.
use super::areas::{Area, Kind, Prot, resize_region};
use super::fault::Fault;
use crate::cell::EnvCell;
use crate::cprintf;
use crate::pgfault::add_area;
use crate::syscall::{sys_getenvid, sys_page_alloc};
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::memlayout::USTACKTOP;
use abi::mmu::{PGSIZE, PTE_RW, round_down};
use abi::trap::UTrapframe;

/// The default most pages the stack may use, the first one included.
pub const DEFAULT_STACK_PAGES: usize = 10;

/// The largest limit [`set_stack_limit`] accepts (4 MiB of stack): the
/// heap keeps clear of the 16 MiB below USTACKTOP.
pub const MAX_STACK_PAGES: usize = 1024;

/// Unmapped pages below the deepest stack page a fault is an overflow in.
pub const GUARD_PAGES: usize = 16;

/// The page-fault region's name, as unhandled-fault reports show it.
pub const REGION_NAME: &str = "stack";

/// The stack's limit and its page-fault region, once registered.
#[derive(Clone, Copy)]
struct Stack {
    limit: usize,
    region: Option<usize>,
}

static STACK: EnvCell<Stack> = EnvCell::new(Stack {
    limit: DEFAULT_STACK_PAGES,
    region: None,
});

/// Runs `f` on the stack's settings (panics on re-entry: see `EnvCell`).
fn with_stack<R>(f: impl FnOnce(&mut Stack) -> R) -> R {
    STACK.with(f)
}

/// Returns the lowest address the stack may reach with `limit` pages.
const fn stack_lo(limit: usize) -> usize {
    USTACKTOP - limit * PGSIZE
}

/// Returns the region for `limit` pages: the guard zone and every page
/// below the first one, down to the limit.
const fn region_range(limit: usize) -> (usize, usize) {
    (stack_lo(limit) - GUARD_PAGES * PGSIZE, USTACKTOP - PGSIZE)
}

/// Returns the lowest address of the stack: the bottom of the run of
/// mapped pages just below USTACKTOP.
pub fn stack_bottom() -> usize {
    let mut va = USTACKTOP;
    while pte_of(va - PGSIZE).is_some() {
        va -= PGSIZE;
    }
    va
}

/// Returns how many pages the stack uses now (mapped, contiguous below
/// USTACKTOP).
pub fn stack_pages() -> usize {
    (USTACKTOP - stack_bottom()) / PGSIZE
}

/// Returns the stack's limit in pages (the first page included).
pub fn stack_limit() -> usize {
    with_stack(|s| s.limit)
}

/// Turns stack growth on with the current limit ([`DEFAULT_STACK_PAGES`]
/// unless [`set_stack_limit`] changed it); does nothing if it is on.
/// Installs the page-fault upcall if needed.
///
/// Err(NoMem) if the page-fault region table is full.
pub fn enable_stack_growth() -> Result<()> {
    let Stack { limit, region } = with_stack(|s| *s);
    if region.is_some() {
        return Ok(());
    }
    let (start, end) = region_range(limit);
    let id = add_area(Area::new(
        start,
        end,
        REGION_NAME,
        Prot::RW,
        Kind::Stack,
        Some(stack_fault),
    ))?;
    with_stack(|s| s.region = Some(id));
    Ok(())
}

/// Sets the most pages the stack may use (the first page included) and
/// turns growth on.
///
/// Err(Inval) for 0 pages, more than [`MAX_STACK_PAGES`], or fewer pages
/// than the stack uses now; Err(NoMem) if the page-fault region table is
/// full. The limit is unchanged on error.
pub fn set_stack_limit(pages: usize) -> Result<()> {
    if pages == 0 || pages > MAX_STACK_PAGES || pages < stack_pages() {
        return Err(Error::Inval);
    }
    let old = with_stack(|s| core::mem::replace(&mut s.limit, pages));
    match with_stack(|s| s.region) {
        Some(id) => {
            let (start, end) = region_range(pages);
            resize_region(id, start, end);
            Ok(())
        }
        None => enable_stack_growth().inspect_err(|_| with_stack(|s| s.limit = old)),
    }
}

/// The stack region's fault handler: a fault below the bottom of the stack
/// and within the limit maps every page from the faulting one up to the
/// bottom; a fault in the guard zone prints
/// `[envid] user stack overflow at va <va>` and exits the environment.
/// Declines faults on pages that are mapped (a protection fault is not a
/// missing stack page) and faults outside the region.
///
/// Panics if a page cannot be allocated (out of memory).
pub fn stack_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    let limit = with_stack(|s| s.limit);
    let (start, end) = region_range(limit);
    if !(start..end).contains(&va) || pte_of(va).is_some() {
        return Fault::Declined;
    }
    if va < stack_lo(limit) {
        cprintf!(
            "[{:08x}] user stack overflow at va {:08x}\n",
            sys_getenvid(),
            va
        );
        crate::env::exit();
    }
    let page = round_down(va, PGSIZE);
    // Top down, so the stack stays contiguous even if we run out of memory
    // half-way.
    let mut p = stack_bottom();
    while p > page {
        p -= PGSIZE;
        if let Err(e) = sys_page_alloc(0, p, PTE_RW) {
            panic!("growing the stack to va {va:08x}: {e}");
        }
    }
    Fault::Handled
}
