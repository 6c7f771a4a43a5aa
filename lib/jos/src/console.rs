//! The console as a file descriptor (JOS's lib/console.c): the console
//! device, `opencons`, `iscons`, and `getchar` / `cputchar`.
//!
//! Reading asks the kernel for a character (`sys_cgetc`), giving up the CPU
//! while none has been typed; Ctrl-D is the end of file. Writing is
//! `sys_cputs`. A program started by the kernel has no descriptors: one
//! that wants its input from the console (a shell) calls `opencons` to get
//! descriptor 0 and `dup(0, 1)` for its output, and a child it forks or
//! spawns shares both. `cprintf!` always prints on the console, whatever
//! descriptor 1 is; `printf!` prints to descriptor 1.
use crate::fd::{Dev, Stat, fd_alloc, fd_lookup, index2fd, read};
use crate::syscall::{sys_cgetc, sys_cputs, sys_page_alloc, sys_yield};
use abi::error::{Error, Result};
use abi::fsipc::{DEV_CONS, Fd, O_RDWR};
use abi::mmu::{PTE_RW, PteFlags};

/// The character that ends console input (Ctrl-D).
const CTRL_D: i32 = 0x04;

/// The console device.
pub static DEVCONS: Dev = Dev {
    dev_id: DEV_CONS,
    dev_name: "cons",
    dev_read: devcons_read,
    dev_write: devcons_write,
    dev_close: devcons_close,
    dev_stat: devcons_stat,
    dev_trunc: None,
};

/// Opens the console: returns a new descriptor (the lowest free) for
/// reading and writing it. E_MAX_OPEN if none is free, E_NO_MEM if its
/// page cannot be allocated.
pub fn opencons() -> Result<usize> {
    let n = fd_alloc()?;
    sys_page_alloc(0, index2fd(n), PTE_RW | PteFlags::SHARE)?;
    let fd = index2fd(n) as *mut Fd;
    // SAFETY: the page was just mapped, writable, and is ours alone.
    unsafe {
        (&raw mut (*fd).fd_dev_id).write_volatile(DEV_CONS);
        (&raw mut (*fd).fd_omode).write_volatile(O_RDWR as i32);
    }
    Ok(n)
}

/// Returns whether descriptor `n` is the console. E_INVAL if it is not
/// open.
pub fn iscons(n: usize) -> Result<bool> {
    Ok(fd_lookup(n)?.fd_dev_id == DEV_CONS)
}

/// Reads one character from descriptor 0 (whatever it is: the console, a
/// file, a pipe). E_EOF at the end of file; read's errors (E_INVAL if
/// descriptor 0 is not open).
pub fn getchar() -> Result<u8> {
    let mut c = [0u8; 1];
    match read(0, &mut c)? {
        0 => Err(Error::Eof),
        _ => Ok(c[0]),
    }
}

/// Prints one character on the console (always the console, unlike a
/// write to descriptor 1). Cannot fail.
pub fn cputchar(c: u8) {
    sys_cputs(&[c]);
}

/// Waits for a typed character (yielding while there is none) and returns
/// it in `buf[0]`: 1, or 0 for Ctrl-D (end of file) or an empty `buf`.
fn devcons_read(_fd: &Fd, buf: &mut [u8]) -> Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    let c = loop {
        match sys_cgetc()? {
            0 => sys_yield(),
            c => break c,
        }
    };
    if c == CTRL_D {
        return Ok(0);
    }
    buf[0] = c as u8;
    Ok(1)
}

/// Prints all of `buf`; returns its length.
fn devcons_write(_fd: &Fd, buf: &[u8]) -> Result<usize> {
    // In pieces, so that one huge write does not hold the console (and
    // the kernel) for long; each copied first, as JOS's devcons_write
    // does: the copy touches `buf` in user mode, so a page of it not
    // present yet (a file mapping's, a lazy heap's) is faulted in by its
    // handler, where the kernel's check of sys_cputs's buffer would end us.
    let mut copy = [0u8; 128];
    for piece in buf.chunks(copy.len()) {
        copy[..piece.len()].copy_from_slice(piece);
        sys_cputs(&copy[..piece.len()]);
    }
    Ok(buf.len())
}

/// Nothing to do: the console stays open for the others.
fn devcons_close(_fd: &Fd) -> Result<()> {
    Ok(())
}

/// The console is named `<cons>`, of size 0.
fn devcons_stat(_fd: &Fd) -> Result<Stat> {
    Ok(Stat::new("<cons>", &DEVCONS))
}
