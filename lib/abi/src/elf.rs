//! 32-bit ELF executables: the header formats and a checked parser.
//!
//! The kernel's loader (`env_create` on a boot module) reads ELF images that
//! come from outside the trusted code (as a user-level loader, JOS's lab-5
//! `spawn`, would), so [`parse`] validates every field it relies on before
//! anything is loaded: a [`ElfImage`] is only handed out for an image whose
//! loadable segments all lie inside the file and inside the allowed address
//! range.
//!
//! Headers are decoded field by field from little-endian bytes, so the image
//! may sit at any alignment in memory (a boot module, a file buffer).

use crate::error::Error;
use crate::mmu::PGSIZE;
use core::fmt;

/// The first four bytes of an ELF file, `"\x7fELF"`, read as a little-endian
/// `u32` (JOS's `ELF_MAGIC`).
pub const ELF_MAGIC: u32 = 0x464C_457F;

/// Size of `e_ident`.
pub const EI_NIDENT: usize = 16;
/// Index in `e_ident` of the file class.
pub const EI_CLASS: usize = 4;
/// Index in `e_ident` of the data encoding.
pub const EI_DATA: usize = 5;
/// Index in `e_ident` of the ELF header version.
pub const EI_VERSION: usize = 6;
/// `e_ident[EI_CLASS]`: 32-bit objects.
pub const ELFCLASS32: u8 = 1;
/// `e_ident[EI_DATA]`: two's complement, little-endian.
pub const ELFDATA2LSB: u8 = 1;
/// The only ELF version (`e_version` and `e_ident[EI_VERSION]`).
pub const EV_CURRENT: u32 = 1;

/// `e_type`: an executable file.
pub const ET_EXEC: u16 = 2;
/// `e_machine`: Intel 80386.
pub const EM_386: u16 = 3;

/// `p_type`: an unused entry.
pub const PT_NULL: u32 = 0;
/// `p_type`: a loadable segment.
pub const PT_LOAD: u32 = 1;
/// `p_flags`: executable.
pub const PF_X: u32 = 1;
/// `p_flags`: writable.
pub const PF_W: u32 = 2;
/// `p_flags`: readable.
pub const PF_R: u32 = 4;

/// The ELF file header (JOS's `struct Elf`), with the standard field names.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elf32Ehdr {
    /// Identification: magic, class, data encoding, version, padding.
    pub e_ident: [u8; EI_NIDENT],
    /// Object file type (`ET_*`).
    pub e_type: u16,
    /// Architecture (`EM_*`).
    pub e_machine: u16,
    /// Object file version.
    pub e_version: u32,
    /// Virtual address of the entry point.
    pub e_entry: u32,
    /// File offset of the program header table.
    pub e_phoff: u32,
    /// File offset of the section header table (not used by the loader).
    pub e_shoff: u32,
    /// Processor-specific flags (none are defined for i386).
    pub e_flags: u32,
    /// Size of this header.
    pub e_ehsize: u16,
    /// Size of one program header.
    pub e_phentsize: u16,
    /// Number of program headers.
    pub e_phnum: u16,
    /// Size of one section header.
    pub e_shentsize: u16,
    /// Number of section headers.
    pub e_shnum: u16,
    /// Section header index of the section-name string table.
    pub e_shstrndx: u16,
}

/// A program header (JOS's `struct Proghdr`), with the standard field names.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elf32Phdr {
    /// Segment type (`PT_*`).
    pub p_type: u32,
    /// File offset of the segment's bytes.
    pub p_offset: u32,
    /// Virtual address of the segment.
    pub p_vaddr: u32,
    /// Physical address of the segment (used by boot loaders only).
    pub p_paddr: u32,
    /// Number of bytes of the segment in the file.
    pub p_filesz: u32,
    /// Number of bytes of the segment in memory (the rest is zero-filled).
    pub p_memsz: u32,
    /// Permissions (`PF_*`).
    pub p_flags: u32,
    /// Alignment.
    pub p_align: u32,
}

/// Reads little-endian fields from the front of a byte slice, at any
/// alignment, without panicking.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u16(&mut self) -> Option<u16> {
        self.bytes().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.bytes().map(u32::from_le_bytes)
    }
}

/// Writes little-endian fields into a fixed-size buffer, in order.
struct Writer<const N: usize> {
    buf: [u8; N],
    pos: usize,
}

