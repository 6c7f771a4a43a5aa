//! `mmap`, `munmap`, `msync` and `mprotect` (issue 13): anonymous memory
//! and memory-mapped files.
//!
//! A mapping is an area in the address-space list (`vm::areas`, added by `pgfault::add_area`)
//! between MMAP_BASE and MMAP_END, with a fault handler and nothing
//! mapped: its pages come on first touch.
//!
//! - `MAP_PRIVATE`: a read maps the shared zero page (copy-on-write, if
//!   the area is writable: the zero page's COW handler gives the page its
//!   own frame on the first write); a write maps a fresh zeroed page.
//!   `fork` copies it copy-on-write like any other memory.
//! - `MAP_SHARED`: a fault maps a fresh zeroed page with PTE_SHARE, so
//!   `fork` shares it; and `fork` first faults in every page of such an
//!   area that is not there yet (a page made after the fork would be the
//!   parent's or the child's alone). `spawn` does not share them (they are
//!   this program's memory, not its descriptors).
//!
//! A file mapping (no MAP_ANONYMOUS) holds its file by a descriptor of its
//! own, a `dup` of the caller's into the highest free slot (so closing the
//! caller's descriptor does not end the mapping; the area records it, and
//! it is closed when the last area using it is unmapped). Its handler,
//! [`file_fault`], asks the file server for the page (FSREQ_MAP, through
//! the fault path's own request page, `file::map_page`) and the reply maps
//! the server's block-cache page straight at the faulting page:
//!
//! - `MAP_SHARED`: that page itself, PTE_SHARE (writable if the mapping
//!   is), so stores are seen by every other mapper and by `read`, and a
//!   `write` is seen in the mapping; the server writes such pages to disk
//!   on `msync`, `munmap`, `sync` and the close of the file (see the
//!   server's `fmap.rs`). `fork` shares the pages present; a child faulting
//!   later gets the same cache page anyway.
//! - `MAP_PRIVATE`: the same page read-only, and with PTE_COW if the
//!   mapping is writable: the library's COW handler copies it on the first
//!   write, and `fork` keeps it copy-on-write.
//!
//! A page wholly past the end of the file ends the env with a report
//! naming the mapping ("beyond the end of the file", Unix's SIGBUS); the
//! bytes past the end in the last page read as zeros. `spawn` passes on
//! neither the pages of the window nor the descriptors mappings hold.
//!
//! A write to an area without PROT_WRITE, or any access to a PROT_NONE
//! one, is declined: the library's report names the area.
use super::areas::{Area, Kind, MAX_REGIONS, Prot, any_area, areas, find_area, update_areas};
use super::fault::Fault;
use super::swap;
use crate::fd::{close, dup, fd_lookup};
use crate::pgfault::add_area;
use crate::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap};
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::fsipc::{DEV_FILE, FSMAP_SHARED, FSMAP_WRITE, MAXFD, O_ACCMODE, O_RDONLY, O_WRONLY};
use abi::memlayout::UZERO;
use abi::mmu::{FEC_PR, FEC_WR, PGSIZE, PTE_RW, PteFlags, round_down, split_range};
use abi::trap::UTrapframe;

/// Pages may be read.
pub const PROT_READ: u32 = 1;
/// Pages may be written.
pub const PROT_WRITE: u32 = 2;
/// Pages may be executed (no NX on i386 without PAE: same as read).
pub const PROT_EXEC: u32 = 4;
/// Stores are seen by every env that shares the mapping.
pub const MAP_SHARED: u32 = 0x01;
/// Stores are the caller's own (copy-on-write).
pub const MAP_PRIVATE: u32 = 0x02;
/// No file: zero-filled memory.
pub const MAP_ANONYMOUS: u32 = 0x20;

/// Where anonymous mappings are placed.
pub const MMAP_BASE: usize = 0x5000_0000;
/// The end (exclusive) of the mapping window.
pub const MMAP_END: usize = 0x9000_0000;
const _: () = assert!(MMAP_END <= swap::SWAP_END);

