//! The file server's requests (JOS's fs/serv.c): open files, and the
//! IPC loop that serves them. Every request is hostile until checked: a
//! file id must name a file the sender holds (its Fd page, which we share
//! with the opener, mapped by the sender at the descriptor it names),
//! paths must be NUL-terminated within MAXPATHLEN,
//! counts are clamped to what a page holds, offsets must be in range. A
//! file removed or replaced while open is forgotten (its id gives
//! E_INVAL); one renamed while open stays open.
use crate::bc::{self, CacheDisk, pageref};
use crate::fmap;
use crate::pager::Pager;
use crate::quota;
use crate::swap::Swap;
use abi::env::EnvId;
use abi::error::{Error, Result};
use abi::fsipc::*;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use core::sync::atomic::{AtomicUsize, Ordering};
use jos::cprintf;
use jos::syscall::{sys_ipc_recv, sys_ipc_try_send, sys_page_check, sys_page_unmap};
use jos::uvpt::pte_of;
use josfs::fs::{FileRef, Fs};

/// Open files at most (JOS's MAXOPEN).
pub const MAXOPEN: usize = 1024;
/// Where the open files' Fd pages are in the server.
const FILEVA: usize = 0xD000_0000;
/// Where a request page arrives.
const FSREQ: usize = 0x0FFF_F000;

/// One open file.
#[derive(Clone, Copy)]
struct OpenFile {
    /// Its id: the slot, plus MAXOPEN each time the slot is reused (so a
    /// stale id from a closed file is caught).
    fileid: i32,
    /// Where its File is on disk.
    file: Option<FileRef>,
    /// The mode it was opened with.
    mode: u32,
}

/// Who asks: the env a request came from, and where it says it maps the
/// descriptor of the file the request is about (see
/// `abi::fsipc::fsreq_fd`).
#[derive(Clone, Copy)]
pub struct Client {
    /// The requester.
    pub env: EnvId,
    /// Where it maps the file's Fd page, if it said.
    pub fd_va: Option<usize>,
}

/// The server's state.
pub struct Server {
    fs: Fs<CacheDisk>,
    open: jos::alloc::vec::Vec<OpenFile>,
    pager: Pager,
    swap: Swap,
}

/// One past the highest open-file slot whose Fd page we may map (the
/// slots above it have none): how far `openfile_alloc` looks.
static FD_HI: AtomicUsize = AtomicUsize::new(0);

/// The Fd page of open-file slot `i`.
fn fd_va(i: usize) -> usize {
    FILEVA + i * PGSIZE
}

/// Sends the reply to `whom`, once: an honest client asks with
/// `ipc_call` (jos::file::fs_call), which waits for our answer from the
/// moment we took its request, so it takes the reply now. A client that
/// is not waiting for it (one that sent its request with a plain send and
/// went on, or was given new registers since) loses its reply: the server
/// never waits for a client, whatever it does.
///
/// A reply whose page cannot be mapped in the client (no memory for a
/// page table there) goes out as E_NO_MEM without it, so the client is
/// not left waiting.
fn reply(whom: abi::env::EnvId, value: u32, va: usize, perm: PteFlags) {
    let none = abi::memlayout::UTOP;
    match sys_ipc_try_send(whom, value, va, perm) {
        Err(Error::NoMem) if va < none => {
            let _ = sys_ipc_try_send(whom, Error::NoMem.code() as u32, none, PteFlags::empty());
        }
        _ => {}
    }
}

/// The Fd in slot `i`'s page (mapped).
fn fd(i: usize) -> &'static mut Fd {
    // SAFETY: the slot's page is mapped (openfile_alloc maps it before
    // use); an Fd is plain integers. Clients may change it under us, which
    // only gives them wrong answers about their own file.
    unsafe { &mut *(fd_va(i) as *mut Fd) }
}

/// The request page as request type `T`, once a request has arrived.
fn request<T>() -> &'static T {
    // SAFETY: FSREQ holds the page the sender gave us (serve checks it is
    // mapped: perm has P); the request types of abi::fsipc are integers and
    // byte arrays, valid for any bytes, and fit in a page. The sender may
    // change the page under us: that only garbles its own request.
    unsafe { &*(FSREQ as *const T) }
}

/// A NUL-terminated path from a request, or E_BAD_PATH.
fn req_path(p: &[u8; MAXPATHLEN]) -> Result<&[u8]> {
    let n = p.iter().position(|&b| b == 0).ok_or(Error::BadPath)?;
    Ok(&p[..n])
}

