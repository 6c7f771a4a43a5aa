//! Sockets over IPC (JOS's net/serv.c and lwIP's sockets, here over
//! smoltcp): the socket table and the requests of `abi::nsipc`.
//!
//! Every request is hostile until checked. A socket is named by its slot
//! and the client's descriptor; the slot is believed only if the client
//! maps our page for that slot at that descriptor (`sys_page_check`), so
//! no env can use a socket it does not hold. A socket belongs to every env
//! that holds its page (fork and spawn share it); it is closed when the
//! last holder closes it, or when nobody but us maps its page any more (a
//! holder that exited or was killed): `sweep` looks at each request.
//!
//! We never wait for a client, nor on one socket: a request that cannot
//! be answered now (accept, recv, connect, a send to a full buffer) is
//! parked, one per socket and direction (a send may wait while a receive,
//! accept or connect does), with its request page kept, and answered when
//! the stack makes progress (`progress`, after each poll). The client waits
//! in `ipc_call` meanwhile; a reply is sent with `ipc_try_send`, so a
//! client that is not waiting for it loses it and nothing else.
//!
//! Limits: MAXSOCK sockets, PER_ENV of them charged to one env, MAX_TCP
//! smoltcp TCP sockets in all (connections, listeners' backlogs, closing
//! connections still sending their last bytes), TCP buffers of TCP_RX and
//! TCP_TX bytes, UDP of UDP_BUF: a flood fills a buffer and the rest is
//! dropped; memory stays bounded. A listening socket's backlog is reserved
//! within MAX_TCP when it listens: a listener an accept takes is replaced
//! in that room (at once, or as soon as a TCP socket goes: `refill`), so
//! others exhausting TCP sockets cannot leave it without listeners.
//!
//! What PER_ENV stops, and what it does not. A socket is charged to the
//! env that made it while that env exists, then to its nearest ancestor
//! still there (`charged_to`; up to CHARGE_DEPTH generations as they were
//! when it was made): one env cannot make more than PER_ENV, and a maker
//! that hands its sockets to a child and exits leaves them on its parent's
//! count, not on nobody's. Not stopped: several live envs each making
//! PER_ENV (a program's children, or unrelated programs) can together
//! take all MAXSOCK slots, and then everyone else's socket() gets
//! E_MAX_OPEN while they live: the server cannot tell one program's envs
//! from another's (every env descends from init), so the table, like the
//! file server's open files (its quota.rs), is first come first served
//! beyond the per-env share. Such sockets go when their holders exit or
//! are killed. A fork-and-exit chain longer than CHARGE_DEPTH leaves its
//! oldest sockets charged to nobody.
use abi::env::EnvId;
use abi::error::{Error, Result};
use abi::fsipc::{FDTABLE, Fd, O_RDWR};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use abi::nsipc::*;
use alloc::vec;
use alloc::vec::Vec;
use jos::syscall::{
    sys_ipc_try_send, sys_page_alloc, sys_page_check, sys_page_map, sys_page_unmap,
};
use jos::uvpt::pageref;
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::storage::{PacketBuffer, PacketMetadata};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

/// Sockets one env may make (accept's count too).
pub const PER_ENV: usize = 16;
/// smoltcp TCP sockets at most, all kinds.
const MAX_TCP: usize = 96;
/// Connections waiting to be accepted on one listener, at most.
const BACKLOG_MAX: usize = 4;
/// How many generations of a socket's maker are remembered for PER_ENV
/// (`Sock::owner`).
const CHARGE_DEPTH: usize = 8;
/// A TCP connection's receive and send buffers.
const TCP_RX: usize = 8192;
const TCP_TX: usize = 16384;
/// A UDP or ICMP socket's buffers (bytes, datagrams).
const UDP_BUF: usize = 8192;
const UDP_PKTS: usize = 16;
/// How long a closed connection may go on sending its last bytes.
const LINGER: Duration = Duration::from_secs(10);
/// How long a connect waits for an answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The sockets' Fd pages (slot i at SOCKVA + i * PGSIZE): not at FDTABLE,
/// which is our own descriptors' (the library closes those at exit).
const SOCKVA: usize = 0xB000_0000;
/// Parked requests' pages (two a slot: see `parkva`).
const PARKVA: usize = SOCKVA + MAXSOCK * PGSIZE;
/// Where a request page arrives.
pub const REQVA: usize = abi::net::REQVA;
/// Where a reply page is made.
const REPLYVA: usize = 0x0FFF_D000;
/// The first port handed out when none is asked for.
const EPHEMERAL: u16 = 49152;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Udp,
    Icmp,
}

/// A request waiting for the stack.
#[derive(Clone, Copy)]
struct Parked {
    /// Who asked.
    env: EnvId,
    /// What (NSREQ_*).
    req: u32,
    /// NSREQ_SENDPAGE's length.
    len: usize,
}

