//! The file server as a pager (demand-paged `spawn`).
//!
//! `spawn` does not copy a program into its child. It opens the program,
//! reads its ELF headers, and asks us (FSREQ_PAGE) to page the child from
//! the file: we keep the file and its loadable segments under a *key*,
//! which the parent gives the kernel with `sys_env_set_pager(child, us,
//! lo, hi, key)`. From then on each fault of the child (or of its fork
//! children, which inherit pager and key) on a page of its program that is
//! not present arrives here as an IPC message (see kern/src/pager.rs), and
//! we answer with the page (the fault message as the value: the kernel
//! takes nothing else for the answer). A client that faults between its
//! request and its receive is paged in from `reply` (serv.rs), before it
//! has taken the reply, from the fault its Env shows:
//!
//! | the page holds                               | the child gets                      |
//! |----------------------------------------------|-------------------------------------|
//! | read-only file bytes (text, rodata)          | our cached block itself, read-only: |
//! |                                              | every copy of the program shares it |
//! | writable file bytes (data), a read fault     | the cached block, copy-on-write     |
//! | only zeros (bss), a read fault               | the zero page, copy-on-write        |
//! | anything else (a write; a page mixing        | a fresh page with the bytes copied  |
//! | segments or file bytes and zeros)            |                                     |
//!
//! A fault may bring in more than its page (`sys_pager_map`, before the
//! answer): on a page of code, the program's other code pages in the
//! aligned 64 KiB around it, read from disk in runs (fault-around and
//! read-ahead: a program's first faults are mostly on its code, one a page
//! otherwise); at a child's first fault, before it has an upcall, its
//! first writable pages as the copies it would get a moment later. Both
//! are bounded, and stop where memory is short: demand paging still.
//!
//! Copy-on-write pages go only to an env with a page-fault upcall (the
//! library's handler copies them on the first write); an env without one
//! gets its own copy at once, since the write fault would kill it.
//! A fault outside every segment is declined (no page): the kernel then
//! gives it to the env's own handler.
//!
//! A program's file renamed while it runs goes on paging it; one removed
//! (or replaced by a rename) pages it no more: its next fault on a page
//! not yet in goes to its own handler, instead of reaching whatever file
//! takes the directory entry next.
//!
//! No env changes the code or read-only data of a running program. A file
//! *written* under a running child (there is no "text file busy") changes
//! only the pages the child has not touched yet: the block cache copies a
//! block's page before writing it if a child maps it (bc.rs,
//! `keep_for_mappers`). Memory-mapped files could still reach a child's
//! page, since a MAP_SHARED mapping is the cache page itself, sent
//! writable, and a `write` to it is not copied (its mappers must see it).
//! So, "copy first": a physical page is never both a page we sent a
//! program and a page of the shared set (`fmap.rs`, rule a). FSREQ_MAP
//! shared on a block whose page programs map first gives the cache a copy
//! (`bc::unshare_page`; the programs keep the old page); and a fault on a
//! block of the shared set gets a private copy of its bytes, not the
//! block's page. Unix's ETXTBSY would refuse the mapping or the write
//! instead; copying keeps every mapping, `write` and spawn working, at
//! the cost of a page per block both mapped and run.
use crate::bc;
use crate::fmap;
use crate::serv::Server;
use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, EnvId, NENV, PAGER_NOMEM, PAGER_WAITING, envx};
use abi::error::{Error, Result};
use abi::fsipc::{FsreqPage, PAGE_MAXSEG, PageSeg};
use abi::memlayout::{UTOP, UZERO};
use abi::mmu::{FEC_WR, PGSIZE, PTE_RW, PteFlags};
use jos::alloc::vec::Vec;
use jos::env::{env_read, env_status, thisenv_id};
use jos::syscall::{sys_ipc_try_send, sys_page_map, sys_page_unmap, sys_pager_map};
use josfs::BLKSIZE;
use josfs::fs::FileRef;

