//! The DSM daemon: the protocol's node on this machine (`dsm::Node`), fed
//! by IPC: the application's faults, the receiver's datagrams, the
//! ticker's ticks. It owns this machine's copy of every page of the range
//! (mapped in its own address space at the same addresses) and maps each
//! into the application as the protocol allows ([`Machine::protect`]).
use super::{ANS_DONE, ANS_LOST, DSM_PORT, OP_DETACH, OP_READ, OP_STATS, OP_WRITE, RXVA, STATSVA};
use crate::env::env_status;
use crate::ipc::{ipc_recv, ipc_try_send};
use crate::net::{NetAddr, recvfrom, sendto};
use crate::syscall::{
    sys_env_destroy, sys_ipc_send, sys_page_alloc, sys_page_map, sys_page_unmap, sys_time_msec,
};
use abi::env::{ENV_FREE, EnvId};
use abi::error::Result;
use abi::memlayout::UTOP;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use alloc::vec::Vec;
use dsm::channel::Timing;
use dsm::wire::MAX_MSG;
use dsm::{Access, Config, FaultResult, Host, Node, NodeId};

/// The protocol's timeouts: a first retransmission after 100 ms (a round
/// trip takes a few ms, but tens on a busy host: a shorter timeout sent
/// whole windows again for nothing), doubling to 800 ms; a peer silent
/// for 6 timeouts in a row (about 3 s) is lost, one never heard from
/// after 25 more (20 s: it may boot later than us). A quiet channel says
/// Hello every 500 ms.
const TIMING: Timing = Timing {
    rto_ms: 100,
    max_rto_ms: 800,
    max_retries: 6,
    connect_retries: 25,
    keepalive_ms: 500,
};
/// Pages read ahead after a read fault: a program reading its way
/// through the range (dsmmatmul's matrices) waits for one page in
/// READ_AHEAD + 1 instead of each (a page costs a round trip or two).
const READ_AHEAD: u32 = 4;
/// How long a finished daemon still answers (a peer may miss our last
/// acknowledgement and send again).
const LINGER_MS: u64 = 1_000;
/// The ticker's period.
const TICK_MS: u32 = 20;
/// The receiver's message to the daemon: a datagram of `value` bytes at
/// offset 8 of the page, its sender's address at 0 and port at 4.
const RX_DATA: usize = 8;

/// Forks the receiver and the ticker, children of the daemon-to-be
/// (`daemon`, the caller). Returns their ids.
pub(super) fn start_helpers(sock: usize, daemon: EnvId) -> Result<(EnvId, EnvId)> {
    let rx = match crate::fork()? {
        0 => receiver(sock, daemon),
        id => id,
    };
    let ticker = match crate::fork() {
        Ok(0) => ticker(daemon),
        Ok(id) => id,
        Err(e) => {
            let _ = sys_env_destroy(rx);
            return Err(e);
        }
    };
    Ok((rx, ticker))
}

/// Stops the helpers and waits until they are gone.
pub(super) fn stop_helpers(rx: EnvId, ticker: EnvId) {
    for id in [rx, ticker] {
        let _ = sys_env_destroy(id);
        crate::env::wait(id);
    }
}

/// The receiver: each datagram on `sock`, in a fresh page, to the daemon.
/// Exits once the daemon is gone.
fn receiver(sock: usize, daemon: EnvId) -> ! {
    loop {
        if sys_page_alloc(0, RXVA, PTE_RW).is_err() {
            crate::time::sleep_msec(TICK_MS);
            continue;
        }
        // SAFETY: RXVA is our page, just allocated; nothing else refers to it.
        let page = unsafe { &mut *(RXVA as *mut [u8; PGSIZE]) };
        // One byte more than a message holds: a longer datagram shows as
        // too long (and is dropped) instead of cut to a valid length.
        if let Ok((n, from)) = recvfrom(sock, &mut page[RX_DATA..RX_DATA + MAX_MSG + 1]) {
            page[..4].copy_from_slice(&from.addr);
            page[4..6].copy_from_slice(&from.port.to_le_bytes());
            if sys_ipc_send(daemon, n as u32, RXVA, PteFlags::P | PteFlags::U).is_err() {
                crate::exit();
            }
        }
        let _ = sys_page_unmap(0, RXVA);
    }
}

/// The ticker: an empty message to the daemon every [`TICK_MS`].
fn ticker(daemon: EnvId) -> ! {
    loop {
        crate::time::sleep_msec(TICK_MS);
        if sys_ipc_send(daemon, 0, UTOP, PteFlags::empty()).is_err() {
            crate::exit();
        }
    }
}

