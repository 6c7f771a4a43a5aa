use std::string::String;
use std::vec;
use std::vec::Vec;

use super::*;

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn loc<'a>(file: &'a str, line: u32, function: &'a str, function_addr: u32) -> Location<'a> {
    Location {
        file,
        line,
        function,
        function_addr,
    }
}

fn set_u32(blob: &mut [u8], off: usize, v: u32) {
    blob[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(blob: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(blob[off..off + 4].try_into().unwrap())
}

/// A blob with two functions separated by a gap, and line rows.
fn sample() -> Vec<u8> {
    let mut b = Builder::new();
    b.add_function("kern::init::i386_init", 0x1000, 0x40);
    b.add_function("kern::monitor::mon_backtrace", 0x1050, 0x30);
    b.add_line(0x1000, "kern/src/init.rs", 10);
    b.add_line(0x1008, "kern/src/init.rs", 11);
    b.add_line(0x1010, "core/src/fmt/mod.rs", 400);
    b.add_line(0x1020, "kern/src/init.rs", 12);
    b.add_end_sequence(0x1040);
    b.add_line(0x1050, "kern/src/monitor.rs", 120);
    b.add_line(0x1060, "kern/src/monitor.rs", 121);
    b.add_end_sequence(0x1080);
    b.build().unwrap()
}

/// Looks up `addr` in every way that must not panic, whatever the table.
fn poke(t: &Table<'_>, addrs: &[u32]) {
    for &a in addrs {
        if let Some(l) = t.lookup(a) {
            assert!(l.function_addr <= a);
            let _ = (l.file.len(), l.function.len(), l.line);
        }
    }
}

#[test]
fn empty_table() {
    let blob = Builder::new().build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.function_count(), 0);
    assert_eq!(t.line_count(), 0);
    assert_eq!(t.lookup(0), None);
    assert_eq!(t.lookup(u32::MAX), None);
}

#[test]
fn lookup_start_middle_end_and_past_end() {
    let blob = sample();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.function_count(), 2);
    let init = "kern::init::i386_init";
    assert_eq!(
        t.lookup(0x1000),
        Some(loc("kern/src/init.rs", 10, init, 0x1000))
    );
    assert_eq!(
        t.lookup(0x1007),
        Some(loc("kern/src/init.rs", 10, init, 0x1000))
    );
    assert_eq!(
        t.lookup(0x1008),
        Some(loc("kern/src/init.rs", 11, init, 0x1000))
    );
    assert_eq!(
        t.lookup(0x1015),
        Some(loc("core/src/fmt/mod.rs", 400, init, 0x1000))
    );
    assert_eq!(
        t.lookup(0x103f),
        Some(loc("kern/src/init.rs", 12, init, 0x1000))
    );
    // Just past the end, and the gap up to the next function.
    assert_eq!(t.lookup(0x1040), None);
    assert_eq!(t.lookup(0x104f), None);
    let mon = "kern::monitor::mon_backtrace";
    assert_eq!(
        t.lookup(0x1050),
        Some(loc("kern/src/monitor.rs", 120, mon, 0x1050))
    );
    assert_eq!(
        t.lookup(0x106c),
        Some(loc("kern/src/monitor.rs", 121, mon, 0x1050))
    );
    assert_eq!(
        t.lookup(0x107f),
        Some(loc("kern/src/monitor.rs", 121, mon, 0x1050))
    );
    assert_eq!(t.lookup(0x1080), None);
    assert_eq!(t.lookup(u32::MAX), None);
}

#[test]
fn addresses_before_first_function() {
    let blob = sample();
    let t = Table::parse(&blob).unwrap();
    for a in [0, 1, 0xfff, 0x800] {
        assert_eq!(t.lookup(a), None);
    }
}

#[test]
fn function_without_rows_has_unknown_location() {
    let mut b = Builder::new();
    b.add_function("rust_fn", 0x100, 0x10);
    b.add_function("_start", 0x110, 0x8); // assembly, no line info
    b.add_line(0x100, "kern/src/a.rs", 5);
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(
        t.lookup(0x10f),
        Some(loc("kern/src/a.rs", 5, "rust_fn", 0x100))
    );
    // The row at 0x100 must not leak into the next function.
    assert_eq!(t.lookup(0x110), Some(loc(UNKNOWN_FILE, 0, "_start", 0x110)));
    assert_eq!(t.lookup(0x117), Some(loc(UNKNOWN_FILE, 0, "_start", 0x110)));
}