/// The names of our areas in the map (and in fault reports); the private
/// one is the name swap looks for (it pages those areas when writable).
const NAME_PRIVATE: &str = swap::NAME_SWAPPABLE;
const NAME_SHARED: &str = "mmap shared";
const NAME_FILE: &str = "mmap file";
const NAME_FILE_SHARED: &str = "mmap file shared";

/// Whether `a` is one of ours.
fn is_mmap_area(a: &Area) -> bool {
    (a.name == NAME_PRIVATE && a.kind == Kind::Anonymous)
        || (a.name == NAME_SHARED && a.kind == Kind::Shared)
}

/// Whether `a` is one of our file mappings.
fn is_file_area(a: &Area) -> bool {
    a.fd.is_some()
        && ((a.name == NAME_FILE && a.kind == Kind::File)
            || (a.name == NAME_FILE_SHARED && a.kind == Kind::Shared))
}

/// Whether `a` is a mapping made by [`mmap`], anonymous or of a file.
fn is_ours(a: &Area) -> bool {
    is_mmap_area(a) || is_file_area(a)
}

/// The area's protection for PROT_* bits `prot`: PROT_NONE is listed and
/// guarded, nothing readable; anything else is readable (i386 pages cannot
/// be write- or execute-only).
fn area_prot(prot: u32) -> Prot {
    if prot == 0 {
        Prot::NONE
    } else {
        Prot::new(true, prot & PROT_WRITE != 0, prot & PROT_EXEC != 0)
    }
}

/// The lowest gap of `len` bytes (whole pages) in the window that no area
/// overlaps; None if there is none.
fn find_gap(len: usize) -> Option<usize> {
    let list = areas();
    let mut start = MMAP_BASE;
    loop {
        let end = start.checked_add(len)?;
        if end > MMAP_END {
            return None;
        }
        match list
            .iter()
            .flatten()
            .filter(|a| a.start < end && start < a.end)
            .map(|a| a.end)
            .max()
        {
            None => return Some(start),
            Some(e) => start = e.next_multiple_of(PGSIZE),
        }
    }
}

/// Maps `len` bytes (rounded up to pages) with protection `prot` (PROT_*
/// bits) and `flags`: MAP_SHARED or MAP_PRIVATE, with MAP_ANONYMOUS for
/// zero-filled memory (then `fd` is None and `offset` 0), or without it for
/// the file open as descriptor `fd` from byte `offset` on (see the module
/// comment). Returns the address; nothing is mapped until touched.
///
/// Err(Inval) for a length of 0, unknown bits, neither or both of SHARED
/// and PRIVATE, an anonymous mapping with a descriptor or an offset, and
/// for a file mapping: no descriptor or one not open (POSIX's EBADF), an
/// offset not a multiple of the page size, a descriptor open write-only,
/// or PROT_WRITE with MAP_SHARED on one open read-only (POSIX's EACCES:
/// we have no permission error); Err(NotSupp) for a descriptor that is not
/// a file (console, pipe: POSIX's ENODEV); Err(MaxOpen) if no descriptor
/// is free for the mapping to hold its file by; Err(NoMem) if the window
/// or the area list is full.
pub fn mmap(len: usize, prot: u32, flags: u32, fd: Option<usize>, offset: usize) -> Result<usize> {
    let sharing = flags & (MAP_SHARED | MAP_PRIVATE);
    if len == 0
        || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0
        || flags & !(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS) != 0
        || (sharing != MAP_SHARED && sharing != MAP_PRIVATE)
    {
        return Err(Error::Inval);
    }
    let shared = sharing == MAP_SHARED;
    enable()?;
    if flags & MAP_ANONYMOUS == 0 {
        return mmap_file(len, prot, shared, fd.ok_or(Error::Inval)?, offset);
    }
    if fd.is_some() || offset != 0 {
        return Err(Error::Inval);
    }
    let len = len.checked_next_multiple_of(PGSIZE).ok_or(Error::NoMem)?;
    let start = find_gap(len).ok_or(Error::NoMem)?;
    let p = area_prot(prot);
    add_area(Area::new(
        start,
        start + len,
        if shared { NAME_SHARED } else { NAME_PRIVATE },
        p,
        if shared {
            Kind::Shared
        } else {
            Kind::Anonymous
        },
        Some(anon_fault),
    ))?;
    if !shared && prot & PROT_WRITE != 0 {
        super::zero::install()?;
    }
    Ok(start)
}

