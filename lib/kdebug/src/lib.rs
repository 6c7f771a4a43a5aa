//! Compact address-to-source symbol table for the kernel's `backtrace`.
//!
//! The host tool `mkkdebug` reads the first-pass kernel ELF (symbols and
//! DWARF line programs) and encodes a blob with [`Builder`] (feature `std`).
//! The second link embeds that blob, and the kernel parses it with
//! [`Table::parse`] and symbolizes addresses with [`Table::lookup`], without
//! allocating.
//!
//! # Blob layout (version 1)
//!
//! Every field is a little-endian `u32`; the blob's address in memory need
//! not be aligned. Offsets are from the start of the blob.
//!
//! ```text
//! header (48 bytes):
//!   magic "KDBG", version = 1, total_len, line_bits,
//!   nfuncs, funcs_off, nlines, lines_off, nfiles, files_off,
//!   strtab_off, strtab_len
//! funcs[nfuncs]  12 bytes each: start, size, name (strtab offset);
//!                sorted by start, non-empty and non-overlapping
//! lines[nlines]  8 bytes each: addr, file << line_bits | line;
//!                strictly increasing addr; file 0 = no line information,
//!                file n (1..=nfiles) = files[n - 1]
//! files[nfiles]  4 bytes each: strtab offset of the path
//! strtab         NUL-terminated UTF-8 strings, ending with a NUL
//! ```
//!
//! A line row covers the addresses from its own up to the next row's. Rows
//! are only kept where the (file, line) pair changes within a function.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(any(feature = "std", test))]
mod encode;

#[cfg(any(feature = "std", test))]
pub use encode::{BuildError, Builder, FileId};

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"KDBG";
/// The blob format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Size of the blob header in bytes.
pub const HEADER_LEN: usize = 48;
/// Size of one function table entry in bytes.
pub const FUNC_ENTRY_LEN: usize = 12;
/// Size of one line table entry in bytes.
pub const LINE_ENTRY_LEN: usize = 8;
/// Size of one file table entry in bytes.
pub const FILE_ENTRY_LEN: usize = 4;
/// File name reported when no line row covers an address.
pub const UNKNOWN_FILE: &str = "<unknown>";

/// Where an address is: source position and enclosing function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    /// Source file path, or [`UNKNOWN_FILE`] if no line row covers the
    /// address.
    pub file: &'a str,
    /// Source line, or 0 if unknown.
    pub line: u32,
    /// Demangled name of the enclosing function.
    pub function: &'a str,
    /// Start address of the enclosing function.
    pub function_addr: u32,
}

/// A validated view of a symbol table blob.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    funcs: &'a [u8],
    lines: &'a [u8],
    files: &'a [u8],
    strtab: &'a str,
    line_bits: u32,
    nfiles: u32,
}