#[test]
fn end_sequence_inside_function_is_unknown() {
    let mut b = Builder::new();
    b.add_function("f", 0x100, 0x40);
    b.add_line(0x100, "f.rs", 1);
    b.add_end_sequence(0x120);
    b.add_line(0x130, "g.rs", 2);
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.lookup(0x11f).unwrap().line, 1);
    assert_eq!(t.lookup(0x120), Some(loc(UNKNOWN_FILE, 0, "f", 0x100)));
    assert_eq!(t.lookup(0x12f), Some(loc(UNKNOWN_FILE, 0, "f", 0x100)));
    assert_eq!(t.lookup(0x130), Some(loc("g.rs", 2, "f", 0x100)));
}

#[test]
fn real_row_beats_end_marker_and_last_row_wins() {
    let mut b = Builder::new();
    b.add_function("f", 0x100, 0x20);
    b.add_line(0x100, "a.rs", 1);
    b.add_line(0x110, "a.rs", 2);
    b.add_line(0x110, "a.rs", 3); // same address: this one counts
    // A new sequence starting where the previous one ended.
    b.add_line(0x118, "b.rs", 7);
    b.add_end_sequence(0x118);
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.lookup(0x110).unwrap().line, 3);
    assert_eq!(t.lookup(0x118), Some(loc("b.rs", 7, "f", 0x100)));
}

#[test]
fn rows_are_compacted() {
    let mut b = Builder::new();
    b.add_function("f", 0x100, 0x100);
    b.add_function("g", 0x200, 0x100);
    for i in 0..16 {
        b.add_line(0x100 + i * 4, "a.rs", 1 + i / 8); // lines 1 and 2
    }
    // Same (file, line) as f's last row, but g must get its own row.
    b.add_line(0x200, "a.rs", 2);
    b.add_line(0x280, "a.rs", 2);
    b.add_line(0x50, "a.rs", 9); // outside every function: dropped
    b.add_line(0x400, "c.rs", 9); // outside every function: dropped
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.line_count(), 3);
    assert_eq!(t.lookup(0x23c), Some(loc("a.rs", 2, "g", 0x200)));
    assert_eq!(t.lookup(0x11f), Some(loc("a.rs", 1, "f", 0x100)));
    assert_eq!(t.lookup(0x120), Some(loc("a.rs", 2, "f", 0x100)));
    // c.rs was never referenced by a kept row, so it is not stored.
    assert!(!blob.windows(4).any(|w| w == b"c.rs"));
}

#[test]
fn strings_are_deduplicated() {
    let mut b = Builder::new();
    b.add_function("same_name", 0x100, 0x10);
    b.add_function("same_name", 0x200, 0x10);
    b.add_line(0x100, "kern/src/shared.rs", 1);
    b.add_line(0x200, "kern/src/shared.rs", 2);
    let blob = b.build().unwrap();
    let count = |needle: &[u8]| blob.windows(needle.len()).filter(|w| *w == needle).count();
    assert_eq!(count(b"same_name"), 1);
    assert_eq!(count(b"kern/src/shared.rs"), 1);
    let t = Table::parse(&blob).unwrap();
    assert_eq!(
        t.lookup(0x205),
        Some(loc("kern/src/shared.rs", 2, "same_name", 0x200))
    );
}

#[test]
fn duplicate_and_overlapping_functions() {
    let mut b = Builder::new();
    b.add_function("first", 0x100, 0x10);
    b.add_function("alias", 0x100, 0x40); // same start: first added wins
    b.add_function("overlapper", 0x108, 0x100); // cut at "next"
    b.add_function("next", 0x180, 0x10);
    b.add_function("empty", 0x300, 0); // ignored
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.function_count(), 3);
    assert_eq!(t.lookup(0x100).unwrap().function, "first");
    assert_eq!(t.lookup(0x107).unwrap().function, "first");
    assert_eq!(t.lookup(0x108).unwrap().function, "overlapper");
    assert_eq!(t.lookup(0x17f).unwrap().function, "overlapper");
    assert_eq!(t.lookup(0x18f).unwrap().function, "next");
    assert_eq!(t.lookup(0x190), None);
    assert_eq!(t.lookup(0x300), None);
}

