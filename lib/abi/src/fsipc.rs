//! The file server's IPC protocol and the file descriptor page (JOS's
//! inc/fs.h `union Fsipc` and inc/fd.h `struct Fd`), shared by the server
//! (`user/serv/src/bin/fs`) and the user library's file layer.
//!
//! A client writes a request into a page, sends it to the file server with
//! `ipc_send(fsenv, FSREQ_*, page, P|W|U)`, and waits with `ipc_recv`; the
//! reply is the value (bytes or 0, or a negative error code) and, for
//! FSREQ_READ and FSREQ_STAT, data the server wrote into the same page.
//! FSREQ_OPEN's reply also carries a page: the new file's `Fd`, shared
//! between client and server (PTE_SHARE), whose `fd_offset` both use.
use crate::mmu::PGSIZE;

/// Longest path, NUL included (as the on-disk format's MAXPATHLEN).
pub const MAXPATHLEN: usize = 1024;
/// Longest name, NUL included.
pub const MAXNAMELEN: usize = 128;

/// Open-mode bits (JOS's `inc/lib.h`): access mode in the low two bits.
pub const O_RDONLY: u32 = 0x0000;
/// Open for writing only.
pub const O_WRONLY: u32 = 0x0001;
/// Open for reading and writing.
pub const O_RDWR: u32 = 0x0002;
/// Mask of the access-mode bits.
pub const O_ACCMODE: u32 = 0x0003;
/// Create the file if it does not exist.
pub const O_CREAT: u32 = 0x0100;
/// Truncate the file to zero length.
pub const O_TRUNC: u32 = 0x0200;
/// With `O_CREAT`: fail with `E_FILE_EXISTS` if the file exists.
pub const O_EXCL: u32 = 0x0400;
/// Create a directory, not a regular file.
pub const O_MKDIR: u32 = 0x0800;

/// Open a file: `FsreqOpen` in, the file's Fd page out.
pub const FSREQ_OPEN: u32 = 1;
/// Set a file's size: `FsreqSetSize`.
pub const FSREQ_SET_SIZE: u32 = 2;
/// Read at the file's offset: `FsreqRead` in, `FsretRead` out.
pub const FSREQ_READ: u32 = 3;
/// Write at the file's offset: `FsreqWrite`.
pub const FSREQ_WRITE: u32 = 4;
/// A file's name, size and type: `FsreqFileid` in, `FsretStat` out.
pub const FSREQ_STAT: u32 = 5;
/// Write a file's blocks back to disk: `FsreqFileid`.
pub const FSREQ_FLUSH: u32 = 6;
/// Remove a file: `FsreqPath`.
pub const FSREQ_REMOVE: u32 = 7;
/// Write every dirty block back to disk: no argument.
pub const FSREQ_SYNC: u32 = 8;
/// Rename (move) a file or directory: `FsreqRename` (ours; JOS has none).
pub const FSREQ_RENAME: u32 = 9;

/// The value of request `req` about an open file, sent by a client that
/// maps the file's Fd page (its descriptor) at `fd_va`, usually
/// FDTABLE + fdnum * PGSIZE: the server takes a file id only from an env
/// that maps the file's Fd page, and checks it there (`sys_page_check`).
/// The request number is the low 8 bits, the page number of `fd_va` the
/// 20 above them (0: none given).
pub const fn fsreq_fd(req: u32, fd_va: usize) -> u32 {
    req | ((fd_va as u32 >> 12) << 8)
}

/// Splits a request's value (not a swap request's) into the request
/// number and the address of the client's descriptor page, if it gave one
/// (see [`fsreq_fd`]); None if the value has bits past them set.
pub const fn fsreq_parts(value: u32) -> Option<(u32, Option<usize>)> {
    if value >> 28 != 0 {
        return None;
    }
    let page = (value >> 8) as usize;
    let fd_va = if page == 0 { None } else { Some(page << 12) };
    Some((value & 0xFF, fd_va))
}

/// FSREQ_OPEN's request.
#[repr(C)]
pub struct FsreqOpen {
    /// The path, NUL-terminated.
    pub req_path: [u8; MAXPATHLEN],
    /// O_* flags.
    pub req_omode: i32,
}

/// FSREQ_SET_SIZE's request.
#[repr(C)]
pub struct FsreqSetSize {
    /// The file (its server id).
    pub req_fileid: i32,
    /// The new size.
    pub req_size: i32,
}

/// FSREQ_READ's request.
#[repr(C)]
pub struct FsreqRead {
    /// The file (its server id).
    pub req_fileid: i32,
    /// Bytes wanted (at most a page).
    pub req_n: u32,
}

/// FSREQ_READ's reply: the bytes read.
#[repr(C)]
pub struct FsretRead {
    /// The bytes read.
    pub ret_buf: [u8; PGSIZE],
}

