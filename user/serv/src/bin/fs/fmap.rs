//! The server's side of memory-mapped files (FSREQ_MAP): the *shared set*,
//! the cached blocks handed out to clients' MAP_SHARED mappings.
//!
//! A MAP_SHARED page is the block-cache page itself, mapped into the
//! client (PTE_SHARE), so every mapper, `read` and `write` see one copy of
//! the block. That holds only if the cache keeps that page as the block's,
//! which the rest of the cache would not do on its own:
//!
//! - (a) a page of the set is never a running program's page ("copy
//!   first"): [`add`]'s caller (serve_map) first gives the cache a copy of
//!   a block whose page others map (`bc::unshare_page`: the programs keep
//!   the old page), and the pager sends a program a private copy of a
//!   block of the set, never its page. So no store through a MAP_SHARED
//!   mapping, and no `write` (copy-before-write, `bc::keep_for_mappers`,
//!   need not copy a block of the set: a `write` must land in the page the
//!   mappers see), ever reaches the code or read-only data of a program;
//! - (b) eviction never gives up a page someone else maps (its reference
//!   count is above 1), nor a block of the set: the mappers' stores and
//!   the cache would go separate ways;
//! - (c) a client's stores set the dirty bit in the *client's* PTE, not
//!   ours, so a block handed out writable counts as possibly dirty:
//!   [`flush_shared`] (run by FSREQ_FLUSH, FSREQ_SYNC and so `msync`,
//!   `munmap` and the close of a file) writes it to disk whatever our dirty
//!   bit says; a block leaves the set once no client maps it any more (and,
//!   if it was writable, once it has been written after that);
//! - (d) a file removed or truncated frees blocks: [`detach_file`] gives up
//!   our mapping of each freed block of the set, so the clients keep an
//!   orphan copy and the block, if another file gets it, is read fresh from
//!   disk. No client can write into another file's blocks.
//!
//! The set is small (the blocks mapped right now): a vector searched in
//! order. A client decides how large it gets, so it grows fallibly: with
//! no memory for it, FSREQ_MAP gets E_NO_MEM, and nothing else here
//! allocates. Private mappings (copy-on-write in the client) are not in it: a
//! `write` to such a block is copied before writing like a program's text.
use crate::bc;
use abi::error::{Error, Result};
use jos::alloc::vec::Vec;
use jos::cell::EnvCell;
use jos::syscall::sys_page_unmap;
use josfs::fs::FileRef;

/// One block of the shared set.
#[derive(Clone, Copy)]
struct Shared {
    /// The disk block (its cache page is what the clients map).
    blockno: u32,
    /// Handed out writable at least once.
    writable: bool,
    /// The file it belongs to, and its index in that file.
    file: FileRef,
    index: u32,
}

static SET: EnvCell<Vec<Shared>> = EnvCell::new(Vec::new());

/// Records that block `blockno`, block `index` of `file`, was handed to a
/// MAP_SHARED mapping (`writable`: the client may store). Its page must be
/// the cache's alone or already in the set (rule (a)). Err(NoMem) if the
/// set cannot grow even after giving up clean cached blocks (the set is
/// then unchanged).
pub fn add(blockno: u32, writable: bool, file: FileRef, index: u32) -> Result<()> {
    loop {
        let grown = SET.with(|set| {
            if let Some(s) = set.iter_mut().find(|s| s.blockno == blockno) {
                s.writable |= writable;
                return true;
            }
            if set.try_reserve(1).is_err() {
                return false;
            }
            set.push(Shared {
                blockno,
                writable,
                file,
                index,
            });
            true
        });
        // The heap grows a page at a time: a clean cached block given up
        // may make room for it (not this block's: its page is the reply).
        if grown {
            return Ok(());
        }
        if !bc::make_room_keeping(bc::diskaddr(blockno)) {
            return Err(Error::NoMem);
        }
    }
}

/// Whether block `blockno` is in the shared set (rules (a) and (b)).
pub fn is_shared(blockno: u32) -> bool {
    SET.with(|set| set.iter().any(|s| s.blockno == blockno))
}

/// Rule (c): writes every writable block of the set to disk, whatever the
/// cache's dirty bit says, and drops from the set the blocks no client
/// maps any more (read-only ones at once, writable ones after this
/// write). Returns the disk's error, if any (the blocks not looked at yet
/// stay in the set). Allocates nothing.
pub fn flush_shared() -> Result<()> {
    SET.with(|set| {
        let mut i = 0;
        while i < set.len() {
            let s = set[i];
            let va = bc::diskaddr(s.blockno);
            // Read before writing: a client unmapping after the write must
            // not leave a store behind that no one writes back.
            let alone = bc::pageref(va) <= 1;
            if s.writable && bc::va_is_mapped(va) {
                bc::write_back(va)?;
            }
            if alone {
                set.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    })
}

/// Rule (d): file `file` lost its blocks from index `from` on (removed:
/// 0; truncated: the first block past its new end): each such block of the
/// set leaves it, and the cache gives up its page (the clients keep theirs
/// as orphan copies; the block is read from disk when next used).
/// Allocates nothing; cannot fail.
pub fn detach_file(file: FileRef, from: u32) {
    SET.with(|set| {
        let mut i = 0;
        while i < set.len() {
            let s = set[i];
            if s.file == file && s.index >= from {
                let _ = sys_page_unmap(0, bc::diskaddr(s.blockno));
                set.swap_remove(i);
            } else {
                i += 1;
            }
        }
    });
}

/// The entry of file `from` is now at `to` (a rename): its blocks of the
/// set follow it.
pub fn moved(from: FileRef, to: FileRef) {
    SET.with(|set| {
        for s in set.iter_mut().filter(|s| s.file == from) {
            s.file = to;
        }
    });
}
