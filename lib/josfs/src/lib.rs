//! JOS's on-disk file-system format (lab 5), shared by the user-level file
//! server and the host tools (`fsformat`).
//!
//! The disk is an array of 4096-byte blocks:
//!
//! ```text
//!  block 0        1             2 .. 2+nbitblocks      2+nbitblocks ..  nblocks
//! +--------+-------------+---------------------------+--------------------------+
//! |  boot  | super block | free-block bitmap         | data: file contents,     |
//! | (zero) | Super       | one bit per block, 1=free | directory blocks,        |
//! |        | + root File | (bits past nblocks stay 1)| indirect blocks          |
//! +--------+-------------+---------------------------+--------------------------+
//! ```
//!
//! A [`File`] (256 bytes) is both the directory entry and the inode: it holds
//! the name, the size, the type and the block pointers. A directory is a file
//! whose blocks are arrays of [`BLKFILES`] `File`s; an entry whose name starts
//! with NUL is free. The root directory's `File` lives in the superblock.
//!
//! ```text
//!  File: f_direct[0..10] -> data blocks 0..9 of the file
//!        f_indirect      -> a block of 1024 u32 pointers: file blocks 10..1033
//! ```
//!
//! Everything is little-endian, as on the i386. Types are decoded from and
//! encoded into byte slices, so this crate needs no `unsafe` and works the
//! same on a 64-bit host as in the 32-bit file server. [`fs`] implements
//! JOS's file operations over any [`fs::BlockDevice`]; [`path`] holds path
//! and name validation.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod fs;
pub mod log;
pub mod path;

pub use abi::error::{Error, Result};
use core::mem::{offset_of, size_of};

/// Bytes per file-system block: the page size, so the file server can map
/// one block per page.
pub const BLKSIZE: usize = 4096;
/// Bits per block: how many blocks one bitmap block describes.
pub const BLKBITSIZE: u32 = (BLKSIZE * 8) as u32;
/// Maximum lengths of one path component and of a whole path, each
/// including the terminating NUL (shared with the file server's requests).
pub use abi::fsipc::{MAXNAMELEN, MAXPATHLEN};
/// Direct block pointers in a [`File`].
pub const NDIRECT: usize = 10;
/// Block pointers in an indirect block.
pub const NINDIRECT: usize = BLKSIZE / 4;
/// The largest file: every direct and indirect block in use.
pub const MAXFILESIZE: u32 = ((NDIRECT + NINDIRECT) * BLKSIZE) as u32;
/// Size of `struct File` on disk.
pub const FILE_SIZE: usize = 256;
/// `File` entries per directory block.
pub const BLKFILES: usize = BLKSIZE / FILE_SIZE;
/// `f_type` of a regular file.
pub const FTYPE_REG: u32 = 0;
/// `f_type` of a directory.
pub const FTYPE_DIR: u32 = 1;
/// `s_magic` of a JOS file system ("related vaguely to 'J\0S!'").
pub const FS_MAGIC: u32 = 0x4A05_30AE;
/// The superblock's block number.
pub const SUPER_BLOCKNO: u32 = 1;
/// The first bitmap block's block number.
pub const BITMAP_BLOCKNO: u32 = 2;
/// The file server maps the disk at DISKMAP..DISKMAP+DISKSIZE, so no file
/// system may have more blocks than this (JOS's `check_super`).
pub const MAX_NBLOCKS: u32 = (abi::memlayout::DISKSIZE / BLKSIZE) as u32;

/// Open-mode bits, shared with the file server's clients.
pub use abi::fsipc::{O_ACCMODE, O_CREAT, O_EXCL, O_MKDIR, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};

/// One disk block.
pub type Block = [u8; BLKSIZE];

/// Reads the little-endian u32 at byte offset `off` of `b`.
/// Panics only if `off + 4 > b.len()`, which callers rule out.
fn get_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Stores `v` little-endian at byte offset `off` of `b`.
fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// JOS's `struct File`: a directory entry and inode in one, 256 bytes.
///
/// The fields keep JOS's names. A block pointer of 0 means "no block".
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct File {
    /// The name, NUL-terminated (so at most `MAXNAMELEN - 1` bytes).
    pub f_name: [u8; MAXNAMELEN],
    /// The size in bytes (`off_t`, signed in JOS; negative is corrupt).
    pub f_size: i32,
    /// [`FTYPE_REG`] or [`FTYPE_DIR`].
    pub f_type: u32,
    /// Disk blocks of file blocks 0..NDIRECT.
    pub f_direct: [u32; NDIRECT],
    /// The indirect block: pointers to file blocks NDIRECT.. .
    pub f_indirect: u32,
    /// Padding to 256 bytes (kept as read, written as given).
    pub f_pad: [u8; FILE_SIZE - MAXNAMELEN - 8 - 4 * NDIRECT - 4],
}

