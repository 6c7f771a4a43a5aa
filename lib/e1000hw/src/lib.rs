//! The Intel 82540EM (QEMU's `-device e1000`) as pure data: register
//! offsets and bits, the transmit and receive descriptor formats, and the
//! bookkeeping of the two descriptor rings (which slot is next, when a ring
//! is full or empty). No MMIO and no memory: the kernel's driver
//! (`kern/src/e1000.rs`) reads and writes the registers and the
//! descriptors, and asks this crate what to do, so the ring logic runs on
//! the host too (`cargo test -p e1000hw`, against a model of the device).
//!
//! Names are the manual's (the "PCI/PCI-X Family of Gigabit Ethernet
//! Controllers Software Developer's Manual", chapter 13 for the registers,
//! 3.2 and 3.3 for the descriptors) and JOS's lab 6 (e1000_hw.h).
//!
//! How the rings work (manual 3.2.6, 3.4):
//!
//! ```text
//!   transmit: software fills slots at TDT and moves TDT on; the device sends
//!             from TDH up to TDT, setting DD in each descriptor it is done
//!             with (RS asks it to).      [ done | sending ... | free ... ]
//!                                               TDH            TDT
//!   receive:  the device fills slots from RDH up to RDT (not including it),
//!             setting DD; software takes them in order from the slot after
//!             RDT and gives each back by moving RDT onto it.
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

// ---------------------------------------------------------------------------
// Registers (byte offsets into BAR 0).

/// Device control.
pub const CTRL: usize = 0x0000;
/// Device status.
pub const STATUS: usize = 0x0008;
/// EEPROM read.
pub const EERD: usize = 0x0014;
/// Interrupt cause read (reading clears it).
pub const ICR: usize = 0x00C0;
/// Interrupt mask set.
pub const IMS: usize = 0x00D0;
/// Interrupt mask clear.
pub const IMC: usize = 0x00D8;
/// Receive control.
pub const RCTL: usize = 0x0100;
/// Transmit control.
pub const TCTL: usize = 0x0400;
/// Transmit inter-packet gap.
pub const TIPG: usize = 0x0410;
/// Receive descriptor ring: base (low, high), length in bytes, head, tail.
pub const RDBAL: usize = 0x2800;
/// Receive descriptor base, high 32 bits.
pub const RDBAH: usize = 0x2804;
/// Receive descriptor ring length in bytes (a multiple of 128).
pub const RDLEN: usize = 0x2808;
/// Receive descriptor head.
pub const RDH: usize = 0x2810;
/// Receive descriptor tail.
pub const RDT: usize = 0x2818;
/// Receive delay timer.
pub const RDTR: usize = 0x2820;
/// Transmit descriptor ring: base (low, high), length in bytes, head, tail.
pub const TDBAL: usize = 0x3800;
/// Transmit descriptor base, high 32 bits.
pub const TDBAH: usize = 0x3804;
/// Transmit descriptor ring length in bytes (a multiple of 128).
pub const TDLEN: usize = 0x3808;
/// Transmit descriptor head.
pub const TDH: usize = 0x3810;
/// Transmit descriptor tail.
pub const TDT: usize = 0x3818;
/// The multicast table array: 128 32-bit registers.
pub const MTA: usize = 0x5200;
/// Number of MTA registers.
pub const MTA_LEN: usize = 128;
/// Missed packets count (cleared when read).
pub const MPC: usize = 0x4010;
/// Receive address 0, low 32 bits (the MAC's first four bytes).
pub const RAL0: usize = 0x5400;
/// Receive address 0, high 16 bits, and Address Valid.
pub const RAH0: usize = 0x5404;

/// CTRL: device reset (self-clearing).
pub const CTRL_RST: u32 = 1 << 26;
/// CTRL: set link up.
pub const CTRL_SLU: u32 = 1 << 6;
/// STATUS: link up.
pub const STATUS_LU: u32 = 1 << 1;