/// Programs paged at once, at most.
pub const MAXPAGED: usize = 256;
/// Programs one env may have in the table at once (a quarter of it, as
/// quota.rs's open files): children it registered that live, or whose key
/// an env still has. Without it one env with 256 stopped children
/// (sys_exofork makes them for nothing) filled the table, and every
/// spawn failed with E_MAX_OPEN.
pub const PAGED_PER_ENV: usize = MAXPAGED / 4;
/// Where we map the zero page to send it (it lives above UTOP).
const ZEROVA: usize = 0x0FFF_D000;
/// Where we build a page to send.
const TMPVA: usize = 0x0FFF_E000;
/// Fault-around: the window of a program's code mapped at a fault on one
/// of its code pages (64 KiB, aligned).
const AROUND: usize = bc::READ_AHEAD_MAX as usize;
/// Most writable pages sent ahead at a child's first fault.
const EARLY_MAX: usize = 4;

/// A program we page: its file and segments, for the envs with its key.
#[derive(Clone, Copy)]
struct Paged {
    /// Its key: the slot plus MAXPAGED times a generation (0: unused).
    key: u32,
    /// The child it was asked for (the slot is busy while it lives, even
    /// before its parent has given the kernel the key).
    child: EnvId,
    /// The env that asked (charged for the slot: PAGED_PER_ENV).
    parent: EnvId,
    file: FileRef,
    /// The file was removed or replaced: no more pages from it.
    gone: bool,
    /// The writable pages were sent ahead, at the child's first fault.
    early_done: bool,
    nseg: usize,
    segs: [PageSeg; PAGE_MAXSEG],
}

/// The programs being paged.
pub struct Pager {
    table: Vec<Option<Paged>>,
    generation: u32,
}

/// How a page is made: which of the program's bytes land where.
enum Plan {
    /// No segment covers it.
    None,
    /// File block `n`, as it is (with `cow` for a writable page).
    Block { n: u32, cow: bool },
    /// Zeros only, from a writable segment.
    Zero,
    /// A fresh page: some bytes copied from the file, the rest zeros.
    Copy { writable: bool },
}

impl Pager {
    /// A pager with nothing to page; maps the zero page where it can be
    /// sent from. Err(NoMem) if that fails.
    pub fn new() -> Result<Pager> {
        sys_page_map(0, UZERO, 0, ZEROVA, PteFlags::P | PteFlags::U)?;
        let mut table = Vec::new();
        table.resize(MAXPAGED, None);
        Ok(Pager {
            table,
            generation: 0,
        })
    }

    /// FSREQ_PAGE from `from`: remembers program `file` with the request's
    /// segments for `from`'s child `req_envid`, which must exist, be
    /// `from`'s and not be running yet. Returns the key, or E_BAD_ENV (not
    /// such a child), E_INVAL (bad segments: unaligned, overlapping UTOP,
    /// more file bytes than the file has), E_MAX_OPEN (table full, or
    /// `from` holds PAGED_PER_ENV slots already).
    pub fn register(
        &mut self,
        from: EnvId,
        req: &FsreqPage,
        file: FileRef,
        size: u32,
    ) -> Result<u32> {
        let child = env_read(envx(req.req_envid));
        if child.env_id != req.req_envid
            || child.env_parent_id != from
            || child.env_status != ENV_NOT_RUNNABLE
        {
            return Err(Error::BadEnv);
        }
        let nseg = req.req_nseg as usize;
        if nseg > PAGE_MAXSEG {
            return Err(Error::Inval);
        }
        let mut segs = [PageSeg::default(); PAGE_MAXSEG];
        for (dst, s) in segs.iter_mut().zip(&req.req_segs[..nseg]) {
            let s = *s;
            let end = s.va.checked_add(s.memsz).ok_or(Error::Inval)?;
            let fend = s.offset.checked_add(s.filesz).ok_or(Error::Inval)?;
            if s.filesz > s.memsz
                || end as usize > UTOP
                || (s.va as usize) < PGSIZE
                || fend > size
                || s.va as usize % PGSIZE != s.offset as usize % PGSIZE
            {
                return Err(Error::Inval);
            }
            *dst = s;
        }
        // A child asked for again (a second FSREQ_PAGE before it runs)
        // gets its slot back, with a new key: a child holds one slot at
        // most, so a parent cannot fill the table with one child.
        let again =
            (0..MAXPAGED).find(|&i| self.table[i].is_some_and(|p| p.child == req.req_envid));
        let slot = match again {
            Some(i) => i,
            None => {
                self.check_quota(from)?;
                self.free_slot().ok_or(Error::MaxOpen)?
            }
        };
        // Generations 1.. so that no key is 0; key % MAXPAGED is the slot.
        self.generation = self.generation % (u32::MAX / MAXPAGED as u32 - 1) + 1;
        let key = self.generation * MAXPAGED as u32 + slot as u32;
        self.table[slot] = Some(Paged {
            key,
            child: req.req_envid,
            parent: from,
            file,
            gone: false,
            early_done: false,
            nseg,
            segs,
        });
        Ok(key)
    }

