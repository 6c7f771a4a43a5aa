//! Round trips: build, check, list, read back through `josfs::fs`.

use super::*;
use josfs::{FTYPE_DIR, O_CREAT};

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

/// motd (small), ten (exactly NDIRECT blocks), big (indirect), empty, and
/// a subdirectory sub/ holding one file.
fn sample() -> Vec<u8> {
    let mut b = ImageBuilder::new(1024).unwrap();
    let mut root = Dir::default();
    b.add_file(&mut root, "motd", b"This is /motd.\n").unwrap();
    b.add_file(&mut root, "ten", &data(NDIRECT * BLKSIZE, 1))
        .unwrap();
    b.add_file(&mut root, "big", &data(30 * BLKSIZE + 5, 2))
        .unwrap();
    b.add_file(&mut root, "empty", b"").unwrap();
    let mut sub = Dir::default();
    b.add_file(&mut sub, "inner", b"inside").unwrap();
    b.add_dir(&mut root, "sub", sub).unwrap();
    b.finish(root).unwrap()
}

#[test]
fn layout_matches_jos() {
    // One 5000-byte file on a 16-block disk: data in 3-4, root dir in 5,
    // bitmap bits 0..=5 clear, everything else (even past block 16) set.
    let mut b = ImageBuilder::new(16).unwrap();
    let mut root = Dir::default();
    b.add_file(&mut root, "a", &data(5000, 9)).unwrap();
    let img = b.finish(root).unwrap();
    assert_eq!(img.len(), 16 * BLKSIZE);
    assert!(img[..BLKSIZE].iter().all(|&c| c == 0));
    let sup = Super::from_bytes(&img[BLKSIZE..]).unwrap();
    assert_eq!(sup.s_magic, 0x4A05_30AE);
    assert_eq!(sup.s_nblocks, 16);
    assert_eq!(sup.s_root.name(), b"/");
    assert_eq!(sup.s_root.f_size, BLKSIZE as i32);
    assert_eq!(sup.s_root.f_direct[..2], [5, 0]);
    assert_eq!(img[2 * BLKSIZE], 0b1100_0000);
    assert!(img[2 * BLKSIZE + 1..3 * BLKSIZE].iter().all(|&c| c == 0xff));
    let a = File::read_at(&img, 5 * BLKSIZE).unwrap();
    assert_eq!(a.name(), b"a");
    assert_eq!(a.f_size, 5000);
    assert_eq!(a.f_direct[..3], [3, 4, 0]);
    assert_eq!(&img[3 * BLKSIZE..3 * BLKSIZE + 5000], &data(5000, 9)[..]);
    assert!(
        File::read_at(&img, 5 * BLKSIZE + FILE_SIZE)
            .unwrap()
            .is_free()
    );
    assert!(check(&img).is_empty());
}

#[test]
fn exactly_ndirect_blocks_gets_an_empty_indirect_block() {
    let img = sample();
    let mut img2 = img.clone();
    let mut fs = Fs::mount(RamDisk::new(&mut img2)).unwrap();
    let ten = fs.lookup(b"ten").unwrap();
    let f = fs.stat(ten).unwrap();
    assert_eq!(f.f_direct[9], 3 + 1 + 9);
    assert_eq!(f.f_indirect, 3 + 1 + 10, "as JOS's finishfile does");
    assert!(check(&img).is_empty());
}

#[test]
fn round_trip() {
    let mut img = sample();
    assert_eq!(check(&img), Vec::<String>::new());
    let l = list(&mut img).unwrap();
    let got: Vec<(&str, bool, u32)> = l
        .iter()
        .map(|f| (f.path.as_str(), f.is_dir, f.size))
        .collect();
    assert_eq!(
        got,
        [
            ("/motd", false, 15),
            ("/ten", false, 10 * BLKSIZE as u32),
            ("/big", false, 30 * BLKSIZE as u32 + 5),
            ("/empty", false, 0),
            ("/sub", true, BLKSIZE as u32),
            ("/sub/inner", false, 6),
        ]
    );
    let mut fs = Fs::mount(RamDisk::new(&mut img)).unwrap();
    let big = fs.lookup(b"/big").unwrap();
    let mut buf = vec![0u8; 31 * BLKSIZE];
    assert_eq!(fs.read(big, &mut buf, 0), Ok(30 * BLKSIZE + 5));
    assert_eq!(&buf[..30 * BLKSIZE + 5], &data(30 * BLKSIZE + 5, 2)[..]);
    let inner = fs.lookup(b"/sub/inner").unwrap();
    assert_eq!(fs.read(inner, &mut buf, 0), Ok(6));
    assert_eq!(&buf[..6], b"inside");
}

