//! Building and checking JOS file-system images on the host.
//!
//! [`ImageBuilder`] lays an image out exactly as JOS's `fs/fsformat.c`
//! does, so that the same files give the same bytes: blocks are handed out
//! in order from the first data block, each file's contents contiguous and
//! followed by its indirect block if it has one, each directory's entries
//! after everything in it, and finally the bitmap marks every block up to
//! the last one used. [`check`] is a small fsck; [`list`] walks the tree.

use fsfmt::fs::{FileRef, Fs, RamDisk};
use fsfmt::path::check_name;
use fsfmt::{
    BITMAP_BLOCKNO, BLKFILES, BLKSIZE, Block, FILE_SIZE, FTYPE_DIR, FTYPE_REG, File, MAX_NBLOCKS,
    MAXFILESIZE, MAXPATHLEN, NDIRECT, NINDIRECT, SUPER_BLOCKNO, Super, bitmap_position,
    blocks_for_size, first_data_block, indirect_get, indirect_set,
};
use std::collections::HashSet;

/// A directory being built: its entries, in the order they were added.
#[derive(Default)]
pub struct Dir {
    entries: Vec<File>,
}

/// An image under construction, laid out as JOS's `fsformat` lays it out.
pub struct ImageBuilder {
    img: Vec<u8>,
    nblocks: u32,
    /// The next free block (JOS's `diskpos`).
    next: u32,
}

impl ImageBuilder {
    /// Starts an image of `nblocks` blocks: boot block zero, superblock,
    /// and a bitmap of all ones (free). Fails if `nblocks` leaves no room
    /// for data or is larger than JOS's file server can map.
    pub fn new(nblocks: u32) -> Result<ImageBuilder, String> {
        if nblocks <= first_data_block(nblocks) || nblocks > MAX_NBLOCKS {
            return Err(format!(
                "bad block count {nblocks} (need {}..={MAX_NBLOCKS})",
                first_data_block(nblocks) + 1
            ));
        }
        let mut b = ImageBuilder {
            img: vec![0; nblocks as usize * BLKSIZE],
            nblocks,
            next: first_data_block(nblocks),
        };
        let bitmap = BITMAP_BLOCKNO as usize * BLKSIZE..b.next as usize * BLKSIZE;
        b.img[bitmap].fill(0xff);
        Ok(b)
    }

    /// Reserves `bytes` bytes of whole blocks and returns the first block
    /// (JOS's `alloc`). Fails if the disk is full.
    fn alloc(&mut self, bytes: usize) -> Result<u32, String> {
        let n = bytes.div_ceil(BLKSIZE) as u32;
        if self.next + n > self.nblocks {
            return Err("out of disk blocks".into());
        }
        let start = self.next;
        self.next += n;
        Ok(start)
    }

    /// Returns block `b` of the image.
    fn block_mut(&mut self, b: u32) -> &mut Block {
        let off = b as usize * BLKSIZE;
        (&mut self.img[off..off + BLKSIZE]).try_into().unwrap()
    }

    /// Points `f` at `len` bytes stored contiguously from block `start`
    /// (JOS's `finishfile`). Like JOS, a file of NDIRECT blocks or more
    /// gets an indirect block, even one of exactly NDIRECT blocks whose
    /// indirect block stays empty: the layout must match byte for byte.
    fn finish_file(&mut self, f: &mut File, start: u32, len: u32) -> Result<(), String> {
        f.f_size = len as i32;
        let n = blocks_for_size(len);
        for i in 0..n.min(NDIRECT as u32) {
            f.f_direct[i as usize] = start + i;
        }
        if n >= NDIRECT as u32 {
            let ind = self.alloc(BLKSIZE)?;
            f.f_indirect = ind;
            for i in NDIRECT as u32..n {
                indirect_set(self.block_mut(ind), i as usize - NDIRECT, start + i);
            }
        }
        Ok(())
    }

    /// Adds a regular file `name` holding `data` to `dir` (JOS's
    /// `writefile`). Fails for a bad or duplicate name, a file of
    /// `MAXFILESIZE` bytes or more (as JOS), or a full disk.
    pub fn add_file(&mut self, dir: &mut Dir, name: &str, data: &[u8]) -> Result<(), String> {
        let mut f = new_entry(dir, name, FTYPE_REG)?;
        if data.len() >= MAXFILESIZE as usize {
            return Err(format!("{name} too large"));
        }
        let start = self.alloc(data.len())?;
        let off = start as usize * BLKSIZE;
        self.img[off..off + data.len()].copy_from_slice(data);
        self.finish_file(&mut f, start, data.len() as u32)?;
        dir.entries.push(f);
        Ok(())
    }

