// make: FS=1
//! mmapshare: mmap across fork (issue 13). Anonymous: a MAP_SHARED mapping
//! stays shared across fork (stores by the child are seen by the parent,
//! even in pages neither had touched before the fork), a MAP_PRIVATE one
//! is copy-on-write (the child's stores are its own) and reads as zeros
//! from the shared zero page until written; a write to a read-only
//! mapping is reported and ends only the env that made it; bad calls get
//! errors. Files: two processes see each other's stores through a
//! MAP_SHARED file mapping, in both directions, and `read` and `write`
//! see the same bytes; a MAP_PRIVATE one is the caller's own; a spawned
//! program inherits no descriptor of a mapping; a file removed while
//! mapped leaves the mapping an orphan copy that cannot reach the next
//! file to get its blocks. Parts: munmap and mprotect of part of a
//! mapping split it, msync writes back, and with the area list full they
//! fail and change nothing.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::{O_CREAT, O_RDWR, O_TRUNC};
use abi::mmu::{PGSIZE, PteFlags};
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::fd::{close, ftruncate, read, seek, write};
use jos::file::{open, remove};
use jos::uvpt::pte_of;
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

/// Reports a failed check; returns whether it passed.
fn check(what: &str, ok: bool) -> bool {
    if !ok {
        cprintf!("mmapshare: {} FAILED\n", what);
    }
    ok
}

/// Waits (yielding) until the word at `va` is `v`, a few thousand turns
/// at most; returns whether it came.
fn await_word(va: usize, v: u32) -> bool {
    for _ in 0..5000 {
        if get(va) == v {
            return true;
        }
        jos::syscall::sys_yield();
    }
    false
}

/// Reads the 4 bytes at `offset` of file `fd` with `read`.
fn read_word(fd: usize, offset: u32) -> u32 {
    let mut b = [0u8; 4];
    let _ = seek(fd, offset);
    let _ = read(fd, &mut b);
    u32::from_le_bytes(b)
}

/// A shared file mapping across fork, both ways; `read`, `write` and a
/// private mapping of the same file; spawn; a file removed while mapped.
/// Returns whether every check passed.
fn file_part() -> bool {
    let mut ok = true;
    let rw = PROT_READ | PROT_WRITE;
    let path = "/mmapshare.tmp";
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC).expect("create");
    // Two pages, a hole: the server gives each a block when mapped.
    ftruncate(fd, 2 * PGSIZE as u32).expect("ftruncate");
    let m = mmap(2 * PGSIZE, rw, MAP_SHARED, Some(fd), 0).expect("mmap file");
    ok &= check("file: a hole reads zeros", get(m) == 0);
    put(m, 0x1111);
    let child = jos::fork().expect("fork");
    if child == 0 {
        check(
            "file: the child sees the store before fork",
            get(m) == 0x1111,
        );
        check(
            "file: the child sees the parent's store after fork",
            await_word(m + 4, 0x2222),
        );
        put(m + PGSIZE, 0x3333); // a page neither touched before
        put(m + 8, 0x4444);
        jos::exit();
    }
    put(m + 4, 0x2222);
    jos::env::wait(child);
    ok &= check(
        "file: the parent sees the child's stores",
        get(m + PGSIZE) == 0x3333 && get(m + 8) == 0x4444,
    );
    cprintf!("mmapshare: two processes see each other's stores through a shared file mapping\n");
    ok &= check(
        "file: read sees the stores",
        read_word(fd, 8) == 0x4444 && read_word(fd, PGSIZE as u32) == 0x3333,
    );
    let _ = seek(fd, PGSIZE as u32 + 4);
    ok &= check("file: write", write(fd, &0x5555u32.to_le_bytes()) == Ok(4));
    ok &= check(
        "file: the mapping sees a write",
        get(m + PGSIZE + 4) == 0x5555,
    );
    let p = mmap(PGSIZE, rw, MAP_PRIVATE, Some(fd), 0).expect("mmap private file");
    ok &= check("file: a private mapping reads the file", get(p) == 0x1111);
    put(p, 7);
    ok &= check(
        "file: a private store is the caller's own",
        get(p) == 7 && get(m) == 0x1111 && read_word(fd, 0) == 0x1111,
    );
    ok &= check("file: munmap private", munmap(p, PGSIZE) == Ok(()));
    // The mapping's descriptor is not passed on by spawn: lsfd lists none.
    let _ = close(fd);
    cprintf!("mmapshare: lsfd, spawned, must list no descriptor:\n");
    match jos::spawn::spawn("lsfd", &["lsfd"]) {
        Ok(id) => jos::env::wait(id),
        Err(e) => ok &= check(&jos::alloc::format!("spawn lsfd: {e}"), false),
    }
    ok &= check("file: munmap shared", munmap(m, 2 * PGSIZE) == Ok(()));
    // After munmap the stores are the file's, on disk too.
    let fd = open(path, O_RDWR).expect("open again");
    ok &= check(
        "file: the stores after munmap",
        read_word(fd, 0) == 0x1111 && read_word(fd, PGSIZE as u32) == 0x3333,
    );
    let _ = close(fd);
    let _ = remove(path);
    ok &= removed_while_mapped();
    ok
}

