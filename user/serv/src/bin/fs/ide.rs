//! A minimal ATA (IDE) disk driver, programmed I/O on the primary channel
//! (JOS's fs/ide.c). It runs in the file-system environment, the only one
//! the kernel gives I/O privilege (IOPL 3): in any other env each `in`/`out`
//! here is a General Protection fault.
//!
//! Sectors are 512 bytes, addressed by 28-bit LBA; disk 0 is the primary
//! master, disk 1 (QEMU's `-drive ...,index=1`) the slave, where the file
//! system image lives.
//!
//! Transfers of several sectors use READ MULTIPLE and WRITE MULTIPLE when
//! the drive has them (`set_multiple`, at start): `mult` sectors per data
//! request instead of one. Under QEMU each data request is a read or a
//! write of the image file, waited for by polling the status register, so
//! a block (8 sectors) costs one wait rather than eight.
use core::sync::atomic::{AtomicU16, Ordering};

/// Bytes per sector.
pub const SECTSIZE: usize = 512;

const DATA: u16 = 0x1F0;
const NSECT: u16 = 0x1F2;
const LBA0: u16 = 0x1F3;
const LBA1: u16 = 0x1F4;
const LBA2: u16 = 0x1F5;
const DRIVE: u16 = 0x1F6;
const STATUS: u16 = 0x1F7; // in: status; out: command
const CMD_READ: u8 = 0x20;
const CMD_WRITE: u8 = 0x30;
const CMD_READ_MULTIPLE: u8 = 0xC4;
const CMD_WRITE_MULTIPLE: u8 = 0xC5;
const CMD_SET_MULTIPLE: u8 = 0xC6;
const CMD_IDENTIFY: u8 = 0xEC;
/// Most sectors per data block of READ MULTIPLE we ask for (QEMU's drives
/// take up to 16).
const MULT_MAX: u16 = 16;

const BSY: u8 = 0x80;
const DRDY: u8 = 0x40;
const DF: u8 = 0x20;
const ERR: u8 = 0x01;

/// A disk error (the drive set DF or ERR).
#[derive(Debug)]
pub struct IdeError;

fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: port I/O only; the kernel allows it in this env (IOPL 3) and
    // faults it anywhere else. It touches no memory.
    unsafe {
        core::arch::asm!("inb %dx, %al", in("dx") port, out("al") v, options(att_syntax, nomem, nostack))
    };
    v
}

fn outb(port: u16, v: u8) {
    // SAFETY: as for inb.
    unsafe {
        core::arch::asm!("outb %al, %dx", in("dx") port, in("al") v, options(att_syntax, nomem, nostack))
    };
}

fn inl(port: u16) -> u32 {
    let v: u32;
    // SAFETY: as for inb.
    unsafe {
        core::arch::asm!("inl %dx, %eax", in("dx") port, out("eax") v, options(att_syntax, nomem, nostack))
    };
    v
}

fn outl(port: u16, v: u32) {
    // SAFETY: as for inb.
    unsafe {
        core::arch::asm!("outl %eax, %dx", in("dx") port, in("eax") v, options(att_syntax, nomem, nostack))
    };
}

/// Writes 16 bits to `port` (`outw`).
pub fn outw(port: u16, v: u16) {
    // SAFETY: as for inb.
    unsafe {
        core::arch::asm!("outw %ax, %dx", in("dx") port, in("ax") v, options(att_syntax, nomem, nostack))
    };
}

/// Waits until the drive is ready (not busy); with `check`, reports a
/// drive fault or error.
fn wait_ready(check: bool) -> Result<(), IdeError> {
    let r = loop {
        let r = inb(STATUS);
        if r & (BSY | DRDY) == DRDY {
            break r;
        }
    };
    if check && r & (DF | ERR) != 0 {
        return Err(IdeError);
    }
    Ok(())
}

/// How long the probe waits for the channel, then for disk 1, to be
/// ready (QEMU's drives are ready at once; with no drive at all, the
/// status register reads 0 for ever).
const PROBE_MS: u32 = 1000;

/// Waits at most `ms` milliseconds (by the kernel's clock) for the
/// selected drive to be ready (not busy). Returns whether it was.
fn wait_ready_for(ms: u32) -> bool {
    let start = jos::syscall::sys_time_msec();
    loop {
        if inb(STATUS) & (BSY | DRDY) == DRDY {
            return true;
        }
        if jos::syscall::sys_time_msec().wrapping_sub(start) >= ms {
            return false;
        }
    }
}

/// Sectors per data request of READ and WRITE MULTIPLE, once
/// `set_multiple` has set it (0: the drive does not have them; transfers
/// use READ and WRITE SECTORS).
static MULT: AtomicU16 = AtomicU16::new(0);

/// The command for a transfer of `n` sectors and the sectors per data
/// request: the MULTIPLE form (`multiple`) if `set_multiple` set it up and
/// `n` is more than one, else the one-sector-per-request form (`single`).
fn per_request(n: usize, single: u8, multiple: u8) -> (u8, usize) {
    let mult = usize::from(MULT.load(Ordering::Relaxed));
    if mult > 1 && n > 1 {
        (multiple, mult)
    } else {
        (single, 1)
    }
}

