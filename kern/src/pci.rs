//! The PCI bus (JOS's kern/pci.c, lab 6): every function on bus 0 and on
//! the buses behind PCI-to-PCI bridges, found through configuration space
//! ("configuration mechanism one": an address written to port 0xCF8, the
//! register read or written at port 0xCFC), and the ones the kernel knows
//! attached.
//!
//! A function is known by its vendor and device IDs (`ATTACH_VENDOR`) or
//! by its class and subclass (`ATTACH_CLASS`: bridges). Attaching the E1000
//! enables it (`pci_func_enable`: memory, I/O and bus mastering on, its
//! base address registers read), which prints JOS's line
//! `PCI function 00:03.0 (8086:100e) enabled`.
//!
//! JOS lists every function at boot (`PCI: 00:00.0: 8086:1237: class: 6.0
//! (Bridge device) irq: 0`); here that list is printed only with the kernel
//! command-line word `lspci`, so that every boot is not five lines longer.
//!
//! Nothing a device answers can panic the kernel: a function that reads as
//! absent is skipped, a header type not known is skipped, a bridge to a bus
//! already scanned (a loop) is not followed.
//!
//! Configuration space is only touched at boot, on CPU 0 before the other
//! CPUs start: nothing else writes port 0xCF8 between an address and its
//! data.
use crate::arch::x86::{inl, outl};
use crate::boot_info;

// Configuration mechanism one.
const PCI_CONF1_ADDR_IOPORT: u16 = 0x0CF8;
const PCI_CONF1_DATA_IOPORT: u16 = 0x0CFC;

// Registers of configuration space (byte offsets, JOS's inc/pcireg.h).
const PCI_ID_REG: u32 = 0x00;
const PCI_COMMAND_STATUS_REG: u32 = 0x04;
const PCI_CLASS_REG: u32 = 0x08;
const PCI_BHLC_REG: u32 = 0x0C;
const PCI_MAPREG_START: u32 = 0x10;
const PCI_INTERRUPT_REG: u32 = 0x3C;
// A bridge's (header type 1) bus numbers and I/O window.
const PCI_BRIDGE_BUS_REG: u32 = 0x18;
const PCI_BRIDGE_STATIO_REG: u32 = 0x1C;

// The command register's enable bits.
const PCI_COMMAND_IO_ENABLE: u32 = 0x1;
const PCI_COMMAND_MEM_ENABLE: u32 = 0x2;
const PCI_COMMAND_MASTER_ENABLE: u32 = 0x4;

// Classes and subclasses.
const PCI_CLASS_BRIDGE: u32 = 0x06;
const PCI_SUBCLASS_BRIDGE_PCI: u32 = 0x04;

// A base address register: bit 0 says I/O (1) or memory (0); a memory
// BAR's bits 2-1 say 64-bit (0b10), its low 4 bits are flags, an I/O
// BAR's low 2.
const PCI_MAPREG_TYPE_IO: u32 = 0x1;
const PCI_MAPREG_MEM_TYPE_64BIT: u32 = 0x4;

/// The number of base address registers of a function (header type 0); a
/// bridge (type 1) has the first two.
pub const PCI_NBARS: usize = 6;

/// The vendor ID read from an empty slot.
const PCI_VENDOR_NONE: u32 = 0xFFFF;

/// One function of one device (JOS's `struct pci_func`).
#[derive(Clone, Copy, Debug)]
pub struct PciFunc {
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
    /// Vendor ID (low 16 bits) and device ID (high 16).
    pub dev_id: u32,
    /// Class (bits 31-24), subclass (23-16), interface, revision.
    pub dev_class: u32,
    /// Header type: 0 a device, 1 a PCI-to-PCI bridge (bit 7 cleared).
    pub hdr_type: u8,
    /// The interrupt line the BIOS routed (the 8259's IRQ number).
    pub irq_line: u8,
    /// Each BAR's base (a physical address or an I/O port) and size in
    /// bytes, as `pci_func_enable` read them; 0 and 0 for a BAR not used
    /// (or the upper half of a 64-bit one).
    pub reg_base: [u32; PCI_NBARS],
    pub reg_size: [u32; PCI_NBARS],
}

