//! `mkkdebug <input-elf> <output-blob>`: builds the kernel's symbol table.
//!
//! Reads the pass-1 kernel ELF (i386, with `.symtab` and DWARF line
//! programs) and writes a [`kdebug`] blob mapping code addresses to
//! demangled function names and source lines.
//!
//! `mkkdebug --lookup <blob> <hex-addr>...` prints what the kernel would
//! print for each address, for checking a blob against `addr2line`.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use gimli::{EndianSlice, LittleEndian};
use kdebug::{Builder, FileId, Table};
use object::{Object, ObjectSection, ObjectSymbol, SectionIndex, SectionKind, SymbolKind};

/// Result type of this tool: errors are messages for the user.
type Result<T> = std::result::Result<T, String>;

/// What the tool did, for the summary line.
struct Stats {
    symbols: usize,
    dwarf_rows: usize,
    units: usize,
    bad_units: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("--lookup") if args.len() >= 3 => lookup(&args[2], &args[3..]),
        _ if args.len() == 3 => run(&args[1], &args[2]),
        _ => {
            eprintln!("usage: mkkdebug <input-elf> <output-blob>");
            eprintln!("       mkkdebug --lookup <blob> <hex-addr>...");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("mkkdebug: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Converts `input` into a blob at `output`; returns a message on failure.
fn run(input: &str, output: &str) -> Result<()> {
    let data = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let (blob, stats) = build_blob(&data).map_err(|e| format!("{input}: {e}"))?;
    let table = Table::parse(&blob).ok_or("internal error: built blob does not parse")?;
    std::fs::write(output, &blob).map_err(|e| format!("{output}: {e}"))?;
    eprintln!(
        "mkkdebug: {input}: {} functions (of {} symbols), {} line rows (of {} in {} units{}), \
         {} files -> {output}: {} bytes",
        table.function_count(),
        stats.symbols,
        table.line_count(),
        stats.dwarf_rows,
        stats.units,
        if stats.bad_units > 0 {
            format!(", {} unreadable", stats.bad_units)
        } else {
            String::new()
        },
        table.file_count(),
        blob.len(),
    );
    Ok(())
}

/// Prints the location of each hex address in `addrs` as the kernel's
/// `backtrace` would; returns a message if the blob or an address is bad.
fn lookup(blob: &str, addrs: &[String]) -> Result<()> {
    let data = std::fs::read(blob).map_err(|e| format!("{blob}: {e}"))?;
    let table = Table::parse(&data).ok_or(format!("{blob}: not a valid kdebug blob"))?;
    for a in addrs {
        let addr = u32::from_str_radix(a.trim_start_matches("0x"), 16)
            .map_err(|e| format!("bad address {a}: {e}"))?;
        match table.lookup(addr) {
            Some(l) => println!(
                "{addr:08x}: {}:{}: {}+{:#x}",
                l.file,
                l.line,
                l.function,
                addr - l.function_addr
            ),
            None => println!("{addr:08x}: ??"),
        }
    }
    Ok(())
}

/// Parses ELF `data` and encodes its functions and line rows as a blob;
/// returns a message if it is not a usable little-endian ELF.
fn build_blob(data: &[u8]) -> Result<(Vec<u8>, Stats)> {
    let file = object::File::parse(data).map_err(|e| format!("not a readable ELF file: {e}"))?;
    if !file.is_little_endian() {
        return Err("big-endian ELF files are not supported".into());
    }
    let text = text_ranges(&file)?;
    let mut builder = Builder::new();
    let symbols = add_functions(&file, &mut builder)?;
    let (dwarf_rows, units, bad_units) = add_lines(&file, &text, &mut builder)?;
    let blob = builder.build().map_err(|e| e.to_string())?;
    let stats = Stats {
        symbols,
        dwarf_rows,
        units,
        bad_units,
    };
    Ok((blob, stats))
}

/// Returns the sorted address ranges of the executable sections; fails if
/// one does not fit in 32 bits.
fn text_ranges(file: &object::File<'_>) -> Result<Vec<(u64, u64)>> {
    let mut ranges = Vec::new();
    for s in file.sections() {
        if s.kind() != SectionKind::Text || s.size() == 0 {
            continue;
        }
        let end = s.address() + s.size();
        if end > 1 << 32 {
            return Err(format!(
                "section {} at {:#x} is beyond 4 GiB: not a 32-bit image",
                s.name().unwrap_or("?"),
                s.address()
            ));
        }
        ranges.push((s.address(), end));
    }
    ranges.sort_unstable();
    Ok(ranges)
}

/// A code symbol considered for the function table.
struct Sym {
    name: String,
    start: u64,
    size: u64,
    section: SectionIndex,
    /// 0: sized `STT_FUNC`, 1: sized `STT_NOTYPE`, 2: unsized.
    class: u8,
    local: bool,
}

/// Returns `name` demangled without the hash if it is a Rust symbol, else
/// unchanged.
fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_string(),
    }
}

/// Adds the functions of `.symtab` to `builder`: sized `STT_FUNC` symbols,
/// then sized `STT_NOTYPE` ones, then unsized labels (sized up to the next
/// symbol) that do not fall inside an earlier one. Returns the number of
/// code symbols seen; fails if there is no symbol table.
fn add_functions(file: &object::File<'_>, builder: &mut Builder) -> Result<usize> {
    if file.symbol_table().is_none() {
        return Err("no symbol table (.symtab); was the kernel stripped?".into());
    }
    let mut syms = Vec::new();
    let mut section_ends: HashMap<SectionIndex, u64> = HashMap::new();
    for sym in file.symbols() {
        let (Some(section), Ok(name)) = (sym.section_index(), sym.name()) else {
            continue;
        };
        let class = match (sym.kind(), sym.size()) {
            (SymbolKind::Text, 0) | (SymbolKind::Unknown, 0) => 2,
            (SymbolKind::Text, _) => 0,
            (SymbolKind::Unknown, _) => 1,
            _ => continue,
        };
        if name.is_empty() || name.starts_with(".L") || name.starts_with('$') {
            continue;
        }
        let Ok(sec) = file.section_by_index(section) else {
            continue;
        };
        if sec.kind() != SectionKind::Text {
            continue;
        }
        section_ends.insert(section, sec.address() + sec.size());
        syms.push(Sym {
            name: name.to_string(),
            start: sym.address(),
            size: sym.size(),
            section,
            class,
            local: !sym.is_global(),
        });
    }
    let seen = syms.len();
    // Of symbols at one address the first accepted wins: sized before
    // unsized, then globals (`entry`) before locals (`mb2_header_end`).
    syms.sort_by(|a, b| {
        (a.class, a.start, a.local, &a.name).cmp(&(b.class, b.start, b.local, &b.name))
    });

    // Starts of all candidate symbols per section, to size unsized labels.
    let mut starts: HashMap<SectionIndex, Vec<u64>> = HashMap::new();
    for s in &syms {
        starts.entry(s.section).or_default().push(s.start);
    }
    for v in starts.values_mut() {
        v.sort_unstable();
        v.dedup();
    }

    let mut accepted: Vec<(u64, u64)> = Vec::new(); // sorted (start, end)
    for mut s in syms {
        // Drop symbols that start inside (or at) an already accepted one.
        let i = accepted.partition_point(|r| r.0 <= s.start);
        if i > 0 && s.start < accepted[i - 1].1 {
            continue;
        }
        if s.class == 2 {
            let starts = &starts[&s.section];
            let next = starts.partition_point(|&a| a <= s.start);
            let end = starts
                .get(next)
                .copied()
                .unwrap_or(u64::MAX)
                .min(section_ends[&s.section]);
            let next_accepted = accepted.get(i).map_or(u64::MAX, |r| r.0);
            s.size = end.min(next_accepted).saturating_sub(s.start);
            if s.size == 0 {
                continue;
            }
        }
        let (Ok(start), Ok(size)) = (u32::try_from(s.start), u32::try_from(s.size)) else {
            return Err(format!(
                "symbol {} at {:#x} does not fit in 32 bits",
                s.name, s.start
            ));
        };
        accepted.insert(i, (s.start, s.start + s.size));
        builder.add_function(&demangle(&s.name), start, size);
    }
    Ok(seen)
}

/// Adds the DWARF line rows inside `text` to `builder`. Returns the number
/// of rows read, of units, and of units whose line program was unreadable
/// (skipped with a warning); fails if a debug section cannot be read.
fn add_lines(
    file: &object::File<'_>,
    text: &[(u64, u64)],
    builder: &mut Builder,
) -> Result<(usize, usize, usize)> {
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'_, [u8]>> {
        match file.section_by_name(id.name()) {
            Some(s) => s
                .uncompressed_data()
                .map_err(|e| format!("cannot read {}: {e}", id.name())),
            None => Ok(Cow::Borrowed(&[])),
        }
    })?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
    if file.section_by_name(".debug_line").is_none() {
        eprintln!("mkkdebug: warning: no .debug_line section: no source lines");
    }
    let in_text = |addr: u64| {
        let i = text.partition_point(|r| r.0 <= addr);
        i > 0 && addr < text[i - 1].1
    };
    let (mut rows_seen, mut units, mut bad_units) = (0, 0, 0);
    let mut headers = dwarf.units();
    loop {
        let header = match headers.next() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => {
                eprintln!("mkkdebug: warning: stopped reading .debug_info: {e}");
                bad_units += 1;
                break;
            }
        };
        units += 1;
        let result = dwarf
            .unit(header)
            .and_then(|unit| unit_lines(&dwarf, &unit, &in_text, builder, &mut rows_seen));
        if let Err(e) = result {
            eprintln!(
                "mkkdebug: warning: unit at {:#x}: {e}",
                header.debug_info_offset().map_or(0, |o| o.0)
            );
            bad_units += 1;
        }
    }
    Ok((rows_seen, units, bad_units))
}

