//! File descriptors (JOS's lib/fd.c): one table for files, the console
//! and pipes.
//!
//! File descriptor `n` is a page of our address space, its *Fd page*, at
//! FDTABLE + n * PGSIZE, holding an `abi::fsipc::Fd` (which device, open
//! mode, offset, and for a file the server's id). A descriptor is open
//! exactly when its page is mapped. Next to it, each descriptor has a
//! *data page* at FILEDATA + n * PGSIZE that its device may use (a pipe
//! keeps its buffer there; files and the console leave it unmapped):
//!
//! ```text
//!   FDTABLE   0xD0000000   Fd page of fd 0, 1, ... 31       (one page each)
//!   FILEDATA  0xD0020000   data page of fd 0, 1, ... 31     (if the device has one)
//!   FSIPCBUF  0xD0040000   the file-server request page     (file.rs; mapped when used)
//!             0xD0041000   the fault path's request page    (file.rs FSIPCBUF_FAULT: file mappings)
//!   NSIPCBUF  0xD0042000   the network-server request page  (net/nsipc.rs; mapped when used)
//! ```
//!
//! Both are mapped PTE_SHARE, so `fork` (and `spawn`) give a child the same
//! physical pages: parent and child then share the offset, as Unix
//! processes share an open file after fork. `dup(old, new)` maps the same
//! pages again at `new`'s addresses. So the kernel's reference count of a
//! page says how many descriptors, in all environments, refer to it; pipes
//! rely on that to notice that their other end is closed (see `pipe.rs`),
//! and that is why the order of the two mappings matters: a data page is
//! mapped before its Fd page, and unmapped after it.
//!
//! Every operation finds the descriptor's device in a small table (JOS's
//! `devtab`) by the id in its Fd page and calls the device's function.
use crate::console::DEVCONS;
use crate::file::{DEVFILE, open};
use crate::net::sockets::DEVSOCK;
use crate::pipe::DEVPIPE;
use crate::syscall::{sys_page_map, sys_page_unmap};
use crate::uvpt::pte_of;
use abi::error::{Error, Result};
use abi::fsipc::{FDTABLE, FILEDATA, Fd, MAXFD, MAXNAMELEN, O_ACCMODE, O_RDONLY, O_WRONLY};
use abi::mmu::{PGSIZE, PteFlags};

/// A device: what the operations on a file descriptor do (JOS's
/// `struct Dev`). Each gets the descriptor's Fd.
pub struct Dev {
    /// The id in `Fd::fd_dev_id` (`DEV_FILE`, `DEV_CONS`, `DEV_PIPE`).
    pub dev_id: i32,
    /// A name, for messages.
    pub dev_name: &'static str,
    /// Reads up to `buf.len()` bytes; returns how many (0: end of file).
    pub dev_read: fn(&Fd, &mut [u8]) -> Result<usize>,
    /// Writes some of `buf`; returns how many bytes (0: no more can be).
    pub dev_write: fn(&Fd, &[u8]) -> Result<usize>,
    /// Called when the descriptor is closed, before its pages go.
    pub dev_close: fn(&Fd) -> Result<()>,
    /// Name, size and type of what the descriptor refers to.
    pub dev_stat: fn(&Fd) -> Result<Stat>,
    /// Sets the size (files only; None: E_NOT_SUPP).
    pub dev_trunc: Option<fn(&Fd, u32) -> Result<()>>,
}

/// The devices (JOS's `devtab`).
static DEVTAB: [&Dev; 4] = [&DEVFILE, &DEVPIPE, &DEVCONS, &DEVSOCK];

/// What `fstat` says (JOS's `struct Stat`).
pub struct Stat {
    /// Its name, NUL-padded (`<cons>` and `<pipe>` for those devices).
    pub name: [u8; MAXNAMELEN],
    /// Its size in bytes (for a pipe: the bytes waiting in it).
    pub size: u32,
    /// Whether it is a directory.
    pub isdir: bool,
    /// Its device.
    pub dev: &'static Dev,
}

impl Stat {
    /// Returns a Stat for `name` (cut to fit) of size 0 on device `dev`.
    pub fn new(name: &str, dev: &'static Dev) -> Stat {
        let mut st = Stat {
            name: [0; MAXNAMELEN],
            size: 0,
            isdir: false,
            dev,
        };
        let n = name.len().min(MAXNAMELEN - 1);
        st.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        st
    }

