//! Host-side encoder for the symbol table blob (feature `std`).

use std::collections::HashMap;
use std::fmt;
use std::string::String;
use std::vec::Vec;

use crate::{
    FILE_ENTRY_LEN, FUNC_ENTRY_LEN, HEADER_LEN, LINE_ENTRY_LEN, MAGIC, UNKNOWN_FILE, VERSION,
};

/// An interned source file path of a [`Builder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId(u32);

/// Why [`Builder::build`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// Too many distinct files for the bits left beside the largest line
    /// number in a line row.
    TooManyFiles,
    /// The blob would be 4 GiB or more.
    TooLarge,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::TooManyFiles => {
                f.write_str("too many source files for the line row encoding")
            }
            BuildError::TooLarge => f.write_str("symbol table blob would exceed 4 GiB"),
        }
    }
}

impl std::error::Error for BuildError {}

/// One line row as added: `file` is `None` for an end-of-sequence marker.
#[derive(Clone, Copy)]
struct Row {
    addr: u32,
    file: Option<FileId>,
    line: u32,
}

/// Collects functions and line rows and encodes them as a blob.
///
/// Functions and rows may be added in any order; [`Builder::build`] sorts,
/// deduplicates and compacts them.
#[derive(Default)]
pub struct Builder {
    funcs: Vec<(String, u32, u32)>,
    rows: Vec<Row>,
    files: Vec<String>,
    file_ids: HashMap<String, FileId>,
}

/// Deduplicating string table under construction.
#[derive(Default)]
struct StrTab {
    bytes: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl StrTab {
    /// Returns the offset of `s` (truncated at any NUL), adding it if new.
    fn add(&mut self, s: &str) -> Result<u32, BuildError> {
        let s = s.split('\0').next().unwrap_or_default();
        if let Some(&off) = self.offsets.get(s) {
            return Ok(off);
        }
        let off = u32::try_from(self.bytes.len()).map_err(|_| BuildError::TooLarge)?;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.offsets.insert(s.into(), off);
        Ok(off)
    }
}

impl Builder {
    /// Returns an empty builder; never fails.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a function `name` covering `start..start + size`; never fails.
    ///
    /// Functions of size 0 are ignored. Of several functions starting at the
    /// same address the first added wins, and a function overlapping the
    /// next one is cut short where that one starts.
    pub fn add_function(&mut self, name: &str, start: u32, size: u32) {
        self.funcs.push((name.into(), start, size));
    }

    /// Returns the id of source file `path`, interning it if new; never
    /// fails.
    pub fn file_id(&mut self, path: &str) -> FileId {
        if let Some(&id) = self.file_ids.get(path) {
            return id;
        }
        let id = FileId(self.files.len() as u32);
        self.files.push(path.into());
        self.file_ids.insert(path.into(), id);
        id
    }

    /// Adds a line row: code from `addr` up to the next row comes from
    /// `line` of `file`; never fails.
    ///
    /// Of several rows at the same address the last added wins.
    pub fn add_row(&mut self, addr: u32, file: FileId, line: u32) {
        self.rows.push(Row {
            addr,
            file: Some(file),
            line,
        });
    }

    /// Adds a line row for `file` given by path (see [`Builder::add_row`]);
    /// never fails.
    pub fn add_line(&mut self, addr: u32, file: &str, line: u32) {
        let id = self.file_id(file);
        self.add_row(addr, id, line);
    }

    /// Marks `addr` as the end of a line sequence: code from there up to
    /// the next row has no line information; never fails.
    ///
    /// A real row at the same address takes precedence over the marker.
    pub fn add_end_sequence(&mut self, addr: u32) {
        self.rows.push(Row {
            addr,
            file: None,
            line: 0,
        });
    }

    /// Returns the number of functions added so far; never fails.
    pub fn function_count(&self) -> usize {
        self.funcs.len()
    }

    /// Returns the number of line rows (including end markers) added so far;
    /// never fails.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// Returns the final, sorted, non-overlapping function list.
    fn final_functions(&self) -> Vec<(&str, u32, u32)> {
        let mut funcs: Vec<(&str, u32, u32)> = self
            .funcs
            .iter()
            .filter(|f| f.2 != 0)
            .map(|(n, s, z)| (n.as_str(), *s, *z))
            .collect();
        funcs.sort_by_key(|f| f.1); // stable: first added wins below
        funcs.dedup_by_key(|f| f.1);
        for i in 1..funcs.len() {
            let next_start = funcs[i].1;
            let prev = &mut funcs[i - 1];
            let end = u64::from(prev.1) + u64::from(prev.2);
            if end > u64::from(next_start) {
                prev.2 = next_start - prev.1;
            }
        }
        funcs
    }

