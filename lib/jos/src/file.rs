//! Files through the file server (JOS's lib/file.c): `open`, `remove`,
//! `sync`, and the file device, whose operations are requests to the file
//! server over IPC (`abi::fsipc`). The Fd page of an open file (a file
//! descriptor: see `fd.rs`, which reads, writes and closes it) is shared
//! with the server (PTE_SHARE): both see its offset.
//!
//! The open modes (`O_RDONLY`, `O_CREAT`, ...) are `abi::fsipc`'s.
use crate::fd::{Dev, Stat, fd_alloc, index2fd};
use crate::syscall::sys_page_alloc;
use crate::uvpt::pte_of;
use abi::env::{ENV_TYPE_FS, EnvId};
use abi::error::{Error, Result};
use abi::fsipc::*;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use core::sync::atomic::{AtomicI32, Ordering};

/// The page requests are written into (JOS's `fsipcbuf`, there a
/// static): a page of its own just above the fd data pages, mapped on
/// first use, so that a program that never uses files does not carry it
/// in its bss (every program links the file device: `exit` closes all
/// descriptors).
pub const FSIPCBUF: usize = FILEDATA + MAXFD * PGSIZE;

/// The request page of the page-fault path (a file mapping's handler asks
/// for its page with FSREQ_MAP there): a fault can come while FSIPCBUF
/// holds a request half written (`write(fd, mapped, n)` copies from the
/// mapping into FSIPCBUF), so the handler never uses FSIPCBUF.
pub const FSIPCBUF_FAULT: usize = FSIPCBUF + PGSIZE;

/// Maps request page `buf` if it is not mapped writable yet: a fresh page
/// also replaces a copy-on-write one (after fork), since its old bytes do
/// not matter; copying it through a COW fault would nest a second fault
/// in the fault path, and the exception stack is one page. E_NO_MEM if out
/// of memory.
fn request_page_map(buf: usize) -> Result<()> {
    if !pte_of(buf).is_some_and(|p| p.flags().contains(PteFlags::W)) {
        sys_page_alloc(0, buf, PTE_RW)?;
    }
    Ok(())
}

/// Maps the request page if it is not mapped yet. E_NO_MEM if out of
/// memory.
fn fsipcbuf_map() -> Result<()> {
    request_page_map(FSIPCBUF)
}

/// Maps the request page if it is not mapped yet; panics if out of
/// memory. One copy (not inlined into each `fsipcbuf_as`, with its panic).
#[inline(never)]
fn fsipcbuf_map_or_panic() {
    if let Err(e) = fsipcbuf_map() {
        panic!("mapping the file request page: {e}");
    }
}

/// The request page's address.
pub fn fsipcbuf() -> usize {
    FSIPCBUF
}

/// The request page, as request type `T`, mapped first if it is not yet
/// (the library's own requests map it first and return E_NO_MEM if they
/// cannot). Panics if it cannot be mapped (out of memory).
///
/// # Safety
/// No other reference to the page may be live; `T` must be a plain type
/// from `abi::fsipc` (valid for any bytes, at most a page).
pub unsafe fn fsipcbuf_as<T>() -> &'static mut T {
    fsipcbuf_map_or_panic();
    // SAFETY: the page is mapped, writable and page-aligned; no other
    // reference to it is live (the caller's promise).
    unsafe { &mut *(FSIPCBUF as *mut T) }
}

/// The address of descriptor `fd`'s page (the Fd is at its start), which
/// the server checks we map (see `abi::fsipc::fsreq_fd`).
fn fd_va(fd: &Fd) -> usize {
    fd as *const Fd as usize
}

/// The file device: each operation is a request to the file server.
pub static DEVFILE: Dev = Dev {
    dev_id: DEV_FILE,
    dev_name: "file",
    dev_read: devfile_read,
    dev_write: devfile_write,
    dev_close: devfile_close,
    dev_stat: devfile_stat,
    dev_trunc: Some(devfile_trunc),
};

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
    fsipc_via(FSIPCBUF, req, dstva)
}