impl Server {
    /// A server for the mounted file system `fs`, keeping `swap`.
    pub fn new(fs: Fs<CacheDisk>, swap: Swap) -> Server {
        let mut open = jos::alloc::vec::Vec::new();
        for i in 0..MAXOPEN {
            open.push(OpenFile {
                fileid: i as i32,
                file: None,
                mode: 0,
            });
        }
        let pager = match Pager::new() {
            Ok(p) => p,
            Err(e) => panic!("fs: no pager: {e}"),
        };
        Server {
            fs,
            open,
            pager,
            swap,
        }
    }

    /// The pager's state.
    pub fn pager(&mut self) -> &mut Pager {
        &mut self.pager
    }

    /// Reads the file at `file` from `offset` into `buf`. Returns how many
    /// bytes (fewer at the end of the file), or the file system's error.
    pub fn read_file(&mut self, file: FileRef, buf: &mut [u8], offset: u32) -> Result<usize> {
        self.fs.read(file, buf, offset)
    }

    /// The cache address of block `n` of the file at `file`, read in.
    /// E_INVAL if the file has no such block (a hole, a removed file),
    /// E_NO_MEM if no page can be had for it.
    pub fn file_block_va(&mut self, file: FileRef, n: u32) -> Result<usize> {
        let mut f = self.fs.stat(file)?;
        match self.fs.file_block(&mut f, n, false)? {
            0 => Err(Error::Inval),
            b => bc::try_cached(b),
        }
    }

    /// The disk block holding block `n` of the file at `file`, without
    /// reading it (only its indirect block, for `n` past the direct ones).
    /// E_INVAL if the file has no such block (a hole, a removed file).
    pub fn file_disk_block(&mut self, file: FileRef, n: u32) -> Result<u32> {
        let mut f = self.fs.stat(file)?;
        match self.fs.file_block(&mut f, n, false)? {
            0 => Err(Error::Inval),
            b => Ok(b),
        }
    }

    /// FSREQ_PAGE: page `from`'s child from an open file (see pager.rs).
    /// Returns the key for sys_env_set_pager. E_INVAL for a bad file id or
    /// a file not open for reading, else what Pager::register says.
    fn serve_page(&mut self, who: Client, req: &FsreqPage) -> Result<i32> {
        let (i, file) = self.lookup(who, req.req_fileid)?;
        if self.open[i].mode & O_ACCMODE == O_WRONLY {
            return Err(Error::Inval);
        }
        let size = self.fs.stat(file)?.f_size.max(0) as u32;
        self.pager
            .register(who.env, req, file, size)
            .map(|k| k as i32)
    }

    /// A free slot (its Fd page mapped by us alone, or not at all): maps a
    /// fresh zeroed Fd page and returns the slot with a new file id.
    /// E_MAX_OPEN if all are in use, E_NO_MEM if no page.
    ///
    /// Gives back memory on the way: the Fd page of every other closed
    /// file (mapped by us alone) below the high-water mark is unmapped, so
    /// the pages of an env that held many files come back at the next open
    /// after it let them go.
    fn openfile_alloc(&mut self) -> Result<usize> {
        let hi = FD_HI.load(Ordering::Relaxed);
        let mut found = None;
        let mut top = 0;
        for i in 0..MAXOPEN {
            if i >= hi && found.is_some() {
                break;
            }
            match pageref(fd_va(i)) {
                0 if found.is_none() => found = Some(i),
                0 => {}
                1 if found.is_none() => found = Some(i),
                1 => {
                    let _ = sys_page_unmap(0, fd_va(i));
                }
                _ => top = i + 1,
            }
        }
        let Some(i) = found else {
            FD_HI.store(top, Ordering::Relaxed);
            return Err(Error::MaxOpen);
        };
        if pageref(fd_va(i)) == 0 {
            bc::alloc_page(fd_va(i))?;
        } else {
            // SAFETY: the page is mapped (by us alone).
            unsafe { core::ptr::write_bytes(fd_va(i) as *mut u8, 0, PGSIZE) };
        }
        FD_HI.store(top.max(i + 1), Ordering::Relaxed);
        let o = &mut self.open[i];
        o.fileid = o.fileid.wrapping_add(MAXOPEN as i32) & i32::MAX;
        Ok(i)
    }