type Reader<'a> = EndianSlice<'a, LittleEndian>;

/// Adds the rows of `unit`'s line program that satisfy `in_text` to
/// `builder`, counting all rows in `rows_seen`; fails on malformed DWARF.
fn unit_lines(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    in_text: &dyn Fn(u64) -> bool,
    builder: &mut Builder,
    rows_seen: &mut usize,
) -> gimli::Result<()> {
    let Some(program) = unit.line_program.clone() else {
        return Ok(());
    };
    let mut files: HashMap<u64, Option<FileId>> = HashMap::new();
    let mut rows = program.rows();
    while let Some((header, row)) = rows.next_row()? {
        *rows_seen += 1;
        let addr = row.address();
        if !in_text(addr) {
            continue;
        }
        let addr = addr as u32; // in_text ranges are below 4 GiB
        if row.end_sequence() {
            builder.add_end_sequence(addr);
            continue;
        }
        let index = row.file_index();
        let id = match files.get(&index) {
            Some(&id) => id,
            None => {
                let id = match header.file(index) {
                    Some(entry) => {
                        let path = file_path(dwarf, unit, header, entry)?;
                        Some(builder.file_id(&short_path(&path)))
                    }
                    None => None,
                };
                files.insert(index, id);
                id
            }
        };
        let line = row
            .line()
            .map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX));
        match id {
            Some(id) => builder.add_row(addr, id, line),
            None => builder.add_end_sequence(addr),
        }
    }
    Ok(())
}

