//! Distributed shared memory: one range of pages shared by programs on
//! several machines, kept sequentially consistent by Li and Hudak's IVY
//! protocol (1989), as pure logic: no system calls, no network, no clock
//! of its own. The caller (the user library's DSM daemon) gives it page
//! faults, received datagrams and the time, and it answers through
//! [`Host`]: datagrams to send, pages to protect, faults that are done.
//! Tested on the host against a simulated network that loses, duplicates,
//! reorders and delays (tests.rs).
//!
//! ## The protocol
//!
//! Single writer, many readers, page by page. Each page has one *owner*,
//! which holds a copy (read-only or writable); other nodes may hold
//! read-only copies (the page's *copy set*) while nobody writes. A fixed
//! *manager* node (node 0, also an ordinary node) knows every page's owner
//! and copy set and takes requests for a page one at a time (a page's
//! *transaction*), queueing the others:
//!
//! ```text
//!  read fault at R           write fault at W (W holds no current copy)
//!  R        M        O        W        M        C (copy)   O
//!  |-ReadReq>|        |       |-WriteReq>|         |        |
//!  |         |-FwdRead>       |          |--Inval->|        |
//!  |<------Data x4----|       |          |<-InvAck-|        |
//!  |-Confirm>|  (O keeps it   |          |---FwdWrite------>|
//!  (R: +copy set)  read-only) |<------------Data x4---------| (O: no access)
//!                             |-Confirm->|  (W: owner, copy set empty)
//! ```
//!
//! - A write by a node whose copy is current (the owner's read-only copy,
//!   or a copy-set member's) moves no bytes: the manager sends `Grant` to
//!   an owner, or `FwdWrite` with NODATA to the owner for a copy holder.
//! - Every copy but the writer's is dropped before the writer may write:
//!   the manager collects every `InvAck` first, and the old owner drops its
//!   access before it sends the page.
//! - A transaction ends with the requester's `Confirm`, so the manager
//!   never starts a page's next one before the last is installed.
//!
//! At start node 0 owns every page, writable, all zeros.
//!
//! ## Reliability
//!
//! Each pair of nodes talks through a [`channel::Channel`]: numbered
//! messages, acknowledged, retransmitted on a timeout with go-back-N, taken
//! in order exactly once. So a lost, duplicated or reordered datagram
//! delays the protocol but never changes what it does. A peer that
//! acknowledges nothing for `max_retries` timeouts in a row is *lost*:
//! [`Host::peer_lost`] is called once, and every fault waiting and every
//! later fault fails ([`FaultResult::Failed`]).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod channel;
#[cfg(test)]
mod tests;
pub mod wire;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use channel::{Channel, Timing};
use wire::{CHUNK, Kind, LAST, MAX_MSG, Msg, NODATA, OFF_MASK, WRITE, ZERO};

/// A machine's number, 0 (the manager) to [`MAX_NODES`] - 1.
pub type NodeId = u8;
/// Nodes at most (a copy set is a 16-bit mask).
pub const MAX_NODES: usize = 16;
/// The page size.
pub const PGSIZE: usize = 4096;
/// The manager's node number.
pub const MANAGER: NodeId = 0;

/// What the application may do with a page on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    None,
    Read,
    Write,
}

/// What the protocol needs from the machine it runs on.
pub trait Host {
    /// Sends datagram `packet` to node `to`.
    fn send(&mut self, to: NodeId, packet: &[u8]);
    /// The bytes of page `page` on this machine (the daemon's view, never
    /// protected).
    fn page(&mut self, page: u32) -> &mut [u8; PGSIZE];
    /// Lets the application do `access` to page `page` from now on.
    fn protect(&mut self, page: u32, access: Access);
    /// The fault on `page` is served: the access asked for is there.
    fn fault_done(&mut self, page: u32);
    /// Peer `peer` stopped answering (called once per peer).
    fn peer_lost(&mut self, peer: NodeId);
}

