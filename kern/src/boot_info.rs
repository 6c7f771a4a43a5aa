//! What the boot loader told us, reduced to one `BootInfo`.
//!
//! QEMU's `-kernel` speaks Multiboot v1, GRUB speaks Multiboot2; both hand
//! over a memory map, boot modules (the user programs) and a command line.
//! Multiboot2's information is parsed with the `multiboot2` crate; v1's
//! small fixed table is read by hand.
//! `init` copies what the kernel needs into a fixed-size `BootInfo` right
//! after entry, so later code never looks at loader memory again (except the
//! module contents, which `pmap` reserves).
//!
//! The loader's structures may lie anywhere in physical memory, but the
//! entry page directory maps only the first 4 MiB. So they are read through
//! a small early window: two page tables, installed at `EARLY_WINDOW`, that
//! are pointed at whatever 8 MiB of physical memory is being read (so that
//! Multiboot2's information, one block of up to 4 MiB, is contiguous).

use crate::arch::{entry, x86};
use abi::memlayout::KERNBASE;
use abi::mmu::{PGSIZE, PTSIZE, pdx};
use multiboot2::{BootInformation, BootInformationHeader};
use spin::Once;

/// Multiboot v1 magic in EAX.
pub const MB1_BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// Multiboot2 magic in EAX.
pub const MB2_BOOTLOADER_MAGIC: u32 = 0x36D7_6289;

/// Most memory-map entries kept.
pub const MAX_REGIONS: usize = 32;
/// Most modules kept.
pub const MAX_MODULES: usize = 16;
/// Longest module name / command line kept (longer ones are cut).
pub const MAX_NAME: usize = 64;
/// Longest kernel command line kept.
pub const MAX_CMDLINE: usize = 256;

/// Which protocol booted us.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Loader {
    /// Multiboot v1 (QEMU `-kernel`).
    Multiboot1,
    /// Multiboot2 (GRUB).
    Multiboot2,
}

/// One memory-map entry: `[base, base + len)` of type `kind` (1 = usable RAM).
#[derive(Clone, Copy, Default, Debug)]
pub struct MemRegion {
    pub base: u64,
    pub len: u64,
    pub kind: u32,
}

/// A boot module: physical `[start, end)` and its name (the loader's string).
#[derive(Clone, Copy, Debug)]
pub struct Module {
    pub start: usize,
    pub end: usize,
    name: [u8; MAX_NAME],
    name_len: usize,
}

impl Module {
    /// The module's string as given to the loader (e.g. `obj/user/hello`).
    pub fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("?")
    }

    /// The last path component of the module's first word (`hello`).
    pub fn basename(&self) -> &str {
        let first = self.name().split(' ').next().unwrap_or("");
        first.rsplit('/').next().unwrap_or(first)
    }
}

/// Everything the kernel keeps from the boot loader.
pub struct BootInfo {
    pub loader: Loader,
    regions: [MemRegion; MAX_REGIONS],
    nregions: usize,
    modules: [Module; MAX_MODULES],
    nmodules: usize,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
}

impl BootInfo {
    /// The memory map (entries of every type).
    pub fn regions(&self) -> &[MemRegion] {
        &self.regions[..self.nregions]
    }

    /// The boot modules.
    pub fn modules(&self) -> &[Module] {
        &self.modules[..self.nmodules]
    }

    /// The kernel command line.
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }

    /// The value of `key=value` on the command line, if present.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.cmdline().split_ascii_whitespace().find_map(|w| {
            let (k, v) = w.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// The memory limit `mem=<size>` asks for (`16M`, `65536K`, `1G`, or
    /// bytes), if given and well-formed; the caller reports a bad one.
    pub fn mem_limit(&self) -> Option<Result<u64, &str>> {
        let v = self.arg("mem")?;
        Some(parse_size(v).ok_or(v))
    }

    /// Whether the bare word `flag` is on the command line.
    pub fn flag(&self, flag: &str) -> bool {
        self.cmdline().split_ascii_whitespace().any(|w| w == flag)
    }

    /// The module whose basename is `name`.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules().iter().find(|m| m.basename() == name)
    }

    fn push_region(&mut self, r: MemRegion) {
        if self.nregions < MAX_REGIONS {
            self.regions[self.nregions] = r;
            self.nregions += 1;
        }
    }

    /// Adds module `[start, end)`; `copy_name` writes its name into the
    /// buffer it is given and returns the name's length.
    fn push_module(
        &mut self,
        start: usize,
        end: usize,
        copy_name: impl FnOnce(&mut [u8]) -> usize,
    ) {
        if self.nmodules < MAX_MODULES {
            let mut m = Module {
                start,
                end,
                name: [0; MAX_NAME],
                name_len: 0,
            };
            m.name_len = copy_name(&mut m.name);
            self.modules[self.nmodules] = m;
            self.nmodules += 1;
        }
    }
}