impl<const N: usize> Writer<N> {
    fn new() -> Self {
        Writer {
            buf: [0; N],
            pos: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    fn finish(self) -> [u8; N] {
        debug_assert_eq!(self.pos, N);
        self.buf
    }
}

impl Elf32Ehdr {
    /// Size of the header in the file, in bytes.
    pub const SIZE: usize = 52;

    /// Decodes a header from the first [`SIZE`](Self::SIZE) bytes of
    /// `bytes` (any alignment). Does not validate any field.
    ///
    /// Returns `None` if `bytes` is shorter than a header.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut c = Cursor(bytes);
        Some(Elf32Ehdr {
            e_ident: c.bytes()?,
            e_type: c.u16()?,
            e_machine: c.u16()?,
            e_version: c.u32()?,
            e_entry: c.u32()?,
            e_phoff: c.u32()?,
            e_shoff: c.u32()?,
            e_flags: c.u32()?,
            e_ehsize: c.u16()?,
            e_phentsize: c.u16()?,
            e_phnum: c.u16()?,
            e_shentsize: c.u16()?,
            e_shnum: c.u16()?,
            e_shstrndx: c.u16()?,
        })
    }

    /// Encodes the header as it appears in a file. Never fails.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut w = Writer::new();
        w.put(&self.e_ident);
        w.put(&self.e_type.to_le_bytes());
        w.put(&self.e_machine.to_le_bytes());
        for v in [
            self.e_version,
            self.e_entry,
            self.e_phoff,
            self.e_shoff,
            self.e_flags,
        ] {
            w.put(&v.to_le_bytes());
        }
        for v in [
            self.e_ehsize,
            self.e_phentsize,
            self.e_phnum,
            self.e_shentsize,
            self.e_shnum,
            self.e_shstrndx,
        ] {
            w.put(&v.to_le_bytes());
        }
        w.finish()
    }

    /// Returns the first four identification bytes as a little-endian `u32`,
    /// to compare with [`ELF_MAGIC`].
    pub fn magic(&self) -> u32 {
        let [a, b, c, d, ..] = self.e_ident;
        u32::from_le_bytes([a, b, c, d])
    }
}

impl Elf32Phdr {
    /// Size of a program header in the file, in bytes.
    pub const SIZE: usize = 32;

    /// Decodes a program header from the first [`SIZE`](Self::SIZE) bytes
    /// of `bytes` (any alignment). Does not validate any field.
    ///
    /// Returns `None` if `bytes` is shorter than a program header.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut c = Cursor(bytes);
        Some(Elf32Phdr {
            p_type: c.u32()?,
            p_offset: c.u32()?,
            p_vaddr: c.u32()?,
            p_paddr: c.u32()?,
            p_filesz: c.u32()?,
            p_memsz: c.u32()?,
            p_flags: c.u32()?,
            p_align: c.u32()?,
        })
    }

    /// Encodes the program header as it appears in a file. Never fails.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut w = Writer::new();
        for v in [
            self.p_type,
            self.p_offset,
            self.p_vaddr,
            self.p_paddr,
            self.p_filesz,
            self.p_memsz,
            self.p_flags,
            self.p_align,
        ] {
            w.put(&v.to_le_bytes());
        }
        w.finish()
    }
}

const _: () = assert!(core::mem::size_of::<Elf32Ehdr>() == Elf32Ehdr::SIZE);
const _: () = assert!(core::mem::size_of::<Elf32Phdr>() == Elf32Phdr::SIZE);