/// The node's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// This node.
    pub me: NodeId,
    /// Nodes in all (2 to MAX_NODES).
    pub nodes: usize,
    /// Pages in the shared range.
    pub npages: u32,
    pub timing: Timing,
}

/// Counts, for the programs' reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub read_faults: u64,
    pub write_faults: u64,
    /// Read copies asked for ahead of a fault ([`Node::prefetch`]).
    pub read_ahead: u64,
    /// Pages this node sent whole (4 `Data` messages each).
    pub pages_sent: u64,
    /// Copies this node dropped on the manager's `Inval`.
    pub invalidations: u64,
    /// Datagrams sent again after a timeout.
    pub retransmissions: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    /// Datagrams that were not ours, or not for this node, dropped.
    pub bad_messages: u64,
}

/// What [`Node::fault`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultResult {
    /// The access is there already (the fault raced with an answer).
    Ready,
    /// Asked for; [`Host::fault_done`] will say when it is there.
    Waiting,
    /// A peer is lost (or the page is outside the range): it never comes.
    Failed,
}

/// This node's view of one page.
#[derive(Clone, Copy)]
struct Local {
    access: Access,
    owner: bool,
    /// A fault of the application waits (true: for writing).
    waiting: Option<bool>,
}

/// The manager's view of one page.
struct Managed {
    owner: NodeId,
    /// Nodes with a read copy, the owner not included.
    copyset: u16,
    /// The transaction in progress: the requester, for writing, and the
    /// copies still to be dropped.
    busy: Option<(NodeId, bool, u16)>,
    /// Requests waiting for it.
    queue: VecDeque<(NodeId, bool)>,
}

/// One node of the protocol.
pub struct Node {
    cfg: Config,
    pages: Vec<Local>,
    /// Node 0's only.
    managed: Vec<Managed>,
    peers: Vec<Channel>,
    /// Messages to this node itself (the manager is a node too).
    local: VecDeque<Msg>,
    lost: bool,
    lost_told: u16,
    /// When each peer was last heard from (for keepalives).
    heard_at: Vec<u64>,
    /// Our application said it is done (`Bye` sent to all).
    said_bye: bool,
    /// The peers whose `Bye` came.
    byes: u16,
    /// The peers that stopped answering after both said `Bye`.
    gone: u16,
    pub stats: Stats,
}

fn bit(n: NodeId) -> u16 {
    1 << n
}

fn msg(kind: Kind, page: u32, arg: u32) -> Msg {
    Msg {
        kind,
        from: 0,
        seq: 0,
        ack: 0,
        page,
        arg,
        data: Vec::new(),
    }
}