/// One socket.
struct Sock {
    kind: Kind,
    /// Who it is charged to (PER_ENV): the env that made it, then that
    /// env's parent, grandparent..., as they were when it was made (0
    /// past the first env the kernel made). The first of them that still
    /// exists pays (`charged_to`): the sockets of an owner gone, held by
    /// its children, are its parent's.
    owner: [EnvId; CHARGE_DEPTH],
    /// The TCP connection, or the UDP or ICMP socket.
    handle: Option<SocketHandle>,
    /// A listener's sockets waiting for connections.
    listeners: Vec<SocketHandle>,
    /// A listening socket's backlog: the listeners it keeps, reserved
    /// within MAX_TCP when it listened (0: not listening).
    backlog: usize,
    /// Bound local address.
    local: Option<NetAddr>,
    /// A UDP socket's connected peer (its default destination); a TCP
    /// connection's peer.
    peer: Option<NetAddr>,
    /// Who sent the datagram last received.
    peer_last: Option<NetAddr>,
    /// A TCP connect in progress, and when it gives up.
    connecting: Option<Instant>,
    /// The requests waiting, one per direction (`dir`): a receive, accept
    /// or connect, and a send; each one's page at `parkva(slot, dir)`.
    parked: [Option<Parked>; 2],
}

/// The answer to a request.
enum Answer {
    /// A value (a count, 0, or an error).
    Value(Result<u32>),
    /// NSREQ_RECV*: bytes and where from, in a reply page.
    Data(usize),
    /// A new socket's page (NSREQ_SOCKET, NSREQ_ACCEPT): its slot.
    NewSock(usize),
    /// Not yet: park the request.
    Later,
}

/// The socket table, with the stack's sockets.
pub struct Socks {
    socks: Vec<Option<Sock>>,
    /// TCP connections closed by every holder, still sending; and when we
    /// give up on each.
    closing: Vec<(SocketHandle, Instant)>,
    /// The next port to try for an unbound socket.
    next_port: u16,
    /// Freed slots whose stack sockets `reap` lets go.
    pending_frees: Vec<Sock>,
    /// Scratch for one reply's bytes.
    scratch: Vec<u8>,
    /// Counts for the curious: requests refused as hostile.
    pub refused: u32,
}

fn sockva(slot: usize) -> usize {
    SOCKVA + slot * PGSIZE
}

fn parkva(slot: usize, dir: usize) -> usize {
    PARKVA + (slot * 2 + dir) * PGSIZE
}

/// The direction of request `req`: 1 for the sends, 0 for the others.
fn dir(req: u32) -> usize {
    matches!(req, NSREQ_SEND | NSREQ_SENDTO | NSREQ_SENDPAGE) as usize
}

/// Sends `value` to `env` if it waits for it (never waits itself).
fn reply_value(env: EnvId, r: Result<u32>) {
    let v = match r {
        Ok(v) => v,
        Err(e) => e.code() as u32,
    };
    let _ = sys_ipc_try_send(env, v, abi::memlayout::UTOP, PteFlags::empty());
}

/// The request at `va` as a `T`.
fn req_at<T>(va: usize) -> &'static T {
    // SAFETY: `va` holds a page the client sent (REQVA, or its parked copy
    // of the mapping), mapped while the request is handled; the types of
    // abi::nsipc are plain integers and arrays, valid for any bytes, at
    // most a page. The client may change it under us: that garbles only
    // its own request, and every field is checked as read.
    unsafe { &*(va as *const T) }
}

fn endpoint(a: NetAddr) -> IpEndpoint {
    let [b0, b1, b2, b3] = a.addr;
    IpEndpoint::new(IpAddress::v4(b0, b1, b2, b3), a.port)
}

fn netaddr(ep: IpEndpoint) -> NetAddr {
    match ep.addr {
        IpAddress::Ipv4(a) => NetAddr::new(a.octets(), ep.port),
    }
}

fn ipv4(a: IpAddress) -> [u8; 4] {
    match a {
        IpAddress::Ipv4(a) => a.octets(),
    }
}

/// `env` and its ancestors (env_parent_id, from the kernel's read-only Env
/// array), as long as each still exists: a socket's `owner` chain.
fn ancestry(env: EnvId) -> [EnvId; CHARGE_DEPTH] {
    let mut chain = [0; CHARGE_DEPTH];
    let mut id = env;
    for c in chain.iter_mut() {
        if id == 0 || jos::env::env_status(id) == abi::env::ENV_FREE {
            break;
        }
        *c = id;
        id = jos::env::envs()[abi::env::envx(id)].env_parent_id;
    }
    chain
}

/// The env a socket with owner chain `chain` is charged to: the first of
/// the chain that still exists (its maker, else the maker's nearest
/// ancestor still there); 0 (nobody) once every one is gone.
fn charged_to(chain: &[EnvId; CHARGE_DEPTH]) -> EnvId {
    chain
        .iter()
        .copied()
        .take_while(|&id| id != 0)
        .find(|&id| jos::env::env_status(id) != abi::env::ENV_FREE)
        .unwrap_or(0)
}

/// A datagram socket's buffer, either way (UDP or ICMP: `H` is the
/// packets' header): UDP_PKTS packets, UDP_BUF bytes, allocated fallibly.
fn dgram_buffer<H: Copy>() -> Result<PacketBuffer<'static, H>> {
    Ok(PacketBuffer::new(
        try_vec(UDP_PKTS, PacketMetadata::EMPTY)?,
        try_vec(UDP_BUF, 0u8)?,
    ))
}