    /// The file whose entry was at `r` is gone (removed, or replaced by a
    /// rename): programs paged from it get no more pages (their next
    /// fault on a page not yet in goes to their own handler), rather than
    /// pages of whatever file takes the entry next.
    pub fn forget(&mut self, r: FileRef) {
        for p in self.table.iter_mut().flatten().filter(|p| p.file == r) {
            p.gone = true;
        }
    }

    /// The file whose entry was at `from` is at `to` now (renamed):
    /// programs paged from it go on being paged from it.
    pub fn moved(&mut self, from: FileRef, to: FileRef) {
        for p in self
            .table
            .iter_mut()
            .flatten()
            .filter(|p| p.file == from && !p.gone)
        {
            p.file = to;
        }
    }

    /// A slot no env uses: neither its child nor any env with its key. A
    /// slot never used first: only to reuse one must the Env array be
    /// read, and then three fields of each Env, not a copy of it (1024
    /// Env copies were most of an FSREQ_PAGE).
    fn free_slot(&self) -> Option<usize> {
        if let Some(i) = self.table.iter().position(Option::is_none) {
            return Some(i);
        }
        let busy = self.busy();
        (0..MAXPAGED).find(|&i| !busy[i])
    }

    /// Which slots are in use: their child lives, or an env has their key.
    /// Reads three fields of every Env.
    fn busy(&self) -> [bool; MAXPAGED] {
        let me = thisenv_id();
        let mut busy = [false; MAXPAGED];
        for i in 0..NENV {
            if jos::env_field!(i, env_status) != ENV_FREE && jos::env_field!(i, env_pager) == me {
                busy[jos::env_field!(i, env_pager_key) as usize % MAXPAGED] = true;
            }
        }
        for (b, p) in busy.iter_mut().zip(&self.table) {
            *b = match p {
                None => false,
                Some(p) => *b || env_status(p.child) != ENV_FREE,
            };
        }
        busy
    }

    /// Ok if `from` may take one more slot: it holds fewer than
    /// PAGED_PER_ENV in use. Its slots are counted from the table, and only
    /// when that reaches the limit are the ones no longer in use left out
    /// (the Env array is read then). E_MAX_OPEN otherwise.
    fn check_quota(&self, from: EnvId) -> Result<()> {
        let theirs = |p: &Option<Paged>| p.is_some_and(|p| p.parent == from);
        if self.table.iter().filter(|p| theirs(p)).count() < PAGED_PER_ENV {
            return Ok(());
        }
        let busy = self.busy();
        let held = self
            .table
            .iter()
            .zip(busy)
            .filter(|(p, b)| *b && theirs(p))
            .count();
        if held < PAGED_PER_ENV {
            Ok(())
        } else {
            Err(Error::MaxOpen)
        }
    }

    /// Whether the message `msg` from `from` is a page fault the kernel
    /// sent us on its behalf (not a message `from` made up): `from` waits
    /// for us with exactly that fault.
    pub fn is_fault(from: EnvId, msg: u32, perm: u32) -> bool {
        msg & PAGER_WAITING != 0 && perm == 0 && Self::waiting_fault(from) == Some(msg)
    }

