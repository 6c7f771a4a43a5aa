// make: FS=1
//! fsattack: hostile requests to the file server. Each must get an error
//! (or a harmless answer), never crash or wedge the server, and leave what
//! the server serves to others intact: at the end an honest client still
//! reads /newmotd correctly. Run with `make run-fsattack-nox FS=1`;
//! `fsattack swapfull` (from the shell) also floods the swap space from
//! one env up to its limit; `fsattack swapfull N` floods N slots only (the
//! same flood, held and given back, shorter). Denial of service (issue 19, item 6), from the
//! shell, each alone: `fsattack hog` (one env opens files until refused),
//! `fsattack maphog` (one env maps blocks MAP_SHARED until refused),
//! `fsattack fill` (fills the file system, for a swapping program to run
//! after).
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::error::Error;
use abi::error::result_from_ret;
use abi::fsipc::*;
use abi::mmu::PTE_RW;
use abi::mmu::{PGSIZE, PteFlags};
use jos::cprintf;
use jos::fd::{close, read, write};
use jos::file::{fsipc, fsipcbuf_as, open};
use jos::ipc_find_env;
use jos::progress::Progress;
use jos::syscall::{sys_page_alloc, sys_page_unmap};

jos::main!(umain);

const MSG: &[u8] = b"This is the NEW message of the day!\n\n";
/// A page of our own to send read-only.
const SCRATCH: usize = 0x0a00_0000;

fn expect(what: &str, r: Result<u32, Error>, want: Error, failures: &mut u32) {
    if r != Err(want) {
        cprintf!("fsattack: {}: {:?}, expected {} FAILED\n", what, r, want);
        *failures += 1;
    }
}

/// Where FSREQ_MAP's page goes.
const MAPPED: usize = 0x0b00_0000;

/// FSREQ_MAP of page `offset` of file `id` with FSMAP_* `flags`: the
/// reply's page goes at MAPPED. Returns the permissions it came with.
fn map_req(id: i32, offset: u32, flags: u32) -> Result<PteFlags, Error> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqMap>() };
    req.req_fileid = id;
    req.req_offset = offset;
    req.req_flags = flags;
    fsipc(on(FSREQ_MAP, id), Some(MAPPED))?;
    let pte = jos::uvpt::pte_of(MAPPED).ok_or(Error::Unspecified)?;
    let _ = sys_page_unmap(0, MAPPED);
    Ok(pte.flags())
}

/// The request value of `req` about file `id`, naming the descriptor of
/// ours that holds it (or, if none does, descriptor 0's page, which holds
/// something else): the server checks the id against that descriptor.
fn on(req: u32, id: i32) -> u32 {
    let fd = (0..MAXFD)
        .find(|&n| jos::fd::fd_lookup(n).is_ok_and(|f| f.fd_file_id == id))
        .unwrap_or(0);
    fsreq_fd(req, FDTABLE + fd * PGSIZE)
}

/// The server's id of the file open as descriptor `n`.
fn fileid(n: usize) -> i32 {
    // SAFETY: descriptor n is open: its page is mapped.
    unsafe { (*((FDTABLE + n * PGSIZE) as *const Fd)).fd_file_id }
}

/// Hostile FSREQ_MAPs: write mappings of a read-only file, private write
/// mappings, unknown flags, unaligned offsets and ones past the end of
/// the file or MAXFILESIZE, a directory, a write-only file; the honest
/// ones come back with the right permissions.
fn map_attacks(failures: &mut u32) {
    let n = open("/newmotd", O_RDONLY).expect("open /newmotd");
    let id = fileid(n);
    let (sh, wr) = (FSMAP_SHARED, FSMAP_WRITE);
    let huge = (10 + 1024) * PGSIZE as u32; // MAXFILESIZE
    for (what, offset, flags, want) in [
        (
            "a shared write mapping of a read-only file",
            0,
            sh | wr,
            Error::Inval,
        ),
        ("a private write mapping", 0, wr, Error::Inval),
        ("unknown map flags", 0, 0x80, Error::Inval),
        ("an unaligned offset", 1, 0, Error::Inval),
        ("an offset at MAXFILESIZE", huge, sh, Error::Inval),
        ("an offset near 4 GiB", 0xFFFF_F000, 0, Error::Inval),
        (
            "a page past the end of the file",
            PGSIZE as u32,
            sh,
            Error::Eof,
        ),
    ] {
        expect(what, map_req(id, offset, flags).map(|_| 0), want, failures);
    }
    let ro = PteFlags::P | PteFlags::U;
    let honest = [
        ("a private mapping", 0, ro),
        ("a shared read-only mapping", sh, ro | PteFlags::SHARE),
    ];
    for (what, flags, want) in honest {
        let got = map_req(id, 0, flags).map(|f| f & (ro | PteFlags::W | PteFlags::SHARE));
        if got != Ok(want) {
            cprintf!("fsattack: {}: {:?} FAILED\n", what, got);
            *failures += 1;
        }
    }
    close(n).expect("close");
    expect(
        "a closed file's map",
        map_req(id, 0, 0).map(|_| 0),
        Error::Inval,
        failures,
    );
    let d = open("/", O_RDONLY).expect("open /");
    expect(
        "a directory's map",
        map_req(fileid(d), 0, 0).map(|_| 0),
        Error::Inval,
        failures,
    );
    close(d).expect("close");
    let w = open("/fsattack-m", O_WRONLY | O_CREAT).expect("create");
    let _ = write(w, b"x");
    expect(
        "a write-only file's map",
        map_req(fileid(w), 0, sh).map(|_| 0),
        Error::Inval,
        failures,
    );
    close(w).expect("close");
    let _ = jos::file::remove("/fsattack-m");
}