/// A Vec of `n` copies of `v`, allocated fallibly: Err(NoMem) when the
/// heap cannot grow (every free page taken by others), so the request
/// that wanted it is answered E_NO_MEM and the server goes on.
fn try_vec<T: Clone>(n: usize, v: T) -> Result<Vec<T>> {
    let mut x = Vec::new();
    x.try_reserve_exact(n).map_err(|_| Error::NoMem)?;
    x.resize(n, v);
    Ok(x)
}

/// Sockets the stack's set may hold at once: the MAX_TCP TCP sockets
/// (accepts never add one: a connection accepted was a listener, and
/// `refill` makes listeners only below MAX_TCP), a datagram socket per
/// slot, and some room to spare. The set's storage is reserved for them
/// at start, so adding a socket never grows it.
pub const SET_MAX: usize = MAX_TCP + BACKLOG_MAX + MAXSOCK;

/// A TCP socket with its buffers; Err(NoMem) if they cannot be allocated.
fn new_tcp<'a>() -> Result<tcp::Socket<'a>> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(try_vec(TCP_RX, 0u8)?),
        tcp::SocketBuffer::new(try_vec(TCP_TX, 0u8)?),
    );
    s.set_nagle_enabled(false);
    s.set_timeout(Some(Duration::from_secs(30)));
    // A peer that vanished (its host reset without telling us) is found
    // out: probes every 10 s, and the timeout ends the connection.
    s.set_keep_alive(Some(Duration::from_secs(10)));
    Ok(s)
}

impl Socks {
    /// An empty table.
    pub fn new() -> Socks {
        let mut socks = Vec::new();
        socks.resize_with(MAXSOCK, || None);
        Socks {
            socks,
            // Room for every closing connection and freed slot there can
            // be: pushing onto them never allocates.
            closing: Vec::with_capacity(MAX_TCP + BACKLOG_MAX),
            next_port: EPHEMERAL,
            pending_frees: Vec::with_capacity(MAXSOCK),
            scratch: vec![0; NSBUF_DATA],
            refused: 0,
        }
    }

    /// smoltcp TCP sockets in use or reserved: a listening socket counts
    /// its whole backlog (`Sock::backlog`) even while listeners are
    /// missing (taken by accepts, not yet refilled), so nobody else can
    /// take the room they come back into. What a new socket is checked
    /// against (MAX_TCP).
    fn tcp_count(&self) -> usize {
        self.closing.len()
            + self
                .socks
                .iter()
                .flatten()
                .map(|s| {
                    (s.kind == Kind::Tcp && s.handle.is_some()) as usize
                        + s.listeners.len().max(s.backlog)
                })
                .sum::<usize>()
    }

    /// smoltcp TCP sockets that exist (the reservations left out).
    fn tcp_real(&self) -> usize {
        self.closing.len()
            + self
                .socks
                .iter()
                .flatten()
                .map(|s| (s.kind == Kind::Tcp && s.handle.is_some()) as usize + s.listeners.len())
                .sum::<usize>()
    }

    /// Gives every listening socket back the listeners accepts took, while
    /// fewer than MAX_TCP TCP sockets exist (the reservation in
    /// `tcp_count` keeps that room for them), so a listener never stays
    /// without one once sockets free up. A listener that cannot be made
    /// now (no memory) is tried again at the next progress.
    fn refill(&mut self, set: &mut SocketSet<'static>) {
        let mut real = self.tcp_real();
        for slot in 0..MAXSOCK {
            while real < MAX_TCP
                && let Some(s) = self.socks[slot].as_ref()
                && s.listeners.len() < s.backlog
            {
                let local = s.local.unwrap_or_default();
                if self.add_listener(set, slot, local).is_err() {
                    break;
                }
                real += 1;
            }
        }
    }

    /// Serves request `value` from `env`, whose page (if any) is at REQVA
    /// (`has_page`). Answers it now or parks it.
    pub fn request(
        &mut self,
        iface: &mut Interface,
        set: &mut SocketSet<'static>,
        env: EnvId,
        value: u32,
        has_page: bool,
    ) {
        let Some(p) = nsreq_parts(value) else {
            self.refused += 1;
            return reply_value(env, Err(Error::Inval));
        };
        // Every request brings a page (the request, or SENDPAGE's data).
        if !has_page {
            self.refused += 1;
            return reply_value(env, Err(Error::Inval));
        }
        if p.req == NSREQ_SOCKET {
            let r = self.socket(set, env, req_at::<NsreqSocket>(REQVA));
            return self.answer(
                env,
                None,
                r.map_or_else(|e| Answer::Value(Err(e)), Answer::NewSock),
            );
        }
        let Some((fdnum, slot)) = p.sock else {
            self.refused += 1;
            return reply_value(env, Err(Error::Inval));
        };
        // The client must hold the socket: map our page at its descriptor.
        let held = slot < MAXSOCK
            && self.socks[slot].is_some()
            && sys_page_check(env, FDTABLE + fdnum * PGSIZE, sockva(slot)).is_ok();
        if !held {
            self.refused += 1;
            return reply_value(env, Err(Error::Inval));
        }
        if self.socks[slot]
            .as_ref()
            .is_some_and(|s| s.parked[dir(p.req)].is_some())
        {
            // One request waits per socket and direction (another
            // holder's): this one is refused rather than queued without
            // bound.
            return reply_value(env, Err(Error::Inval));
        }
        if p.req == NSREQ_SENDPAGE && p.len > PGSIZE {
            self.refused += 1;
            return reply_value(env, Err(Error::Inval));
        }
        let parked = Parked {
            env,
            req: p.req,
            len: p.len,
        };
        let a = self.serve(iface, set, slot, parked, REQVA);
        if let Answer::Later = a {
            // Keep the request's page until we answer.
            let d = dir(p.req);
            if sys_page_map(0, REQVA, 0, parkva(slot, d), PteFlags::P | PteFlags::U).is_err() {
                return reply_value(env, Err(Error::NoMem));
            }
            if let Some(s) = self.socks[slot].as_mut() {
                s.parked[d] = Some(parked);
            }
            return;
        }
        self.answer(env, Some(slot), a);
    }