    /// Adds directory `swap` to `dir` with `n` swap files `00`, `01`, ...,
    /// each `MAXFILESIZE` bytes of zeros, every block allocated: the file
    /// server's swap space (see user/src/bin/fs/swap.rs), reserved when
    /// the image is made so that a full file system never stops paging.
    /// Fails for `n` over 100, a name already taken, or a full disk.
    pub fn add_swap(&mut self, dir: &mut Dir, n: usize) -> Result<(), String> {
        if n > 100 {
            return Err(format!("{n} swap files: at most 100"));
        }
        let mut sub = Dir::default();
        for k in 0..n {
            let mut f = new_entry(&sub, &format!("{k:02}"), FTYPE_REG)?;
            let start = self.alloc(MAXFILESIZE as usize)?;
            self.finish_file(&mut f, start, MAXFILESIZE)?;
            sub.entries.push(f);
        }
        self.add_dir(dir, "swap", sub)
    }

    /// Writes `sub`'s entries and adds it to `dir` as directory `name`.
    /// Fails for a bad or duplicate name or a full disk.
    pub fn add_dir(&mut self, dir: &mut Dir, name: &str, sub: Dir) -> Result<(), String> {
        let mut f = new_entry(dir, name, FTYPE_DIR)?;
        self.finish_dir(&mut f, &sub)?;
        dir.entries.push(f);
        Ok(())
    }

    /// Stores `d`'s entries in fresh blocks and points `f` at them (JOS's
    /// `finishdir`); the size is rounded up to whole blocks.
    fn finish_dir(&mut self, f: &mut File, d: &Dir) -> Result<(), String> {
        let size = d.entries.len() * FILE_SIZE;
        if size > MAXFILESIZE as usize {
            return Err("too many directory entries".into());
        }
        let start = self.alloc(size)?;
        for (i, e) in d.entries.iter().enumerate() {
            e.write_at(&mut self.img, start as usize * BLKSIZE + i * FILE_SIZE)
                .map_err(|e| e.to_string())?;
        }
        self.finish_file(f, start, size.next_multiple_of(BLKSIZE) as u32)
    }

    /// Writes the root directory `root`, the superblock and the bitmap
    /// (every block up to the last allocated one in use) and returns the
    /// image (JOS's `finishdir(&root)` then `finishdisk`).
    pub fn finish(mut self, root: Dir) -> Result<Vec<u8>, String> {
        let mut sup = Super::new(self.nblocks);
        self.finish_dir(&mut sup.s_root, &root)?;
        sup.write_to(self.block_mut(SUPER_BLOCKNO))
            .map_err(|e| e.to_string())?;
        for b in 0..self.next {
            let (blk, byte, bit) = bitmap_position(b);
            fsfmt::bitmap_set(self.block_mut(blk), byte, bit, false);
        }
        Ok(self.img)
    }
}

/// Returns a fresh entry for `name` in `dir`, or an error for a bad name
/// or one already in `dir`.
fn new_entry(dir: &Dir, name: &str, ftype: u32) -> Result<File, String> {
    check_name(name.as_bytes()).map_err(|_| format!("{name}: bad file name"))?;
    if dir.entries.iter().any(|e| e.name() == name.as_bytes()) {
        return Err(format!("{name}: duplicate name"));
    }
    File::new(name.as_bytes(), ftype).map_err(|e| format!("{name}: {e}"))
}

/// One file found by [`list`].
#[derive(Debug, PartialEq, Eq)]
pub struct Listing {
    /// The full path, e.g. "/motd".
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Its size in bytes.
    pub size: u32,
}

/// Returns every file in the image, depth first in directory order. Fails
/// with JOS's error text if the image does not mount or a directory cannot
/// be read.
pub fn list(img: &mut [u8]) -> Result<Vec<Listing>, String> {
    let mut fs = Fs::mount(RamDisk::new(img)).map_err(|e| format!("mount: {e}"))?;
    let mut out = Vec::new();
    list_dir(&mut fs, FileRef::ROOT, "", &mut out, 0)?;
    Ok(out)
}

fn list_dir(
    fs: &mut Fs<RamDisk>,
    dir: FileRef,
    prefix: &str,
    out: &mut Vec<Listing>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAXPATHLEN / 2 {
        return Err(format!("{prefix}: directories nested too deep"));
    }
    let mut pos = 0;
    while let Some((r, f)) = fs
        .read_dir(dir, &mut pos)
        .map_err(|e| format!("{prefix}/: {e}"))?
    {
        let path = format!("{prefix}/{}", String::from_utf8_lossy(f.name()));
        let size = f.size().map_err(|e| format!("{path}: {e}"))?;
        out.push(Listing {
            path: path.clone(),
            is_dir: f.is_dir(),
            size,
        });
        if f.is_dir() {
            list_dir(fs, r, &path, out, depth + 1)?;
        }
    }
    Ok(())
}

/// Checks an image as a small fsck would and returns what is wrong (empty:
/// the image is sound): the superblock, that boot, super and bitmap blocks
/// are in use, every entry (name, type, size), every block pointer (in the
/// data area, not past the file's size, not used twice), directories
/// (whole blocks, no holes, no duplicate names), and that the bitmap marks
/// exactly the reachable blocks in use.
pub fn check(img: &[u8]) -> Vec<String> {
    let mut c = Checker {
        img,
        nblocks: 0,
        used: Vec::new(),
        problems: Vec::new(),
    };
    c.run();
    c.problems
}

struct Checker<'a> {
    img: &'a [u8],
    nblocks: u32,
    /// For each block, the path of the file that uses it.
    used: Vec<Option<String>>,
    problems: Vec<String>,
}