/// FSREQ_WRITE's request: the bytes to write, after the id and count.
#[repr(C)]
pub struct FsreqWrite {
    /// The file (its server id).
    pub req_fileid: i32,
    /// Bytes to write (at most `req_buf`'s size).
    pub req_n: u32,
    /// The bytes.
    pub req_buf: [u8; PGSIZE - 8],
}

/// FSREQ_STAT's and FSREQ_FLUSH's request.
#[repr(C)]
pub struct FsreqFileid {
    /// The file (its server id).
    pub req_fileid: i32,
}

/// FSREQ_STAT's reply.
#[repr(C)]
pub struct FsretStat {
    /// The file's name, NUL-terminated.
    pub ret_name: [u8; MAXNAMELEN],
    /// Its size in bytes.
    pub ret_size: i32,
    /// 1 for a directory.
    pub ret_isdir: i32,
}

/// FSREQ_REMOVE's request.
#[repr(C)]
pub struct FsreqPath {
    /// The path, NUL-terminated.
    pub req_path: [u8; MAXPATHLEN],
}

/// FSREQ_RENAME's request: move `req_oldpath` to `req_newpath`, Unix
/// `rename(2)`-style (an existing regular file at the new path is
/// replaced; a directory never is, and never moves into itself).
#[repr(C)]
pub struct FsreqRename {
    /// The file's path now, NUL-terminated.
    pub req_oldpath: [u8; MAXPATHLEN],
    /// Its new path, NUL-terminated.
    pub req_newpath: [u8; MAXPATHLEN],
}

/// Request FSREQ_PAGE: be the pager of a child the sender is starting
/// from an open file (demand-paged `spawn`): the server serves the child's
/// faults on its program's pages from the file's blocks.
pub const FSREQ_PAGE: u32 = 10;

/// Most loadable segments FSREQ_PAGE takes.
pub const PAGE_MAXSEG: usize = 8;

/// One loadable segment of a program paged by the server: memory
/// `[va, va + memsz)`, of which the first `filesz` bytes are the file's
/// bytes from `offset` on, the rest zeros.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageSeg {
    /// Where the segment starts in the child.
    pub va: u32,
    /// Its size in memory.
    pub memsz: u32,
    /// How much of it comes from the file.
    pub filesz: u32,
    /// Where that is in the file.
    pub offset: u32,
    /// 1 if the child may write it (its pages are then the child's own).
    pub writable: u32,
    /// 1 if it holds code (ELF PF_X): a hint, that the server may page it
    /// in larger pieces than one page a fault (fault-around).
    pub exec: u32,
}

/// FSREQ_PAGE's request.
#[repr(C)]
pub struct FsreqPage {
    /// The program file, open by the sender.
    pub req_fileid: i32,
    /// The child to page: the sender's, not yet running.
    pub req_envid: crate::env::EnvId,
    /// How many of `req_segs` are used.
    pub req_nseg: u32,
    /// The loadable segments.
    pub req_segs: [PageSeg; PAGE_MAXSEG],
}

/// Swap requests (the library's swap pager, `jos::vm::swap`, and the
/// server's swap space, `user/serv/src/bin/fs/swap.rs`). Unlike the requests
/// above, they carry their argument, a swap slot, in the value (see
/// [`swap_req`]) and their page is the data itself: FSREQ_SWAPOUT sends
/// the page to write (read-only is enough), FSREQ_SWAPIN the page to fill
/// (writable). The reply's value is the slot (SWAPOUT), 0 (SWAPIN), the
/// slots freed (SWAPFREE) or the slots in use (SWAPSTAT); or an error.
///
/// Write a page to swap: to its slot, or to a new one ([`SWAP_NEW`]).
pub const FSREQ_SWAPOUT: u32 = 16;
/// Read a slot back into the page sent.
pub const FSREQ_SWAPIN: u32 = 17;
/// Free a slot of the sender's, or all of them ([`SWAP_ALL`]).
pub const FSREQ_SWAPFREE: u32 = 18;
/// How many slots are in use (slots of envs that are gone are freed
/// first); with [`SWAP_ALL`], the total number of slots instead.
pub const FSREQ_SWAPSTAT: u32 = 19;
/// The request number's bits in a swap request's value.
pub const SWAP_REQ_MASK: u32 = 0xFF;
/// "A new slot" (FSREQ_SWAPOUT) or "every slot" (FSREQ_SWAPFREE).
pub const SWAP_NEW: u32 = 0xFF_FFFF;
/// Same value as [`SWAP_NEW`], read as "all".
pub const SWAP_ALL: u32 = SWAP_NEW;