/// TCTL: transmit enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: pad short packets (to 64 bytes with the CRC).
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: collision threshold field (bits 11:4); 0x10 as the manual says.
pub const TCTL_CT_SHIFT: u32 = 4;
/// TCTL: collision distance field (bits 21:12); 0x40 for full duplex.
pub const TCTL_COLD_SHIFT: u32 = 12;
/// The TCTL the driver writes: enabled, short packets padded, CT 0x10,
/// COLD 0x40 (full duplex), as the manual's 14.5 and JOS's lab 6 say.
pub const TCTL_INIT: u32 = TCTL_EN | TCTL_PSP | (0x10 << TCTL_CT_SHIFT) | (0x40 << TCTL_COLD_SHIFT);
/// The TIPG the driver writes: IPGT 10, IPGR1 8, IPGR2 6 (the IEEE 802.3
/// gap, manual 13.4.34).
pub const TIPG_INIT: u32 = 10 | (8 << 10) | (6 << 20);

/// RCTL: receive enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: store bad packets (not set: bad frames are dropped).
pub const RCTL_SBP: u32 = 1 << 2;
/// RCTL: long packet enable (not set: frames over 1522 bytes are dropped).
pub const RCTL_LPE: u32 = 1 << 5;
/// RCTL: loopback mode (bits 7:6; 0 = none).
pub const RCTL_LBM_MASK: u32 = 3 << 6;
/// RCTL: broadcast accept mode.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: buffer size field (bits 17:16; 0 = 2048 bytes, with BSEX clear).
pub const RCTL_BSIZE_2048: u32 = 0;
/// RCTL: strip the Ethernet CRC from received frames.
pub const RCTL_SECRC: u32 = 1 << 26;
/// The RCTL the driver writes: enabled, broadcasts accepted, 2048-byte
/// buffers, CRC stripped; no long packets, no bad packets, no loopback,
/// unicast to RAL0/RAH0 only, no multicast (MTA all zero).
pub const RCTL_INIT: u32 = RCTL_EN | RCTL_BAM | RCTL_BSIZE_2048 | RCTL_SECRC;

/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;

/// Interrupt bits (ICR, IMS, IMC): transmit descriptor written back.
pub const INT_TXDW: u32 = 1 << 0;
/// Link status change.
pub const INT_LSC: u32 = 1 << 2;
/// Receive descriptors below the minimum threshold.
pub const INT_RXDMT0: u32 = 1 << 4;
/// Receiver overrun (a frame dropped for want of descriptors).
pub const INT_RXO: u32 = 1 << 6;
/// Receive timer: a frame was received.
pub const INT_RXT0: u32 = 1 << 7;
/// Every interrupt cause (for IMC).
pub const INT_ALL: u32 = 0xFFFF_FFFF;

// ---------------------------------------------------------------------------
// Descriptors (16 bytes each, little-endian, as the device reads them).

/// A legacy transmit descriptor (manual 3.3.3).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxDesc {
    /// Physical address of the frame's buffer.
    pub addr: u64,
    /// Bytes to send from the buffer.
    pub length: u16,
    /// Checksum offset (not used).
    pub cso: u8,
    /// Command bits (`TXD_CMD_*`).
    pub cmd: u8,
    /// Status (`TXD_STAT_DD` once the device is done with it).
    pub status: u8,
    /// Checksum start (not used).
    pub css: u8,
    /// VLAN tag (not used).
    pub special: u16,
}

/// TxDesc.cmd: end of packet (the frame ends in this descriptor).
pub const TXD_CMD_EOP: u8 = 1 << 0;
/// TxDesc.cmd: insert the Ethernet CRC.
pub const TXD_CMD_IFCS: u8 = 1 << 1;
/// TxDesc.cmd: report status (set DD when done).
pub const TXD_CMD_RS: u8 = 1 << 3;
/// TxDesc.status: descriptor done.
pub const TXD_STAT_DD: u8 = 1 << 0;