static BOOT_INFO: Once<BootInfo> = Once::new();

/// Returns the boot information; panics if `init` has not run.
pub fn get() -> &'static BootInfo {
    BOOT_INFO.get().expect("boot_info::init has not run")
}

/// Reads the loader's information (`magic` from EAX, `info_pa` from EBX).
/// Panics if the magic is neither multiboot's.
pub fn init(magic: u32, info_pa: usize) -> &'static BootInfo {
    BOOT_INFO.call_once(|| {
        let mut bi = BootInfo {
            loader: Loader::Multiboot1,
            regions: [MemRegion::default(); MAX_REGIONS],
            nregions: 0,
            modules: [Module {
                start: 0,
                end: 0,
                name: [0; MAX_NAME],
                name_len: 0,
            }; MAX_MODULES],
            nmodules: 0,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
        };
        match magic {
            MB1_BOOTLOADER_MAGIC => parse_mb1(&mut bi, info_pa),
            MB2_BOOTLOADER_MAGIC => parse_mb2(&mut bi, info_pa),
            _ => panic!("not booted by a multiboot loader (eax = {magic:#x})"),
        }
        window_close();
        bi
    })
}

/// Reads Multiboot v1 information (QEMU's `-kernel`) by hand: the structure
/// is a fixed table of pointers to scattered pieces, each read through the
/// window. (The v1 crate, `multiboot`, last released in 2022, is not used.)
fn parse_mb1(bi: &mut BootInfo, mbi: usize) {
    bi.loader = Loader::Multiboot1;
    let flags = phys_u32(mbi);
    if flags & (1 << 2) != 0 {
        let len = PhysStr(phys_u32(mbi + 16) as usize).copy_to(&mut bi.cmdline);
        bi.cmdline_len = len;
    }
    if flags & (1 << 3) != 0 {
        let count = phys_u32(mbi + 20) as usize;
        let addr = phys_u32(mbi + 24) as usize;
        for i in 0..count.min(MAX_MODULES) {
            let m = addr + i * 16;
            let (start, end) = (phys_u32(m) as usize, phys_u32(m + 4) as usize);
            let name = PhysStr(phys_u32(m + 8) as usize);
            bi.push_module(start, end, |out| name.copy_to(out));
        }
    }
    if flags & (1 << 6) != 0 {
        let len = phys_u32(mbi + 44) as usize;
        let addr = phys_u32(mbi + 48) as usize;
        let mut e = addr;
        while e + 24 <= addr + len {
            let size = phys_u32(e) as usize;
            bi.push_region(MemRegion {
                base: phys_u64(e + 4),
                len: phys_u64(e + 12),
                kind: phys_u32(e + 20),
            });
            e += size + 4;
        }
    } else if flags & 1 != 0 {
        // No map: the two classic figures, in KB.
        let lower = phys_u32(mbi + 4) as u64 * 1024;
        let upper = phys_u32(mbi + 8) as u64 * 1024;
        bi.push_region(MemRegion {
            base: 0,
            len: lower,
            kind: 1,
        });
        bi.push_region(MemRegion {
            base: 0x10_0000,
            len: upper,
            kind: 1,
        });
    }
}

/// Reads GRUB's Multiboot2 information through the `multiboot2` crate. The
/// whole structure (tags, strings and memory map included) is one block of
/// `total_size` bytes, so it is read in place through the early window.
/// Panics if the block is larger than the window or malformed.
fn parse_mb2(bi: &mut BootInfo, mbi: usize) {
    bi.loader = Loader::Multiboot2;
    let total = phys_u32(mbi) as usize;
    assert!(
        total <= WINDOW_SPAN,
        "multiboot2 information too large ({total} bytes)"
    );
    let ptr = window(mbi).cast::<BootInformationHeader>();
    // SAFETY: the window maps the `total` bytes from `mbi` contiguously
    // (`window`'s contract, total <= WINDOW_SPAN) and stays in place until
    // `window_close`, which runs after `mbi2` and everything borrowed from
    // it are gone; nobody writes the loader's structure meanwhile.
    let mbi2 = match unsafe { BootInformation::load(ptr) } {
        Ok(m) => m,
        Err(e) => panic!("bad multiboot2 information at {mbi:#x}: {e:?}"),
    };
    if let Some(Ok(cmdline)) = mbi2.command_line_tag().map(|t| t.cmdline()) {
        bi.cmdline_len = copy_str(cmdline, &mut bi.cmdline);
    }
    for m in mbi2.module_tags() {
        let (start, end) = (m.start_address() as usize, m.end_address() as usize);
        let name = m.cmdline().unwrap_or("?");
        bi.push_module(start, end, |out| copy_str(name, out));
    }
    if let Some(map) = mbi2.memory_map_tag() {
        for area in map.memory_areas() {
            bi.push_region(MemRegion {
                base: area.start_address(),
                len: area.size(),
                kind: area.typ().val(),
            });
        }
    } else if let Some(basic) = mbi2.basic_memory_info_tag() {
        // No map: the two classic figures, in KB.
        bi.push_region(MemRegion {
            base: 0,
            len: basic.memory_lower() as u64 * 1024,
            kind: 1,
        });
        bi.push_region(MemRegion {
            base: 0x10_0000,
            len: basic.memory_upper() as u64 * 1024,
            kind: 1,
        });
    }
}

