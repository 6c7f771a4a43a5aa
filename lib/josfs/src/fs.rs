//! JOS's file operations (lab 5's `fs/fs.c` and the open logic of
//! `fs/serv.c`) over any [`BlockDevice`].
//!
//! The file server will run this over its block cache; the host tools run
//! it over a [`RamDisk`]. Nothing here trusts the disk: every block number
//! read from it is checked against the data area, every size against
//! [`MAXFILESIZE`], and a malformed structure gives `E_INVAL` instead of a
//! panic. Loops are bounded by sizes that were checked, so a corrupt image
//! cannot make an operation run forever.
//!
//! Files are named by [`FileRef`], the place on disk where their `File`
//! entry lives (the root's is in the superblock). Every operation reads the
//! entry, works, and writes it back; nothing is cached, so a `FileRef` is
//! only as good as the directory slot it names (after `remove`, the slot may
//! be reused).
//!
//! Stack use: an operation holds at most three [`Block`]s on the stack
//! (about 12 KiB), which the file server must allow for.

use crate::path::{check_name, check_path, components};
use crate::{
    BITMAP_BLOCKNO, BLKFILES, BLKSIZE, Block, BlockSlot, Error, FILE_SIZE, FTYPE_DIR, FTYPE_REG,
    File, MAX_NBLOCKS, MAXFILESIZE, MAXNAMELEN, NDIRECT, NINDIRECT, O_CREAT, O_EXCL, O_MKDIR,
    O_TRUNC, Result, SUPER_BLOCKNO, SUPER_ROOT_OFFSET, Super, bitmap_blocks, bitmap_is_free,
    bitmap_position, bitmap_set, block_slot, blocks_for_size, first_data_block, indirect_get,
    indirect_set,
};

/// A disk: numbered blocks of [`BLKSIZE`] bytes.
pub trait BlockDevice {
    /// Returns how many blocks the device holds.
    fn nblocks(&self) -> u32;
    /// Reads block `blockno` into `buf`. Fails (with an error of the
    /// device's choosing, `E_INVAL` for a block past the end) if it cannot.
    fn read_block(&mut self, blockno: u32, buf: &mut Block) -> Result<()>;
    /// Writes `buf` to block `blockno`. Fails as [`read_block`] does.
    ///
    /// [`read_block`]: BlockDevice::read_block
    fn write_block(&mut self, blockno: u32, buf: &Block) -> Result<()>;
}

/// A disk in memory: a byte slice whose length is a multiple of `BLKSIZE`
/// (a trailing partial block is ignored).
pub struct RamDisk<'a> {
    bytes: &'a mut [u8],
}

impl<'a> RamDisk<'a> {
    /// Wraps `bytes` as a disk of `bytes.len() / BLKSIZE` blocks.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        RamDisk { bytes }
    }

    /// Returns the block range of `blockno`, or `E_INVAL` past the end.
    fn range(&self, blockno: u32) -> Result<core::ops::Range<usize>> {
        if blockno >= self.nblocks() {
            return Err(Error::Inval);
        }
        let start = blockno as usize * BLKSIZE;
        Ok(start..start + BLKSIZE)
    }
}

impl BlockDevice for RamDisk<'_> {
    fn nblocks(&self) -> u32 {
        u32::try_from(self.bytes.len() / BLKSIZE).unwrap_or(u32::MAX)
    }

    fn read_block(&mut self, blockno: u32, buf: &mut Block) -> Result<()> {
        let r = self.range(blockno)?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn write_block(&mut self, blockno: u32, buf: &Block) -> Result<()> {
        let r = self.range(blockno)?;
        self.bytes[r].copy_from_slice(buf);
        Ok(())
    }
}

/// Where a `File` entry lives on disk: a block and a byte offset in it.
/// Only [`Fs`] makes these, so the offset always leaves room for a `File`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileRef {
    block: u32,
    offset: u16,
}

impl FileRef {
    /// The root directory, inside the superblock.
    pub const ROOT: FileRef = FileRef {
        block: SUPER_BLOCKNO,
        offset: SUPER_ROOT_OFFSET as u16,
    };

    /// Returns the block that holds the entry.
    pub fn block(&self) -> u32 {
        self.block
    }

    /// Returns the entry's byte offset within [`block`](FileRef::block).
    pub fn offset(&self) -> usize {
        self.offset as usize
    }
}

/// A name of at most `MAXNAMELEN - 1` bytes, kept without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Name {
    buf: [u8; MAXNAMELEN],
    len: u8,
}