#[test]
fn changes_through_the_library_stay_clean() {
    let mut img = sample();
    let mut fs = Fs::mount(RamDisk::new(&mut img)).unwrap();
    let f = fs.open(b"/sub/new", O_CREAT).unwrap();
    fs.write(f, &data(15 * BLKSIZE, 4), 100).unwrap();
    fs.set_size(f, 3 * BLKSIZE as u32).unwrap();
    fs.remove(b"/big").unwrap();
    fs.open(b"/d2", josfs::O_MKDIR).unwrap();
    fs.create(b"/d2/x", FTYPE_DIR).unwrap();
    fs.remove(b"/ten").unwrap();
    assert_eq!(check(&img), Vec::<String>::new());
    assert_eq!(list(&mut img).unwrap().len(), 7);
}

#[test]
fn builder_errors() {
    assert!(ImageBuilder::new(3).is_err());
    assert!(ImageBuilder::new(MAX_NBLOCKS + 1).is_err());
    let mut b = ImageBuilder::new(8).unwrap();
    let mut root = Dir::default();
    assert!(b.add_file(&mut root, "x", &data(6 * BLKSIZE, 0)).is_err());
    b.add_file(&mut root, "x", b"1").unwrap();
    assert!(
        b.add_file(&mut root, "x", b"2")
            .unwrap_err()
            .contains("duplicate")
    );
    assert!(b.add_file(&mut root, "..", b"2").is_err());
    assert!(b.add_file(&mut root, &"n".repeat(128), b"2").is_err());
    let mut b = ImageBuilder::new(2000).unwrap();
    assert!(
        b.add_file(&mut root, "huge", &vec![0; MAXFILESIZE as usize])
            .unwrap_err()
            .contains("too large")
    );
}

fn entry_offset(img: &mut [u8], path: &[u8]) -> usize {
    let mut fs = Fs::mount(RamDisk::new(img)).unwrap();
    let r = fs.lookup(path).unwrap();
    r.block() as usize * BLKSIZE + r.offset()
}

fn edit(img: &mut [u8], path: &[u8], f: impl FnOnce(&mut File)) {
    let off = entry_offset(img, path);
    let mut e = File::read_at(img, off).unwrap();
    f(&mut e);
    e.write_at(img, off).unwrap();
}

fn problems_with(mutate: impl FnOnce(&mut Vec<u8>)) -> Vec<String> {
    let mut img = sample();
    mutate(&mut img);
    check(&img)
}

fn assert_reports(problems: &[String], what: &str) {
    assert!(
        problems.iter().any(|p| p.contains(what)),
        "expected {what:?} in {problems:#?}"
    );
}

#[test]
fn fsck_finds_problems() {
    let p = problems_with(|img| img[BLKSIZE] ^= 1);
    assert_reports(&p, "bad magic");
    let p = problems_with(|img| img.truncate(100 * BLKSIZE));
    assert_reports(&p, "the image has 100");
    let p = problems_with(|img| img[2 * BLKSIZE] |= 2);
    assert_reports(&p, "reserved block 1 is marked free");
    // A block in use marked free, and a free block marked used.
    let p = problems_with(|img| img[2 * BLKSIZE] |= 8);
    assert_reports(&p, "block 3 used by /motd is marked free");
    let p = problems_with(|img| img[2 * BLKSIZE + 100] = 0);
    assert_reports(&p, "block 800 is marked in use but no file uses it");
    // Pointers out of range, shared, past the size.
    let p = problems_with(|img| edit(img, b"/motd", |f| f.f_direct[0] = 5000));
    assert_reports(&p, "/motd: block number 5000 is outside the data area");
    let p = problems_with(|img| edit(img, b"/motd", |f| f.f_direct[1] = 5));
    assert_reports(&p, "/motd: block 5 at file block 1 is past the size 15");
    assert_reports(&p, "block 5 is also used by /motd");
    let p = problems_with(|img| edit(img, b"/big", |f| f.f_size = MAXFILESIZE as i32 * 2));
    assert_reports(&p, "/big: bad entry");
    let p = problems_with(|img| edit(img, b"/sub/inner", |f| f.f_type = 9));
    assert_reports(&p, "/sub/inner: bad entry (type 9");
    let p = problems_with(|img| edit(img, b"/sub", |f| f.f_size = 100));
    assert_reports(&p, "/sub: bad entry");
    let p = problems_with(|img| edit(img, b"/sub", |f| f.f_size = 2 * BLKSIZE as i32));
    assert_reports(&p, "/sub: directory block 1 is missing");
    let p = problems_with(|img| edit(img, b"/empty", |f| f.f_name[..5].copy_from_slice(b"motd\0")));
    assert_reports(&p, "/motd: duplicate name");
    let p = problems_with(|img| edit(img, b"/empty", |f| f.f_name[..3].copy_from_slice(b"..\0")));
    assert_reports(&p, "/..: bad name");
}

