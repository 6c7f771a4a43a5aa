//! The Intel 82540EM Ethernet controller, QEMU's `-device e1000` (JOS's
//! kern/e1000.c, lab 6): attached at boot, then driven by the kernel,
//! which moves frames between the card's rings and user memory for the
//! network system calls (kern/src/net.rs).
//!
//! What the card may touch. The card reads and writes memory by DMA at the
//! physical addresses in its descriptors; the descriptors, the rings' base
//! registers and every buffer they point to are set here, at boot, to
//! pages the kernel allocated and keeps for ever (a reference it never
//! drops, so they are never freed nor handed to an env). No user address
//! and no user page ever reaches a descriptor: transmit copies the frame
//! from the user into a kernel buffer, receive copies it out. So no user
//! program can make the card write into memory it does not own, whatever
//! it passes (the registers are mapped only in the kernel's half, above
//! ULIM, so no env can reprogram them either).
//!
//! The registers (BAR 0) are mapped uncached in the MMIO window (as the
//! LAPIC's) and touched only through volatile accesses; the descriptors
//! too, since the card writes them behind the compiler's back. Register
//! and descriptor formats, and the rings' bookkeeping (which slot is next,
//! when a ring is full), are the `e1000hw` crate's, tested on the host
//! against a model of the card.
//!
//! Interrupts: the card raises its PCI interrupt line (routed by the BIOS
//! to an IRQ of the 8259s, which deliver it to CPU 0 as JOS's keyboard and
//! serial IRQs) when it has stored a frame (RXT0, with no delay: RDTR 0),
//! when its free receive descriptors fall to the threshold (RXDMT0) and
//! when it had to drop a frame for want of one (RXO). The handler
//! ([`e1000_intr`], through net.rs's `net_intr`) only reads ICR, which
//! acknowledges the card and lowers the line, and wakes the envs waiting
//! for a frame; they copy the frames out themselves, in their system
//! calls. Transmit interrupts stay masked (no one waits for the transmit
//! ring: see net.rs).
//!
//! Every use is under DRIVER's lock (and, from system calls and the
//! interrupt, the big kernel lock).
use crate::pci::{PciFunc, pci_func_enable};
use crate::pmap::{self, Alloc, Page};
use abi::error::{Error, Result};
use abi::mmu::PGSIZE;
use abi::net::Mac;
use abi::trap::{IRQ_KBD, IRQ_SERIAL, IRQ_SPURIOUS, IRQ_TIMER};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering, compiler_fence};
use e1000hw::*;
use spin::{Mutex, Once};
use volatile::VolatilePtr;

/// The E1000's PCI vendor ID (Intel).
pub const E1000_VENDOR: u32 = 0x8086;
/// The 82540EM's PCI device ID.
pub const E1000_DEVICE: u32 = 0x100E;

/// Transmit descriptors (a multiple of 8: the ring's length in bytes must
/// be a multiple of 128). At most NTX - 1 frames wait for the wire.
pub const NTX: usize = 32;
/// Receive descriptors. What arrives while they are all full is lost: a
/// real card has nowhere to put it (RXO, counted in MPC), and QEMU's
/// queues it but, handing the queue over when RDT moves, frees each frame
/// that finds no descriptor (with 64, MIT's testinput [100] got 66 of its
/// 101 frames). 128 (JOS's suggestion) hold that grader's burst.
pub const NRX: usize = 128;
const _: () = assert!(NTX.is_multiple_of(RING_ALIGN_DESCS) && NRX.is_multiple_of(RING_ALIGN_DESCS));
/// Both rings share one page: TX descriptors first, RX from RX_RING_OFF.
const RX_RING_OFF: usize = 2048;
const _: () = assert!(NTX * 16 <= RX_RING_OFF && RX_RING_OFF + NRX * 16 <= PGSIZE);
/// Buffers per page (BUF_SIZE bytes each).
const BUFS_PER_PAGE: usize = PGSIZE / BUF_SIZE;
/// The pages the driver takes at boot: the rings' page and the buffers'.
pub const DRIVER_PAGES: usize = 1 + (NTX + NRX) / BUFS_PER_PAGE;

/// The smallest register window that holds every register used here.
const MIN_BAR0: u32 = 0x6000;
/// The largest window mapped (the 82540EM's is 128 KiB).
const MAX_BAR0: u32 = 0x10_0000;