    /// Serves fault `msg` of env `from` (checked by `is_fault`): sends it
    /// the page, or no page (declined) if it is outside its program, the
    /// key is stale or the file cannot be read.
    pub fn fault(srv: &mut Server, from: EnvId, msg: u32) {
        let e = env_read(envx(from));
        let page = (msg as usize) & !(PGSIZE - 1);
        let write = msg & FEC_WR != 0;
        let has_upcall = e.env_pgfault_upcall != 0;
        let key = e.env_pager_key;
        let paged = match &srv.pager().table[key as usize % MAXPAGED] {
            Some(p) if p.key == key && !p.gone => *p,
            _ => return answer(from, msg, Ok(None)),
        };
        let ro = PteFlags::P | PteFlags::U;
        let plan = plan(&paged, page, write, has_upcall);
        // Pages sent ahead, before the answer: once this one is answered
        // the env runs on, and would fault on them one by one.
        if !has_upcall && !paged.early_done {
            send_writable_early(srv, &paged, from, page);
            if let Some(p) = srv.pager().table[key as usize % MAXPAGED].as_mut() {
                p.early_done = true;
            }
        }
        if let Plan::Block { cow: false, .. } = plan
            && in_code(&paged, page)
        {
            fault_around(srv, &paged, from, page);
        }
        let sent = match plan {
            Plan::None => Ok(None),
            Plan::Block { n, cow } => match srv.file_block_va(paged.file, n) {
                // A block of the shared set: MAP_SHARED clients may store
                // into its page (or `write` to it), so the child gets the
                // bytes, never the page (copy first, see the header).
                Ok(va) if fmap::is_shared(bc::blockno(va)) => {
                    private_copy(va).map(|()| Some((TMPVA, if cow { PTE_RW } else { ro })))
                }
                Ok(va) => Ok(Some((va, if cow { ro | PteFlags::COW } else { ro }))),
                Err(e) => Err(e),
            },
            Plan::Zero => Ok(Some((ZEROVA, PteFlags::P | PteFlags::U | PteFlags::COW))),
            Plan::Copy { writable } => fill(srv, &paged, page).map(|()| {
                let perm = if writable {
                    PTE_RW
                } else {
                    PteFlags::P | PteFlags::U
                };
                Some((TMPVA, perm))
            }),
        };
        answer(from, msg, sent);
        let _ = sys_page_unmap(0, TMPVA);
    }

    /// The fault env `id` waits for us to answer, if it does: one we have
    /// received, or one still queued for us (which the kernel lets us
    /// answer before receiving it).
    pub fn waiting_fault(id: EnvId) -> Option<u32> {
        let e = env_read(envx(id));
        (e.env_id == id && e.env_pager == thisenv_id() && e.env_pager_fault != 0)
            .then_some(e.env_pager_fault)
    }
}

/// Whether page `page` holds some of `p`'s code (a segment marked
/// executable).
fn in_code(p: &Paged, page: usize) -> bool {
    p.segs[..p.nseg]
        .iter()
        .any(|s| s.exec != 0 && (s.va as usize) < page + PGSIZE && (s.va + s.memsz) as usize > page)
}