const _: () = assert!(size_of::<File>() == FILE_SIZE);
const _: () = assert!(offset_of!(File, f_name) == 0);
const _: () = assert!(offset_of!(File, f_size) == 128);
const _: () = assert!(offset_of!(File, f_type) == 132);
const _: () = assert!(offset_of!(File, f_direct) == 136);
const _: () = assert!(offset_of!(File, f_indirect) == 176);
const _: () = assert!(offset_of!(File, f_pad) == 180);
const _: () = assert!(BLKSIZE.is_multiple_of(FILE_SIZE) && BLKFILES == 16);
const _: () = assert!(MAXNAMELEN.is_multiple_of(4));
const _: () = assert!(BLKSIZE == abi::mmu::PGSIZE);

impl Default for File {
    fn default() -> Self {
        File::EMPTY
    }
}

impl File {
    /// An all-zero entry: a free directory slot.
    pub const EMPTY: File = File {
        f_name: [0; MAXNAMELEN],
        f_size: 0,
        f_type: FTYPE_REG,
        f_direct: [0; NDIRECT],
        f_indirect: 0,
        f_pad: [0; FILE_SIZE - MAXNAMELEN - 8 - 4 * NDIRECT - 4],
    };

    /// Returns a fresh, empty file of type `ftype` called `name`.
    /// Fails with `E_BAD_PATH` if `name` is not a valid name
    /// ([`path::check_name`]).
    pub fn new(name: &[u8], ftype: u32) -> Result<File> {
        let mut f = File::EMPTY;
        f.set_name(name)?;
        f.f_type = ftype;
        Ok(f)
    }

    /// Decodes the 256 bytes of `b` (little-endian). Never fails: any bytes
    /// are some `File`; [`File::check`] says whether it makes sense.
    pub fn from_bytes(b: &[u8; FILE_SIZE]) -> File {
        let mut f = File::EMPTY;
        f.f_name.copy_from_slice(&b[..MAXNAMELEN]);
        f.f_size = get_u32(b, 128) as i32;
        f.f_type = get_u32(b, 132);
        for (i, d) in f.f_direct.iter_mut().enumerate() {
            *d = get_u32(b, 136 + 4 * i);
        }
        f.f_indirect = get_u32(b, 176);
        f.f_pad.copy_from_slice(&b[180..]);
        f
    }

    /// Decodes the `File` at byte offset `off` of `b`; `None` if it does not
    /// fit.
    pub fn read_at(b: &[u8], off: usize) -> Option<File> {
        let bytes = b.get(off..off.checked_add(FILE_SIZE)?)?;
        Some(File::from_bytes(bytes.try_into().ok()?))
    }

    /// Encodes this file into 256 bytes.
    pub fn to_bytes(&self) -> [u8; FILE_SIZE] {
        let mut b = [0u8; FILE_SIZE];
        b[..MAXNAMELEN].copy_from_slice(&self.f_name);
        put_u32(&mut b, 128, self.f_size as u32);
        put_u32(&mut b, 132, self.f_type);
        for (i, d) in self.f_direct.iter().enumerate() {
            put_u32(&mut b, 136 + 4 * i, *d);
        }
        put_u32(&mut b, 176, self.f_indirect);
        b[180..].copy_from_slice(&self.f_pad);
        b
    }

    /// Encodes this file at byte offset `off` of `b`. Fails with `E_INVAL`
    /// if it does not fit.
    pub fn write_at(&self, b: &mut [u8], off: usize) -> Result<()> {
        let end = off.checked_add(FILE_SIZE).ok_or(Error::Inval)?;
        b.get_mut(off..end)
            .ok_or(Error::Inval)?
            .copy_from_slice(&self.to_bytes());
        Ok(())
    }

