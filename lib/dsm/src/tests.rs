//! The protocol against a simulated network: datagrams lost, duplicated,
//! reordered and delayed at random (a seeded generator, so a failure
//! repeats), with the single-writer invariant checked after every step.
use super::*;
use std::vec;
use std::vec::Vec;

/// xorshift64*: reproducible randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One machine: its memory, what its MMU allows, what the protocol told it.
struct SimHost {
    mem: Vec<[u8; PGSIZE]>,
    access: Vec<Access>,
    outbox: Vec<(NodeId, Vec<u8>)>,
    done: Vec<u32>,
    lost: Vec<NodeId>,
}

impl Host for SimHost {
    fn send(&mut self, to: NodeId, packet: &[u8]) {
        self.outbox.push((to, packet.to_vec()));
    }
    fn page(&mut self, page: u32) -> &mut [u8; PGSIZE] {
        &mut self.mem[page as usize]
    }
    fn protect(&mut self, page: u32, access: Access) {
        self.access[page as usize] = access;
    }
    fn fault_done(&mut self, page: u32) {
        self.done.push(page);
    }
    fn peer_lost(&mut self, peer: NodeId) {
        assert!(!self.lost.contains(&peer), "peer_lost twice for {peer}");
        self.lost.push(peer);
    }
}

/// The network's behaviour.
#[derive(Clone, Copy)]
struct Link {
    drop_pct: u64,
    dup_pct: u64,
    /// Steps of delay at most (reordering comes from different delays).
    max_delay: u64,
}

const PERFECT: Link = Link {
    drop_pct: 0,
    dup_pct: 0,
    max_delay: 0,
};

const TIMING: Timing = Timing {
    rto_ms: 8,
    max_rto_ms: 64,
    max_retries: 10,
    connect_retries: 20,
    keepalive_ms: 50,
};

struct Sim {
    nodes: Vec<Node>,
    hosts: Vec<SimHost>,
    /// (when, to, bytes)
    wire: Vec<(u64, NodeId, Vec<u8>)>,
    link: Link,
    rng: Rng,
    now: u64,
    /// A dead node neither sends nor receives.
    dead: Vec<bool>,
}

impl Sim {
    fn new(n: usize, npages: u32, link: Link, seed: u64) -> Sim {
        let mut hosts: Vec<SimHost> = (0..n)
            .map(|_| SimHost {
                mem: vec![[0; PGSIZE]; npages as usize],
                access: vec![Access::None; npages as usize],
                outbox: Vec::new(),
                done: Vec::new(),
                lost: Vec::new(),
            })
            .collect();
        let nodes = (0..n)
            .map(|i| {
                let cfg = Config {
                    me: i as NodeId,
                    nodes: n,
                    npages,
                    timing: TIMING,
                };
                Node::new(cfg, &mut hosts[i])
            })
            .collect();
        Sim {
            nodes,
            hosts,
            wire: Vec::new(),
            link,
            rng: Rng(seed | 1),
            now: 0,
            dead: vec![false; n],
        }
    }

