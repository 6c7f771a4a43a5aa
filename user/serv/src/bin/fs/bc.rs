//! The block cache (JOS's fs/bc.c), a virtual-memory trick of its own: the
//! whole disk is mapped at DISKMAP, block n at DISKMAP + n * BLKSIZE, and a
//! block is read from disk only when it is first touched, by this region's
//! page-fault handler. A block is written back by `flush_block` only if the
//! page's dirty bit (read through UVPT) says it changed since it was read
//! or last flushed; remapping the page in place clears the bit. When
//! memory is short, clean blocks are given up (unmapped) to make room:
//! they are read again when next touched.
use crate::ide::{Ide, SECTSIZE};
use abi::error::{Error, Result};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags, round_down};
use abi::trap::UTrapframe;
use core::sync::atomic::{AtomicU32, Ordering};
use jos::pgfault::{Fault, add_region};
use jos::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap};
use jos::uvpt::{for_each_present, pte_of};
use josfs::{BLKSIZE, Block, MAX_NBLOCKS};

pub use abi::memlayout::{DISKMAP, DISKSIZE};
/// The disk the file system is on.
const DISK: u8 = 1;
const SECTPERBLK: u32 = (BLKSIZE / SECTSIZE) as u32;
const _: () = assert!(BLKSIZE == PGSIZE);

/// The address of block `blockno` in the cache. Panics if it is past the
/// end of DISKMAP (no disk that large can be mapped).
pub fn diskaddr(blockno: u32) -> usize {
    let off = blockno as usize * BLKSIZE;
    assert!(off < DISKSIZE, "bad block number {blockno:08x} in diskaddr");
    DISKMAP + off
}

/// The block whose cache page is at `va` (inside DISKMAP).
pub fn blockno(va: usize) -> u32 {
    ((va - DISKMAP) / BLKSIZE) as u32
}

/// Whether the page at `va` is mapped.
pub fn va_is_mapped(va: usize) -> bool {
    pte_of(va).is_some()
}

/// How many envs map the page at `va` (0 if we do not).
pub fn pageref(va: usize) -> u32 {
    pte_of(va)
        .and_then(|p| jos::uvpt::page_refcount(p.addr()))
        .unwrap_or(0)
}

/// Whether the page at `va` was written since it was read or flushed.
pub fn va_is_dirty(va: usize) -> bool {
    pte_of(va).is_some_and(|p| p.flags().contains(PteFlags::D))
}

/// Block `blockno` in the cache (read from disk on first touch).
pub fn block(blockno: u32) -> &'static mut Block {
    // SAFETY: the cache page is mapped by the fault handler on first touch
    // (or the access ends us with a report); a Block is any bytes. The
    // server is one env without threads: nothing else holds it.
    unsafe { &mut *(diskaddr(blockno) as *mut Block) }
}

/// The fault handler of [DISKMAP, DISKMAP + DISKSIZE): maps a fresh page
/// and reads its block from disk, then clears the dirty bit. The server's
/// own code cannot do without the block: no memory for it is fatal.
fn bc_pgfault(utf: &mut UTrapframe) -> Fault {
    let va = round_down(utf.utf_fault_va as usize, PGSIZE);
    if let Err(e) = load(va) {
        panic!("bc: no page for block {}: {e}", blockno(va));
    }
    Fault::Handled
}

/// The cache address of disk block `b`, read into the cache if it is not
/// there. Err(NoMem) if no page can be had for it (every cached block is
/// dirty and cannot be written, or mapped by others).
pub fn try_cached(b: u32) -> Result<usize> {
    let va = diskaddr(b);
    if pte_of(va).is_none() {
        load(va)?;
    }
    Ok(va)
}