    /// Returns the final rows as (addr, file id or None, line), keeping only
    /// rows inside a function and where (file, line) changes within it.
    fn final_rows(&self, funcs: &[(&str, u32, u32)]) -> Vec<Row> {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        // By address; at one address, end markers first, then rows in the
        // order added, so that the last of a run is the one that counts.
        order.sort_by_key(|&i| (self.rows[i].addr, self.rows[i].file.is_some(), i));
        let mut rows: Vec<Row> = Vec::new();
        let mut last_func: Option<usize> = None;
        for (k, &i) in order.iter().enumerate() {
            let row = self.rows[i];
            if order
                .get(k + 1)
                .is_some_and(|&j| self.rows[j].addr == row.addr)
            {
                continue; // superseded by a later row at the same address
            }
            let n = funcs.partition_point(|f| f.1 <= row.addr);
            let Some(fi) = n.checked_sub(1) else { continue };
            let (_, start, size) = funcs[fi];
            if row.addr - start >= size {
                continue;
            }
            if last_func == Some(fi)
                && let Some(prev) = rows.last()
                && (prev.file, prev.line) == (row.file, row.line)
            {
                continue;
            }
            if row.file.is_none() && last_func != Some(fi) {
                // Nothing before it in this function: the marker is implied.
                continue;
            }
            last_func = Some(fi);
            rows.push(row);
        }
        rows
    }

    /// Encodes everything added so far as a blob readable by
    /// [`crate::Table::parse`].
    ///
    /// Fails with [`BuildError::TooManyFiles`] if the distinct files do not
    /// fit beside the largest line number in 32 bits, or
    /// [`BuildError::TooLarge`] if the blob would reach 4 GiB.
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        let funcs = self.final_functions();
        let rows = self.final_rows(&funcs);

        let mut strtab = StrTab::default();
        strtab.add(UNKNOWN_FILE)?;
        let mut func_bytes = Vec::with_capacity(funcs.len() * FUNC_ENTRY_LEN);
        for &(name, start, size) in &funcs {
            let name = strtab.add(name)?;
            for v in [start, size, name] {
                func_bytes.extend_from_slice(&v.to_le_bytes());
            }
        }

        // Renumber the files that are still referenced, 1-based.
        let mut file_index: HashMap<FileId, u32> = HashMap::new();
        let mut file_bytes = Vec::new();
        let mut max_line = 1u32;
        for row in &rows {
            max_line = max_line.max(row.line);
            if let Some(id) = row.file
                && !file_index.contains_key(&id)
            {
                let off = strtab.add(&self.files[id.0 as usize])?;
                file_bytes.extend_from_slice(&off.to_le_bytes());
                file_index.insert(id, file_index.len() as u32 + 1);
            }
        }
        let line_bits = 32 - max_line.leading_zeros();
        let nfiles = file_index.len() as u32;
        if line_bits >= 32 || u64::from(nfiles) >= 1u64 << (32 - line_bits) {
            return Err(BuildError::TooManyFiles);
        }
        let mut line_bytes = Vec::with_capacity(rows.len() * LINE_ENTRY_LEN);
        for row in &rows {
            let packed = match row.file {
                Some(id) => file_index[&id] << line_bits | row.line,
                None => 0,
            };
            line_bytes.extend_from_slice(&row.addr.to_le_bytes());
            line_bytes.extend_from_slice(&packed.to_le_bytes());
        }

        let funcs_off = HEADER_LEN;
        let lines_off = funcs_off + func_bytes.len();
        let files_off = lines_off + line_bytes.len();
        let strtab_off = files_off + file_bytes.len();
        let total = strtab_off + strtab.bytes.len();
        let u = |v: usize| u32::try_from(v).map_err(|_| BuildError::TooLarge);
        let header = [
            u32::from_le_bytes(MAGIC),
            VERSION,
            u(total)?,
            line_bits,
            u(funcs.len())?,
            u(funcs_off)?,
            u(rows.len())?,
            u(lines_off)?,
            nfiles,
            u(files_off)?,
            u(strtab_off)?,
            u(strtab.bytes.len())?,
        ];
        let mut out = Vec::with_capacity(total);
        for v in header {
            out.extend_from_slice(&v.to_le_bytes());
        }
        debug_assert_eq!(out.len(), HEADER_LEN);
        debug_assert_eq!(file_bytes.len(), nfiles as usize * FILE_ENTRY_LEN);
        out.extend_from_slice(&func_bytes);
        out.extend_from_slice(&line_bytes);
        out.extend_from_slice(&file_bytes);
        out.extend_from_slice(&strtab.bytes);
        Ok(out)
    }
}