impl PciFunc {
    /// The vendor ID.
    pub fn vendor(&self) -> u32 {
        self.dev_id & 0xFFFF
    }

    /// The device (product) ID.
    pub fn product(&self) -> u32 {
        self.dev_id >> 16
    }

    /// The class code.
    pub fn class(&self) -> u32 {
        (self.dev_class >> 24) & 0xFF
    }

    /// The subclass code.
    pub fn subclass(&self) -> u32 {
        (self.dev_class >> 16) & 0xFF
    }
}

/// A driver the kernel knows: a function matching `key1` and `key2`
/// (vendor and device, or class and subclass) is handed to `attach`, which
/// returns whether it took the function.
struct PciDriver {
    key1: u32,
    key2: u32,
    attach: fn(&mut PciFunc) -> bool,
}

/// Drivers matched by class and subclass.
const ATTACH_CLASS: &[PciDriver] = &[PciDriver {
    key1: PCI_CLASS_BRIDGE,
    key2: PCI_SUBCLASS_BRIDGE_PCI,
    attach: pci_bridge_attach,
}];

/// Drivers matched by vendor and device ID.
const ATTACH_VENDOR: &[PciDriver] = &[PciDriver {
    key1: crate::e1000::E1000_VENDOR,
    key2: crate::e1000::E1000_DEVICE,
    attach: crate::e1000::e1000_attach,
}];

/// Writes configuration register `off` of bus:dev.func into the address
/// port. Called only with dev < 32, func < 8 and a 4-aligned `off` below
/// 256 (the callers' loops and constants).
fn pci_conf1_set_addr(bus: u8, dev: u8, func: u8, off: u32) {
    let v = (1 << 31) // configuration space
        | (u32::from(bus) << 16)
        | (u32::from(dev & 0x1F) << 11)
        | (u32::from(func & 0x7) << 8)
        | (off & 0xFC);
    // SAFETY: port 0xCF8 is the PCI host bridge's address register, which
    // only the kernel uses, and only at boot on one CPU (see the module
    // comment); writing an address makes no device do anything.
    unsafe { outl(PCI_CONF1_ADDR_IOPORT, v) };
}

/// Reads configuration register `off` of function `f`.
fn pci_conf_read(f: &PciFunc, off: u32) -> u32 {
    pci_conf1_set_addr(f.bus, f.dev, f.func, off);
    // SAFETY: reading a configuration register has no side effect on the
    // registers read here (IDs, class, header, BARs, interrupt line).
    unsafe { inl(PCI_CONF1_DATA_IOPORT) }
}

/// Writes `v` into configuration register `off` of function `f`.
fn pci_conf_write(f: &PciFunc, off: u32, v: u32) {
    pci_conf1_set_addr(f.bus, f.dev, f.func, off);
    // SAFETY: the callers write only the command register (decoding and
    // bus mastering of a function a driver of this kernel attached) and
    // BARs (all ones to size them, then their old value back, with
    // decoding off meanwhile).
    unsafe { outl(PCI_CONF1_DATA_IOPORT, v) };
}

/// Hands `f` to the first driver in `list` matching `key1` and `key2` that
/// takes it; returns whether one did.
fn pci_attach_match(key1: u32, key2: u32, list: &[PciDriver], f: &mut PciFunc) -> bool {
    list.iter()
        .filter(|d| d.key1 == key1 && d.key2 == key2)
        .any(|d| (d.attach)(f))
}

/// Attaches `f` to a driver by class, else by vendor and device; returns
/// whether one took it.
fn pci_attach(f: &mut PciFunc) -> bool {
    pci_attach_match(f.class(), f.subclass(), ATTACH_CLASS, f)
        || pci_attach_match(f.vendor(), f.product(), ATTACH_VENDOR, f)
}

