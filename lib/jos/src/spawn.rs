//! `spawn`: start a program from the file system in a new environment,
//! paged in on demand (JOS's lib/spawn.c, without the copying).
//!
//! JOS's `spawn` reads the whole ELF file and copies every segment into
//! the child before it runs. Here the child starts with nothing of its
//! program in memory but its stack (with the arguments):
//!
//! 1. `spawn` opens the program and reads its ELF and program headers
//!    (one page);
//! 2. asks the file server to *page* the child from that file
//!    (FSREQ_PAGE, with the loadable segments), which returns a key;
//! 3. makes the file server the child's pager for the program's address
//!    range (`sys_env_set_pager(child, fs, lo, hi, key)`, a kernel
//!    mechanism: kern/src/pager.rs);
//! 4. builds the stack, shares the PTE_SHARE pages (open files, pipes),
//!    sets the registers and lets the child run.
//!
//! The child's first instruction fetch faults; the kernel hands the fault
//! to the file server, which maps the block of its cache holding that page
//! into the child, read-only (user/serv/src/bin/fs/pager.rs says which page a
//! child gets: text is shared with the cache and so with every other copy
//! of the program, data is copy-on-write, bss the zero page). Nothing in
//! the child, not even its own page-fault handler, has to be in memory for
//! that: this is how its first faults are served before its library is.
//! One fault brings in more than its page: the code around it (read from
//! disk in one piece) and, at the first, the first data pages, which the
//! library's start writes at once (the server's `fault_around` and
//! `send_writable_early`, through `sys_pager_map`); the segments' `exec`
//! flags tell the server which pages are code.
//!
//! Where the program is found: a `path` with no `/` in it (`ls`) is looked
//! up in the root (`/ls`), as JOS's shell does and as a Unix PATH of `/`
//! would; any other path (`./prog`, `d/prog`, `/d/prog`) is resolved from
//! the current directory, as `open` resolves it. The child starts in our
//! current directory: `init_stack` puts it on its first stack page (see
//! `cwd`).
//!
//! Not done: JOS's `exec` (replacing the caller) is not offered.
use crate::fd;
use crate::file::{self, fsenv, fsipc, fsipcbuf_as};
use crate::syscall::*;
use abi::elf::{Elf32Phdr, PF_W, PF_X, PT_LOAD, check_header};
use abi::env::{ENV_RUNNABLE, EnvId};
use abi::error::{Error, Result};
use abi::fsipc::{FSREQ_PAGE, FsreqPage, MAXNAMELEN, O_RDONLY, PAGE_MAXSEG, PageSeg};
use abi::memlayout::{USTACKTOP, UTEMP};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags, round_down};
use abi::trap::Trapframe;

/// Most arguments `spawn` passes.
pub const MAXARGS: usize = 32;

/// A program's loadable segments, as read from its headers.
struct Program {
    entry: usize,
    segs: [PageSeg; PAGE_MAXSEG],
    nseg: usize,
}

impl Program {
    /// The range the segments cover, in whole pages.
    fn range(&self) -> (usize, usize) {
        let segs = &self.segs[..self.nseg];
        let lo = segs.iter().map(|s| s.va as usize).min().unwrap_or(0);
        let hi = segs
            .iter()
            .map(|s| (s.va + s.memsz) as usize)
            .max()
            .unwrap_or(0);
        (round_down(lo, PGSIZE), hi.next_multiple_of(PGSIZE))
    }
}

/// Reads the ELF header and loadable program headers of open file `fd`
/// (they must be in its first 512 bytes, as JOS's spawn has them: a
/// program's stack may be one page). E_NOT_EXEC if it is not a 32-bit
/// i386 executable whose segments and entry point make sense.
fn read_headers(fd: usize) -> Result<Program> {
    let mut buf = [0u8; 512];
    fd::seek(fd, 0)?;
    let n = fd::readn(fd, &mut buf)?;
    let head = &buf[..n];
    // The header's checks are the kernel loader's (abi::elf).
    let eh = check_header(head)?;
    let phoff = eh.e_phoff as usize;
    let table = usize::from(eh.e_phnum)
        .checked_mul(Elf32Phdr::SIZE)
        .and_then(|len| head.get(phoff..phoff.checked_add(len)?))
        .ok_or(Error::NotExec)?;
    let mut prog = Program {
        entry: eh.e_entry as usize,
        segs: [PageSeg::default(); PAGE_MAXSEG],
        nseg: 0,
    };
    for raw in table.chunks_exact(Elf32Phdr::SIZE) {
        let ph = Elf32Phdr::from_bytes(raw).ok_or(Error::NotExec)?;
        if ph.p_type != PT_LOAD || ph.p_memsz == 0 {
            continue;
        }
        let end = ph.p_vaddr.checked_add(ph.p_memsz).ok_or(Error::NotExec)?;
        if prog.nseg == PAGE_MAXSEG
            || ph.p_filesz > ph.p_memsz
            || (ph.p_vaddr as usize) < PGSIZE
            || end as usize > USTACKTOP - PGSIZE
        {
            return Err(Error::NotExec);
        }
        prog.segs[prog.nseg] = PageSeg {
            va: ph.p_vaddr,
            memsz: ph.p_memsz,
            filesz: ph.p_filesz,
            offset: ph.p_offset,
            writable: u32::from(ph.p_flags & PF_W != 0),
            exec: u32::from(ph.p_flags & PF_X != 0),
        };
        prog.nseg += 1;
    }
    let inside = prog.segs[..prog.nseg]
        .iter()
        .any(|s| (s.va as usize..(s.va + s.memsz) as usize).contains(&prog.entry));
    if !inside {
        return Err(Error::NotExec);
    }
    Ok(prog)
}