/// The attached E1000: its PCI function, with BAR 0 (the registers' base
/// physical address and size) as pci_func_enable read it. Set once, by the
/// first E1000 found.
static E1000: Once<PciFunc> = Once::new();

/// The IRQ the card interrupts on, once its interrupts are on; NO_IRQ
/// before, without a card, or when its interrupt line is not one the
/// kernel can use (then sys_net_receive is NotSupp: callers poll).
static IRQ: AtomicU32 = AtomicU32::new(NO_IRQ);
const NO_IRQ: u32 = u32::MAX;

/// The interrupt causes unmasked (IMS): a frame stored (RXT0), the free
/// receive descriptors down to the threshold (RXDMT0), a frame dropped for
/// want of one (RXO). Each means frames wait in the ring.
pub const RX_INTRS: u32 = INT_RXT0 | INT_RXDMT0 | INT_RXO;

/// The driver's state, once the card is set up (None without a card, or
/// if setting it up failed).
static DRIVER: Mutex<Option<Driver>> = Mutex::new(None);

/// A ring's descriptors in DMA memory (the kernel's mapping of the rings'
/// page), read and written with volatile accesses.
struct DmaDescs<D> {
    base: *mut D,
    len: usize,
}

impl<D: Copy> Descs<D> for DmaDescs<D> {
    fn len(&self) -> usize {
        self.len
    }
    fn read(&self, i: usize) -> D {
        assert!(i < self.len);
        // SAFETY: base points at len descriptors in the rings' page, which
        // the driver owns for ever; the card writes them too, hence
        // volatile.
        unsafe { self.base.add(i).read_volatile() }
    }
    fn write(&mut self, i: usize, d: D) {
        assert!(i < self.len);
        // SAFETY: as in read.
        unsafe { self.base.add(i).write_volatile(d) }
    }
}

// SAFETY: the raw pointers point into pages the driver owns for ever, and
// are only used under DRIVER's lock.
unsafe impl<D> Send for DmaDescs<D> {}

/// What the driver counts (the monitor's `netstat` prints it).
#[derive(Clone, Copy, Default, Debug)]
pub struct Stats {
    /// Frames handed to the card.
    pub tx: u64,
    /// Transmits refused because the ring was full (E_AGAIN).
    pub tx_full: u64,
    /// Frames delivered to a receiver.
    pub rx: u64,
    /// Slots the card filled that held no good frame (errors, a piece of
    /// a frame longer than a buffer, empty, too long): dropped.
    pub rx_dropped: u64,
    /// Frames the card missed for want of a free descriptor (its MPC
    /// register, read as it is cleared on each receive).
    pub rx_missed: u64,
    /// Interrupts taken.
    pub intr: u64,
}

/// The card, set up.
struct Driver {
    /// Where BAR 0 is mapped.
    regs: usize,
    tx_descs: DmaDescs<TxDesc>,
    rx_descs: DmaDescs<RxDesc>,
    tx: TxRing,
    rx: RxRing,
    /// The kernel address of buffer i: TX buffers 0..NTX, RX NTX..NTX+NRX.
    bufs: [usize; NTX + NRX],
    mac: Mac,
    stats: Stats,
}

impl Driver {
    /// Register `reg` (a byte offset below MIN_BAR0).
    fn reg(&self, reg: usize) -> VolatilePtr<'static, u32> {
        debug_assert!(reg < MIN_BAR0 as usize && reg.is_multiple_of(4));
        // SAFETY: BAR 0 is mapped uncached at regs, at least MIN_BAR0
        // bytes (checked at attach), and reg is a register's offset in it.
        unsafe { VolatilePtr::new(NonNull::new_unchecked((self.regs + reg) as *mut u32)) }
    }

    fn read(&self, reg: usize) -> u32 {
        self.reg(reg).read()
    }

    fn write(&self, reg: usize, v: u32) {
        self.reg(reg).write(v);
    }
}

