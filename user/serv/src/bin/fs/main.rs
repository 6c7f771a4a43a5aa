//! fs: the file-system server (JOS's fs/serv.c), booted first with `FS=1`
//! (`make run-<prog>-nox FS=1`) as env 00001000, of type ENV_TYPE_FS: the
//! one env the kernel lets use I/O ports.
//!
//! What it does: it checks its I/O privilege, finds disk 1 (the
//! image `obj/fs/fs.img`) with the PIO driver in `ide.rs`, writes and reads
//! back a sector, starts the block cache (`bc.rs`: the disk mapped at
//! DISKMAP, faulted in on first touch, flushed by dirty bit), checks the
//! superblock and bitmap, mounts the file system (`lib/josfs` over the
//! cache) and runs JOS's own file-system tests (`test.rs`, fs/test.c). The
//! IPC requests (`serv.rs`) are then served for ever.
#![no_std]
#![no_main]

mod bc;
mod fmap;
mod ide;
mod log;
mod pager;
mod quota;
mod serv;
mod swap;
mod test;

use ide::{Ide, SECTSIZE};
use jos::cprintf;
use josfs::fs::Fs;
use josfs::{SUPER_BLOCKNO, Super};

jos::main!(umain);

/// Pages of stack the server maps at start.
const STACK_PAGES: usize = 16;

fn umain(_args: &[&str]) {
    // A block on the stack takes more than the one page we start with.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("fs: no stack growth: {e}");
    }
    // The stack the server will ever need, made now: once clients swap,
    // memory may be short for good, and a server that cannot grow its
    // stack in the middle of a request dies.
    let top = abi::memlayout::USTACKTOP;
    for va in (top - STACK_PAGES * abi::mmu::PGSIZE..top).step_by(abi::mmu::PGSIZE) {
        if jos::uvpt::pte_of(va).is_none()
            && let Err(e) = jos::syscall::sys_page_alloc(0, va, abi::mmu::PTE_RW)
        {
            panic!("fs: no stack: {e}");
        }
    }
    start();
}

/// The server's start (a frame of its own, over a page: it may only be
/// entered once the stack can grow).
#[inline(never)]
fn start() {
    // The swap space's slot table, made first: a client started with us
    // may take all memory soon (see swap.rs).
    let mut swap = swap::Swap::new();
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
    // (A drive that does not identify itself is read a sector at a time.)
    let _ = disk.set_multiple();
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
    if let Err(e) = bc::bc_init() {
        cprintf!("fs: no block cache: {}\n", e);
        return;
    }
    // A group the write-ahead log committed before the machine stopped
    // goes home before anything reads the file system (log.rs).
    if let Err(e) = log::recover() {
        cprintf!("fs: log: {}\n", e);
        return;
    }
    // JOS's check_super, with josfs's checks (magic, size, root).
    let sup = match Super::from_bytes(bc::block(SUPER_BLOCKNO)) {
        Some(sup) if sup.check().is_ok() => sup,
        Some(sup) => {
            cprintf!(
                "fs: bad superblock (magic {:08x}, {} blocks)\n",
                sup.s_magic,
                sup.s_nblocks
            );
            return;
        }
        None => unreachable!("a block holds a superblock"),
    };
    cprintf!("superblock is good\n");
    bc::set_nblocks(sup.s_nblocks);
    // Mounting checks the superblock again, and that the boot, super and
    // bitmap blocks are marked in use (JOS's check_bitmap).
    let mut fs = match Fs::mount(bc::CacheDisk) {
        Ok(fs) => fs,
        Err(e) => {
            cprintf!("fs: mount: {}\n", e);
            return;
        }
    };
    cprintf!("bitmap is good\n");
    if let Err(e) = test::fs_test(&mut fs) {
        cprintf!("fs: the file system's own tests failed: {}\n", e);
        return;
    }
    swap.find_old(&mut fs);
    serv::Server::new(fs, swap).serve();
}