/// Why [`parse`] rejected an image. `index` is the position of the offending
/// entry in the program header table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The image is shorter than an ELF header.
    Truncated,
    /// The image does not start with `"\x7fELF"`.
    BadMagic,
    /// `e_ident[EI_CLASS]` is not `ELFCLASS32`.
    BadClass,
    /// `e_ident[EI_DATA]` is not `ELFDATA2LSB`.
    BadEndian,
    /// `e_ident[EI_VERSION]` or `e_version` is not `EV_CURRENT`.
    BadVersion,
    /// `e_type` is not `ET_EXEC`.
    NotExecutable,
    /// `e_machine` is not `EM_386`.
    BadMachine,
    /// `e_flags` is not 0 (i386 defines no flags).
    BadFlags,
    /// `e_ehsize` is not the size of an ELF header.
    BadHeaderSize,
    /// `e_phentsize` is not the size of a program header.
    BadPhentsize,
    /// The program header table is not inside the image (or overlaps the
    /// ELF header).
    PhdrOutOfRange,
    /// There is no `PT_LOAD` segment.
    NoLoadSegments,
    /// A segment has more bytes in the file than in memory.
    FileszExceedsMemsz {
        /// Program header index.
        index: usize,
    },
    /// A segment's file bytes are not inside the image.
    SegmentOutsideFile {
        /// Program header index.
        index: usize,
    },
    /// A segment's address range wraps around the 32-bit address space.
    SegmentWraps {
        /// Program header index.
        index: usize,
    },
    /// A segment ends above the load limit.
    SegmentBeyondLimit {
        /// Program header index.
        index: usize,
    },
    /// A segment starts in page 0, which stays unmapped.
    SegmentInPageZero {
        /// Program header index.
        index: usize,
    },
    /// The entry point is not inside any loadable segment.
    EntryOutsideSegments,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ElfError::Truncated => f.write_str("image is shorter than an ELF header"),
            ElfError::BadMagic => f.write_str("bad ELF magic"),
            ElfError::BadClass => f.write_str("not a 32-bit ELF file"),
            ElfError::BadEndian => f.write_str("not a little-endian ELF file"),
            ElfError::BadVersion => f.write_str("unknown ELF version"),
            ElfError::NotExecutable => f.write_str("not an executable (ET_EXEC) file"),
            ElfError::BadMachine => f.write_str("not an i386 (EM_386) file"),
            ElfError::BadFlags => f.write_str("unknown processor flags"),
            ElfError::BadHeaderSize => f.write_str("bad ELF header size"),
            ElfError::BadPhentsize => f.write_str("bad program header size"),
            ElfError::PhdrOutOfRange => f.write_str("program header table outside the image"),
            ElfError::NoLoadSegments => f.write_str("no loadable segment"),
            ElfError::FileszExceedsMemsz { index } => {
                write!(f, "segment {index}: file size exceeds memory size")
            }
            ElfError::SegmentOutsideFile { index } => {
                write!(f, "segment {index}: file bytes outside the image")
            }
            ElfError::SegmentWraps { index } => {
                write!(f, "segment {index}: address range wraps around")
            }
            ElfError::SegmentBeyondLimit { index } => {
                write!(f, "segment {index}: ends above the load limit")
            }
            ElfError::SegmentInPageZero { index } => {
                write!(f, "segment {index}: starts in page 0")
            }
            ElfError::EntryOutsideSegments => {
                f.write_str("entry point outside every loadable segment")
            }
        }
    }
}

impl From<ElfError> for Error {
    /// Every malformed image is `E_NOT_EXEC` (JOS's "not an executable") to
    /// the loader's caller.
    fn from(_: ElfError) -> Error {
        Error::NotExec
    }
}

/// A loadable segment of a validated image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment<'a> {
    /// Virtual address of the first byte (at least `PGSIZE`, not necessarily
    /// page-aligned).
    pub va: usize,
    /// Size in memory; `va + memsz` does not exceed the parse limit.
    pub memsz: usize,
    /// The bytes to copy to `va`; the remaining `memsz - data.len()` bytes
    /// are zero-filled.
    pub data: &'a [u8],
    /// Permissions (`PF_*` bits).
    pub flags: u32,
}

impl LoadSegment<'_> {
    /// Returns the number of bytes that come from the file.
    pub fn filesz(&self) -> usize {
        self.data.len()
    }

    /// Returns the end (exclusive) of the segment in memory, `va + memsz`.
    pub fn end(&self) -> usize {
        self.va + self.memsz
    }

    /// Returns whether the segment should be mapped writable (`PF_W`).
    pub fn is_writable(&self) -> bool {
        self.flags & PF_W != 0
    }
}

/// A validated ELF executable, borrowed from its bytes.
#[derive(Clone, Copy, Debug)]
pub struct ElfImage<'a> {
    image: &'a [u8],
    header: Elf32Ehdr,
    phdrs: &'a [u8],
    limit: usize,
}

impl<'a> ElfImage<'a> {
    /// Returns the entry point: a virtual address inside some loadable
    /// segment.
    pub fn entry(&self) -> usize {
        self.header.e_entry as usize
    }

    /// Returns the (validated) ELF header.
    pub fn header(&self) -> &Elf32Ehdr {
        &self.header
    }