/// The names of the first classes (JOS's pci_class).
const PCI_CLASS_NAMES: [&str; 7] = [
    "Unknown",
    "Storage controller",
    "Network controller",
    "Display controller",
    "Multimedia device",
    "Memory controller",
    "Bridge device",
];

/// Prints `f` as JOS's pci_print_func does.
fn pci_print_func(f: &PciFunc) {
    let class = PCI_CLASS_NAMES
        .get(f.class() as usize)
        .copied()
        .unwrap_or(PCI_CLASS_NAMES[0]);
    cprintf!(
        "PCI: {:02x}:{:02x}.{}: {:04x}:{:04x}: class: {:x}.{:x} ({}) irq: {}\n",
        f.bus,
        f.dev,
        f.func,
        f.vendor(),
        f.product(),
        f.class(),
        f.subclass(),
        class,
        f.irq_line
    );
}

/// The state of one enumeration: which buses were scanned (so that a
/// bridge loop ends), and whether to list functions.
struct Scan {
    scanned: [u32; 8],
    show_devs: bool,
}

impl Scan {
    /// Marks `bus` scanned; returns false if it already was.
    fn mark(&mut self, bus: u8) -> bool {
        let (w, b) = (usize::from(bus) / 32, u32::from(bus) % 32);
        let new = self.scanned[w] & (1 << b) == 0;
        self.scanned[w] |= 1 << b;
        new
    }
}

/// The scan in progress (only at boot, on CPU 0: see pci_init).
static SCAN: spin::Mutex<Scan> = spin::Mutex::new(Scan {
    scanned: [0; 8],
    show_devs: false,
});

/// Scans every device of bus `bus` and attaches the functions the kernel
/// knows (JOS's pci_scan_bus); returns the number of devices found. A bus
/// already scanned is not scanned again (returns 0).
fn pci_scan_bus(bus: u8) -> usize {
    let show_devs = {
        let mut s = SCAN.lock();
        if !s.mark(bus) {
            return 0;
        }
        s.show_devs
    };
    let mut totaldev = 0;
    for dev in 0..32 {
        let df = PciFunc {
            bus,
            dev,
            func: 0,
            dev_id: 0,
            dev_class: 0,
            hdr_type: 0,
            irq_line: 0,
            reg_base: [0; PCI_NBARS],
            reg_size: [0; PCI_NBARS],
        };
        // An empty slot reads all ones: header type 0x7f, skipped as JOS
        // does, with every type but 0 (device) and 1 (bridge).
        let bhlc = pci_conf_read(&df, PCI_BHLC_REG);
        let hdr = ((bhlc >> 16) & 0xFF) as u8;
        if hdr & 0x7F > 1 {
            continue;
        }
        totaldev += 1;
        let nfunc = if hdr & 0x80 != 0 { 8 } else { 1 };
        for func in 0..nfunc {
            let mut f = PciFunc { func, ..df };
            f.dev_id = pci_conf_read(&f, PCI_ID_REG);
            if f.vendor() == PCI_VENDOR_NONE {
                continue;
            }
            f.hdr_type = ((pci_conf_read(&f, PCI_BHLC_REG) >> 16) & 0x7F) as u8;
            f.irq_line = (pci_conf_read(&f, PCI_INTERRUPT_REG) & 0xFF) as u8;
            f.dev_class = pci_conf_read(&f, PCI_CLASS_REG);
            if show_devs {
                pci_print_func(&f);
            }
            pci_attach(&mut f);
        }
    }
    totaldev
}