/// Returns the full path of line-program file `entry`: the unit's
/// compilation directory, the entry's directory and its name joined.
fn file_path(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    header: &gimli::LineProgramHeader<Reader<'_>>,
    entry: &gimli::FileEntry<Reader<'_>>,
) -> gimli::Result<String> {
    let mut path = String::new();
    if let Some(dir) = unit.comp_dir {
        push_path(&mut path, &dir.to_string_lossy());
    }
    // Directory 0 is the compilation directory itself.
    if entry.directory_index() != 0
        && let Some(dir) = entry.directory(header)
    {
        push_path(&mut path, &dwarf.attr_string(unit, dir)?.to_string_lossy());
    }
    push_path(
        &mut path,
        &dwarf
            .attr_string(unit, entry.path_name())?
            .to_string_lossy(),
    );
    Ok(path)
}

/// Appends `part` to `path` with a `/`, or replaces `path` if `part` is
/// absolute.
fn push_path(path: &mut String, part: &str) {
    if part.starts_with('/') || path.is_empty() {
        *path = part.to_string();
    } else {
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(part);
    }
}

/// The workspace root this tool was built in, e.g. `/work/main`.
fn workspace_root() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().and_then(Path::parent).unwrap_or(manifest)
}

/// Removes `.` components and resolves `..` lexically where possible.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|&p| p != "..") => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Shortens a source path for display: relative to the workspace root for
/// our own files, `core/src/...` for the standard library, `crate-x.y/...`
/// for registry crates, else from the first `kern/`, `lib/` or `user/`.
fn short_path(path: &str) -> String {
    short_path_in(&normalize(path), &workspace_root().to_string_lossy())
}