    /// Returns the name up to its NUL ("?" if it is not UTF-8).
    pub fn name_str(&self) -> &str {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(MAXNAMELEN);
        core::str::from_utf8(&self.name[..n]).unwrap_or("?")
    }
}

/// Returns the device with id `dev_id`: E_INVAL (after a message, as in
/// JOS) if there is none.
pub fn dev_lookup(dev_id: i32) -> Result<&'static Dev> {
    match DEVTAB.iter().find(|d| d.dev_id == dev_id) {
        Some(dev) => Ok(dev),
        None => {
            crate::cprintf!(
                "[{:08x}] unknown device type {}\n",
                crate::env::thisenv_id(),
                dev_id
            );
            Err(Error::Inval)
        }
    }
}

/// Returns the address of file descriptor `n`'s Fd page (JOS's INDEX2FD).
pub const fn index2fd(n: usize) -> usize {
    FDTABLE + n * PGSIZE
}

/// Returns the address of file descriptor `n`'s data page (JOS's
/// INDEX2DATA).
pub const fn index2data(n: usize) -> usize {
    FILEDATA + n * PGSIZE
}

/// Returns the number of the descriptor whose Fd page `fd` is in.
pub fn fd2num(fd: &Fd) -> usize {
    (fd as *const Fd as usize - FDTABLE) / PGSIZE
}

/// Returns the address of the data page of the descriptor `fd` is.
pub fn fd2data(fd: &Fd) -> usize {
    index2data(fd2num(fd))
}

/// Returns the lowest descriptor number not in use (its Fd page not
/// mapped); maps nothing, so the caller maps the Fd page itself (two calls
/// in a row return the same number). E_MAX_OPEN if all are in use.
pub fn fd_alloc() -> Result<usize> {
    (0..MAXFD)
        .find(|&n| pte_of(index2fd(n)).is_none())
        .ok_or(Error::MaxOpen)
}

/// Returns the Fd of open descriptor `n`: E_INVAL if `n` is out of range or
/// not open. The reference is good until the descriptor is closed; the
/// page is shared with other environments (after fork) and, for a file,
/// with the file server, which moves `fd_offset`. Not inlined: it is
/// called from every descriptor operation.
#[inline(never)]
pub fn fd_lookup(n: usize) -> Result<&'static Fd> {
    if n >= MAXFD || pte_of(index2fd(n)).is_none() {
        return Err(Error::Inval);
    }
    // SAFETY: the page is mapped (just checked) and holds an Fd (plain
    // integers, valid for any bytes); we only read through the reference.
    Ok(unsafe { &*(index2fd(n) as *const Fd) })
}

/// Closes descriptor `n`: tells its device, then unmaps its Fd page and
/// then its data page (in that order: see the module comment). If `n` is
/// not open: E_INVAL if `must_exist`, else Ok and nothing is done. Returns
/// the device's error, if any (the pages go anyway).
pub fn fd_close(n: usize, must_exist: bool) -> Result<()> {
    let fd = match fd_lookup(n) {
        Ok(fd) => fd,
        Err(e) if must_exist => return Err(e),
        Err(_) => return Ok(()),
    };
    let r = dev_lookup(fd.fd_dev_id).and_then(|dev| (dev.dev_close)(fd));
    let _ = sys_page_unmap(0, index2fd(n));
    if pte_of(index2data(n)).is_some() {
        let _ = sys_page_unmap(0, index2data(n));
    }
    r
}

/// Closes descriptor `n`. E_INVAL if it is not open; a device's error
/// (a file's flush) otherwise.
pub fn close(n: usize) -> Result<()> {
    fd_close(n, true)
}

/// Closes every open descriptor, ignoring errors (`exit` calls it).
pub fn close_all() {
    for n in 0..MAXFD {
        let _ = fd_close(n, false);
    }
}

