//! The swap space: where environments' swap pagers (`jos::vm::swap`) put
//! the pages they evict. Policy (which page, when) is theirs; the server
//! only keeps slots.
//!
//! A slot is one block of one of the swap files `/swap/00` ..
//! `/swap/15` (a file holds at most MAXFILESIZE, 1034 blocks, so the
//! space is 16 files: 16544 slots, 64.6 MiB). The image is made with the
//! files already there, every block allocated (`fsformat --swap 16`): the
//! swap space is reserved, so a full file system never stops paging, and a
//! slot's first write allocates nothing. An image made without them gets
//! them at the first swap request after boot, growing a block at a time
//! from the free blocks as slots are first written, as before. What a
//! previous boot left in the files is never read: only a slot's owner reads
//! it, after writing it (the server finds a previous boot's files at start,
//! so no client opens them either). A slot's block is read and written straight from and to
//! the page the client sent, past the block cache: the server needs no
//! memory of its own to page (a client short of memory could not wait for
//! the server to find some), and the cache never holds swap blocks. No
//! client may open, remove or rename the swap files (they hold other
//! environments' memory): see [`Swap::is_swap_file`]. One env may hold at
//! most `quota::SLOTS_PER_ENV` slots (E_NO_DISK past them, as for a full
//! swap space), so that no env takes all of it.
//!
//! Each slot has an owner, the env that wrote it; only the owner reads,
//! rewrites or frees it. Slots whose owner is gone (exited without saying
//! so, or killed) are freed when the server looks for a free slot and
//! finds none, and before it counts the slots in use (FSREQ_SWAPSTAT):
//! no slot outlives its env.
use crate::bc::{self, CacheDisk};
use abi::env::{ENV_FREE, EnvId};
use abi::error::{Error, Result};
use abi::fsipc::{
    FSREQ_SWAPFREE, FSREQ_SWAPIN, FSREQ_SWAPOUT, FSREQ_SWAPSTAT, O_CREAT, O_MKDIR, SWAP_ALL,
    SWAP_NEW,
};
use abi::mmu::{PGSIZE, PteFlags};
use jos::alloc::vec::Vec;
use josfs::fs::{FileRef, Fs};
use josfs::{BLKSIZE, MAXFILESIZE};

/// How many swap files.
const NSWAPFILES: usize = 16;
/// Slots (blocks) per swap file.
const SLOTS_PER_FILE: u32 = MAXFILESIZE / BLKSIZE as u32;
/// Slots in all.
pub const NSLOTS: u32 = NSWAPFILES as u32 * SLOTS_PER_FILE;
const _: () = assert!(NSLOTS < SWAP_NEW);

/// The path of swap file `k` (`/swap/00` .. `/swap/15`).
fn swap_path(k: usize) -> [u8; 8] {
    let mut path = *b"/swap/00";
    path[6] = b'0' + (k / 10) as u8;
    path[7] = b'0' + (k % 10) as u8;
    path
}

/// The swap space's state.
pub struct Swap {
    /// The swap files, once made this boot (None before, or if one could
    /// not be made).
    files: [Option<FileRef>; NSWAPFILES],
    /// The directory, once made.
    dir: Option<FileRef>,
    /// Each slot's owner (0: free). Allocated at start: when a client
    /// first swaps, memory is short already.
    owner: Vec<EnvId>,
    /// Slots in use.
    used: u32,
    /// No slot below this one is free.
    lowest: usize,
    /// Whether the files were made this boot.
    ready: bool,
}

impl Swap {
    /// The swap space, empty (the files are made on first use).
    pub fn new() -> Swap {
        let owner = jos::alloc::vec![0; NSLOTS as usize];
        Swap {
            files: [None; NSWAPFILES],
            dir: None,
            owner,
            used: 0,
            lowest: 0,
            ready: false,
        }
    }

    /// Whether `r` is the swap directory or one of its files (which no
    /// client may open, remove or rename).
    pub fn is_swap_file(&self, r: FileRef) -> bool {
        self.dir == Some(r) || self.files.contains(&Some(r))
    }

    /// Remembers the swap directory and files a previous boot left on the
    /// disk, if any: they hold that boot's environments' memory, so no
    /// client may open them before the first swap request cuts them to
    /// nothing (see [`Swap::is_swap_file`]). Call at start.
    pub fn find_old(&mut self, fs: &mut Fs<CacheDisk>) {
        self.dir = fs
            .lookup(b"/swap")
            .ok()
            .filter(|&d| fs.stat(d).is_ok_and(|f| f.is_dir()));
        // One pass over the directory (a path walked from the root per
        // file read the root 17 times: 2 million instructions, the longest
        // step of the server's start).
        let Some(dir) = self.dir else { return };
        let mut pos = 0;
        while let Ok(Some((r, f))) = fs.read_dir(dir, &mut pos) {
            let k = (0..NSWAPFILES).find(|&k| f.name() == &swap_path(k)[6..]);
            if let Some(k) = k
                && fs.stat(r).is_ok()
            {
                self.files[k] = Some(r);
            }
        }
    }