/// [`fsipc`] with the request in page `buf` (FSIPCBUF, or FSIPCBUF_FAULT
/// for the fault path), mapped first if it is not.
fn fsipc_via(buf: usize, req: u32, dstva: Option<usize>) -> Result<u32> {
    request_page_map(buf)?;
    fs_call(
        req,
        Some(buf),
        PteFlags::P | PteFlags::U | PteFlags::W,
        dstva,
    )
}

/// Sends the file server `value` (with the page at `page`, if any, with
/// `perm`) and waits for its answer, as one call (`ipc_call`): the answer
/// is believed only from the server asked, and a server that dies meanwhile
/// ends the wait. A page in the answer goes at `dstva`. Returns the
/// answer's value; its error code as an error, or E_BAD_ENV with no file
/// server (or one that died before answering).
pub fn fs_call(
    value: u32,
    page: Option<usize>,
    perm: PteFlags,
    dstva: Option<usize>,
) -> Result<u32> {
    let m = crate::ipc::ipc_call(fsenv()?, value, page, perm, dstva)?;
    abi::error::result_from_ret(m.value as i32).map(|v| v as u32)
}

/// Writes `path`, resolved from the current directory (`cwd`), into a
/// request's path field, NUL-terminated. E_BAD_PATH if it does not fit.
pub(crate) fn put_path(field: &mut [u8; MAXPATHLEN], path: &str) -> Result<()> {
    let n = crate::cwd::resolve_into(path, &mut field[..MAXPATHLEN - 1])?;
    // Resolving writes past its result (a component `..` took out): the
    // server reads up to the first NUL.
    field[n..].fill(0);
    Ok(())
}

/// Opens `path` (relative to the current directory unless it starts with
/// `/`) with O_* flags `mode`; returns the file descriptor. Errors from
/// the server (E_NOT_FOUND, E_BAD_PATH, E_FILE_EXISTS, ...), E_BAD_PATH
/// for a path too long, E_MAX_OPEN with no descriptor free.
pub fn open(path: &str, mode: u32) -> Result<usize> {
    let n = fd_alloc()?;
    fsipcbuf_map()?;
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqOpen>() };
    put_path(&mut req.req_path, path)?;
    req.req_omode = mode as i32;
    // The server's reply maps the file's Fd page (shared) at n's address.
    fsipc(FSREQ_OPEN, Some(index2fd(n)))?;
    Ok(n)
}

/// The file device's read: up to `buf.len()` bytes (at most a page) at
/// the Fd's offset, which the server advances. Returns the bytes read.
pub fn devfile_read(fd: &Fd, buf: &mut [u8]) -> Result<usize> {
    fsipcbuf_map()?;
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqRead>() };
    req.req_fileid = fd.fd_file_id;
    req.req_n = buf.len().min(PGSIZE) as u32;
    let n = (fsipc(fsreq_fd(FSREQ_READ, fd_va(fd)), None)? as usize)
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
    fsipcbuf_map()?;
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqWrite>() };
    let n = buf.len().min(req.req_buf.len());
    req.req_fileid = fd.fd_file_id;
    req.req_n = n as u32;
    req.req_buf[..n].copy_from_slice(&buf[..n]);
    Ok(fsipc(fsreq_fd(FSREQ_WRITE, fd_va(fd)), None)? as usize)
}

/// The file device's stat.
pub fn devfile_stat(fd: &Fd) -> Result<Stat> {
    fsipcbuf_map()?;
    // SAFETY: the request page is ours until the reply.
    unsafe { fsipcbuf_as::<FsreqFileid>() }.req_fileid = fd.fd_file_id;
    fsipc(fsreq_fd(FSREQ_STAT, fd_va(fd)), None)?;
    // SAFETY: the reply is in the request page.
    let ret = unsafe { fsipcbuf_as::<FsretStat>() };
    Ok(Stat {
        name: ret.ret_name,
        size: ret.ret_size as u32,
        isdir: ret.ret_isdir != 0,
        dev: &DEVFILE,
    })
}

