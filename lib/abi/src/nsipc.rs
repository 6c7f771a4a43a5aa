//! The network server's IPC protocol (JOS's inc/ns.h `union Nsipc`),
//! shared by the server (`user/serv/src/bin/ns`) and the user library's
//! socket layer (`jos::net`).
//!
//! A client writes a request into its request page (NSIPCBUF), sends it
//! to the network server with `ipc_call(nsenv, value, page, P|W|U)` and
//! takes the answer from the server alone. The value is the request
//! number, with the client's descriptor number for a request about a
//! socket (see [`nsreq`]). The answer's value is a count or 0, or a
//! negative error code; NSREQ_SOCKET and NSREQ_ACCEPT answer with a page,
//! the new socket's Fd page ([`SockFd`], shared with the server:
//! PTE_SHARE), and NSREQ_RECV / NSREQ_RECVFROM with a page holding
//! [`NsretRecv`]. JOS's request numbers (NSREQ_ACCEPT ... NSREQ_TIMER) and
//! the frame page are `abi::net`'s, re-exported here.
//!
//! A request that cannot be answered yet (accept with no connection
//! waiting, recv with nothing received, connect not yet established, send
//! with the socket's buffer full) is parked by the server and answered when
//! the stack makes progress; the client waits in `ipc_call` meanwhile.
use crate::mmu::PGSIZE;

pub use crate::net::{
    JP_DATA, JifPkt, MAX_FRAME, NSREQ_ACCEPT, NSREQ_BIND, NSREQ_CLOSE, NSREQ_CONNECT, NSREQ_INPUT,
    NSREQ_LISTEN, NSREQ_OUTPUT, NSREQ_RECV, NSREQ_SEND, NSREQ_SHUTDOWN, NSREQ_SOCKET, NSREQ_TIMER,
};

/// Send one datagram to an address (UDP, ICMP): `NsreqSend` with its address.
pub const NSREQ_SENDTO: u32 = 13;
/// Receive one datagram and its sender: `NsreqRecv` in, `NsretRecv` out.
pub const NSREQ_RECVFROM: u32 = 14;
/// Send the bytes of the page that comes with the request, without a copy
/// into a request page (zero copy from a mapped file): the length is in
/// the value (see [`nsreq_page`]), the data at the page's start.
pub const NSREQ_SENDPAGE: u32 = 15;

/// Address family: the Internet (IPv4).
pub const PF_INET: i32 = 2;
/// Socket type: a byte stream (TCP).
pub const SOCK_STREAM: i32 = 1;
/// Socket type: datagrams (UDP).
pub const SOCK_DGRAM: i32 = 2;
/// Socket type: raw packets of a protocol (ICMP echo here).
pub const SOCK_RAW: i32 = 3;
/// Protocol: ICMP (with SOCK_RAW: echo requests and replies).
pub const IPPROTO_ICMP: i32 = 1;
/// Protocol: TCP.
pub const IPPROTO_TCP: i32 = 6;
/// Protocol: UDP.
pub const IPPROTO_UDP: i32 = 17;

/// Shutdown: no more receiving.
pub const SHUT_RD: i32 = 0;
/// Shutdown: no more sending (TCP sends its FIN).
pub const SHUT_WR: i32 = 1;
/// Shutdown: both.
pub const SHUT_RDWR: i32 = 2;

/// The device id of a socket in `Fd::fd_dev_id` (JOS's devsock).
pub const DEV_SOCK: i32 = b's' as i32;

/// Sockets the server has at most: a socket's slot is below this.
pub const MAXSOCK: usize = 64;

/// A request's value: request `req`, about the socket in the server's slot
/// `slot` (the `fd_file_id` of its Fd page), which the client holds at its
/// descriptor `fdnum` (None for NSREQ_SOCKET). Bits 0-3 the request, 4-8
/// the descriptor, 9-15 the slot plus one (0: none); NSREQ_SENDPAGE's
/// length in bits 16-28 (see [`nsreq_page`]). The server believes the slot
/// only if the client maps the slot's page at that descriptor.
pub const fn nsreq(req: u32, sock: Option<(usize, usize)>) -> u32 {
    match sock {
        Some((fdnum, slot)) => {
            (req & 0xF) | ((fdnum as u32) & 0x1F) << 4 | ((slot as u32 + 1) & 0x7F) << 9
        }
        None => req & 0xF,
    }
}