/// The file mapping of [`mmap`]: checks the descriptor and the offset,
/// then adds the area, holding the file by a descriptor of its own.
/// Errors as [`mmap`] gives them.
fn mmap_file(len: usize, prot: u32, shared: bool, fd: usize, offset: usize) -> Result<usize> {
    let f = fd_lookup(fd)?;
    if f.fd_dev_id != DEV_FILE {
        return Err(Error::NotSupp);
    }
    let mode = f.fd_omode as u32 & O_ACCMODE;
    if !offset.is_multiple_of(PGSIZE)
        || mode == O_WRONLY
        || (shared && prot & PROT_WRITE != 0 && mode == O_RDONLY)
    {
        return Err(Error::Inval);
    }
    let len = len.checked_next_multiple_of(PGSIZE).ok_or(Error::NoMem)?;
    offset.checked_add(len).ok_or(Error::Inval)?;
    let start = find_gap(len).ok_or(Error::NoMem)?;
    // The highest free descriptor: out of the way of the low numbers a
    // program (or the shell's redirections) expects to get from `open`.
    let held = (0..MAXFD)
        .rev()
        .find(|&n| fd_lookup(n).is_err())
        .ok_or(Error::MaxOpen)?;
    dup(fd, held)?;
    let (name, kind) = if shared {
        (NAME_FILE_SHARED, Kind::Shared)
    } else {
        (NAME_FILE, Kind::File)
    };
    let mut a = Area::new(
        start,
        start + len,
        name,
        area_prot(prot),
        kind,
        Some(file_fault),
    );
    a.offset = offset;
    a.fd = Some(held as u8);
    if let Err(e) = add_area(a) {
        let _ = close(held);
        return Err(e);
    }
    Ok(start)
}

/// For a fault handler: the area satisfying `kind` that holds the fault
/// address, the page to map there and whether the fault was a write.
/// None (decline the fault) if there is no such area, the page is present
/// (a protection fault: not ours to fix), or the access is not allowed
/// (PROT_NONE, or a write to a read-only mapping).
fn fault_area(utf: &UTrapframe, kind: fn(&Area) -> bool) -> Option<(Area, usize, bool)> {
    let va = utf.utf_fault_va as usize;
    // Not a copy of the list: the exception stack is one page.
    let a = find_area(|a| kind(a) && (a.start..a.end).contains(&va))?;
    let write = utf.utf_err & FEC_WR != 0;
    if utf.utf_err & FEC_PR != 0 || !a.prot.read || (write && !a.prot.write) {
        return None;
    }
    Some((a, round_down(va, PGSIZE), write))
}

