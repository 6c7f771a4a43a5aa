//! The write-ahead log over the block cache (xv6's `log.c`): every change
//! the file system makes reaches its home block on disk only as part of a
//! committed group, so a crash at any moment leaves the disk as it was
//! after some request, never half-way through one. The on-disk format (a
//! header and 255 slots at the end of the disk, found through the
//! superblock) and the replay are `josfs::log`'s.
//!
//! How a group forms: `CacheDisk::write_block` copies a block into the
//! cache and [`note`]s it; nothing else writes the file system's blocks.
//! The group is every block changed since the last commit. The server is
//! one thread serving one request at a time, and between two requests the
//! cache holds a consistent file system, so a commit happens only there:
//! [`boundary`] (at the start of each request) commits when fewer than
//! [`MAXOPBLOCKS`] slots are left, and FSREQ_SYNC and FSREQ_FLUSH (`sync`,
//! `fsync`, `close`, `msync`) commit at once ([`commit`], through
//! `bc::sync`). Nothing in the middle of a request writes a home block:
//!
//! - when memory is short, `bc::load` used to write every dirty block
//!   home (`sync`); now it [`spill_one`]s an uncommitted block into its own
//!   slot (not home: the header does not name it until the commit) and
//!   reads it back from there when next touched;
//! - the swap space's blocks are written past the cache; a swap block may
//!   have been freed by another file in this very group (and, were the
//!   group lost, would still be that file's), so such a write first
//!   commits the group if it frees anything ([`before_raw_write`]);
//! - MAP_SHARED blocks, which clients store into behind our back, are
//!   written in place by `fmap::flush_shared` after the commit, when the
//!   file owning them is on disk.
//!
//! A commit: (1) each block of the group, as the cache has it, into the
//! group's slots; (2) the header naming their homes: the commit point;
//! (3) each block to its home (clearing its dirty bit); (4) an empty header.
//! A crash before (2) completes leaves the disk as after the last commit;
//! after it, the next mount (or `fsformat --check`) replays the slots.
//!
//! Without a log (an image made by JOS's C fsformat), the server writes
//! dirty blocks home at sync, as before, and says so at start.
use crate::bc;
use abi::error::{Error, Result};
use abi::mmu::PteFlags;
use core::sync::atomic::{AtomicU32, Ordering};
use jos::cell::EnvCell;
use jos::cprintf;
use josfs::fs::BlockDevice;
use josfs::log::{LOGSIZE, LogHeader, LogRecord};
use josfs::{BLKSIZE, Block, MAX_NBLOCKS, SUPER_BLOCKNO, Super};

/// The most blocks one request changes, with room to spare: a write
/// changes at most 2 data blocks, an indirect block, the bitmap blocks of
/// 3 allocations and the file's entry; a truncate or remove the entry, the
/// last block, the indirect block and each bitmap block (3 on this disk);
/// swap's first request empties 16 files. A group commits before a
/// request when fewer slots than this are left.
pub const MAXOPBLOCKS: usize = 64;

/// The group being formed.
struct Log {
    /// Where the log is (None: no log on this disk).
    rec: Option<LogRecord>,
    /// Blocks in the group.
    n: usize,
    /// Their home block numbers.
    home: [u32; LOGSIZE],
    /// Whether slot i holds block home[i] as it is now (spilled when
    /// memory was short); the cache may or may not have it too.
    spilled: [bool; LOGSIZE],
    /// The group frees a block (a bitmap bit went from used to free).
    frees: bool,
    /// A request changed more blocks than the log holds (never seen: see
    /// MAXOPBLOCKS); the rest are committed in later groups.
    overflow: bool,
}

static LOG: EnvCell<Log> = EnvCell::new(Log {
    rec: None,
    n: 0,
    home: [0; LOGSIZE],
    spilled: [false; LOGSIZE],
    frees: false,
    overflow: false,
});

/// Groups committed, and blocks in them, for the record.
pub static COMMITS: AtomicU32 = AtomicU32::new(0);
/// Blocks committed in all.
pub static LOGGED: AtomicU32 = AtomicU32::new(0);

