//! mmapshare: anonymous mmap (issue 13, part): a MAP_SHARED mapping stays
//! shared across fork (stores by the child are seen by the parent, even
//! in pages neither had touched before the fork), a MAP_PRIVATE one is
//! copy-on-write (the child's stores are its own) and reads as zeros from
//! the shared zero page until written; a write to a read-only mapping is
//! reported and ends only the env that made it; bad calls get errors.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::mmu::PGSIZE;
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::vm::mmap::*;

jos::main!(umain);

fn put(va: usize, v: u32) {
    // SAFETY: va is in one of our mappings (its fault handler maps it).
    unsafe { write_volatile(va as *mut u32, v) };
}

fn get(va: usize) -> u32 {
    // SAFETY: as in put.
    unsafe { read_volatile(va as *const u32) }
}

fn umain(_args: &[&str]) {
    let mut bad = 0;
    let mut check = |what: &str, ok: bool| {
        if !ok {
            cprintf!("mmapshare: {} FAILED\n", what);
            bad += 1;
        }
    };
    let anon = MAP_ANONYMOUS;
    check(
        "empty",
        mmap(0, PROT_READ, MAP_PRIVATE | anon, None, 0) == Err(Error::Inval),
    );
    check(
        "both",
        mmap(PGSIZE, PROT_READ, MAP_SHARED | MAP_PRIVATE | anon, None, 0) == Err(Error::Inval),
    );
    check(
        "file",
        mmap(PGSIZE, PROT_READ, MAP_SHARED, Some(0), 0) == Err(Error::NotSupp),
    );
    let rw = PROT_READ | PROT_WRITE;
    let shared = mmap(3 * PGSIZE, rw, MAP_SHARED | anon, None, 0).expect("mmap shared");
    let private = mmap(3 * PGSIZE, rw, MAP_PRIVATE | anon, None, 0).expect("mmap private");
    let ro = mmap(PGSIZE, PROT_READ, MAP_PRIVATE | anon, None, 0).expect("mmap read-only");
    check(
        "nothing mapped at mmap",
        (0..3).all(|i| jos::uvpt::pte_of(shared + i * PGSIZE).is_none()),
    );
    check(
        "private reads zero",
        get(private + PGSIZE) == 0 && get(ro) == 0,
    );
    check(
        "a read maps the zero page",
        jos::uvpt::pte_of(private + PGSIZE).is_some_and(jos::vm::zero::is_zero_page),
    );
    put(shared, 1);
    put(private, 1);
    cprintf!(
        "mmapshare: shared at {:08x}, private at {:08x}\n",
        shared,
        private
    );
    jos::vm::maps::maps();
    let child = jos::fork().expect("fork");
    if child == 0 {
        put(shared, 2);
        put(shared + PGSIZE, 3); // not touched by anyone before the fork
        put(private, 9);
        put(private + 2 * PGSIZE, 9);
        jos::exit();
    }
    jos::env::wait(child);
    check("shared: the child's store", get(shared) == 2);
    check("shared: a page made at fork", get(shared + PGSIZE) == 3);
    check(
        "private: the child's stores are its own",
        get(private) == 1 && get(private + 2 * PGSIZE) == 0,
    );
    cprintf!("mmapshare: shared mapping seen across fork, private one copy-on-write\n");
    // A write to the read-only mapping: reported, and the writer exits.
    let child = jos::fork().expect("fork");
    if child == 0 {
        put(ro, 1);
        cprintf!("mmapshare: wrote a read-only mapping FAILED\n");
        jos::exit();
    }
    jos::env::wait(child);
    check("munmap part", munmap(shared, PGSIZE) == Err(Error::Inval));
    check("munmap shared", munmap(shared, 3 * PGSIZE) == Ok(()));
    check("munmap private", munmap(private, 3 * PGSIZE) == Ok(()));
    check("munmap read-only", munmap(ro, PGSIZE) == Ok(()));
    check(
        "gone",
        (0..3).all(|i| jos::uvpt::pte_of(shared + i * PGSIZE).is_none()),
    );
    check("twice", munmap(shared, 3 * PGSIZE) == Err(Error::Inval));
    if bad == 0 {
        cprintf!("mmapshare: OK\n");
    }
}
