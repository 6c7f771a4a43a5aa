// make: FS=1
//! oomexit: a forked child exits with memory full (issue 19, item 7).
//!
//! The parent opens a file, a pipe and a shared mapping of the file (so
//! the child's `exit` has descriptors of each kind to close, one through
//! the file server) and forks. The child writes none of the
//! library's state after the fork (its pages stay copy-on-write), takes
//! every free page it can (`sys_page_alloc` until E_NO_MEM), and returns
//! from `umain`: `exit` must close its descriptors and end it with no
//! panic (a panic would print `user panic`), and every page it took must
//! come back. The parent counts the pages no one maps before the fork and
//! once the child is gone, three times over (children hoarding from
//! different depths of the stack).
//!
//! Lines: `oomexit: child N hoarded P pages` (for the grader's
//! information), `oomexit: child N exited cleanly, every page back OK`,
//! then `oomexit: OK`; `FAILED` lines otherwise.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use abi::mmu::{PGSIZE, PTE_RW};
use jos::cprintf;
use jos::syscall::sys_page_alloc;
use jos::vm::mmap::{MAP_SHARED, PROT_READ, mmap, munmap};

jos::main!(umain);

/// Where the child's hoard of pages lives.
const HOARD: usize = 0xA000_0000;
/// The most pages the hoard may hold (128 MiB, more than QEMU's memory).
const HOARD_MAX: usize = 0x0800_0000 / PGSIZE;

/// The child: takes every page it can, then returns to `exit`. Writes
/// only its stack (private since fork, as the stack is always touched
/// first) before the hoard.
fn child(round: usize) {
    let mut n = 0;
    while n < HOARD_MAX {
        match sys_page_alloc(0, HOARD + n * PGSIZE, PTE_RW) {
            Ok(()) => n += 1,
            Err(_) => break,
        }
    }
    cprintf!("oomexit: child {} hoarded {} pages\n", round, n);
}

fn umain(_args: &[&str]) {
    // Descriptors of every kind for the children's exits to close with
    // memory full: a file, a pipe's two ends, and the descriptor a shared
    // file mapping holds its file by (the mapping's page touched).
    let fd = match jos::file::open("/newmotd", O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => {
            cprintf!("oomexit: open /newmotd: {} FAILED\n", e);
            return;
        }
    };
    let pipe = match jos::pipe::pipe() {
        Ok(p) => p,
        Err(e) => {
            cprintf!("oomexit: pipe: {} FAILED\n", e);
            return;
        }
    };
    let map = match mmap(PGSIZE, PROT_READ, MAP_SHARED, Some(fd), 0) {
        Ok(va) => va,
        Err(e) => {
            cprintf!("oomexit: mmap: {} FAILED\n", e);
            return;
        }
    };
    // SAFETY: our shared read-only mapping of /newmotd's first page.
    let first = unsafe { core::ptr::read_volatile(map as *const u8) };
    if first != b'T' {
        cprintf!("oomexit: the mapping reads {:#x} FAILED\n", first);
    }
    // A first fork sets up what every fork needs (the parent's upcall and
    // exception stack): not counted.
    match jos::fork() {
        Ok(0) => return,
        Ok(id) => jos::env::wait(id),
        Err(e) => cprintf!("oomexit: fork: {} FAILED\n", e),
    }
    let mut failures = 0;
    for round in 0..3 {
        let before = jos::uvpt::unreferenced_pages();
        match jos::fork() {
            Ok(0) => {
                child(round);
                return;
            }
            Ok(id) => {
                jos::env::wait(id);
                let after = jos::uvpt::unreferenced_pages();
                if before == after {
                    cprintf!(
                        "oomexit: child {} exited cleanly, every page back OK\n",
                        round
                    );
                } else {
                    cprintf!(
                        "oomexit: child {}: {} pages free before, {} after FAILED\n",
                        round,
                        before,
                        after
                    );
                    failures += 1;
                }
            }
            Err(e) => {
                cprintf!("oomexit: fork: {} FAILED\n", e);
                failures += 1;
            }
        }
    }
    let _ = munmap(map, PGSIZE);
    let _ = jos::fd::close(pipe[0]);
    let _ = jos::fd::close(pipe[1]);
    let _ = jos::fd::close(fd);
    if failures == 0 {
        cprintf!("oomexit: OK\n");
    }
}