/// NSREQ_SENDPAGE's value: the socket as for [`nsreq`], `len` bytes (at
/// most a page) at the start of the page sent with it.
pub const fn nsreq_page(fdnum: usize, slot: usize, len: usize) -> u32 {
    nsreq(NSREQ_SENDPAGE, Some((fdnum, slot))) | ((len as u32) & 0x1FFF) << 16
}

/// A request's value taken apart (see [`nsreq`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsreqParts {
    /// The request.
    pub req: u32,
    /// The client's descriptor and the slot it names, if given.
    pub sock: Option<(usize, usize)>,
    /// NSREQ_SENDPAGE's length (0 for the others).
    pub len: usize,
}

/// Splits a request's value; None if bits above the fields are set.
pub const fn nsreq_parts(value: u32) -> Option<NsreqParts> {
    if value >> 29 != 0 {
        return None;
    }
    let slot = (value >> 9) & 0x7F;
    let sock = if slot == 0 {
        None
    } else {
        Some((((value >> 4) & 0x1F) as usize, slot as usize - 1))
    };
    Some(NsreqParts {
        req: value & 0xF,
        sock,
        len: (value >> 16) as usize,
    })
}

/// An IPv4 address and port (what `sockaddr_in` carries), in host order:
/// `addr` as its four bytes, a.b.c.d.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetAddr {
    /// The address's bytes, most significant first (10.0.2.15 is [10, 0, 2, 15]).
    pub addr: [u8; 4],
    /// The port (for ICMP: the echo identifier).
    pub port: u16,
    /// Zero.
    pub pad: u16,
}

impl NetAddr {
    /// The address a.b.c.d, port `port`.
    pub const fn new(addr: [u8; 4], port: u16) -> NetAddr {
        NetAddr { addr, port, pad: 0 }
    }
}

/// NSREQ_SOCKET's request.
#[repr(C)]
pub struct NsreqSocket {
    /// PF_INET.
    pub req_domain: i32,
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_RAW.
    pub req_type: i32,
    /// 0 or the type's protocol (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP).
    pub req_protocol: i32,
}

/// NSREQ_BIND's and NSREQ_CONNECT's request.
#[repr(C)]
pub struct NsreqAddr {
    /// The address (bind: 0.0.0.0 for any of ours; port 0 for any free).
    pub req_addr: NetAddr,
}

/// NSREQ_LISTEN's request.
#[repr(C)]
pub struct NsreqListen {
    /// Connections that may wait to be accepted (cut to the server's limit).
    pub req_backlog: i32,
}

/// NSREQ_SHUTDOWN's request.
#[repr(C)]
pub struct NsreqShutdown {
    /// SHUT_RD, SHUT_WR or SHUT_RDWR.
    pub req_how: i32,
}

/// NSREQ_RECV's and NSREQ_RECVFROM's request.
#[repr(C)]
pub struct NsreqRecv {
    /// Bytes wanted at most (cut to what a reply page holds).
    pub req_len: i32,
    /// 0, or MSG_DONTWAIT.
    pub req_flags: i32,
}

/// recv flag: answer at once, E_AGAIN if nothing has come (no waiting).
pub const MSG_DONTWAIT: i32 = 0x40;

/// Bytes of data a request or reply page holds.
pub const NSBUF_DATA: usize = PGSIZE - 16;

/// NSREQ_SEND's and NSREQ_SENDTO's request.
#[repr(C)]
pub struct NsreqSend {
    /// Bytes in `req_buf` to send.
    pub req_len: i32,
    /// 0 (no flags yet).
    pub req_flags: i32,
    /// NSREQ_SENDTO: where to.
    pub req_addr: NetAddr,
    /// The data.
    pub req_buf: [u8; NSBUF_DATA],
}

/// NSREQ_RECV's and NSREQ_RECVFROM's reply page.
#[repr(C)]
pub struct NsretRecv {
    /// Bytes in `ret_buf` (the reply's value too).
    pub ret_len: i32,
    /// Zero.
    pub ret_pad: i32,
    /// Who sent them (for a stream: the peer).
    pub ret_addr: NetAddr,
    /// The data.
    pub ret_buf: [u8; NSBUF_DATA],
}