/// [`short_path`] with an explicit workspace root, for tests.
fn short_path_in(path: &str, root: &str) -> String {
    let root = root.trim_end_matches('/');
    if !root.is_empty()
        && let Some(rest) = path.strip_prefix(root)
        && let Some(rest) = rest.strip_prefix('/')
    {
        return rest.to_string();
    }
    if let Some(i) = path.find("/library/") {
        return path[i + "/library/".len()..].to_string();
    }
    if let Some(i) = path.find("/registry/src/") {
        let rest = &path[i + "/registry/src/".len()..];
        if let Some(j) = rest.find('/') {
            return rest[j + 1..].to_string();
        }
    }
    if path.starts_with('/') {
        let first = ["/kern/", "/lib/", "/user/"]
            .iter()
            .filter_map(|c| path.find(c))
            .min();
        if let Some(i) = first {
            return path[i + 1..].to_string();
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths() {
        let r = "/work/main";
        assert_eq!(
            short_path_in("/work/main/kern/src/monitor.rs", r),
            "kern/src/monitor.rs"
        );
        assert_eq!(
            short_path_in("/work/main/lib/kdebug/src/lib.rs", r),
            "lib/kdebug/src/lib.rs"
        );
        assert_eq!(
            short_path_in(
                "/root/.rustup/toolchains/nightly-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/core/src/panicking.rs",
                r
            ),
            "core/src/panicking.rs"
        );
        assert_eq!(
            short_path_in(
                "/rustc/e50aa6fba4e63ab34c72bf9acfd2c307c1155d1a/library/alloc/src/vec/mod.rs",
                r
            ),
            "alloc/src/vec/mod.rs"
        );
        assert_eq!(
            short_path_in(
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/spin-0.12.3/src/mutex.rs",
                r
            ),
            "spin-0.12.3/src/mutex.rs"
        );
        assert_eq!(
            short_path_in("/home/u/jos/kern/src/trap.rs", r),
            "kern/src/trap.rs"
        );
        assert_eq!(
            short_path_in("/home/u/jos/user/src/hello.rs", r),
            "user/src/hello.rs"
        );
        assert_eq!(short_path_in("/tmp/t.c", r), "/tmp/t.c");
        assert_eq!(short_path_in("kern/entry.S", r), "kern/entry.S");
    }

    #[test]
    fn paths_are_normalized_and_joined() {
        assert_eq!(
            normalize("/work/main/./kern/src/../src/x.rs"),
            "/work/main/kern/src/x.rs"
        );
        assert_eq!(normalize("./kern//a.rs"), "kern/a.rs");
        assert_eq!(normalize("../a/b"), "../a/b");
        let mut p = String::from("/work/main");
        push_path(&mut p, "kern/src");
        push_path(&mut p, "lib.rs");
        assert_eq!(p, "/work/main/kern/src/lib.rs");
        push_path(&mut p, "/abs/x.rs");
        assert_eq!(p, "/abs/x.rs");
    }

    #[test]
    fn demangles_without_hash() {
        assert_eq!(
            demangle("_ZN4kern7monitor13mon_backtrace17h0123456789abcdefE"),
            "kern::monitor::mon_backtrace"
        );
        assert_eq!(demangle("_start"), "_start");
    }

    #[test]
    fn rejects_non_elf() {
        assert!(build_blob(b"not an elf file at all").is_err());
        assert!(build_blob(&[]).is_err());
    }
}
