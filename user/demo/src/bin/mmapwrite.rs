// make: FS=1
//! mmapwrite: changes a file through a shared mapping (issue 13):
//! `mmapwrite FILE` maps FILE MAP_SHARED and PROT_READ|PROT_WRITE, makes
//! its letters upper-case with stores into the mapping (all but the first
//! byte), checks that `read` sees those stores at once (the mapping's
//! pages are the file server's cache pages) and that a `write` of the
//! first byte is seen in the mapping, then unmaps it: the server writes
//! the pages to disk, and `cat FILE` shows the change.
#![no_std]
#![no_main]

use abi::fsipc::O_RDWR;
use jos::cprintf;
use jos::fd::{close, fstat, read, seek, write};
use jos::file::open;
use jos::vm::mmap::{MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap};
use user::warn;

jos::main!(umain);

fn umain(argv: &[&str]) {
    let [_, path] = argv else {
        warn!("usage: mmapwrite FILE");
        return;
    };
    let fd = match open(path, O_RDWR) {
        Ok(fd) => fd,
        Err(e) => return warn!("can't open {}: {}", path, e),
    };
    let size = match fstat(fd) {
        Ok(st) if st.size > 0 => st.size as usize,
        Ok(_) => return warn!("{} is empty", path),
        Err(e) => return warn!("stat {}: {}", path, e),
    };
    let va = match mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, Some(fd), 0) {
        Ok(va) => va,
        Err(e) => return warn!("can't map {}: {}", path, e),
    };
    let mut changed = 0;
    {
        // SAFETY: [va, va + size) is our writable mapping of the file;
        // nothing else in this env refers to it while `bytes` lives.
        let bytes = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, size) };
        for b in bytes[1..].iter_mut().filter(|b| b.is_ascii_lowercase()) {
            *b = b.to_ascii_uppercase();
            changed += 1;
        }
    }
    // Read with volatile loads: the file server changes the page too.
    // SAFETY: va + i, i < size, is in our mapping.
    let at = |i: usize| unsafe { core::ptr::read_volatile((va + i) as *const u8) };
    let mut ok = true;
    // `read` sees the stores: the mapping is the cache.
    let mut buf = jos::alloc::vec![0u8; size];
    let mut got = 0;
    let _ = seek(fd, 0);
    while got < size {
        match read(fd, &mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if got != size || (1..size).any(|i| buf[i] != at(i)) {
        cprintf!("mmapwrite: read does not see the stores FAILED\n");
        ok = false;
    }
    // The mapping sees a `write`.
    let first = [at(0).to_ascii_uppercase()];
    let _ = seek(fd, 0);
    if write(fd, &first) != Ok(1) || at(0) != first[0] {
        cprintf!("mmapwrite: the mapping does not see a write FAILED\n");
        ok = false;
    }
    let _ = close(fd);
    if let Err(e) = munmap(va, size) {
        cprintf!("mmapwrite: munmap: {} FAILED\n", e);
        ok = false;
    }
    cprintf!(
        "mmapwrite: {}: {} letters made upper-case through a shared mapping\n",
        path,
        changed
    );
    if ok {
        cprintf!("mmapwrite: read sees the stores, the mapping sees a write: OK\n");
    }
}