    /// Moves what the hosts sent onto the wire (lost, duplicated, delayed
    /// as the link says).
    fn post(&mut self) {
        for i in 0..self.hosts.len() {
            for (to, b) in core::mem::take(&mut self.hosts[i].outbox) {
                if self.dead[i] {
                    continue;
                }
                let copies = if self.rng.pct(self.link.drop_pct) {
                    0
                } else if self.rng.pct(self.link.dup_pct) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let d = self.now + 1 + self.rng.below(self.link.max_delay + 1);
                    self.wire.push((d, to, b.clone()));
                }
            }
        }
    }

    /// One millisecond: deliveries due (in random order), ticks, and the
    /// invariant.
    fn step(&mut self) {
        self.now += 1;
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.wire.len() {
            if self.wire[i].0 <= self.now {
                due.push(self.wire.swap_remove(i));
            } else {
                i += 1;
            }
        }
        while !due.is_empty() {
            let k = self.rng.below(due.len() as u64) as usize;
            let (_, to, b) = due.swap_remove(k);
            let to = to as usize;
            if !self.dead[to] {
                self.nodes[to].receive(&b, &mut self.hosts[to], self.now);
            }
        }
        for i in 0..self.nodes.len() {
            if !self.dead[i] {
                self.nodes[i].tick(&mut self.hosts[i], self.now);
            }
        }
        self.post();
        self.check();
    }

    /// Single writer, many readers, one content: at most one live node may
    /// write a page, nobody else may then read it, and every copy the
    /// application may read holds the same bytes.
    fn check(&self) {
        let npages = self.hosts[0].mem.len();
        for p in 0..npages {
            let live = (0..self.nodes.len()).filter(|&i| !self.dead[i]);
            let holders: Vec<usize> = live
                .filter(|&i| self.hosts[i].access[p] != Access::None)
                .collect();
            let writers = holders
                .iter()
                .filter(|&&i| self.hosts[i].access[p] == Access::Write)
                .count();
            assert!(
                writers == 0 || holders.len() == 1,
                "page {p} at {}: {writers} writer(s) among holders {holders:?}",
                self.now
            );
            for w in holders.windows(2) {
                assert!(
                    self.hosts[w[0]].mem[p] == self.hosts[w[1]].mem[p],
                    "page {p} at {}: nodes {} and {} read different bytes",
                    self.now,
                    w[0],
                    w[1]
                );
            }
        }
    }

    /// The application on node `i` wants to write page `p`: true if it may
    /// now (else it faulted, or waits).
    fn want(&mut self, i: usize, p: u32, write: bool) -> bool {
        let a = self.hosts[i].access[p as usize];
        if a == Access::Write || (a == Access::Read && !write) {
            return true;
        }
        let r = self.nodes[i].fault(p, write, &mut self.hosts[i], self.now);
        assert_ne!(r, FaultResult::Failed, "node {i} page {p}: fault failed");
        self.post();
        false
    }

    fn word(&self, i: usize, p: u32, w: usize) -> u32 {
        let m = &self.hosts[i].mem[p as usize];
        u32::from_le_bytes(m[4 * w..4 * w + 4].try_into().unwrap())
    }

    fn set_word(&mut self, i: usize, p: u32, w: usize, v: u32) {
        assert_eq!(self.hosts[i].access[p as usize], Access::Write);
        self.hosts[i].mem[p as usize][4 * w..4 * w + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// dsmcount: every node adds 1 to one shared counter `k` times, each
/// increment done while it may write (a load and a store: atomic only
/// because nobody else may write the page meanwhile). The total is exact
/// on every node, and each node's reads never go backwards.
fn count(n: usize, k: u32, link: Link, seed: u64) -> Sim {
    let mut s = Sim::new(n, 2, link, seed);
    let mut left = vec![k; n];
    let mut seen = vec![0u32; n];
    let mut steps = 0;
    while left.iter().any(|&l| l > 0) {
        for i in 0..n {
            if left[i] > 0 && s.rng.pct(50) && s.want(i, 0, true) {
                let v = s.word(i, 0, 0);
                assert!(v >= seen[i], "node {i} read {v} after {}", seen[i]);
                s.set_word(i, 0, 0, v + 1);
                seen[i] = v + 1;
                left[i] -= 1;
            }
        }
        s.step();
        steps += 1;
        assert!(steps < 2_000_000, "no progress: {left:?}");
    }
    // Everyone reads the total.
    for i in 0..n {
        while !s.want(i, 0, false) {
            s.step();
        }
        assert_eq!(s.word(i, 0, 0), n as u32 * k, "node {i}");
    }
    s
}

#[test]
fn counter_two_nodes_perfect_link() {
    let s = count(2, 200, PERFECT, 1);
    let st = |i: usize| s.nodes[i].stats;
    assert_eq!(st(0).retransmissions + st(1).retransmissions, 0);
    assert!(st(0).pages_sent + st(1).pages_sent > 0);
    assert_eq!(st(0).bad_messages + st(1).bad_messages, 0);
}

#[test]
fn counter_three_nodes_lossy_link() {
    let lossy = Link {
        drop_pct: 10,
        dup_pct: 5,
        max_delay: 4,
    };
    for seed in 1..6 {
        let s = count(3, 60, lossy, seed);
        let re: u64 = s.nodes.iter().map(|n| n.stats.retransmissions).sum();
        assert!(re > 0, "a lossy link with no retransmission");
        assert!(s.nodes.iter().all(|n| !n.failed()));
    }
}

/// Readers and a writer: each node reads a page written by node 1 and
/// writes a page of its own (matmul's shape): reads see what was written
/// last, copies are invalidated when the writer writes again.
#[test]
fn readers_see_the_last_write() {
    let lossy = Link {
        drop_pct: 5,
        dup_pct: 5,
        max_delay: 3,
    };
    let n = 3;
    let mut s = Sim::new(n, 4, lossy, 7);
    for round in 1..=20u32 {
        while !s.want(1, 0, true) {
            s.step();
        }
        s.set_word(1, 0, 10, round);
        for i in 0..n {
            while !s.want(i, 0, false) {
                s.step();
            }
            assert_eq!(s.word(i, 0, 10), round, "node {i} in round {round}");
            let own = 1 + i as u32;
            while !s.want(i, own, true) {
                s.step();
            }
            s.set_word(i, own, 0, round);
        }
    }
    let inv: u64 = s.nodes.iter().map(|n| n.stats.invalidations).sum();
    assert!(inv >= 19 * 2 - 2, "invalidations: {inv}");
}

/// A node killed: the others learn it in bounded time, a fault that needs
/// it fails, and a fault served by the living still works before.
#[test]
fn lost_peer_is_reported() {
    let mut s = Sim::new(2, 1, PERFECT, 3);
    while !s.want(1, 0, true) {
        s.step();
    }
    s.set_word(1, 0, 0, 42);
    s.dead[1] = true;
    // Node 0 (the manager) now needs node 1, the owner.
    assert_eq!(
        s.nodes[0].fault(0, false, &mut s.hosts[0], s.now),
        FaultResult::Waiting
    );
    s.post();
    let start = s.now;
    while s.hosts[0].lost.is_empty() {
        s.step();
        assert!(
            s.now - start < 2_000,
            "no peer_lost after {} ms",
            s.now - start
        );
    }
    assert_eq!(s.hosts[0].lost, vec![1]);
    assert!(s.nodes[0].failed());
    assert!(s.hosts[0].done.is_empty());
    assert_eq!(
        s.nodes[0].fault(0, false, &mut s.hosts[0], s.now),
        FaultResult::Failed
    ); // Even on a page it may still write: the memory as a whole is lost.
    let mut s = Sim::new(2, 2, PERFECT, 4);
    s.dead[1] = true;
    while s.hosts[0].lost.is_empty() {
        s.step();
    }
    assert_eq!(s.hosts[0].access[1], Access::Write);
    assert_eq!(
        s.nodes[0].fault(1, true, &mut s.hosts[0], s.now),
        FaultResult::Failed
    );
}

/// What arrives from the network is hostile: nothing decodes that is not
/// a whole message, nothing panics, bad ones are counted.
#[test]
fn garbage_is_dropped() {
    let mut s = Sim::new(2, 1, PERFECT, 5);
    let mut rng = Rng(99);
    for len in 0..64usize {
        let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        s.nodes[0].receive(&b, &mut s.hosts[0], 1);
    }
    // Well-formed but wrong: from ourselves, from no node, a page out of
    // range, a forward to a node that does not exist.
    let mut buf = [0u8; wire::MAX_MSG];
    for (from, page, kind, arg) in [
        (0, 0, Kind::ReadReq, 0),
        (9, 0, Kind::ReadReq, 0),
        (1, 5, Kind::ReadReq, 0),
        (1, 0, Kind::FwdRead, 7),
    ] {
        let m = Msg {
            kind,
            from,
            seq: 1,
            ack: 1,
            page,
            arg,
            data: Vec::new(),
        };
        let n = m.encode(&mut buf);
        s.nodes[0].receive(&buf[..n], &mut s.hosts[0], 2);
    }
    assert!(s.nodes[0].stats.bad_messages >= 64);
    assert!(Msg::decode(&[0u8; wire::MAX_MSG + 1]).is_none());
    // Still works.
    let s2 = count(2, 5, PERFECT, 11);
    assert_eq!(s2.word(0, 0, 0), 10);
}

/// The channel alone: 500 messages through a bad link arrive once each,
/// in order.
#[test]
fn channel_in_order_exactly_once() {
    let mut rng = Rng(42);
    let (mut a, mut b) = (Channel::new(), Channel::new());
    for i in 0..500u32 {
        a.push(msg(Kind::Data, i, 0));
    }
    let mut wire: Vec<(u64, bool, Msg)> = Vec::new(); // (when, to_b, msg)
    let mut got = Vec::new();
    let mut now = 0;
    while got.len() < 500 {
        now += 1;
        assert!(now < 200_000, "stuck at {}", got.len());
        let mut due: Vec<(bool, Msg)> = Vec::new();
        wire.retain(|(t, to_b, m)| {
            if *t <= now {
                due.push((*to_b, m.clone()));
                false
            } else {
                true
            }
        });
        for (to_b, m) in due {
            if to_b {
                let mut ready = Vec::new();
                b.receive(m, now, &TIMING, &mut ready);
                got.extend(ready.iter().map(|m| m.page));
            } else {
                a.receive(m, now, &TIMING, &mut Vec::new());
            }
        }
        for (ch, to_b) in [(&mut a, true), (&mut b, false)] {
            let mut out = Vec::new();
            assert!(ch.transmit(now, &TIMING, &mut |m: &Msg| out.push(m.clone()), false));
            for m in out {
                if rng.pct(20) {
                    continue;
                }
                let copies = if rng.pct(10) { 2 } else { 1 };
                for _ in 0..copies {
                    wire.push((now + 1 + rng.below(6), to_b, m.clone()));
                }
            }
        }
    }
    assert_eq!(got, (0..500).collect::<Vec<_>>());
    assert!(a.retransmissions > 0);
}

/// A peer that boots late (its first message comes a second after ours)
/// is waited for, within `connect_retries`, and then serves; one that
/// never comes is reported lost in bounded time.
#[test]
fn late_peer_is_waited_for() {
    for never in [false, true] {
        let mut s = Sim::new(2, 1, PERFECT, 11);
        s.dead[0] = true;
        assert_eq!(
            s.nodes[1].fault(0, true, &mut s.hosts[1], s.now),
            FaultResult::Waiting
        );
        s.post();
        for _ in 0..1_000 {
            s.step();
        }
        assert!(s.hosts[1].lost.is_empty(), "lost while the peer boots");
        if never {
            let start = s.now;
            while s.hosts[1].lost.is_empty() {
                s.step();
                assert!(s.now - start < 2_500, "never reported lost");
            }
            assert!(s.nodes[1].failed());
            continue;
        }
        s.dead[0] = false;
        let mut steps = 0;
        while !s.want(1, 0, true) {
            s.step();
            steps += 1;
            assert!(steps < 1_000, "the late peer never served");
        }
        assert!(!s.nodes[1].failed());
    }
}

/// A peer that dies while nothing is in flight is found by the
/// keepalives, in bounded time.
#[test]
fn quiet_peer_death_is_found() {
    let mut s = Sim::new(2, 1, PERFECT, 13);
    while !s.want(1, 0, false) {
        s.step();
    }
    for _ in 0..200 {
        s.step();
    }
    assert!(s.hosts[0].lost.is_empty() && s.hosts[1].lost.is_empty());
    s.dead[1] = true;
    let start = s.now;
    while s.hosts[0].lost.is_empty() {
        s.step();
        assert!(s.now - start < 1_000, "a quiet death never found");
    }
    assert_eq!(s.hosts[0].lost, vec![1]);
}

/// `Bye`: nobody is finished before every node said it; then all are,
/// over a lossy link, and none is lost.
#[test]
fn everyone_finishes_after_bye() {
    let lossy = Link {
        drop_pct: 10,
        dup_pct: 5,
        max_delay: 4,
    };
    for seed in 1..4 {
        let mut s = count(3, 10, lossy, seed);
        s.nodes[0].bye(&mut s.hosts[0], s.now);
        s.nodes[1].bye(&mut s.hosts[1], s.now);
        s.post();
        for _ in 0..300 {
            s.step();
            assert!(
                s.nodes.iter().all(|n| !n.finished()),
                "finished without node 2's bye"
            );
        }
        s.nodes[2].bye(&mut s.hosts[2], s.now);
        s.post();
        let start = s.now;
        while !s.nodes.iter().all(Node::finished) {
            s.step();
            assert!(s.now - start < 3_000, "bye never finished");
        }
        assert!(s.nodes.iter().all(|n| !n.failed()));
    }
}

/// A read copy costs the reader two datagrams on a perfect link: its
/// request and its confirmation, which carries the acknowledgement of
/// all four pieces (none is acknowledged alone). A page of zeros costs
/// the owner one.
#[test]
fn a_page_costs_the_reader_two_datagrams() {
    let mut s = Sim::new(2, 1, PERFECT, 17);
    for _ in 0..100 {
        s.step();
    }
    let before = s.nodes[1].stats.messages_sent;
    let owner_before = s.nodes[0].stats.messages_sent;
    while !s.want(1, 0, false) {
        s.step();
    }
    assert_eq!(s.nodes[1].stats.messages_sent - before, 2);
    // A page of zeros goes as one message (the confirmation's
    // acknowledgement comes later).
    assert_eq!(s.nodes[0].stats.messages_sent - owner_before, 1);
    // Written, the next copy goes in four pieces, and holds the bytes.
    while !s.want(0, 0, true) {
        s.step();
    }
    s.set_word(0, 0, 1000, 7);
    let owner_before = s.nodes[0].stats.messages_sent;
    while !s.want(1, 0, false) {
        s.step();
    }
    assert_eq!(s.word(1, 0, 1000), 7);
    assert!(s.nodes[0].stats.messages_sent - owner_before >= 4);
}

/// A node that leaves once all said Bye, its last acknowledgements lost:
/// the other retries, gives up, and finishes (not lost).
#[test]
fn a_peer_gone_after_bye_is_no_loss() {
    let mut s = Sim::new(2, 1, PERFECT, 19);
    for _ in 0..100 {
        s.step();
    }
    s.nodes[0].bye(&mut s.hosts[0], s.now);
    s.post();
    for _ in 0..20 {
        s.step();
    }
    // Node 1's Bye reaches node 0, whose acknowledgement never leaves.
    s.nodes[1].bye(&mut s.hosts[1], s.now);
    let out = core::mem::take(&mut s.hosts[1].outbox);
    for (_, b) in out {
        s.nodes[0].receive(&b, &mut s.hosts[0], s.now);
    }
    s.hosts[0].outbox.clear();
    s.dead[0] = true;
    let start = s.now;
    while !s.nodes[1].finished() {
        s.step();
        assert!(s.now - start < 5_000, "never finished");
    }
    assert!(!s.nodes[1].failed() && s.hosts[1].lost.is_empty());
}

/// Forged or stale messages, in sequence on a peer's channel: a grant or
/// a page nobody asked for, a forward or invalidation from a node that is
/// not the manager, a second request while one waits. None changes
/// anything: the single-writer check holds and they are counted.
#[test]
fn unexpected_messages_are_dropped() {
    let mut s = Sim::new(3, 2, PERFECT, 23);
    for _ in 0..50 {
        s.step();
    }
    s.set_word(0, 0, 0, 42);
    let forged = |kind, page, arg, data: Vec<u8>| Msg {
        kind,
        from: 2,
        seq: 0,
        ack: 0,
        page,
        arg,
        data,
    };
    let mut buf = [0u8; wire::MAX_MSG];
    // Node 2's channel to node 1: numbers from 2 on (Hello was 1).
    let msgs = [
        (1, forged(Kind::Grant, 0, 0, Vec::new())),
        (1, forged(Kind::Data, 0, LAST | WRITE, vec![7; 16])),
        (0, forged(Kind::Data, 0, ZERO, Vec::new())),
        (1, forged(Kind::FwdWrite, 0, 2, Vec::new())),
        (1, forged(Kind::Inval, 0, 0, Vec::new())),
    ];
    let mut seq = [2u32; 3];
    for (to, mut m) in msgs {
        m.seq = seq[to];
        seq[to] += 1;
        let n = m.encode(&mut buf);
        let before = s.nodes[to].stats.bad_messages;
        s.nodes[to].receive(&buf[..n], &mut s.hosts[to], s.now);
        assert_eq!(
            s.nodes[to].stats.bad_messages,
            before + 1,
            "{:?} accepted",
            m.kind
        );
        s.check();
    }
    assert_eq!(s.word(0, 0, 0), 42);
    assert_eq!(s.hosts[1].access[0], Access::None);
}