/// Fault-around: on a fault on a page of the program's code, the other
/// pages of its code in the aligned window of AROUND pages (64 KiB) are
/// mapped into `from` too, read-only (our cached blocks, shared, as the
/// fault's answer is), where it has none yet; their blocks not cached are
/// read from disk first, in runs of blocks consecutive on disk, one
/// command each (`bc::read_ahead`). Code is where a program's first faults
/// go, one a page otherwise, each an IPC to us and a disk read. Only code:
/// read-only data may be a large table the program never reads (as
/// `pagein`'s), and stays a page a fault. Bounded: AROUND pages, read only
/// with memory to spare; a large program is still paged in on demand, in
/// larger pieces. Nothing here fails the fault: a page not sent ahead is
/// sent when asked for. A block of the shared set is never sent (copy
/// first).
fn fault_around(srv: &mut Server, p: &Paged, from: EnvId, page: usize) {
    let lo = page & !(AROUND * PGSIZE - 1);
    let mut blocks = [(0usize, 0u32); AROUND];
    let mut n = 0;
    for va in (lo..lo + AROUND * PGSIZE).step_by(PGSIZE) {
        if let Plan::Block { n: fb, cow: false } = plan(p, va, false, true)
            && in_code(p, va)
            && let Ok(b) = srv.file_disk_block(p.file, fb)
        {
            blocks[n] = (va, b);
            n += 1;
        }
    }
    let blocks = &blocks[..n];
    // Read ahead, a run of consecutive disk blocks at a time.
    let mut i = 0;
    while i < blocks.len() {
        let mut j = i + 1;
        while j < blocks.len() && blocks[j].1 == blocks[j - 1].1 + 1 {
            j += 1;
        }
        bc::read_ahead(blocks[i].1, (j - i) as u32);
        i = j;
    }
    for &(va, b) in blocks {
        let cva = bc::diskaddr(b);
        if va != page && bc::va_is_mapped(cva) && !fmap::is_shared(b) {
            // (Inval: the env has that page already.)
            let _ = sys_pager_map(from, cva, va, PteFlags::P | PteFlags::U);
        }
    }
}

/// At the first fault of a child with no page-fault handler yet (its
/// first instruction): its first writable pages, each a fresh page with
/// its bytes, mapped writable. The library's start writes its statics at
/// once: each such page would be a fault, and the same copy, a moment
/// later. Which pages: those holding file bytes (.data), and the zero
/// pages (.bss) too if all the writable pages are EARLY_MAX or fewer (a
/// large .bss, a buffer the program may never touch, stays on demand); at
/// most EARLY_MAX. Only with a page free (no cached block is given up for
/// them). `page`, being answered, is left out.
fn send_writable_early(srv: &mut Server, p: &Paged, from: EnvId, page: usize) {
    let pages = |s: &PageSeg, len: u32| {
        let lo = s.va as usize & !(PGSIZE - 1);
        let hi = (s.va as usize + len as usize).next_multiple_of(PGSIZE);
        (lo..hi).step_by(PGSIZE)
    };
    let writable = || p.segs[..p.nseg].iter().filter(|s| s.writable != 0);
    let all = writable().map(|s| pages(s, s.memsz).len()).sum::<usize>() <= EARLY_MAX;
    let mut sent = 0;
    for s in writable() {
        for va in pages(s, if all { s.memsz } else { s.filesz }) {
            if sent == EARLY_MAX {
                return;
            }
            sent += 1;
            if va == page || jos::syscall::sys_page_alloc(0, TMPVA, PTE_RW).is_err() {
                continue;
            }
            if fill_bytes(srv, p, va).is_ok() {
                let _ = sys_pager_map(from, TMPVA, va, PTE_RW);
            }
            let _ = sys_page_unmap(0, TMPVA);
        }
    }
}

/// Answers fault `msg` of `from` with its page (`va`, `perm`), or no page
/// (`Ok(None)`, or an error making it). It waits for exactly this answer
/// (the kernel takes it only while `from` waits for `msg`), so one try is
/// enough; if it is gone, so be it. With memory short (for the page, or
/// the kernel needs a page table), clean cached blocks are given up; if
/// that is not enough, the fault is declined for want of memory
/// (PAGER_NOMEM: the env may free some of its own and fault again) rather
/// than left waiting for ever.
fn answer(from: EnvId, msg: u32, sent: Result<Option<(usize, PteFlags)>>) {
    let nomem = || {
        let _ = sys_ipc_try_send(from, msg | PAGER_NOMEM, UTOP, PteFlags::empty());
    };
    let (va, perm) = match sent {
        Ok(Some(p)) => p,
        Err(Error::NoMem) => return nomem(),
        Ok(None) | Err(_) => (UTOP, PteFlags::empty()),
    };
    loop {
        match sys_ipc_try_send(from, msg, va, perm) {
            // (Never the page being sent: it would then not be there.)
            Err(Error::NoMem) if bc::make_room_keeping(va) => {}
            Err(Error::NoMem) => return nomem(),
            _ => return,
        }
    }
}

