//! The address space's areas: a list of ranges, each with a name, a
//! protection, a [`Kind`] and the fault handler that serves it (if any).
//!
//! It is two things at once. It is the map: the program's own segments
//! (listed by `libmain`), the exception stack, the heap, the stack, mmap's
//! mappings, watched pages and a student's own regions, which `vm::maps`
//! prints /proc/self/maps style. And it is the dispatcher's table of
//! regions: for a fault at an address inside an area that has a handler,
//! `crate::pgfault` calls that handler (the newest area first). An area
//! with no handler (the segments, the exception stack) is only listed.
//!
//! ```text
//!   slot  start     end       name    kind            handler  (for example)
//!   0     00800000  00803000  text    Text            -           (libmain)
//!   ...
//!   5     eebff000  eec00000  xstack  ExceptionStack  -           (the upcall)
//!   6     00806000  0080a000  heap    Heap            heap_fault  (vm::heap)
//!   7     50000000  50002000  mmap    Anonymous       anon_fault  (vm::mmap)
//! ```
//!
//! Registering an area with a handler goes through `pgfault::add_area` (or
//! `add_region`), which installs the upcall first; this module only keeps
//! the list. The dispatcher reads it one area at a time
//! ([`area`]), never copying the whole list onto the one-page exception
//! stack.
use super::fault::FaultHandler;
use crate::cell::EnvCell;
use abi::error::{Error, Result};
use core::sync::atomic::{AtomicUsize, Ordering};

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
    /// using it goes); None otherwise. A byte: the dispatcher copies
    /// areas, one at a time, on the exception stack.
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

/// The list: `MAX_REGIONS` slots, empty ones None. A handler may change
/// it (add or remove areas) while the dispatcher walks it.
static AREAS: EnvCell<[Option<Area>; MAX_REGIONS]> = EnvCell::new([None; MAX_REGIONS]);

/// Runs `f` on the list (panics on re-entry: see `EnvCell`).
fn with_list<R>(f: impl FnOnce(&mut [Option<Area>; MAX_REGIONS]) -> R) -> R {
    AREAS.with(f)
}

/// One more than the highest slot ever used: the slots at and above it
/// are all empty, so the dispatcher need not read them. Never goes down
/// (an area removed leaves its slot empty below it).
static SLOTS_USED: AtomicUsize = AtomicUsize::new(0);

/// Returns how many slots may hold an area: those from 0 to
/// `slots_used() - 1` (some may be empty), never more than MAX_REGIONS.
pub fn slots_used() -> usize {
    SLOTS_USED.load(Ordering::Relaxed)
}

/// Returns a copy of the area in slot `i` (None if empty or `i` is out of
/// range), read without writing to the list and without copying the rest
/// of it: what the dispatcher walks, on the one-page exception stack.
pub fn area(i: usize) -> Option<Area> {
    if i >= MAX_REGIONS {
        return None;
    }
    AREAS.get_at(i)
}

/// Puts `area` in the first free slot of the list and returns the slot;
/// it takes part in dispatch if it has a handler, but this does not
/// install the upcall (`pgfault::add_area` does, then calls this).
/// Err(Inval) for an empty range, Err(NoMem) if the list is full.
pub fn insert(area: Area) -> Result<usize> {
    if area.start >= area.end {
        return Err(Error::Inval);
    }
    with_list(|t| {
        let i = t.iter().position(|r| r.is_none())?;
        t[i] = Some(area);
        // Before the list is released: a fault that can see the new area
        // reads its slot.
        SLOTS_USED.fetch_max(i + 1, Ordering::Relaxed);
        Some(i)
    })
    .ok_or(Error::NoMem)
}

/// Returns the first area that satisfies `pred`, without copying the
/// list (a fault handler's exception stack is one page).
pub fn find_area(pred: impl Fn(&Area) -> bool) -> Option<Area> {
    with_list(|t| t.iter().flatten().find(|a| pred(a)).copied())
}

/// Whether some area satisfies `pred` (without copying the list: callers
/// on a one-page stack, like `fork`, cannot afford the copy).
pub fn any_area(pred: impl Fn(&Area) -> bool) -> bool {
    with_list(|t| t.iter().flatten().any(pred))
}

/// The area satisfying `pred` that contains `addr`, or else the lowest
/// one above it; None if there is none. Copies one area, not the list
/// (for handlers on the one-page exception stack).
pub fn next_area(addr: usize, pred: impl Fn(&Area) -> bool) -> Option<Area> {
    with_list(|t| {
        t.iter()
            .flatten()
            .filter(|a| a.end > addr && pred(a))
            .min_by_key(|a| a.start)
            .copied()
    })
}

/// Returns a copy of the list of areas (empty slots are None), in
/// slot order; `vm::maps` sorts and prints it. (The whole list: not for
/// a handler on the one-page exception stack, see [`area`].)
pub fn areas() -> [Option<Area>; MAX_REGIONS] {
    AREAS.with(|t| *t)
}

/// Runs `f` on the list of areas itself (empty slots are None), to change
/// several at once (split one, remove others) with no fault handler
/// seeing the list half-changed; returns what `f` returns. `f` must not
/// touch memory that may fault into a handler that reads the list.
pub fn update_areas<R>(f: impl FnOnce(&mut [Option<Area>; MAX_REGIONS]) -> R) -> R {
    with_list(|t| {
        let r = f(t);
        let top = t.iter().rposition(|a| a.is_some()).map_or(0, |i| i + 1);
        SLOTS_USED.fetch_max(top, Ordering::Relaxed);
        r
    })
}

/// Replaces the handler of region `id` (from add_region), keeping its
/// range: how a student swaps in their own policy for one region. Returns
/// the old handler, or None if there is no such region (or the area has
/// no handler: it stays out of dispatch).
pub fn set_region_handler(id: usize, handler: FaultHandler) -> Option<FaultHandler> {
    with_list(|t| {
        let r = t.get_mut(id)?.as_mut()?;
        let old = r.handler?;
        r.handler = Some(handler);
        Some(old)
    })
}

/// Finds the region (an area with a handler) named `name`; returns its
/// id and range, or None.
pub fn find_region(name: &str) -> Option<(usize, usize, usize)> {
    with_list(|t| {
        t.iter().enumerate().find_map(|(i, r)| {
            r.filter(|r| r.name == name && r.handler.is_some())
                .map(|r| (i, r.start, r.end))
        })
    })
}

/// Changes the range of region `id` (e.g. a heap that grew). Returns false
/// if there is no such region.
pub fn resize_region(id: usize, start: usize, end: usize) -> bool {
    with_list(|t| match t.get_mut(id).and_then(|r| r.as_mut()) {
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
    with_list(|t| {
        if let Some(r) = t.get_mut(id) {
            *r = None;
        }
    });
}