/// The file device's close: flushes the file (the server writes its
/// blocks back). The caller unmaps the Fd page; the server sees the file
/// closed once no env maps that page any more.
pub fn devfile_close(fd: &Fd) -> Result<()> {
    devfile_flush(fd)
}

/// FSREQ_FLUSH of the file behind `fd`: its blocks (and every block
/// clients map writable) go to disk.
fn devfile_flush(fd: &Fd) -> Result<()> {
    fsipcbuf_map()?;
    // SAFETY: the request page is ours until the reply.
    unsafe { fsipcbuf_as::<FsreqFileid>() }.req_fileid = fd.fd_file_id;
    fsipc(fsreq_fd(FSREQ_FLUSH, fd_va(fd)), None).map(|_| ())
}

/// Sets the size of the file behind `fd`.
pub fn devfile_trunc(fd: &Fd, size: u32) -> Result<()> {
    fsipcbuf_map()?;
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqSetSize>() };
    req.req_fileid = fd.fd_file_id;
    req.req_size = size as i32;
    fsipc(fsreq_fd(FSREQ_SET_SIZE, fd_va(fd)), None).map(|_| ())
}

/// Removes the file (or empty directory) at `path` (relative to the
/// current directory unless it starts with `/`). The server's errors
/// (E_NOT_FOUND, E_BAD_PATH for the root, E_FILE_EXISTS for a directory
/// that is not empty, ...), E_BAD_PATH for a path too long.
pub fn remove(path: &str) -> Result<()> {
    fsipcbuf_map()?;
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqPath>() };
    put_path(&mut req.req_path, path)?;
    fsipc(FSREQ_REMOVE, None).map(|_| ())
}

/// Asks the file server for page `offset` (page-aligned) of the file open
/// as `fd`, for a memory mapping, and has it mapped at `va` (FSREQ_MAP,
/// through the fault path's own request page): `flags` are FSMAP_*
/// bits. Returns Ok once the page is mapped there; the server's error
/// otherwise (E_EOF for a page wholly past the end of the file, E_INVAL
/// for a closed or forgotten file or a mode that does not allow it),
/// E_NO_MEM if no request page can be had.
pub fn map_page(fd: &Fd, offset: usize, flags: u32, va: usize) -> Result<()> {
    request_page_map(FSIPCBUF_FAULT)?;
    // SAFETY: FSIPCBUF_FAULT is mapped writable (just above) and
    // page-aligned, and used by this function alone, which does not nest.
    let req = unsafe { &mut *(FSIPCBUF_FAULT as *mut FsreqMap) };
    req.req_fileid = fd.fd_file_id;
    req.req_offset = offset as u32;
    req.req_flags = flags;
    fsipc_via(FSIPCBUF_FAULT, fsreq_fd(FSREQ_MAP, fd_va(fd)), Some(va))?;
    if pte_of(va).is_none() {
        return Err(Error::Unspecified);
    }
    Ok(())
}

/// Makes the file behind `fd` durable (FSREQ_FLUSH): the server commits
/// its write-ahead log, so the file's bytes and size, and every change
/// made before, survive a crash from now on; with the file mapped
/// MAP_SHARED, the pages clients store into are written too. Returns once
/// they are on disk. E_INVAL if `fd` is not an open file; the server's
/// error if the disk fails.
pub fn fsync(fd: usize) -> Result<()> {
    let fd = crate::fd::fd_lookup(fd)?;
    if fd.fd_dev_id != DEV_FILE {
        return Err(Error::Inval);
    }
    devfile_flush(fd)
}

/// Makes every change so far durable: the server commits its write-ahead
/// log and writes the pages clients map MAP_SHARED. Returns once they are
/// on disk; the server's error if the disk fails.
pub fn sync() -> Result<()> {
    fsipc(FSREQ_SYNC, None).map(|_| ())
}