#[test]
fn top_of_address_space() {
    let mut b = Builder::new();
    b.add_function("top", 0xffff_fff0, 0x20); // runs past 4 GiB
    b.add_line(0xffff_fff0, "t.rs", 1);
    b.add_line(0xffff_ffff, "t.rs", 2);
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.lookup(0xffff_ffef), None);
    assert_eq!(
        t.lookup(0xffff_fffe),
        Some(loc("t.rs", 1, "top", 0xffff_fff0))
    );
    assert_eq!(t.lookup(u32::MAX), Some(loc("t.rs", 2, "top", 0xffff_fff0)));
}

#[test]
fn large_line_numbers_and_unicode() {
    let mut b = Builder::new();
    b.add_function("ünïcødé::fn", 0x10, 0x10);
    b.add_line(0x10, "src/ä.rs", 1_000_000);
    b.add_line(0x18, "src/b.rs", 0);
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(
        t.lookup(0x10),
        Some(loc("src/ä.rs", 1_000_000, "ünïcødé::fn", 0x10))
    );
    // Line 0 rows keep their file.
    assert_eq!(
        t.lookup(0x18),
        Some(loc("src/b.rs", 0, "ünïcødé::fn", 0x10))
    );
}

#[test]
fn too_many_files_for_line_bits() {
    let mut b = Builder::new();
    b.add_function("f", 0, 0x100);
    b.add_line(0, "a.rs", 0x4000_0000); // 31 line bits leave 1 file bit
    b.add_line(4, "b.rs", 1);
    assert_eq!(b.build(), Err(BuildError::TooManyFiles));
    let mut b = Builder::new();
    b.add_function("f", 0, 0x100);
    b.add_line(0, "a.rs", 0x4000_0000);
    assert!(Table::parse(&b.build().unwrap()).is_some());
}

#[test]
fn unaligned_and_padded_blob() {
    let blob = sample();
    for shift in 1..4 {
        let mut buf = vec![0xaa; shift];
        buf.extend_from_slice(&blob);
        buf.extend_from_slice(&[0; 13]); // trailing padding is ignored
        let t = Table::parse(&buf[shift..]).unwrap();
        assert_eq!(t.lookup(0x1050).unwrap().line, 120);
    }
}

#[test]
fn header_checks() {
    let blob = sample();
    let mut bad = blob.clone();
    bad[0] = b'X';
    assert!(Table::parse(&bad).is_none());
    let mut bad = blob.clone();
    set_u32(&mut bad, 4, VERSION + 1);
    assert!(Table::parse(&bad).is_none());
    for line_bits in [0, 32, u32::MAX] {
        let mut bad = blob.clone();
        set_u32(&mut bad, 12, line_bits);
        assert!(Table::parse(&bad).is_none());
    }
    // Every header field set to extreme values must not panic.
    for field in 2..HEADER_LEN / 4 {
        for v in [
            0,
            1,
            3,
            47,
            48,
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX - 3,
            u32::MAX,
        ] {
            let mut bad = blob.clone();
            set_u32(&mut bad, field * 4, v);
            if let Some(t) = Table::parse(&bad) {
                poke(&t, &[0, 0x1000, 0x1050, 0x107f, u32::MAX]);
            }
        }
    }
}

#[test]
fn validation_rejects_bad_entries() {
    let blob = sample();
    let funcs_off = get_u32(&blob, 20) as usize;
    let lines_off = get_u32(&blob, 28) as usize;
    let files_off = get_u32(&blob, 36) as usize;
    let strtab_len = get_u32(&blob, 44);
    let nfiles = get_u32(&blob, 32);
    let line_bits = get_u32(&blob, 12);

    // Unsorted functions.
    let mut bad = blob.clone();
    set_u32(&mut bad, funcs_off, 0x1060);
    assert!(Table::parse(&bad).is_none());
    // Zero-sized function.
    let mut bad = blob.clone();
    set_u32(&mut bad, funcs_off + 4, 0);
    assert!(Table::parse(&bad).is_none());
    // Overlapping functions.
    let mut bad = blob.clone();
    set_u32(&mut bad, funcs_off + 4, 0x51);
    assert!(Table::parse(&bad).is_none());
    // Name offset out of bounds.
    let mut bad = blob.clone();
    set_u32(&mut bad, funcs_off + 8, strtab_len);
    assert!(Table::parse(&bad).is_none());
    // Unsorted line rows.
    let mut bad = blob.clone();
    set_u32(&mut bad, lines_off + 8, 0x1000);
    assert!(Table::parse(&bad).is_none());
    // File index past the file table.
    let mut bad = blob.clone();
    set_u32(&mut bad, lines_off + 4, (nfiles + 1) << line_bits);
    assert!(Table::parse(&bad).is_none());
    // File path offset out of bounds.
    let mut bad = blob.clone();
    set_u32(&mut bad, files_off, u32::MAX);
    assert!(Table::parse(&bad).is_none());
    // String table not NUL-terminated.
    let mut bad = blob.clone();
    *bad.last_mut().unwrap() = b'x';
    assert!(Table::parse(&bad).is_none());

    // Offset into the middle of a UTF-8 character.
    let mut b = Builder::new();
    b.add_function("éé", 0, 4);
    let mut bad = b.build().unwrap();
    let funcs_off = get_u32(&bad, 20) as usize;
    let name = get_u32(&bad, funcs_off + 8);
    set_u32(&mut bad, funcs_off + 8, name + 1);
    assert!(Table::parse(&bad).is_none());
}