    /// The open file `fileid` names, for client `who`: the slot, if the
    /// id is current and `who` holds the file's descriptor (maps its Fd
    /// page, ours, where it said: the opener, or an env it shared the
    /// descriptor with by fork or spawn); E_INVAL if not. A file
    /// id alone is no proof: ids are easy to guess, and anyone can read
    /// another env's from a page they share.
    fn lookup(&self, who: Client, fileid: i32) -> Result<(usize, FileRef)> {
        let i = (fileid as u32 as usize) % MAXOPEN;
        let o = &self.open[i];
        let theirs = who.fd_va.ok_or(Error::Inval)?;
        if o.fileid != fileid || pte_of(fd_va(i)).is_none() {
            return Err(Error::Inval);
        }
        sys_page_check(who.env, theirs, fd_va(i)).map_err(|_| Error::Inval)?;
        Ok((i, o.file.ok_or(Error::Inval)?))
    }

    /// E_BAD_PATH if `path` names the swap directory or a swap file,
    /// which no client may open, remove or replace (they hold other envs'
    /// memory).
    fn not_swap(&mut self, path: &[u8]) -> Result<()> {
        match self.fs.lookup(path) {
            Ok(r) if self.swap.is_swap_file(r) => Err(Error::BadPath),
            _ => Ok(()),
        }
    }

    fn serve_open(&mut self, whom: abi::env::EnvId, req: &FsreqOpen) -> Result<usize> {
        let path = req_path(&req.req_path)?;
        let omode = req.req_omode as u32;
        // Checked before opening: O_TRUNC must not cut a swap file.
        self.not_swap(path)?;
        quota::may_open(whom, |i| pageref(fd_va(i)) > 1)?;
        let i = self.openfile_alloc()?;
        let file = self.fs.open(path, omode)?;
        if omode & O_TRUNC != 0 {
            fmap::detach_file(file, 0);
        }
        let o = &mut self.open[i];
        o.file = Some(file);
        o.mode = omode;
        let f = fd(i);
        f.fd_file_id = o.fileid;
        f.fd_omode = (omode & O_ACCMODE) as i32;
        f.fd_dev_id = DEV_FILE;
        f.fd_offset = 0;
        quota::opened(whom, i);
        Ok(i)
    }

    fn serve_set_size(&mut self, who: Client, req: &FsreqSetSize) -> Result<i32> {
        let (i, file) = self.lookup(who, req.req_fileid)?;
        if self.open[i].mode & O_ACCMODE == O_RDONLY || req.req_size < 0 {
            return Err(Error::Inval);
        }
        // Blocks past the new end are freed even if set_size then fails.
        let r = self.fs.set_size(file, req.req_size as u32);
        fmap::detach_file(file, (req.req_size as u32).div_ceil(PGSIZE as u32));
        r.map(|()| 0)
    }

    fn serve_read(&mut self, who: Client, page: *mut u8) -> Result<i32> {
        // SAFETY: page is the request page (mapped); FsreqRead is integers.
        let req = unsafe { &*(page as *const FsreqRead) };
        let (i, file) = self.lookup(who, req.req_fileid)?;
        if self.open[i].mode & O_ACCMODE == O_WRONLY {
            return Err(Error::Inval);
        }
        let n = (req.req_n as usize).min(PGSIZE);
        let off = u32::try_from(fd(i).fd_offset).map_err(|_| Error::Inval)?;
        // SAFETY: the reply overwrites the same page; the request was read.
        let ret = unsafe { &mut *(page as *mut FsretRead) };
        let got = self.fs.read(file, &mut ret.ret_buf[..n], off)?;
        fd(i).fd_offset = (off as usize + got) as i32;
        Ok(got as i32)
    }

    fn serve_write(&mut self, who: Client, req: &FsreqWrite) -> Result<i32> {
        let (i, file) = self.lookup(who, req.req_fileid)?;
        if self.open[i].mode & O_ACCMODE == O_RDONLY {
            return Err(Error::Inval);
        }
        let n = (req.req_n as usize).min(req.req_buf.len());
        let off = u32::try_from(fd(i).fd_offset).map_err(|_| Error::Inval)?;
        let put = self.fs.write(file, &req.req_buf[..n], off)?;
        fd(i).fd_offset = (off as usize + put) as i32;
        Ok(put as i32)
    }

