// make: FS=1
//! mapflood: the file server never dies of a client's demands (issue 19,
//! item 3).
//!
//! An ordinary env takes every free page it can (`sys_page_alloc` until
//! E_NO_MEM, kept in a hoard), then asks for every block of every file in
//! `/` MAP_SHARED (raw FSREQ_MAPs: some 1300 blocks, none cached yet, so
//! each needs a page of the server's) and keeps them all mapped. The
//! server's shared set grows with each one while no page is free: its
//! growth (and the server's other work: open, reading a block) must fail
//! as an error (E_NO_MEM), never kill the server. Each E_NO_MEM gives the
//! server four pages of the hoard back and the request is made again, so
//! memory stays (nearly) full to the end while every block gets mapped. Then the
//! rest of the hoard is freed, the server must still serve (an honest
//! read of /newmotd), and each file's last mapped page must be what
//! `read` gives. The whole run is made twice, each followed by reading
//! every block it touched with memory free (so the server's cache holds
//! the same blocks after each run); the pages no one maps are counted
//! before and after the second.
//!
//! Lines: `mapflood: hoarded N pages; all B blocks of F files mapped
//! MAP_SHARED with memory full, after K E_NO_MEM replies OK` (K > 0, else
//! the server never ran out and nothing was tested), `mapflood: the
//! server still serves, every file's last page as read OK`, `mapflood: no
//! page leaked OK`, `mapflood: OK`; FAILED lines otherwise.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::*;
use abi::mmu::{PGSIZE, PTE_RW, PTSIZE};
use jos::alloc::string::String;
use jos::alloc::vec::Vec;
use jos::cprintf;
use jos::fd::{close, read, readn, seek};
use jos::file::{fsipc, fsipcbuf_as, open};
use jos::syscall::{sys_page_alloc, sys_page_unmap};

jos::main!(umain);

/// Where block i is mapped: BASE + i * PGSIZE.
const BASE: usize = 0x6000_0000;
/// Where the hoard of pages lives.
const HOARD: usize = 0xA000_0000;
/// The most pages the hoard may hold (128 MiB, more than QEMU's memory).
const HOARD_MAX: usize = 0x0800_0000 / PGSIZE;

const MSG: &[u8] = b"This is the NEW message of the day!\n\n";

/// FSREQ_MAP (shared, read-only) of page `offset` of the file open as
/// descriptor `fd`, the reply's page at `va`.
fn map_req(fd: usize, offset: usize, va: usize) -> Result<u32, Error> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqMap>() };
    req.req_fileid = fileid(fd);
    req.req_offset = offset as u32;
    req.req_flags = FSMAP_SHARED;
    fsipc(fsreq_fd(FSREQ_MAP, FDTABLE + fd * PGSIZE), Some(va))
}

/// The server's id of the file open as descriptor `n`.
fn fileid(n: usize) -> i32 {
    // SAFETY: descriptor n is open: its page is mapped.
    unsafe { (*((FDTABLE + n * PGSIZE) as *const Fd)).fd_file_id }
}

/// The hoard: pages HOARD .. HOARD + n * PGSIZE.
struct Hoard {
    n: usize,
}

impl Hoard {
    /// Takes every free page.
    fn take() -> Hoard {
        let mut n = 0;
        while n < HOARD_MAX && sys_page_alloc(0, HOARD + n * PGSIZE, PTE_RW).is_ok() {
            n += 1;
        }
        Hoard { n }
    }

    /// Gives one page back; false if none is left.
    fn give_one(&mut self) -> bool {
        if self.n == 0 {
            return false;
        }
        self.n -= 1;
        let _ = sys_page_unmap(0, HOARD + self.n * PGSIZE);
        true
    }
}

