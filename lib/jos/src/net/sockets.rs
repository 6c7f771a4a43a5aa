//! Sockets (JOS's lib/sockets.c): the socket calls, and the socket device
//! that makes a socket a file descriptor, so `read`, `write` and `close`
//! work on it.
//!
//! A socket's descriptor page is the server's (it makes it and shares it,
//! PTE_SHARE): `fork` and `spawn` share the socket as they share a file,
//! and the socket belongs to every env that holds its descriptor. It is
//! closed when the last holder closes it (or exits, or is killed: the
//! server notices that nobody maps the page any more).
use super::nsipc::*;
use crate::fd::{Dev, Stat, fd_alloc, fd_lookup, fd2num};
use crate::uvpt::pageref;
use abi::error::{Error, Result};
use abi::fsipc::Fd;
use abi::nsipc::*;

/// The socket device.
pub static DEVSOCK: Dev = Dev {
    dev_id: DEV_SOCK,
    dev_name: "sock",
    dev_read: devsock_read,
    dev_write: devsock_write,
    dev_close: devsock_close,
    dev_stat: devsock_stat,
    dev_trunc: None,
};

fn devsock_read(fd: &Fd, buf: &mut [u8]) -> Result<usize> {
    nsipc_recv(NSREQ_RECV, fd2num(fd), buf, 0).map(|(n, _)| n)
}

fn devsock_write(fd: &Fd, buf: &[u8]) -> Result<usize> {
    nsipc_send(NSREQ_SEND, fd2num(fd), buf, NetAddr::default())
}

/// The last holder's close closes the socket in the server (JOS's
/// devsock_close: with other holders, the page just goes).
fn devsock_close(fd: &Fd) -> Result<()> {
    if pageref(fd as *const Fd as usize) == 2 {
        // Ours and the server's: we are the last holder.
        nsipc_close(fd2num(fd))
    } else {
        Ok(())
    }
}

fn devsock_stat(_fd: &Fd) -> Result<Stat> {
    Ok(Stat::new("<sock>", &DEVSOCK))
}

/// Returns the descriptor number `s` if it is an open socket. E_NOT_SUPP
/// for another kind of descriptor, E_INVAL if not open.
fn sockfd(s: usize) -> Result<usize> {
    if fd_lookup(s)?.fd_dev_id != DEV_SOCK {
        return Err(Error::NotSupp);
    }
    Ok(s)
}

/// Makes a socket (JOS's `socket`): `domain` PF_INET, `ty` SOCK_STREAM
/// (TCP), SOCK_DGRAM (UDP) or SOCK_RAW with IPPROTO_ICMP (echo requests
/// and replies); `protocol` 0 or the type's. Returns its descriptor.
/// E_MAX_OPEN with no descriptor free or the server's sockets (ours) all
/// taken; E_INVAL for another domain, type or protocol; E_BAD_ENV with
/// no network server.
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<usize> {
    let n = fd_alloc()?;
    nsipc_socket(n, domain, ty, protocol)?;
    Ok(n)
}

/// Binds socket `s` to local address `addr` (0.0.0.0: any of ours; port
/// 0: a free one). E_ADDR_IN_USE if the port is taken, E_INVAL if the
/// socket is bound already.
pub fn bind(s: usize, addr: NetAddr) -> Result<()> {
    nsipc_addr(NSREQ_BIND, sockfd(s)?, addr)
}

/// Listens on bound TCP socket `s`, keeping up to `backlog` connections
/// waiting (the server's limit cuts it). E_INVAL if not bound or not TCP.
pub fn listen(s: usize, backlog: i32) -> Result<()> {
    nsipc_listen(sockfd(s)?, backlog)
}

/// Waits for a connection on listening socket `s` (JOS's `accept`);
/// returns its socket's descriptor and the peer's address. E_INVAL if `s`
/// does not listen, E_MAX_OPEN with no descriptor or socket free.
pub fn accept(s: usize) -> Result<(usize, NetAddr)> {
    let s = sockfd(s)?;
    let n = fd_alloc()?;
    nsipc_accept(s, n)?;
    // SAFETY: the server's reply mapped the new socket's page there (the
    // call checked), a SockFd; read once.
    let peer = unsafe { (*(crate::fd::index2fd(n) as *const SockFd)).sock_peer };
    Ok((n, peer))
}

/// Connects socket `s` to `addr` (TCP: waits until established or
/// refused; UDP: sets the default destination). E_CONN_REFUSED, E_CONN_RESET
/// (no answer in time), E_INVAL.
pub fn connect(s: usize, addr: NetAddr) -> Result<()> {
    nsipc_addr(NSREQ_CONNECT, sockfd(s)?, addr)
}