/// Starts program `path` in a new environment with arguments `argv`
/// (`argv[0]` is, by convention, the program's name). A `path` without
/// `/` is looked up in the root; any other is resolved from the current
/// directory. The child shares the caller's PTE_SHARE pages (its file
/// descriptors), starts in the caller's current directory, and is paged in
/// on demand by the file server. Returns the child's id.
///
/// Errors: the file's open error (E_NOT_FOUND, ...); E_NOT_EXEC for a file
/// that is not a program; E_INVAL for more than MAXARGS arguments or more
/// than a page of them and the current directory; E_NO_FREE_ENV /
/// E_NO_MEM. Nothing is left behind on failure.
pub fn spawn(path: &str, argv: &[&str]) -> Result<EnvId> {
    if argv.len() > MAXARGS {
        return Err(Error::Inval);
    }
    let fd = if path.contains('/') {
        file::open(path, O_RDONLY)?
    } else {
        // `/` and the name (a longer name is no file of the root's).
        let mut buf = [b'/'; MAXNAMELEN];
        let full = buf.get_mut(1..path.len() + 1).ok_or(Error::NotFound)?;
        full.copy_from_slice(path.as_bytes());
        let full = core::str::from_utf8(&buf[..path.len() + 1]).map_err(|_| Error::BadPath)?;
        file::open(full, O_RDONLY)?
    };
    let prepared = read_headers(fd).and_then(|prog| {
        let fileid = fd::fd_lookup(fd)?.fd_file_id;
        Ok((prog, fileid, fsenv()?))
    });
    let (prog, fileid, fs) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let _ = fd::close(fd);
            return Err(e);
        }
    };
    let child = match sys_exofork() {
        Ok(0) => {
            // Never runs: the child starts at the program's entry instead.
            crate::exit();
        }
        Ok(child) => child,
        Err(e) => {
            let _ = fd::close(fd);
            return Err(e);
        }
    };
    let key = page_request(child, fd, fileid, &prog);
    // Closed before the shared pages are copied, as JOS does: the child
    // does not inherit its own program file as a descriptor.
    let _ = fd::close(fd);
    match key.and_then(|key| start_child(child, fs, key, &prog, argv)) {
        Ok(()) => Ok(child),
        Err(e) => {
            let _ = sys_env_destroy(child);
            Err(e)
        }
    }
}

/// Asks the file server to page `child` from open file `fileid` (our
/// descriptor `fd`) with the program's segments (FSREQ_PAGE). Returns the
/// key for the kernel.
fn page_request(child: EnvId, fd: usize, fileid: i32, prog: &Program) -> Result<u32> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqPage>() };
    req.req_fileid = fileid;
    req.req_envid = child;
    req.req_nseg = prog.nseg as u32;
    req.req_segs = prog.segs;
    fsipc(abi::fsipc::fsreq_fd(FSREQ_PAGE, fd::index2fd(fd)), None)
}

/// Everything after the file server agreed to page the child: pager,
/// stack, shared pages, registers; then lets it run.
fn start_child(child: EnvId, fs: EnvId, key: u32, prog: &Program, argv: &[&str]) -> Result<()> {
    let (lo, hi) = prog.range();
    sys_env_set_pager(child, fs, lo, hi, key)?;

    let esp = crate::cwd::with_cwd(|cwd| init_stack(child, argv, cwd))?;
    copy_shared_pages(child)?;
    // Registers from nothing but the entry point and the stack (JOS
    // copies the child's, which are ours at `sys_exofork`, and changes
    // these two): the kernel sets the segment registers and the flags
    // itself, and a fresh program reads no other register. (Reading the
    // child's from UENVS, volatile, took 300 bytes of code.)
    let mut tf = Trapframe::zeroed();
    tf.tf_eip = prog.entry as u32;
    tf.tf_esp = esp as u32;
    sys_env_set_trapframe(child, &tf)?;
    sys_env_set_status(child, ENV_RUNNABLE)
}