/// The regular files of `/` that have bytes: their names and sizes.
fn root_files() -> Result<Vec<(String, usize)>, &'static str> {
    let dir = open("/", O_RDONLY).map_err(|_| "open /")?;
    let mut files = Vec::new();
    let mut rec = [0u8; 256];
    while readn(dir, &mut rec).map_err(|_| "read /")? == rec.len() {
        let name = &rec[..MAXNAMELEN];
        let len = name.iter().position(|&b| b == 0).unwrap_or(MAXNAMELEN);
        let size = i32::from_le_bytes([rec[128], rec[129], rec[130], rec[131]]);
        let ftype = u32::from_le_bytes([rec[132], rec[133], rec[134], rec[135]]);
        if len > 0 && ftype == 0 && size > 0 {
            let name = core::str::from_utf8(&name[..len]).map_err(|_| "a file name")?;
            files.push((jos::alloc::format!("/{name}"), size as usize));
        }
    }
    let _ = close(dir);
    Ok(files)
}

/// Most blocks one env may map MAP_SHARED (the file server's MAPS_PER_ENV).
const MAPS_PER_ENV: usize = 256;

/// Pages of the hoard given back after each E_NO_MEM.
const GIVE: usize = 4;

/// Runs `f` until it gives something other than E_NO_MEM, giving the
/// server GIVE pages of the hoard after each E_NO_MEM (counted in
/// `nomem`).
fn retry<T>(
    hoard: &mut Hoard,
    nomem: &mut usize,
    mut f: impl FnMut() -> Result<T, Error>,
) -> Result<T, &'static str> {
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(Error::NoMem) => {
                *nomem += 1;
                // A few pages at a time (fewer slow round trips); fewer
                // than the set's larger growths need (up to 10 pages).
                for _ in 0..GIVE {
                    if !hoard.give_one() {
                        return Err("E_NO_MEM with the whole hoard given back");
                    }
                }
            }
            Err(e) => {
                cprintf!("mapflood: {}\n", e);
                return Err("a request failed");
            }
        }
    }
}

/// The files of a flood: as many whole files of `/` as one env may map
/// MAP_SHARED (the server's per-env limit, quota.rs; fsattack maphog
/// tests the limit itself).
fn flood_files() -> Result<Vec<(String, usize)>, &'static str> {
    let mut files = root_files()?;
    let mut total = 0;
    let fit = files
        .iter()
        .take_while(|(_, size)| {
            total += size.div_ceil(PGSIZE);
            total <= MAPS_PER_ENV
        })
        .count();
    files.truncate(fit);
    Ok(files)
}

/// With memory free again, reads every block a flood touches (`/`, each
/// of `files`, /newmotd), so that the server's cache holds all of them
/// whatever the flood made it give up: after this the cache is the same
/// after every flood, and a change in the free pages is a leak, not the
/// cache. Err(what went wrong).
fn warm(files: &[(String, usize)]) -> Result<(), &'static str> {
    root_files()?;
    let mut buf = jos::alloc::vec![0u8; PGSIZE];
    for name in files
        .iter()
        .map(|(name, _)| name.as_str())
        .chain(["/newmotd"])
    {
        let fd = open(name, O_RDONLY).map_err(|_| "open a file to warm the cache")?;
        while read(fd, &mut buf).map_err(|_| "read a file to warm the cache")? > 0 {}
        let _ = close(fd);
    }
    Ok(())
}