/// The fault handler of every file mapping: asks the file server for the
/// page (see the module comment) and maps it, or declines a write to a
/// read-only mapping, any access to a PROT_NONE one, and a page the server
/// refuses (reported first). A page wholly past the end of the file is
/// reported and ends the env.
pub fn file_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    let Some((a, page, write)) = fault_area(utf, is_file_area) else {
        return Fault::Declined;
    };
    let offset = a.offset + (page - a.start);
    let shared = a.kind == Kind::Shared;
    let flags = match (shared, a.prot.write) {
        (true, true) => FSMAP_SHARED | FSMAP_WRITE,
        (true, false) => FSMAP_SHARED,
        (false, _) => 0,
    };
    let r =
        a.fd.ok_or(Error::Inval)
            .and_then(|fd| fd_lookup(fd.into()))
            .and_then(|fd| crate::file::map_page(fd, offset, flags, page));
    let access = if write { "write" } else { "read" };
    match r {
        Ok(()) => {}
        Err(Error::Eof) => {
            crate::cprintf!(
                "[{:08x}] {} at va {:08x} ip {:08x}: beyond the end of the file (offset {:08x}) in mapping \"{}\" {:08x}-{:08x}\n",
                crate::syscall::sys_getenvid(),
                access,
                va,
                utf.utf_eip,
                offset,
                a.name,
                a.start,
                a.end
            );
            crate::env::exit();
        }
        Err(e) => {
            crate::cprintf!(
                "[{:08x}] {} at va {:08x}: the file server gives mapping \"{}\" no page for offset {:08x}: {}\n",
                crate::syscall::sys_getenvid(),
                access,
                va,
                a.name,
                offset,
                e
            );
            return Fault::Declined;
        }
    }
    if !shared && a.prot.write {
        // Copy-on-write: the COW handler copies it on the first write
        // (maybe this one, retried).
        let cow = PteFlags::P | PteFlags::U | PteFlags::COW;
        if let Err(e) = sys_page_map(0, page, 0, page, cow) {
            panic!("mmap: remapping va {page:08x} copy-on-write: {e}");
        }
    }
    Fault::Handled
}

/// What [`carve`] does with the part of each mapping inside its range.
#[derive(Clone, Copy)]
enum Cut {
    /// Take it out of the list (munmap).
    Remove,
    /// Give it this protection (mprotect).
    Protect(Prot),
}

/// The page-aligned range [addr, addr + len) (len rounded up to pages):
/// its end, or Err(Inval) for an unaligned address, a length of 0 or a
/// range that wraps.
fn page_range(addr: usize, len: usize) -> Result<usize> {
    if len == 0 || !addr.is_multiple_of(PGSIZE) {
        return Err(Error::Inval);
    }
    let len = len.checked_next_multiple_of(PGSIZE).ok_or(Error::Inval)?;
    addr.checked_add(len).ok_or(Error::Inval)
}

/// `a` cut down to [start, end) (inside it): a file mapping's offset moves
/// with its start.
fn piece(a: &Area, start: usize, end: usize) -> Area {
    let offset = if a.fd.is_some() {
        a.offset + (start - a.start)
    } else {
        a.offset
    };
    Area {
        start,
        end,
        offset,
        ..*a
    }
}

/// Splits every mapping that overlaps [lo, hi) at lo and hi, and removes
/// or reprotects the part inside (`cut`); the parts outside stay as they
/// were (a file piece keeps its descriptor, its offset adjusted). All or
/// nothing: Err(NoMem) if the list has too few free slots for the new
/// pieces, and nothing changes. Puts the parts inside, as they were
/// before, in the first slots of `out` (the rest None): the caller's array,
/// not a returned one, as the list is a kilobyte and a program's stack may
/// be one page.
fn carve(lo: usize, hi: usize, cut: Cut, out: &mut [Option<Area>; MAX_REGIONS]) -> Result<()> {
    *out = [None; MAX_REGIONS];
    update_areas(|t| {
        let split = |a: &Area| split_range(a.start, a.end, lo, hi);
        let mut todo = [false; MAX_REGIONS];
        let mut need = 0;
        for (i, slot) in t.iter().enumerate() {
            if let Some(a) = slot.filter(|a| is_ours(a) && split(a).inside.is_some()) {
                todo[i] = true;
                let kept = split(&a).outside_pieces() + matches!(cut, Cut::Protect(_)) as usize;
                // The slot itself takes one piece.
                need += kept.saturating_sub(1);
            }
        }
        if need > t.iter().filter(|s| s.is_none()).count() {
            return Err(Error::NoMem);
        }
        let mut n = 0;
        for i in (0..MAX_REGIONS).filter(|&i| todo[i]) {
            let Some(a) = t[i].take() else { continue };
            let s = split(&a);
            let Some((in_lo, in_hi)) = s.inside else {
                continue;
            };
            let mid = piece(&a, in_lo, in_hi);
            out[n] = Some(mid);
            n += 1;
            let pieces = [
                s.before.map(|(b, e)| piece(&a, b, e)),
                s.after.map(|(b, e)| piece(&a, b, e)),
                match cut {
                    Cut::Protect(prot) => Some(Area { prot, ..mid }),
                    Cut::Remove => None,
                },
            ];
            for p in pieces.into_iter().flatten() {
                // Counted above: there is a free slot.
                if let Some(slot) = t.iter_mut().find(|s| s.is_none()) {
                    *slot = Some(p);
                }
            }
        }
        Ok(())
    })
}

