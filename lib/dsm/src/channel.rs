//! A reliable channel to one peer over datagrams that may be lost,
//! duplicated or reordered: go-back-N with a window of [`WINDOW`]
//! messages.
//!
//! The sender numbers its messages 1, 2, ... and keeps each until the
//! peer acknowledges it; the receiver takes only the next number it
//! expects (so each message is handled once, in order) and acknowledges
//! everything below it, on each message it sends and with an `Ack` of its
//! own when it has nothing to send. A message that arrives early (after
//! a gap, within the window) waits in a buffer for the gap to fill, so a
//! reordered datagram costs no retransmission. A message not acknowledged after the
//! retransmission timeout is sent again with all after it, the timeout
//! doubling up to a bound; after `max_retries` timeouts in a row without
//! progress the peer is lost.
use crate::wire::{Kind, Msg};
use alloc::collections::VecDeque;

/// Messages in flight, unacknowledged, at most: 6 full ones (6 KiB of a
/// page and 120 bytes of headers) fit the network server's 8 KiB
/// receive buffer of a UDP socket, which drops what does not fit (with 8,
/// the eighth of a burst was dropped and sent again after a timeout).
pub const WINDOW: usize = 6;

/// Timeouts, in milliseconds of the caller's clock.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// The first retransmission timeout.
    pub rto_ms: u64,
    /// The bound of its doubling.
    pub max_rto_ms: u64,
    /// Timeouts in a row without an acknowledgement before the peer is
    /// lost.
    pub max_retries: u32,
    /// More timeouts allowed while the peer was never heard from (it may
    /// boot seconds after us).
    pub connect_retries: u32,
    /// A channel with nothing to send and nothing heard for this long
    /// sends a `Hello` (acknowledged like any message), so that a peer
    /// that died while all was quiet is found too.
    pub keepalive_ms: u64,
}

/// One peer's channel.
pub struct Channel {
    /// The number the next new message gets.
    next_seq: u32,
    /// Every message numbered below this is acknowledged.
    acked: u32,
    /// Unacknowledged messages (sent or not yet), in number order: the
    /// first is number `acked`.
    queue: VecDeque<Msg>,
    /// The next message to send (go-back-N moves it back to `acked`).
    sent_upto: u32,
    /// Messages numbered below this were sent at least once.
    max_sent: u32,
    /// When to retransmit (None: nothing in flight).
    deadline: Option<u64>,
    /// Timeouts in a row since the last progress.
    retries: u32,
    /// The next number expected from the peer.
    expect: u32,
    /// Messages received early: slot i holds number expect + 1 + i.
    early: [Option<Msg>; WINDOW - 1],
    /// An acknowledgement should go out.
    ack_due: bool,
    /// Too many timeouts: the peer is lost for good.
    lost: bool,
    /// Something came from the peer once.
    heard: bool,
    /// Retransmitted messages, counted.
    pub retransmissions: u64,
    /// Duplicates and out-of-order messages dropped, counted.
    pub dropped: u64,
}

impl Default for Channel {
    fn default() -> Self {
        Self::new()
    }
}

impl Channel {
    /// A channel with nothing sent or received.
    pub fn new() -> Channel {
        Channel {
            next_seq: 1,
            acked: 1,
            queue: VecDeque::new(),
            sent_upto: 1,
            max_sent: 1,
            deadline: None,
            retries: 0,
            expect: 1,
            early: Default::default(),
            ack_due: false,
            lost: false,
            heard: false,
            retransmissions: 0,
            dropped: 0,
        }
    }

    /// Queues `m` (its number is set here) for the peer.
    pub fn push(&mut self, mut m: Msg) {
        m.seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.queue.push_back(m);
    }