/// A file removed while mapped: the mapping keeps its page as an orphan
/// copy, and stores into it never reach the file that gets the block
/// next. Returns whether every check passed.
fn removed_while_mapped() -> bool {
    let mut ok = true;
    let (old, new) = ("/mmapshare.old", "/mmapshare.new");
    let fd = open(old, O_RDWR | O_CREAT | O_TRUNC).expect("create");
    // Buffers on the heap: a program starts with one page of stack.
    let mut buf = jos::alloc::vec![b'A'; PGSIZE - 8];
    let _ = write(fd, &buf);
    let m = mmap(PGSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, Some(fd), 0).expect("mmap");
    let _ = close(fd);
    ok &= check("removed: the mapping reads the file", get(m) == 0x4141_4141);
    ok &= check("removed: remove", remove(old) == Ok(()));
    put(m, 0x4242_4242);
    let fd = open(new, O_RDWR | O_CREAT | O_TRUNC).expect("create");
    buf.fill(b'C');
    let _ = write(fd, &buf);
    put(m + 4, 0x4444_4444);
    let _ = jos::file::sync();
    ok &= check(
        "removed: the orphan keeps its stores",
        get(m) == 0x4242_4242 && get(m + 4) == 0x4444_4444,
    );
    buf.fill(0);
    let _ = seek(fd, 0);
    let n = read(fd, &mut buf);
    ok &= check(
        "removed: the next file is untouched",
        n == Ok(PGSIZE - 8) && buf.iter().all(|&b| b == b'C'),
    );
    ok &= check("removed: munmap", munmap(m, PGSIZE) == Ok(()));
    let _ = close(fd);
    let _ = remove(new);
    if ok {
        cprintf!(
            "mmapshare: a removed file's mapping is an orphan copy; the block's next file is untouched\n"
        );
    }
    ok
}