/// Closes descriptor `fd` if it was held by a file mapping and no mapping
/// holds it any more; otherwise asks the server to write the file back
/// (FSREQ_FLUSH), as a close would. Returns the server's error.
fn release_fd(fd: u8) -> Result<()> {
    if any_area(|a| is_file_area(a) && a.fd == Some(fd)) {
        crate::file::fsync(fd.into())
    } else {
        close(fd.into())
    }
}

/// Unmaps the pages of [addr, addr + len) (len rounded up to pages) that
/// mappings made by [`mmap`] cover: any page-aligned part of one or more
/// mappings (POSIX: pages in the range that no mapping covers are left
/// alone). A mapping cut in the middle becomes two; a file mapping's
/// pieces keep its file. Private and anonymous pages are freed once no one
/// else maps them; a MAP_SHARED file's pages go to disk (the server writes
/// them back), and a mapping's own descriptor is closed once no piece
/// needs it.
///
/// Err(Inval) for an unaligned address, a length of 0 or a wrapping range;
/// Err(NoMem) if cutting a mapping in two needs a slot of the area list
/// and there is none (nothing is unmapped then).
pub fn munmap(addr: usize, len: usize) -> Result<()> {
    let end = page_range(addr, len)?;
    let mut gone = [None; MAX_REGIONS];
    carve(addr, end, Cut::Remove, &mut gone)?;
    for a in gone.iter().flatten() {
        for va in (a.start..a.end).step_by(PGSIZE) {
            if pte_of(va).is_some() {
                let _ = sys_page_unmap(0, va);
            }
        }
        swap::forget_range(a.start, a.end);
    }
    // Each descriptor once, after every page of it is unmapped (the server
    // drops a block from its shared set when no one maps it any more).
    // Write-back errors are msync's to report (a removed file's id is
    // forgotten by the server: its flush fails, and that is fine).
    for (i, a) in gone.iter().flatten().enumerate() {
        if let Some(fd) = a.fd
            && !gone[..i].iter().flatten().any(|b| b.fd == a.fd)
        {
            let _ = release_fd(fd);
        }
    }
    Ok(())
}

/// msync flag (Linux's value): write back, returning at once (ours waits).
pub const MS_ASYNC: u32 = 1;
/// msync flag: drop cached copies (nothing to do: shared pages are the cache's).
pub const MS_INVALIDATE: u32 = 2;
/// msync flag: write back and wait.
pub const MS_SYNC: u32 = 4;

/// Writes the MAP_SHARED file pages of [addr, addr + len) to disk: asks
/// the server to write back each file mapped there (FSREQ_FLUSH, which
/// writes every page clients map writable, whatever the cache's dirty bit
/// says). MS_SYNC and MS_ASYNC both wait for the disk; MS_INVALIDATE needs
/// nothing (a shared mapping's pages are the cache's: there is no other
/// copy to drop). Private and anonymous pages have nothing to write.
///
/// Err(Inval) for an unaligned address, a length of 0, unknown flags, or
/// both MS_SYNC and MS_ASYNC; Err(NoMem) if part of the range is not
/// mapped by [`mmap`] (POSIX's ENOMEM); the server's error otherwise.
pub fn msync(addr: usize, len: usize, flags: u32) -> Result<()> {
    let end = page_range(addr, len)?;
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == MS_ASYNC | MS_SYNC
    {
        return Err(Error::Inval);
    }
    let list = areas();
    let mut covered = 0;
    let mut fds = [false; MAXFD];
    for a in list.iter().flatten().filter(|a| is_ours(a)) {
        if a.start < end && addr < a.end {
            covered += a.end.min(end) - a.start.max(addr);
            if a.kind == Kind::Shared
                && let Some(fd) = a.fd
            {
                fds[usize::from(fd)] = true;
            }
        }
    }
    if covered != end - addr {
        return Err(Error::NoMem);
    }
    for fd in (0..MAXFD).filter(|&fd| fds[fd]) {
        crate::file::fsync(fd)?;
    }
    Ok(())
}

