//! The Intel 82540EM Ethernet controller, QEMU's `-device e1000` (JOS's
//! kern/e1000.c, lab 6). For now only its attach: the PCI function enabled
//! and its register window (BAR 0, memory-mapped) recorded. The driver
//! (descriptor rings, transmit and receive), and whether it lives in the
//! kernel or in a user environment, come next (issue 23).
use crate::pci::{PciFunc, pci_func_enable};
use spin::Once;

/// The E1000's PCI vendor ID (Intel).
pub const E1000_VENDOR: u32 = 0x8086;
/// The 82540EM's PCI device ID.
pub const E1000_DEVICE: u32 = 0x100E;

/// The attached E1000: its PCI function, with BAR 0 (the registers' base
/// physical address and size) as pci_func_enable read it. Set once, by the
/// first E1000 found.
static E1000: Once<PciFunc> = Once::new();

/// Attaches an E1000 found on the bus: enables the function and records
/// it. Returns true (taken), or false for a second E1000 (only one is
/// driven) and for one whose BAR 0 has no base or no size (enabled, but
/// not recorded, with a line saying why).
pub fn e1000_attach(f: &mut PciFunc) -> bool {
    if E1000.is_completed() {
        return false;
    }
    pci_func_enable(f);
    if f.reg_base[0] == 0 || f.reg_size[0] == 0 {
        cprintf!(
            "e1000: {:02x}:{:02x}.{}: BAR 0 has no memory window (base 0x{:x}, size {}): not used\n",
            f.bus,
            f.dev,
            f.func,
            f.reg_base[0],
            f.reg_size[0]
        );
        return false;
    }
    E1000.call_once(|| *f);
    true
}

/// Returns the attached E1000's PCI function (BAR 0 in `reg_base[0]` and
/// `reg_size[0]`), or None if none was found.
pub fn e1000() -> Option<&'static PciFunc> {
    E1000.get()
}