    fn serve_stat(&mut self, who: Client, page: *mut u8) -> Result<i32> {
        // SAFETY: page is the request page; FsreqFileid is an integer.
        let fileid = unsafe { (*(page as *const FsreqFileid)).req_fileid };
        let (_, file) = self.lookup(who, fileid)?;
        let f = self.fs.stat(file)?;
        // SAFETY: the reply overwrites the same page.
        let ret = unsafe { &mut *(page as *mut FsretStat) };
        ret.ret_name = [0; MAXNAMELEN];
        let name = f.name();
        ret.ret_name[..name.len()].copy_from_slice(name);
        ret.ret_size = f.size()? as i32;
        ret.ret_isdir = f.is_dir() as i32;
        Ok(0)
    }

    /// FSREQ_MAP: the cache page holding the page at `req_offset` of an
    /// open file, for a memory mapping; returns its address and the
    /// permissions to send it with. A MAP_SHARED page (FSMAP_SHARED) is
    /// the block's cache page itself, sent PTE_SHARE (and writable with
    /// FSMAP_WRITE), and joins the shared set (`fmap.rs`); a private one is
    /// sent read-only (the client copies it on write). A hole inside the
    /// file is given a zeroed block first (its bytes read as zeros either
    /// way). E_INVAL for a bad or foreign-stale file id, a file not open
    /// for reading, FSMAP_WRITE without FSMAP_SHARED or on a file not open
    /// for writing, unknown flags, an unaligned offset or one at or past
    /// MAXFILESIZE, a directory; E_EOF for a page wholly past the end of
    /// the file; E_NO_DISK if the hole cannot be filled; E_NO_MEM if no
    /// page can be had for the block, its copy (a MAP_SHARED page that a
    /// running program maps is copied first, see `fmap.rs`) or the shared
    /// set's growth, or if a MAP_SHARED block would put `who` over its
    /// limit (`quota.rs`).
    fn serve_map(&mut self, who: Client, req: &FsreqMap) -> Result<(usize, PteFlags)> {
        let (i, file) = self.lookup(who, req.req_fileid)?;
        let mode = self.open[i].mode & O_ACCMODE;
        let (flags, offset) = (req.req_flags, req.req_offset);
        let shared = flags & FSMAP_SHARED != 0;
        let write = flags & FSMAP_WRITE != 0;
        if mode == O_WRONLY
            || flags & !(FSMAP_SHARED | FSMAP_WRITE) != 0
            || (write && (!shared || mode == O_RDONLY))
            || !(offset as usize).is_multiple_of(PGSIZE)
            || offset >= josfs::MAXFILESIZE
        {
            return Err(Error::Inval);
        }
        let f = self.fs.stat(file)?;
        if f.is_dir() {
            return Err(Error::Inval);
        }
        let size = f.size()?;
        if offset >= size {
            return Err(Error::Eof);
        }
        let index = offset / PGSIZE as u32;
        let va = match self.file_block_va(file, index) {
            Ok(va) => va,
            Err(_) => {
                // A hole: zeros written over it give it a block.
                let zeros = [0u8; PGSIZE];
                let n = (size - offset).min(PGSIZE as u32) as usize;
                self.fs.write(file, &zeros[..n], offset)?;
                self.file_block_va(file, index)?
            }
        };
        let ro = PteFlags::P | PteFlags::U;
        if !shared {
            return Ok((va, ro));
        }
        // Copy first (fmap.rs, rule a): a page a running program maps
        // never joins the shared set; the program keeps it, the cache and
        // the set get a copy. A block new to the set is charged to `who`
        // first (quota.rs): refused before anything is copied.
        let b = bc::blockno(va);
        if !fmap::is_shared(b) {
            quota::map_shared(who.env, b)?;
            bc::unshare_page(b)?;
        }
        fmap::add(b, write, file, index)?;
        Ok((va, if write { PTE_RW } else { ro } | PteFlags::SHARE))
    }

    fn serve_flush(&mut self, who: Client, req: &FsreqFileid) -> Result<i32> {
        self.lookup(who, req.req_fileid)?;
        bc::sync(self.fs.nblocks())?;
        Ok(0)
    }

    /// Forgets every open file whose entry was at slot `r` (removed, or
    /// replaced by a rename): their ids give E_INVAL from now on, instead
    /// of reaching whatever file takes the slot next.
    fn forget_open(&mut self, r: FileRef) {
        for o in self.open.iter_mut().filter(|o| o.file == Some(r)) {
            o.file = None;
        }
        self.pager.forget(r);
        fmap::detach_file(r, 0);
    }

    fn serve_remove(&mut self, req: &FsreqPath) -> Result<i32> {
        let path = req_path(&req.req_path)?;
        self.not_swap(path)?;
        let r = self.fs.lookup(path)?;
        self.fs.remove(path)?;
        self.forget_open(r);
        Ok(0)
    }