/// Which of `p`'s bytes make page `page`, for a fault (`write` or not) of
/// an env with or without an upcall.
fn plan(p: &Paged, page: usize, write: bool, has_upcall: bool) -> Plan {
    let (lo, hi) = (page as u64, (page + PGSIZE) as u64);
    let mut covered = false;
    let mut writable = false;
    let mut file_bytes = false;
    let mut zero_bytes = false;
    let mut delta = None;
    let mut one_delta = true;
    for s in &p.segs[..p.nseg] {
        let (va, memsz, filesz) = (s.va as u64, s.memsz as u64, s.filesz as u64);
        if va + memsz <= lo || va >= hi {
            continue;
        }
        covered = true;
        writable |= s.writable != 0;
        if va + filesz > lo && va < hi {
            file_bytes = true;
            let d = va as i64 - s.offset as i64;
            one_delta &= delta.is_none_or(|x| x == d);
            delta = Some(d);
        }
        // Zeros (bss) inside the page?
        if va + memsz > va + filesz && va + filesz < hi && va + memsz > lo {
            zero_bytes = true;
        }
    }
    // A write to a page no writable segment covers: declined (the env's
    // own handler or the kernel deals with it, as with any write to
    // read-only memory). Sending the read-only page again would only make
    // an env with no upcall fault on it for ever.
    if !covered || (write && !writable) {
        return Plan::None;
    }
    if !file_bytes {
        return if writable && !write && has_upcall {
            Plan::Zero
        } else {
            Plan::Copy { writable }
        };
    }
    if one_delta && !zero_bytes {
        let off = page as i64 - delta.unwrap_or(0);
        if off >= 0
            && (off as usize).is_multiple_of(BLKSIZE)
            && (!writable || (!write && has_upcall))
        {
            return Plan::Block {
                n: (off as usize / BLKSIZE) as u32,
                cow: writable,
            };
        }
    }
    Plan::Copy { writable }
}

/// Copies the cache page at `va` into a fresh page at TMPVA, to send a
/// program the bytes of a block of the shared set. Err(NoMem) if no page
/// can be had even after giving up clean cached blocks (never `va`'s: a
/// block of the set is not given up).
fn private_copy(va: usize) -> Result<()> {
    bc::alloc_page(TMPVA)?;
    // SAFETY: TMPVA is the page just mapped, ours alone; `va` is a mapped
    // cache page, another page.
    unsafe { core::ptr::copy_nonoverlapping(va as *const u8, TMPVA as *mut u8, PGSIZE) };
    Ok(())
}

/// Builds page `page` of program `p` at TMPVA: zeros, then each segment's
/// file bytes that fall in it. Err(NoMem) if no page can be had even after
/// giving up clean cached blocks; a file read error as is.
fn fill(srv: &mut Server, p: &Paged, page: usize) -> Result<()> {
    bc::alloc_page(TMPVA)?;
    fill_bytes(srv, p, page)
}

/// Copies into the fresh (zeroed) page at TMPVA each segment's file bytes
/// that fall in page `page` of program `p`. A file read error as is.
fn fill_bytes(srv: &mut Server, p: &Paged, page: usize) -> Result<()> {
    // SAFETY: TMPVA is a page just mapped, ours alone.
    let buf = unsafe { core::slice::from_raw_parts_mut(TMPVA as *mut u8, PGSIZE) };
    for s in &p.segs[..p.nseg] {
        let start = (s.va as usize).max(page);
        let end = (s.va as usize + s.filesz as usize).min(page + PGSIZE);
        if start >= end {
            continue;
        }
        let off = s.offset + (start - s.va as usize) as u32;
        let n = srv.read_file(p.file, &mut buf[start - page..end - page], off)?;
        if n != end - start {
            return Err(Error::Inval);
        }
    }
    Ok(())
}