    /// Takes in a message from the peer: its acknowledgement, then the
    /// message itself. Appends to `deliver` the messages now in order (this
    /// one, if it is the next, and the early ones after it), each once.
    pub fn receive(&mut self, m: Msg, now: u64, t: &Timing, deliver: &mut alloc::vec::Vec<Msg>) {
        if !self.heard {
            // The peer is up now: the timeouts spent waiting for it to
            // boot do not count against it.
            self.heard = true;
            self.retries = 0;
        }
        // Acknowledgements: m.ack - acked messages leave the queue (a
        // number beyond what was sent is a bogus or stale one: ignored).
        let newly = m.ack.wrapping_sub(self.acked);
        if newly != 0 && newly <= self.max_sent.wrapping_sub(self.acked) {
            for _ in 0..newly {
                self.queue.pop_front();
            }
            self.acked = m.ack;
            // A retransmission started from below what is acknowledged now
            // goes on from here.
            if self.sent_upto.wrapping_sub(self.acked) > self.max_sent.wrapping_sub(self.acked) {
                self.sent_upto = self.acked;
            }
            self.retries = 0;
            self.deadline = (self.acked != self.sent_upto).then_some(now + t.rto_ms);
        }
        if m.kind == Kind::Ack {
            return;
        }
        self.ack_due = true;
        let ahead = m.seq.wrapping_sub(self.expect) as usize;
        if ahead == 0 {
            self.expect = self.expect.wrapping_add(1);
            deliver.push(m);
            // The early ones that follow, in order.
            while let Some(next) = self.early[0].take() {
                self.early.rotate_left(1);
                self.expect = self.expect.wrapping_add(1);
                deliver.push(next);
            }
            self.early.rotate_left(1);
        } else if (1..WINDOW).contains(&ahead) && self.early[ahead - 1].is_none() {
            self.early[ahead - 1] = Some(m);
        } else {
            // A duplicate, or beyond the window.
            self.dropped += 1;
        }
    }

    /// Sends what is due: new messages the window allows, everything in
    /// flight again if the timeout passed, an acknowledgement if one is
    /// owed and nothing else carries it. Calls `out` for each message.
    /// Returns false if the peer is lost (too many timeouts in a row).
    /// With `defer_ack`, an acknowledgement that would go alone waits
    /// (for the next call without it, or a message to carry it): the
    /// caller knows more is coming (a page's first pieces).
    pub fn transmit(
        &mut self,
        now: u64,
        t: &Timing,
        out: &mut impl FnMut(&Msg),
        defer_ack: bool,
    ) -> bool {
        if self.lost {
            return false;
        }
        if let Some(d) = self.deadline
            && now >= d
        {
            self.retries += 1;
            let allowed = if self.heard {
                t.max_retries
            } else {
                t.max_retries + t.connect_retries
            };
            if self.retries > allowed {
                self.lost = true;
                self.deadline = None;
                return false;
            }
            // Go back: everything in flight goes again.
            self.retransmissions += u64::from(self.sent_upto.wrapping_sub(self.acked));
            self.sent_upto = self.acked;
            let shift = self.retries.min(16);
            let rto = (t.rto_ms << shift).min(t.max_rto_ms);
            self.deadline = Some(now + rto);
        }
        let mut sent_any = false;
        loop {
            let in_flight = self.sent_upto.wrapping_sub(self.acked) as usize;
            if in_flight >= WINDOW || in_flight >= self.queue.len() {
                break;
            }
            let m = &mut self.queue[in_flight];
            m.ack = self.expect;
            out(m);
            sent_any = true;
            self.sent_upto = self.sent_upto.wrapping_add(1);
            if self.sent_upto.wrapping_sub(self.acked) > self.max_sent.wrapping_sub(self.acked) {
                self.max_sent = self.sent_upto;
            }
            if self.deadline.is_none() {
                self.deadline = Some(now + t.rto_ms);
            }
        }
        if self.ack_due && !sent_any {
            if defer_ack {
                return true;
            }
            out(&Msg {
                kind: Kind::Ack,
                from: 0,
                seq: 0,
                ack: self.expect,
                page: 0,
                arg: 0,
                data: alloc::vec::Vec::new(),
            });
        }
        self.ack_due = false;
        true
    }

    /// Whether every message pushed was acknowledged.
    pub fn idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// When `transmit` next has something to do by itself (a
    /// retransmission), if ever.
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }
}
