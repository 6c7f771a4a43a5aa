//! Building and checking JOS file-system images on the host.
//!
//! [`ImageBuilder`] lays an image out exactly as JOS's `fs/fsformat.c`
//! does, so that the same files give the same bytes: blocks are handed out
//! in order from the first data block, each file's contents contiguous and
//! followed by its indirect block if it has one, each directory's entries
//! after everything in it, and finally the bitmap marks every block up to
//! the last one used. [`check`] is a small fsck; [`list`] walks the tree.

use josfs::fs::{FileRef, Fs, RamDisk};
use josfs::log::{LogHeader, LogRecord};
use josfs::path::check_name;
use josfs::{
    BITMAP_BLOCKNO, BLKFILES, BLKSIZE, Block, FILE_SIZE, FTYPE_DIR, FTYPE_REG, File, MAX_NBLOCKS,
    MAXFILESIZE, MAXPATHLEN, NDIRECT, NINDIRECT, SUPER_BLOCKNO, Super, bitmap_position,
    blocks_for_size, first_data_block, indirect_get, indirect_set,
};
use std::collections::HashSet;

pub mod inuse;
pub mod update;

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
    /// The write-ahead log at the end of the disk (`josfs::log`), if the
    /// disk is large enough for one: files never go there.
    log: Option<LogRecord>,
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
            log: LogRecord::at_end(nblocks),
        };
        let bitmap = BITMAP_BLOCKNO as usize * BLKSIZE..b.next as usize * BLKSIZE;
        b.img[bitmap].fill(0xff);
        Ok(b)
    }

    /// Reserves `bytes` bytes of whole blocks and returns the first block
    /// (JOS's `alloc`). Fails if the disk is full.
    fn alloc(&mut self, bytes: usize) -> Result<u32, String> {
        let n = bytes.div_ceil(BLKSIZE) as u32;
        let end = self.log.map_or(self.nblocks, |l| l.start);
        if self.next + n > end {
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
    /// server's swap space (see user/serv/src/bin/fs/swap.rs), reserved when
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
            josfs::bitmap_set(self.block_mut(blk), byte, bit, false);
        }
        // The log: its blocks in use, its place in the superblock's spare
        // bytes, an empty header. (The only bytes that differ from an
        // image of JOS's C fsformat.)
        if let Some(log) = self.log {
            for b in log.start..log.start + log.nblocks {
                let (blk, byte, bit) = bitmap_position(b);
                josfs::bitmap_set(self.block_mut(blk), byte, bit, false);
            }
            log.write(self.block_mut(SUPER_BLOCKNO));
            *self.block_mut(log.start) = LogHeader::EMPTY.to_block();
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

/// Installs the log's committed group into `img`, if there is one (as the
/// file server does at mount; see `josfs::log`). Returns how many blocks
/// were copied home (0 for none, or an image without a log). Fails for an
/// image whose superblock or log record is bad.
pub fn replay_log(img: &mut [u8]) -> Result<usize, String> {
    if img.len() < 2 * BLKSIZE {
        return Err("image too small for a superblock".into());
    }
    let sup = Super::from_bytes(&img[BLKSIZE..]).unwrap();
    let n = sup.s_nblocks;
    if sup.check().is_err() || n as usize > img.len() / BLKSIZE {
        return Err("bad superblock".into());
    }
    let mut dev = RamDisk::new(img);
    match josfs::log::find(&mut dev, n) {
        Ok(Some(log)) => {
            josfs::log::replay(&mut dev, &log, n).map_err(|e| format!("log replay: {e}"))
        }
        Ok(None) => Ok(0),
        Err(e) => Err(format!("bad log record: {e}")),
    }
}

/// Returns the bytes of the regular file at `path` in `img`, with the
/// log's committed group installed first (in memory). Fails with JOS's
/// error text if the image does not mount or the file is not there.
pub fn cat(img: &mut [u8], path: &str) -> Result<Vec<u8>, String> {
    replay_log(img)?;
    let mut fs = Fs::mount(RamDisk::new(img)).map_err(|e| format!("mount: {e}"))?;
    let r = fs
        .lookup(path.as_bytes())
        .map_err(|e| format!("{path}: {e}"))?;
    let f = fs.stat(r).map_err(|e| format!("{path}: {e}"))?;
    if f.is_dir() {
        return Err(format!("{path}: is a directory"));
    }
    let mut out = vec![0u8; f.size().map_err(|e| format!("{path}: {e}"))? as usize];
    let got = fs
        .read(r, &mut out, 0)
        .map_err(|e| format!("{path}: {e}"))?;
    out.truncate(got);
    Ok(out)
}

/// Checks an image as a small fsck would and returns what is wrong (empty:
/// the image is sound): the superblock and the log's record, that boot,
/// super, bitmap and log blocks are in use, every entry (name, type,
/// size), every block pointer (in the data area, not in the log, not past
/// the file's size, not used twice), directories (whole blocks, no holes,
/// no duplicate names), and that the bitmap marks exactly the reachable
/// blocks in use. A group committed in the log but not yet installed is
/// installed first (in a copy), as the next mount would.
pub fn check(img: &[u8]) -> Vec<String> {
    let mut c = Checker::new(img.to_vec(), false);
    c.run();
    c.problems
}

/// Repairs `img` as e2fsck -y would, and returns what it found and did
/// (empty: the image was sound): installs a committed log group; clears
/// entries with a bad name, type or size, or a duplicate name; clears
/// block pointers out of the data area, into the log, past the file's
/// size or to a block another file uses (the first file met keeps it); and
/// rewrites the bitmap so that exactly the reachable blocks are in use.
/// Holes in directories are reported, not filled. Fails (changing
/// nothing) if the superblock is unusable.
pub fn repair(img: &mut Vec<u8>) -> Result<Vec<String>, String> {
    let mut c = Checker::new(std::mem::take(img), true);
    c.run();
    let fatal = c.fatal;
    *img = c.img;
    if fatal {
        return Err(c.problems.join("\n"));
    }
    Ok(c.problems)
}

struct Checker {
    img: Vec<u8>,
    /// Repair as we go (the problems then say what was done).
    fix: bool,
    /// The superblock is beyond repair.
    fatal: bool,
    nblocks: u32,
    log: Option<LogRecord>,
    /// For each block, the path of the file that uses it.
    used: Vec<Option<String>>,
    problems: Vec<String>,
}

impl Checker {
    fn new(img: Vec<u8>, fix: bool) -> Checker {
        Checker {
            img,
            fix,
            fatal: false,
            nblocks: 0,
            log: None,
            used: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn block(&self, b: u32) -> &Block {
        let off = b as usize * BLKSIZE;
        self.img[off..off + BLKSIZE].try_into().unwrap()
    }

    fn block_mut(&mut self, b: u32) -> &mut Block {
        let off = b as usize * BLKSIZE;
        (&mut self.img[off..off + BLKSIZE]).try_into().unwrap()
    }

    fn is_free(&self, b: u32) -> bool {
        let (blk, byte, bit) = bitmap_position(b);
        josfs::bitmap_is_free(self.block(blk), byte, bit)
    }

    /// Reports `what`, or with `fix` that it was repaired (`how`).
    fn report(&mut self, what: String, how: &str) {
        if self.fix {
            self.problems.push(format!("{what}: {how}"));
        } else {
            self.problems.push(what);
        }
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
            self.fatal = true;
            return;
        }
        let sup = Super::from_bytes(self.block(SUPER_BLOCKNO)).unwrap();
        if sup.s_magic != josfs::FS_MAGIC {
            self.problems
                .push(format!("bad magic {:#010x} in the superblock", sup.s_magic));
            self.fatal = true;
            return;
        }
        let n = sup.s_nblocks;
        if n as usize > disk_blocks || n > MAX_NBLOCKS || n <= first_data_block(n) {
            self.problems.push(format!(
                "superblock says {n} blocks; the image has {disk_blocks}"
            ));
            self.fatal = true;
            return;
        }
        self.nblocks = n;
        self.used = vec![None; n as usize];
        self.check_log();
        for b in 0..first_data_block(n) {
            self.used[b as usize] = Some("(reserved)".into());
            if self.is_free(b) {
                self.report(
                    format!("reserved block {b} is marked free"),
                    "marked in use",
                );
            }
        }
        let sup = Super::from_bytes(self.block(SUPER_BLOCKNO)).unwrap();
        if !sup.s_root.is_dir() || sup.s_root.name() != b"/" {
            self.problems
                .push("the root is not a directory called \"/\"".into());
            if self.fix {
                self.fatal = true;
                return;
            }
        }
        self.check_file(
            &sup.s_root,
            "/",
            0,
            (SUPER_BLOCKNO, josfs::SUPER_ROOT_OFFSET),
        );
        for b in first_data_block(n)..n {
            let free = self.is_free(b);
            match (&self.used[b as usize], free) {
                (Some(p), true) => {
                    let p = p.clone();
                    self.report(
                        format!("block {b} used by {p} is marked free"),
                        "marked in use",
                    );
                }
                (None, false) => self.report(
                    format!("block {b} is marked in use but no file uses it"),
                    "marked free",
                ),
                _ => continue,
            }
            if self.fix {
                let (blk, byte, bit) = bitmap_position(b);
                josfs::bitmap_set(self.block_mut(blk), byte, bit, !free);
            }
        }
        if self.fix {
            for b in 0..first_data_block(n) {
                let (blk, byte, bit) = bitmap_position(b);
                josfs::bitmap_set(self.block_mut(blk), byte, bit, false);
            }
        }
    }

    /// The log: a bad record is a problem (repair drops it, and the log
    /// blocks come free); a committed group is installed (into our copy;
    /// with `fix`, into the image) before anything else is looked at.
    fn check_log(&mut self) {
        let n = self.nblocks;
        let mut dev = RamDisk::new(&mut self.img);
        match josfs::log::find(&mut dev, n) {
            Ok(None) => {}
            Ok(Some(log)) => {
                match josfs::log::replay(&mut dev, &log, n) {
                    Ok(k) if k > 0 && self.fix => self
                        .problems
                        .push(format!("log: {k} committed block(s) installed")),
                    Ok(_) => {}
                    Err(e) => self.problems.push(format!("log: cannot replay: {e}")),
                }
                self.log = Some(log);
                for b in log.start..log.start + log.nblocks {
                    self.used[b as usize] = Some("(log)".into());
                }
            }
            Err(_) => {
                self.report("bad log record in the superblock".into(), "removed");
                if self.fix {
                    let off = josfs::log::LOG_RECORD_OFFSET;
                    self.block_mut(SUPER_BLOCKNO)[off..off + 12].fill(0);
                }
            }
        }
    }

    /// Records that `path` uses block `b`; returns false (and reports) if
    /// `b` is out of the data area, in the log or already used.
    fn claim(&mut self, b: u32, path: &str) -> bool {
        if b < first_data_block(self.nblocks) || b >= self.nblocks {
            self.report(
                format!("{path}: block number {b} is outside the data area"),
                "pointer cleared",
            );
            return false;
        }
        if let Some(other) = &self.used[b as usize] {
            let other = other.clone();
            self.report(
                format!("{path}: block {b} is also used by {other}"),
                "pointer cleared",
            );
            return false;
        }
        self.used[b as usize] = Some(path.to_string());
        true
    }

    /// Writes entry `f` at `loc` (block, byte offset).
    fn put_entry(&mut self, f: &File, loc: (u32, usize)) {
        let blk = self.block_mut(loc.0);
        f.write_at(blk, loc.1).unwrap();
    }

    /// Checks `f` (at `path`, its entry at `loc`) and, for a directory,
    /// everything in it; with `fix`, repairs them.
    fn check_file(&mut self, f: &File, path: &str, depth: usize, loc: (u32, usize)) {
        let mut f = *f;
        if f.check().is_err() {
            self.report(
                format!("{path}: bad entry (type {}, size {})", f.f_type, f.f_size),
                "entry cleared",
            );
            if self.fix && path != "/" {
                self.put_entry(&File::EMPTY, loc);
                return;
            }
        }
        let size_blocks = f.nblocks().unwrap_or(0);
        // The file's blocks, by file block number; 0 for a hole.
        let mut blocks = vec![0u32; NDIRECT + NINDIRECT];
        blocks[..NDIRECT].copy_from_slice(&f.f_direct);
        let mut changed = false;
        if f.f_indirect != 0 {
            if self.claim(f.f_indirect, path) {
                let ind = *self.block(f.f_indirect);
                for i in 0..NINDIRECT {
                    blocks[NDIRECT + i] = indirect_get(&ind, i);
                }
            } else if self.fix {
                f.f_indirect = 0;
                changed = true;
            }
        }
        let mut claimed = vec![false; blocks.len()];
        for i in 0..blocks.len() {
            let b = blocks[i];
            if b == 0 {
                continue;
            }
            let ok = if i as u32 >= size_blocks {
                self.report(
                    format!(
                        "{path}: block {b} at file block {i} is past the size {}",
                        f.f_size
                    ),
                    "pointer cleared",
                );
                // Only repair needs it gone; the check claims it as before.
                !self.fix && self.claim(b, path)
            } else {
                self.claim(b, path)
            };
            claimed[i] = ok;
            if !ok && self.fix {
                blocks[i] = 0;
                if i < NDIRECT {
                    f.f_direct[i] = 0;
                } else {
                    let ind = f.f_indirect;
                    indirect_set(self.block_mut(ind), i - NDIRECT, 0);
                }
                changed = true;
            }
        }
        if changed {
            self.put_entry(&f, loc);
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
            for j in 0..BLKFILES {
                let e = File::read_at(self.block(blocks[i]), j * FILE_SIZE).unwrap();
                if e.is_free() {
                    continue;
                }
                let name = String::from_utf8_lossy(e.name()).into_owned();
                let child = format!("{}/{name}", path.trim_end_matches('/'));
                let eloc = (blocks[i], j * FILE_SIZE);
                if check_name(e.name()).is_err() {
                    self.report(format!("{child}: bad name"), "entry cleared");
                    if self.fix {
                        self.put_entry(&File::EMPTY, eloc);
                        continue;
                    }
                }
                if !names.insert(e.name().to_vec()) {
                    self.report(format!("{child}: duplicate name"), "entry cleared");
                    if self.fix {
                        self.put_entry(&File::EMPTY, eloc);
                        continue;
                    }
                }
                self.check_file(&e, &child, depth + 1, eloc);
            }
        }
    }
}

#[cfg(test)]
mod tests;
