//! Files through the file server (JOS's lib/fd.c and lib/file.c): file
//! descriptors, one page each at FDTABLE + n * PGSIZE, and the file device,
//! whose operations are requests to the file server over IPC
//! (`abi::fsipc`). The Fd page of an open file is shared with the server
//! (PTE_SHARE): both see its offset.
//!
//! So far only files (no console or pipe devices) and no `dup`. The open
//! modes (`O_RDONLY`, `O_CREAT`, ...) are `abi::fsipc`'s.
use crate::syscall::sys_page_unmap;
use crate::uvpt::pte_of;
use abi::env::{ENV_TYPE_FS, EnvId};
use abi::error::{Error, Result};
use abi::fsipc::*;
use abi::memlayout::UTOP;
use abi::mmu::{PGSIZE, PteFlags};
use core::sync::atomic::{AtomicI32, Ordering};

/// The page requests are written into (JOS's `fsipcbuf`).
#[repr(C, align(4096))]
pub struct FsipcBuf(pub [u8; PGSIZE]);

/// The request page. Written only between a request and its reply.
static mut FSIPCBUF: FsipcBuf = FsipcBuf([0; PGSIZE]);

/// The request page's address.
pub fn fsipcbuf() -> usize {
    (&raw const FSIPCBUF) as usize
}

/// The request page, as request type `T`.
///
/// # Safety
/// No other reference to the page may be live; `T` must be a plain type
/// from `abi::fsipc` (valid for any bytes, at most a page).
pub unsafe fn fsipcbuf_as<T>() -> &'static mut T {
    // SAFETY: the caller's promise; the page is aligned for any of them.
    unsafe { &mut *((&raw mut FSIPCBUF) as *mut T) }
}

/// The file server's env id, found once (JOS keeps it in a static too);
/// looked up again only if that env is gone. E_BAD_ENV if there is none.
pub fn fsenv() -> Result<EnvId> {
    static FSENV: AtomicI32 = AtomicI32::new(0);
    let id = FSENV.load(Ordering::Relaxed);
    if id != 0 && crate::env::env_status(id) != abi::env::ENV_FREE {
        return Ok(id);
    }
    let id = crate::ipc_find_env(ENV_TYPE_FS).ok_or(Error::BadEnv)?;
    FSENV.store(id, Ordering::Relaxed);
    Ok(id)
}

/// Sends request `req` (already in the request page) to the file server
/// and waits for the reply; a page in the reply goes at `dstva` (if
/// given). Returns the reply's value, or its error.
pub fn fsipc(req: u32, dstva: Option<usize>) -> Result<u32> {
    let fs = fsenv()?;
    let perm = PteFlags::P | PteFlags::U | PteFlags::W;
    crate::syscall::sys_ipc_send(fs, req, fsipcbuf(), perm)?;
    let m = crate::ipc_recv(dstva)?;
    let v = m.value as i32;
    if v < 0 {
        Err(Error::from_code(v).unwrap_or(Error::Unspecified))
    } else {
        Ok(m.value)
    }
}

/// The Fd page of file descriptor `n`.
fn fd_va(n: usize) -> usize {
    FDTABLE + n * PGSIZE
}

/// The Fd of open file descriptor `n`: E_INVAL if `n` is out of range or
/// not open.
pub fn fd_lookup(n: usize) -> Result<&'static mut Fd> {
    if n >= MAXFD || pte_of(fd_va(n)).is_none() {
        return Err(Error::Inval);
    }
    // SAFETY: the page is mapped (just checked); an Fd is integers.
    Ok(unsafe { &mut *(fd_va(n) as *mut Fd) })
}

/// The lowest file descriptor not in use: E_MAX_OPEN if none.
fn fd_alloc() -> Result<usize> {
    (0..MAXFD)
        .find(|&n| pte_of(fd_va(n)).is_none())
        .ok_or(Error::MaxOpen)
}

/// Opens `path` with O_* flags `mode`; returns the file descriptor.
/// Errors from the server (E_NOT_FOUND, E_BAD_PATH, E_FILE_EXISTS, ...),
/// E_BAD_PATH for a path too long, E_MAX_OPEN with no descriptor free.
pub fn open(path: &str, mode: u32) -> Result<usize> {
    if path.len() >= MAXPATHLEN {
        return Err(Error::BadPath);
    }
    let n = fd_alloc()?;
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqOpen>() };
    req.req_path = [0; MAXPATHLEN];
    req.req_path[..path.len()].copy_from_slice(path.as_bytes());
    req.req_omode = mode as i32;
    fsipc(FSREQ_OPEN, Some(fd_va(n)))?;
    Ok(n)
}

/// The file device's read: up to `buf.len()` bytes (at most a page) at
/// the Fd's offset, which the server advances. Returns the bytes read.
pub fn devfile_read(fd: &Fd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqRead>() };
    req.req_fileid = fd.fd_file_id;
    req.req_n = buf.len().min(PGSIZE) as u32;
    let n = (fsipc(FSREQ_READ, None)? as usize)
        .min(buf.len())
        .min(PGSIZE);
    // SAFETY: the reply is in the request page.
    let ret = unsafe { fsipcbuf_as::<FsretRead>() };
    buf[..n].copy_from_slice(&ret.ret_buf[..n]);
    Ok(n)
}