impl Name {
    /// Copies `s`; fails with `E_BAD_PATH` if it is `MAXNAMELEN` bytes or
    /// longer.
    pub fn new(s: &[u8]) -> Result<Name> {
        if s.len() >= MAXNAMELEN {
            return Err(Error::BadPath);
        }
        let mut buf = [0; MAXNAMELEN];
        buf[..s.len()].copy_from_slice(s);
        Ok(Name {
            buf,
            len: s.len() as u8,
        })
    }

    /// Returns the name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// What [`Fs::walk_path`] found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Walk {
    /// The file exists. `dir` is the directory holding it (`None` for the
    /// root itself).
    Found {
        /// The directory holding the file.
        dir: Option<FileRef>,
        /// The file.
        file: FileRef,
    },
    /// Every directory on the path exists but the last name is not in the
    /// last one: JOS's "not found, but here is where it would go".
    Missing {
        /// The directory the file would go in.
        dir: FileRef,
        /// The missing last component.
        name: Name,
    },
}

/// What [`Fs::rename`] did: the file's entry moved from slot `from` to
/// slot `to` (the same slot if nothing moved). A file that was open by its
/// old slot is now at `to`; one that was open at `to` was replaced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Renamed {
    /// Where the entry was.
    pub from: FileRef,
    /// Where it is now.
    pub to: FileRef,
}

/// A mounted (or freshly formatted) JOS file system on device `D`.
pub struct Fs<D: BlockDevice> {
    dev: D,
    nblocks: u32,
}

/// A block full of zeros, to clear newly allocated blocks.
static ZERO_BLOCK: Block = [0; BLKSIZE];

impl<D: BlockDevice> Fs<D> {
    /// Writes an empty file system of `nblocks` blocks onto `dev`, as JOS's
    /// `fsformat` does with no files: a zero boot block, the superblock with
    /// an empty root "/", and a bitmap with boot, super and bitmap blocks in
    /// use and every other bit (even past `nblocks`) set to free. Returns
    /// the mounted file system.
    ///
    /// Fails with `E_INVAL` if `nblocks` leaves no data block, exceeds
    /// [`MAX_NBLOCKS`] or the device's size, or with the device's error.
    pub fn format(mut dev: D, nblocks: u32) -> Result<Fs<D>> {
        if nblocks <= first_data_block(nblocks) || nblocks > MAX_NBLOCKS || nblocks > dev.nblocks()
        {
            return Err(Error::Inval);
        }
        dev.write_block(0, &ZERO_BLOCK)?;
        let mut b = [0u8; BLKSIZE];
        Super::new(nblocks).write_to(&mut b)?;
        dev.write_block(SUPER_BLOCKNO, &b)?;
        let reserved = first_data_block(nblocks);
        for k in 0..bitmap_blocks(nblocks) {
            b = [0xff; BLKSIZE];
            for blockno in 0..reserved {
                let (blk, byte, bit) = bitmap_position(blockno);
                if blk == BITMAP_BLOCKNO + k {
                    bitmap_set(&mut b, byte, bit, false);
                }
            }
            dev.write_block(BITMAP_BLOCKNO + k, &b)?;
        }
        Ok(Fs { dev, nblocks })
    }

    /// Mounts the file system on `dev`: reads and checks the superblock
    /// ([`Super::check`], and that the device is large enough), and checks
    /// that boot, super and bitmap blocks are marked in use (JOS's
    /// `check_bitmap`). Fails with `E_INVAL` for a bad image, or with the
    /// device's error.
    pub fn mount(mut dev: D) -> Result<Fs<D>> {
        let mut b = [0u8; BLKSIZE];
        dev.read_block(SUPER_BLOCKNO, &mut b)?;
        let sup = Super::from_bytes(&b).ok_or(Error::Inval)?;
        sup.check()?;
        if sup.s_nblocks > dev.nblocks() {
            return Err(Error::Inval);
        }
        let mut fs = Fs {
            dev,
            nblocks: sup.s_nblocks,
        };
        for blockno in 0..first_data_block(fs.nblocks) {
            if fs.block_is_free(blockno)? {
                return Err(Error::Inval);
            }
        }
        fs.check_file_blocks(&sup.s_root)?;
        Ok(fs)
    }

    /// Gives the device back.
    pub fn into_device(self) -> D {
        self.dev
    }

    /// Returns the device, e.g. to inspect raw blocks.
    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Returns the number of blocks in the file system (`s_nblocks`).
    pub fn nblocks(&self) -> u32 {
        self.nblocks
    }