    /// Sends answer `a` to `env` (about socket `slot`, if any).
    fn answer(&mut self, env: EnvId, slot: Option<usize>, a: Answer) {
        match a {
            Answer::Value(r) => reply_value(env, r),
            Answer::Later => {}
            Answer::NewSock(new) => {
                let perm = PTE_RW | PteFlags::SHARE;
                if sys_ipc_try_send(env, 0, sockva(new), perm).is_err() {
                    // Not waiting, or no memory there: nobody holds it.
                    self.free(new);
                }
            }
            Answer::Data(n) => {
                let from = slot
                    .and_then(|s| self.socks[s].as_ref())
                    .and_then(|s| s.peer_last.or(s.peer))
                    .unwrap_or_default();
                self.reply_data(env, n, from);
            }
        }
    }

    /// Replies `n` bytes of `scratch`, from `from`, in a fresh page.
    fn reply_data(&mut self, env: EnvId, n: usize, from: NetAddr) {
        if sys_page_alloc(0, REPLYVA, PTE_RW).is_err() {
            return reply_value(env, Err(Error::NoMem));
        }
        // SAFETY: REPLYVA is mapped, fresh and ours alone; NsretRecv is a page.
        let ret = unsafe { &mut *(REPLYVA as *mut NsretRecv) };
        ret.ret_len = n as i32;
        ret.ret_addr = from;
        ret.ret_buf[..n].copy_from_slice(&self.scratch[..n]);
        let _ = sys_ipc_try_send(env, n as u32, REPLYVA, PTE_RW);
        let _ = sys_page_unmap(0, REPLYVA);
    }

    /// NSREQ_SOCKET: a new slot with its Fd page. E_INVAL for what we do
    /// not serve, E_MAX_OPEN when full (for `env`), E_NO_MEM.
    fn socket(
        &mut self,
        set: &mut SocketSet<'static>,
        env: EnvId,
        req: &NsreqSocket,
    ) -> Result<usize> {
        let (domain, ty, proto) = (req.req_domain, req.req_type, req.req_protocol);
        if domain != PF_INET {
            return Err(Error::Inval);
        }
        let kind = match (ty, proto) {
            (SOCK_STREAM, 0 | IPPROTO_TCP) => Kind::Tcp,
            (SOCK_DGRAM, 0 | IPPROTO_UDP) => Kind::Udp,
            (SOCK_RAW, IPPROTO_ICMP) => Kind::Icmp,
            _ => return Err(Error::Inval),
        };
        let handle = match kind {
            Kind::Tcp => None,
            Kind::Udp | Kind::Icmp => Some(self.new_dgram(set, kind)?),
        };
        match self.alloc(env, kind, handle) {
            Ok(slot) => Ok(slot),
            Err(e) => {
                if let Some(h) = handle {
                    set.remove(h);
                }
                Err(e)
            }
        }
    }

    /// A UDP or ICMP socket in the stack.
    fn new_dgram(&mut self, set: &mut SocketSet<'static>, kind: Kind) -> Result<SocketHandle> {
        Ok(match kind {
            Kind::Udp => set.add(udp::Socket::new(dgram_buffer()?, dgram_buffer()?)),
            Kind::Icmp => set.add(icmp::Socket::new(dgram_buffer()?, dgram_buffer()?)),
            Kind::Tcp => return Err(Error::Inval),
        })
    }

    /// A free slot for a socket of `env`, its Fd page made.
    fn alloc(&mut self, env: EnvId, kind: Kind, handle: Option<SocketHandle>) -> Result<usize> {
        let mine = self
            .socks
            .iter()
            .flatten()
            .filter(|s| charged_to(&s.owner) == env)
            .count();
        if mine >= PER_ENV {
            return Err(Error::MaxOpen);
        }
        let slot = self
            .socks
            .iter()
            .position(|s| s.is_none())
            .ok_or(Error::MaxOpen)?;
        sys_page_alloc(0, sockva(slot), PTE_RW | PteFlags::SHARE)?;
        // SAFETY: just mapped, ours alone; a SockFd fits a page.
        let fd = unsafe { &mut *(sockva(slot) as *mut SockFd) };
        fd.fd = Fd {
            fd_dev_id: DEV_SOCK,
            fd_offset: 0,
            fd_omode: O_RDWR as i32,
            fd_file_id: slot as i32,
        };
        self.socks[slot] = Some(Sock {
            kind,
            owner: ancestry(env),
            handle,
            listeners: Vec::new(),
            backlog: 0,
            local: None,
            peer: None,
            peer_last: None,
            connecting: None,
            parked: [None, None],
        });
        Ok(slot)
    }