/// munmap, mprotect and msync of parts of mappings, and the area list
/// full. Returns whether every check passed.
fn parts_part() -> bool {
    let mut ok = true;
    let (r, rw) = (PROT_READ, PROT_READ | PROT_WRITE);
    let a = mmap(4 * PGSIZE, rw, MAP_PRIVATE | MAP_ANONYMOUS, None, 0).expect("mmap");
    for i in 0..4 {
        put(a + i * PGSIZE, i as u32 + 1);
    }
    ok &= check(
        "parts: munmap a middle page",
        munmap(a + PGSIZE, PGSIZE) == Ok(()),
    );
    ok &= check(
        "parts: the rest stays",
        pte_of(a + PGSIZE).is_none()
            && get(a) == 1
            && get(a + 2 * PGSIZE) == 3
            && get(a + 3 * PGSIZE) == 4,
    );
    let b = mmap(PGSIZE, r, MAP_PRIVATE | MAP_ANONYMOUS, None, 0).expect("mmap");
    ok &= check("parts: the hole is used again", b == a + PGSIZE);
    ok &= check(
        "parts: mprotect read-only",
        mprotect(a + 2 * PGSIZE, PGSIZE, r) == Ok(()),
    );
    let writable = |va: usize| pte_of(va).is_some_and(|p| p.flags().contains(PteFlags::W));
    ok &= check(
        "parts: read-only now, the next page not",
        !writable(a + 2 * PGSIZE) && writable(a + 3 * PGSIZE),
    );
    ok &= check(
        "parts: PROT_NONE would lose data",
        mprotect(a, PGSIZE, 0) == Err(Error::NotSupp) && get(a) == 1,
    );
    ok &= check(
        "parts: PROT_NONE of the zero page",
        mprotect(b, PGSIZE, 0) == Ok(()) && pte_of(b).is_none(),
    );
    ok &= check(
        "parts: mprotect writable again",
        mprotect(a + 2 * PGSIZE, PGSIZE, rw) == Ok(()),
    );
    put(a + 2 * PGSIZE, 9);
    ok &= check("parts: a store after mprotect", get(a + 2 * PGSIZE) == 9);
    ok &= check(
        "parts: mprotect of unmapped pages",
        mprotect(MMAP_END - PGSIZE, PGSIZE, r) == Err(Error::NoMem),
    );
    // A file mapping cut in two keeps its file at the right offsets.
    let path = "/mmapshare.parts";
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC).expect("create");
    ftruncate(fd, 3 * PGSIZE as u32).expect("ftruncate");
    let f = mmap(3 * PGSIZE, rw, MAP_SHARED, Some(fd), 0).expect("mmap file");
    for i in 0..3 {
        put(f + i * PGSIZE, 0x100 + i as u32);
    }
    ok &= check(
        "parts: munmap the file's first page",
        munmap(f, PGSIZE) == Ok(()),
    );
    // PROT_NONE drops a shared file page (the file has it); PROT_WRITE
    // fetches it again, from the piece's offset.
    ok &= check(
        "parts: PROT_NONE of a file page",
        mprotect(f + PGSIZE, PGSIZE, 0) == Ok(()) && pte_of(f + PGSIZE).is_none(),
    );
    ok &= check(
        "parts: and back",
        mprotect(f + PGSIZE, PGSIZE, rw) == Ok(()),
    );
    ok &= check(
        "parts: the pieces' offsets",
        get(f + PGSIZE) == 0x101 && get(f + 2 * PGSIZE) == 0x102,
    );
    ok &= check(
        "parts: msync",
        msync(f + PGSIZE, 2 * PGSIZE, MS_SYNC) == Ok(()),
    );
    ok &= check(
        "parts: msync flags",
        msync(f + PGSIZE, PGSIZE, MS_SYNC | MS_ASYNC) == Err(Error::Inval),
    );
    ok &= check(
        "parts: msync of a hole",
        msync(f, 2 * PGSIZE, MS_SYNC) == Err(Error::NoMem),
    );
    ok &= check(
        "parts: read sees the pieces",
        read_word(fd, PGSIZE as u32) == 0x101 && read_word(fd, 0) == 0x100,
    );
    let _ = close(fd);
    jos::vm::maps::maps();
    // The list full: a cut that needs a slot fails and changes nothing;
    // one that needs none (a whole area) works.
    let c = mmap(3 * PGSIZE, rw, MAP_PRIVATE | MAP_ANONYMOUS, None, 0).expect("mmap");
    put(c + PGSIZE, 5);
    let mut extra = [0usize; jos::vm::areas::MAX_REGIONS];
    let mut n = 0;
    while let Ok(va) = mmap(PGSIZE, r, MAP_PRIVATE | MAP_ANONYMOUS, None, 0) {
        extra[n] = va;
        n += 1;
    }
    ok &= check(
        "parts: a full list refuses a split",
        n > 0
            && munmap(c + PGSIZE, PGSIZE) == Err(Error::NoMem)
            && mprotect(c + PGSIZE, PGSIZE, r) == Err(Error::NoMem)
            && get(c + PGSIZE) == 5
            && writable(c + PGSIZE),
    );
    ok &= check(
        "parts: a full list, whole areas",
        munmap(a + 3 * PGSIZE, PGSIZE) == Ok(()) && mprotect(a + 2 * PGSIZE, PGSIZE, r) == Ok(()),
    );
    ok &= check(
        "parts: munmap of the whole",
        munmap(c, 3 * PGSIZE) == Ok(()),
    );
    for va in &extra[..n] {
        ok &= check("parts: munmap", munmap(*va, PGSIZE) == Ok(()));
    }
    ok &= check(
        "parts: munmap the rest",
        munmap(a, 4 * PGSIZE) == Ok(()) && munmap(f, 3 * PGSIZE) == Ok(()),
    );
    ok &= check(
        "parts: all gone",
        pte_of(a).is_none() && pte_of(f + 2 * PGSIZE).is_none(),
    );
    let _ = remove(path);
    if ok {
        cprintf!("mmapshare: munmap, mprotect and msync of parts OK\n");
    }
    ok
}

fn umain(_args: &[&str]) {
    let mut bad = 0;
    let mut check = |what: &str, ok: bool| {
        if !check(what, ok) {
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
        "a file mapping with no such descriptor",
        mmap(PGSIZE, PROT_READ, MAP_SHARED, Some(20), 0) == Err(Error::Inval),
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
    check("munmap shared", munmap(shared, 3 * PGSIZE) == Ok(()));
    check("munmap private", munmap(private, 3 * PGSIZE) == Ok(()));
    check("munmap read-only", munmap(ro, PGSIZE) == Ok(()));
    check(
        "gone",
        (0..3).all(|i| jos::uvpt::pte_of(shared + i * PGSIZE).is_none()),
    );
    check("twice", munmap(shared, 3 * PGSIZE) == Ok(()));
    check(
        "an unaligned munmap",
        munmap(shared + 1, PGSIZE) == Err(Error::Inval),
    );
    check("files", file_part());
    check("parts", parts_part());
    if bad == 0 {
        cprintf!("mmapshare: OK\n");
    }
}
