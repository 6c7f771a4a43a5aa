//! Finding the CPUs: the Intel MultiProcessor Specification tables that the
//! BIOS leaves in memory (JOS's kern/mpconfig.c).
//!
//! The MP floating pointer structure ("_MP_") is in the first KB of the
//! EBDA, the last KB of base memory, or the BIOS ROM; it points at the
//! configuration table ("PCMP"), whose entries list each processor's local
//! APIC id and say where the local APICs are.
//!
//! This module only reads the tables and keeps what it found; `cpu::set_cpus`
//! copies the APIC ids into the per-CPU state and the LAPIC driver's table.
use crate::arch::x86::{inb, outb};
use crate::pmap::kaddr;
use abi::memlayout::NCPU;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Physical address of the local APIC (0 if there is no MP table).
pub static LAPIC_PA: AtomicUsize = AtomicUsize::new(0);
/// Index (in CPUS) of the boot CPU.
pub static BOOTCPU: AtomicUsize = AtomicUsize::new(0);
/// The usable CPUs' local APIC ids, in table order (CPU i is `APIC_IDS[i]`).
static APIC_IDS: [AtomicU8; NCPU] = [const { AtomicU8::new(0) }; NCPU];
/// How many entries of APIC_IDS are valid (0: no usable MP table).
static FOUND: AtomicUsize = AtomicUsize::new(0);

/// The local APIC ids of the CPUs `mp_init` found, CPU 0 first; empty if
/// there were no usable MP tables (then there is just the boot CPU).
pub fn apic_ids() -> impl Iterator<Item = u8> {
    APIC_IDS[..FOUND.load(Ordering::Relaxed)]
        .iter()
        .map(|id| id.load(Ordering::Relaxed))
}

/// Reads `len` bytes of physical memory at `pa` (below 1 MiB here).
fn phys(pa: usize, len: usize) -> &'static [u8] {
    // SAFETY: BIOS areas below 1 MiB are mapped at KERNBASE and never freed.
    unsafe { core::slice::from_raw_parts(kaddr(pa) as *const u8, len) }
}

fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
}

fn u16_at(b: &[u8], i: usize) -> usize {
    u16::from_le_bytes([b[i], b[i + 1]]) as usize
}

fn u32_at(b: &[u8], i: usize) -> usize {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize
}

/// Looks for an MP floating pointer structure in [pa, pa + len).
fn mpsearch1(pa: usize, len: usize) -> Option<usize> {
    (pa..pa + len).step_by(16).find(|&p| {
        let b = phys(p, 16);
        &b[..4] == b"_MP_" && sum(b) == 0
    })
}

/// Finds the MP floating pointer structure (in the order the spec gives).
fn mpsearch() -> Option<usize> {
    let bda = phys(0x400, 0x100);
    let ebda = u16_at(bda, 0x0E) << 4;
    if ebda != 0
        && let Some(p) = mpsearch1(ebda, 1024)
    {
        return Some(p);
    }
    let basemem = u16_at(bda, 0x13) * 1024;
    if basemem >= 1024
        && let Some(p) = mpsearch1(basemem - 1024, 1024)
    {
        return Some(p);
    }
    mpsearch1(0xF0000, 0x10000)
}

/// Reads the MP tables: records each CPU's APIC id (see `apic_ids`), the
/// boot CPU and the LAPIC's address. Without MP tables, runs as a
/// uniprocessor. Prints `SMP: CPU n found N CPU(s)`.
pub fn mp_init() {
    let Some(mp) = mpsearch() else {
        cprintf!("SMP: no MP floating pointer found; running on one CPU\n");
        return;
    };
    let mpf = phys(mp, 16);
    let conf_pa = u32_at(mpf, 4);
    if conf_pa == 0 || mpf[11] != 0 || conf_pa >= 0x10_0000 {
        cprintf!("SMP: no usable MP configuration table; running on one CPU\n");
        return;
    }
    let hdr = phys(conf_pa, 44);
    let len = u16_at(hdr, 4);
    if &hdr[..4] != b"PCMP" || (hdr[6] != 1 && hdr[6] != 4) || sum(phys(conf_pa, len)) != 0 {
        cprintf!("SMP: bad MP configuration table; running on one CPU\n");
        return;
    }
    let table = phys(conf_pa, len);
    let nentries = u16_at(hdr, 34);
    let mut n = 0;
    let mut p = 44;
    for _ in 0..nentries {
        if p >= table.len() {
            break;
        }
        match table[p] {
            0 => {
                // Processor: [1] APIC id, [3] flags (bit 0 usable, bit 1 BSP).
                let (apicid, flags) = (table[p + 1], table[p + 3]);
                if flags & 1 != 0 {
                    if n < NCPU {
                        APIC_IDS[n].store(apicid, Ordering::Relaxed);
                        if flags & 2 != 0 {
                            BOOTCPU.store(n, Ordering::Relaxed);
                        }
                        n += 1;
                    } else {
                        cprintf!("SMP: too many CPUs, CPU {} disabled\n", apicid);
                    }
                }
                p += 20;
            }
            1..=4 => p += 8,
            t => {
                cprintf!("mpinit: unknown config type {:x}\n", t);
                return;
            }
        }
    }
    if n == 0 {
        cprintf!("SMP: the MP table lists no CPU; running on one CPU\n");
        return;
    }
    FOUND.store(n, Ordering::Relaxed);
    LAPIC_PA.store(u32_at(hdr, 36), Ordering::Relaxed);
    let boot_id = APIC_IDS[BOOTCPU.load(Ordering::Relaxed)].load(Ordering::Relaxed);
    cprintf!("SMP: CPU {} found {} CPU(s)\n", boot_id, n);

    // If the hardware emulates PIC mode, switch to symmetric I/O mode.
    if mpf[12] & 0x80 != 0 {
        cprintf!("SMP: Setting IMCR to switch from PIC mode to symmetric I/O mode\n");
        // SAFETY: the IMCR ports are only used here.
        unsafe {
            outb(0x22, 0x70);
            outb(0x23, inb(0x23) | 1);
        }
    }
}