    /// Frees slot `slot`: its page goes, a parked request is refused, its
    /// stack sockets are closed (a connection lingers to send what it has).
    fn free(&mut self, slot: usize) {
        let Some(s) = self.socks[slot].take() else {
            return;
        };
        let _ = sys_page_unmap(0, sockva(slot));
        for (d, p) in s.parked.iter().enumerate() {
            if let Some(p) = p {
                let _ = sys_page_unmap(0, parkva(slot, d));
                reply_value(p.env, Err(Error::NotConn));
            }
        }
        self.pending_frees.push(s);
    }

    /// Serves request `p` on socket `slot`, its page at `va`.
    fn serve(
        &mut self,
        iface: &mut Interface,
        set: &mut SocketSet<'static>,
        slot: usize,
        p: Parked,
        va: usize,
    ) -> Answer {
        let v = |r: Result<u32>| Answer::Value(r);
        match p.req {
            NSREQ_BIND => v(self
                .bind(set, slot, req_at::<NsreqAddr>(va).req_addr)
                .map(|_| 0)),
            NSREQ_LISTEN => v(self
                .listen(set, slot, req_at::<NsreqListen>(va).req_backlog)
                .map(|_| 0)),
            NSREQ_CLOSE => {
                self.free(slot);
                v(Ok(0))
            }
            NSREQ_SHUTDOWN => v(self.shutdown(set, slot, req_at::<NsreqShutdown>(va).req_how)),
            NSREQ_CONNECT => {
                self.connect(iface, set, slot, req_at::<NsreqAddr>(va).req_addr, p.env)
            }
            NSREQ_ACCEPT => self.accept(set, slot, p.env),
            NSREQ_RECV | NSREQ_RECVFROM => {
                let r = req_at::<NsreqRecv>(va);
                let want = r.req_len.clamp(0, NSBUF_DATA as i32) as usize;
                let nowait = r.req_flags & MSG_DONTWAIT != 0;
                match self.recv(set, slot, want) {
                    Answer::Later if nowait => v(Err(Error::Again)),
                    a => a,
                }
            }
            NSREQ_SEND | NSREQ_SENDTO => {
                let r = req_at::<NsreqSend>(va);
                let n = r.req_len.clamp(0, NSBUF_DATA as i32) as usize;
                let to = (p.req == NSREQ_SENDTO).then_some(r.req_addr);
                self.send(iface, set, slot, &r.req_buf[..n], to)
            }
            NSREQ_SENDPAGE => {
                // SAFETY: `va` holds the client's page (mapped at least
                // readable), `p.len` <= PGSIZE (checked).
                let data = unsafe { core::slice::from_raw_parts(va as *const u8, p.len) };
                if self.socks[slot]
                    .as_ref()
                    .is_some_and(|s| s.kind != Kind::Tcp)
                {
                    return v(Err(Error::Inval));
                }
                self.send(iface, set, slot, data, None)
            }
            _ => {
                self.refused += 1;
                v(Err(Error::Inval))
            }
        }
    }

    /// Whether (kind, port) is taken by another socket.
    fn port_taken(&self, kind: Kind, port: u16) -> bool {
        self.socks
            .iter()
            .flatten()
            .any(|s| s.kind == kind && s.local.is_some_and(|l| l.port == port))
    }

    /// A free port for `kind`.
    fn free_port(&mut self, kind: Kind) -> Result<u16> {
        for _ in 0..(65535 - EPHEMERAL as u32) {
            let p = self.next_port;
            self.next_port = if p == 65535 { EPHEMERAL } else { p + 1 };
            if !self.port_taken(kind, p) {
                return Ok(p);
            }
        }
        Err(Error::AddrInUse)
    }

    fn bind(&mut self, set: &mut SocketSet<'static>, slot: usize, addr: NetAddr) -> Result<()> {
        let (kind, bound, handle) = {
            let s = self.socks[slot].as_ref().ok_or(Error::Inval)?;
            (s.kind, s.local.is_some(), s.handle)
        };
        if bound {
            return Err(Error::Inval);
        }
        let port = if addr.port == 0 {
            self.free_port(kind)?
        } else {
            addr.port
        };
        if self.port_taken(kind, port) {
            return Err(Error::AddrInUse);
        }
        let local = NetAddr::new(addr.addr, port);
        match (kind, handle) {
            (Kind::Udp, Some(h)) => {
                let ep = if addr.addr == [0; 4] {
                    IpListenEndpoint { addr: None, port }
                } else {
                    endpoint(local).into()
                };
                set.get_mut::<udp::Socket>(h)
                    .bind(ep)
                    .map_err(|_| Error::Inval)?
            }
            (Kind::Icmp, Some(h)) => set
                .get_mut::<icmp::Socket>(h)
                .bind(icmp::Endpoint::Ident(port))
                .map_err(|_| Error::Inval)?,
            _ => {}
        }
        let s = self.socks[slot].as_mut().ok_or(Error::Inval)?;
        s.local = Some(local);
        // SAFETY: our mapped SockFd page for this slot.
        unsafe { (*(sockva(slot) as *mut SockFd)).sock_local = local };
        Ok(())
    }

