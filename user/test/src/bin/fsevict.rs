// make: FS=1
//! fsevict: the file server keeps serving when memory runs out, giving up
//! clean cached blocks (which it reads again when next touched) instead of
//! failing. We read /lorem (its blocks are cached), take every free page,
//! then read the programs on the disk (their blocks are not cached: the
//! server must make room) and /lorem again: it must read the same. Then we
//! give the memory back. Run with `make run-fsevict-nox FS=1`.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use abi::mmu::{PGSIZE, PTE_RW};
use jos::cprintf;
use jos::fd::{close, fstat, read};
use jos::file::open;
use jos::syscall::{sys_page_alloc, sys_page_unmap};

jos::main!(umain);

/// Where the pages we hoard go.
const HOARD: usize = 0x2000_0000;
/// Files on the image (fs/ and the stripped programs).
const FILES: [&str; 4] = ["/primes", "/forktree", "/hello", "/motd"];

/// Reads all of file descriptor `n` from its start; returns (bytes, a
/// checksum, the first 4 bytes).
fn slurp(n: usize) -> (usize, u32, [u8; 4]) {
    jos::fd::seek(n, 0).expect("seek");
    let mut buf = [0u8; 512];
    let (mut total, mut sum, mut head) = (0usize, 0u32, [0u8; 4]);
    loop {
        let got = read(n, &mut buf).expect("read");
        if got == 0 {
            break;
        }
        if total == 0 && got >= 4 {
            head.copy_from_slice(&buf[..4]);
        }
        for &b in &buf[..got] {
            sum = sum.rotate_left(5) ^ b as u32;
        }
        total += got;
    }
    (total, sum, head)
}

fn umain(_args: &[&str]) {
    // Open everything first (each open costs the server a page).
    let lorem = open("/lorem", O_RDONLY).expect("open /lorem");
    let mut fds = [0usize; FILES.len()];
    for (fd, name) in fds.iter_mut().zip(FILES) {
        *fd = open(name, O_RDONLY).unwrap_or_else(|e| panic!("open {name}: {e}"));
    }
    let before = slurp(lorem);

    let mut hoard = 0;
    while sys_page_alloc(0, HOARD + hoard * PGSIZE, PTE_RW).is_ok() {
        hoard += 1;
    }
    cprintf!("fsevict: took all {} free pages\n", hoard);

    let mut ok = true;
    for (fd, name) in fds.iter().zip(FILES) {
        let size = fstat(*fd).expect("fstat").size as usize;
        let (got, _, head) = slurp(*fd);
        let elf = name == "/motd" || head == *b"\x7fELF";
        if got != size || !elf {
            cprintf!("fsevict: {} read {} of {} bytes FAILED\n", name, got, size);
            ok = false;
        }
    }
    let after = slurp(lorem);
    if after != before {
        cprintf!("fsevict: /lorem reads differently under memory pressure FAILED\n");
        ok = false;
    }
    for i in 0..hoard {
        let _ = sys_page_unmap(0, HOARD + i * PGSIZE);
    }
    for fd in fds.into_iter().chain([lorem]) {
        let _ = close(fd);
    }
    if ok {
        cprintf!(
            "fsevict: the server read {} files with no page free: OK\n",
            FILES.len()
        );
    }
}
