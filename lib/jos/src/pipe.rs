//! Pipes (JOS's lib/pipe.c): a small ring buffer in a page that the read
//! end's and the write end's descriptors both map as their data page.
//!
//! `pipe()` makes two descriptors, one read-only and one write-only, and
//! one page holding a [`Pipe`], mapped (PTE_SHARE) at both descriptors'
//! data addresses. `fork` shares all three pages with the child, `dup`
//! maps them again, so any number of environments can hold either end. A
//! reader waits (yielding) while the buffer is empty, a writer while it is
//! full. The buffer is tiny (32 bytes, as in JOS) so that readers and
//! writers take turns often, and races show.
//!
//! ## Is the other end closed?
//!
//! Nothing records who holds a pipe; the kernel's page reference counts do.
//! Every descriptor of either end maps one Fd page and the pipe page, so
//!
//! ```text
//!   pageref(pipe page) = pageref(our end's Fd page) + pageref(other end's Fd page)
//! ```
//!
//! and the other end is closed exactly when `pageref(our Fd page) ==
//! pageref(pipe page)`. That needs care, because others change the counts
//! while we read them:
//!
//! - The counts must never *look* closed while a descriptor is half made
//!   or half gone: `dup` (and `fork`) map the pipe page before the Fd page,
//!   and `close` unmaps the Fd page before the pipe page. In between, the
//!   pipe page has one reference too many, which reads as "open".
//! - The two counts are read one after the other. If another environment
//!   runs in between (we were interrupted and it ran on our CPU, or it runs
//!   on another CPU) and dups or closes our end, the two numbers come from
//!   different moments and can be equal though the pipe is open:
//!
//!   ```text
//!     we read pageref(p[0]'s Fd page) = 3    p[0] in us and in the child, and the child's fd 10
//!        the child: close(10)                Fd page 3 -> 2, then pipe page 4 -> 3
//!     we read pageref(pipe page) = 3         3 == 3: "closed", though we hold p[1]
//!   ```
//!
//!   (Reading the pipe page first fails the same way when the child dups.)
//!   So [`pipeisclosed`] reads our Fd page's count, the pipe's, and ours
//!   again, and trusts the answer only if the two readings of ours agree
//!   and `env_runs` (how many times the kernel has run us) did not change
//!   (JOS's check): nobody ran on our CPU in between, and on another CPU
//!   nobody changed our end's count. Otherwise it reads again. (A close
//!   *and* a dup, both whole, between our two readings would still fool
//!   it: on one CPU that cannot happen, and on several the other CPU would
//!   have to make four system calls while we read three words.)
use crate::env::thisenv_runs;
use crate::fd::{Dev, Stat, fd_alloc, fd_lookup, fd2data, index2data, index2fd};
use crate::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap, sys_yield};
use crate::uvpt::pageref;
use abi::error::{Error, Result};
use abi::fsipc::{DEV_PIPE, Fd, O_RDONLY, O_WRONLY};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use core::sync::atomic::{AtomicU8, AtomicU32, Ordering};

/// Bytes a pipe holds (JOS's PIPEBUFSIZ): small, to provoke races.
pub const PIPEBUF: usize = 32;

/// A pipe: the page both ends map as their data page. Only the reader
/// moves `p_rpos` and only the writer moves `p_wpos`; each counts bytes
/// since the start (wrapping), so the byte at position `i` is in
/// `p_buf[i % PIPEBUF]`, the pipe is empty when they are equal and full
/// when they are PIPEBUF apart. Atomics: the two ends may run at once on
/// two CPUs.
#[repr(C)]
pub struct Pipe {
    /// Position of the next byte to read.
    pub p_rpos: AtomicU32,
    /// Position of the next byte to write.
    pub p_wpos: AtomicU32,
    /// The bytes.
    pub p_buf: [AtomicU8; PIPEBUF],
}

const _: () = assert!(size_of::<Pipe>() <= PGSIZE && PIPEBUF.is_power_of_two());

/// The pipe device.
pub static DEVPIPE: Dev = Dev {
    dev_id: DEV_PIPE,
    dev_name: "pipe",
    dev_read: devpipe_read,
    dev_write: devpipe_write,
    dev_close: devpipe_close,
    dev_stat: devpipe_stat,
    dev_trunc: None,
};

/// Creates a pipe: returns `[read end, write end]`, the two lowest free
/// descriptors. E_MAX_OPEN if two are not free, E_NO_MEM if out of memory
/// (nothing is left mapped then).
pub fn pipe() -> Result<[usize; 2]> {
    let perm = PTE_RW | PteFlags::SHARE;
    let fd0 = fd_alloc()?;
    sys_page_alloc(0, index2fd(fd0), perm)?;
    let made = fd_alloc().and_then(|fd1| {
        sys_page_alloc(0, index2fd(fd1), perm)?;
        // The pipe page, fresh (zeroed: empty), as both data pages.
        let r = sys_page_alloc(0, index2data(fd0), perm)
            .and_then(|()| sys_page_map(0, index2data(fd0), 0, index2data(fd1), perm));
        if r.is_err() {
            let _ = sys_page_unmap(0, index2data(fd0));
            let _ = sys_page_unmap(0, index2fd(fd1));
        }
        r.map(|()| fd1)
    });
    let fd1 = match made {
        Ok(fd1) => fd1,
        Err(e) => {
            let _ = sys_page_unmap(0, index2fd(fd0));
            return Err(e);
        }
    };
    for (n, mode) in [(fd0, O_RDONLY), (fd1, O_WRONLY)] {
        let fd = index2fd(n) as *mut Fd;
        // SAFETY: the Fd page was just mapped, writable, and is ours alone.
        unsafe {
            (&raw mut (*fd).fd_dev_id).write_volatile(DEV_PIPE);
            (&raw mut (*fd).fd_omode).write_volatile(mode as i32);
        }
    }
    Ok([fd0, fd1])
}