    /// Reads block `blockno`; `E_INVAL` if it is past `s_nblocks`.
    pub fn read_block(&mut self, blockno: u32, buf: &mut Block) -> Result<()> {
        if blockno >= self.nblocks {
            return Err(Error::Inval);
        }
        self.dev.read_block(blockno, buf)
    }

    /// Writes block `blockno`; `E_INVAL` if it is past `s_nblocks`.
    pub fn write_block(&mut self, blockno: u32, buf: &Block) -> Result<()> {
        if blockno >= self.nblocks {
            return Err(Error::Inval);
        }
        self.dev.write_block(blockno, buf)
    }

    /// Checks that `blockno`, read from a block pointer, names a data block
    /// (not boot, super or bitmap, not past the end); `E_INVAL` if not.
    pub fn check_data_block(&self, blockno: u32) -> Result<()> {
        if blockno < first_data_block(self.nblocks) || blockno >= self.nblocks {
            return Err(Error::Inval);
        }
        Ok(())
    }

    // ------------------------------------------------------------------
    // The free-block bitmap

    /// Returns whether the bitmap marks `blockno` free. Blocks past the end
    /// are never free (as in JOS's `block_is_free`). Fails only with the
    /// device's error.
    pub fn block_is_free(&mut self, blockno: u32) -> Result<bool> {
        if blockno >= self.nblocks {
            return Ok(false);
        }
        let (blk, byte, bit) = bitmap_position(blockno);
        let mut b = [0u8; BLKSIZE];
        self.read_block(blk, &mut b)?;
        Ok(bitmap_is_free(&b, byte, bit))
    }

    /// Marks data block `blockno` free. Fails with `E_INVAL` if it is not a
    /// data block (JOS panics on freeing block 0; so does nothing here,
    /// but it refuses), or with the device's error.
    pub fn free_block(&mut self, blockno: u32) -> Result<()> {
        self.check_data_block(blockno)?;
        self.set_block_free(blockno, true)
    }

    /// Sets the bitmap bit of `blockno` (< nblocks) to `free`.
    fn set_block_free(&mut self, blockno: u32, free: bool) -> Result<()> {
        let (blk, byte, bit) = bitmap_position(blockno);
        let mut b = [0u8; BLKSIZE];
        self.read_block(blk, &mut b)?;
        bitmap_set(&mut b, byte, bit, free);
        self.write_block(blk, &b)
    }

    /// Finds a free data block, marks it in use and returns its number
    /// (JOS's `alloc_block`; the lowest free block is taken). Its contents
    /// are left as they were. Fails with `E_NO_DISK` if every block is in
    /// use, or with the device's error. Reserved blocks are never handed
    /// out, even if a corrupt bitmap says they are free.
    pub fn alloc_block(&mut self) -> Result<u32> {
        let first = first_data_block(self.nblocks);
        let mut b = [0u8; BLKSIZE];
        for k in 0..bitmap_blocks(self.nblocks) {
            let lo = (k * crate::BLKBITSIZE).max(first);
            let hi = ((k + 1) * crate::BLKBITSIZE).min(self.nblocks);
            if lo >= hi {
                continue;
            }
            self.read_block(BITMAP_BLOCKNO + k, &mut b)?;
            for blockno in lo..hi {
                let (blk, byte, bit) = bitmap_position(blockno);
                debug_assert_eq!(blk, BITMAP_BLOCKNO + k);
                if bitmap_is_free(&b, byte, bit) {
                    bitmap_set(&mut b, byte, bit, false);
                    self.write_block(blk, &b)?;
                    return Ok(blockno);
                }
            }
        }
        Err(Error::NoDisk)
    }

    /// Allocates a block and fills it with zeros; errors as `alloc_block`.
    fn alloc_zeroed(&mut self) -> Result<u32> {
        let blockno = self.alloc_block()?;
        if let Err(e) = self.write_block(blockno, &ZERO_BLOCK) {
            let _ = self.set_block_free(blockno, true);
            return Err(e);
        }
        Ok(blockno)
    }

    // ------------------------------------------------------------------
    // File entries and their blocks

    /// Reads the `File` entry at `r` without checking it. Fails only with
    /// the device's error.
    pub fn read_entry(&mut self, r: FileRef) -> Result<File> {
        let mut b = [0u8; BLKSIZE];
        self.read_block(r.block, &mut b)?;
        File::read_at(&b, r.offset()).ok_or(Error::Inval)
    }

