//! The file server's own tests at start-up (JOS's fs/test.c), through the
//! block cache: each prints JOS's line when it holds and returns an error
//! (or panics, for a broken invariant) when not. Unlike JOS's, they leave
//! the disk as they found it (the block `alloc_block` takes is freed).
use crate::bc::{self, CacheDisk, diskaddr, flush_block, va_is_dirty};
use abi::error::{Error, Result};
use jos::cprintf;
use josfs::fs::Fs;
use josfs::{BLKSIZE, bitmap_is_free, bitmap_position};

/// What /newmotd holds (fs/newmotd).
const MSG: &[u8] = b"This is the NEW message of the day!\n\n";

/// Runs the tests on mounted `fs`.
pub fn fs_test(fs: &mut Fs<CacheDisk>) -> Result<()> {
    // alloc_block takes a block that was free and marks it in use.
    let nblocks = fs.nblocks();
    let bitmap_blocks = nblocks.div_ceil(josfs::BLKBITSIZE);
    let mut before = [[0u8; BLKSIZE]; 1];
    before[0] = *bc::block(josfs::BITMAP_BLOCKNO);
    let b = fs.alloc_block()?;
    let (blk, byte, bit) = bitmap_position(b);
    assert!(
        bitmap_blocks >= 1 && blk == josfs::BITMAP_BLOCKNO,
        "alloc_block: block {b} far out"
    );
    assert!(
        bitmap_is_free(&before[0], byte, bit),
        "alloc_block: block {b} was in use"
    );
    assert!(!fs.block_is_free(b)?, "alloc_block: block {b} still free");
    fs.free_block(b)?;
    cprintf!("alloc_block is good\n");

    // Opening: a missing file is not found, /newmotd is.
    match fs.lookup(b"/not-found") {
        Err(Error::NotFound) => {}
        Err(e) => return Err(e),
        Ok(_) => panic!("file_open /not-found succeeded!"),
    }
    let f = fs.lookup(b"/newmotd")?;
    cprintf!("file_open is good\n");

    // Its first block, in the cache, holds the message.
    let mut file = fs.stat(f)?;
    let bno = fs.file_block(&mut file, 0, false)?;
    let va = diskaddr(bno);
    if !bc::block(bno).starts_with(MSG) {
        panic!("file_get_block returned wrong data");
    }
    cprintf!("file_get_block is good\n");

    // A store makes the block dirty; flushing writes it and cleans it.
    let first = bc::block(bno)[0];
    // SAFETY: va is the mapped cache page of block bno.
    unsafe { core::ptr::write_volatile(va as *mut u8, first) };
    assert!(va_is_dirty(va), "a stored-to cache page is not dirty");
    flush_block(va)?;
    assert!(!va_is_dirty(va), "a flushed cache page is still dirty");
    cprintf!("file_flush is good\n");

    // Truncating to 0 frees the data blocks: no direct block left.
    fs.set_size(f, 0)?;
    bc::sync(nblocks)?;
    let file = fs.stat(f)?;
    assert!(file.f_direct[0] == 0, "file_truncate left a direct block");
    assert!(
        !va_is_dirty(diskaddr(f.block())),
        "the directory block is dirty after sync"
    );
    cprintf!("file_truncate is good\n");

    // Rewriting the message gives the file its block again.
    fs.write(f, MSG, 0)?;
    bc::sync(nblocks)?;
    let mut file = fs.stat(f)?;
    let bno = fs.file_block(&mut file, 0, false)?;
    assert!(bc::block(bno).starts_with(MSG), "file rewrite: wrong data");
    assert!(
        !va_is_dirty(diskaddr(bno)),
        "file rewrite: block dirty after sync"
    );
    assert!(
        !va_is_dirty(diskaddr(f.block())),
        "file rewrite: directory dirty after sync"
    );
    cprintf!("file rewrite is good\n");
    Ok(())
}
