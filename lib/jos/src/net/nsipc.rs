//! Requests to the network server (JOS's lib/nsipc.c): each writes its
//! arguments into the request page NSIPCBUF, sends it with `ipc_call` and
//! takes the answer from the network server alone (a reply from any other
//! env is never believed: the kernel delivers only the callee's).
//!
//! A socket is named by the client's descriptor number: the server checks
//! that we map its page for that socket at that descriptor.
use crate::fd::index2fd;
use crate::ipc::ipc_call;
use crate::syscall::sys_page_alloc;
use crate::uvpt::pte_of;
use abi::env::{ENV_TYPE_NS, EnvId};
use abi::error::{Error, Result};
use abi::fsipc::{FILEDATA, MAXFD};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use abi::nsipc::*;
use core::sync::atomic::{AtomicI32, Ordering};

/// The request page: after the file server's two (see `fd.rs`'s map).
pub const NSIPCBUF: usize = FILEDATA + MAXFD * PGSIZE + 2 * PGSIZE;

/// The network server's env id, found once and again only if that env is
/// gone. E_BAD_ENV if there is none (a boot without `NS=1`).
pub fn nsenv() -> Result<EnvId> {
    static NSENV: AtomicI32 = AtomicI32::new(0);
    let id = NSENV.load(Ordering::Relaxed);
    if id != 0 && crate::env::env_status(id) != abi::env::ENV_FREE {
        return Ok(id);
    }
    let id = crate::ipc_find_env(ENV_TYPE_NS).ok_or(Error::BadEnv)?;
    NSENV.store(id, Ordering::Relaxed);
    Ok(id)
}

/// The request page as `T`, mapped (writable, ours alone) first.
/// E_NO_MEM if it cannot be.
fn buf<T>() -> Result<&'static mut T> {
    // A reply page replaces it, and a fork leaves it copy-on-write: a
    // fresh page is as good (its old bytes do not matter).
    if !pte_of(NSIPCBUF).is_some_and(|p| p.flags().contains(PteFlags::W)) {
        sys_page_alloc(0, NSIPCBUF, PTE_RW)?;
    }
    // SAFETY: the page is mapped writable and page-aligned; each request
    // takes this one reference and lets it go before the next; the types
    // of abi::nsipc are plain integers and arrays, valid for any bytes,
    // at most a page.
    Ok(unsafe { &mut *(NSIPCBUF as *mut T) })
}

/// The reply page as `T` (after a reply that brought one).
fn reply_page<T>() -> &'static T {
    // SAFETY: as for `buf`: the reply mapped a page at NSIPCBUF (the
    // callers check the reply's value first), read-only use.
    unsafe { &*(NSIPCBUF as *const T) }
}

/// The value of request `req` about our socket at descriptor `fdnum`
/// (its slot read from its Fd page; the server checks the page).
fn sockreq(req: u32, fdnum: usize) -> Result<u32> {
    let fd = crate::fd::fd_lookup(fdnum)?;
    let slot = fd.fd_file_id as u32 as usize;
    if slot >= MAXSOCK {
        return Err(Error::Inval);
    }
    Ok(nsreq(req, Some((fdnum, slot))))
}

/// Sends request `value` with the request page, the reply's page (if any)
/// going to `reply_va`. Returns the reply's value, or its error.
fn call(value: u32, reply_va: Option<usize>) -> Result<u32> {
    let m = ipc_call(
        nsenv()?,
        value,
        Some(NSIPCBUF),
        PteFlags::P | PteFlags::U | PteFlags::W,
        reply_va,
    )?;
    abi::error::result_from_ret(m.value as i32).map(|v| v as u32)
}

/// NSREQ_SOCKET: a new socket, its Fd page mapped at descriptor `fdnum`.
/// Errors: E_INVAL for an unknown domain, type or protocol, E_MAX_OPEN
/// when the server has no socket free (for us), E_NO_MEM.
pub fn nsipc_socket(fdnum: usize, domain: i32, ty: i32, protocol: i32) -> Result<()> {
    let req = buf::<NsreqSocket>()?;
    req.req_domain = domain;
    req.req_type = ty;
    req.req_protocol = protocol;
    call(nsreq(NSREQ_SOCKET, None), Some(index2fd(fdnum)))?;
    reply_is_sockfd(fdnum)
}

/// E_INVAL unless a page came in at descriptor `fdnum` (a reply of an
/// honest server always brings one with success).
fn reply_is_sockfd(fdnum: usize) -> Result<()> {
    if pte_of(index2fd(fdnum)).is_none() {
        return Err(Error::Inval);
    }
    Ok(())
}