/// Attaches a PCI-to-PCI bridge: scans the bus behind it (JOS's
/// pci_bridge_attach). Returns false for a bridge that is not a type-1
/// header or has a 32-bit I/O window (not supported, as in JOS).
fn pci_bridge_attach(f: &mut PciFunc) -> bool {
    if f.hdr_type != 1 {
        return false;
    }
    let ioreg = pci_conf_read(f, PCI_BRIDGE_STATIO_REG);
    let busreg = pci_conf_read(f, PCI_BRIDGE_BUS_REG);
    if ioreg & 0xF == 1 {
        cprintf!(
            "PCI: {:02x}:{:02x}.{}: 32-bit bridge IO not supported.\n",
            f.bus,
            f.dev,
            f.func
        );
        return false;
    }
    let secondary = ((busreg >> 8) & 0xFF) as u8;
    let subordinate = (busreg >> 16) & 0xFF;
    if SCAN.lock().show_devs {
        cprintf!(
            "PCI: {:02x}:{:02x}.{}: bridge to PCI bus {}--{}\n",
            f.bus,
            f.dev,
            f.func,
            secondary,
            subordinate
        );
    }
    pci_scan_bus(secondary);
    true
}

/// Enables function `f`: reads each base address register's base and size
/// into `f.reg_base` and `f.reg_size` (sizing a BAR by writing all ones
/// and reading back which bits stick), then turns on I/O and memory
/// decoding and bus mastering, and prints JOS's line `PCI function
/// 00:03.0 (8086:100e) enabled`. A BAR with a size but no base (one the
/// BIOS did not place) is reported, as in JOS. Cannot fail.
///
/// Unlike JOS, decoding is off while the BARs hold all ones, so that the
/// device never answers at the addresses that sizing puts there.
pub fn pci_func_enable(f: &mut PciFunc) {
    let cmd = pci_conf_read(f, PCI_COMMAND_STATUS_REG) & 0xFFFF;
    let decode = PCI_COMMAND_IO_ENABLE | PCI_COMMAND_MEM_ENABLE;
    pci_conf_write(f, PCI_COMMAND_STATUS_REG, cmd & !decode);

    let nbars = if f.hdr_type == 1 { 2 } else { PCI_NBARS };
    let mut regnum = 0;
    while regnum < nbars {
        let bar = PCI_MAPREG_START + 4 * regnum as u32;
        let mut width = 1;
        let oldv = pci_conf_read(f, bar);
        pci_conf_write(f, bar, 0xFFFF_FFFF);
        let rv = pci_conf_read(f, bar);
        pci_conf_write(f, bar, oldv);
        if rv != 0 {
            let (base, mask) = if rv & PCI_MAPREG_TYPE_IO != 0 {
                (oldv & !0x3, rv & !0x3)
            } else {
                if rv & 0x6 == PCI_MAPREG_MEM_TYPE_64BIT {
                    width = 2; // the next BAR is this one's upper half
                }
                (oldv & !0xF, rv & !0xF)
            };
            // The lowest bit that stuck is the size (0 for none).
            let size = mask & mask.wrapping_neg();
            f.reg_base[regnum] = base;
            f.reg_size[regnum] = size;
            if size != 0 && base == 0 {
                cprintf!(
                    "PCI device {:02x}:{:02x}.{} ({:04x}:{:04x}) may be misconfigured: region {}: base 0x{:x}, size {}\n",
                    f.bus,
                    f.dev,
                    f.func,
                    f.vendor(),
                    f.product(),
                    regnum,
                    base,
                    size
                );
            }
        }
        regnum += width;
    }

    pci_conf_write(
        f,
        PCI_COMMAND_STATUS_REG,
        cmd | decode | PCI_COMMAND_MASTER_ENABLE,
    );
    cprintf!(
        "PCI function {:02x}:{:02x}.{} ({:04x}:{:04x}) enabled\n",
        f.bus,
        f.dev,
        f.func,
        f.vendor(),
        f.product()
    );
}

/// Scans the PCI buses from bus 0, following bridges, and attaches the
/// functions the kernel knows (JOS's pci_init); returns the number of
/// devices on bus 0 (as JOS does, those behind bridges not counted). With
/// the command-line word `lspci`, lists every function as it goes. Called
/// once, at boot, on CPU 0, before the other CPUs start.
pub fn pci_init() -> usize {
    SCAN.lock().show_devs = boot_info::get().flag("lspci");
    pci_scan_bus(0)
}