    /// Finds or makes the swap files, once per boot: those the image has
    /// keep their blocks (reserved; their bytes are never read before a
    /// slot's owner writes them), the others are made empty. Returns the
    /// entries of the directory and the files, which the caller must forget
    /// every open file of (a client that opened one before is cut off). Err
    /// if the directory cannot be made.
    fn prepare(&mut self, fs: &mut Fs<CacheDisk>) -> Result<[Option<FileRef>; NSWAPFILES + 1]> {
        let dir = match fs.open(b"/swap", O_MKDIR) {
            Err(Error::FileExists) => {
                // A regular file took the name: the name is the swap's.
                fs.remove(b"/swap")?;
                fs.open(b"/swap", O_MKDIR)?
            }
            r => r?,
        };
        self.dir = Some(dir);
        for (k, f) in self.files.iter_mut().enumerate() {
            // A file that cannot be made (a directory took its name, the
            // disk is full) gives fewer slots, not an error.
            *f = fs.open(&swap_path(k), O_CREAT).ok();
        }
        self.ready = true;
        let mut all = [Some(dir); NSWAPFILES + 1];
        all[1..].copy_from_slice(&self.files);
        Ok(all)
    }

    /// Frees the slots whose owner is gone. Returns how many.
    fn reclaim(&mut self) -> u32 {
        let mut n = 0;
        for s in 0..self.owner.len() {
            let o = self.owner[s];
            if o != 0 && jos::env::env_status(o) == ENV_FREE {
                self.free(s);
                n += 1;
            }
        }
        n
    }

    /// A free slot (the lowest, so the files stay small), now `whom`'s.
    /// E_NO_DISK if every slot is taken (by envs still alive), or if
    /// `whom` holds as many as one env may (`quota.rs`).
    fn alloc(&mut self, whom: EnvId) -> Result<u32> {
        crate::quota::may_swap(whom)?;
        for pass in 0..2 {
            let files = &self.files;
            let usable = |s: usize| files[s / SLOTS_PER_FILE as usize].is_some();
            let found = (self.lowest..self.owner.len()).find(|&s| self.owner[s] == 0 && usable(s));
            if let Some(s) = found {
                self.owner[s] = whom;
                crate::quota::swap_taken(whom);
                self.used += 1;
                self.lowest = s + 1;
                return Ok(s as u32);
            }
            self.lowest = self.owner.len();
            if pass == 0 && self.reclaim() == 0 {
                break;
            }
        }
        Err(Error::NoDisk)
    }

    /// Checks that `slot` is `whom`'s. E_INVAL if not (or no such slot).
    fn owned(&self, whom: EnvId, slot: u32) -> Result<usize> {
        match self.owner.get(slot as usize) {
            Some(&o) if o == whom && o != 0 => Ok(slot as usize),
            _ => Err(Error::Inval),
        }
    }

    /// Frees slot `s`.
    fn free(&mut self, s: usize) {
        crate::quota::swap_given(self.owner[s]);
        self.owner[s] = 0;
        self.used -= 1;
        self.lowest = self.lowest.min(s);
    }

    /// The disk block of `slot`, allocated if it has none yet.
    fn block(&self, fs: &mut Fs<CacheDisk>, slot: u32) -> Result<u32> {
        let file = self.files[(slot / SLOTS_PER_FILE) as usize].ok_or(Error::Inval)?;
        fs.file_block_for_write(file, slot % SLOTS_PER_FILE)
    }

    /// Serves swap request (`req`, `slot`) from `whom`, whose page (if
    /// `perm` has P) is mapped at `page`. Returns the reply's value. Every
    /// argument is checked: a slot must be the sender's, SWAPOUT needs a
    /// page, SWAPIN a writable one. The first request of a boot makes the
    /// swap files and leaves their entries in `fresh` (see `prepare`).
    pub fn serve(
        &mut self,
        fs: &mut Fs<CacheDisk>,
        whom: EnvId,
        (req, slot): (u32, u32),
        page: usize,
        perm: u32,
        fresh: &mut Option<[Option<FileRef>; NSWAPFILES + 1]>,
    ) -> Result<u32> {
        if !self.ready {
            *fresh = Some(self.prepare(fs)?);
        }
        let perm = PteFlags::from_bits_retain(perm);
        let data = || {
            // SAFETY: the sender's page is mapped at `page` (perm has P,
            // checked by the caller of this closure); a page of bytes.
            unsafe { core::slice::from_raw_parts_mut(page as *mut u8, PGSIZE) }
        };
        match req {
            FSREQ_SWAPOUT => {
                if !perm.contains(PteFlags::P) {
                    return Err(Error::Inval);
                }
                let (s, new) = if slot == SWAP_NEW {
                    (self.alloc(whom)? as usize, true)
                } else {
                    (self.owned(whom, slot)?, false)
                };
                let r = self
                    .block(fs, s as u32)
                    .and_then(|b| bc::write_uncached(b, data()));
                match r {
                    Ok(()) => Ok(s as u32),
                    Err(e) => {
                        if new {
                            self.free(s);
                        }
                        Err(e)
                    }
                }
            }
            FSREQ_SWAPIN => {
                if !perm.contains(PteFlags::P | PteFlags::W) {
                    return Err(Error::Inval);
                }
                let s = self.owned(whom, slot)?;
                let b = self.block(fs, s as u32)?;
                bc::read_uncached(b, data())?;
                Ok(0)
            }
            FSREQ_SWAPFREE if slot == SWAP_ALL => {
                let mut n = 0;
                for s in 0..self.owner.len() {
                    if self.owner[s] == whom {
                        self.free(s);
                        n += 1;
                    }
                }
                Ok(n)
            }
            FSREQ_SWAPFREE => {
                let s = self.owned(whom, slot)?;
                self.free(s);
                Ok(1)
            }
            FSREQ_SWAPSTAT if slot == SWAP_ALL => Ok(NSLOTS),
            FSREQ_SWAPSTAT => {
                self.reclaim();
                Ok(self.used)
            }
            _ => Err(Error::Inval),
        }
    }
}