/// A receive descriptor (manual 3.2.3).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDesc {
    /// Physical address of the buffer the device fills.
    pub addr: u64,
    /// Bytes the device wrote into the buffer.
    pub length: u16,
    /// Packet checksum (not used).
    pub csum: u16,
    /// Status (`RXD_STAT_*`).
    pub status: u8,
    /// Errors (`RXD_ERR_*`; nonzero: a bad frame).
    pub errors: u8,
    /// VLAN tag (not used).
    pub special: u16,
}

/// RxDesc.status: descriptor done (the device filled it).
pub const RXD_STAT_DD: u8 = 1 << 0;
/// RxDesc.status: end of packet.
pub const RXD_STAT_EOP: u8 = 1 << 1;

const _: () = assert!(core::mem::size_of::<TxDesc>() == 16);
const _: () = assert!(core::mem::size_of::<RxDesc>() == 16);

/// Each ring's length in bytes must be a multiple of 128 (8 descriptors).
pub const RING_ALIGN_DESCS: usize = 8;

/// The size of every buffer, receive and transmit (RCTL_BSIZE_2048).
pub const BUF_SIZE: usize = 2048;

/// The longest frame the driver sends or delivers: 1518 bytes (1500 of
/// payload, 14 of Ethernet header, 4 of VLAN tag: the CRC is the device's).
pub const MAX_FRAME: usize = 1518;

const _: () = assert!(MAX_FRAME <= BUF_SIZE);

// ---------------------------------------------------------------------------
// Ring bookkeeping.

/// Where the descriptors of one ring live: the kernel's implementation
/// reads and writes them with volatile accesses in DMA memory, the tests'
/// in a vector.
pub trait Descs<D> {
    /// The number of descriptors.
    fn len(&self) -> usize;
    /// Whether there are none (never, for a ring in use).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads descriptor `i` (< len).
    fn read(&self, i: usize) -> D;
    /// Writes descriptor `i` (< len).
    fn write(&mut self, i: usize, d: D);
}

/// Why a transmit did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// Every descriptor is still the device's: try again later.
    Full,
    /// The length is 0 or above MAX_FRAME.
    BadLength,
}

/// The software side of the transmit ring: the tail (TDT), the next slot
/// to fill. A slot is free when its descriptor was never used or the
/// device set DD in it (every descriptor is sent with RS, so DD always
/// comes); the driver never waits for the device. At most n - 1 frames
/// are in flight in a ring of n.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxRing {
    tail: usize,
}

impl TxRing {
    /// A ring whose every descriptor is free: `init` must have been called
    /// on its descriptors.
    pub const fn new() -> TxRing {
        TxRing { tail: 0 }
    }

    /// Marks every descriptor free (DD set) with its buffer's physical
    /// address `buf(i)`; returns the initial TDT (0; TDH is 0 too).
    pub fn init(d: &mut impl Descs<TxDesc>, buf: impl Fn(usize) -> u64) -> u32 {
        for i in 0..d.len() {
            d.write(
                i,
                TxDesc {
                    addr: buf(i),
                    status: TXD_STAT_DD,
                    ..TxDesc::default()
                },
            );
        }
        0
    }

    /// The slot the next frame goes into, if it is free; Err(Full) if the
    /// device has not sent it yet, Err(BadLength) for a frame length of 0
    /// or over MAX_FRAME. The caller copies the frame into that slot's
    /// buffer and then calls `commit`.
    pub fn reserve(&self, d: &impl Descs<TxDesc>, len: usize) -> Result<usize, TxError> {
        if len == 0 || len > MAX_FRAME {
            return Err(TxError::BadLength);
        }
        // The slot after this one must be free too: with every slot
        // given to the device TDT would come round to TDH, which the
        // device reads as an empty ring (manual 3.4). The frames in flight
        // are the slots just before the tail, sent in order, so that slot
        // is the oldest of them when n - 1 are in flight.
        let after = (self.tail + 1) % d.len();
        if d.read(self.tail).status & TXD_STAT_DD == 0 || d.read(after).status & TXD_STAT_DD == 0 {
            return Err(TxError::Full);
        }
        Ok(self.tail)
    }