/// Maps a fresh page at cache address `va` (page-aligned, not mapped)
/// and reads its block from disk, then clears the dirty bit. Err(NoMem)
/// if no page can be had even after giving up clean blocks and writing
/// dirty ones. A disk that cannot be read is fatal.
fn load(va: usize) -> Result<()> {
    let blockno = blockno(va);
    // The cache keeps at most CACHE_MAX blocks: it never grows into the
    // memory clients need (a client short of memory swaps, but cannot make
    // us give up our blocks).
    if CACHED.load(Ordering::Relaxed) >= CACHE_MAX {
        evict_one(va);
    }
    // Memory short: drop clean cached blocks (they can be read again) until
    // a page is free; with none clean, write the dirty ones back first.
    let mut synced = false;
    while let Err(e) = sys_page_alloc(0, va, PTE_RW) {
        if e != Error::NoMem {
            return Err(e);
        }
        // With the write-ahead log, dirty blocks may not go home in the
        // middle of a request: one goes to its log slot instead.
        if !evict_one(va) && !crate::log::spill_one(va) {
            if synced || crate::log::active() || sync(NBLOCKS.load(Ordering::Relaxed)).is_err() {
                return Err(Error::NoMem);
            }
            synced = true;
        }
    }
    // SAFETY: va was just mapped, a page of our own.
    let page = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, BLKSIZE) };
    // A block of the log's group that was spilled is read from its slot.
    let from = crate::log::read_from(blockno);
    if Ide::new(DISK).read(from * SECTPERBLK, page).is_err() {
        panic!("bc: reading block {blockno} failed");
    }
    // Reading wrote the page: it is clean as far as the disk goes.
    if let Err(e) = sys_page_map(0, va, 0, va, PTE_RW) {
        panic!("bc: remapping block {blockno}: {e}");
    }
    CACHED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Most blocks read ahead in one disk command (64 KiB, 128 sectors).
pub const READ_AHEAD_MAX: u32 = 16;

/// Read-ahead: reads into the cache, with one disk command, the blocks of
/// `first..first + n` (consecutive on disk, at most READ_AHEAD_MAX) from
/// the first one not cached up to the next one cached, so that a file's
/// consecutive blocks, wanted soon, cost one command rather than one each.
/// Only what fits with memory to spare: it never gives up a cached block
/// for a block merely wanted soon (it stops at the cache's limit, or when
/// no page is free), and leaves alone a block whose newest bytes are in
/// the log (`load` reads those). Returns how many blocks it read. A disk
/// that cannot be read is fatal, as in `load`.
pub fn read_ahead(first: u32, n: u32) -> u32 {
    let n = n.min(READ_AHEAD_MAX).min(nblocks().saturating_sub(first));
    let Some(start) = (first..first + n).find(|&b| !va_is_mapped(diskaddr(b))) else {
        return 0;
    };
    let mut end = start;
    while end < first + n
        && !va_is_mapped(diskaddr(end))
        && crate::log::read_from(end) == end
        && CACHED.load(Ordering::Relaxed) < CACHE_MAX
        && sys_page_alloc(0, diskaddr(end), PTE_RW).is_ok()
    {
        CACHED.fetch_add(1, Ordering::Relaxed);
        end += 1;
    }
    if end == start {
        return 0;
    }
    let len = (end - start) as usize * BLKSIZE;
    // SAFETY: the pages of blocks start..end were just mapped, consecutive
    // in the cache (block b at DISKMAP + b * BLKSIZE), ours alone.
    let run = unsafe { core::slice::from_raw_parts_mut(diskaddr(start) as *mut u8, len) };
    if Ide::new(DISK).read(start * SECTPERBLK, run).is_err() {
        panic!("bc: reading blocks {start}..{end} failed");
    }
    for b in start..end {
        // Reading wrote the pages: clean as far as the disk goes.
        if let Err(e) = sys_page_map(0, diskaddr(b), 0, diskaddr(b), PTE_RW) {
            panic!("bc: remapping block {b}: {e}");
        }
    }
    end - start
}

/// Blocks in the file system, once the superblock is read (0 before):
/// how far eviction looks.
static NBLOCKS: AtomicU32 = AtomicU32::new(0);
/// Where eviction looks next (a clock hand over the blocks).
static HAND: AtomicU32 = AtomicU32::new(0);
/// Most blocks the cache holds (2 MiB): past it, a clean one goes first.
const CACHE_MAX: u32 = 512;
/// Blocks read in and not given up by `evict_one` or `discard` (an
/// estimate: a page unmapped elsewhere is still counted, which only makes
/// the cache smaller).
static CACHED: AtomicU32 = AtomicU32::new(0);
/// Clean blocks given up to free memory, for the record.
pub static EVICTED: AtomicU32 = AtomicU32::new(0);