    /// Returns the name: the bytes before the first NUL. A name with no NUL
    /// in all 128 bytes (corrupt) is returned whole; [`File::check`]
    /// rejects it.
    pub fn name(&self) -> &[u8] {
        let n = self
            .f_name
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(MAXNAMELEN);
        &self.f_name[..n]
    }

    /// Sets the name, NUL-padding the rest. Fails with `E_BAD_PATH` if
    /// `name` is not a valid name ([`path::check_name`]); then the file is
    /// unchanged.
    pub fn set_name(&mut self, name: &[u8]) -> Result<()> {
        path::check_name(name)?;
        self.f_name = [0; MAXNAMELEN];
        self.f_name[..name.len()].copy_from_slice(name);
        Ok(())
    }

    /// Whether this directory slot is free (its name starts with NUL).
    pub fn is_free(&self) -> bool {
        self.f_name[0] == 0
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.f_type == FTYPE_DIR
    }

    /// Returns the size in bytes, or `E_INVAL` if it is negative or larger
    /// than [`MAXFILESIZE`] (a corrupt entry).
    pub fn size(&self) -> Result<u32> {
        match u32::try_from(self.f_size) {
            Ok(s) if s <= MAXFILESIZE => Ok(s),
            _ => Err(Error::Inval),
        }
    }

    /// Returns the number of blocks a file of this size spans, or
    /// `E_INVAL` if the size is corrupt.
    pub fn nblocks(&self) -> Result<u32> {
        Ok(blocks_for_size(self.size()?))
    }

    /// Checks that the entry makes sense: a NUL-terminated, valid name (the
    /// root's "/" is allowed), a known type, a size in 0..=MAXFILESIZE, and
    /// for a directory a size that is a whole number of blocks. Returns
    /// `E_INVAL` if not. Block pointers are checked where they are used.
    pub fn check(&self) -> Result<()> {
        let name = self.name();
        if name.len() >= MAXNAMELEN || (name != b"/" && path::check_name(name).is_err()) {
            return Err(Error::Inval);
        }
        if self.f_type != FTYPE_REG && self.f_type != FTYPE_DIR {
            return Err(Error::Inval);
        }
        let size = self.size()?;
        if self.is_dir() && size % BLKSIZE as u32 != 0 {
            return Err(Error::Inval);
        }
        Ok(())
    }
}

/// JOS's `struct Super`, the start of block 1.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Super {
    /// [`FS_MAGIC`].
    pub s_magic: u32,
    /// Total number of blocks on the disk, including boot, super and bitmap.
    pub s_nblocks: u32,
    /// The root directory.
    pub s_root: File,
}

const _: () = assert!(size_of::<Super>() == 8 + FILE_SIZE);
const _: () = assert!(offset_of!(Super, s_root) == SUPER_ROOT_OFFSET);

/// Byte offset of `s_root` within the superblock.
pub const SUPER_ROOT_OFFSET: usize = 8;

impl Super {
    /// Returns a superblock for a fresh file system of `nblocks` blocks
    /// whose root directory ("/") is empty.
    pub fn new(nblocks: u32) -> Super {
        let mut root = File::EMPTY;
        root.f_name[0] = b'/';
        root.f_type = FTYPE_DIR;
        Super {
            s_magic: FS_MAGIC,
            s_nblocks: nblocks,
            s_root: root,
        }
    }

    /// Decodes the superblock at the start of `b`; `None` if `b` is shorter
    /// than a `Super`. Does not check it (see [`Super::check`]).
    pub fn from_bytes(b: &[u8]) -> Option<Super> {
        if b.len() < size_of::<Super>() {
            return None;
        }
        Some(Super {
            s_magic: get_u32(b, 0),
            s_nblocks: get_u32(b, 4),
            s_root: File::read_at(b, SUPER_ROOT_OFFSET)?,
        })
    }

    /// Encodes the superblock at the start of `b`, leaving the rest alone.
    /// Fails with `E_INVAL` if `b` is too short.
    pub fn write_to(&self, b: &mut [u8]) -> Result<()> {
        if b.len() < size_of::<Super>() {
            return Err(Error::Inval);
        }
        put_u32(b, 0, self.s_magic);
        put_u32(b, 4, self.s_nblocks);
        self.s_root.write_at(b, SUPER_ROOT_OFFSET)
    }