/// A request with file id `id` and type `req` (the rest of the page as it is).
fn with_fileid(req: u32, id: i32) -> Result<u32, Error> {
    // SAFETY: the request page is ours until the reply.
    unsafe { fsipcbuf_as::<FsreqRead>() }.req_fileid = id;
    fsipc(on(req, id), None)
}

/// Swap request (`req`, `slot`) sent raw, with the page at `page` (if
/// any) and `perm`. Returns the server's reply.
fn swap_raw(
    fs: EnvId,
    req: u32,
    slot: u32,
    page: Option<usize>,
    perm: PteFlags,
) -> Result<u32, Error> {
    let m = jos::ipc::ipc_call(fs, swap_req(req, slot), page, perm, None)?;
    result_from_ret(m.value as i32).map(|v| v as u32)
}

/// Fills our page at `va` with `byte`.
fn fill(va: usize, byte: u8) {
    // SAFETY: va is a page of ours, mapped writable, referred to by nothing.
    unsafe { core::ptr::write_bytes(va as *mut u8, byte, PGSIZE) };
}

/// Whether our page at `va` holds `byte` throughout.
fn holds(va: usize, byte: u8) -> bool {
    // SAFETY: va is a page of ours, mapped.
    unsafe { core::slice::from_raw_parts(va as *const u8, PGSIZE) }
        .iter()
        .all(|&b| b == byte)
}

/// How many slots the hoarder takes (without `swapfull`).
const HOARD: u32 = 300;

/// A second page for the swap attacks.
const SCRATCH2: usize = SCRATCH + PGSIZE;