impl Checker<'_> {
    fn block(&self, b: u32) -> &Block {
        let off = b as usize * BLKSIZE;
        self.img[off..off + BLKSIZE].try_into().unwrap()
    }

    fn is_free(&self, b: u32) -> bool {
        let (blk, byte, bit) = bitmap_position(b);
        fsfmt::bitmap_is_free(self.block(blk), byte, bit)
    }

    fn run(&mut self) {
        let disk_blocks = self.img.len() / BLKSIZE;
        if !self.img.len().is_multiple_of(BLKSIZE) {
            self.problems
                .push(format!("image size {} is not whole blocks", self.img.len()));
        }
        if disk_blocks < 2 {
            self.problems
                .push("image too small for a superblock".into());
            return;
        }
        let sup = Super::from_bytes(self.block(SUPER_BLOCKNO)).unwrap();
        if sup.s_magic != fsfmt::FS_MAGIC {
            self.problems
                .push(format!("bad magic {:#010x} in the superblock", sup.s_magic));
            return;
        }
        let n = sup.s_nblocks;
        if n as usize > disk_blocks || n > MAX_NBLOCKS || n <= first_data_block(n) {
            self.problems.push(format!(
                "superblock says {n} blocks; the image has {disk_blocks}"
            ));
            return;
        }
        self.nblocks = n;
        self.used = vec![None; n as usize];
        for b in 0..first_data_block(n) {
            self.used[b as usize] = Some("(reserved)".into());
            if self.is_free(b) {
                self.problems
                    .push(format!("reserved block {b} is marked free"));
            }
        }
        if !sup.s_root.is_dir() || sup.s_root.name() != b"/" {
            self.problems
                .push("the root is not a directory called \"/\"".into());
        }
        self.check_file(&sup.s_root, "/", 0);
        for b in first_data_block(n)..n {
            match (&self.used[b as usize], self.is_free(b)) {
                (Some(p), true) => self
                    .problems
                    .push(format!("block {b} used by {p} is marked free")),
                (None, false) => self
                    .problems
                    .push(format!("block {b} is marked in use but no file uses it")),
                _ => {}
            }
        }
    }

    /// Records that `path` uses block `b`; returns false (and reports) if
    /// `b` is out of the data area or already used.
    fn claim(&mut self, b: u32, path: &str) -> bool {
        if b < first_data_block(self.nblocks) || b >= self.nblocks {
            self.problems
                .push(format!("{path}: block number {b} is outside the data area"));
            return false;
        }
        if let Some(other) = &self.used[b as usize] {
            self.problems
                .push(format!("{path}: block {b} is also used by {other}"));
            return false;
        }
        self.used[b as usize] = Some(path.to_string());
        true
    }

    /// Checks `f` (at `path`) and, for a directory, everything in it.
    fn check_file(&mut self, f: &File, path: &str, depth: usize) {
        if f.check().is_err() {
            self.problems.push(format!(
                "{path}: bad entry (type {}, size {})",
                f.f_type, f.f_size
            ));
        }
        let size_blocks = f.nblocks().unwrap_or(0);
        // The file's blocks, by file block number; 0 for a hole.
        let mut blocks = vec![0u32; NDIRECT + NINDIRECT];
        blocks[..NDIRECT].copy_from_slice(&f.f_direct);
        if f.f_indirect != 0 && self.claim(f.f_indirect, path) {
            let ind = *self.block(f.f_indirect);
            for i in 0..NINDIRECT {
                blocks[NDIRECT + i] = indirect_get(&ind, i);
            }
        }
        let mut claimed = vec![false; blocks.len()];
        for (i, &b) in blocks.iter().enumerate() {
            if b == 0 {
                continue;
            }
            if i as u32 >= size_blocks {
                self.problems.push(format!(
                    "{path}: block {b} at file block {i} is past the size {}",
                    f.f_size
                ));
            }
            claimed[i] = self.claim(b, path);
        }
        if !f.is_dir() || f.check().is_err() {
            return;
        }
        if depth > MAXPATHLEN / 2 {
            self.problems
                .push(format!("{path}: directories nested too deep"));
            return;
        }
        let mut names = HashSet::new();
        for i in 0..size_blocks as usize {
            if blocks[i] == 0 {
                self.problems
                    .push(format!("{path}: directory block {i} is missing"));
                continue;
            }
            if !claimed[i] {
                continue; // reported already; do not follow a cycle.
            }
            let blk = *self.block(blocks[i]);
            for j in 0..BLKFILES {
                let e = File::read_at(&blk, j * FILE_SIZE).unwrap();
                if e.is_free() {
                    continue;
                }
                let name = String::from_utf8_lossy(e.name()).into_owned();
                let child = format!("{}/{name}", path.trim_end_matches('/'));
                if check_name(e.name()).is_err() {
                    self.problems.push(format!("{child}: bad name"));
                }
                if !names.insert(e.name().to_vec()) {
                    self.problems.push(format!("{child}: duplicate name"));
                }
                self.check_file(&e, &child, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests;