/// The value of swap request `req` on slot `slot` (slots are below
/// [`SWAP_NEW`]).
pub const fn swap_req(req: u32, slot: u32) -> u32 {
    req | (slot << 8)
}

/// Splits a swap request's value into request and slot; None if the value
/// is not a swap request.
pub const fn swap_req_parts(value: u32) -> Option<(u32, u32)> {
    match value & SWAP_REQ_MASK {
        FSREQ_SWAPOUT | FSREQ_SWAPIN | FSREQ_SWAPFREE | FSREQ_SWAPSTAT => {
            Some((value & SWAP_REQ_MASK, value >> 8))
        }
        _ => None,
    }
}

/// Request FSREQ_MAP: the file server's cached page holding a page of an
/// open file, for a memory mapping of it (`jos::vm::mmap`): `FsreqMap` in,
/// the block-cache page itself out, mapped at the page the client's
/// `ipc_recv` names (its faulting page). MAP_SHARED pages go out with
/// PTE_SHARE (writable with FSMAP_WRITE), private ones read-only.
/// Requests 11 to 15 are memory mappings'.
pub const FSREQ_MAP: u32 = 11;

/// FSREQ_MAP flag: a MAP_SHARED mapping (the server keeps the block coherent
/// with `read`/`write` and writes it back on flush and sync).
pub const FSMAP_SHARED: u32 = 1;
/// FSREQ_MAP flag: the client may store (MAP_SHARED only; the file must be
/// open for writing).
pub const FSMAP_WRITE: u32 = 2;

/// FSREQ_MAP's request.
#[repr(C)]
pub struct FsreqMap {
    /// The file (its server id), open for reading.
    pub req_fileid: i32,
    /// The file offset of the page wanted (a multiple of the page size).
    pub req_offset: u32,
    /// FSMAP_* bits.
    pub req_flags: u32,
}

/// A device's id in `Fd::fd_dev_id`: files (through the file server).
pub const DEV_FILE: i32 = b'f' as i32;
/// A device's id in `Fd::fd_dev_id`: the console.
pub const DEV_CONS: i32 = b'c' as i32;
/// A device's id in `Fd::fd_dev_id`: pipes.
pub const DEV_PIPE: i32 = b'p' as i32;

/// A file descriptor: one page each at FDTABLE + i * PGSIZE in the client
/// (the first bytes of it; for a file, the server maps the same page).
#[repr(C)]
pub struct Fd {
    /// Which device (DEV_FILE, ...).
    pub fd_dev_id: i32,
    /// Where the next read or write goes.
    pub fd_offset: i32,
    /// O_RDONLY, O_WRONLY or O_RDWR.
    pub fd_omode: i32,
    /// For a file: the server's id for it.
    pub fd_file_id: i32,
}

/// Where the file descriptor pages are (JOS's FDTABLE), and how many.
pub const FDTABLE: usize = 0xD000_0000;
/// Most open file descriptors per env.
pub const MAXFD: usize = 32;
/// Where the fd data pages are (JOS's FILEDATA): one page per file
/// descriptor, at FILEDATA + i * PGSIZE, for the device to use if it wants
/// (a pipe keeps its buffer there). Like the Fd pages, they are mapped
/// PTE_SHARE, so a fork or spawn shares them.
pub const FILEDATA: usize = FDTABLE + MAXFD * PGSIZE;

const _: () = assert!(size_of::<FsreqOpen>() == MAXPATHLEN + 4 && size_of::<FsreqOpen>() <= PGSIZE);
const _: () = assert!(size_of::<FsreqWrite>() == PGSIZE);
const _: () =
    assert!(size_of::<FsreqRename>() == 2 * MAXPATHLEN && size_of::<FsreqRename>() <= PGSIZE);
const _: () = assert!(size_of::<FsretStat>() == MAXNAMELEN + 8);
const _: () = assert!(size_of::<Fd>() == 16);
const _: () = assert!(crate::memlayout::DISKMAP + crate::memlayout::DISKSIZE <= FDTABLE);
const _: () = assert!(FILEDATA + MAXFD * PGSIZE <= crate::memlayout::USTACKTOP);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_requests_round_trip() {
        assert_eq!(fsreq_parts(FSREQ_SYNC), Some((FSREQ_SYNC, None)));
        for va in [
            FDTABLE,
            FDTABLE + (MAXFD - 1) * PGSIZE,
            0xCCCC_C000,
            0xEEBF_F000,
        ] {
            assert_eq!(
                fsreq_parts(fsreq_fd(FSREQ_READ, va)),
                Some((FSREQ_READ, Some(va)))
            );
        }
        assert_eq!(fsreq_parts(0x1000_0003), None);
        assert_eq!(fsreq_parts(u32::MAX), None);
    }
}