/// NSREQ_ACCEPT on listening socket `fdnum`: waits for a connection, whose
/// socket's Fd page is mapped at descriptor `newfd`. The server's errors.
pub fn nsipc_accept(fdnum: usize, newfd: usize) -> Result<()> {
    buf::<u8>()?;
    call(sockreq(NSREQ_ACCEPT, fdnum)?, Some(index2fd(newfd)))?;
    reply_is_sockfd(newfd)
}

/// NSREQ_BIND / NSREQ_CONNECT (`req`) of socket `fdnum` to `addr`.
pub fn nsipc_addr(req: u32, fdnum: usize, addr: NetAddr) -> Result<()> {
    buf::<NsreqAddr>()?.req_addr = addr;
    call(sockreq(req, fdnum)?, None).map(|_| ())
}

/// NSREQ_LISTEN on socket `fdnum` with `backlog`.
pub fn nsipc_listen(fdnum: usize, backlog: i32) -> Result<()> {
    buf::<NsreqListen>()?.req_backlog = backlog;
    call(sockreq(NSREQ_LISTEN, fdnum)?, None).map(|_| ())
}

/// NSREQ_SHUTDOWN of socket `fdnum`, `how` SHUT_*.
pub fn nsipc_shutdown(fdnum: usize, how: i32) -> Result<()> {
    buf::<NsreqShutdown>()?.req_how = how;
    call(sockreq(NSREQ_SHUTDOWN, fdnum)?, None).map(|_| ())
}

/// NSREQ_CLOSE of socket `fdnum`.
pub fn nsipc_close(fdnum: usize) -> Result<()> {
    buf::<u8>()?;
    call(sockreq(NSREQ_CLOSE, fdnum)?, None).map(|_| ())
}

/// NSREQ_RECV (or NSREQ_RECVFROM, `req`) on socket `fdnum` into `out`
/// (at most NSBUF_DATA bytes a call): waits until something came (unless
/// `flags` has MSG_DONTWAIT: then E_AGAIN at once); returns the count (0:
/// the peer closed a stream) and the sender.
pub fn nsipc_recv(req: u32, fdnum: usize, out: &mut [u8], flags: i32) -> Result<(usize, NetAddr)> {
    let r = buf::<NsreqRecv>()?;
    r.req_len = out.len().min(NSBUF_DATA) as i32;
    r.req_flags = flags;
    let n = call(sockreq(req, fdnum)?, Some(NSIPCBUF))? as usize;
    let ret = reply_page::<NsretRecv>();
    // Never past what we asked, whatever the page says.
    let n = n.min(out.len()).min(NSBUF_DATA);
    out[..n].copy_from_slice(&ret.ret_buf[..n]);
    Ok((n, ret.ret_addr))
}

/// NSREQ_SEND (or NSREQ_SENDTO to `addr`, `req`) of `data` (at most
/// NSBUF_DATA bytes a call) on socket `fdnum`: waits while the socket's
/// buffer is full; returns how many bytes the server took.
pub fn nsipc_send(req: u32, fdnum: usize, data: &[u8], addr: NetAddr) -> Result<usize> {
    let r = buf::<NsreqSend>()?;
    let n = data.len().min(NSBUF_DATA);
    r.req_len = n as i32;
    r.req_flags = 0;
    r.req_addr = addr;
    r.req_buf[..n].copy_from_slice(&data[..n]);
    call(sockreq(req, fdnum)?, None).map(|v| v as usize)
}

/// NSREQ_SENDPAGE: sends the first `len` bytes (at most a page) of our
/// page at `va` on stream socket `fdnum` by lending the page to the server
/// (IPC page transfer, read-only: no copy into a request page). Returns how
/// many bytes the server took (it may take fewer; the rest is sent again).
pub fn nsipc_sendpage(fdnum: usize, va: usize, len: usize) -> Result<usize> {
    if !va.is_multiple_of(PGSIZE) || len > PGSIZE {
        return Err(Error::Inval);
    }
    let p = nsreq_parts(sockreq(NSREQ_SENDPAGE, fdnum)?).ok_or(Error::Inval)?;
    let (fdnum, slot) = p.sock.ok_or(Error::Inval)?;
    let value = nsreq_page(fdnum, slot, len);
    let m = ipc_call(nsenv()?, value, Some(va), PteFlags::P | PteFlags::U, None)?;
    abi::error::result_from_ret(m.value as i32).map(|v| v as usize)
}