/// Attaches an E1000 found on the bus: enables the function, records it
/// and sets the card up (`e1000_init`). Returns true (taken), or false for
/// a second E1000 (only one is driven) and for one whose BAR 0 is not a
/// register window of a sensible size (enabled, but not used, with a line
/// saying why).
pub fn e1000_attach(f: &mut PciFunc) -> bool {
    if E1000.is_completed() {
        return false;
    }
    pci_func_enable(f);
    if f.reg_base[0] == 0 || !(MIN_BAR0..=MAX_BAR0).contains(&f.reg_size[0]) {
        cprintf!(
            "e1000: {:02x}:{:02x}.{}: BAR 0 has no usable memory window (base 0x{:x}, size {}): not used\n",
            f.bus,
            f.dev,
            f.func,
            f.reg_base[0],
            f.reg_size[0]
        );
        return false;
    }
    E1000.call_once(|| *f);
    e1000_init(f);
    true
}

/// Returns the attached E1000's PCI function (BAR 0 in `reg_base[0]` and
/// `reg_size[0]`), or None if none was found.
pub fn e1000() -> Option<&'static PciFunc> {
    E1000.get()
}

/// The MAC address the command line asks for (`mac=`), else QEMU's
/// default; a bad word is reported and the default used.
fn boot_mac() -> Mac {
    match abi::net::cmdline_mac(crate::boot_info::get().cmdline()) {
        Ok(mac) => mac,
        Err(bad) => {
            let d = abi::net::DEFAULT_MAC;
            cprintf!(
                "e1000: mac={}: not a MAC address (six hex bytes such as 52:54:00:12:34:56, not multicast); using {}\n",
                bad,
                abi::net::MacFmt(d)
            );
            d
        }
    }
}

/// Takes a zeroed page for the driver for ever (a reference never
/// dropped); None when memory is exhausted.
fn dma_page() -> Option<Page> {
    let pg = pmap::page_alloc(Alloc::Zero)?;
    pmap::page_incref(pg);
    Some(pg)
}