/// Builds the child's first stack page (JOS's init_stack) at UTEMP and
/// maps it at USTACKTOP - PGSIZE in the child: the argument strings and
/// then `cwd` at the top, below them the argv array (NULL-terminated),
/// then, from ESP up, argc, argv and cwd (a pointer to its string), where
/// `_start` finds them:
///
/// ```text
///   USTACKTOP -> +------------------------+
///                | "arg0\0" ... "/cwd\0"  |  strings
///                | argv[0] .. argv[n-1], 0 |
///                | cwd                    |  -> "/cwd"
///                | argv                   |  -> argv[0]
///         ESP -> | argc                   |
/// ```
///
/// Returns the child's initial ESP. E_INVAL if the arguments and the
/// directory do not fit in the page.
fn init_stack(child: EnvId, argv: &[&str], cwd: &str) -> Result<usize> {
    let strings: usize = argv.iter().map(|a| a.len() + 1).sum::<usize>() + cwd.len() + 1;
    let words = argv.len() + 1 + 3;
    let need = strings.next_multiple_of(4) + 4 * words;
    if need > PGSIZE {
        return Err(Error::Inval);
    }
    sys_page_alloc(0, UTEMP, PTE_RW)?;
    // SAFETY: UTEMP is the page just mapped, ours alone.
    let page = unsafe { core::slice::from_raw_parts_mut(UTEMP as *mut u8, PGSIZE) };
    // In the child, the page is at USTACKTOP - PGSIZE.
    let child_va = |off: usize| (USTACKTOP - PGSIZE + off) as u32;
    let mut str_off = PGSIZE - strings;
    let argv_off = (str_off & !3) - 4 * (argv.len() + 1);
    // The page is a fresh one, all zeros: each string's NUL and argv's
    // final null pointer are there already.
    for (i, a) in argv.iter().enumerate() {
        put(page, argv_off + 4 * i, &child_va(str_off).to_le_bytes());
        put(page, str_off, a.as_bytes());
        str_off += a.len() + 1;
    }
    let cwd_off = str_off;
    put(page, cwd_off, cwd.as_bytes());
    let esp_off = argv_off - 12;
    let top = [argv.len() as u32, child_va(argv_off), child_va(cwd_off)];
    for (i, word) in top.iter().enumerate() {
        put(page, esp_off + 4 * i, &word.to_le_bytes());
    }
    let r = sys_page_map(0, UTEMP, child, USTACKTOP - PGSIZE, PTE_RW);
    let _ = sys_page_unmap(0, UTEMP);
    r.map(|()| USTACKTOP - PGSIZE + esp_off)
}

/// Copies `bytes` into `page` at `off`: `init_stack`'s one checked copy
/// (panics past the page's end, which `init_stack`'s sums rule out).
#[inline(never)]
fn put(page: &mut [u8], off: usize, bytes: &[u8]) {
    page[off..off + bytes.len()].copy_from_slice(bytes);
}

/// Maps every PTE_SHARE page of ours into the child at the same address
/// with the same permissions (open files' Fd pages, pipes): JOS's
/// copy_shared_pages. In fork's order (`fork::for_each_user_page`): the
/// Fd pages after their data pages, so that the other end of a pipe never
/// sees the child hold an Fd page without its pipe (it would think the
/// pipe closed).
fn copy_shared_pages(child: EnvId) -> Result<()> {
    crate::fork::for_each_user_page(|va, pte| {
        let f = pte.flags();
        // (Shared mappings are this program's memory, not descriptors: a
        // spawned program inherits neither their pages nor the descriptors
        // file mappings hold their files by.)
        let mmapped = (crate::vm::mmap::MMAP_BASE..crate::vm::mmap::MMAP_END).contains(&va)
            || crate::vm::mmap::is_held_fd_page(va);
        if f.contains(PteFlags::SHARE) && !mmapped {
            sys_page_map(0, va, child, va, f & PteFlags::SYSCALL)?;
        }
        Ok(())
    })
}

/// `spawn` with the arguments listed: `spawnl!("/init", "init", "x")`.
#[macro_export]
macro_rules! spawnl {
    ($path:expr $(, $arg:expr)* $(,)?) => {
        $crate::spawn::spawn($path, &[$($arg),*])
    };
}