    fn listen(&mut self, set: &mut SocketSet<'static>, slot: usize, backlog: i32) -> Result<()> {
        let s = self.socks[slot].as_ref().ok_or(Error::Inval)?;
        let Some(local) = s.local else {
            return Err(Error::Inval);
        };
        if s.kind != Kind::Tcp || s.handle.is_some() || s.backlog > 0 {
            return Err(Error::Inval);
        }
        let n = (backlog.max(1) as usize).min(BACKLOG_MAX);
        // The whole backlog reserved now, within MAX_TCP: an accept later
        // swaps a listener for a new one in this room (`refill`).
        if self.tcp_count() + n > MAX_TCP {
            return Err(Error::MaxOpen);
        }
        let mut listeners = Vec::new();
        listeners
            .try_reserve_exact(BACKLOG_MAX)
            .map_err(|_| Error::NoMem)?;
        if let Some(s) = self.socks[slot].as_mut() {
            s.listeners = listeners;
        }
        for _ in 0..n {
            if let Err(e) = self.add_listener(set, slot, local) {
                // Undone: no listener is left behind.
                if let Some(s) = self.socks[slot].as_mut() {
                    for h in s.listeners.drain(..) {
                        set.remove(h);
                    }
                }
                return Err(e);
            }
        }
        if let Some(s) = self.socks[slot].as_mut() {
            s.backlog = n;
        }
        Ok(())
    }

    /// One more smoltcp socket listening for `slot` (the caller checked
    /// the room: `listen`'s reservation, `refill`). Err(NoMem) if its
    /// buffers cannot be allocated, Err(Inval) for a bad address.
    fn add_listener(
        &mut self,
        set: &mut SocketSet<'static>,
        slot: usize,
        local: NetAddr,
    ) -> Result<()> {
        if self.socks[slot]
            .as_ref()
            .is_none_or(|s| s.listeners.len() >= BACKLOG_MAX)
        {
            return Err(Error::Inval);
        }
        let mut t = new_tcp()?;
        let ep = if local.addr == [0; 4] {
            IpListenEndpoint {
                addr: None,
                port: local.port,
            }
        } else {
            endpoint(local).into()
        };
        t.listen(ep).map_err(|_| Error::Inval)?;
        let h = set.add(t);
        if let Some(s) = self.socks[slot].as_mut() {
            s.listeners.push(h);
        }
        Ok(())
    }

    fn accept(&mut self, set: &mut SocketSet<'static>, slot: usize, env: EnvId) -> Answer {
        let Some(s) = self.socks[slot].as_ref() else {
            return Answer::Value(Err(Error::Inval));
        };
        if s.backlog == 0 {
            return Answer::Value(Err(Error::Inval));
        }
        let local = s.local.unwrap_or_default();
        let ready = s.listeners.iter().position(|&h| {
            let t = set.get::<tcp::Socket>(h);
            matches!(t.state(), tcp::State::Established | tcp::State::CloseWait)
        });
        // A listener that went back to closed (a reset handshake) listens
        // again (no allocation: the server may be out of memory).
        for i in 0..s.listeners.len() {
            let h = self.socks[slot].as_ref().map(|s| s.listeners[i]);
            if let Some(h) = h
                && set.get::<tcp::Socket>(h).state() == tcp::State::Closed
            {
                let t = set.get_mut::<tcp::Socket>(h);
                let ep = if local.addr == [0; 4] {
                    IpListenEndpoint {
                        addr: None,
                        port: local.port,
                    }
                } else {
                    endpoint(local).into()
                };
                let _ = t.listen(ep);
            }
        }
        let Some(i) = ready else {
            return Answer::Later;
        };
        let h = match self.socks[slot].as_mut() {
            Some(s) => s.listeners.swap_remove(i),
            None => return Answer::Value(Err(Error::Inval)),
        };
        let new = match self.alloc(env, Kind::Tcp, Some(h)) {
            Ok(n) => n,
            Err(e) => {
                // Refused: the connection goes, the listener stays.
                set.get_mut::<tcp::Socket>(h).abort();
                self.closing.push((h, Instant::from_millis(0)));
                self.refill(set);
                return Answer::Value(Err(e));
            }
        };
        let t = set.get::<tcp::Socket>(h);
        let peer = t.remote_endpoint().map(netaddr).unwrap_or_default();
        let me = t.local_endpoint().map(netaddr).unwrap_or(local);
        if let Some(s) = self.socks[new].as_mut() {
            s.peer = Some(peer);
            s.local = Some(me);
        }
        // SAFETY: our mapped SockFd page for the new slot.
        unsafe {
            let fd = &mut *(sockva(new) as *mut SockFd);
            fd.sock_peer = peer;
            fd.sock_local = me;
        }
        // The listener taken comes back in the reserved room if MAX_TCP
        // allows now, else as soon as a TCP socket goes (`progress`).
        self.refill(set);
        Answer::NewSock(new)
    }