/// Sets the card up as the manual's chapter 14 and JOS's lab 6 say: the
/// registers mapped, interrupts masked, the transmit ring (TDBAL/TDLEN/
/// TDH/TDT, TCTL, TIPG), the receive address (RAL0/RAH0 with Address
/// Valid), the multicast table cleared, the receive ring (RDBAL/RDLEN/
/// RDH/RDT) and RCTL. Boot only (CPU 0, before any env). Without the
/// memory for the rings it says so and leaves the card unused.
fn e1000_init(f: &PciFunc) {
    let regs = pmap::mmio_map_region(f.reg_base[0] as usize, f.reg_size[0] as usize);
    let mut pages = [None; DRIVER_PAGES];
    for p in pages.iter_mut() {
        *p = dma_page();
        if p.is_none() {
            cprintf!("e1000: no memory for the rings: not used\n");
            // The pages taken stay taken: boot only, and memory is gone.
            return;
        }
    }
    let page = |i: usize| pages[i].expect("taken above");
    let rings = page(0);
    let buf_pa = |i: usize| page(1 + i / BUFS_PER_PAGE).pa() + (i % BUFS_PER_PAGE) * BUF_SIZE;
    let mut bufs = [0; NTX + NRX];
    for (i, b) in bufs.iter_mut().enumerate() {
        *b = pmap::kaddr(buf_pa(i));
    }
    let mut d = Driver {
        regs,
        tx_descs: DmaDescs {
            base: rings.kva() as *mut TxDesc,
            len: NTX,
        },
        rx_descs: DmaDescs {
            base: (rings.kva() + RX_RING_OFF) as *mut RxDesc,
            len: NRX,
        },
        tx: TxRing::new(),
        rx: RxRing::new(),
        bufs,
        mac: boot_mac(),
        stats: Stats::default(),
    };

    // No interrupts until the rings are set up.
    d.write(IMC, INT_ALL);
    let _ = d.read(ICR);

    // Transmit (manual 14.5).
    let tdt = TxRing::init(&mut d.tx_descs, |i| buf_pa(i) as u64);
    d.write(TDBAL, rings.pa() as u32);
    d.write(TDBAH, 0);
    d.write(TDLEN, (NTX * size_of::<TxDesc>()) as u32);
    d.write(TDH, 0);
    d.write(TDT, tdt);
    d.write(TCTL, TCTL_INIT);
    d.write(TIPG, TIPG_INIT);

    // Receive (manual 14.4).
    let m = d.mac;
    d.write(RAL0, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    d.write(RAH0, u32::from(m[4]) | (u32::from(m[5]) << 8) | RAH_AV);
    for i in 0..MTA_LEN {
        d.write(MTA + 4 * i, 0);
    }
    let rdt = RxRing::init(&mut d.rx_descs, |i| buf_pa(NTX + i) as u64);
    d.write(RDBAL, (rings.pa() + RX_RING_OFF) as u32);
    d.write(RDBAH, 0);
    d.write(RDLEN, (NRX * size_of::<RxDesc>()) as u32);
    d.write(RDTR, 0);
    d.write(RDH, 0);
    d.write(RDT, rdt);
    d.write(RCTL, RCTL_INIT);

    // Receive interrupts, on the IRQ the BIOS routed the card's line to
    // (the PCI header's interrupt line), unless that is none or one the
    // kernel uses for something else.
    let irq = u32::from(f.irq_line);
    let usable = irq < 16 && ![IRQ_TIMER, IRQ_KBD, 2, IRQ_SERIAL, IRQ_SPURIOUS].contains(&irq);
    if usable {
        d.write(IMS, RX_INTRS);
    } else {
        cprintf!(
            "e1000: interrupt line {}: not usable; receive polls only\n",
            f.irq_line
        );
    }
    *DRIVER.lock() = Some(d);
    if usable {
        IRQ.store(irq, Ordering::Relaxed);
        crate::arch::picirq::irq_enable(irq);
    }
    if crate::boot_info::get().flag("e1000check") {
        check_e1000_tx_full();
    }
}

/// The ethertype of the self check's frames (IEEE's "local experimental").
const CHECK_ETHERTYPE: u16 = 0x88B5;

/// Sends self-check frame `i` (broadcast, ethertype 0x88B5, the text
/// `e1000 check NN`) through e1000_transmit.
fn check_frame(i: usize) -> Result<()> {
    let mut f = [0u8; 60];
    f[0..6].fill(0xFF);
    f[12..14].copy_from_slice(&CHECK_ETHERTYPE.to_be_bytes());
    f[14..26].copy_from_slice(b"e1000 check ");
    f[26] = b'0' + (i / 10 % 10) as u8;
    f[27] = b'0' + (i % 10) as u8;
    e1000_transmit(f.len(), |buf| {
        buf.copy_from_slice(&f);
        Ok(())
    })
}

/// Boot self check of a full transmit ring on the card itself (the kernel
/// word `e1000check`; it puts NTX frames on the wire, so it is not run
/// otherwise). QEMU's card sends a frame as soon as TDT moves, so the
/// ring never fills by itself: with transmission paused (TCTL.EN clear),
/// NTX - 1 frames must be taken, the next refused with Again; once it is
/// resumed, every one of them must be sent (DD) and the refused frame
/// taken. The wire then holds frames `e1000 check 00` to `NN` in order,
/// which the grader checks in the capture. Prints
/// `check_e1000_tx_full() succeeded!` or what went wrong.
fn check_e1000_tx_full() {
    let with_driver = |f: &dyn Fn(&mut Driver) -> usize| DRIVER.lock().as_mut().map_or(0, f);
    with_driver(&|d| {
        d.write(TCTL, TCTL_INIT & !TCTL_EN);
        0
    });
    let mut taken = 0;
    while taken < NTX && check_frame(taken).is_ok() {
        taken += 1;
    }
    let refused = check_frame(taken);
    // Writing TCTL with EN makes QEMU's card go through the ring again.
    with_driver(&|d| {
        d.write(TCTL, TCTL_INIT);
        0
    });
    let in_flight = || with_driver(&|d| d.tx.in_flight(&d.tx_descs));
    let mut spins = 0;
    while in_flight() != 0 && spins < 10_000_000 {
        spins += 1;
        core::hint::spin_loop();
    }
    let left = in_flight();
    let resent = check_frame(taken);
    if taken == NTX - 1 && refused == Err(Error::Again) && left == 0 && resent.is_ok() {
        cprintf!("check_e1000_tx_full() succeeded!\n");
    } else {
        cprintf!(
            "check_e1000_tx_full() failed: {} frames taken while paused (expected {}), then {:?} (expected Again); {} still in flight after resuming; the refused frame again: {:?}\n",
            taken,
            NTX - 1,
            refused,
            left,
            resent
        );
    }
}

/// Sends one frame of `len` bytes (1..=MAX_FRAME): `fill` writes it into
/// the next free transmit buffer (a slice of exactly `len` bytes), and the
/// frame goes to the card only if `fill` succeeds. Errors: NotSupp without
/// a card, Inval for a bad length, Again when the ring is full (nothing
/// taken: send again later), and `fill`'s error (nothing sent).
pub fn e1000_transmit(len: usize, fill: impl FnOnce(&mut [u8]) -> Result<()>) -> Result<()> {
    let mut guard = DRIVER.lock();
    let d = guard.as_mut().ok_or(Error::NotSupp)?;
    let slot = match d.tx.reserve(&d.tx_descs, len) {
        Ok(slot) => slot,
        Err(TxError::BadLength) => return Err(Error::Inval),
        Err(TxError::Full) => {
            d.stats.tx_full += 1;
            return Err(Error::Again);
        }
    };
    // The card is done with this buffer (DD), and reads it again only
    // after the TDT write below.
    compiler_fence(Ordering::SeqCst);
    // SAFETY: bufs[slot] is a BUF_SIZE-byte buffer in a page the driver
    // owns, not in use by the card (reserve said so); len <= MAX_FRAME <=
    // BUF_SIZE; DRIVER's lock keeps everyone else out.
    let buf = unsafe { core::slice::from_raw_parts_mut(d.bufs[slot] as *mut u8, len) };
    fill(buf)?;
    let tdt = d.tx.commit(&mut d.tx_descs, len);
    // The frame and its descriptor are written before the card is told.
    compiler_fence(Ordering::SeqCst);
    d.write(TDT, tdt);
    d.stats.tx += 1;
    Ok(())
}

/// Takes the next frame received: `take` gets its bytes and returns what
/// to return; the frame is given back to the card (consumed) only if
/// `take` succeeds, else it stays first in line. Slots holding no good
/// frame are dropped on the way. Errors: NotSupp without a card, Again
/// when no frame waits, and `take`'s error (the frame kept).
pub fn e1000_receive(take: impl FnOnce(&[u8]) -> Result<u32>) -> Result<u32> {
    let mut guard = DRIVER.lock();
    let d = guard.as_mut().ok_or(Error::NotSupp)?;
    d.stats.rx_missed += u64::from(d.read(MPC));
    loop {
        let slot = d.rx.peek(&d.rx_descs).ok_or(Error::Again)?;
        // The descriptor said DD before the buffer is read.
        compiler_fence(Ordering::SeqCst);
        match slot {
            RxSlot::Drop { .. } => {
                let rdt = d.rx.release(&mut d.rx_descs);
                d.write(RDT, rdt);
                d.stats.rx_dropped += 1;
            }
            RxSlot::Frame { slot, len } => {
                // SAFETY: the card filled this buffer (DD) and does not
                // touch it again until it is released; len <= MAX_FRAME.
                let frame =
                    unsafe { core::slice::from_raw_parts(d.bufs[NTX + slot] as *const u8, len) };
                let r = take(frame)?;
                compiler_fence(Ordering::SeqCst);
                let rdt = d.rx.release(&mut d.rx_descs);
                d.write(RDT, rdt);
                d.stats.rx += 1;
                return Ok(r);
            }
        }
    }
}

/// The card's IRQ (its interrupts on), or None: no card, or no interrupt
/// line the kernel uses.
pub fn e1000_irq() -> Option<u32> {
    let irq = IRQ.load(Ordering::Relaxed);
    (irq != NO_IRQ).then_some(irq)
}

/// The card's interrupt: reads ICR, which acknowledges every cause (and
/// lowers the interrupt line), and returns the causes (INT_* bits); 0
/// without a card. The interrupt controller is the caller's to
/// acknowledge.
pub fn e1000_intr() -> u32 {
    let mut guard = DRIVER.lock();
    let Some(d) = guard.as_mut() else {
        return 0;
    };
    d.stats.intr += 1;
    d.read(ICR)
}

/// The driver's counters and MAC address, or None without a card.
pub fn e1000_stats() -> Option<(Stats, Mac)> {
    DRIVER.lock().as_mut().map(|d| {
        d.stats.rx_missed += u64::from(d.read(MPC));
        (d.stats, d.mac)
    })
}
