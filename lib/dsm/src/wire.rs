//! The messages on the wire: a 20-byte header, then for `DATA` up to
//! [`CHUNK`] bytes of a page. Little-endian.
//!
//! ```text
//!  0      2      3      4             8             12            16            20
//!  +------+------+------+-------------+-------------+-------------+-------------+---------+
//!  | 'DM' | kind | from |     seq     |     ack     |    page     |     arg     | data... |
//!  +------+------+------+-------------+-------------+-------------+-------------+---------+
//! ```
//!
//! `seq` numbers the sender's messages to this receiver from 1 (0: an
//! acknowledgement only, which is never acknowledged itself); `ack` says
//! the sender has received every message of the receiver's numbered below
//! it. `arg` depends on the kind: the node to serve for a forward, the
//! offset and flags of a piece of a page.
use crate::NodeId;

/// Bytes of a page a `DATA` message carries at most (so that a message
/// fits an Ethernet frame: no IP fragments).
pub const CHUNK: usize = 1024;
/// Bytes of the header.
pub const HEADER: usize = 20;
/// The largest message.
pub const MAX_MSG: usize = HEADER + CHUNK;
const MAGIC: u16 = 0x4d44;

/// What a message asks or answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Acknowledgement only (`seq` 0).
    Ack = 0,
    /// To the manager: the sender wants a read copy of `page`.
    ReadReq = 1,
    /// To the manager: the sender wants to write `page`.
    WriteReq = 2,
    /// To the owner: send a read copy of `page` to node `arg`, keep it
    /// (read-only from now on).
    FwdRead = 3,
    /// To the owner: give `page` to node `arg` and keep nothing; with
    /// [`NODATA`] in `arg`, `arg`'s copy is current and no bytes go.
    FwdWrite = 4,
    /// To a holder of a read copy: drop it, then answer `InvAck`.
    Inval = 5,
    /// To the manager: the copy of `page` is dropped.
    InvAck = 6,
    /// A piece of `page` at offset `arg & OFF_MASK`; [`LAST`] marks the
    /// end, [`WRITE`] that the receiver becomes the owner.
    Data = 7,
    /// To the writer that owns `page` read-only: write it.
    Grant = 8,
    /// To the manager: the request for `page` is done (its transaction ends).
    Confirm = 9,
    /// To anyone: here I am (at start, and on a quiet channel now and
    /// then, so that a dead peer is noticed). No page.
    Hello = 10,
    /// To everyone: my application is done; I only serve from now on. No
    /// page.
    Bye = 11,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        use Kind::*;
        Some(match b {
            0 => Ack,
            1 => ReadReq,
            2 => WriteReq,
            3 => FwdRead,
            4 => FwdWrite,
            5 => Inval,
            6 => InvAck,
            7 => Data,
            8 => Grant,
            9 => Confirm,
            10 => Hello,
            11 => Bye,
            _ => return None,
        })
    }
}

/// `Data`: the last piece of the page.
pub const LAST: u32 = 1 << 31;
/// `Data`: the receiver gets the page to write (and owns it).
pub const WRITE: u32 = 1 << 30;
/// `FwdWrite`: the new owner's copy is current; send no bytes.
pub const NODATA: u32 = 1 << 29;
/// `Data`: the page is all zeros (one message, no bytes, instead of four).
pub const ZERO: u32 = 1 << 28;
/// `Data`: the offset bits of `arg`; `FwdRead`/`FwdWrite`: the node bits.
pub const OFF_MASK: u32 = 0xffff;

/// A message, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub kind: Kind,
    pub from: NodeId,
    pub seq: u32,
    pub ack: u32,
    pub page: u32,
    pub arg: u32,
    pub data: alloc::vec::Vec<u8>,
}

impl Msg {
    /// Writes the message into `buf`; returns its length. `buf` must hold
    /// [`MAX_MSG`] bytes (panics otherwise: a caller's bug).
    pub fn encode(&self, buf: &mut [u8]) -> usize {
        let n = HEADER + self.data.len();
        assert!(
            self.data.len() <= CHUNK && buf.len() >= n,
            "dsm: message too big"
        );
        buf[0..2].copy_from_slice(&MAGIC.to_le_bytes());
        buf[2] = self.kind as u8;
        buf[3] = self.from;
        buf[4..8].copy_from_slice(&self.seq.to_le_bytes());
        buf[8..12].copy_from_slice(&self.ack.to_le_bytes());
        buf[12..16].copy_from_slice(&self.page.to_le_bytes());
        buf[16..20].copy_from_slice(&self.arg.to_le_bytes());
        buf[HEADER..n].copy_from_slice(&self.data);
        n
    }

    /// Decodes a received datagram; None if it is not one of ours (bad
    /// magic or kind, too short, too long, bytes on a message without
    /// any).
    pub fn decode(b: &[u8]) -> Option<Msg> {
        if b.len() < HEADER || b.len() > MAX_MSG {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if u16::from_le_bytes([b[0], b[1]]) != MAGIC {
            return None;
        }
        let kind = Kind::from_u8(b[2])?;
        if kind != Kind::Data && b.len() != HEADER {
            return None;
        }
        Some(Msg {
            kind,
            from: b[3],
            seq: u32_at(4),
            ack: u32_at(8),
            page: u32_at(12),
            arg: u32_at(16),
            data: b[HEADER..].to_vec(),
        })
    }
}
