// make: FS=1
//! mmapfault: faults and errors of file mappings (issue 13). Bad calls get
//! POSIX's errors (ours: E_INVAL for a bad descriptor, an unaligned
//! offset, a write mapping of a read-only descriptor, a length of 0;
//! E_NOT_SUPP for the console). Then, each in a child: a read of a page
//! wholly past the end of the file (reported as beyond the end of the
//! file, naming the mapping) and a write to a read-only mapping (reported
//! as an unhandled write, naming the mapping). Each ends only the child:
//! the parent's mappings still work, and it says so.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::{O_RDONLY, O_WRONLY};
use abi::mmu::PGSIZE;
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::fd::close;
use jos::file::open;
use jos::vm::mmap::*;
use user::child::run_child;

jos::main!(umain);

/// The file mapped: 92 bytes, less than a page.
const FILE: &str = "/motd";

fn get(va: usize) -> u8 {
    // SAFETY: va is in one of our mappings (its fault handler maps it or
    // reports the fault).
    unsafe { read_volatile(va as *const u8) }
}

fn umain(_args: &[&str]) {
    let mut bad = 0;
    let mut check = |what: &str, ok: bool| {
        if !ok {
            cprintf!("mmapfault: {} FAILED\n", what);
            bad += 1;
        }
    };
    let ro = open(FILE, O_RDONLY).expect("open");
    let wo = open(FILE, O_WRONLY).expect("open write-only");
    let cons = jos::console::opencons().expect("opencons");
    let (r, rw) = (PROT_READ, PROT_READ | PROT_WRITE);
    let errors = [
        (
            "a descriptor not open",
            mmap(PGSIZE, r, MAP_PRIVATE, Some(20), 0),
            Error::Inval,
        ),
        (
            "a descriptor out of range",
            mmap(PGSIZE, r, MAP_PRIVATE, Some(99), 0),
            Error::Inval,
        ),
        (
            "no descriptor",
            mmap(PGSIZE, r, MAP_SHARED, None, 0),
            Error::Inval,
        ),
        (
            "an unaligned offset",
            mmap(PGSIZE, r, MAP_PRIVATE, Some(ro), 10),
            Error::Inval,
        ),
        (
            "a length of 0",
            mmap(0, r, MAP_PRIVATE, Some(ro), 0),
            Error::Inval,
        ),
        (
            "a shared write mapping of a read-only descriptor",
            mmap(PGSIZE, rw, MAP_SHARED, Some(ro), 0),
            Error::Inval,
        ),
        (
            "a write-only descriptor",
            mmap(PGSIZE, r, MAP_PRIVATE, Some(wo), 0),
            Error::Inval,
        ),
        (
            "the console",
            mmap(PGSIZE, r, MAP_SHARED, Some(cons), 0),
            Error::NotSupp,
        ),
    ];
    for (what, got, want) in errors {
        check(what, got == Err(want));
    }
    let _ = close(wo);
    let _ = close(cons);
    // Two pages of a file of less than one.
    let private = mmap(2 * PGSIZE, rw, MAP_PRIVATE, Some(ro), 0).expect("mmap private");
    let shared = mmap(PGSIZE, r, MAP_SHARED, Some(ro), 0).expect("mmap shared");
    let _ = close(ro);
    check(
        "mprotect: a shared write mapping of a read-only descriptor",
        mprotect(shared, PGSIZE, rw) == Err(Error::Inval),
    );
    check(
        "msync of nothing mapped",
        msync(MMAP_END - PGSIZE, PGSIZE, MS_SYNC) == Err(Error::NoMem),
    );
    let first = get(shared);
    check("the file's first byte", first == get(private) && first != 0);
    check(
        "past the end of the file, in its last page: zeros",
        (92..PGSIZE).all(|i| get(private + i) == 0),
    );
    cprintf!("mmapfault: errors and the last page OK\n");
    run_child(|| {
        get(private + PGSIZE);
        cprintf!("mmapfault: read past the end of the file FAILED\n");
    });
    run_child(|| {
        // SAFETY: a store into our read-only mapping: the fault ends us.
        unsafe { write_volatile(shared as *mut u8, b'!') };
        cprintf!("mmapfault: wrote a read-only mapping FAILED\n");
    });
    check(
        "parent's mappings after the children",
        get(shared) == first && get(private) == first,
    );
    check(
        "munmap",
        munmap(private, 2 * PGSIZE).is_ok() && munmap(shared, PGSIZE).is_ok(),
    );
    if bad == 0 {
        cprintf!("mmapfault: parent unharmed: OK\n");
    }
}