/// The daemon's machine: what the protocol acts on.
pub(super) struct Machine {
    /// The shared range's first address, and its pages.
    pub(super) region: usize,
    pub(super) npages: u32,
    /// The application, the receiver, the ticker.
    pub(super) app: EnvId,
    pub(super) rx: EnvId,
    pub(super) ticker: EnvId,
    /// The UDP socket (bound to DSM_PORT).
    pub(super) sock: usize,
    /// Every node's address, in node order; ours is `me`.
    pub(super) addrs: Vec<[u8; 4]>,
    pub(super) me: NodeId,
    /// Pages whose fault the protocol served since we last looked.
    pub(super) done: Vec<u32>,
    /// A peer was lost.
    pub(super) lost: Option<NodeId>,
}

impl Machine {
    fn va(&self, page: u32) -> usize {
        self.region + page as usize * PGSIZE
    }

    /// Gives every page of the range to the daemon (zeros), before the
    /// protocol starts. Err(NoMem) if memory runs out (what was taken is
    /// given back).
    fn take_pages(&self) -> Result<()> {
        for p in 0..self.npages {
            if let Err(e) = sys_page_alloc(0, self.va(p), PTE_RW) {
                self.drop_pages();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Unmaps the range from the daemon and the application.
    fn drop_pages(&self) {
        self.revoke();
        for p in 0..self.npages {
            let _ = sys_page_unmap(0, self.va(p));
        }
    }

    /// Unmaps the range from the application (its next access asks us).
    fn revoke(&self) {
        for p in 0..self.npages {
            let _ = sys_page_unmap(self.app, self.va(p));
        }
    }
}

impl Host for Machine {
    fn send(&mut self, to: NodeId, packet: &[u8]) {
        // A datagram the server cannot take now (its buffer full) is lost
        // like one on the wire: the protocol sends it again.
        let to = NetAddr::new(self.addrs[to as usize], DSM_PORT);
        let _ = sendto(self.sock, packet, to);
    }

    fn page(&mut self, page: u32) -> &mut [u8; PGSIZE] {
        assert!(page < self.npages, "dsm: page {page} outside the range");
        // SAFETY: the daemon's own page of the range (every one is mapped
        // by take_pages, before the protocol runs, and stays until the
        // daemon ends). The application shares it, but the protocol
        // touches a page's bytes only while the application may not write
        // it (it protects first: see dsm::Node::serve).
        unsafe { &mut *(self.va(page) as *mut [u8; PGSIZE]) }
    }

    fn protect(&mut self, page: u32, access: Access) {
        let va = self.va(page);
        // The kernel stops the application's CPU and flushes its TLB
        // before a mapping of a running env loses rights. An error (the
        // application gone, no memory for a page table) leaves the page
        // absent there: its next access asks again.
        let _ = match access {
            Access::None => sys_page_unmap(self.app, va),
            Access::Read => sys_page_map(0, va, self.app, va, PteFlags::P | PteFlags::U),
            Access::Write => sys_page_map(0, va, self.app, va, PTE_RW),
        };
    }

    fn fault_done(&mut self, page: u32) {
        self.done.push(page);
    }

    fn peer_lost(&mut self, peer: NodeId) {
        crate::cprintf!(
            "dsm: node {}: node {} ({}) stopped answering: shared memory lost\n",
            self.me,
            peer,
            crate::net::inet::Dotted(self.addrs[peer as usize])
        );
        self.lost = Some(peer);
    }
}

fn now() -> u64 {
    u64::from(sys_time_msec())
}

/// Answers the application (which waits for us alone: never blocks).
fn answer(app: EnvId, value: u32) {
    let _ = ipc_try_send(app, value, None, PteFlags::empty());
}

/// Answers the application with the statistics page.
fn answer_stats(app: EnvId, stats: &dsm::Stats) {
    if sys_page_alloc(0, STATSVA, PTE_RW).is_ok() {
        // SAFETY: STATSVA is our page, just allocated.
        unsafe { core::ptr::write(STATSVA as *mut dsm::Stats, *stats) };
        let _ = ipc_try_send(app, ANS_DONE, Some(STATSVA), PteFlags::P | PteFlags::U);
        let _ = sys_page_unmap(0, STATSVA);
    } else {
        answer(app, ANS_LOST);
    }
}

/// The daemon: serves until the application and every peer are done (or
/// a peer is lost and the application gone), then cleans up and exits.
pub(super) fn run(mut m: Machine) -> ! {
    let app = m.app;
    if let Err(e) = m.take_pages() {
        crate::cprintf!("dsm: node {}: no memory for the range: {}\n", m.me, e);
        let _ = sys_env_destroy(app);
        finish(&m);
    }
    let cfg = Config {
        me: m.me,
        nodes: m.addrs.len(),
        npages: m.npages,
        timing: TIMING,
    };
    let mut node = Node::new(cfg, &mut m);
    // The application's fault in progress (it makes one at a time).
    let mut waiting: Option<u32> = None;
    let mut app_done = false;
    let mut finished_at: Option<u64> = None;
    let mut revoked = false;
    loop {
        let msg = ipc_recv(Some(RXVA));
        let t = now();
        if let Ok(msg) = msg {
            let has_page = !msg.perm.is_empty();
            if msg.from == m.rx && has_page {
                receive(&mut node, &mut m, msg.value as usize, t);
            } else if msg.from == app && !app_done {
                let page = (msg.value as usize).wrapping_sub(m.region) / PGSIZE;
                match msg.value & (PGSIZE as u32 - 1) {
                    op @ (OP_READ | OP_WRITE) if (msg.value as usize) >= m.region => {
                        let page = page as u32;
                        match node.fault(page, op == OP_WRITE, &mut m, t) {
                            FaultResult::Ready => answer(app, ANS_DONE),
                            FaultResult::Waiting => waiting = Some(page),
                            FaultResult::Failed => answer(app, ANS_LOST),
                        }
                        if op == OP_READ {
                            // Read-ahead: the next pages come while the
                            // application works on this one.
                            let end = (page + 1 + READ_AHEAD).min(m.npages);
                            for q in page + 1..end {
                                node.prefetch(q, &mut m, t);
                            }
                        }
                    }
                    OP_STATS => answer_stats(app, &node.stats),
                    OP_DETACH => {
                        node.bye(&mut m, t);
                        answer_stats(app, &node.stats);
                    }
                    _ => answer(app, ANS_LOST),
                }
            }
            // Anything else (a stranger's message) is ignored.
            if has_page {
                let _ = sys_page_unmap(0, RXVA);
            }
        }
        if msg.is_ok_and(|msg| msg.from == m.ticker) {
            // Retransmissions due, keepalives, acknowledgements held back.
            node.tick(&mut m, t);
        }
        for p in core::mem::take(&mut m.done) {
            if waiting == Some(p) {
                waiting = None;
                answer(app, ANS_DONE);
            }
        }
        if m.lost.is_some() && !revoked {
            // Every page leaves the application: its next access to the
            // range asks us, and hears that the memory is lost.
            revoked = true;
            m.revoke();
            if waiting.take().is_some() {
                answer(app, ANS_LOST);
            }
        }
        if !app_done && env_status(app) == ENV_FREE {
            app_done = true;
            node.bye(&mut m, t);
        }
        if !app_done {
            continue;
        }
        if m.lost.is_some() {
            finish(&m);
        }
        if node.finished() {
            let since = *finished_at.get_or_insert(t);
            if t.saturating_sub(since) >= LINGER_MS {
                finish(&m);
            }
        }
    }
}

/// A datagram from the receiver, `len` bytes at RX_DATA in RXVA: to the
/// protocol if it comes from the machine it says it is from.
fn receive(node: &mut Node, m: &mut Machine, len: usize, t: u64) {
    if len > MAX_MSG {
        node.stats.bad_messages += 1;
        return;
    }
    // SAFETY: the page the receiver sent, mapped at RXVA (read-only) until
    // we unmap it after this call.
    let page = unsafe { &*(RXVA as *const [u8; PGSIZE]) };
    let data = &page[RX_DATA..RX_DATA + len];
    let from_ok = data.len() > 3
        && m.addrs
            .get(data[3] as usize)
            .is_some_and(|a| a[..] == page[..4])
        && page[4..6] == DSM_PORT.to_le_bytes();
    if !from_ok {
        node.stats.bad_messages += 1;
        return;
    }
    node.receive(data, m, t);
}

/// The end: the helpers stopped, the range and the socket given back.
fn finish(m: &Machine) -> ! {
    stop_helpers(m.rx, m.ticker);
    m.drop_pages();
    let _ = crate::fd::close(m.sock);
    crate::exit();
}