/// What `mprotect` does to one present page of area `a` for the new
/// protection `p`: Some(perm) remaps it with perm, None unmaps it (it is
/// faulted in again when touched: the file's page, the zero page).
/// Err(NotSupp) where the change would lose data or cannot be made: a
/// private or anonymous page that is not the zero page going PROT_NONE,
/// or a read-only page of an anonymous shared mapping that another env
/// maps too going writable.
fn reprotect(a: &Area, p: Prot, pte: abi::mmu::Pte) -> Result<Option<PteFlags>> {
    let ro = PteFlags::P | PteFlags::U;
    let writable = pte.flags().contains(PteFlags::W);
    let file = a.fd.is_some();
    let shared = a.kind == Kind::Shared;
    if !p.read {
        return if (file && shared) || super::zero::is_zero_page(pte) {
            Ok(None)
        } else {
            Err(Error::NotSupp)
        };
    }
    Ok(match (shared, p.write) {
        (true, true) if writable => Some(PTE_RW | PteFlags::SHARE),
        // The server gave it read-only: fetched again, writable.
        (true, true) if file => None,
        (true, true) if crate::uvpt::page_refcount(pte.addr()) == Some(1) => {
            Some(PTE_RW | PteFlags::SHARE)
        }
        (true, true) => return Err(Error::NotSupp),
        (true, false) => Some(ro | PteFlags::SHARE),
        // A page of our own stays writable; any other is copied on write.
        (false, true) if writable => Some(PTE_RW),
        (false, true) => Some(ro | PteFlags::COW),
        (false, false) => Some(ro),
    })
}

/// Changes the protection of [addr, addr + len) (len rounded up to pages),
/// which mappings made by [`mmap`] must cover, to `prot` (PROT_* bits),
/// splitting mappings at the ends of the range. Present pages are remapped
/// at once: read-only, or writable (a private page that is not the
/// caller's own becomes copy-on-write; a shared file page the server gave
/// read-only is dropped, to be fetched again writable). PROT_NONE is
/// allowed only where it loses no data: it unmaps a shared file page (the
/// file has it) and the zero page, and refuses a range with any other
/// page present.
///
/// Err(Inval) for an unaligned address, a length of 0, unknown bits, or
/// PROT_WRITE on a MAP_SHARED file mapping whose file is open read-only;
/// Err(NoMem) if part of the range is not mapped by [`mmap`] or the area
/// list has no room for the pieces; Err(NotSupp) for PROT_NONE where
/// data would be lost, or making writable a read-only page of an
/// anonymous shared mapping that another env maps too. On error nothing
/// has changed.
pub fn mprotect(addr: usize, len: usize, prot: u32) -> Result<()> {
    let end = page_range(addr, len)?;
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Error::Inval);
    }
    let p = area_prot(prot);
    // First check every area and page of the range, changing nothing.
    let mut covered = 0;
    for a in areas().iter().flatten().filter(|a| is_ours(a)) {
        let (lo, hi) = (a.start.max(addr), a.end.min(end));
        if lo >= hi {
            continue;
        }
        covered += hi - lo;
        if p.write
            && a.kind == Kind::Shared
            && let Some(fd) = a.fd
            && fd_lookup(fd.into())?.fd_omode as u32 & O_ACCMODE == O_RDONLY
        {
            return Err(Error::Inval);
        }
        for va in (lo..hi).step_by(PGSIZE) {
            if let Some(pte) = pte_of(va) {
                reprotect(a, p, pte)?;
            }
        }
    }
    if covered != end - addr {
        return Err(Error::NoMem);
    }
    if p.write {
        super::zero::install()?;
    }
    let mut changed = [None; MAX_REGIONS];
    carve(addr, end, Cut::Protect(p), &mut changed)?;
    for a in changed.iter().flatten() {
        for va in (a.start..a.end).step_by(PGSIZE) {
            let Some(pte) = pte_of(va) else { continue };
            // Checked above: the same pages, nothing ran in between.
            let r = match reprotect(a, p, pte) {
                Ok(Some(perm)) => sys_page_map(0, va, 0, va, perm),
                Ok(None) => sys_page_unmap(0, va),
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                panic!("mprotect: va {va:08x}: {e}");
            }
        }
    }
    Ok(())
}

