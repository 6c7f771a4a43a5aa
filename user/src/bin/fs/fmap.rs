//! The server's side of memory-mapped files (FSREQ_MAP): the *shared set*,
//! the cached blocks handed out to clients' MAP_SHARED mappings.
//!
//! A MAP_SHARED page is the block-cache page itself, mapped into the
//! client (PTE_SHARE), so every mapper, `read` and `write` see one copy of
//! the block. That holds only if the cache keeps that page as the block's,
//! which the rest of the cache would not do on its own:
//!
//! - (a) copy-before-write (`bc::keep_for_mappers`, for blocks a running
//!   program maps through the spawn pager) must not copy a block of the
//!   set: a `write` must land in the page the mappers see;
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
//! order. Private mappings (copy-on-write in the client) are not in it: a
//! `write` to such a block is copied before writing like a program's text.
use crate::bc;
use abi::error::Result;
use fsfmt::fs::FileRef;
use jos::alloc::vec::Vec;
use jos::cell::EnvCell;
use jos::syscall::sys_page_unmap;

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
/// MAP_SHARED mapping (`writable`: the client may store). Cannot fail
/// (a full heap panics the server, as any allocation of its own).
pub fn add(blockno: u32, writable: bool, file: FileRef, index: u32) {
    SET.with(|set| match set.iter_mut().find(|s| s.blockno == blockno) {
        Some(s) => s.writable |= writable,
        None => set.push(Shared {
            blockno,
            writable,
            file,
            index,
        }),
    });
}

/// Whether block `blockno` is in the shared set (rules (a) and (b)).
pub fn is_shared(blockno: u32) -> bool {
    SET.with(|set| set.iter().any(|s| s.blockno == blockno))
}

/// Rule (c): writes every writable block of the set to disk, whatever the
/// cache's dirty bit says, and drops from the set the blocks no client
/// maps any more (read-only ones at once, writable ones after this
/// write). Returns the disk's error, if any (the set is then unchanged
/// past the failing block).
pub fn flush_shared() -> Result<()> {
    let list: Vec<Shared> = SET.with(|set| set.clone());
    let mut done = Vec::new();
    for s in &list {
        let va = bc::diskaddr(s.blockno);
        // Read before writing: a client unmapping after the write must
        // not leave a store behind that no one writes back.
        let alone = bc::pageref(va) <= 1;
        if s.writable && bc::va_is_mapped(va) {
            bc::write_back(va)?;
        }
        if alone {
            done.push(s.blockno);
        }
    }
    SET.with(|set| set.retain(|s| !done.contains(&s.blockno)));
    Ok(())
}

/// Rule (d): file `file` lost its blocks from index `from` on (removed:
/// 0; truncated: the first block past its new end): each such block of the
/// set leaves it, and the cache gives up its page (the clients keep theirs
/// as orphan copies; the block is read from disk when next used).
pub fn detach_file(file: FileRef, from: u32) {
    let gone: Vec<u32> = SET.with(|set| {
        let gone = set
            .iter()
            .filter(|s| s.file == file && s.index >= from)
            .map(|s| s.blockno)
            .collect();
        set.retain(|s| !(s.file == file && s.index >= from));
        gone
    });
    for b in gone {
        let _ = sys_page_unmap(0, bc::diskaddr(b));
    }
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