#[test]
fn fsck_survives_a_cycle() {
    // /sub's directory block made the root's: /sub/sub/sub/... forever.
    let mut img = sample();
    let root_block = Super::from_bytes(&img[BLKSIZE..]).unwrap().s_root.f_direct[0];
    edit(&mut img, b"/sub", |f| f.f_direct[0] = root_block);
    let p = check(&img);
    assert_reports(&p, &format!("/sub: block {root_block} is also used by /"));
    assert!(list(&mut img).is_err(), "listing a cycle ends in an error");
}

#[test]
fn fsck_never_panics_on_garbage() {
    let clean = sample();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut img = clean.clone();
        for _ in 0..1 + next() % 10 {
            let blk = 1 + (next() % 50) as usize;
            let off = (next() % BLKSIZE as u64) as usize;
            img[blk * BLKSIZE + off] = next() as u8;
        }
        let _ = check(&img);
        let _ = list(&mut img);
    }
}

/// `sample()`'s files on a disk large enough for a log (4096 blocks).
fn sample_with_log() -> Vec<u8> {
    let mut b = ImageBuilder::new(4096).unwrap();
    let mut root = Dir::default();
    b.add_file(&mut root, "motd", b"This is /motd.\n").unwrap();
    b.add_file(&mut root, "big", &data(30 * BLKSIZE + 5, 2))
        .unwrap();
    let mut sub = Dir::default();
    b.add_file(&mut sub, "inner", b"inside").unwrap();
    b.add_dir(&mut root, "sub", sub).unwrap();
    b.finish(root).unwrap()
}

#[test]
fn log_reserved_at_the_end() {
    let img = sample_with_log();
    let log = josfs::log::LogRecord::read(img[BLKSIZE..2 * BLKSIZE].try_into().unwrap(), 4096)
        .unwrap()
        .unwrap();
    assert_eq!(log.start, 4096 - josfs::log::LOG_BLOCKS);
    assert!(check(&img).is_empty(), "{:?}", check(&img));
    // Without the log's blocks in use, the check says so.
    let mut bad = img.clone();
    let (blk, byte, bit) = bitmap_position(log.start + 3);
    bad[blk as usize * BLKSIZE + byte] |= 1 << bit;
    assert_reports(
        &check(&bad),
        &format!("block {} used by (log) is marked free", log.start + 3),
    );
    // A small disk has no log: JOS's layout exactly.
    assert!(
        josfs::log::LogRecord::read(sample()[BLKSIZE..2 * BLKSIZE].try_into().unwrap(), 1024)
            .unwrap()
            .is_none()
    );
}

#[test]
fn committed_log_is_seen_by_check_and_cat_and_installed_by_repair() {
    let mut img = sample_with_log();
    let log = josfs::log::LogRecord::at_end(4096).unwrap();
    // A committed group: /motd's data block rewritten, and its size.
    let off = entry_offset(&mut img, b"/motd");
    let motd = File::read_at(&img, off).unwrap();
    let mut data_blk = [0u8; BLKSIZE];
    data_blk[..8].copy_from_slice(b"NEWMOTD\n");
    let mut dir_blk: Block = img[off / BLKSIZE * BLKSIZE..][..BLKSIZE]
        .try_into()
        .unwrap();
    let mut m = motd;
    m.f_size = 8;
    m.write_at(&mut dir_blk, off % BLKSIZE).unwrap();
    let mut h = josfs::log::LogHeader::EMPTY;
    h.n = 2;
    h.home[0] = motd.f_direct[0];
    h.home[1] = (off / BLKSIZE) as u32;
    let put = |img: &mut Vec<u8>, b: u32, data: &Block| {
        img[b as usize * BLKSIZE..][..BLKSIZE].copy_from_slice(data);
    };
    put(&mut img, log.slot(0), &data_blk);
    put(&mut img, log.slot(1), &dir_blk);
    put(&mut img, log.start, &h.to_block());
    assert!(check(&img).is_empty());
    assert_eq!(cat(&mut img.clone(), "/motd").unwrap(), b"NEWMOTD\n");
    let fixed = repair(&mut img).unwrap();
    assert_reports(&fixed, "log: 2 committed block(s) installed");
    // Installed for good: the image itself now holds it, the log is empty.
    let m2 = File::read_at(&img, off).unwrap();
    assert_eq!(m2.f_size, 8);
    assert_eq!(
        josfs::log::LogHeader::from_block(
            img[log.start as usize * BLKSIZE..][..BLKSIZE]
                .try_into()
                .unwrap()
        )
        .n,
        0
    );
    // Torn: a header whose checksum does not match is no commit.
    let mut img = sample_with_log();
    let mut hb = h.to_block();
    hb[8] ^= 0xff;
    put(&mut img, log.start, &hb);
    assert_eq!(cat(&mut img.clone(), "/motd").unwrap(), b"This is /motd.\n");
}