    fn connect(
        &mut self,
        iface: &mut Interface,
        set: &mut SocketSet<'static>,
        slot: usize,
        addr: NetAddr,
        _env: EnvId,
    ) -> Answer {
        let Some(s) = self.socks[slot].as_ref() else {
            return Answer::Value(Err(Error::Inval));
        };
        let (kind, handle, local, connecting) = (s.kind, s.handle, s.local, s.connecting);
        let now = crate::now();
        match kind {
            Kind::Udp | Kind::Icmp => {
                if addr.port == 0 && kind == Kind::Udp {
                    return Answer::Value(Err(Error::Inval));
                }
                if local.is_none()
                    && let Err(e) = self.bind(set, slot, NetAddr::default())
                {
                    return Answer::Value(Err(e));
                }
                if let Some(s) = self.socks[slot].as_mut() {
                    s.peer = Some(addr);
                }
                Answer::Value(Ok(0))
            }
            Kind::Tcp => {
                if let Some(deadline) = connecting {
                    // A parked connect looked at again.
                    let Some(h) = handle else {
                        return Answer::Value(Err(Error::Inval));
                    };
                    let t = set.get_mut::<tcp::Socket>(h);
                    return match t.state() {
                        tcp::State::Established | tcp::State::CloseWait => {
                            self.connected(slot);
                            Answer::Value(Ok(0))
                        }
                        tcp::State::SynSent | tcp::State::SynReceived if now < deadline => {
                            Answer::Later
                        }
                        tcp::State::SynSent | tcp::State::SynReceived => {
                            t.abort();
                            self.connected(slot);
                            Answer::Value(Err(Error::ConnReset))
                        }
                        _ => {
                            self.connected(slot);
                            Answer::Value(Err(Error::ConnRefused))
                        }
                    };
                }
                let s = self.socks[slot].as_ref();
                if handle.is_some() || s.is_some_and(|s| s.backlog > 0) {
                    return Answer::Value(Err(Error::Inval));
                }
                if addr.port == 0 || addr.addr == [0; 4] {
                    return Answer::Value(Err(Error::Inval));
                }
                if self.tcp_count() >= MAX_TCP {
                    return Answer::Value(Err(Error::MaxOpen));
                }
                let lport = match local {
                    Some(l) => l.port,
                    None => match self.free_port(Kind::Tcp) {
                        Ok(p) => p,
                        Err(e) => return Answer::Value(Err(e)),
                    },
                };
                let mut t = match new_tcp() {
                    Ok(t) => t,
                    Err(e) => return Answer::Value(Err(e)),
                };
                if t.connect(iface.context(), endpoint(addr), lport).is_err() {
                    return Answer::Value(Err(Error::Inval));
                }
                let h = set.add(t);
                if let Some(s) = self.socks[slot].as_mut() {
                    s.handle = Some(h);
                    s.peer = Some(addr);
                    s.local = Some(NetAddr::new(s.local.map_or([0; 4], |l| l.addr), lport));
                    s.connecting = Some(now + CONNECT_TIMEOUT);
                }
                // SAFETY: our mapped SockFd page for this slot.
                unsafe { (*(sockva(slot) as *mut SockFd)).sock_peer = addr };
                Answer::Later
            }
        }
    }

    /// Marks `slot`'s connect over.
    fn connected(&mut self, slot: usize) {
        if let Some(s) = self.socks[slot].as_mut() {
            s.connecting = None;
        }
    }

    fn shutdown(&mut self, set: &mut SocketSet<'static>, slot: usize, how: i32) -> Result<u32> {
        let s = self.socks[slot].as_ref().ok_or(Error::Inval)?;
        if !(SHUT_RD..=SHUT_RDWR).contains(&how) {
            return Err(Error::Inval);
        }
        if let (Kind::Tcp, Some(h)) = (s.kind, s.handle)
            && how != SHUT_RD
        {
            set.get_mut::<tcp::Socket>(h).close();
        }
        Ok(0)
    }

    fn recv(&mut self, set: &mut SocketSet<'static>, slot: usize, want: usize) -> Answer {
        let Some(s) = self.socks[slot].as_mut() else {
            return Answer::Value(Err(Error::Inval));
        };
        let Some(h) = s.handle else {
            return Answer::Value(Err(Error::NotConn));
        };
        let buf = &mut self.scratch[..want];
        match s.kind {
            Kind::Tcp => {
                let t = set.get_mut::<tcp::Socket>(h);
                if t.can_recv() {
                    match t.recv_slice(buf) {
                        Ok(n) => Answer::Data(n),
                        Err(_) => Answer::Value(Ok(0)),
                    }
                } else if !t.may_recv() {
                    // The peer closed (or the connection is gone): the end.
                    Answer::Data(0)
                } else {
                    Answer::Later
                }
            }
            Kind::Udp => {
                // A datagram longer than the buffer: its first bytes, the
                // rest discarded (BSD's recv), never nothing.
                let u = set.get_mut::<udp::Socket>(h);
                match u.recv() {
                    Ok((d, meta)) => {
                        let n = d.len().min(buf.len());
                        buf[..n].copy_from_slice(&d[..n]);
                        s.peer_last = Some(netaddr(meta.endpoint));
                        Answer::Data(n)
                    }
                    Err(_) => Answer::Later,
                }
            }
            Kind::Icmp => {
                let c = set.get_mut::<icmp::Socket>(h);
                match c.recv() {
                    Ok((d, from)) => {
                        let n = d.len().min(buf.len());
                        buf[..n].copy_from_slice(&d[..n]);
                        s.peer_last = Some(NetAddr::new(ipv4(from), 0));
                        Answer::Data(n)
                    }
                    Err(_) => Answer::Later,
                }
            }
        }
    }