    fn serve_rename(&mut self, req: &FsreqRename) -> Result<i32> {
        let from = req_path(&req.req_oldpath)?;
        let to = req_path(&req.req_newpath)?;
        self.not_swap(from)?;
        self.not_swap(to)?;
        let mv = self.fs.rename(from, to)?;
        if mv.from != mv.to {
            // Files open by the old slot follow the entry to its new one.
            self.forget_open(mv.to);
            for o in self.open.iter_mut().filter(|o| o.file == Some(mv.from)) {
                o.file = Some(mv.to);
            }
            self.pager.moved(mv.from, mv.to);
            fmap::moved(mv.from, mv.to);
        }
        Ok(0)
    }

    /// Serves swap request `op` on `slot` (see swap.rs) and replies. The
    /// sender's page is unmapped before the reply, so that the page a
    /// client evicts is free when it runs again.
    fn serve_swap(&mut self, whom: abi::env::EnvId, op: u32, slot: u32, perm: u32) {
        let mut fresh = None;
        let r = self
            .swap
            .serve(&mut self.fs, whom, (op, slot), FSREQ, perm, &mut fresh);
        for f in fresh.into_iter().flatten().flatten() {
            self.forget_open(f);
        }
        let _ = sys_page_unmap(0, FSREQ);
        let value = match r {
            Ok(v) => v,
            Err(e) => e.code() as u32,
        };
        reply(whom, value, abi::memlayout::UTOP, PteFlags::empty());
    }

    /// Serves requests for ever.
    pub fn serve(&mut self) -> ! {
        loop {
            if let Err(e) = sys_ipc_recv(FSREQ) {
                panic!("fs: ipc_recv: {e}");
            }
            // Between two requests: the log may commit (log.rs).
            crate::log::boundary();
            let me = jos::env::thisenv_read();
            let (whom, req, perm) = (me.env_ipc_from, me.env_ipc_value, me.env_ipc_perm);
            // A page fault of a program we page (no request page).
            if Pager::is_fault(whom, req, perm) {
                Pager::fault(self, whom, req);
                continue;
            }
            // A swap request: its page is data, not a request.
            if let Some((op, slot)) = swap_req_parts(req) {
                self.serve_swap(whom, op, slot, perm);
                continue;
            }
            // The reply is written into the same page: it must be ours to
            // write (a read-only page would fault the server).
            let rw = (PteFlags::P | PteFlags::W).bits();
            if perm & rw != rw {
                cprintf!(
                    "Invalid request from {:08x}: no writable argument page\n",
                    whom
                );
                let _ = sys_page_unmap(0, FSREQ);
                reply(
                    whom,
                    Error::Inval.code() as u32,
                    abi::memlayout::UTOP,
                    PteFlags::empty(),
                );
                continue;
            }
            let page = FSREQ as *mut u8;
            let mut reply_page = None;
            let (code, theirs) = fsreq_parts(req).unwrap_or((u32::MAX, None));
            let who = Client {
                env: whom,
                fd_va: theirs,
            };
            let r: Result<i32> = match code {
                FSREQ_OPEN => self.serve_open(whom, request()).map(|i| {
                    reply_page = Some((fd_va(i), PTE_RW | PteFlags::SHARE));
                    0
                }),
                FSREQ_MAP => self.serve_map(who, request()).map(|page| {
                    reply_page = Some(page);
                    0
                }),
                FSREQ_SET_SIZE => self.serve_set_size(who, request()),
                FSREQ_READ => self.serve_read(who, page),
                FSREQ_WRITE => self.serve_write(who, request()),
                FSREQ_STAT => self.serve_stat(who, page),
                FSREQ_FLUSH => self.serve_flush(who, request()),
                FSREQ_REMOVE => self.serve_remove(request()),
                FSREQ_SYNC => bc::sync(self.fs.nblocks()).map(|()| 0),
                FSREQ_RENAME => self.serve_rename(request()),
                FSREQ_PAGE => self.serve_page(who, request()),
                _ => {
                    cprintf!("Invalid request code {} from {:08x}\n", req, whom);
                    Err(Error::Inval)
                }
            };
            let value = match r {
                Ok(v) => v as u32,
                Err(e) => e.code() as u32,
            };
            let (va, perm) = reply_page.unwrap_or((abi::memlayout::UTOP, PteFlags::empty()));
            reply(whom, value, va, perm);
            let _ = sys_page_unmap(0, FSREQ);
        }
    }
}
