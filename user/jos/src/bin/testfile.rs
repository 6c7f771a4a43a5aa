// make: FS=1
//! testfile: the file server's requests, first by hand (JOS's
//! user/testfile.c: open, stat, read, close, a stale file id, write, read
//! after write), then through file descriptors (`open`, `read`, `write`,
//! `close`), and a file large enough to need its indirect block. Run with
//! the file server: `make run-testfile-nox FS=1`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::{DEV_FILE, FDTABLE, FSREQ_OPEN, Fd, FsreqOpen, MAXPATHLEN};
use abi::fsipc::{O_CREAT, O_RDONLY, O_RDWR, O_WRONLY};
use abi::mmu::PGSIZE;
use jos::cprintf;
use jos::fd::{close, readn, write};
use jos::file::{
    devfile_close, devfile_read, devfile_stat, devfile_write, fsipc, fsipcbuf_as, open,
};
use jos::syscall::sys_page_unmap;

jos::main!(umain);

const MSG: &[u8] = b"This is the NEW message of the day!\n\n";
/// Where the by-hand opens put the file's Fd page.
const FVA: usize = 0xCCCC_C000;
/// Direct blocks per file (JOS's NDIRECT).
const NDIRECT: usize = 10;

/// Opens `path` by hand (no file descriptor): the Fd page lands at FVA.
fn xopen(path: &str, mode: u32) -> Result<(), Error> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqOpen>() };
    req.req_path = [0; MAXPATHLEN];
    req.req_path[..path.len()].copy_from_slice(path.as_bytes());
    req.req_omode = mode as i32;
    fsipc(FSREQ_OPEN, Some(FVA)).map(|_| ())
}

fn fva() -> &'static mut Fd {
    // SAFETY: FVA is mapped after a successful xopen; an Fd is integers.
    unsafe { &mut *(FVA as *mut Fd) }
}

/// The text in `buf` up to its first NUL.
fn cstr(buf: &[u8]) -> &[u8] {
    &buf[..buf.iter().position(|&b| b == 0).unwrap_or(buf.len())]
}

fn umain(_args: &[&str]) {
    match xopen("/not-found", O_RDONLY) {
        Err(Error::NotFound) => {}
        Err(e) => panic!("serve_open /not-found: {e}"),
        Ok(()) => panic!("serve_open /not-found succeeded!"),
    }
    if let Err(e) = xopen("/newmotd", O_RDONLY) {
        panic!("serve_open /newmotd: {e}");
    }
    let f = fva();
    if f.fd_dev_id != DEV_FILE || f.fd_offset != 0 || f.fd_omode != O_RDONLY as i32 {
        panic!("serve_open did not fill struct Fd correctly");
    }
    cprintf!("serve_open is good\n");

    match devfile_stat(fva()) {
        Ok(st) if st.size as usize == MSG.len() => {}
        Ok(st) => panic!("file_stat returned size {} wanted {}", st.size, MSG.len()),
        Err(e) => panic!("file_stat: {e}"),
    }
    cprintf!("file_stat is good\n");

    let mut buf = [0u8; 512];
    match devfile_read(fva(), &mut buf) {
        Ok(_) if cstr(&buf) == MSG => {}
        Ok(_) => panic!("file_read returned wrong data"),
        Err(e) => panic!("file_read: {e}"),
    }
    cprintf!("file_read is good\n");

    if let Err(e) = devfile_close(fva()) {
        panic!("file_close: {e}");
    }
    cprintf!("file_close is good\n");

    // A copy of the Fd: once its page is unmapped, the server must see the
    // id as stale.
    let copy = Fd {
        fd_dev_id: fva().fd_dev_id,
        fd_offset: fva().fd_offset,
        fd_omode: fva().fd_omode,
        fd_file_id: fva().fd_file_id,
    };
    let _ = sys_page_unmap(0, FVA);
    match devfile_read(&copy, &mut buf) {
        Err(Error::Inval) => {}
        r => panic!("serve_read does not handle stale fileids correctly: {r:?}"),
    }
    cprintf!("stale fileid is good\n");

    if let Err(e) = xopen("/new-file", O_RDWR | O_CREAT) {
        panic!("serve_open /new-file: {e}");
    }
    match devfile_write(fva(), MSG) {
        Ok(n) if n == MSG.len() => {}
        r => panic!("file_write: {r:?}"),
    }
    cprintf!("file_write is good\n");

    fva().fd_offset = 0;
    buf = [0; 512];
    match devfile_read(fva(), &mut buf) {
        Ok(n) if n != MSG.len() => panic!("file_read after file_write returned wrong length: {n}"),
        Ok(_) if cstr(&buf) != MSG => panic!("file_read after file_write returned wrong data"),
        Ok(_) => {}
        Err(e) => panic!("file_read after file_write: {e}"),
    }
    cprintf!("file_read after file_write is good\n");

    match open("/not-found", O_RDONLY) {
        Err(Error::NotFound) => {}
        Err(e) => panic!("open /not-found: {e}"),
        Ok(_) => panic!("open /not-found succeeded!"),
    }
    let n = match open("/newmotd", O_RDONLY) {
        Ok(n) => n,
        Err(e) => panic!("open /newmotd: {e}"),
    };
    // SAFETY: descriptor n's page is mapped (open succeeded).
    let fd = unsafe { &*((FDTABLE + n * PGSIZE) as *const Fd) };
    if fd.fd_dev_id != DEV_FILE || fd.fd_offset != 0 || fd.fd_omode != O_RDONLY as i32 {
        panic!("open did not fill struct Fd correctly");
    }
    cprintf!("open is good\n");

    // A file with indirect blocks.
    let f = match open("/big", O_WRONLY | O_CREAT) {
        Ok(f) => f,
        Err(e) => panic!("creat /big: {e}"),
    };
    buf = [0; 512];
    for i in (0..NDIRECT * 3 * 4096).step_by(buf.len()) {
        buf[..4].copy_from_slice(&(i as u32).to_le_bytes());
        if let Err(e) = write(f, &buf) {
            panic!("write /big@{i}: {e}");
        }
    }
    let _ = close(f);
    let f = match open("/big", O_RDONLY) {
        Ok(f) => f,
        Err(e) => panic!("open /big: {e}"),
    };
    for i in (0..NDIRECT * 3 * 4096).step_by(buf.len()) {
        match readn(f, &mut buf) {
            Ok(r) if r != buf.len() => {
                panic!("read /big from {i} returned {r} < {} bytes", buf.len())
            }
            Ok(_) => {}
            Err(e) => panic!("read /big@{i}: {e}"),
        }
        let got = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if got != i as u32 {
            panic!("read /big from {i} returned bad data {got}");
        }
    }
    let _ = close(f);
    cprintf!("large file is good\n");
}