/// Hostile swap requests: no page or a read-only one where the server
/// must write, slots out of range, another env's slot (read, overwrite,
/// free), a double free, and a hoard of new slots (with `flood`, a flood
/// of that many, held while another env swaps: u32::MAX floods until the
/// server refuses) from an env that then exits without freeing them: the
/// server must take them all back. An honest round trip works throughout.
fn swap_attacks(fs: EnvId, flood: Option<u32>, failures: &mut u32) {
    let full = flood.is_some();
    let none = PteFlags::empty();
    let ro = PteFlags::P | PteFlags::U;
    let in_use = || swap_raw(fs, FSREQ_SWAPSTAT, 0, None, PteFlags::empty());
    let before = in_use().expect("swap stat");
    sys_page_alloc(0, SCRATCH, PTE_RW).expect("alloc");
    sys_page_alloc(0, SCRATCH2, PTE_RW).expect("alloc");
    fill(SCRATCH, 0xA5);
    let out = |slot, page, perm| swap_raw(fs, FSREQ_SWAPOUT, slot, page, perm);
    let inn = |slot, page, perm| swap_raw(fs, FSREQ_SWAPIN, slot, page, perm);
    expect(
        "a swap-out without a page",
        out(SWAP_NEW, None, none),
        Error::Inval,
        failures,
    );
    let mine = match out(SWAP_NEW, Some(SCRATCH), ro) {
        Ok(s) => s,
        Err(e) => {
            cprintf!("fsattack: an honest swap-out: {} FAILED\n", e);
            *failures += 1;
            return;
        }
    };
    expect(
        "a swap-in without a page",
        inn(mine, None, none),
        Error::Inval,
        failures,
    );
    expect(
        "a swap-in to a read-only page",
        inn(mine, Some(SCRATCH2), ro),
        Error::Inval,
        failures,
    );
    for slot in [mine + 1, 16544, 0xFF_FFFE, SWAP_NEW] {
        expect(
            "a swap-in of a slot not ours",
            inn(slot, Some(SCRATCH2), PTE_RW),
            Error::Inval,
            failures,
        );
        if slot != SWAP_NEW {
            expect(
                "a swap-out to a slot not ours",
                out(slot, Some(SCRATCH), ro),
                Error::Inval,
                failures,
            );
            expect(
                "freeing a slot not ours",
                swap_raw(fs, FSREQ_SWAPFREE, slot, None, none),
                Error::Inval,
                failures,
            );
        }
    }
    if inn(mine, Some(SCRATCH2), PTE_RW).is_err() || !holds(SCRATCH2, 0xA5) {
        cprintf!("fsattack: an honest swap-in did not read back the page FAILED\n");
        *failures += 1;
    }

    // Another env's slot: a child swaps a page out and tells us its slot;
    // we try to read, overwrite and free it; the child reads it back.
    match jos::fork() {
        Ok(0) => {
            fill(SCRATCH, 0x5A);
            let theirs = out(SWAP_NEW, Some(SCRATCH), ro).unwrap_or(SWAP_NEW);
            let parent = jos::env::thisenv_read().env_parent_id;
            jos::ipc_send(parent, theirs, None, none);
            let _ = jos::ipc_recv(None);
            fill(SCRATCH2, 0);
            let ok = inn(theirs, Some(SCRATCH2), PTE_RW).is_ok() && holds(SCRATCH2, 0x5A);
            jos::ipc_send(parent, ok as u32, None, none);
            // Exits holding the slot: the server takes it back.
            jos::env::exit();
        }
        Ok(child) => {
            let theirs = jos::ipc_recv(None).expect("recv").value;
            fill(SCRATCH2, 0x11);
            expect(
                "a swap-in of another env's slot",
                inn(theirs, Some(SCRATCH2), PTE_RW),
                Error::Inval,
                failures,
            );
            if !holds(SCRATCH2, 0x11) {
                cprintf!("fsattack: a refused swap-in changed our page FAILED\n");
                *failures += 1;
            }
            expect(
                "a swap-out to another env's slot",
                out(theirs, Some(SCRATCH), ro),
                Error::Inval,
                failures,
            );
            expect(
                "freeing another env's slot",
                swap_raw(fs, FSREQ_SWAPFREE, theirs, None, none),
                Error::Inval,
                failures,
            );
            jos::ipc_send(child, 0, None, none);
            if jos::ipc_recv(None).map(|m| m.value) != Ok(1) {
                cprintf!("fsattack: another env's slot was harmed FAILED\n");
                *failures += 1;
            }
            jos::env::wait(child);
        }
        Err(e) => panic!("fork: {e}"),
    }

    // A hoard: new slots (until the server says no, with `full`: at one
    // env's limit, 50 MiB written, a minute of TCG, while another env still
    // gets a slot); the child exits without freeing any.
    match jos::fork() {
        Ok(0) => {
            let most = flood.unwrap_or(HOARD);
            let mut n = 0u32;
            let r = loop {
                if n == most {
                    break Ok(());
                }
                match out(SWAP_NEW, Some(SCRATCH), ro) {
                    Ok(_) => n += 1,
                    Err(e) => break Err(e),
                }
            };
            match r {
                Ok(()) if full => cprintf!("fsattack: a flood of swap-outs took {} slots\n", n),
                Ok(()) => cprintf!("fsattack: a hoard of {} swap slots\n", n),
                Err(e) => cprintf!(
                    "fsattack: a flood of swap-outs took {} slots, then: {}\n",
                    n,
                    e
                ),
            }
            if full {
                // Holding them, while the parent asks for one.
                let parent = jos::env::thisenv_read().env_parent_id;
                jos::ipc_send(parent, n, None, none);
                let _ = jos::ipc_recv(None);
            }
            jos::env::exit();
        }
        Ok(child) => {
            if full {
                // One env's flood leaves swap for the others.
                let _ = jos::ipc_recv(None);
                fill(SCRATCH2, 0x77);
                match out(SWAP_NEW, Some(SCRATCH2), ro) {
                    Ok(s) => {
                        cprintf!("fsattack: another env swaps beside the flood OK\n");
                        let _ = swap_raw(fs, FSREQ_SWAPFREE, s, None, none);
                    }
                    Err(e) => {
                        cprintf!("fsattack: another env beside the flood: {} FAILED\n", e);
                        *failures += 1;
                    }
                }
                jos::ipc_send(child, 0, None, none);
            }
            jos::env::wait(child)
        }
        Err(e) => panic!("fork: {e}"),
    }
    let after = in_use();
    if after != Ok(before + 1) {
        cprintf!(
            "fsattack: swap slots in use: {:?}, expected {} FAILED\n",
            after,
            before + 1
        );
        *failures += 1;
    }
    fill(SCRATCH2, 0);
    if inn(mine, Some(SCRATCH2), PTE_RW).is_err() || !holds(SCRATCH2, 0xA5) {
        cprintf!("fsattack: our slot did not survive the others FAILED\n");
        *failures += 1;
    }
    if swap_raw(fs, FSREQ_SWAPFREE, mine, None, none) != Ok(1) {
        cprintf!("fsattack: freeing our slot FAILED\n");
        *failures += 1;
    }
    expect(
        "freeing a slot twice",
        swap_raw(fs, FSREQ_SWAPFREE, mine, None, none),
        Error::Inval,
        failures,
    );
    expect(
        "swapping in a freed slot",
        inn(mine, Some(SCRATCH2), PTE_RW),
        Error::Inval,
        failures,
    );
    if in_use() != Ok(before) {
        cprintf!("fsattack: a slot leaked FAILED\n");
        *failures += 1;
    }
    let _ = sys_page_unmap(0, SCRATCH);
    let _ = sys_page_unmap(0, SCRATCH2);
    // No client reaches the swap files.
    for path in ["/swap", "/swap/00", "/swap/15"] {
        let r = open(path, O_RDONLY).map(|n| n as u32);
        if r != Err(Error::BadPath) {
            cprintf!("fsattack: open {}: {:?} FAILED\n", path, r);
            *failures += 1;
        }
        expect(
            "removing swap",
            jos::file::remove(path).map(|()| 0),
            Error::BadPath,
            failures,
        );
    }
    expect(
        "renaming swap",
        jos::rename::rename("/swap/03", "/x").map(|()| 0),
        Error::BadPath,
        failures,
    );
    expect(
        "renaming onto swap",
        jos::rename::rename("/newmotd", "/swap/04").map(|()| 0),
        Error::BadPath,
        failures,
    );
}

