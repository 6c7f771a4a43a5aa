//! fs: the file-system server (JOS's fs/serv.c), booted first with `FS=1`
//! (`make run-<prog>-nox FS=1`) as env 00001000, of type ENV_TYPE_FS: the
//! one env the kernel lets use I/O ports.
//!
//! What it does so far: it checks its I/O privilege, finds disk 1 (the
//! image `obj/fs/fs.img`), writes and reads back a sector, and checks the
//! superblock on it (JOS's on-disk
//! format: block 1, FS_MAGIC, a size that fits DISKMAP), reading the disk
//! with the PIO driver in `ide.rs`. The block cache (the disk mapped at
//! DISKMAP, faulted in on first touch), the file operations and the IPC
//! requests are not written yet, so it then exits: no program can open a
//! file yet.
#![no_std]
#![no_main]

mod ide;

use ide::{Ide, SECTSIZE};
use jos::cprintf;

jos::main!(umain);

/// JOS's file-system magic number (inc/fs.h).
const FS_MAGIC: u32 = 0x4A05_30AE;
/// Bytes per file-system block.
const BLKSIZE: usize = 4096;
/// The most disk the block cache can map (DISKMAP..DISKMAP + DISKSIZE).
const DISKSIZE: usize = 0xC000_0000;

fn umain(_args: &[&str]) {
    // A block on the stack takes more than the one page we start with.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("fs: no stack growth: {e}");
    }
    start();
}

/// The server's start (a frame of its own, over a page: it may only be
/// entered once the stack can grow).
#[inline(never)]
fn start() {
    cprintf!("FS is running\n");
    // Port 0x8A00 is QEMU's (Bochs's) debug port: a write is harmless, and
    // faults unless the kernel gave us I/O privilege.
    ide::outw(0x8A00, 0x8A00);
    cprintf!("FS can do I/O\n");

    let present = Ide::probe_disk1();
    cprintf!("Device 1 presence: {}\n", present as u32);
    if !present {
        cprintf!("fs: no disk 1 (make obj/fs/fs.img): nothing to serve\n");
        return;
    }
    let disk = Ide::new(1);
    // Writing works too: the boot sector (unused by the file system),
    // written back as it is and read again.
    let mut boot = [0u8; SECTSIZE];
    let mut again = [0u8; SECTSIZE];
    let rw = disk
        .read(0, &mut boot)
        .and_then(|()| disk.write(0, &boot))
        .and_then(|()| disk.read(0, &mut again));
    if rw.is_err() || boot != again {
        cprintf!("fs: disk 1 does not read back what was written\n");
        return;
    }
    let mut block = [0u8; BLKSIZE];
    if disk.read((BLKSIZE / SECTSIZE) as u32, &mut block).is_err() {
        cprintf!("fs: reading the superblock failed\n");
        return;
    }
    let word = |i: usize| u32::from_le_bytes([block[i], block[i + 1], block[i + 2], block[i + 3]]);
    let (magic, nblocks) = (word(0), word(4));
    if magic != FS_MAGIC {
        cprintf!("fs: bad file system magic number {:08x}\n", magic);
    } else if nblocks as usize > DISKSIZE / BLKSIZE {
        cprintf!("fs: file system is too large ({} blocks)\n", nblocks);
    } else {
        cprintf!("superblock is good\n");
    }
    cprintf!("fs: no block cache or requests yet: exiting\n");
}
