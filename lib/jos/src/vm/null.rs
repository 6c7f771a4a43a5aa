//! The null guard: a fault near address 0 is reported as what it almost
//! always is, a null-pointer dereference.
//!
//! Nothing is ever mapped in the lowest 64 KiB of a JOS address space (the
//! program starts at UTEXT, 8 MiB). The page-fault region "null" covers
//! [0, NULL_GUARD_END): a read or write there through a null pointer, or a
//! pointer to a field of a null struct, or a call through a null function
//! pointer, reaches [`null_fault`], which prints
//!
//! ```text
//!   [00001000] null pointer dereference: read at va 00000000 ip 00800123
//! ```
//!
//! (`write` for a store, `execute` when the ip itself is the address) and
//! exits the environment.
//!
//! The guard is on once a program calls [`enable_null_guard`]. A program
//! that never uses the virtual-memory library has no page-fault upcall at
//! all, so the kernel reports its faults (`user fault va 00000000 ...`),
//! exactly as JOS's faultread and faultwrite expect.
use super::areas::{Area, Kind, Prot};
use super::fault::Fault;
use crate::cell::EnvCell;
use crate::cprintf;
use crate::pgfault::add_area;
use crate::syscall::sys_getenvid;
use crate::uvpt::pte_of;
use abi::error::Result;
use abi::mmu::FEC_WR;
use abi::trap::UTrapframe;

/// The end of the guarded range (as Linux's default `mmap_min_addr`).
pub const NULL_GUARD_END: usize = 0x10000;

/// The page-fault region's name, as unhandled-fault reports show it.
pub const REGION_NAME: &str = "null";

/// Whether the region is registered.
static ENABLED: EnvCell<bool> = EnvCell::new(false);

/// Turns the null guard on; does nothing if it is on. Installs the
/// page-fault upcall if needed.
///
/// Err(NoMem) if the page-fault region table is full.
pub fn enable_null_guard() -> Result<()> {
    if ENABLED.get() {
        return Ok(());
    }
    add_area(Area::new(
        0,
        NULL_GUARD_END,
        REGION_NAME,
        Prot::NONE,
        Kind::NullGuard,
        Some(null_fault),
    ))?;
    ENABLED.set(true);
    Ok(())
}

/// The null region's fault handler: prints
/// `[envid] null pointer dereference: read|write|execute at va <va> ip <ip>`
/// and exits the environment. Declines faults on a page that is mapped
/// (a program that mapped something low on purpose keeps its own faults).
pub fn null_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    if va >= NULL_GUARD_END || pte_of(va).is_some() {
        return Fault::Declined;
    }
    let access = if utf.utf_err & FEC_WR != 0 {
        "write"
    } else if utf.utf_eip == utf.utf_fault_va {
        "execute"
    } else {
        "read"
    };
    cprintf!(
        "[{:08x}] null pointer dereference: {} at va {:08x} ip {:08x}\n",
        sys_getenvid(),
        access,
        va,
        utf.utf_eip
    );
    crate::env::exit();
}