/// Records the file system's size (from its superblock), for eviction.
pub fn set_nblocks(n: u32) {
    NBLOCKS.store(n.min(MAX_NBLOCKS), Ordering::Relaxed);
}

/// The file system's size, as recorded by `set_nblocks` (0 before).
pub fn nblocks() -> u32 {
    NBLOCKS.load(Ordering::Relaxed)
}

/// Unmaps one cached block that is clean (not written since it was read or
/// flushed), other than the page at `keep`, going round the blocks from
/// where the last eviction stopped. Returns whether it found one. (The file
/// system layer only copies blocks in and out, so no one holds a pointer
/// into a cached block.) A page another env maps (a program's text, a file
/// mapping's page) and a block of the shared set are never given up: the
/// cache and the mappers would no longer see one copy (`fmap.rs`, rule b).
fn evict_one(keep: usize) -> bool {
    let n = NBLOCKS.load(Ordering::Relaxed);
    let hand = HAND.load(Ordering::Relaxed);
    for k in 0..n {
        let b = (hand + k) % n;
        let va = diskaddr(b);
        if va != keep
            && va_is_mapped(va)
            && !va_is_dirty(va)
            && pageref(va) <= 1
            && !crate::fmap::is_shared(b)
            && !crate::log::pinned(b)
            && sys_page_unmap(0, va).is_ok()
        {
            HAND.store((b + 1) % n, Ordering::Relaxed);
            EVICTED.fetch_add(1, Ordering::Relaxed);
            uncount();
            return true;
        }
    }
    false
}

/// Gives up one clean cached block to free a page for something else (an
/// open file's Fd page). Returns whether there was one.
pub fn make_room() -> bool {
    evict_one(0)
}

/// Gives up one clean cached block, never the page at `keep` (a page
/// about to be sent to a client, a block being added to the shared set),
/// to free a page. Returns whether there was one.
pub fn make_room_keeping(keep: usize) -> bool {
    evict_one(keep)
}

/// Unmaps the cached page at `va` (whose contents are safe elsewhere: the
/// log spilled it). Returns whether it was unmapped.
pub fn give_up(va: usize) -> bool {
    let ok = sys_page_unmap(0, va).is_ok();
    if ok {
        EVICTED.fetch_add(1, Ordering::Relaxed);
        uncount();
    }
    ok
}

/// Maps a fresh zeroed page (P|U|W) at `va` for the server's own use (an
/// Fd page, a page being built for a client): when memory is short, clean
/// cached blocks are given up until it fits. Err(NoMem) when none is left
/// to give up; other errors as sys_page_alloc gives them.
pub fn alloc_page(va: usize) -> Result<()> {
    while let Err(e) = sys_page_alloc(0, va, PTE_RW) {
        if e != Error::NoMem || !make_room() {
            return Err(e);
        }
    }
    Ok(())
}

/// Writes the block holding `va` back to disk if it is cached and dirty,
/// and clears its dirty bit. Err(Inval) for an address outside the cache.
pub fn flush_block(va: usize) -> Result<()> {
    if !(DISKMAP..DISKMAP + DISKSIZE).contains(&va) {
        return Err(Error::Inval);
    }
    let va = round_down(va, PGSIZE);
    if !va_is_mapped(va) || !va_is_dirty(va) {
        return Ok(());
    }
    write_back(va)
}

/// Writes the cached block at `va` (page-aligned, mapped) to disk whether
/// or not its dirty bit is set, and clears the bit. Err(Inval) if the
/// disk fails.
pub fn write_back(va: usize) -> Result<()> {
    let blockno = blockno(va);
    // SAFETY: va is a mapped cache page.
    let page = unsafe { core::slice::from_raw_parts(va as *const u8, BLKSIZE) };
    Ide::new(DISK)
        .write(blockno * SECTPERBLK, page)
        .map_err(|_| Error::Inval)?;
    sys_page_map(0, va, 0, va, PTE_RW)
}