    fn send(
        &mut self,
        iface: &mut Interface,
        set: &mut SocketSet<'static>,
        slot: usize,
        data: &[u8],
        to: Option<NetAddr>,
    ) -> Answer {
        let Some(s) = self.socks[slot].as_ref() else {
            return Answer::Value(Err(Error::Inval));
        };
        let (kind, handle, peer, local) = (s.kind, s.handle, s.peer, s.local);
        let Some(h) = handle else {
            return Answer::Value(Err(Error::NotConn));
        };
        match kind {
            Kind::Tcp => {
                let t = set.get_mut::<tcp::Socket>(h);
                if data.is_empty() {
                    return Answer::Value(Ok(0));
                }
                if !t.may_send() {
                    return Answer::Value(Err(if t.state() == tcp::State::Closed {
                        Error::ConnReset
                    } else {
                        Error::NotConn
                    }));
                }
                if !t.can_send() {
                    return Answer::Later;
                }
                match t.send_slice(data) {
                    Ok(0) => Answer::Later,
                    Ok(n) => Answer::Value(Ok(n as u32)),
                    Err(_) => Answer::Value(Err(Error::NotConn)),
                }
            }
            Kind::Udp | Kind::Icmp => {
                let Some(dst) = to.or(peer) else {
                    return Answer::Value(Err(Error::NotConn));
                };
                if local.is_none()
                    && let Err(e) = self.bind(set, slot, NetAddr::default())
                {
                    return Answer::Value(Err(e));
                }
                let r = if kind == Kind::Udp {
                    if dst.port == 0 {
                        return Answer::Value(Err(Error::Inval));
                    }
                    set.get_mut::<udp::Socket>(h)
                        .send_slice(data, endpoint(dst))
                        .map_err(|e| match e {
                            udp::SendError::BufferFull => Error::NoMem,
                            udp::SendError::Unaddressable => Error::Inval,
                        })
                } else {
                    set.get_mut::<icmp::Socket>(h)
                        .send_slice(data, endpoint(dst).addr)
                        .map_err(|e| match e {
                            icmp::SendError::BufferFull => Error::NoMem,
                            icmp::SendError::Unaddressable => Error::Inval,
                        })
                };
                let _ = iface;
                Answer::Value(r.map(|()| data.len() as u32))
            }
        }
    }

    /// After the stack moved: answers the parked requests that can be now,
    /// frees sockets nobody holds any more, and forgets closing connections
    /// that are done or have lingered too long.
    pub fn progress(&mut self, iface: &mut Interface, set: &mut SocketSet<'static>) {
        self.refill(set);
        for slot in 0..MAXSOCK {
            let Some(s) = self.socks[slot].as_ref() else {
                continue;
            };
            // Nobody but us maps its page: every holder is gone.
            if pageref(sockva(slot)) <= 1 {
                self.free(slot);
                continue;
            }
            let parked = s.parked;
            for (d, p) in parked.into_iter().enumerate() {
                let Some(p) = p else {
                    continue;
                };
                // A client gone (killed while it waited) is answered no
                // more: what the stack has (a connection to accept) stays
                // for the socket's other holders.
                let gone = jos::env::env_status(p.env) == abi::env::ENV_FREE;
                let a = if gone {
                    None
                } else {
                    match self.serve(iface, set, slot, p, parkva(slot, d)) {
                        Answer::Later => continue,
                        a => Some(a),
                    }
                };
                if let Some(s) = self.socks[slot].as_mut() {
                    s.parked[d] = None;
                }
                if let Some(a) = a {
                    self.answer(p.env, Some(slot), a);
                }
                let _ = sys_page_unmap(0, parkva(slot, d));
            }
        }
        self.reap(set);
    }

    /// Lets the stack sockets of freed slots go: a connection is closed
    /// and lingers; listeners and datagram sockets go at once.
    fn reap(&mut self, set: &mut SocketSet<'static>) {
        let now = crate::now();
        for s in core::mem::take(&mut self.pending_frees) {
            for h in s.listeners {
                set.remove(h);
            }
            match (s.kind, s.handle) {
                (Kind::Tcp, Some(h)) => {
                    set.get_mut::<tcp::Socket>(h).close();
                    self.closing.push((h, now + LINGER));
                }
                (_, Some(h)) => {
                    set.remove(h);
                }
                (_, None) => {}
            }
        }
        let mut i = 0;
        while i < self.closing.len() {
            let (h, deadline) = self.closing[i];
            let t = set.get_mut::<tcp::Socket>(h);
            let done = matches!(t.state(), tcp::State::Closed | tcp::State::TimeWait);
            if done || now >= deadline {
                if !done {
                    t.abort();
                }
                set.remove(h);
                self.closing.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}

const _: () = assert!(PARKVA + 2 * MAXSOCK * PGSIZE <= 0xC000_0000);