    /// Writes `f` as the entry at `r`. Fails only with the device's error.
    fn write_entry(&mut self, r: FileRef, f: &File) -> Result<()> {
        let mut b = [0u8; BLKSIZE];
        self.read_block(r.block, &mut b)?;
        f.write_at(&mut b, r.offset())?;
        self.write_block(r.block, &b)
    }

    /// Returns the `File` at `r` (JOS's `struct File` the server would
    /// hand back for a stat). Fails with `E_INVAL` if it is malformed
    /// ([`File::check`]) or is a free slot.
    pub fn stat(&mut self, r: FileRef) -> Result<File> {
        let f = self.read_entry(r)?;
        if f.is_free() {
            return Err(Error::Inval);
        }
        f.check()?;
        Ok(f)
    }

    /// Checks that `f` passes [`File::check`] and that its indirect pointer
    /// is 0 or a data block. Returns `E_INVAL` if not.
    fn check_file_blocks(&self, f: &File) -> Result<()> {
        f.check()?;
        if f.f_indirect != 0 {
            self.check_data_block(f.f_indirect)?;
        }
        Ok(())
    }

    /// Returns the disk block holding file block `filebno` of `f`, or 0 if
    /// it has none (a hole). With `alloc`, allocates (zeroed) the block and,
    /// if needed, the indirect block, updating `f` (which the caller must
    /// write back, even on error, since an indirect block may have been
    /// added). Like JOS's `file_block_walk` plus `file_get_block`.
    ///
    /// Fails with `E_INVAL` if `filebno` is past `MAXFILESIZE` or a pointer
    /// on disk is not a data block, `E_NO_DISK` if the disk is full.
    pub fn file_block(&mut self, f: &mut File, filebno: u32, alloc: bool) -> Result<u32> {
        match block_slot(filebno)? {
            BlockSlot::Direct(i) => {
                let b = f.f_direct[i];
                if b != 0 {
                    self.check_data_block(b)?;
                    return Ok(b);
                }
                if !alloc {
                    return Ok(0);
                }
                let nb = self.alloc_zeroed()?;
                f.f_direct[i] = nb;
                Ok(nb)
            }
            BlockSlot::Indirect(i) => {
                if f.f_indirect == 0 {
                    if !alloc {
                        return Ok(0);
                    }
                    f.f_indirect = self.alloc_zeroed()?;
                }
                self.check_data_block(f.f_indirect)?;
                let mut ind = [0u8; BLKSIZE];
                self.read_block(f.f_indirect, &mut ind)?;
                let b = indirect_get(&ind, i);
                if b != 0 {
                    self.check_data_block(b)?;
                    return Ok(b);
                }
                if !alloc {
                    return Ok(0);
                }
                let nb = self.alloc_zeroed()?;
                indirect_set(&mut ind, i, nb);
                self.write_block(f.f_indirect, &ind)?;
                Ok(nb)
            }
        }
    }

    /// Frees every block of `f` from file block `new_nblocks` on, and the
    /// indirect block if no longer needed (JOS's `file_truncate_blocks`).
    /// Unlike JOS it clears every non-zero pointer at or past
    /// `new_nblocks`, not only those below the old size, so a corrupt entry
    /// cannot leak blocks; pointers that are not data blocks are cleared
    /// without freeing anything. Fails only with the device's error.
    fn truncate_blocks(&mut self, f: &mut File, new_nblocks: u32) -> Result<()> {
        for i in (new_nblocks as usize).min(NDIRECT)..NDIRECT {
            let b = core::mem::take(&mut f.f_direct[i]);
            if b != 0 && self.check_data_block(b).is_ok() {
                self.set_block_free(b, true)?;
            }
        }
        if f.f_indirect == 0 {
            return Ok(());
        }
        if self.check_data_block(f.f_indirect).is_err() {
            f.f_indirect = 0;
            return Ok(());
        }
        let mut ind = [0u8; BLKSIZE];
        self.read_block(f.f_indirect, &mut ind)?;
        let from = (new_nblocks as usize).saturating_sub(NDIRECT);
        let mut changed = false;
        for i in from..NINDIRECT {
            let b = indirect_get(&ind, i);
            if b != 0 {
                if self.check_data_block(b).is_ok() && b != f.f_indirect {
                    self.set_block_free(b, true)?;
                }
                indirect_set(&mut ind, i, 0);
                changed = true;
            }
        }
        if new_nblocks as usize <= NDIRECT {
            self.set_block_free(f.f_indirect, true)?;
            f.f_indirect = 0;
        } else if changed {
            self.write_block(f.f_indirect, &ind)?;
        }
        Ok(())
    }