impl Node {
    /// A node at the start: node 0 owns every page, writable; the others
    /// have none. Panics on a bad configuration (a caller's bug).
    pub fn new(cfg: Config, host: &mut impl Host) -> Node {
        assert!((2..=MAX_NODES).contains(&cfg.nodes) && (cfg.me as usize) < cfg.nodes);
        let start = if cfg.me == MANAGER {
            Access::Write
        } else {
            Access::None
        };
        let pages = (0..cfg.npages)
            .map(|p| {
                host.protect(p, start);
                Local {
                    access: start,
                    owner: cfg.me == MANAGER,
                    waiting: None,
                }
            })
            .collect();
        let managed = if cfg.me == MANAGER {
            (0..cfg.npages)
                .map(|_| Managed {
                    owner: MANAGER,
                    copyset: 0,
                    busy: None,
                    queue: VecDeque::new(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut node = Node {
            cfg,
            pages,
            managed,
            peers: (0..cfg.nodes).map(|_| Channel::new()).collect(),
            local: VecDeque::new(),
            lost: false,
            lost_told: 0,
            heard_at: alloc::vec![0; cfg.nodes],
            said_bye: false,
            byes: 0,
            gone: 0,
            stats: Stats::default(),
        };
        // Find the peers: each Hello is acknowledged once the peer is up.
        node.tell_peers(Kind::Hello);
        node
    }

    /// Queues a message of `kind` (no page) for every peer.
    fn tell_peers(&mut self, kind: Kind) {
        for peer in 0..self.cfg.nodes as NodeId {
            if peer != self.cfg.me {
                self.send(peer, msg(kind, 0, 0));
            }
        }
    }

    /// Our application is done with the shared memory: tells every peer
    /// (`Bye`). The node goes on serving the peers until [`Node::finished`].
    pub fn bye(&mut self, host: &mut impl Host, now: u64) {
        if !self.said_bye {
            self.said_bye = true;
            self.tell_peers(Kind::Bye);
            self.run(host, now);
        }
    }

    /// Whether every node is done: we said `Bye` and every peer
    /// acknowledged everything we sent, and every peer said `Bye` too.
    /// Nobody needs this node any more (but a peer may still miss our
    /// last acknowledgement: linger a few timeouts, answering, before
    /// going).
    pub fn finished(&self) -> bool {
        let others = ((1u32 << self.cfg.nodes) - 1) as u16 & !bit(self.cfg.me);
        self.said_bye
            && !self.lost
            && self.byes == others
            && self.local.is_empty()
            && self
                .peers
                .iter()
                .enumerate()
                .all(|(i, c)| c.idle() || self.gone & bit(i as NodeId) != 0)
    }

    /// What the application may do with `page` here.
    pub fn access(&self, page: u32) -> Access {
        self.pages
            .get(page as usize)
            .map_or(Access::None, |l| l.access)
    }

    /// Whether a peer was lost.
    pub fn failed(&self) -> bool {
        self.lost
    }

    /// The application faulted on `page` (for writing if `write`): asks the
    /// manager for it, unless the access is there or asked for already.
    /// Fails for any page once a peer is lost.
    pub fn fault(&mut self, page: u32, write: bool, host: &mut impl Host, now: u64) -> FaultResult {
        // Once a peer is lost, so is the memory's consistency: every fault
        // fails, even on a page still here (the daemon has taken every page
        // from the application, so it asks again for each).
        if self.lost {
            return FaultResult::Failed;
        }
        let Some(l) = self.pages.get_mut(page as usize) else {
            return FaultResult::Failed;
        };
        let enough = match l.access {
            Access::Write => true,
            Access::Read => !write,
            Access::None => false,
        };
        if enough {
            return FaultResult::Ready;
        }
        // One request per page at a time (a read answered may be
        // followed by the write fault, asked for then).
        if l.waiting.is_none() {
            l.waiting = Some(write);
            if write {
                self.stats.write_faults += 1;
            } else {
                self.stats.read_faults += 1;
            }
            let k = if write { Kind::WriteReq } else { Kind::ReadReq };
            self.send(MANAGER, msg(k, page, 0));
            self.run(host, now);
        }
        FaultResult::Waiting
    }

    /// Asks for a read copy of `page` before the application faults on it
    /// (read-ahead: which pages is the caller's policy). Does nothing if
    /// this node has the page or asked for it already, or a peer is lost.
    /// [`Host::fault_done`] says when it is there, as for a fault.
    pub fn prefetch(&mut self, page: u32, host: &mut impl Host, now: u64) {
        let Some(l) = self.pages.get_mut(page as usize) else {
            return;
        };
        if self.lost || l.access != Access::None || l.waiting.is_some() {
            return;
        }
        l.waiting = Some(false);
        self.stats.read_ahead += 1;
        self.send(MANAGER, msg(Kind::ReadReq, page, 0));
        self.run(host, now);
    }

    /// A datagram arrived (from anyone: it is checked here).
    pub fn receive(&mut self, packet: &[u8], host: &mut impl Host, now: u64) {
        let Some(m) = Msg::decode(packet) else {
            self.stats.bad_messages += 1;
            return;
        };
        let from = m.from as usize;
        if from >= self.cfg.nodes || m.from == self.cfg.me {
            self.stats.bad_messages += 1;
            return;
        }
        let mut ready = Vec::new();
        self.heard_at[from] = now;
        self.peers[from].receive(m, now, &self.cfg.timing, &mut ready);
        // A page's first pieces are not acknowledged alone: the last
        // piece's answer (the Confirm) or the next tick carries it, three
        // datagrams fewer per page. Nor is an early arrival or a duplicate
        // (nothing delivered): an acknowledgement then tells the sender
        // nothing it needs before our next tick.
        let more_coming = ready
            .iter()
            .all(|m| m.kind == Kind::Data && m.arg & LAST == 0);
        for m in ready {
            self.stats.messages_received += 1;
            self.handle(m, host);
        }
        self.run_deferring(host, now, more_coming.then_some(from));
    }

    /// Time passed: retransmits what is due, and says `Hello` on a
    /// channel quiet for the keepalive time. Returns when to call again at
    /// the latest (None: nothing is in flight).
    pub fn tick(&mut self, host: &mut impl Host, now: u64) -> Option<u64> {
        if !self.lost && !self.finished() {
            let keepalive = self.cfg.timing.keepalive_ms;
            for peer in 0..self.cfg.nodes {
                if peer != self.cfg.me as usize
                    && self.peers[peer].idle()
                    && now.saturating_sub(self.heard_at[peer]) >= keepalive
                {
                    self.heard_at[peer] = now;
                    self.send(peer as NodeId, msg(Kind::Hello, 0, 0));
                }
            }
        }
        self.run(host, now);
        self.peers.iter().filter_map(Channel::deadline).min()
    }

    /// Handles messages to ourselves, then sends what every channel has
    /// due.
    fn run(&mut self, host: &mut impl Host, now: u64) {
        self.run_deferring(host, now, None);
    }

    /// [`Node::run`], where a lone acknowledgement to `defer` waits.
    fn run_deferring(&mut self, host: &mut impl Host, now: u64, defer: Option<usize>) {
        while let Some(m) = self.local.pop_front() {
            self.handle(m, host);
        }
        let me = self.cfg.me;
        let mut buf = [0u8; MAX_MSG];
        for peer in 0..self.cfg.nodes {
            if peer == me as usize {
                continue;
            }
            let mut sent = 0;
            let timing = self.cfg.timing;
            let ch = &mut self.peers[peer];
            let before = ch.retransmissions;
            let out = &mut |m: &Msg| {
                let n = m.encode(&mut buf);
                buf[3] = me;
                host.send(peer as NodeId, &buf[..n]);
                sent += 1;
            };
            let alive = ch.transmit(now, &timing, out, defer == Some(peer));
            self.stats.messages_sent += sent;
            self.stats.retransmissions += ch.retransmissions - before;
            if !alive && self.lost_told & bit(peer as NodeId) == 0 {
                self.lost_told |= bit(peer as NodeId);
                if self.said_bye && self.byes & bit(peer as NodeId) != 0 {
                    // Both done: it left while our last words (an
                    // acknowledgement of its, say) were lost. No fault can
                    // need it any more: gone, not lost.
                    self.gone |= bit(peer as NodeId);
                } else {
                    self.lose(peer as NodeId, host);
                }
            }
        }
    }

    /// Peer `peer` is gone: so is the shared memory's consistency. Every
    /// waiting fault fails (its `fault_done` never comes; the caller asks
    /// `failed`).
    fn lose(&mut self, peer: NodeId, host: &mut impl Host) {
        self.lost = true;
        for l in self.pages.iter_mut() {
            l.waiting = None;
        }
        host.peer_lost(peer);
    }

    /// Queues `m` for node `to` (ourselves: handled in `run`).
    fn send(&mut self, to: NodeId, mut m: Msg) {
        m.from = self.cfg.me;
        if to == self.cfg.me {
            self.local.push_back(m);
        } else {
            self.peers[to as usize].push(m);
        }
    }

    /// One message, in order, from `m.from`.
    fn handle(&mut self, m: Msg, host: &mut impl Host) {
        match m.kind {
            Kind::Hello => return,
            Kind::Bye => {
                self.byes |= bit(m.from);
                return;
            }
            _ => {}
        }
        let p = m.page;
        if p >= self.cfg.npages || !self.expected(&m) {
            self.stats.bad_messages += 1;
            return;
        }
        match m.kind {
            Kind::ReadReq | Kind::WriteReq | Kind::InvAck | Kind::Confirm => {
                if self.cfg.me == MANAGER {
                    self.manage(m);
                } else {
                    self.stats.bad_messages += 1;
                }
            }
            Kind::FwdRead | Kind::FwdWrite => self.serve(m, host),
            Kind::Inval => {
                let l = &mut self.pages[p as usize];
                if l.access != Access::None && !l.owner {
                    l.access = Access::None;
                    host.protect(p, Access::None);
                    self.stats.invalidations += 1;
                }
                self.send(MANAGER, msg(Kind::InvAck, p, 0));
            }
            Kind::Data => {
                if m.arg & ZERO != 0 {
                    host.page(p).fill(0);
                }
                let off = (m.arg & OFF_MASK) as usize;
                let Some(dst) = host.page(p).get_mut(off..off + m.data.len()) else {
                    self.stats.bad_messages += 1;
                    return;
                };
                dst.copy_from_slice(&m.data);
                if m.arg & LAST != 0 {
                    let write = m.arg & WRITE != 0;
                    self.installed(p, write, host);
                }
            }
            Kind::Grant => self.installed(p, true, host),
            Kind::Ack | Kind::Hello | Kind::Bye => {}
        }
    }

    /// Whether `m` (for a page in range) is a message this node can be
    /// sent now: forwards, invalidations and grants come from the manager
    /// alone, a page's pieces and a grant only while we wait for it (the
    /// last piece, or the grant, for the access we asked for). Anything
    /// else is a stale or forged message, dropped. (Only datagrams with a
    /// peer's address get here; see the README on what that stops.)
    fn expected(&self, m: &Msg) -> bool {
        let waiting = self.pages[m.page as usize].waiting;
        match m.kind {
            Kind::FwdRead | Kind::FwdWrite | Kind::Inval => m.from == MANAGER,
            Kind::Grant => m.from == MANAGER && waiting == Some(true),
            Kind::Data if m.arg & LAST != 0 => waiting == Some(m.arg & WRITE != 0),
            Kind::Data => waiting.is_some(),
            _ => true,
        }
    }

    /// The page came (or the right to write it): the waiting fault is done,
    /// and the manager is told.
    fn installed(&mut self, p: u32, write: bool, host: &mut impl Host) {
        let access = if write { Access::Write } else { Access::Read };
        let l = &mut self.pages[p as usize];
        l.access = access;
        l.owner |= write;
        l.waiting = None;
        host.protect(p, access);
        host.fault_done(p);
        self.send(MANAGER, msg(Kind::Confirm, p, write as u32));
    }

    /// As the owner: `FwdRead` (send a copy, keep ours read-only) or
    /// `FwdWrite` (give the page away).
    fn serve(&mut self, m: Msg, host: &mut impl Host) {
        let p = m.page;
        let to = (m.arg & OFF_MASK) as NodeId;
        if !self.pages[p as usize].owner || to as usize >= self.cfg.nodes || to == self.cfg.me {
            self.stats.bad_messages += 1;
            return;
        }
        let write = m.kind == Kind::FwdWrite;
        // Our access goes first: no write of ours after the copy is taken.
        let l = &mut self.pages[p as usize];
        l.access = if write { Access::None } else { Access::Read };
        l.owner = !write;
        host.protect(p, l.access);
        let flags = if write { WRITE } else { 0 };
        if write && m.arg & NODATA != 0 {
            self.send(to, msg(Kind::Data, p, flags | LAST));
            return;
        }
        self.stats.pages_sent += 1;
        if host.page(p).iter().all(|&b| b == 0) {
            // A page nobody wrote yet (most are, at first): one message.
            self.send(to, msg(Kind::Data, p, flags | ZERO | LAST));
            return;
        }
        for off in (0..PGSIZE).step_by(CHUNK) {
            let mut d = msg(Kind::Data, p, flags | off as u32);
            if off + CHUNK == PGSIZE {
                d.arg |= LAST;
            }
            d.data = host.page(p)[off..off + CHUNK].to_vec();
            self.send(to, d);
        }
    }

    /// As the manager: a request, an invalidation's answer, or the end of
    /// a transaction.
    fn manage(&mut self, m: Msg) {
        let p = m.page as usize;
        let from = m.from;
        match m.kind {
            Kind::ReadReq | Kind::WriteReq => {
                let g = &mut self.managed[p];
                // A node asks for a page once at a time: a second request
                // while its first waits or runs is forged or stale (and
                // would let the queue grow without bound).
                if g.queue.iter().any(|&(n, _)| n == from) || g.busy.is_some_and(|b| b.0 == from) {
                    self.stats.bad_messages += 1;
                    return;
                }
                g.queue.push_back((from, m.kind == Kind::WriteReq));
                self.start(m.page);
            }
            Kind::InvAck => {
                let g = &mut self.managed[p];
                let Some((w, true, left)) = g.busy else {
                    return;
                };
                g.copyset &= !bit(from);
                let left = left & !bit(from);
                g.busy = Some((w, true, left));
                if left == 0 {
                    self.give(m.page, w);
                }
            }
            Kind::Confirm => {
                let g = &mut self.managed[p];
                match g.busy {
                    Some((r, write, 0)) if r == from && write == (m.arg != 0) => {
                        if write {
                            g.owner = r;
                            g.copyset = 0;
                        } else {
                            g.copyset |= bit(r);
                        }
                        g.busy = None;
                        self.start(m.page);
                    }
                    _ => self.stats.bad_messages += 1,
                }
            }
            _ => {}
        }
    }

    /// Starts page `p`'s next transaction if none is in progress.
    fn start(&mut self, p: u32) {
        let g = &mut self.managed[p as usize];
        if g.busy.is_some() {
            return;
        }
        // The owner never needs a read copy of its own page: such a
        // request (forged) would have it serve itself and stall the page.
        let owner = g.owner;
        g.queue.retain(|&(n, write)| write || n != owner);
        let Some((n, write)) = g.queue.pop_front() else {
            return;
        };
        if !write {
            g.busy = Some((n, false, 0));
            let owner = g.owner;
            self.send(owner, msg(Kind::FwdRead, p, n as u32));
            return;
        }
        let inval = g.copyset & !bit(n) & !bit(g.owner);
        g.busy = Some((n, true, inval));
        if inval == 0 {
            self.give(p, n);
            return;
        }
        for k in 0..self.cfg.nodes as NodeId {
            if inval & bit(k) != 0 {
                self.send(k, msg(Kind::Inval, p, 0));
            }
        }
    }

    /// Every other copy is dropped: page `p` goes to writer `w`.
    fn give(&mut self, p: u32, w: NodeId) {
        let g = &mut self.managed[p as usize];
        let (owner, current) = (g.owner, g.copyset & bit(w) != 0);
        if owner == w {
            self.send(w, msg(Kind::Grant, p, 0));
        } else {
            let nodata = if current { NODATA } else { 0 };
            self.send(owner, msg(Kind::FwdWrite, p, w as u32 | nodata));
        }
    }
}