/// The disk itself, past the cache, for the replay at start.
struct RawDisk;

impl BlockDevice for RawDisk {
    fn nblocks(&self) -> u32 {
        MAX_NBLOCKS
    }

    fn read_block(&mut self, blockno: u32, buf: &mut Block) -> Result<()> {
        bc::read_raw(blockno, buf)
    }

    fn write_block(&mut self, blockno: u32, buf: &Block) -> Result<()> {
        bc::write_raw(blockno, buf)
    }
}

/// At start, before the cache reads any block of the file system: finds
/// the log through the superblock and installs a group that was committed
/// but maybe not installed when the machine stopped (printing how many
/// blocks). Returns whether the disk has a log. Err(Inval) for a log
/// record or header that cannot be right (then nothing is written); the
/// disk's error. A superblock that is not JOS's is left for the mount to
/// report (Ok(false)).
pub fn recover() -> Result<bool> {
    let mut sb = [0u8; BLKSIZE];
    bc::read_raw(SUPER_BLOCKNO, &mut sb)?;
    let sup = Super::from_bytes(&sb).ok_or(Error::Inval)?;
    if sup.check().is_err() {
        return Ok(false);
    }
    let Some(rec) = LogRecord::read(&sb, sup.s_nblocks)? else {
        cprintf!("fs: no log on this disk: writes are not crash-safe\n");
        return Ok(false);
    };
    let n = josfs::log::replay(&mut RawDisk, &rec, sup.s_nblocks)?;
    if n > 0 {
        cprintf!("fs: log: replayed {} committed blocks\n", n);
    }
    LOG.with(|l| l.rec = Some(rec));
    Ok(true)
}

/// Whether the server logs (the disk has a log).
pub fn active() -> bool {
    LOG.with(|l| l.rec.is_some())
}

/// Block `b` was just changed in the cache: it joins the group. `frees`:
/// the change freed a block (a bitmap bit went to free). Cannot fail: a
/// group already full is marked overflowing and the block waits for the
/// next group (see [`commit`]).
pub fn note(b: u32, frees: bool) {
    LOG.with(|l| {
        if l.rec.is_none() {
            return;
        }
        l.frees |= frees;
        if l.home[..l.n].contains(&b) {
            return;
        }
        if l.n == LOGSIZE {
            l.overflow = true;
            return;
        }
        l.home[l.n] = b;
        l.spilled[l.n] = false;
        l.n += 1;
    });
}

/// Between two requests: commits the group if the next request might not
/// fit in the slots left. A failed commit is reported and the group kept
/// (it is tried again at the next boundary or sync).
pub fn boundary() {
    let (n, overflow) = LOG.with(|l| (l.n, l.overflow));
    if (n + MAXOPBLOCKS > LOGSIZE || overflow)
        && let Err(e) = commit()
    {
        cprintf!("fs: log: commit failed: {}\n", e);
    }
}

/// Before a block is written home past the cache (the swap space): if the
/// group frees blocks, commits it first, so that the block written is not
/// one that, were the group lost, would still be another file's. Only
/// between file-system operations. Err as [`commit`].
pub fn before_raw_write() -> Result<()> {
    if LOG.with(|l| l.frees) {
        commit()?;
    }
    Ok(())
}

/// Whether block `b` is in the group and not in its slot: its only copy
/// is the cache's, which must not be given up.
pub fn pinned(b: u32) -> bool {
    LOG.with(|l| {
        l.home[..l.n]
            .iter()
            .position(|&h| h == b)
            .is_some_and(|i| !l.spilled[i])
    })
}

/// Where block `b` is to be read from: its slot if the group spilled it
/// there, else its home.
pub fn read_from(b: u32) -> u32 {
    LOG.with(|l| {
        let i = l.home[..l.n].iter().position(|&h| h == b)?;
        let rec = l.rec?;
        l.spilled[i].then(|| rec.slot(i))
    })
    .unwrap_or(b)
}