/// Reads the little-endian `u32` at byte offset `off`, if in bounds.
fn read_u32(bytes: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let b = bytes.get(off..end)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Returns the `count * entry_len` bytes at `off`, if they lie inside
/// `bytes` and after the header.
fn table_slice(bytes: &[u8], off: u32, count: u32, entry_len: usize) -> Option<&[u8]> {
    let off = usize::try_from(off).ok()?;
    if off < HEADER_LEN {
        return None;
    }
    let len = usize::try_from(count).ok()?.checked_mul(entry_len)?;
    bytes.get(off..off.checked_add(len)?)
}

/// Returns the number of entries `i` in `0..n` for which `below(i)` holds,
/// assuming `below` is true for a prefix of `0..n` and false afterwards.
fn partition_point(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl<'a> Table<'a> {
    /// Validates `bytes` as a symbol table blob (trailing bytes past the
    /// header's `total_len` are ignored) and returns a view of it.
    ///
    /// Runs in time linear in the blob size. Returns `None` if the magic or
    /// version is wrong, any table or string offset is out of bounds, the
    /// string table is not NUL-terminated UTF-8, or the function or line
    /// tables are unsorted or overlapping; it never panics.
    pub fn parse(bytes: &'a [u8]) -> Option<Table<'a>> {
        if bytes.get(..4)? != MAGIC || read_u32(bytes, 4)? != VERSION {
            return None;
        }
        let h = |i: usize| read_u32(bytes, 4 * i);
        let total_len = usize::try_from(h(2)?).ok()?;
        if total_len < HEADER_LEN {
            return None;
        }
        let bytes = bytes.get(..total_len)?;
        let line_bits = h(3)?;
        if !(1..=31).contains(&line_bits) {
            return None;
        }
        let funcs = table_slice(bytes, h(5)?, h(4)?, FUNC_ENTRY_LEN)?;
        let lines = table_slice(bytes, h(7)?, h(6)?, LINE_ENTRY_LEN)?;
        let nfiles = h(8)?;
        let files = table_slice(bytes, h(9)?, nfiles, FILE_ENTRY_LEN)?;
        let strtab = table_slice(bytes, h(10)?, h(11)?, 1)?;
        if strtab.last() != Some(&0) {
            return None;
        }
        let strtab = core::str::from_utf8(strtab).ok()?;
        let table = Table {
            funcs,
            lines,
            files,
            strtab,
            line_bits,
            nfiles,
        };
        table.validate()?;
        Some(table)
    }

    /// Checks every entry of the tables; `None` if any is malformed.
    fn validate(&self) -> Option<()> {
        let mut prev_end = 0u64;
        for i in 0..self.function_count() {
            let (start, size, name) = self.func(i)?;
            let start = u64::from(start);
            if size == 0 || start < prev_end {
                return None;
            }
            self.string(name)?;
            prev_end = start + u64::from(size);
        }
        for i in 0..self.files.len() / FILE_ENTRY_LEN {
            self.string(read_u32(self.files, i * FILE_ENTRY_LEN)?)?;
        }
        let mut prev_addr = None;
        for i in 0..self.line_count() {
            let (addr, packed) = self.line_row(i)?;
            if prev_addr.is_some_and(|p| p >= addr) || packed >> self.line_bits > self.nfiles {
                return None;
            }
            prev_addr = Some(addr);
        }
        Some(())
    }

    /// Returns the number of functions in the table; never fails.
    pub fn function_count(&self) -> usize {
        self.funcs.len() / FUNC_ENTRY_LEN
    }

    /// Returns the number of source files in the table; never fails.
    pub fn file_count(&self) -> usize {
        self.files.len() / FILE_ENTRY_LEN
    }

    /// Returns the number of line rows in the table; never fails.
    pub fn line_count(&self) -> usize {
        self.lines.len() / LINE_ENTRY_LEN
    }

    /// Returns function `i` as (start, size, name offset), `None` if out of
    /// range.
    fn func(&self, i: usize) -> Option<(u32, u32, u32)> {
        let off = i.checked_mul(FUNC_ENTRY_LEN)?;
        Some((
            read_u32(self.funcs, off)?,
            read_u32(self.funcs, off + 4)?,
            read_u32(self.funcs, off + 8)?,
        ))
    }

    /// Returns line row `i` as (address, packed file and line), `None` if
    /// out of range.
    fn line_row(&self, i: usize) -> Option<(u32, u32)> {
        let off = i.checked_mul(LINE_ENTRY_LEN)?;
        Some((read_u32(self.lines, off)?, read_u32(self.lines, off + 4)?))
    }

    /// Returns the NUL-terminated string at `off` in the string table,
    /// `None` if `off` is past the last NUL or not on a character boundary.
    fn string(&self, off: u32) -> Option<&'a str> {
        let off = usize::try_from(off).ok()?;
        if off >= self.strtab.len() {
            return None;
        }
        self.strtab.get(off..)?.split('\0').next()
    }

    /// Returns the path of file `index` (1-based), or [`UNKNOWN_FILE`] for 0.
    fn file(&self, index: u32) -> Option<&'a str> {
        match index {
            0 => Some(UNKNOWN_FILE),
            n => {
                let off = usize::try_from(n - 1).ok()?.checked_mul(FILE_ENTRY_LEN)?;
                self.string(read_u32(self.files, off)?)
            }
        }
    }

    /// Returns the function containing `addr` and the source position of
    /// `addr` within it, in O(log n).
    ///
    /// Returns `None` if no function covers `addr`. If a function covers it
    /// but no line row of that function does, the location's file is
    /// [`UNKNOWN_FILE`] and its line is 0.
    pub fn lookup(&self, addr: u32) -> Option<Location<'a>> {
        let n = partition_point(self.function_count(), |i| {
            self.func(i).is_some_and(|(start, _, _)| start <= addr)
        });
        let (start, size, name) = self.func(n.checked_sub(1)?)?;
        if addr.checked_sub(start)? >= size {
            return None;
        }
        let function = self.string(name)?;
        let row = partition_point(self.line_count(), |i| {
            self.line_row(i).is_some_and(|(a, _)| a <= addr)
        });
        let (file, line) = match row.checked_sub(1).and_then(|r| self.line_row(r)) {
            Some((row_addr, packed)) if row_addr >= start => {
                let index = packed >> self.line_bits;
                let line = packed & ((1 << self.line_bits) - 1);
                match index {
                    0 => (UNKNOWN_FILE, 0),
                    _ => (self.file(index)?, line),
                }
            }
            _ => (UNKNOWN_FILE, 0),
        };
        Some(Location {
            file,
            line,
            function,
            function_addr: start,
        })
    }
}

#[cfg(test)]
mod tests;