/// The disk the next transfers use (0 or 1).
pub struct Ide {
    disk: u8,
}

impl Ide {
    /// Whether disk 1 answers (JOS's ide_probe_disk1): waits a bounded
    /// time (PROBE_MS) for the channel to be ready, selects disk 1 and
    /// waits as long for it to be ready, with no fault or error. Leaves
    /// disk 0 selected. Unlike JOS's, it never waits for ever: with no
    /// drive at all (QEMU with no `-drive`) the status register reads 0,
    /// which is neither busy nor ready: no disk 1, after at most PROBE_MS.
    pub fn probe_disk1() -> bool {
        if !wait_ready_for(PROBE_MS) {
            return false;
        }
        outb(DRIVE, 0xE0 | 1 << 4);
        let present = wait_ready_for(PROBE_MS) && inb(STATUS) & (DF | ERR) == 0;
        outb(DRIVE, 0xE0);
        present
    }

    /// Transfers to and from disk `disk` (0 or 1).
    pub fn new(disk: u8) -> Ide {
        Ide { disk: disk & 1 }
    }

    /// Starts a transfer of `n` sectors at `secno` (command `cmd`).
    fn start(&self, secno: u32, n: usize, cmd: u8) -> Result<(), IdeError> {
        assert!(n <= 256 && secno < 1 << 28, "ide: bad transfer");
        wait_ready(false)?;
        outb(NSECT, n as u8);
        outb(LBA0, secno as u8);
        outb(LBA1, (secno >> 8) as u8);
        outb(LBA2, (secno >> 16) as u8);
        outb(DRIVE, 0xE0 | self.disk << 4 | ((secno >> 24) & 0x0F) as u8);
        outb(STATUS, cmd);
        Ok(())
    }

    /// Waits until the drive has finished the last command (a write's
    /// last sector is written after its data is handed over). Err if the
    /// drive reports an error.
    pub fn wait_idle() -> Result<(), IdeError> {
        wait_ready(true)
    }

    /// Sets the drive up for READ and WRITE MULTIPLE (ATA SET MULTIPLE MODE) with
    /// the most sectors per data request it allows, up to MULT_MAX (a
    /// power of two), if its IDENTIFY data says it has the command. A drive
    /// without it, or refusing, is read a sector per request as before.
    /// Err only if IDENTIFY itself fails.
    pub fn set_multiple(&self) -> Result<(), IdeError> {
        wait_ready(false)?;
        outb(DRIVE, 0xE0 | self.disk << 4);
        outb(STATUS, CMD_IDENTIFY);
        wait_ready(true)?;
        let mut id = [0u16; 256];
        for pair in id.chunks_exact_mut(2) {
            let v = inl(DATA);
            pair[0] = v as u16;
            pair[1] = (v >> 16) as u16;
        }
        // Word 47: the most sectors per request READ MULTIPLE takes.
        let max = (id[47] & 0xFF).min(MULT_MAX);
        if max < 2 {
            return Ok(());
        }
        let mult = 1 << (15 - max.leading_zeros());
        outb(NSECT, mult as u8);
        outb(DRIVE, 0xE0 | self.disk << 4);
        outb(STATUS, CMD_SET_MULTIPLE);
        if wait_ready(true).is_ok() {
            MULT.store(mult, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Reads sectors `secno..` into `dst` (a whole number of sectors): with
    /// READ MULTIPLE, one wait per `mult` sectors, if set up
    /// (`set_multiple`) and more than one sector is read.
    pub fn read(&self, secno: u32, dst: &mut [u8]) -> Result<(), IdeError> {
        assert!(dst.len().is_multiple_of(SECTSIZE));
        let n = dst.len() / SECTSIZE;
        let (cmd, per) = per_request(n, CMD_READ, CMD_READ_MULTIPLE);
        self.start(secno, n, cmd)?;
        for chunk in dst.chunks_mut(per * SECTSIZE) {
            wait_ready(true)?;
            for w in chunk.chunks_exact_mut(4) {
                w.copy_from_slice(&inl(DATA).to_le_bytes());
            }
        }
        Ok(())
    }

    /// Writes `src` (a whole number of sectors) to sectors `secno..`: with
    /// WRITE MULTIPLE, one wait per `mult` sectors, if set up
    /// (`set_multiple`) and more than one sector is written.
    pub fn write(&self, secno: u32, src: &[u8]) -> Result<(), IdeError> {
        assert!(src.len().is_multiple_of(SECTSIZE));
        let n = src.len() / SECTSIZE;
        let (cmd, per) = per_request(n, CMD_WRITE, CMD_WRITE_MULTIPLE);
        self.start(secno, n, cmd)?;
        for chunk in src.chunks(per * SECTSIZE) {
            wait_ready(true)?;
            for w in chunk.chunks_exact(4) {
                outl(DATA, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
            }
        }
        Ok(())
    }
}