    // ------------------------------------------------------------------
    // Directories and paths

    /// Calls `visit(slot, entry)` for every slot of directory `dir` (free
    /// ones too) until it returns `Some`, and returns that. Holes in the
    /// directory read as free slots. Fails with `E_INVAL` for a malformed
    /// directory.
    fn scan_dir<T>(
        &mut self,
        dir: &File,
        mut visit: impl FnMut(FileRef, &File) -> Option<T>,
    ) -> Result<Option<T>> {
        if !dir.is_dir() {
            return Err(Error::NotFound);
        }
        self.check_file_blocks(dir)?;
        let mut d = *dir;
        let mut b = [0u8; BLKSIZE];
        for i in 0..d.nblocks()? {
            let blockno = self.file_block(&mut d, i, false)?;
            if blockno == 0 {
                continue;
            }
            self.read_block(blockno, &mut b)?;
            for j in 0..BLKFILES {
                let off = j * FILE_SIZE;
                let entry = File::read_at(&b, off).ok_or(Error::Inval)?;
                let r = FileRef {
                    block: blockno,
                    offset: off as u16,
                };
                if let Some(t) = visit(r, &entry) {
                    return Ok(Some(t));
                }
            }
        }
        Ok(None)
    }

    /// Looks `name` up in directory `dir` (JOS's `dir_lookup`). Returns
    /// `E_NOT_FOUND` if it is not there or `dir` is not a directory,
    /// `E_INVAL` if the directory is malformed.
    pub fn dir_lookup(&mut self, dir: FileRef, name: &[u8]) -> Result<FileRef> {
        let d = self.read_entry(dir)?;
        if name.is_empty() {
            return Err(Error::NotFound);
        }
        self.scan_dir(&d, |r, e| (!e.is_free() && e.name() == name).then_some(r))?
            .ok_or(Error::NotFound)
    }

    /// Returns the next used entry of directory `dir` at or after slot
    /// `*pos` (slots count from 0 across the directory's blocks) and moves
    /// `*pos` past it; `None` at the end. For listing a directory. Fails
    /// with `E_NOT_FOUND` if `dir` is not a directory, `E_INVAL` if it is
    /// malformed.
    pub fn read_dir(&mut self, dir: FileRef, pos: &mut u32) -> Result<Option<(FileRef, File)>> {
        let d = self.read_entry(dir)?;
        let mut slot = 0u32;
        let start = *pos;
        let found = self.scan_dir(&d, |r, e| {
            let s = slot;
            slot += 1;
            (s >= start && !e.is_free()).then_some((s, r, *e))
        })?;
        Ok(found.map(|(s, r, e)| {
            *pos = s + 1;
            (r, e)
        }))
    }

    /// Finds a free slot in directory `dir`, growing it by a block if it has
    /// none (JOS's `dir_alloc_file`). The slot is left as it was; the caller
    /// fills it. Fails with `E_NO_DISK` if the disk (or the directory's
    /// maximum size) is full, `E_INVAL` if the directory is malformed.
    fn dir_alloc_file(&mut self, dir: FileRef) -> Result<FileRef> {
        let mut d = self.read_entry(dir)?;
        if let Some(r) = self.scan_dir(&d, |r, e| e.is_free().then_some(r))? {
            return Ok(r);
        }
        // A hole in the directory reads as free slots: fill it in.
        let n = d.nblocks()?;
        for i in 0..n {
            if self.file_block(&mut d, i, false)? == 0 {
                let res = self.file_block(&mut d, i, true);
                self.write_entry(dir, &d)?;
                return Ok(FileRef {
                    block: res?,
                    offset: 0,
                });
            }
        }
        if d.size()? + BLKSIZE as u32 > MAXFILESIZE {
            return Err(Error::NoDisk);
        }
        let res = self.file_block(&mut d, n, true);
        if res.is_ok() {
            d.f_size += BLKSIZE as i32;
        }
        self.write_entry(dir, &d)?;
        Ok(FileRef {
            block: res?,
            offset: 0,
        })
    }

    /// Walks `path` from the root (JOS's `walk_path`): [`Walk::Found`] if
    /// the file exists, [`Walk::Missing`] if only the last component is
    /// missing. Fails with `E_BAD_PATH` for a path that is too long or has
    /// a component too long, `E_NOT_FOUND` if a directory on the way is
    /// missing or is not a directory, `E_INVAL` for malformed directories.
    pub fn walk_path(&mut self, path: &[u8]) -> Result<Walk> {
        self.walk_path_through(path, |_| ())
    }

