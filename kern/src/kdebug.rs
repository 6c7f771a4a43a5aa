//! Address-to-source lookups for `backtrace` and panics (JOS's kdebug.c).
//!
//! The build links the kernel twice: the first image is read by
//! tools/mkkdebug, which writes its functions and line table (demangled,
//! from the symbol table and DWARF) as a blob that the second link places
//! between the linker symbols `kdebug_start` and `kdebug_end`.
use kdebug::{Location, Table};

unsafe extern "C" {
    static kdebug_start: u8;
    static kdebug_end: u8;
}

/// The table, checked once on first use.
static TABLE: spin::Once<Option<Table<'static>>> = spin::Once::new();

/// Returns the kernel's symbol table, or None if the blob is missing or bad.
pub fn table() -> Option<Table<'static>> {
    *TABLE.call_once(parse_blob)
}

/// Finds and checks the blob the second link placed in the image.
fn parse_blob() -> Option<Table<'static>> {
    // SAFETY: the linker script places the blob between these two symbols in
    // the loaded, never-written kernel image.
    let blob = unsafe {
        let start = &raw const kdebug_start;
        let len = (&raw const kdebug_end as usize).saturating_sub(start as usize);
        core::slice::from_raw_parts(start, len)
    };
    Table::parse(blob)
}

/// Looks up the function and source line containing `eip`.
pub fn debuginfo_eip(eip: usize) -> Option<Location<'static>> {
    table()?.lookup(eip as u32)
}