    /// Returns an iterator over every program header, loadable or not.
    pub fn program_headers(&self) -> impl Iterator<Item = Elf32Phdr> + 'a {
        self.phdrs
            .chunks_exact(Elf32Phdr::SIZE)
            .filter_map(Elf32Phdr::from_bytes)
    }

    /// Returns an iterator over the `PT_LOAD` segments, in table order.
    pub fn load_segments(&self) -> LoadSegments<'a> {
        LoadSegments {
            image: self.image,
            phdrs: self.phdrs,
            index: 0,
            limit: self.limit,
        }
    }
}

/// Iterator over the loadable segments of an [`ElfImage`].
#[derive(Clone, Debug)]
pub struct LoadSegments<'a> {
    image: &'a [u8],
    phdrs: &'a [u8],
    index: usize,
    limit: usize,
}

impl<'a> Iterator for LoadSegments<'a> {
    type Item = LoadSegment<'a>;

    fn next(&mut self) -> Option<LoadSegment<'a>> {
        loop {
            let (raw, rest) = self.phdrs.split_first_chunk::<{ Elf32Phdr::SIZE }>()?;
            self.phdrs = rest;
            let index = self.index;
            self.index += 1;
            let ph = Elf32Phdr::from_bytes(raw)?;
            if ph.p_type != PT_LOAD {
                continue;
            }
            // `parse` already accepted every segment, so this cannot fail;
            // checking again keeps the iterator free of panics.
            if let Ok(seg) = check_segment(self.image, &ph, index, self.limit) {
                return Some(seg);
            }
        }
    }
}

/// Validates one `PT_LOAD` program header and returns its segment.
fn check_segment<'a>(
    image: &'a [u8],
    ph: &Elf32Phdr,
    index: usize,
    limit: usize,
) -> Result<LoadSegment<'a>, ElfError> {
    if ph.p_filesz > ph.p_memsz {
        return Err(ElfError::FileszExceedsMemsz { index });
    }
    let start = ph.p_offset as usize;
    let data = start
        .checked_add(ph.p_filesz as usize)
        .and_then(|end| image.get(start..end))
        .ok_or(ElfError::SegmentOutsideFile { index })?;
    let end = ph
        .p_vaddr
        .checked_add(ph.p_memsz)
        .ok_or(ElfError::SegmentWraps { index })?;
    if (ph.p_vaddr as usize) < PGSIZE {
        return Err(ElfError::SegmentInPageZero { index });
    }
    if end as usize > limit {
        return Err(ElfError::SegmentBeyondLimit { index });
    }
    Ok(LoadSegment {
        va: ph.p_vaddr as usize,
        memsz: ph.p_memsz as usize,
        data,
        flags: ph.p_flags,
    })
}

/// Checks the ELF header at the start of `image` (which may be just the
/// first bytes of a file): magic, 32-bit class, little-endian encoding,
/// version, `ET_EXEC`, `EM_386`, zero flags, and the header and
/// program-header sizes, as [`parse`] does. Returns the header, or the
/// first problem found. (`spawn` checks a program's header this way
/// before it has read more than its first bytes.)
pub fn check_header(image: &[u8]) -> Result<Elf32Ehdr, ElfError> {
    let header = Elf32Ehdr::from_bytes(image).ok_or(ElfError::Truncated)?;
    if header.magic() != ELF_MAGIC {
        return Err(ElfError::BadMagic);
    }
    if header.e_ident[EI_CLASS] != ELFCLASS32 {
        return Err(ElfError::BadClass);
    }
    if header.e_ident[EI_DATA] != ELFDATA2LSB {
        return Err(ElfError::BadEndian);
    }
    if u32::from(header.e_ident[EI_VERSION]) != EV_CURRENT || header.e_version != EV_CURRENT {
        return Err(ElfError::BadVersion);
    }
    if header.e_type != ET_EXEC {
        return Err(ElfError::NotExecutable);
    }
    if header.e_machine != EM_386 {
        return Err(ElfError::BadMachine);
    }
    if header.e_flags != 0 {
        return Err(ElfError::BadFlags);
    }
    if usize::from(header.e_ehsize) != Elf32Ehdr::SIZE {
        return Err(ElfError::BadHeaderSize);
    }
    if usize::from(header.e_phentsize) != Elf32Phdr::SIZE {
        return Err(ElfError::BadPhentsize);
    }
    Ok(header)
}