    /// [`walk_path`](Fs::walk_path), calling `through(dir)` for every
    /// directory it looks a name up in (the root first), so a caller can
    /// see whether a path passes through a given directory.
    fn walk_path_through(&mut self, path: &[u8], mut through: impl FnMut(FileRef)) -> Result<Walk> {
        check_path(path)?;
        let mut dir = None;
        let mut file = FileRef::ROOT;
        let mut comps = components(path).peekable();
        while let Some(name) = comps.next() {
            let f = self.read_entry(file)?;
            if !f.is_dir() {
                return Err(Error::NotFound);
            }
            through(file);
            dir = Some(file);
            match self.dir_lookup(file, name) {
                Ok(r) => file = r,
                Err(Error::NotFound) if comps.peek().is_none() => {
                    return Ok(Walk::Missing {
                        dir: file,
                        name: Name::new(name)?,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Walk::Found { dir, file })
    }

    /// Returns the file at `path` (JOS's `file_open`). Fails as
    /// [`walk_path`](Fs::walk_path) does, with `E_NOT_FOUND` if the file
    /// does not exist, or `E_INVAL` if its entry is malformed.
    pub fn lookup(&mut self, path: &[u8]) -> Result<FileRef> {
        match self.walk_path(path)? {
            Walk::Found { file, .. } => {
                self.stat(file)?;
                Ok(file)
            }
            Walk::Missing { .. } => Err(Error::NotFound),
        }
    }

    /// Creates an empty file of type `ftype` ([`FTYPE_REG`] or
    /// [`FTYPE_DIR`]) at `path` (JOS's `file_create`). Fails with
    /// `E_FILE_EXISTS` if something is already there, `E_BAD_PATH` for a
    /// bad path or a name that may not be created ("", ".", ".."),
    /// `E_NOT_FOUND` if the parent directory does not exist, `E_NO_DISK`
    /// if the directory cannot grow, `E_INVAL` for a bad type.
    pub fn create(&mut self, path: &[u8], ftype: u32) -> Result<FileRef> {
        if ftype != FTYPE_REG && ftype != FTYPE_DIR {
            return Err(Error::Inval);
        }
        match self.walk_path(path)? {
            Walk::Found { .. } => Err(Error::FileExists),
            Walk::Missing { dir, name } => {
                check_name(name.as_bytes())?;
                let f = File::new(name.as_bytes(), ftype)?;
                let r = self.dir_alloc_file(dir)?;
                self.write_entry(r, &f)?;
                Ok(r)
            }
        }
    }

    /// Opens `path` with JOS's open mode `omode` (`serve_open`): with
    /// `O_CREAT` (or `O_MKDIR`, which creates a directory) the file is
    /// created if missing, and an existing one is opened unless `O_EXCL`
    /// is also given; with `O_TRUNC` a regular file is cut to length 0.
    /// The access mode is not checked here: that is the server's business.
    ///
    /// Fails with `E_FILE_EXISTS` (`O_EXCL`, or `O_MKDIR` on an existing
    /// regular file), `E_NOT_FOUND`, `E_BAD_PATH`, `E_NO_DISK` as `create`
    /// and `lookup` do, and `E_INVAL` for `O_TRUNC` on a directory.
    pub fn open(&mut self, path: &[u8], omode: u32) -> Result<FileRef> {
        let r = if omode & (O_CREAT | O_MKDIR) != 0 {
            let ftype = if omode & O_MKDIR != 0 {
                FTYPE_DIR
            } else {
                FTYPE_REG
            };
            match self.create(path, ftype) {
                Ok(r) => r,
                Err(Error::FileExists) if omode & O_EXCL == 0 => {
                    let r = self.lookup(path)?;
                    if ftype == FTYPE_DIR && !self.stat(r)?.is_dir() {
                        return Err(Error::FileExists);
                    }
                    r
                }
                Err(e) => return Err(e),
            }
        } else {
            self.lookup(path)?
        };
        if omode & O_TRUNC != 0 {
            self.set_size(r, 0)?;
        }
        Ok(r)
    }

    /// Removes the file or empty directory at `path`: frees its blocks and
    /// clears its slot. Fails with `E_NOT_FOUND` if it does not exist,
    /// `E_BAD_PATH` for the root or a bad path, `E_NOT_SUPP` for a
    /// directory that is not empty, `E_INVAL` for a malformed entry.
    pub fn remove(&mut self, path: &[u8]) -> Result<()> {
        let (dir, file) = match self.walk_path(path)? {
            Walk::Found { dir: Some(d), file } => (d, file),
            Walk::Found { dir: None, .. } => return Err(Error::BadPath),
            Walk::Missing { .. } => return Err(Error::NotFound),
        };
        let _ = dir;
        let mut f = self.stat(file)?;
        if f.is_dir() {
            let mut pos = 0;
            if self.read_dir(file, &mut pos)?.is_some() {
                return Err(Error::NotSupp);
            }
        }
        let res = self.truncate_blocks(&mut f, 0);
        self.write_entry(file, &File::EMPTY)?;
        res
    }

    /// Renames (moves) the file or directory at `from` to `to`, for `mv`
    /// (JOS has no rename; these are Unix's `rename(2)` semantics): its
    /// `File` entry, blocks and all, moves to a slot of `to`'s directory
    /// under `to`'s last name. If `to` is an existing regular file and
    /// `from` is one too, it is replaced (its blocks are freed). Renaming
    /// a file to itself does nothing. Returns where the entry was and
    /// where it is now (a replaced file's slot, or a new one).
    ///
    /// Fails with `E_NOT_FOUND` if `from` or `to`'s directory does not
    /// exist; `E_BAD_PATH` for a bad path, the root as either end, or a
    /// new name that may not be created ("." or ".."); `E_FILE_EXISTS` if
    /// `to` exists and one of the two is a directory; `E_INVAL` for moving
    /// a directory into itself or one of its subdirectories, or for a
    /// malformed entry; `E_NO_DISK` if `to`'s directory cannot grow. On
    /// failure nothing has changed.
    pub fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<Renamed> {
        let old = match self.walk_path(from)? {
            Walk::Found { dir: Some(_), file } => file,
            Walk::Found { dir: None, .. } => return Err(Error::BadPath),
            Walk::Missing { .. } => return Err(Error::NotFound),
        };
        let mut f = self.stat(old)?;
        let mut inside = false;
        let walk = self.walk_path_through(to, |d| inside |= d == old)?;
        let (new, replaced) = match walk {
            Walk::Found { file, .. } if file == old => {
                return Ok(Renamed { from: old, to: old });
            }
            _ if inside => return Err(Error::Inval),
            Walk::Found { dir: None, .. } => return Err(Error::BadPath),
            Walk::Found { file, .. } => {
                let mut t = self.stat(file)?;
                if f.is_dir() || t.is_dir() {
                    return Err(Error::FileExists);
                }
                self.check_file_blocks(&t)?;
                f.f_name = t.f_name;
                t.f_name = [0; MAXNAMELEN];
                (file, Some(t))
            }
            Walk::Missing { dir, name } => {
                f.set_name(name.as_bytes())?;
                (self.dir_alloc_file(dir)?, None)
            }
        };
        // The entry goes to its new place before it leaves the old one,
        // and a replaced file's blocks are freed last: an error half-way
        // leaks blocks rather than letting two files share them.
        self.write_entry(new, &f)?;
        self.write_entry(old, &File::EMPTY)?;
        if let Some(mut t) = replaced {
            self.truncate_blocks(&mut t, 0)?;
        }
        Ok(Renamed { from: old, to: new })
    }

    // ------------------------------------------------------------------
    // File contents

    /// Reads up to `buf.len()` bytes of file `r` starting at `offset` into
    /// `buf` (JOS's `file_read`) and returns how many: 0 at or past the
    /// end. Holes read as zeros. Fails with `E_INVAL` if the entry or a
    /// block pointer is malformed.
    pub fn read(&mut self, r: FileRef, buf: &mut [u8], offset: u32) -> Result<usize> {
        let mut f = self.stat(r)?;
        self.check_file_blocks(&f)?;
        let size = f.size()?;
        if offset >= size {
            return Ok(0);
        }
        let count = buf.len().min((size - offset) as usize);
        let mut done = 0;
        let mut b = [0u8; BLKSIZE];
        while done < count {
            let pos = offset as usize + done;
            let in_blk = pos % BLKSIZE;
            let n = (BLKSIZE - in_blk).min(count - done);
            let blockno = self.file_block(&mut f, (pos / BLKSIZE) as u32, false)?;
            if blockno == 0 {
                buf[done..done + n].fill(0);
            } else {
                self.read_block(blockno, &mut b)?;
                buf[done..done + n].copy_from_slice(&b[in_blk..in_blk + n]);
            }
            done += n;
        }
        Ok(count)
    }

    /// Writes `buf` into regular file `r` at `offset`, allocating blocks
    /// and growing the file as needed (JOS's `file_write`), and returns
    /// `buf.len()`. Fails with `E_INVAL` if the write would pass
    /// `MAXFILESIZE`, `r` is a directory or malformed; with `E_NO_DISK` if
    /// the disk fills (the bytes written before that stay, and the size
    /// covers them).
    pub fn write(&mut self, r: FileRef, buf: &[u8], offset: u32) -> Result<usize> {
        let mut f = self.stat(r)?;
        self.check_file_blocks(&f)?;
        if f.is_dir() {
            return Err(Error::Inval);
        }
        let end = u32::try_from(buf.len())
            .ok()
            .and_then(|n| offset.checked_add(n))
            .filter(|&e| e <= MAXFILESIZE)
            .ok_or(Error::Inval)?;
        let mut done = 0;
        let mut b = [0u8; BLKSIZE];
        let mut res = Ok(());
        while done < buf.len() {
            let pos = offset as usize + done;
            let in_blk = pos % BLKSIZE;
            let n = (BLKSIZE - in_blk).min(buf.len() - done);
            let blockno = match self.file_block(&mut f, (pos / BLKSIZE) as u32, true) {
                Ok(b) => b,
                Err(e) => {
                    res = Err(e);
                    break;
                }
            };
            if n < BLKSIZE
                && let Err(e) = self.read_block(blockno, &mut b)
            {
                res = Err(e);
                break;
            }
            b[in_blk..in_blk + n].copy_from_slice(&buf[done..done + n]);
            if let Err(e) = self.write_block(blockno, &b) {
                res = Err(e);
                break;
            }
            done += n;
        }
        let reached = offset + done as u32;
        if reached > f.size()? {
            f.f_size = reached as i32;
        }
        self.write_entry(r, &f)?;
        res?;
        debug_assert_eq!(reached, end);
        Ok(done)
    }

    /// The disk block holding block `filebno` of regular file `r`,
    /// allocated (zeroed) if the file has none there yet, the file's size
    /// grown to cover it: for a server that reads and writes the block
    /// itself (the swap space). Fails with `E_INVAL` if `filebno` is past
    /// `MAXFILESIZE`, `r` is a directory or malformed; `E_NO_DISK` if the
    /// disk is full.
    pub fn file_block_for_write(&mut self, r: FileRef, filebno: u32) -> Result<u32> {
        let mut f = self.stat(r)?;
        self.check_file_blocks(&f)?;
        let end = filebno
            .checked_add(1)
            .and_then(|n| n.checked_mul(BLKSIZE as u32))
            .filter(|&e| e <= MAXFILESIZE)
            .ok_or(Error::Inval)?;
        if f.is_dir() {
            return Err(Error::Inval);
        }
        let res = self.file_block(&mut f, filebno, true);
        if res.is_ok() && end > f.size()? {
            f.f_size = end as i32;
        }
        self.write_entry(r, &f)?;
        res
    }

    /// Zeros the bytes of `f`'s last block past `newsize`, so that growing
    /// the file again later reads zeros there, not stale data.
    fn zero_tail(&mut self, f: &mut File, newsize: u32) -> Result<()> {
        let in_blk = newsize as usize % BLKSIZE;
        if in_blk == 0 {
            return Ok(());
        }
        let blockno = self.file_block(f, newsize / BLKSIZE as u32, false)?;
        if blockno == 0 {
            return Ok(());
        }
        let mut b = [0u8; BLKSIZE];
        self.read_block(blockno, &mut b)?;
        b[in_blk..].fill(0);
        self.write_block(blockno, &b)
    }

    /// Sets the size of regular file `r` to `newsize` (JOS's
    /// `file_set_size`): shrinking frees the blocks past the new end;
    /// growing allocates nothing (the new part reads as zeros; the tail of
    /// a shrunk last block is zeroed so old bytes never reappear). Fails with
    /// `E_INVAL` if `newsize > MAXFILESIZE` or `r` is a directory or
    /// malformed.
    pub fn set_size(&mut self, r: FileRef, newsize: u32) -> Result<()> {
        let mut f = self.stat(r)?;
        self.check_file_blocks(&f)?;
        if f.is_dir() || newsize > MAXFILESIZE {
            return Err(Error::Inval);
        }
        let res = if newsize < f.size()? {
            self.zero_tail(&mut f, newsize)
                .and_then(|()| self.truncate_blocks(&mut f, blocks_for_size(newsize)))
        } else {
            Ok(())
        };
        f.f_size = newsize as i32;
        self.write_entry(r, &f)?;
        res
    }
}

#[cfg(test)]
mod tests;