/// Opens `path` with `mode` by a raw FSREQ_OPEN whose Fd page goes at
/// `va` (anywhere: not a descriptor of ours). Returns the server's reply.
fn open_at(path: &str, mode: u32, va: usize) -> Result<u32, Error> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqOpen>() };
    req.req_path = [0; MAXPATHLEN];
    req.req_path[..path.len()].copy_from_slice(path.as_bytes());
    req.req_omode = mode as i32;
    fsipc(FSREQ_OPEN, Some(va))
}

/// Where the file hog keeps its Fd pages (one page each).
const HOGVA: usize = 0x2000_0000;
/// Most opens the file hog tries (the server's whole table and more).
const HOG_MOST: usize = 1100;

/// What the file hog may open: a quarter of the server's 1024 slots.
const FILES_PER_ENV: usize = 256;

/// Forks a child that opens and closes /newmotd and exits, waits for it,
/// then opens and closes /newmotd itself: the same steps before each
/// count of free pages (the server gives back closed files' Fd pages at
/// the next open).
fn settle() {
    match jos::fork() {
        Ok(0) => {
            if let Ok(n) = open("/newmotd", O_RDONLY) {
                let _ = close(n);
            }
            jos::env::exit();
        }
        Ok(kid) => jos::env::wait(kid),
        Err(e) => panic!("fork: {e}"),
    }
    let n = open("/newmotd", O_RDONLY).expect("open /newmotd");
    close(n).expect("close");
}

/// `fsattack hog`: a child opens files (raw FSREQ_OPENs, each Fd page
/// kept at an address of its own) until the server refuses: it must be
/// refused at FILES_PER_ENV with E_MAX_OPEN, while another env still opens
/// files; its own child, sharing its descriptors, is not charged for them;
/// after closing them it may open again. Once it has exited, the free-page
/// count is what it was before: the server gave back the Fd pages. Two
/// rounds: the first pages in our code and warms the server's cache.
fn file_hog(failures: &mut u32) {
    // The first round pages in our code and warms the server's cache;
    // the second is measured.
    hog_round(false, failures);
    hog_round(true, failures);
}