/// Returns whether the other end of pipe descriptor `n` is closed (no
/// environment holds it any more). E_INVAL if `n` is not open or not a
/// pipe.
pub fn pipeisclosed(n: usize) -> Result<bool> {
    let fd = fd_lookup(n)?;
    if fd.fd_dev_id != DEV_PIPE {
        return Err(Error::Inval);
    }
    Ok(other_end_closed(fd))
}

/// The pipe of descriptor `fd` (a pipe's), in its data page.
fn pipe_of(fd: &Fd) -> &Pipe {
    // SAFETY: a pipe descriptor's data page is mapped as long as its Fd
    // page is (mapped first, unmapped last), and holds a Pipe (atomics:
    // shared with other environments, which is what they are for).
    unsafe { &*(fd2data(fd) as *const Pipe) }
}

/// Whether every descriptor of the other end is gone: see the module
/// comment for why the counts are read as they are.
fn other_end_closed(fd: &Fd) -> bool {
    let fd_va = fd as *const Fd as usize;
    let pipe_va = fd2data(fd);
    loop {
        let runs = thisenv_runs();
        let ours = pageref(fd_va);
        let both = pageref(pipe_va);
        let ours_again = pageref(fd_va);
        if ours == ours_again && thisenv_runs() == runs {
            return ours == both;
        }
        if ours == both || ours_again == both {
            // What a naive check would have believed (JOS prints this too).
            crate::cprintf!("pipe race avoided\n");
        }
    }
}

/// Reads what is in the pipe, up to `buf.len()` bytes; waits (yielding)
/// while it is empty and the write end is open. Returns how many bytes, 0
/// at the end (empty and no writer left).
fn devpipe_read(fd: &Fd, buf: &mut [u8]) -> Result<usize> {
    let p = pipe_of(fd);
    for (i, slot) in buf.iter_mut().enumerate() {
        let rpos = p.p_rpos.load(Ordering::Relaxed);
        // Acquire: the byte at rpos was stored before p_wpos moved past it.
        while p.p_wpos.load(Ordering::Acquire) == rpos {
            if i > 0 {
                return Ok(i); // give what we have
            }
            // No writer left: the end, unless one wrote its last bytes
            // between our look at p_wpos and its close.
            if other_end_closed(fd) && p.p_wpos.load(Ordering::Acquire) == rpos {
                return Ok(0);
            }
            sys_yield();
        }
        *slot = p.p_buf[rpos as usize % PIPEBUF].load(Ordering::Relaxed);
        // Release: the byte is taken before the writer may reuse its slot.
        p.p_rpos.store(rpos.wrapping_add(1), Ordering::Release);
    }
    Ok(buf.len())
}

/// Writes all of `buf` into the pipe, waiting (yielding) while it is full.
/// Returns how many bytes were written: fewer (maybe 0) if the read end
/// is closed (nobody would ever read them).
fn devpipe_write(fd: &Fd, buf: &[u8]) -> Result<usize> {
    let p = pipe_of(fd);
    for (i, &b) in buf.iter().enumerate() {
        let wpos = p.p_wpos.load(Ordering::Relaxed);
        // Acquire: the reader took the byte in a slot before freeing it.
        while wpos.wrapping_sub(p.p_rpos.load(Ordering::Acquire)) as usize >= PIPEBUF {
            if other_end_closed(fd) {
                return Ok(i);
            }
            sys_yield();
        }
        p.p_buf[wpos as usize % PIPEBUF].store(b, Ordering::Relaxed);
        // Release: the byte is stored before the reader sees it counted.
        p.p_wpos.store(wpos.wrapping_add(1), Ordering::Release);
    }
    Ok(buf.len())
}

/// Nothing to do: closing the descriptor unmaps its Fd page, then the
/// pipe page (in that order), and the page goes with its last reference.
fn devpipe_close(_fd: &Fd) -> Result<()> {
    Ok(())
}

/// A pipe is named `<pipe>`; its size is the bytes waiting in it.
fn devpipe_stat(fd: &Fd) -> Result<Stat> {
    let p = pipe_of(fd);
    let mut st = Stat::new("<pipe>", &DEVPIPE);
    st.size = p
        .p_wpos
        .load(Ordering::Relaxed)
        .wrapping_sub(p.p_rpos.load(Ordering::Relaxed));
    Ok(st)
}
