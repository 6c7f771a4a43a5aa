//! The write-ahead log (xv6's `log.c`, on JOS's format): a group of block
//! writes reaches the disk all or nothing.
//!
//! Where it lives: `LOG_BLOCKS` blocks at the end of the disk, marked in
//! use in the bitmap, recorded in spare bytes of the superblock (block 1,
//! from byte [`LOG_RECORD_OFFSET`]: a magic number, the first block, the
//! number of blocks). JOS's own code never reads those bytes, so an image
//! with a log still mounts under JOS; an image without the record (one made
//! by JOS's C `fsformat`) simply has no log.
//!
//! ```text
//!  log start: header    start+1 .. start+LOGSIZE: slots
//! +----------------+--------+--------+-----+
//! | magic n sum    | copy of| copy of| ... |
//! | home[0..n]     | home[0]| home[1]|     |
//! +----------------+--------+--------+-----+
//! ```
//!
//! A commit (the file server's `log.rs`) writes the new contents of the
//! group's blocks into the slots, then the header naming their homes (the
//! commit point), then each block to its home, then a header with n = 0.
//! A crash before the header is written loses the group; after it, [`replay`]
//! (at the next mount, or in `fsformat --check` / `--repair`) copies the
//! slots home again. The header spans a few sectors and a crash may tear it
//! (QEMU writes sector by sector): its checksum tells a torn header from a
//! committed one, and a torn header counts as no commit (the slots were
//! written before it, the homes not yet).
use crate::fs::BlockDevice;
use crate::{BLKSIZE, Block, Error, Result, SUPER_BLOCKNO, first_data_block, get_u32, put_u32};

/// Byte offset of the log's record in the superblock (past `Super`).
pub const LOG_RECORD_OFFSET: usize = 1024;
/// The record's magic number ("JLOG").
pub const LOG_MAGIC: u32 = 0x4A4C_4F47;
/// The header's magic number ("JHDR").
pub const HEADER_MAGIC: u32 = 0x4A48_4452;
/// Slots in the log: the most blocks one commit can hold.
pub const LOGSIZE: usize = 255;
/// Blocks the log takes on disk: the header and the slots.
pub const LOG_BLOCKS: u32 = LOGSIZE as u32 + 1;
/// Disks smaller than this get no log from `fsformat` (the log would take
/// more than an eighth of them).
pub const LOG_MIN_NBLOCKS: u32 = 8 * LOG_BLOCKS;

/// Where the log is: read from the superblock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LogRecord {
    /// The header block; the slots follow it.
    pub start: u32,
    /// Blocks in all (header and slots): `LOG_BLOCKS`.
    pub nblocks: u32,
}

impl LogRecord {
    /// The log of a disk of `nblocks` blocks as `fsformat` lays it out:
    /// its last `LOG_BLOCKS` blocks. None for a disk too small to have one.
    pub fn at_end(nblocks: u32) -> Option<LogRecord> {
        (nblocks >= LOG_MIN_NBLOCKS).then(|| LogRecord {
            start: nblocks - LOG_BLOCKS,
            nblocks: LOG_BLOCKS,
        })
    }

    /// Reads the record from superblock bytes `sb`. Ok(None) if there is
    /// none (no magic: a JOS image); Err(Inval) if there is one that does
    /// not fit a disk of `nblocks` blocks (inside the reserved blocks, past
    /// the end, or not `LOG_BLOCKS` long).
    pub fn read(sb: &Block, nblocks: u32) -> Result<Option<LogRecord>> {
        if get_u32(sb, LOG_RECORD_OFFSET) != LOG_MAGIC {
            return Ok(None);
        }
        let r = LogRecord {
            start: get_u32(sb, LOG_RECORD_OFFSET + 4),
            nblocks: get_u32(sb, LOG_RECORD_OFFSET + 8),
        };
        let end = r.start.checked_add(r.nblocks).ok_or(Error::Inval)?;
        if r.nblocks != LOG_BLOCKS || r.start < first_data_block(nblocks) || end > nblocks {
            return Err(Error::Inval);
        }
        Ok(Some(r))
    }

    /// Writes the record into superblock bytes `sb`.
    pub fn write(&self, sb: &mut Block) {
        put_u32(sb, LOG_RECORD_OFFSET, LOG_MAGIC);
        put_u32(sb, LOG_RECORD_OFFSET + 4, self.start);
        put_u32(sb, LOG_RECORD_OFFSET + 8, self.nblocks);
    }

    /// Whether block `b` is one of the log's.
    pub fn contains(&self, b: u32) -> bool {
        (self.start..self.start + self.nblocks).contains(&b)
    }

    /// The block of slot `i`.
    pub fn slot(&self, i: usize) -> u32 {
        self.start + 1 + i as u32
    }
}

/// The log's header: which home block each of the first `n` slots holds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LogHeader {
    /// Slots in use (0: nothing to replay).
    pub n: usize,
    /// Home block of each slot.
    pub home: [u32; LOGSIZE],
}

const _: () = assert!(12 + 4 * LOGSIZE <= BLKSIZE);