/// Memory is short and no clean block can be given up: writes one block
/// of the group (not `keep`'s, not one a client maps) into its slot and
/// gives up its page. Returns whether one was. Safe in the middle of a
/// request: the header does not name the slot until the commit.
pub fn spill_one(keep: usize) -> bool {
    let Some((rec, n, home)) = LOG.with(|l| l.rec.map(|r| (r, l.n, l.home))) else {
        return false;
    };
    for (i, &b) in home[..n].iter().enumerate() {
        let va = bc::diskaddr(b);
        if va == keep
            || !bc::va_is_mapped(va)
            || bc::pageref(va) > 1
            || crate::fmap::is_shared(b)
            || bc::write_raw(rec.slot(i), bc::block(b)).is_err()
        {
            continue;
        }
        LOG.with(|l| l.spilled[i] = true);
        if bc::give_up(va) {
            return true;
        }
    }
    false
}

/// Adds every block the cache holds dirty and the group lacks (none, when
/// every change came through `note`; the rest of an overflowing request)
/// to the group, as far as it has room.
fn sweep() {
    // (Every commit sweeps, and so every close: it reads only the page
    // tables the cache has, an entry at a time.)
    let end = bc::diskaddr(0) + bc::nblocks() as usize * BLKSIZE;
    let Ok(()) = jos::uvpt::for_each_present(bc::diskaddr(0), end, |va, pte| {
        let b = bc::blockno(va);
        if pte.flags().contains(PteFlags::D) && !LOG.with(|l| l.home[..l.n].contains(&b)) {
            note(b, false);
        }
        Ok::<(), core::convert::Infallible>(())
    });
}

/// Commits the group and installs it (see the module's comment), then
/// starts an empty one; repeats while a request overflowed the log.
/// Without a log, writes every dirty cached block home (JOS's way).
/// Err(Inval) if the disk fails; the group is then kept, and a crash
/// leaves the disk as after the last commit, or this one.
pub fn commit() -> Result<()> {
    if !active() {
        return bc::flush_all();
    }
    loop {
        LOG.with(|l| l.overflow = false);
        sweep();
        let (rec, n, home, spilled, more) = LOG.with(|l| {
            let rec = l.rec.expect("active");
            (rec, l.n, l.home, l.spilled, l.overflow)
        });
        if n == 0 {
            return Ok(());
        }
        let mut hdr = LogHeader::EMPTY;
        let mut buf = [0u8; BLKSIZE];
        // (1) The slots, compacted: a block the cache dropped on purpose
        // (freed, or a swap block now written past the cache) and never
        // spilled has no content to commit.
        for i in 0..n {
            let va = bc::diskaddr(home[i]);
            let m = hdr.n;
            if bc::va_is_mapped(va) {
                bc::write_raw(rec.slot(m), bc::block(home[i]))?;
            } else if spilled[i] {
                if m != i {
                    bc::read_raw(rec.slot(i), &mut buf)?;
                    bc::write_raw(rec.slot(m), &buf)?;
                }
            } else {
                continue;
            }
            hdr.home[m] = home[i];
            hdr.n += 1;
        }
        // (2) The commit point.
        bc::write_raw(rec.start, &hdr.to_block())?;
        // (3) Home.
        for j in 0..hdr.n {
            let va = bc::diskaddr(hdr.home[j]);
            if bc::va_is_mapped(va) {
                bc::write_back(va)?;
            } else {
                bc::read_raw(rec.slot(j), &mut buf)?;
                bc::write_raw(hdr.home[j], &buf)?;
            }
        }
        // (4) Done: nothing to replay.
        bc::write_raw(rec.start, &LogHeader::EMPTY.to_block())?;
        bc::wait_disk()?;
        COMMITS.fetch_add(1, Ordering::Relaxed);
        LOGGED.fetch_add(hdr.n as u32, Ordering::Relaxed);
        LOG.with(|l| {
            l.n = 0;
            l.frees = false;
        });
        if !more {
            return Ok(());
        }
        cprintf!(
            "fs: log: a request changed more than {} blocks: committed in parts\n",
            LOGSIZE
        );
    }
}