/// The fault handler of every anonymous mapping: maps the page the fault
/// needs (see the module comment), or declines a write to a read-only
/// mapping and any access to a PROT_NONE one.
pub fn anon_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    let Some((a, page, write)) = fault_area(utf, is_mmap_area) else {
        return Fault::Declined;
    };
    if swap::swapped_out(page) {
        return match swap::page_in(page) {
            Ok(()) => Fault::Handled,
            Err(e) => panic!("mmap: cannot page in va {va:08x}: {e}"),
        };
    }
    let ro = PteFlags::P | PteFlags::U;
    // When memory is short, the swap pager evicts pages and we try again.
    let r = swap::retry(|| match (a.kind, write, a.prot.write) {
        (Kind::Shared, _, true) => sys_page_alloc(0, page, PTE_RW | PteFlags::SHARE),
        (Kind::Shared, _, false) => sys_page_alloc(0, page, ro | PteFlags::SHARE),
        (_, true, _) => sys_page_alloc(0, page, PTE_RW),
        (_, false, true) => sys_page_map(0, UZERO, 0, page, ro | PteFlags::COW),
        (_, false, false) => sys_page_map(0, UZERO, 0, page, ro),
    });
    match r {
        Ok(()) => {
            swap::touch(page);
            Fault::Handled
        }
        Err(e) => panic!("mmap: no page for va {va:08x} (out of memory and swap): {e}"),
    }
}

/// Whether `va` is the Fd page or data page of a descriptor a file
/// mapping holds (`spawn` passes those on to no one). Cannot fail.
pub fn is_held_fd_page(va: usize) -> bool {
    use abi::fsipc::FDTABLE;
    if !(FDTABLE..FDTABLE + 2 * MAXFD * PGSIZE).contains(&va) {
        return false;
    }
    let n = (va - FDTABLE) / PGSIZE % MAXFD;
    any_area(|a| is_file_area(a) && a.fd == Some(n as u8))
}

/// Registers this module's [`before_fork`] with `fork::atfork`, and swap
/// (which pages private anonymous mappings), before each mapping is made:
/// the first time does it, later ones find it done and write nothing.
/// Err(NoMem) if a hook list is full or the upcall cannot be installed.
fn enable() -> Result<()> {
    crate::fork::atfork(before_fork)?;
    swap::enable()
}

/// Before `fork`: faults in every page of every shared mapping that is not
/// there yet, so that parent and child share all of it. Err(NoMem) if a
/// page cannot be had.
pub fn before_fork() -> Result<()> {
    // Most programs have none: then no copy of the area list (fork may run
    // on a one-page stack).
    if !any_area(|a| is_mmap_area(a) && a.kind == Kind::Shared) {
        return Ok(());
    }
    for a in areas().into_iter().flatten() {
        if !is_mmap_area(&a) || a.kind != Kind::Shared || !a.prot.read {
            continue;
        }
        for va in (a.start..a.end).step_by(PGSIZE) {
            if pte_of(va).is_none() {
                let perm = if a.prot.write {
                    PTE_RW
                } else {
                    PteFlags::P | PteFlags::U
                };
                sys_page_alloc(0, va, perm | PteFlags::SHARE)?;
            }
        }
    }
    Ok(())
}