/// Copies `s` (cut to `out`'s size) into `out`; returns the bytes copied.
fn copy_str(s: &str, out: &mut [u8]) -> usize {
    let n = s.len().min(out.len());
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
    n
}

// ---------------------------------------------------------------------------
// The early window onto physical memory.

/// Where the window appears (an otherwise unused 8 MiB below MMIOBASE's
/// neighbours; nothing else is mapped there during boot).
const EARLY_WINDOW: usize = 0xE000_0000;
/// How many bytes from any `pa` the window shows contiguously: it maps the
/// two 4 MiB blocks starting at `pa`'s, so at least the next 4 MiB.
const WINDOW_SPAN: usize = PTSIZE;

#[repr(C, align(4096))]
struct PageTable([u32; 1024]);

/// The window's two page tables.
static mut EARLY_PT: [PageTable; 2] = [PageTable([0; 1024]), PageTable([0; 1024])];
/// Which 8 MiB of physical memory the window shows (usize::MAX: none).
static mut WINDOW_BASE: usize = usize::MAX;

/// Returns a kernel pointer to physical byte `pa`, moving the window if
/// needed. The `WINDOW_SPAN` bytes from `pa` are mapped contiguously after
/// it, read-only, until the next call with an address outside them.
fn window(pa: usize) -> *const u8 {
    let base = pa & !(PTSIZE - 1);
    // SAFETY: only the boot CPU runs this, before anything else uses
    // EARLY_PT, WINDOW_BASE or entry_pgdir's slots for EARLY_WINDOW.
    unsafe {
        if WINDOW_BASE != base {
            let pts = &raw mut EARLY_PT;
            for (t, pt) in (*pts).iter_mut().enumerate() {
                let block = base.wrapping_add(t * PTSIZE);
                for (i, pte) in pt.0.iter_mut().enumerate() {
                    *pte = block.wrapping_add(i * PGSIZE) as u32 | 0x1; // present, read-only
                }
                let pt_pa = pt as *mut PageTable as usize - KERNBASE;
                entry::entry_pgdir[pdx(EARLY_WINDOW) + t] = pt_pa as u32 | 0x1;
            }
            x86::lcr3(x86::rcr3());
            WINDOW_BASE = base;
        }
    }
    (EARLY_WINDOW + (pa - base)) as *const u8
}

/// Removes the window from the entry page directory.
fn window_close() {
    // SAFETY: as in `window`; nothing keeps pointers into the window.
    unsafe {
        entry::entry_pgdir[pdx(EARLY_WINDOW)] = 0;
        entry::entry_pgdir[pdx(EARLY_WINDOW) + 1] = 0;
        x86::lcr3(x86::rcr3());
        WINDOW_BASE = usize::MAX;
    }
}

/// Reads physical byte `pa`.
fn phys_u8(pa: usize) -> u8 {
    // SAFETY: the window maps the 4 MiB around `pa` read-only; the loader's
    // structures are ordinary RAM.
    unsafe { window(pa).read_volatile() }
}

/// Reads a little-endian u32 at physical `pa` (any alignment).
fn phys_u32(pa: usize) -> u32 {
    u32::from_le_bytes([
        phys_u8(pa),
        phys_u8(pa + 1),
        phys_u8(pa + 2),
        phys_u8(pa + 3),
    ])
}

/// Reads a little-endian u64 at physical `pa`.
fn phys_u64(pa: usize) -> u64 {
    phys_u32(pa) as u64 | (phys_u32(pa + 4) as u64) << 32
}

/// A NUL-terminated string in physical memory.
#[derive(Clone, Copy)]
struct PhysStr(usize);

impl PhysStr {
    /// Copies the string (cut to `out`'s size) into `out`; returns its length.
    fn copy_to(self, out: &mut [u8]) -> usize {
        if self.0 == 0 {
            return 0;
        }
        let mut n = 0;
        while n < out.len() {
            let b = phys_u8(self.0 + n);
            if b == 0 {
                break;
            }
            out[n] = b;
            n += 1;
        }
        n
    }
}

/// Parses a size: decimal digits with an optional K, M or G suffix (powers
/// of 1024). None for anything else, or a size past 4 GiB.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 10),
        b'M' | b'm' => (&s[..s.len() - 1], 20),
        b'G' | b'g' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 10 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let bytes = n.checked_shl(shift)?;
    (bytes <= 1 << 32 && bytes >> shift == n).then_some(bytes)
}