/// One flood of `files`; `first`: the first since boot (the blocks are not
/// cached yet, so the server must run out of memory). Err(what went wrong).
fn flood(files: &[(String, usize)], first: bool) -> Result<(), &'static str> {
    let total: usize = files.iter().map(|(_, size)| size.div_ceil(PGSIZE)).sum();
    // Our page tables for the mapped blocks, made while memory is free.
    for t in (BASE..BASE + (total + 1) * PGSIZE).step_by(PTSIZE) {
        sys_page_alloc(0, t, PTE_RW).map_err(|_| "a page table")?;
        let _ = sys_page_unmap(0, t);
    }
    let mut sample = jos::alloc::vec![0u8; PGSIZE];
    let mut hoard = Hoard::take();
    let hoarded = hoard.n;
    let mut nomem = 0;
    let mut mapped = 0;
    let mut result = Ok(());
    for (name, size) in files {
        let fd = match retry(&mut hoard, &mut nomem, || open(name, O_RDONLY)) {
            Ok(fd) => fd,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        for off in (0..*size).step_by(PGSIZE) {
            let va = BASE + mapped * PGSIZE;
            if let Err(e) = retry(&mut hoard, &mut nomem, || map_req(fd, off, va)) {
                result = Err(e);
                break;
            }
            mapped += 1;
        }
        let _ = close(fd);
        if result.is_err() {
            break;
        }
    }
    while hoard.give_one() {}
    if result.is_ok() {
        if first && nomem == 0 {
            result = Err("the server never ran out of memory");
        } else if first {
            cprintf!(
                "mapflood: hoarded {} pages; {} blocks of {} files (the per-env limit) mapped MAP_SHARED with memory full, after {} E_NO_MEM replies OK\n",
                hoarded,
                total,
                files.len(),
                nomem
            );
        }
    }
    // The server still serves, and each mapped page is its file's block
    // (the last page of each file, compared with what `read` gives).
    let motd = open("/newmotd", O_RDONLY).map_err(|_| "open /newmotd after the flood")?;
    let got = read(motd, &mut sample).map_err(|_| "read /newmotd after the flood")?;
    let _ = close(motd);
    if &sample[..got] != MSG {
        return Err("/newmotd read wrong after the flood");
    }
    if result.is_ok() {
        let mut at = 0;
        for (name, size) in files {
            at += size.div_ceil(PGSIZE);
            let last = (size - 1) / PGSIZE * PGSIZE;
            let fd = open(name, O_RDONLY).map_err(|_| "open a file again")?;
            seek(fd, last as u32).map_err(|_| "seek")?;
            let n = readn(fd, &mut sample[..size - last]).map_err(|_| "read")?;
            let _ = close(fd);
            let va = BASE + (at - 1) * PGSIZE;
            // SAFETY: va is our read-only shared mapping of that block.
            let page = unsafe { core::slice::from_raw_parts(va as *const u8, n) };
            if n != size - last || page != &sample[..n] {
                result = Err("a mapped page is not its file's block");
            }
        }
        if result.is_ok() && first {
            cprintf!("mapflood: the server still serves, every file's last page as read OK\n");
        }
    }
    for i in 0..total {
        let va = BASE + i * PGSIZE;
        if jos::uvpt::pte_of(va).is_some() {
            let _ = sys_page_unmap(0, va);
        }
    }
    let _ = jos::file::sync();
    result
}

fn umain(_args: &[&str]) {
    let mut failures = 0;
    // SAFETY: nothing else uses the request page; mapping it now means the
    // flood never needs a page for it.
    let _ = unsafe { fsipcbuf_as::<FsreqMap>() };
    let mut before = 0;
    let files = match flood_files() {
        Ok(files) => files,
        Err(e) => {
            cprintf!("mapflood: {} FAILED\n", e);
            return;
        }
    };
    for run in 0..2 {
        if run == 1 {
            before = jos::uvpt::unreferenced_pages();
        }
        // The flood made the server give up cached blocks; warming brings
        // them all back, the same set after each run (the first run's
        // 3-11 "leaked" pages were blocks cached again in the second).
        if let Err(e) = flood(&files, run == 0).and_then(|()| warm(&files)) {
            cprintf!("mapflood: {} FAILED\n", e);
            failures += 1;
        }
    }
    let after = jos::uvpt::unreferenced_pages();
    if before == after {
        cprintf!("mapflood: no page leaked OK\n");
    } else {
        cprintf!(
            "mapflood: {} pages free before the second run, {} after FAILED\n",
            before,
            after
        );
        failures += 1;
    }
    if failures == 0 {
        cprintf!("mapflood: OK\n");
    }
}