/// Receives up to `buf.len()` bytes (at most a request page's worth a
/// call) from socket `s`, waiting until some came; returns how many, 0
/// when the peer has closed a stream. E_NOT_CONN, E_CONN_RESET.
pub fn recv(s: usize, buf: &mut [u8]) -> Result<usize> {
    nsipc_recv(NSREQ_RECV, sockfd(s)?, buf, 0).map(|(n, _)| n)
}

/// [`recv`] that waits at most `msec` milliseconds (polling the server
/// every 10 ms: the kernel has no timed wait); E_AGAIN if nothing came in
/// time. For a server that must not wait for ever on a silent client.
pub fn recv_timeout(s: usize, buf: &mut [u8], msec: u32) -> Result<usize> {
    let s = sockfd(s)?;
    let start = crate::syscall::sys_time_msec();
    loop {
        match nsipc_recv(NSREQ_RECV, s, buf, MSG_DONTWAIT) {
            Err(Error::Again) if crate::syscall::sys_time_msec().wrapping_sub(start) < msec => {
                crate::time::sleep_msec(10);
            }
            r => return r.map(|(n, _)| n),
        }
    }
}

/// Receives one datagram (UDP, or an ICMP echo reply) on socket `s` into
/// `buf` (cut to fit); returns its length and its sender.
pub fn recvfrom(s: usize, buf: &mut [u8]) -> Result<(usize, NetAddr)> {
    nsipc_recv(NSREQ_RECVFROM, sockfd(s)?, buf, 0)
}

/// [`recvfrom`] without waiting: E_AGAIN if no datagram is there.
pub fn recvfrom_nowait(s: usize, buf: &mut [u8]) -> Result<(usize, NetAddr)> {
    nsipc_recv(NSREQ_RECVFROM, sockfd(s)?, buf, MSG_DONTWAIT)
}

/// Waits up to `msec` milliseconds for a datagram on socket `s` (polling
/// the server every 10 ms, as the kernel has no timed wait); E_AGAIN if
/// none came in time.
pub fn recvfrom_timeout(s: usize, buf: &mut [u8], msec: u32) -> Result<(usize, NetAddr)> {
    let start = crate::syscall::sys_time_msec();
    loop {
        match recvfrom_nowait(s, buf) {
            Err(Error::Again) if crate::syscall::sys_time_msec().wrapping_sub(start) < msec => {
                crate::time::sleep_msec(10);
            }
            r => return r,
        }
    }
}

/// Sends all of `buf` on stream socket `s` (several requests if needed),
/// waiting while the socket's buffer is full; returns `buf.len()`.
/// E_NOT_CONN, E_CONN_RESET (bytes sent before the error are lost).
pub fn send(s: usize, buf: &[u8]) -> Result<usize> {
    let s = sockfd(s)?;
    let mut put = 0;
    while put < buf.len() {
        match nsipc_send(NSREQ_SEND, s, &buf[put..], NetAddr::default())? {
            0 => return Err(Error::NotConn),
            n => put += n,
        }
    }
    Ok(put)
}

/// Sends `buf` as one datagram from socket `s` to `addr` (UDP, or an ICMP
/// packet: echo request header first); returns its length. E_INVAL if it
/// is larger than a request page holds; E_NO_MEM when the socket's send
/// buffer is full (the datagram is dropped, as a busy network would).
pub fn sendto(s: usize, buf: &[u8], addr: NetAddr) -> Result<usize> {
    if buf.len() > NSBUF_DATA {
        return Err(Error::Inval);
    }
    nsipc_send(NSREQ_SENDTO, sockfd(s)?, buf, addr)
}

/// Sends `page` (at most a page of bytes, starting on a page boundary: a
/// mapped file's page, say) on stream socket `s`, lending the page to the
/// server instead of copying its bytes into a request (zero copy as far as
/// the stack's buffer). Returns its length once all is taken. E_INVAL if
/// `page` does not start a page or is longer than one.
pub fn sendpage(s: usize, page: &[u8]) -> Result<usize> {
    let s = sockfd(s)?;
    let va = page.as_ptr() as usize;
    if page.is_empty() {
        return Ok(0);
    }
    let mut put = match nsipc_sendpage(s, va, page.len())? {
        0 => return Err(Error::NotConn),
        n => n.min(page.len()),
    };
    // What the server could not take at once goes by copy.
    if put < page.len() {
        put += send(s, &page[put..])?;
    }
    Ok(put)
}

/// Shuts down direction `how` (SHUT_RD, SHUT_WR, SHUT_RDWR) of socket
/// `s`: after SHUT_WR a TCP peer reads the end of the stream.
pub fn shutdown(s: usize, how: i32) -> Result<()> {
    nsipc_shutdown(sockfd(s)?, how)
}