/// The header's checksum: FNV-1a over n and the used home numbers.
fn checksum(n: usize, home: &[u32]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for w in core::iter::once(n as u32).chain(home[..n].iter().copied()) {
        for byte in w.to_le_bytes() {
            h ^= byte as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

impl LogHeader {
    /// An empty header (nothing committed).
    pub const EMPTY: LogHeader = LogHeader {
        n: 0,
        home: [0; LOGSIZE],
    };

    /// Decodes a header block. A block without the magic (all zeros, say),
    /// with n out of range or a wrong checksum (a torn write) is an empty
    /// header: nothing committed.
    pub fn from_block(b: &Block) -> LogHeader {
        let n = get_u32(b, 4) as usize;
        if get_u32(b, 0) != HEADER_MAGIC || n > LOGSIZE {
            return LogHeader::EMPTY;
        }
        let mut h = LogHeader::EMPTY;
        for i in 0..n {
            h.home[i] = get_u32(b, 12 + 4 * i);
        }
        if checksum(n, &h.home) != get_u32(b, 8) {
            return LogHeader::EMPTY;
        }
        h.n = n;
        h
    }

    /// Encodes the header into a block (the rest zero).
    pub fn to_block(&self) -> Block {
        let mut b = [0u8; BLKSIZE];
        put_u32(&mut b, 0, HEADER_MAGIC);
        put_u32(&mut b, 4, self.n as u32);
        put_u32(&mut b, 8, checksum(self.n, &self.home));
        for i in 0..self.n {
            put_u32(&mut b, 12 + 4 * i, self.home[i]);
        }
        b
    }
}

/// Reads the log's place from the superblock of `dev` (a disk of
/// `nblocks` blocks, as the superblock says). Ok(None) if the image has no
/// log; Err(Inval) for a bad record; the device's error.
pub fn find<D: BlockDevice>(dev: &mut D, nblocks: u32) -> Result<Option<LogRecord>> {
    let mut sb = [0u8; BLKSIZE];
    dev.read_block(SUPER_BLOCKNO, &mut sb)?;
    LogRecord::read(&sb, nblocks)
}

/// Installs a committed group, if the log holds one: copies each slot to
/// its home block, then empties the header. Returns how many blocks were
/// copied (0: nothing was committed and nothing is written). Err(Inval)
/// if a home block number is not a block of the file system outside the
/// log (then nothing is written); the device's error.
pub fn replay<D: BlockDevice>(dev: &mut D, log: &LogRecord, nblocks: u32) -> Result<usize> {
    let mut b = [0u8; BLKSIZE];
    dev.read_block(log.start, &mut b)?;
    let h = LogHeader::from_block(&b);
    if h.home[..h.n]
        .iter()
        .any(|&home| home == 0 || home >= nblocks || log.contains(home))
    {
        return Err(Error::Inval);
    }
    for i in 0..h.n {
        dev.read_block(log.slot(i), &mut b)?;
        dev.write_block(h.home[i], &b)?;
    }
    if h.n > 0 {
        dev.write_block(log.start, &LogHeader::EMPTY.to_block())?;
    }
    Ok(h.n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RamDisk;
    use std::vec;

    #[test]
    fn header_round_trips_and_torn_is_empty() {
        let mut h = LogHeader::EMPTY;
        h.n = 3;
        h.home[..3].copy_from_slice(&[10, 2, 77]);
        let mut b = h.to_block();
        assert_eq!(LogHeader::from_block(&b), h);
        // A torn header (the sector with n written, a later one not).
        b[12 + 4 * 2] ^= 1;
        assert_eq!(LogHeader::from_block(&b).n, 0);
        assert_eq!(LogHeader::from_block(&[0; BLKSIZE]).n, 0);
    }

    #[test]
    fn record_checks() {
        let mut sb = [0u8; BLKSIZE];
        assert_eq!(LogRecord::read(&sb, 20480), Ok(None));
        let r = LogRecord::at_end(20480).unwrap();
        r.write(&mut sb);
        assert_eq!(LogRecord::read(&sb, 20480), Ok(Some(r)));
        assert_eq!(LogRecord::read(&sb, 20000), Err(Error::Inval));
        assert!(LogRecord::at_end(1024).is_none());
        assert!(r.contains(20479) && r.contains(r.start) && !r.contains(r.start - 1));
    }

    #[test]
    fn replay_installs_once() {
        let n = 4096u32;
        let mut img = vec![0u8; n as usize * BLKSIZE];
        let log = LogRecord::at_end(n).unwrap();
        let mut d = RamDisk::new(&mut img);
        let mut h = LogHeader::EMPTY;
        h.n = 2;
        h.home[0] = 100;
        h.home[1] = 5;
        d.write_block(log.slot(0), &[7; BLKSIZE]).unwrap();
        d.write_block(log.slot(1), &[9; BLKSIZE]).unwrap();
        d.write_block(log.start, &h.to_block()).unwrap();
        assert_eq!(replay(&mut d, &log, n), Ok(2));
        let mut b = [0u8; BLKSIZE];
        d.read_block(100, &mut b).unwrap();
        assert_eq!(b, [7; BLKSIZE]);
        d.read_block(5, &mut b).unwrap();
        assert_eq!(b, [9; BLKSIZE]);
        assert_eq!(replay(&mut d, &log, n), Ok(0));
        // A home inside the log is refused.
        h.home[1] = log.slot(3);
        d.write_block(log.start, &h.to_block()).unwrap();
        assert_eq!(replay(&mut d, &log, n), Err(Error::Inval));
    }
}