/// One round of [`file_hog`]; with `measure`, compares the free pages
/// before and after. Without, a warm-up: the hog stops after 8 files (so
/// that the server has not many Fd pages yet when the measured round
/// starts), on an open that fails, and no verdict is printed, but the same
/// code runs.
fn hog_round(measure: bool, failures: &mut u32) {
    let none = PteFlags::empty();
    settle();
    let before = jos::uvpt::unreferenced_pages();
    match jos::fork() {
        Ok(0) => {
            let parent = jos::env::thisenv_read().env_parent_id;
            let mut n = 0;
            let most = if measure { HOG_MOST } else { 8 };
            let r = loop {
                // The warm-up's last open fails as the hog's does.
                let path = if n == most {
                    "/no-such-file"
                } else {
                    "/newmotd"
                };
                if n > most {
                    break Ok(0);
                }
                match open_at(path, O_RDONLY, HOGVA + n * PGSIZE) {
                    Ok(_) => n += 1,
                    Err(e) => break Err(e),
                }
            };
            match r {
                Err(e) => cprintf!("fsattack: a file hog opened {} files, then: {}\n", n, e),
                Ok(_) => cprintf!("fsattack: a file hog opened {} files\n", n),
            }
            if measure && (n != FILES_PER_ENV || r != Err(Error::MaxOpen)) {
                cprintf!(
                    "fsattack: hog: refused at {} files, not {} FAILED\n",
                    n,
                    FILES_PER_ENV
                );
            }
            // Its child shares every Fd page (PTE_SHARE): they stay the
            // hog's charge; the child opens files of its own.
            match jos::fork() {
                Ok(0) => {
                    let ok =
                        (0..4).all(|k| open_at("/newmotd", O_RDONLY, MAPPED + k * PGSIZE).is_ok());
                    jos::ipc_send(parent, ok as u32, None, none);
                    jos::env::exit();
                }
                Ok(kid) => jos::env::wait(kid),
                Err(e) => panic!("fork: {e}"),
            }
            let still = open_at("/newmotd", O_RDONLY, HOGVA + n * PGSIZE);
            jos::ipc_send(parent, (still == Err(Error::MaxOpen)) as u32, None, none);
            // The parent opens files now; then we close ours and open again.
            let _ = jos::ipc_recv(None);
            for k in 0..n {
                let _ = sys_page_unmap(0, HOGVA + k * PGSIZE);
            }
            let again = open_at("/newmotd", O_RDONLY, HOGVA).is_ok();
            jos::ipc_send(parent, again as u32, None, none);
            let _ = jos::ipc_recv(None);
            // Opens to the limit again, and exits holding them all.
            for k in 1..n {
                let _ = open_at("/newmotd", O_RDONLY, HOGVA + k * PGSIZE);
            }
            jos::env::exit();
        }
        Ok(hog) => {
            let check = |what: &str, ok: bool, failures: &mut u32| {
                let verdict = match (measure, ok) {
                    (false, _) => "(warm-up)",
                    (true, true) => "OK",
                    (true, false) => "FAILED",
                };
                cprintf!("fsattack: hog: {} {}\n", what, verdict);
                if measure && !ok {
                    *failures += 1;
                }
            };
            let kid_ok = jos::ipc_recv(None).map(|m| m.value) == Ok(1);
            check(
                "its child, sharing its files, opens files of its own",
                kid_ok,
                failures,
            );
            let still = jos::ipc_recv(None).map(|m| m.value) == Ok(1);
            check(
                "it is still refused after its child is gone",
                still,
                failures,
            );
            let mut mine = [0usize; 8];
            let mut opened = 0;
            for m in mine.iter_mut() {
                match open("/newmotd", O_RDONLY) {
                    Ok(fd) => {
                        *m = fd;
                        opened += 1;
                    }
                    Err(e) => {
                        cprintf!("fsattack: hog: another env's open: {}\n", e);
                        break;
                    }
                }
            }
            let mut buf = [0u8; 128];
            let read_ok =
                opened > 0 && jos::fd::readn(mine[0], &mut buf).is_ok_and(|got| &buf[..got] == MSG);
            for &fd in &mine[..opened] {
                let _ = close(fd);
            }
            check(
                "another env opens and reads files beside it",
                opened == 8 && read_ok,
                failures,
            );
            jos::ipc_send(hog, 0, None, none);
            let again = jos::ipc_recv(None).map(|m| m.value) == Ok(1);
            check(
                "once it closed its files it may open again",
                again,
                failures,
            );
            jos::ipc_send(hog, 0, None, none);
            jos::env::wait(hog);
        }
        Err(e) => panic!("fork: {e}"),
    }
    settle();
    let after = jos::uvpt::unreferenced_pages();
    let verdict = match (measure, before == after) {
        (false, _) => "(warm-up)",
        (true, true) => "OK",
        (true, false) => "FAILED",
    };
    cprintf!(
        "fsattack: hog: {} pages free before the hog, {} after it exited: {}\n",
        before,
        after,
        verdict
    );
    if measure && before != after {
        *failures += 1;
    }
}