/// Drops block `blockno`'s cached copy, if any, dirty or not (for a
/// block the cache must not hold: the swap space's, which it reads and
/// writes itself).
fn discard(blockno: u32) -> Result<()> {
    let va = diskaddr(blockno);
    if va_is_mapped(va) {
        sys_page_unmap(0, va)?;
        uncount();
    }
    Ok(())
}

/// Reads block `blockno` from disk into `buf` (a page), past the cache,
/// dropping any cached copy first. For the swap space's blocks only: no
/// one else may use them through the cache. Err(Inval) if the disk fails.
pub fn read_uncached(blockno: u32, buf: &mut [u8]) -> Result<()> {
    discard(blockno)?;
    read_raw(blockno, buf)
}

/// Reads block `blockno` from disk into `buf` (a page), past the cache
/// and leaving it alone: for the log (its own blocks, and the replay at
/// start). Err(Inval) if the disk fails.
pub fn read_raw(blockno: u32, buf: &mut [u8]) -> Result<()> {
    Ide::new(DISK)
        .read(blockno * SECTPERBLK, buf)
        .map_err(|_| Error::Inval)
}

/// Writes `buf` (a page) to block `blockno` on disk, past the cache and
/// leaving it alone: for the log only (its slots and header, and homes
/// it installs). Err(Inval) if the disk fails.
pub fn write_raw(blockno: u32, buf: &[u8]) -> Result<()> {
    Ide::new(DISK)
        .write(blockno * SECTPERBLK, buf)
        .map_err(|_| Error::Inval)
}

/// Waits until the disk has finished the last write (QEMU completes a
/// sector's write after the data is handed over): before a commit is
/// reported done. Err(Inval) if the disk reports an error.
pub fn wait_disk() -> Result<()> {
    Ide::wait_idle().map_err(|_| Error::Inval)
}

/// Writes `buf` (a page) to block `blockno` on disk, past the cache,
/// dropping any cached copy (e.g. the zeros the block was allocated
/// with, which a later flush would write over it). For the swap space's
/// blocks only. Err(Inval) if the disk fails.
pub fn write_uncached(blockno: u32, buf: &[u8]) -> Result<()> {
    crate::log::before_raw_write()?;
    discard(blockno)?;
    write_raw(blockno, buf)
}

/// Starts the cache (registers its fault handler) and checks it with
/// JOS's check_bc: a block changed, flushed, dropped and read again comes
/// back as written.
pub fn bc_init() -> Result<()> {
    add_region(DISKMAP, DISKMAP + DISKSIZE, "block cache", bc_pgfault)?;
    check_bc()
}

/// JOS's check_bc, put back afterwards: once with an aligned address,
/// once with one inside the page. JOS scribbles on the superblock; a crash
/// in the middle would leave a disk that no longer mounts, so this one
/// uses the boot block (block 0), which the file system never reads.
fn check_bc() -> Result<()> {
    let va = diskaddr(0);
    let backup: Block = *block(0);
    for at in [va, va + 20] {
        block(0)[..6].copy_from_slice(b"OOPS!\n");
        flush_block(at)?;
        assert!(
            va_is_mapped(va) && !va_is_dirty(va),
            "bc: flush left block 0 dirty"
        );
        sys_page_unmap(0, va)?;
        assert!(!va_is_mapped(va), "bc: block 0 still mapped");
        // Read back from disk by the fault handler.
        assert!(
            &block(0)[..6] == b"OOPS!\n",
            "bc: the write did not reach the disk"
        );
        *block(0) = backup;
        flush_block(va)?;
    }
    jos::cprintf!("block cache is good\n");
    Ok(())
}

/// The disk as the file system sees it: blocks copied from and into the
/// cache (writes reach the disk at `sync`).
pub struct CacheDisk;