/// Parses and validates the ELF executable in `image`, whose loadable
/// segments must all end at or below `limit` (e.g. `UTOP`).
///
/// Checks the magic, 32-bit class, little-endian encoding, version,
/// `ET_EXEC`, `EM_386`, zero flags, and the header and program-header sizes;
/// that the program header table lies inside the image after the ELF header;
/// and, for each `PT_LOAD` segment, that `p_filesz <= p_memsz`, that its file
/// bytes lie inside the image, that `p_vaddr + p_memsz` neither wraps nor
/// exceeds `limit`, and that it does not start in page 0. Finally the entry
/// point must lie inside some loadable segment. Other segment types are
/// ignored, as are the section headers (the loader never reads them);
/// segments may overlap and need not be aligned (the loader copies bytes).
///
/// Returns the first problem found as an [`ElfError`].
pub fn parse(image: &[u8], limit: usize) -> Result<ElfImage<'_>, ElfError> {
    let header = check_header(image)?;

    let phoff = header.e_phoff as usize;
    let phdrs = if header.e_phnum == 0 {
        &image[..0]
    } else {
        if phoff < Elf32Ehdr::SIZE {
            return Err(ElfError::PhdrOutOfRange);
        }
        usize::from(header.e_phnum)
            .checked_mul(Elf32Phdr::SIZE)
            .and_then(|len| phoff.checked_add(len))
            .and_then(|end| image.get(phoff..end))
            .ok_or(ElfError::PhdrOutOfRange)?
    };

    let entry = header.e_entry as usize;
    let mut any_load = false;
    let mut entry_found = false;
    for (index, raw) in phdrs.chunks_exact(Elf32Phdr::SIZE).enumerate() {
        let ph = Elf32Phdr::from_bytes(raw).ok_or(ElfError::PhdrOutOfRange)?;
        if ph.p_type != PT_LOAD {
            continue;
        }
        let seg = check_segment(image, &ph, index, limit)?;
        any_load = true;
        if (seg.va..seg.end()).contains(&entry) {
            entry_found = true;
        }
    }
    if !any_load {
        return Err(ElfError::NoLoadSegments);
    }
    if !entry_found {
        return Err(ElfError::EntryOutsideSegments);
    }
    Ok(ElfImage {
        image,
        header,
        phdrs,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memlayout::{UTEXT, UTOP};
    use alloc::string::ToString;
    use alloc::vec::Vec;

    const TEXT: &[u8] = b"\x55\x89\xe5\xeb\xfe jos text!";
    const DATA: &[u8] = b"initdata";

    fn header(phnum: u16) -> Elf32Ehdr {
        let mut e_ident = [0; EI_NIDENT];
        e_ident[..4].copy_from_slice(&ELF_MAGIC.to_le_bytes());
        e_ident[EI_CLASS] = ELFCLASS32;
        e_ident[EI_DATA] = ELFDATA2LSB;
        e_ident[EI_VERSION] = EV_CURRENT as u8;
        Elf32Ehdr {
            e_ident,
            e_type: ET_EXEC,
            e_machine: EM_386,
            e_version: EV_CURRENT,
            e_entry: (UTEXT + 0x20) as u32,
            e_phoff: Elf32Ehdr::SIZE as u32,
            e_shoff: 0,
            e_flags: 0,
            e_ehsize: Elf32Ehdr::SIZE as u16,
            e_phentsize: Elf32Phdr::SIZE as u16,
            e_phnum: phnum,
            e_shentsize: 40,
            e_shnum: 0,
            e_shstrndx: 0,
        }
    }

    fn load(vaddr: usize, offset: usize, filesz: usize, memsz: usize, flags: u32) -> Elf32Phdr {
        Elf32Phdr {
            p_type: PT_LOAD,
            p_offset: offset as u32,
            p_vaddr: vaddr as u32,
            p_paddr: vaddr as u32,
            p_filesz: filesz as u32,
            p_memsz: memsz as u32,
            p_flags: flags,
            p_align: PGSIZE as u32,
        }
    }

    /// Where the payload starts: after the header and three program headers.
    const PAYLOAD: usize = Elf32Ehdr::SIZE + 3 * Elf32Phdr::SIZE;

    /// A valid program: text at UTEXT+0x20, a note segment with garbage
    /// fields (must be ignored), and data + bss at UTEXT+0x1000.
    fn valid_parts() -> (Elf32Ehdr, Vec<Elf32Phdr>) {
        let text = load(UTEXT + 0x20, PAYLOAD, TEXT.len(), TEXT.len(), PF_R | PF_X);
        let note = Elf32Phdr {
            p_type: 4, // PT_NOTE
            p_offset: 0xFFFF_FFF0,
            p_vaddr: 0,
            p_filesz: 0x100,
            p_memsz: 0,
            ..Default::default()
        };
        let data = load(
            UTEXT + 0x1000,
            PAYLOAD + TEXT.len(),
            DATA.len(),
            0x2000,
            PF_R | PF_W,
        );
        (header(3), alloc::vec![text, note, data])
    }

    fn build(eh: &Elf32Ehdr, phs: &[Elf32Phdr]) -> Vec<u8> {
        let mut image = Vec::new();
        image.extend_from_slice(&eh.to_bytes());
        for ph in phs {
            image.extend_from_slice(&ph.to_bytes());
        }
        image.extend_from_slice(TEXT);
        image.extend_from_slice(DATA);
        image
    }

    fn valid_image() -> Vec<u8> {
        let (eh, phs) = valid_parts();
        build(&eh, &phs)
    }

    /// Builds the valid image after `tweak` modifies its headers, and parses it.
    fn parse_tweaked(
        tweak: impl FnOnce(&mut Elf32Ehdr, &mut Vec<Elf32Phdr>),
    ) -> Result<(), ElfError> {
        let (mut eh, mut phs) = valid_parts();
        tweak(&mut eh, &mut phs);
        parse(&build(&eh, &phs), UTOP).map(|_| ())
    }

    #[test]
    fn header_bytes_round_trip() {
        let (eh, phs) = valid_parts();
        let bytes = eh.to_bytes();
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(Elf32Ehdr::from_bytes(&bytes), Some(eh));
        assert_eq!(Elf32Ehdr::from_bytes(&bytes[..51]), None);
        for ph in phs {
            assert_eq!(Elf32Phdr::from_bytes(&ph.to_bytes()), Some(ph));
        }
        assert_eq!(Elf32Phdr::from_bytes(&[0; 31]), None);
        // Field order matters: e_entry is at offset 24, p_vaddr at 8.
        assert_eq!(&bytes[24..28], &((UTEXT + 0x20) as u32).to_le_bytes());
        let text = load(0x1234_5000, 0, 0, 0, 0).to_bytes();
        assert_eq!(&text[8..12], &0x1234_5000u32.to_le_bytes());
    }

    #[test]
    fn valid_image_parses() {
        let image = valid_image();
        let elf = parse(&image, UTOP).expect("valid image");
        assert_eq!(elf.entry(), UTEXT + 0x20);
        assert_eq!(elf.header().e_phnum, 3);
        assert_eq!(elf.program_headers().count(), 3);

        let segs: Vec<_> = elf.load_segments().collect();
        assert_eq!(segs.len(), 2, "the note segment is skipped");
        assert_eq!(segs[0].va, UTEXT + 0x20);
        assert_eq!(segs[0].data, TEXT);
        assert_eq!(segs[0].memsz, TEXT.len());
        assert_eq!(segs[0].flags, PF_R | PF_X);
        assert!(!segs[0].is_writable());
        assert_eq!(segs[1].va, UTEXT + 0x1000);
        assert_eq!(segs[1].data, DATA);
        assert_eq!(segs[1].filesz(), DATA.len());
        assert_eq!(segs[1].memsz, 0x2000);
        assert_eq!(segs[1].end(), UTEXT + 0x3000);
        assert!(segs[1].is_writable());
    }

    #[test]
    fn unaligned_image_parses() {
        let image = valid_image();
        for shift in 1..4 {
            let mut buf = alloc::vec![0u8; shift];
            buf.extend_from_slice(&image);
            let elf = parse(&buf[shift..], UTOP).expect("valid image at odd alignment");
            assert_eq!(elf.entry(), UTEXT + 0x20);
            assert_eq!(elf.load_segments().next().unwrap().data, TEXT);
        }
    }

    #[test]
    fn rejects_truncated() {
        assert_eq!(parse(&[], UTOP).unwrap_err(), ElfError::Truncated);
        let image = valid_image();
        assert_eq!(
            parse(&image[..Elf32Ehdr::SIZE - 1], UTOP).unwrap_err(),
            ElfError::Truncated
        );
        // Cut inside the program header table.
        assert_eq!(
            parse(&image[..PAYLOAD - 1], UTOP).unwrap_err(),
            ElfError::PhdrOutOfRange
        );
        // Cut inside the last segment's file bytes.
        assert_eq!(
            parse(&image[..image.len() - 1], UTOP).unwrap_err(),
            ElfError::SegmentOutsideFile { index: 2 }
        );
    }

    #[test]
    fn rejects_bad_magic() {
        let mut image = valid_image();
        image[1] = b'F';
        assert_eq!(parse(&image, UTOP).unwrap_err(), ElfError::BadMagic);
        let mut image = valid_image();
        image[0] = 0;
        assert_eq!(parse(&image, UTOP).unwrap_err(), ElfError::BadMagic);
    }

    #[test]
    fn rejects_bad_ident() {
        assert_eq!(
            parse_tweaked(|e, _| e.e_ident[EI_CLASS] = 2),
            Err(ElfError::BadClass)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_ident[EI_CLASS] = 0),
            Err(ElfError::BadClass)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_ident[EI_DATA] = 2),
            Err(ElfError::BadEndian)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_ident[EI_VERSION] = 0),
            Err(ElfError::BadVersion)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_version = 2),
            Err(ElfError::BadVersion)
        );
    }

    #[test]
    fn rejects_wrong_kind_of_file() {
        assert_eq!(
            parse_tweaked(|e, _| e.e_type = 3),
            Err(ElfError::NotExecutable)
        ); // ET_DYN
        assert_eq!(
            parse_tweaked(|e, _| e.e_type = 1),
            Err(ElfError::NotExecutable)
        ); // ET_REL
        assert_eq!(
            parse_tweaked(|e, _| e.e_machine = 62),
            Err(ElfError::BadMachine)
        ); // x86-64
        assert_eq!(parse_tweaked(|e, _| e.e_flags = 1), Err(ElfError::BadFlags));
    }

    #[test]
    fn rejects_bad_header_sizes() {
        assert_eq!(
            parse_tweaked(|e, _| e.e_ehsize = 64),
            Err(ElfError::BadHeaderSize)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_phentsize = 56),
            Err(ElfError::BadPhentsize)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_phentsize = 0),
            Err(ElfError::BadPhentsize)
        );
    }

    #[test]
    fn rejects_phdr_table_out_of_range() {
        // Table runs past the end of the image.
        assert_eq!(
            parse_tweaked(|e, _| e.e_phnum = 200),
            Err(ElfError::PhdrOutOfRange)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_phnum = u16::MAX),
            Err(ElfError::PhdrOutOfRange)
        );
        // Offset near 4 GiB: offset + size must not wrap into range.
        assert_eq!(
            parse_tweaked(|e, _| e.e_phoff = 0xFFFF_FFF0),
            Err(ElfError::PhdrOutOfRange)
        );
        // Table overlapping the ELF header.
        assert_eq!(
            parse_tweaked(|e, _| e.e_phoff = 0),
            Err(ElfError::PhdrOutOfRange)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_phoff = 20),
            Err(ElfError::PhdrOutOfRange)
        );
    }

    #[test]
    fn rejects_no_load_segments() {
        assert_eq!(
            parse_tweaked(|e, _| e.e_phnum = 0),
            Err(ElfError::NoLoadSegments)
        );
        assert_eq!(
            parse_tweaked(|_, p| p.iter_mut().for_each(|ph| ph.p_type = PT_NULL)),
            Err(ElfError::NoLoadSegments)
        );
    }

    #[test]
    fn rejects_filesz_greater_than_memsz() {
        assert_eq!(
            parse_tweaked(|_, p| p[2].p_memsz = p[2].p_filesz - 1),
            Err(ElfError::FileszExceedsMemsz { index: 2 })
        );
        // Equal is fine (no bss).
        assert_eq!(parse_tweaked(|_, p| p[2].p_memsz = p[2].p_filesz), Ok(()));
    }

    #[test]
    fn rejects_segment_outside_file() {
        assert_eq!(
            parse_tweaked(|_, p| p[0].p_offset = 0x10_0000),
            Err(ElfError::SegmentOutsideFile { index: 0 })
        );
        // offset + filesz wraps a 32-bit usize.
        assert_eq!(
            parse_tweaked(|_, p| {
                p[0].p_offset = 0xFFFF_FFFF;
                p[0].p_filesz = 2;
                p[0].p_memsz = 2;
            }),
            Err(ElfError::SegmentOutsideFile { index: 0 })
        );
        // A bss-only segment may sit at the very end of the file.
        let end = (PAYLOAD + TEXT.len() + DATA.len()) as u32;
        assert_eq!(
            parse_tweaked(|_, p| {
                p[2].p_offset = end;
                p[2].p_filesz = 0;
            }),
            Ok(())
        );
        assert_eq!(
            parse_tweaked(|_, p| {
                p[2].p_offset = end + 1;
                p[2].p_filesz = 0;
            }),
            Err(ElfError::SegmentOutsideFile { index: 2 })
        );
    }

    #[test]
    fn rejects_address_wrap() {
        assert_eq!(
            parse_tweaked(|_, p| {
                p[2].p_vaddr = 0xFFFF_F000;
                p[2].p_memsz = 0x2000;
            }),
            Err(ElfError::SegmentWraps { index: 2 })
        );
        // With no limit at all, a wrap is still caught.
        let (mut eh, mut phs) = valid_parts();
        phs[2].p_vaddr = 0xFFFF_FFFF;
        phs[2].p_memsz = 0x10;
        eh.e_entry = 0xFFFF_FFFF;
        assert_eq!(
            parse(&build(&eh, &phs), usize::MAX).unwrap_err(),
            ElfError::SegmentWraps { index: 2 }
        );
    }

    #[test]
    fn rejects_segment_past_limit() {
        assert_eq!(
            parse_tweaked(|_, p| p[2].p_vaddr = (UTOP - 0x1000) as u32),
            Err(ElfError::SegmentBeyondLimit { index: 2 })
        );
        // The kernel's part of the address space.
        assert_eq!(
            parse_tweaked(|_, p| p[2].p_vaddr = 0xF010_0000),
            Err(ElfError::SegmentBeyondLimit { index: 2 })
        );
        // Ending exactly at the limit is allowed; one byte more is not.
        assert_eq!(
            parse_tweaked(|_, p| p[2].p_vaddr = (UTOP - 0x2000) as u32),
            Ok(())
        );
        assert_eq!(
            parse_tweaked(|_, p| p[2].p_vaddr = (UTOP - 0x2000 + 1) as u32),
            Err(ElfError::SegmentBeyondLimit { index: 2 })
        );
        // The same image is fine under a higher limit and bad under a lower one.
        let image = valid_image();
        assert!(parse(&image, UTEXT + 0x3000).is_ok());
        assert_eq!(
            parse(&image, UTEXT + 0x2FFF).unwrap_err(),
            ElfError::SegmentBeyondLimit { index: 2 }
        );
    }

    #[test]
    fn rejects_segment_in_page_zero() {
        assert_eq!(
            parse_tweaked(|_, p| p[2].p_vaddr = 0),
            Err(ElfError::SegmentInPageZero { index: 2 })
        );
        assert_eq!(
            parse_tweaked(|_, p| p[2].p_vaddr = (PGSIZE - 1) as u32),
            Err(ElfError::SegmentInPageZero { index: 2 })
        );
        assert_eq!(parse_tweaked(|_, p| p[2].p_vaddr = PGSIZE as u32), Ok(()));
    }

    #[test]
    fn entry_must_be_inside_a_load_segment() {
        // In the gap between text and data.
        assert_eq!(
            parse_tweaked(|e, _| e.e_entry = (UTEXT + 0x800) as u32),
            Err(ElfError::EntryOutsideSegments)
        );
        // One byte before the text, and exactly at its (exclusive) end.
        assert_eq!(
            parse_tweaked(|e, _| e.e_entry = (UTEXT + 0x1F) as u32),
            Err(ElfError::EntryOutsideSegments)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_entry = (UTEXT + 0x20 + TEXT.len()) as u32),
            Err(ElfError::EntryOutsideSegments)
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_entry = 0),
            Err(ElfError::EntryOutsideSegments)
        );
        // Inside the note segment's (ignored) range does not count.
        assert_eq!(
            parse_tweaked(|e, p| {
                p[1].p_vaddr = 0x1000_0000;
                p[1].p_memsz = 0x1000;
                e.e_entry = 0x1000_0000;
            }),
            Err(ElfError::EntryOutsideSegments)
        );
        // The last byte of text and anywhere in the data segment (bss too) are fine.
        assert_eq!(
            parse_tweaked(|e, _| e.e_entry = (UTEXT + 0x1F + TEXT.len()) as u32),
            Ok(())
        );
        assert_eq!(
            parse_tweaked(|e, _| e.e_entry = (UTEXT + 0x2FFF) as u32),
            Ok(())
        );
    }

    #[test]
    fn errors_display_and_convert() {
        assert_eq!(ElfError::BadMagic.to_string(), "bad ELF magic");
        assert_eq!(
            ElfError::SegmentBeyondLimit { index: 3 }.to_string(),
            "segment 3: ends above the load limit"
        );
        assert_eq!(Error::from(ElfError::Truncated), Error::NotExec);
    }
}