    /// Hands the slot `reserve` returned, holding a frame of `len` bytes,
    /// to the device; returns the new TDT to write.
    pub fn commit(&mut self, d: &mut impl Descs<TxDesc>, len: usize) -> u32 {
        let slot = self.tail;
        let mut desc = d.read(slot);
        desc.length = len as u16;
        desc.cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
        desc.status = 0;
        d.write(slot, desc);
        self.tail = (slot + 1) % d.len();
        self.tail as u32
    }

    /// The number of descriptors the device has not finished yet.
    pub fn in_flight(&self, d: &impl Descs<TxDesc>) -> usize {
        (0..d.len())
            .filter(|&i| d.read(i).status & TXD_STAT_DD == 0)
            .count()
    }
}

/// What the next filled receive slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxSlot {
    /// A whole good frame of `len` bytes (1..=MAX_FRAME) in slot `slot`.
    Frame {
        /// The slot whose buffer holds it.
        slot: usize,
        /// Its length.
        len: usize,
    },
    /// A slot to throw away: a frame with errors, a piece of a frame
    /// longer than a buffer (no EOP, or the rest of one), an empty or
    /// over-long one. `release` gives it back.
    Drop {
        /// The slot.
        slot: usize,
    },
}

/// The software side of the receive ring: the next slot to take (the one
/// after RDT), and whether the frame in progress spans buffers (its pieces
/// are dropped up to its EOP).
#[derive(Clone, Copy, Debug, Default)]
pub struct RxRing {
    next: usize,
    in_long_frame: bool,
}

impl RxRing {
    /// A ring whose every descriptor is the device's: `init` must have been
    /// called on its descriptors.
    pub const fn new() -> RxRing {
        RxRing {
            next: 0,
            in_long_frame: false,
        }
    }

    /// Gives every descriptor, with its buffer's physical address `buf(i)`,
    /// to the device; returns the initial RDT (the last slot: RDH is 0, and
    /// the device fills up to but not including RDT, so one slot always
    /// stays empty).
    pub fn init(d: &mut impl Descs<RxDesc>, buf: impl Fn(usize) -> u64) -> u32 {
        for i in 0..d.len() {
            d.write(
                i,
                RxDesc {
                    addr: buf(i),
                    ..RxDesc::default()
                },
            );
        }
        (d.len() - 1) as u32
    }

    /// The next slot the device filled, if any (None: nothing has
    /// arrived). Does not take it: `release` does, once the caller has
    /// copied the frame out (or given up on it).
    pub fn peek(&mut self, d: &impl Descs<RxDesc>) -> Option<RxSlot> {
        let slot = self.next;
        let desc = d.read(slot);
        if desc.status & RXD_STAT_DD == 0 {
            return None;
        }
        let eop = desc.status & RXD_STAT_EOP != 0;
        let len = usize::from(desc.length);
        let whole = !self.in_long_frame && eop;
        // A frame's first piece without EOP starts a long frame, whose
        // pieces are dropped up to and including its last (EOP).
        self.in_long_frame = !eop;
        if whole && desc.errors == 0 && (1..=MAX_FRAME).contains(&len) {
            Some(RxSlot::Frame { slot, len })
        } else {
            Some(RxSlot::Drop { slot })
        }
    }

    /// Gives back to the device the slot `peek` returned; returns the new
    /// RDT to write (that slot).
    pub fn release(&mut self, d: &mut impl Descs<RxDesc>) -> u32 {
        let slot = self.next;
        let mut desc = d.read(slot);
        desc.status = 0;
        desc.errors = 0;
        desc.length = 0;
        d.write(slot, desc);
        self.next = (slot + 1) % d.len();
        slot as u32
    }
}

#[cfg(test)]
mod tests;