/// Where the MAP_SHARED hog maps its blocks.
const MAPHOGVA: usize = 0x3000_0000;
/// MAP_SHARED blocks one env may keep in the server's shared set.
const MAPS_PER_ENV: u32 = 256;

/// FSREQ_MAP of page `offset` of the file open as descriptor `fd` with
/// FSMAP_* `flags`, the page kept at `va`. Returns the server's reply.
fn map_at(fd: usize, offset: u32, flags: u32, va: usize) -> Result<u32, Error> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqMap>() };
    req.req_fileid = fileid(fd);
    req.req_offset = offset;
    req.req_flags = flags;
    fsipc(fsreq_fd(FSREQ_MAP, FDTABLE + fd * PGSIZE), Some(va))
}

/// `fsattack maphog`: a child maps the blocks of a file MAP_SHARED
/// (read-only: a writable block is written back at every flush, which
/// only makes the test slow) and keeps them, until the server refuses: it must be refused at
/// MAPS_PER_ENV blocks with E_NO_MEM, while another env still maps
/// blocks MAP_SHARED (new ones, and one the hog holds); after it exits,
/// another env maps the blocks it held.
fn map_hog(failures: &mut u32) {
    let none = PteFlags::empty();
    let size = (MAPS_PER_ENV + 16) * PGSIZE as u32;
    let f = open("/maphog", O_RDWR | O_CREAT | O_TRUNC).expect("create /maphog");
    jos::fd::ftruncate(f, size).expect("ftruncate /maphog");
    match jos::fork() {
        Ok(0) => {
            let parent = jos::env::thisenv_read().env_parent_id;
            let sh = FSMAP_SHARED;
            let mut n = 0u32;
            let r = loop {
                if n * PGSIZE as u32 == size {
                    break Ok(0);
                }
                match map_at(f, n * PGSIZE as u32, sh, MAPHOGVA + n as usize * PGSIZE) {
                    Ok(_) => n += 1,
                    Err(e) => break Err(e),
                }
            };
            match r {
                Err(e) => cprintf!(
                    "fsattack: a MAP_SHARED hog mapped {} blocks, then: {}\n",
                    n,
                    e
                ),
                Ok(_) => cprintf!("fsattack: a MAP_SHARED hog mapped {} blocks\n", n),
            }
            if n != MAPS_PER_ENV || r != Err(Error::NoMem) {
                cprintf!(
                    "fsattack: maphog: refused at {} blocks, not {} FAILED\n",
                    n,
                    MAPS_PER_ENV
                );
            }
            jos::ipc_send(parent, n, None, none);
            let _ = jos::ipc_recv(None);
            jos::env::exit();
        }
        Ok(hog) => {
            let check = |what: &str, ok: bool, failures: &mut u32| {
                if ok {
                    cprintf!("fsattack: maphog: {} OK\n", what);
                } else {
                    cprintf!("fsattack: maphog: {} FAILED\n", what);
                    *failures += 1;
                }
            };
            let held = jos::ipc_recv(None).map(|m| m.value).unwrap_or(0);
            // Blocks past what the hog holds, and one it holds.
            let sh = FSMAP_SHARED;
            let mut ok = true;
            for k in 0..8u32 {
                let off = (held + k).min(size / PGSIZE as u32 - 1) * PGSIZE as u32;
                ok &= map_at(f, off, sh, MAPPED).is_ok();
                let _ = sys_page_unmap(0, MAPPED);
            }
            ok &= map_at(f, 0, sh, MAPPED).is_ok();
            let _ = sys_page_unmap(0, MAPPED);
            check("another env maps blocks MAP_SHARED beside it", ok, failures);
            jos::ipc_send(hog, 0, None, none);
            jos::env::wait(hog);
            let ok = (0..MAPS_PER_ENV).step_by(8).all(|k| {
                let r = map_at(f, k * PGSIZE as u32, sh, MAPPED).is_ok();
                let _ = sys_page_unmap(0, MAPPED);
                r
            });
            check(
                "once it exited, its blocks are mapped by another env",
                ok,
                failures,
            );
        }
        Err(e) => panic!("fork: {e}"),
    }
    close(f).expect("close");
    let _ = jos::file::remove("/maphog");
}