/// A socket's Fd page (JOS's `struct Fd` with `fd_sock`): the Fd, then
/// what the server says about the socket. The server makes the page and
/// shares it with the client (PTE_SHARE); the server never believes what
/// it holds: a request about a socket is taken only from an env that maps
/// the server's page at the descriptor it names.
#[repr(C)]
pub struct SockFd {
    /// `fd_dev_id` DEV_SOCK; `fd_file_id` the socket's slot in the server.
    pub fd: crate::fsipc::Fd,
    /// The peer of an accepted or connected socket.
    pub sock_peer: NetAddr,
    /// The local address and port once bound.
    pub sock_local: NetAddr,
}

/// Parses a dotted IPv4 address "a.b.c.d" (each part 0-255, decimal);
/// returns its four bytes, or None.
pub fn inet_aton(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *b = p.parse::<u16>().ok().filter(|&v| v <= 255)? as u8;
    }
    parts.next().is_none().then_some(out)
}

/// The prefix length of netmask `m` (ones, then zeros), or None.
pub fn mask_prefix(m: [u8; 4]) -> Option<u8> {
    let v = u32::from_be_bytes(m);
    let n = v.leading_ones();
    (v.checked_shl(n).unwrap_or(0) == 0).then_some(n as u8)
}

/// Parses "a.b.c.d" or "a.b.c.d/n" (n at most 32); the prefix is
/// `default_prefix` without "/n". None if it is neither.
pub fn parse_cidr(s: &str, default_prefix: u8) -> Option<([u8; 4], u8)> {
    match s.split_once('/') {
        Some((a, p)) => {
            let p = p.parse::<u8>().ok().filter(|&p| p <= 32)?;
            Some((inet_aton(a)?, p))
        }
        None => Some((inet_aton(s)?, default_prefix)),
    }
}

/// The Internet checksum (RFC 1071) of `b`: what an ICMP header carries.
pub fn inet_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

const _: () = assert!(size_of::<NsreqSend>() == PGSIZE);
const _: () = assert!(size_of::<NsretRecv>() == PGSIZE);
const _: () = assert!(size_of::<SockFd>() <= PGSIZE);
const _: () = assert!(MAXSOCK < 0x7F && NSREQ_SENDPAGE <= 0xF && crate::fsipc::MAXFD <= 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let p = nsreq_parts(nsreq(NSREQ_SOCKET, None)).unwrap();
        assert_eq!((p.req, p.sock, p.len), (NSREQ_SOCKET, None, 0));
        for (fd, slot) in [(0, 0), (1, 5), (31, MAXSOCK - 1)] {
            let p = nsreq_parts(nsreq(NSREQ_RECV, Some((fd, slot)))).unwrap();
            assert_eq!((p.req, p.sock, p.len), (NSREQ_RECV, Some((fd, slot)), 0));
            for len in [0, 1, 1460, PGSIZE] {
                let p = nsreq_parts(nsreq_page(fd, slot, len)).unwrap();
                assert_eq!(
                    (p.req, p.sock, p.len),
                    (NSREQ_SENDPAGE, Some((fd, slot)), len)
                );
            }
        }
        assert_eq!(nsreq_parts(u32::MAX), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(inet_aton("10.0.2.15"), Some([10, 0, 2, 15]));
        assert_eq!(inet_aton("255.255.255.255"), Some([255; 4]));
        for bad in [
            "",
            "10.0.2",
            "10.0.2.15.1",
            "10.0.2.256",
            "10..2.15",
            "a.b.c.d",
            "+1.0.0.0",
            "1000.0.0.0",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
        assert_eq!(mask_prefix([255, 255, 255, 0]), Some(24));
        assert_eq!(mask_prefix([0; 4]), Some(0));
        assert_eq!(mask_prefix([255; 4]), Some(32));
        assert_eq!(mask_prefix([255, 0, 255, 0]), None);
        assert_eq!(parse_cidr("10.0.3.1/16", 24), Some(([10, 0, 3, 1], 16)));
        assert_eq!(parse_cidr("10.0.3.1", 24), Some(([10, 0, 3, 1], 24)));
        assert_eq!(parse_cidr("10.0.3.1/33", 24), None);
        assert_eq!(parse_cidr("10.0.3.1/", 24), None);
    }

    #[test]
    fn checksum() {
        // An echo request with its checksum in place sums to zero.
        let mut p = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1, b'a', b'b', b'c'];
        let c = inet_checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(inet_checksum(&p), 0);
        // RFC 1071's example.
        assert_eq!(
            !inet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }
}