/// Makes descriptor `newfd` a duplicate of `oldfd` (JOS's `dup`): `newfd`
/// is closed first if open, then maps the same data page (if any) and Fd
/// page as `oldfd`, shared, so both see one offset, one pipe. Returns
/// `newfd`. `dup(n, n)` does nothing and returns n. E_INVAL if `oldfd` is
/// not open or `newfd` out of range; E_NO_MEM if a page table cannot be
/// made (then `newfd` is left closed).
pub fn dup(oldfd: usize, newfd: usize) -> Result<usize> {
    fd_lookup(oldfd)?;
    if newfd >= MAXFD {
        return Err(Error::Inval);
    }
    if newfd == oldfd {
        return Ok(newfd);
    }
    let _ = fd_close(newfd, false);
    // The data page first: a reader of the reference counts must never see
    // the new Fd page counted without its data page (see pipe.rs).
    let mut r = Ok(());
    if let Some(pte) = pte_of(index2data(oldfd)) {
        let perm = pte.flags() & PteFlags::SYSCALL;
        r = sys_page_map(0, index2data(oldfd), 0, index2data(newfd), perm);
    }
    if r.is_ok() {
        r = match pte_of(index2fd(oldfd)) {
            Some(pte) => {
                let perm = pte.flags() & PteFlags::SYSCALL;
                sys_page_map(0, index2fd(oldfd), 0, index2fd(newfd), perm)
            }
            None => Err(Error::Inval),
        };
    }
    if let Err(e) = r {
        let _ = sys_page_unmap(0, index2fd(newfd));
        let _ = sys_page_unmap(0, index2data(newfd));
        return Err(e);
    }
    Ok(newfd)
}

/// Returns descriptor `n` and its device, if it is open and its access
/// mode is not `forbidden_mode` (O_WRONLY to read, O_RDONLY to write).
/// E_INVAL if it is not open or its mode is the forbidden one.
fn fd_for(n: usize, forbidden_mode: u32) -> Result<(&'static Fd, &'static Dev)> {
    let fd = fd_lookup(n)?;
    let dev = dev_lookup(fd.fd_dev_id)?;
    if fd.fd_omode as u32 & O_ACCMODE == forbidden_mode {
        return Err(Error::Inval);
    }
    Ok((fd, dev))
}

/// Reads up to `buf.len()` bytes from descriptor `n` with one call to its
/// device (a file gives at most a page, the console one character, a pipe
/// what is there once something is); returns how many, 0 at the end of
/// file. E_INVAL if `n` is not open or was opened write-only; the device's
/// error otherwise.
pub fn read(n: usize, buf: &mut [u8]) -> Result<usize> {
    let (fd, dev) = fd_for(n, O_WRONLY)?;
    (dev.dev_read)(fd, buf)
}

/// Reads until `buf` is full or the end of file; returns how many bytes.
/// Errors as for [`read`] (bytes read before an error are lost).
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

/// Writes `buf` to descriptor `n`, calling its device until all is written
/// or it writes nothing (a full disk, a pipe whose reader is gone); returns
/// how many bytes were written. E_INVAL if `n` is not open or was opened
/// read-only; the device's error otherwise.
pub fn write(n: usize, buf: &[u8]) -> Result<usize> {
    let (fd, dev) = fd_for(n, O_RDONLY)?;
    let mut put = 0;
    while put < buf.len() {
        let m = (dev.dev_write)(fd, &buf[put..])?;
        if m == 0 {
            break;
        }
        put += m;
    }
    Ok(put)
}

/// Moves descriptor `n`'s offset (shared by its duplicates) to `offset`.
/// E_INVAL if `n` is not open.
pub fn seek(n: usize, offset: u32) -> Result<()> {
    fd_lookup(n)?;
    let fd = index2fd(n) as *mut Fd;
    // SAFETY: the Fd page is mapped (just checked) and writable; volatile,
    // since other environments sharing it read and write it too.
    unsafe { (&raw mut (*fd).fd_offset).write_volatile(offset as i32) };
    Ok(())
}

/// Returns the name, size and type of what descriptor `n` refers to.
/// E_INVAL if it is not open; the device's error otherwise.
pub fn fstat(n: usize) -> Result<Stat> {
    let fd = fd_lookup(n)?;
    (dev_lookup(fd.fd_dev_id)?.dev_stat)(fd)
}

/// Returns the name, size and type of the file at `path` (opened and
/// closed again). The file server's errors (E_NOT_FOUND, ...).
pub fn stat(path: &str) -> Result<Stat> {
    let n = open(path, O_RDONLY)?;
    let r = fstat(n);
    let _ = close(n);
    r
}

/// Sets the size of the file behind descriptor `n`. E_INVAL if `n` is not
/// open or was opened read-only, E_NOT_SUPP for the console and pipes.
pub fn ftruncate(n: usize, size: u32) -> Result<()> {
    let (fd, dev) = fd_for(n, O_RDONLY)?;
    (dev.dev_trunc.ok_or(Error::NotSupp)?)(fd, size)
}

const _: () = assert!(index2data(MAXFD) <= abi::memlayout::UTOP);