    /// Checks the superblock as JOS's `check_super` does, and more: the
    /// magic number, room for boot, super, bitmap and at least one data
    /// block, no more than [`MAX_NBLOCKS`] blocks, and a root that is a
    /// well-formed directory. Returns `E_INVAL` if any fails.
    pub fn check(&self) -> Result<()> {
        if self.s_magic != FS_MAGIC
            || self.s_nblocks > MAX_NBLOCKS
            || self.s_nblocks <= first_data_block(self.s_nblocks)
        {
            return Err(Error::Inval);
        }
        self.s_root.check()?;
        if !self.s_root.is_dir() {
            return Err(Error::Inval);
        }
        Ok(())
    }
}

/// Returns how many blocks a file of `size` bytes spans (rounding up).
pub const fn blocks_for_size(size: u32) -> u32 {
    size.div_ceil(BLKSIZE as u32)
}

/// Returns how many bitmap blocks a disk of `nblocks` blocks needs.
pub const fn bitmap_blocks(nblocks: u32) -> u32 {
    nblocks.div_ceil(BLKBITSIZE)
}

/// Returns the first block after boot, super and bitmap: where data may go.
pub const fn first_data_block(nblocks: u32) -> u32 {
    BITMAP_BLOCKNO + bitmap_blocks(nblocks)
}

/// Where the bit for block `blockno` lives: (the bitmap block's number, the
/// byte within it, the bit within that byte). JOS indexes u32 words
/// (`bitmap[b/32] & 1<<(b%32)`); on a little-endian disk that is byte
/// `b/8`, bit `b%8` of the bitmap.
pub const fn bitmap_position(blockno: u32) -> (u32, usize, u8) {
    let blk = BITMAP_BLOCKNO + blockno / BLKBITSIZE;
    let bit = blockno % BLKBITSIZE;
    (blk, (bit / 8) as usize, (bit % 8) as u8)
}

/// Whether the bitmap bit at (`byte`, `bit`) of bitmap block `b` says free.
pub fn bitmap_is_free(b: &Block, byte: usize, bit: u8) -> bool {
    b[byte] & (1 << bit) != 0
}

/// Sets the bitmap bit at (`byte`, `bit`) of `b`: `free` marks it free (1),
/// otherwise in use (0).
pub fn bitmap_set(b: &mut Block, byte: usize, bit: u8, free: bool) {
    if free {
        b[byte] |= 1 << bit;
    } else {
        b[byte] &= !(1 << bit);
    }
}

/// Where file block `filebno`'s disk-block number is kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BlockSlot {
    /// In `f_direct[i]`.
    Direct(usize),
    /// In entry `i` of the indirect block.
    Indirect(usize),
}

/// Returns where file block `filebno`'s pointer lives (JOS's
/// `file_block_walk` without the walking), or `E_INVAL` if `filebno >=
/// NDIRECT + NINDIRECT`.
pub const fn block_slot(filebno: u32) -> Result<BlockSlot> {
    let n = filebno as usize;
    if n < NDIRECT {
        Ok(BlockSlot::Direct(n))
    } else if n < NDIRECT + NINDIRECT {
        Ok(BlockSlot::Indirect(n - NDIRECT))
    } else {
        Err(Error::Inval)
    }
}

/// Reads pointer `i` of an indirect block.
pub fn indirect_get(b: &Block, i: usize) -> u32 {
    get_u32(b, 4 * i)
}