#[test]
fn every_prefix_is_rejected() {
    let blob = sample();
    for n in 0..blob.len() {
        assert!(
            Table::parse(&blob[..n]).is_none(),
            "prefix of {n} bytes parsed"
        );
    }
    assert!(Table::parse(&blob).is_some());
}

#[test]
fn random_corruption_never_panics() {
    let blob = sample();
    let addrs: Vec<u32> = (0xff0..0x1090).chain([0, u32::MAX]).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut bad = blob.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bad.len() as u64) as usize;
            match rng.below(3) {
                0 => bad[i] ^= 1 << rng.below(8),
                1 => bad[i] = rng.next() as u8,
                _ => bad[i] = [0, 0xff, 0x80, 0x7f][rng.below(4) as usize],
            }
        }
        let cut = if rng.below(8) == 0 {
            rng.below(bad.len() as u64 + 1) as usize
        } else {
            bad.len()
        };
        if let Some(t) = Table::parse(&bad[..cut]) {
            parsed += 1;
            poke(&t, &addrs);
        }
    }
    // Corrupting e.g. a line number keeps the blob valid, so some parse.
    assert!(parsed > 0);
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(42);
    for len in 0..200 {
        for _ in 0..20 {
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 8 {
                buf[..4].copy_from_slice(&MAGIC);
                buf[4..8].copy_from_slice(&VERSION.to_le_bytes());
            }
            if let Some(t) = Table::parse(&buf) {
                poke(&t, &[0, 1, 0x8000_0000, u32::MAX]);
            }
        }
    }
}

/// Compares lookups against a straightforward model on a random table.
#[test]
fn matches_linear_model() {
    let mut rng = Rng(7);
    let mut b = Builder::new();
    let mut funcs = Vec::new(); // (start, size, name)
    let mut rows = Vec::new(); // (addr, file, line), sorted
    let files = ["kern/src/a.rs", "core/src/b.rs", "lib/c.rs"];
    let mut addr = 0x1000u32;
    for i in 0..500 {
        addr += rng.below(3) as u32 * 16; // sometimes a gap
        let size = 1 + rng.below(200) as u32;
        let name = std::format!("f{i}");
        b.add_function(&name, addr, size);
        let mut a = addr;
        if rng.below(5) != 0 {
            while a < addr + size {
                let (f, l) = (rng.below(3) as usize, 1 + rng.below(4) as u32);
                b.add_line(a, files[f], l);
                rows.push((a, files[f], l));
                a += 1 + rng.below(12) as u32;
            }
        }
        funcs.push((addr, size, name));
        addr += size;
    }
    let blob = b.build().unwrap();
    let t = Table::parse(&blob).unwrap();
    assert_eq!(t.function_count(), funcs.len());
    assert!(t.line_count() < rows.len());
    for a in 0xf00..addr + 0x40 {
        let want = funcs
            .iter()
            .find(|f| f.0 <= a && a - f.0 < f.1)
            .map(|(start, _, name)| {
                let row = rows.iter().rev().find(|r| r.0 <= a && r.0 >= *start);
                let (file, line) = row.map_or((UNKNOWN_FILE, 0), |r| (r.1, r.2));
                (String::from(file), line, name.clone(), *start)
            });
        let got = t.lookup(a).map(|l| {
            (
                String::from(l.file),
                l.line,
                String::from(l.function),
                l.function_addr,
            )
        });
        assert_eq!(got, want, "at {a:#x}");
    }
}
