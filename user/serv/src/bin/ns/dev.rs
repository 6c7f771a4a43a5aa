//! The network server's device, as smoltcp sees it: frames in from the
//! input helper (NSREQ_INPUT pages, queued here), frames out to the output
//! helper (NSREQ_OUTPUT pages), and a loopback: a frame for our own MAC
//! address (and an ARP request for one of our addresses) is queued as
//! received, so programs on this machine reach each other at 10.0.2.15 or
//! 127.0.0.1 with or without a card.
//!
//! Back-pressure: the receive queue holds at most RXQ_MAX frames; a frame
//! that finds it full is dropped, as a NIC drops when its ring is full.
//! The input helper waits in `ipc_send` while we are busy, so a flood
//! fills the card's ring, not our memory.
use abi::env::EnvId;
use abi::mmu::{PGSIZE, PTE_RW};
use abi::nsipc::{JP_DATA, JifPkt, MAX_FRAME, NSREQ_OUTPUT};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use jos::syscall::{sys_ipc_send, sys_page_alloc, sys_page_unmap};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Frames waiting to be processed, at most.
pub const RXQ_MAX: usize = 64;
/// The largest frame: an Ethernet header and a 1500-byte payload.
pub const FRAME_MAX: usize = 1514;
/// The smallest: an Ethernet header.
const FRAME_MIN: usize = 14;
/// Where a frame's page is made before it goes to the output helper.
const TXVA: usize = 0x0FFF_E000;

/// Counts, for the hostile tests and the curious.
#[derive(Default, Clone, Copy)]
pub struct Stats {
    /// Frames from the input helper taken.
    pub rx: u32,
    /// Frames refused: bad length, or the queue full.
    pub rx_dropped: u32,
    /// Frames handed to the output helper.
    pub tx: u32,
    /// Frames that could not go (no page, no helper).
    pub tx_dropped: u32,
    /// Frames looped back to ourselves.
    pub looped: u32,
}

/// A copy of `frame` on the heap, or None when no memory is left (the
/// server survives that: it drops the frame).
fn try_copy(frame: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(frame.len()).ok()?;
    v.extend_from_slice(frame);
    Some(v)
}

/// The device.
pub struct NetDev {
    rxq: VecDeque<Vec<u8>>,
    mac: [u8; 6],
    /// Our IPv4 addresses (ARP requests for them loop back).
    ips: [[u8; 4]; 2],
    /// The output helper, once started.
    pub output: Option<EnvId>,
    /// Counts.
    pub stats: Stats,
}

impl NetDev {
    /// A device with MAC address `mac` and addresses `ips`.
    pub fn new(mac: [u8; 6], ips: [[u8; 4]; 2]) -> NetDev {
        NetDev {
            rxq: VecDeque::with_capacity(RXQ_MAX),
            mac,
            ips,
            output: None,
            stats: Stats::default(),
        }
    }

    /// Queues received frame `frame` (copied); drops it if it is shorter
    /// than a header, longer than FRAME_MAX, or the queue is full.
    pub fn input(&mut self, frame: &[u8]) {
        if frame.len() < FRAME_MIN || frame.len() > FRAME_MAX || self.rxq.len() >= RXQ_MAX {
            self.stats.rx_dropped += 1;
            return;
        }
        // Out of memory (every page taken by others): the frame is
        // dropped, as on a full queue; TCP sends it again.
        let Some(copy) = try_copy(frame) else {
            self.stats.rx_dropped += 1;
            return;
        };
        self.stats.rx += 1;
        self.rxq.push_back(copy);
    }

    /// A received frame from the input helper's page at `va`, mapped:
    /// queued as `input` does.
    pub fn input_page(&mut self, va: usize) {
        // SAFETY: the caller has a page mapped at `va` (the helper's): a
        // JifPkt head, then the frame's bytes; integers and bytes, valid
        // for any contents; MAX_FRAME bytes fit after the head.
        let (head, data) = unsafe {
            (
                &*(va as *const JifPkt),
                core::slice::from_raw_parts((va + JP_DATA) as *const u8, MAX_FRAME),
            )
        };
        let Some(len) = abi::net::jp_len_ok(head.jp_len) else {
            self.stats.rx_dropped += 1;
            return;
        };
        self.input(&data[..len]);
    }

    /// Whether frames wait.
    pub fn has_input(&self) -> bool {
        !self.rxq.is_empty()
    }

    /// Whether `frame` is for us: our MAC, or an ARP request for one of
    /// our addresses (broadcast: it also goes out).
    fn for_us(&self, frame: &[u8]) -> (bool, bool) {
        if frame.len() < FRAME_MIN {
            return (false, false);
        }
        if frame[..6] == self.mac {
            return (true, false);
        }
        let arp = frame[12..14] == [0x08, 0x06];
        // ARP over Ethernet/IPv4: the target address at bytes 38-41.
        let asks_us = arp && frame.len() >= 42 && self.ips.iter().any(|ip| frame[38..42] == *ip);
        (asks_us, true)
    }

    /// Sends the frame of `len` bytes that `fill` writes out, or back to
    /// us, or both (see `for_us`). The frame is built in place in the page
    /// that goes to the output helper (no copy of its own); a frame for us
    /// alone is built on the stack.
    fn transmit_frame<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        let len = len.min(FRAME_MAX);
        let have_page = self.output.is_some() && sys_page_alloc(0, TXVA, PTE_RW).is_ok();
        let mut stack = [0u8; FRAME_MAX];
        let frame: &mut [u8] = if have_page {
            // SAFETY: TXVA is mapped, fresh and ours alone until it is
            // sent: a JifPkt head, then FRAME_MAX bytes fit in the page.
            unsafe { core::slice::from_raw_parts_mut((TXVA + JP_DATA) as *mut u8, len) }
        } else {
            &mut stack[..len]
        };
        let r = fill(frame);
        let (to_us, out) = self.for_us(frame);
        if to_us {
            self.stats.looped += 1;
            if self.rxq.len() < RXQ_MAX
                && let Some(copy) = try_copy(frame)
            {
                self.rxq.push_back(copy);
            }
        }
        match (out, self.output) {
            (true, Some(output)) if have_page => {
                // SAFETY: as above; the head of the page.
                unsafe { (*(TXVA as *mut JifPkt)).jp_len = len as i32 };
                // The output helper is ours and only ever waits for us:
                // waiting for it is waiting for the card.
                match sys_ipc_send(output, NSREQ_OUTPUT, TXVA, PTE_RW) {
                    Ok(()) => self.stats.tx += 1,
                    Err(_) => self.stats.tx_dropped += 1,
                }
            }
            (true, _) => self.stats.tx_dropped += 1,
            (false, _) => {}
        }
        if have_page {
            let _ = sys_page_unmap(0, TXVA);
        }
        r
    }
}

/// A received frame, for smoltcp.
pub struct RxBuf(Vec<u8>);

impl phy::RxToken for RxBuf {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

/// The right to send one frame.
pub struct TxTok<'a>(&'a mut NetDev);

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        self.0.transmit_frame(len, f)
    }
}

impl Device for NetDev {
    type RxToken<'a> = RxBuf;
    type TxToken<'a> = TxTok<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxBuf, TxTok<'_>)> {
        let frame = self.rxq.pop_front()?;
        Some((RxBuf(frame), TxTok(self)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxTok<'_>> {
        Some(TxTok(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME_MAX;
        caps.max_burst_size = Some(8);
        caps
    }
}

const _: () = assert!(FRAME_MAX <= MAX_FRAME && JP_DATA + FRAME_MAX <= PGSIZE);