/// `fsattack fill`: fills the file system with files /fill00, /fill01,
/// ... until the server says the disk is full, and leaves them there;
/// every 2 s it says how many blocks it wrote.
fn fill_disk(failures: &mut u32) {
    // Not on the stack: it is one page.
    static PAGE: [u8; PGSIZE] = [0x5A; PGSIZE];
    let page = &PAGE;
    let mut blocks = 0u32;
    let mut clock = Progress::start();
    let mut path = *b"/fill00";
    let r = 'files: loop {
        let k = blocks / 1034;
        path[5] = b'0' + (k / 10 % 10) as u8;
        path[6] = b'0' + (k % 10) as u8;
        let name = core::str::from_utf8(&path).unwrap_or("/fill");
        let f = match open(name, O_WRONLY | O_CREAT) {
            Ok(f) => f,
            Err(e) => break e,
        };
        if jos::fd::seek(f, (blocks % 1034) * PGSIZE as u32).is_err() {
            break Error::Inval;
        }
        loop {
            match write(f, page) {
                Ok(n) if n == PGSIZE => {
                    blocks += 1;
                    if clock.due() {
                        cprintf!(
                            "fsattack: fill: {} s, {} blocks written\n",
                            clock.secs(),
                            blocks
                        );
                    }
                    if blocks.is_multiple_of(1034) {
                        let _ = close(f);
                        continue 'files;
                    }
                }
                Ok(_) => {
                    let _ = close(f);
                    break 'files Error::NoDisk;
                }
                Err(e) => {
                    let _ = close(f);
                    break 'files e;
                }
            }
        }
    };
    cprintf!(
        "fsattack: filled the disk with {} blocks, then: {}\n",
        blocks,
        r
    );
    if r != Error::NoDisk {
        *failures += 1;
        cprintf!("fsattack: fill: the disk did not end full FAILED\n");
    }
}