/// The file device's write: up to a page less 8 bytes of `buf` at the
/// Fd's offset. Returns the bytes written.
pub fn devfile_write(fd: &Fd, buf: &[u8]) -> Result<usize> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqWrite>() };
    let n = buf.len().min(req.req_buf.len());
    req.req_fileid = fd.fd_file_id;
    req.req_n = n as u32;
    req.req_buf[..n].copy_from_slice(&buf[..n]);
    Ok(fsipc(FSREQ_WRITE, None)? as usize)
}

/// What `fstat` says about a file.
pub struct Stat {
    /// Its name (NUL-padded).
    pub name: [u8; MAXNAMELEN],
    /// Its size in bytes.
    pub size: u32,
    /// Whether it is a directory.
    pub isdir: bool,
}

/// The file device's stat.
pub fn devfile_stat(fd: &Fd) -> Result<Stat> {
    // SAFETY: the request page is ours until the reply.
    unsafe { fsipcbuf_as::<FsreqFileid>() }.req_fileid = fd.fd_file_id;
    fsipc(FSREQ_STAT, None)?;
    // SAFETY: the reply is in the request page.
    let ret = unsafe { fsipcbuf_as::<FsretStat>() };
    Ok(Stat {
        name: ret.ret_name,
        size: ret.ret_size as u32,
        isdir: ret.ret_isdir != 0,
    })
}

/// The file device's close: flushes the file (the server writes its
/// blocks back). The caller unmaps the Fd page.
pub fn devfile_close(fd: &Fd) -> Result<()> {
    // SAFETY: the request page is ours until the reply.
    unsafe { fsipcbuf_as::<FsreqFileid>() }.req_fileid = fd.fd_file_id;
    fsipc(FSREQ_FLUSH, None).map(|_| ())
}

/// Sets the size of the file behind `fd`.
pub fn devfile_trunc(fd: &Fd, size: u32) -> Result<()> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqSetSize>() };
    req.req_fileid = fd.fd_file_id;
    req.req_size = size as i32;
    fsipc(FSREQ_SET_SIZE, None).map(|_| ())
}

/// Reads up to `buf.len()` bytes from file descriptor `n` (at most a page
/// per call); returns how many (0 at the end). E_INVAL for a bad `n` or a
/// file not open for reading.
pub fn read(n: usize, buf: &mut [u8]) -> Result<usize> {
    let fd = fd_lookup(n)?;
    if fd.fd_omode as u32 & O_ACCMODE == O_WRONLY {
        return Err(Error::Inval);
    }
    devfile_read(fd, buf)
}

/// Reads exactly `buf.len()` bytes unless the file ends first; returns how
/// many.
pub fn readn(n: usize, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let m = read(n, &mut buf[got..])?;
        if m == 0 {
            break;
        }
        got += m;
    }
    Ok(got)
}

/// Writes all of `buf` to file descriptor `n` (in page-sized requests);
/// returns how many bytes were written. E_INVAL for a bad `n` or a file
/// not open for writing.
pub fn write(n: usize, buf: &[u8]) -> Result<usize> {
    let fd = fd_lookup(n)?;
    if fd.fd_omode as u32 & O_ACCMODE == O_RDONLY {
        return Err(Error::Inval);
    }
    let mut put = 0;
    while put < buf.len() {
        let m = devfile_write(fd, &buf[put..])?;
        if m == 0 {
            break;
        }
        put += m;
    }
    Ok(put)
}

/// Moves file descriptor `n`'s offset to `offset`.
pub fn seek(n: usize, offset: u32) -> Result<()> {
    fd_lookup(n)?.fd_offset = offset as i32;
    Ok(())
}

/// Name, size and type of the file behind descriptor `n`.
pub fn fstat(n: usize) -> Result<Stat> {
    devfile_stat(fd_lookup(n)?)
}

/// Sets the size of the file behind descriptor `n`.
pub fn ftruncate(n: usize, size: u32) -> Result<()> {
    devfile_trunc(fd_lookup(n)?, size)
}

/// Closes file descriptor `n`: the server flushes the file, and the Fd
/// page goes.
pub fn close(n: usize) -> Result<()> {
    let fd = fd_lookup(n)?;
    let r = devfile_close(fd);
    sys_page_unmap(0, fd_va(n))?;
    r
}

/// Removes the file at `path`.
pub fn remove(path: &str) -> Result<()> {
    if path.len() >= MAXPATHLEN {
        return Err(Error::BadPath);
    }
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqPath>() };
    req.req_path = [0; MAXPATHLEN];
    req.req_path[..path.len()].copy_from_slice(path.as_bytes());
    fsipc(FSREQ_REMOVE, None).map(|_| ())
}

/// Asks the server to write every dirty block back to disk.
pub fn sync() -> Result<()> {
    fsipc(FSREQ_SYNC, None).map(|_| ())
}

const _: () = assert!(UTOP > FDTABLE + MAXFD * PGSIZE);