/// Writes pointer `i` of an indirect block.
pub fn indirect_set(b: &mut Block, i: usize, v: u32) {
    put_u32(b, 4 * i, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_jos() {
        assert_eq!(MAXFILESIZE, 4096 * 1034);
        assert_eq!(BLKFILES, 16);
        assert_eq!(NINDIRECT, 1024);
        assert_eq!(BLKBITSIZE, 32768);
        assert_eq!(MAX_NBLOCKS, 786432);
        assert_eq!(bitmap_blocks(1024), 1);
        assert_eq!(bitmap_blocks(32768), 1);
        assert_eq!(bitmap_blocks(32769), 2);
        assert_eq!(first_data_block(1024), 3);
    }

    #[test]
    fn file_round_trips_through_bytes() {
        let mut f = File::new(b"motd", FTYPE_REG).unwrap();
        f.f_size = 0x1234;
        f.f_direct = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        f.f_indirect = 0xdeadbeef;
        let b = f.to_bytes();
        assert_eq!(&b[..5], b"motd\0");
        assert_eq!(&b[128..132], &[0x34, 0x12, 0, 0]);
        assert_eq!(&b[136..140], &[1, 0, 0, 0]);
        assert_eq!(&b[176..180], &[0xef, 0xbe, 0xad, 0xde]);
        assert_eq!(File::from_bytes(&b), f);
        assert_eq!(f.name(), b"motd");
        assert_eq!(f.nblocks(), Ok(2));
        f.check().unwrap();
    }

    #[test]
    fn file_checks() {
        let mut f = File::new(b"d", FTYPE_DIR).unwrap();
        f.f_size = 100;
        assert_eq!(f.check(), Err(Error::Inval));
        f.f_size = -4096;
        assert_eq!(f.size(), Err(Error::Inval));
        f.f_size = MAXFILESIZE as i32 + 4096;
        assert_eq!(f.check(), Err(Error::Inval));
        f.f_size = 4096;
        f.f_type = 7;
        assert_eq!(f.check(), Err(Error::Inval));
        f.f_type = FTYPE_DIR;
        f.check().unwrap();
        f.f_name = [b'a'; MAXNAMELEN];
        assert_eq!(f.name().len(), MAXNAMELEN);
        assert_eq!(f.check(), Err(Error::Inval));
        assert_eq!(File::new(b"", FTYPE_REG), Err(Error::BadPath));
        assert_eq!(File::new(b"a/b", FTYPE_REG), Err(Error::BadPath));
        assert_eq!(File::new(&[b'x'; 128], FTYPE_REG), Err(Error::BadPath));
        assert!(File::new(&[b'x'; 127], FTYPE_REG).is_ok());
    }

    #[test]
    fn super_round_trips() {
        let s = Super::new(1024);
        let mut b = [0u8; BLKSIZE];
        s.write_to(&mut b).unwrap();
        assert_eq!(&b[..4], &[0xae, 0x30, 0x05, 0x4a]);
        assert_eq!(&b[4..8], &[0, 4, 0, 0]);
        assert_eq!(&b[8..10], b"/\0");
        assert_eq!(get_u32(&b, 8 + 132), FTYPE_DIR);
        let s2 = Super::from_bytes(&b).unwrap();
        assert_eq!(s2, s);
        s2.check().unwrap();
        let mut bad = s;
        bad.s_magic ^= 1;
        assert_eq!(bad.check(), Err(Error::Inval));
        let mut bad = s;
        bad.s_nblocks = 3;
        assert_eq!(bad.check(), Err(Error::Inval));
        bad.s_nblocks = MAX_NBLOCKS + 1;
        assert_eq!(bad.check(), Err(Error::Inval));
        assert!(Super::from_bytes(&b[..100]).is_none());
    }

    #[test]
    fn bitmap_positions() {
        assert_eq!(bitmap_position(0), (2, 0, 0));
        assert_eq!(bitmap_position(9), (2, 1, 1));
        assert_eq!(bitmap_position(32768), (3, 0, 0));
        assert_eq!(bitmap_position(32768 + 31), (3, 3, 7));
        let mut b = [0xffu8; BLKSIZE];
        bitmap_set(&mut b, 1, 1, false);
        assert_eq!(b[1], 0xfd);
        assert!(!bitmap_is_free(&b, 1, 1));
        bitmap_set(&mut b, 1, 1, true);
        assert!(bitmap_is_free(&b, 1, 1));
    }

    #[test]
    fn block_slots() {
        assert_eq!(block_slot(0), Ok(BlockSlot::Direct(0)));
        assert_eq!(block_slot(9), Ok(BlockSlot::Direct(9)));
        assert_eq!(block_slot(10), Ok(BlockSlot::Indirect(0)));
        assert_eq!(block_slot(1033), Ok(BlockSlot::Indirect(1023)));
        assert_eq!(block_slot(1034), Err(Error::Inval));
        assert_eq!(block_slot(u32::MAX), Err(Error::Inval));
        assert_eq!(blocks_for_size(0), 0);
        assert_eq!(blocks_for_size(1), 1);
        assert_eq!(blocks_for_size(4096), 1);
        assert_eq!(blocks_for_size(4097), 2);
        assert_eq!(blocks_for_size(MAXFILESIZE), 1034);
    }
}