fn umain(args: &[&str]) {
    let mut failures = 0;
    let fs = ipc_find_env(abi::env::ENV_TYPE_FS).expect("no file server");
    let alone: Option<fn(&mut u32)> = match args.get(1).copied() {
        Some("hog") => Some(file_hog),
        Some("maphog") => Some(map_hog),
        Some("fill") => Some(fill_disk),
        _ => None,
    };
    if let Some(attack) = alone {
        attack(&mut failures);
        if failures == 0 {
            cprintf!("fsattack: OK\n");
        } else {
            cprintf!("fsattack: {} check(s) FAILED\n", failures);
        }
        return;
    }

    // Bad file ids, of every request that takes one.
    for req in [
        FSREQ_READ,
        FSREQ_WRITE,
        FSREQ_STAT,
        FSREQ_FLUSH,
        FSREQ_SET_SIZE,
        FSREQ_MAP,
    ] {
        for id in [0, -1, i32::MIN, i32::MAX, 1024, 12345] {
            expect(
                "a bad file id",
                with_fileid(req, id),
                Error::Inval,
                &mut failures,
            );
        }
    }
    // Another env's file: our own id of a file we closed is stale.
    let n = open("/newmotd", O_RDONLY).expect("open /newmotd");
    // SAFETY: descriptor n is open: its page is mapped.
    let id = unsafe { (*((FDTABLE + n * PGSIZE) as *const Fd)).fd_file_id };
    close(n).expect("close");
    expect(
        "a closed file's id",
        with_fileid(FSREQ_READ, id),
        Error::Inval,
        &mut failures,
    );

    // Paths without a NUL, too long, malformed.
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqOpen>() };
    req.req_path = [b'a'; MAXPATHLEN];
    req.req_omode = O_RDONLY as i32;
    expect(
        "a path without its NUL",
        fsipc(FSREQ_OPEN, Some(0xCCCC_C000)),
        Error::BadPath,
        &mut failures,
    );
    // ("" and "//" name the root, as in JOS: opening it is fine.)
    for path in ["/newmotd/x", "/no/such/dir"] {
        let r = open(path, O_RDONLY).map(|n| n as u32);
        if r.is_ok() {
            cprintf!("fsattack: open {:?} succeeded FAILED\n", path);
            failures += 1;
        }
    }
    // SAFETY: as above.
    let req = unsafe { fsipcbuf_as::<FsreqPath>() };
    req.req_path = [b'/'; MAXPATHLEN];
    expect(
        "remove without a NUL",
        fsipc(FSREQ_REMOVE, None),
        Error::BadPath,
        &mut failures,
    );

    // Renames: either path without its NUL, empty, the root, missing,
    // too long, a file used as a directory.
    // SAFETY: as above.
    let req = unsafe { fsipcbuf_as::<FsreqRename>() };
    req.req_oldpath = [b'/'; MAXPATHLEN];
    req.req_newpath = [0; MAXPATHLEN];
    expect(
        "rename without a NUL (old)",
        fsipc(FSREQ_RENAME, None),
        Error::BadPath,
        &mut failures,
    );
    // SAFETY: as above.
    let req = unsafe { fsipcbuf_as::<FsreqRename>() };
    req.req_oldpath = [0; MAXPATHLEN];
    req.req_oldpath[..8].copy_from_slice(b"/newmotd");
    req.req_newpath = [b'x'; MAXPATHLEN];
    expect(
        "rename without a NUL (new)",
        fsipc(FSREQ_RENAME, None),
        Error::BadPath,
        &mut failures,
    );
    let long = [b'n'; MAXNAMELEN];
    let long = core::str::from_utf8(&long).unwrap_or("");
    for (from, to, want) in [
        ("", "/x", Error::BadPath),
        ("/newmotd", "", Error::BadPath),
        ("/no-such-file", "/x", Error::NotFound),
        ("/newmotd", "/newmotd/x", Error::NotFound),
        ("/newmotd", long, Error::BadPath),
        (long, "/x", Error::BadPath),
    ] {
        expect(
            "a bad rename",
            jos::rename::rename(from, to).map(|()| 0),
            want,
            &mut failures,
        );
    }

    // Modes: writing a read-only file, reading a write-only one.
    let n = open("/newmotd", O_RDONLY).expect("open /newmotd");
    expect(
        "write to a read-only file",
        write(n, b"x").map(|v| v as u32),
        Error::Inval,
        &mut failures,
    );
    // A huge count is clamped to a page; a huge offset reads nothing.
    // SAFETY: descriptor n is open.
    let fd = unsafe { &mut *((FDTABLE + n * PGSIZE) as *mut Fd) };
    // SAFETY: the request page is ours until the reply.
    let r = unsafe { fsipcbuf_as::<FsreqRead>() };
    r.req_fileid = fd.fd_file_id;
    r.req_n = u32::MAX;
    match fsipc(on(FSREQ_READ, fd.fd_file_id), None) {
        Ok(got) if got as usize == MSG.len() => {}
        other => {
            cprintf!("fsattack: a huge read count: {:?} FAILED\n", other);
            failures += 1;
        }
    }
    fd.fd_offset = i32::MAX;
    let mut buf = [0u8; 64];
    if read(n, &mut buf) != Ok(0) {
        cprintf!("fsattack: a read past the end did not read 0 bytes FAILED\n");
        failures += 1;
    }
    fd.fd_offset = -5;
    if read(n, &mut buf).is_ok() {
        cprintf!("fsattack: a negative offset read FAILED\n");
        failures += 1;
    }
    close(n).expect("close");
    let w = open("/fsattack-w", O_WRONLY | O_CREAT).expect("create");
    expect(
        "read from a write-only file",
        read(w, &mut buf).map(|v| v as u32),
        Error::Inval,
        &mut failures,
    );
    close(w).expect("close");
    let _ = jos::file::remove("/fsattack-w");

    map_attacks(&mut failures);
    // `swapfull [N]`: a flood of N slots, or until the server refuses.
    let flood = (args.get(1) == Some(&"swapfull"))
        .then(|| args.get(2).and_then(|n| n.parse().ok()).unwrap_or(u32::MAX));
    swap_attacks(fs, flood, &mut failures);

    // An unknown request code, and a request sent on a read-only page.
    expect(
        "an unknown request",
        fsipc(999, None),
        Error::Inval,
        &mut failures,
    );
    sys_page_alloc(0, SCRATCH, PteFlags::P | PteFlags::U).expect("alloc");
    let r = jos::ipc::ipc_call(
        fs,
        FSREQ_SYNC,
        Some(SCRATCH),
        PteFlags::P | PteFlags::U,
        None,
    );
    let v = jos::env::thisenv_read().env_ipc_value as i32;
    if r.is_err() || v != Error::Inval.code() {
        cprintf!("fsattack: a read-only request page got {} FAILED\n", v);
        failures += 1;
    }
    let _ = sys_page_unmap(0, SCRATCH);

    // The server still serves an honest client.
    let n = open("/newmotd", O_RDONLY).expect("open /newmotd after the attacks");
    let mut buf = [0u8; 128];
    let got = jos::fd::readn(n, &mut buf).expect("read");
    close(n).expect("close");
    if &buf[..got] != MSG {
        cprintf!("fsattack: /newmotd reads wrong after the attacks FAILED\n");
        failures += 1;
    }
    if failures == 0 {
        cprintf!("fsattack: OK\n");
    } else {
        cprintf!("fsattack: {} check(s) FAILED\n", failures);
    }
}