/// Corrupts a copy of `sample_with_log()` with `mutate`, repairs it, and
/// checks that the repair reported `what`, that the image is then clean,
/// and that the files `keep` read back as built.
fn repaired(mutate: impl FnOnce(&mut Vec<u8>), what: &str, keep: &[&str]) {
    let clean = sample_with_log();
    let mut img = clean.clone();
    mutate(&mut img);
    assert!(
        !check(&img).is_empty(),
        "the corruption for {what:?} is seen"
    );
    let fixed = repair(&mut img).unwrap();
    assert_reports(&fixed, what);
    assert_eq!(
        check(&img),
        Vec::<String>::new(),
        "clean after repairing {what:?}"
    );
    for p in keep {
        assert_eq!(
            cat(&mut img.clone(), p).unwrap(),
            cat(&mut clean.clone(), p).unwrap(),
            "{p} survives the repair of {what:?}"
        );
    }
}

#[test]
fn repair_fixes_what_check_finds() {
    let all = ["/motd", "/big", "/sub/inner"];
    // main's crash: a block in use marked free (and the reverse).
    repaired(
        |img| img[2 * BLKSIZE] |= 1 << 5,
        "used by /big is marked free: marked in use",
        &all,
    );
    repaired(
        |img| img[2 * BLKSIZE + 100] = 0,
        "block 800 is marked in use but no file uses it: marked free",
        &all,
    );
    repaired(
        |img| img[2 * BLKSIZE] |= 2,
        "reserved block 1 is marked free: marked in use",
        &all,
    );
    // Pointers: out of range, past the size, shared with another file.
    repaired(
        |img| edit(img, b"/motd", |f| f.f_direct[0] = 50000),
        "outside the data area: pointer cleared",
        &["/big", "/sub/inner"],
    );
    repaired(
        |img| edit(img, b"/motd", |f| f.f_direct[3] = 60),
        "past the size 15: pointer cleared",
        &all,
    );
    let big0 = {
        let mut img = sample_with_log();
        let off = entry_offset(&mut img, b"/big");
        File::read_at(&img, off).unwrap().f_direct[0]
    };
    repaired(
        |img| edit(img, b"/sub/inner", |f| f.f_direct[0] = big0),
        &format!("/sub/inner: block {big0} is also used by /big: pointer cleared"),
        &["/motd", "/big"],
    );
    // Entries: bad type, duplicate name, bad name.
    repaired(
        |img| edit(img, b"/sub/inner", |f| f.f_type = 9),
        "/sub/inner: bad entry (type 9, size 6): entry cleared",
        &["/motd", "/big"],
    );
    repaired(
        |img| edit(img, b"/big", |f| f.f_name[..5].copy_from_slice(b"motd\0")),
        "/motd: duplicate name: entry cleared",
        &["/motd", "/sub/inner"],
    );
    // A bad log record goes; its blocks come free.
    repaired(
        |img| img[BLKSIZE + josfs::log::LOG_RECORD_OFFSET + 4] = 1,
        "bad log record in the superblock: removed",
        &all,
    );
}

#[test]
fn swap_files_are_reserved() {
    let mut b = ImageBuilder::new(4096).unwrap();
    let mut root = Dir::default();
    b.add_file(&mut root, "motd", b"This is /motd.\n").unwrap();
    b.add_swap(&mut root, 2).unwrap();
    let mut img = b.finish(root).unwrap();
    assert_eq!(check(&img), Vec::<String>::new());
    let l = list(&mut img).unwrap();
    let swap: Vec<(&str, u32)> = l
        .iter()
        .filter(|f| f.path.starts_with("/swap/"))
        .map(|f| (f.path.as_str(), f.size))
        .collect();
    assert_eq!(swap, [("/swap/00", MAXFILESIZE), ("/swap/01", MAXFILESIZE)]);
    // Every block is allocated: the last one has a block, and growing
    // nothing takes none from the free ones.
    let mut fs = Fs::mount(RamDisk::new(&mut img)).unwrap();
    let r = fs.lookup(b"/swap/01").unwrap();
    let mut f = fs.stat(r).unwrap();
    let last = MAXFILESIZE / BLKSIZE as u32 - 1;
    assert_ne!(fs.file_block(&mut f, last, false), Ok(0));
    assert!(
        ImageBuilder::new(2048)
            .unwrap()
            .add_swap(&mut Dir::default(), 2)
            .is_err()
    );
}