/// Before block `blockno` is written: if its cache page is mapped by a
/// running program too (text or data the pager shared with it), the cache
/// takes a private copy of the page first and writes that, so the program
/// keeps the bytes it had (copy-before-write). Without this, a program's
/// file rewritten, or removed and its blocks reused by another file,
/// would change the code of the running program under it. A block of the
/// shared set is not copied: its MAP_SHARED mappers must see the write,
/// and no program maps its page (`fmap.rs`, rule a). Err(NoMem) if no
/// page can be had, even after giving up clean cached blocks.
fn keep_for_mappers(blockno: u32) -> Result<()> {
    if crate::fmap::is_shared(blockno) {
        return Ok(());
    }
    unshare_page(blockno)
}

/// If block `blockno` is cached and its page is mapped by another env
/// too (a running program's text or data, a private file mapping), gives
/// the cache a fresh copy of the page: the others keep the old physical
/// page, and what the cache does with the block from now on (a `write`,
/// a MAP_SHARED mapping handed out writable) never reaches them. A block
/// not cached, or whose page is ours alone, is left as it is. Err(NoMem)
/// if no page can be had, even after giving up clean cached blocks (the
/// cache's page is then unchanged).
pub fn unshare_page(blockno: u32) -> Result<()> {
    let va = diskaddr(blockno);
    let Some(pte) = pte_of(va) else {
        return Ok(());
    };
    if jos::uvpt::page_refcount(pte.addr()).unwrap_or(1) <= 1 {
        return Ok(());
    }
    // The copy is mapped clean: bytes not on disk yet must still get there.
    let dirty = va_is_dirty(va);
    loop {
        match jos::vm::copy_page_to(va, PTE_RW) {
            Err(Error::NoMem) if evict_one(va) => continue,
            Ok(()) if dirty => return write_back(va),
            r => return r,
        }
    }
}

impl josfs::fs::BlockDevice for CacheDisk {
    fn nblocks(&self) -> u32 {
        MAX_NBLOCKS
    }

    fn read_block(&mut self, blockno: u32, buf: &mut Block) -> Result<()> {
        if blockno >= self.nblocks() {
            return Err(Error::Inval);
        }
        // Read in here, fallibly: a client's request must not end in
        // bc_pgfault's panic when no page is left for the block.
        try_cached(blockno)?;
        buf.copy_from_slice(block(blockno));
        Ok(())
    }

    fn write_block(&mut self, blockno: u32, buf: &Block) -> Result<()> {
        if blockno >= self.nblocks() {
            return Err(Error::Inval);
        }
        try_cached(blockno)?;
        keep_for_mappers(blockno)?;
        // A bitmap block whose new bits free a block: the log must know
        // (see log::before_raw_write).
        let bitmap = josfs::BITMAP_BLOCKNO..josfs::first_data_block(nblocks());
        let frees = bitmap.contains(&blockno)
            && buf
                .iter()
                .zip(block(blockno).iter())
                .any(|(n, o)| n & !o != 0);
        block(blockno).copy_from_slice(buf);
        crate::log::note(blockno, frees);
        Ok(())
    }
}

/// Makes everything written so far durable: commits the log's group (see
/// `log.rs`; without a log, writes every dirty cached block home), then
/// writes every block clients map writable (MAP_SHARED: they may have
/// stored into it; see `fmap.rs`) in place, now that the files owning
/// them are on disk. `_nblocks` is kept for the callers' sake (the cache
/// knows the size). Err(Inval) if the disk fails.
pub fn sync(_nblocks: u32) -> Result<()> {
    crate::log::commit()?;
    crate::fmap::flush_shared()?;
    wait_disk()
}

/// Writes every dirty cached block home, in block order (JOS's sync: not
/// crash-safe; for a disk without a log). Err(Inval) if the disk fails.
pub fn flush_all() -> Result<()> {
    // Only the page tables the cache has: most of a disk (the swap space,
    // the free blocks) is never read, and has none.
    let end = diskaddr(0) + nblocks() as usize * BLKSIZE;
    for_each_present(diskaddr(0), end, |va, pte| {
        if pte.flags().contains(PteFlags::D) {
            write_back(va)
        } else {
            Ok(())
        }
    })
}

/// One cached block fewer (never below 0).
fn uncount() {
    let _ = CACHED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
}
