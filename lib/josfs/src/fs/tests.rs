//! Host tests of the file operations over a RAM disk.

use super::*;
use crate::{FS_MAGIC, MAXPATHLEN, O_RDWR, O_WRONLY};
use std::vec;
use std::vec::Vec;

fn disk(nblocks: u32) -> Vec<u8> {
    vec![0u8; nblocks as usize * BLKSIZE]
}

fn free_blocks<D: BlockDevice>(fs: &mut Fs<D>) -> u32 {
    (0..fs.nblocks())
        .filter(|&b| fs.block_is_free(b).unwrap())
        .count() as u32
}

fn read_all<D: BlockDevice>(fs: &mut Fs<D>, r: FileRef) -> Vec<u8> {
    let size = fs.stat(r).unwrap().size().unwrap() as usize;
    let mut v = vec![0xAAu8; size + 10];
    let n = fs.read(r, &mut v, 0).unwrap();
    assert_eq!(n, size);
    v.truncate(n);
    v
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn format_then_mount() {
    let mut d = disk(64);
    let mut fs = Fs::format(RamDisk::new(&mut d), 64).unwrap();
    assert_eq!(free_blocks(&mut fs), 61);
    assert!(!fs.block_is_free(0).unwrap());
    assert!(!fs.block_is_free(2).unwrap());
    assert!(fs.block_is_free(3).unwrap());
    assert!(!fs.block_is_free(64).unwrap());
    let _ = fs.into_device();
    // Bits past nblocks stay 1, as JOS's fsformat leaves them.
    assert_eq!(d[2 * BLKSIZE], 0b1111_1000);
    assert_eq!(d[2 * BLKSIZE + 8], 0xff);
    assert_eq!(d[2 * BLKSIZE + BLKSIZE - 1], 0xff);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    let root = fs.stat(FileRef::ROOT).unwrap();
    assert_eq!(root.name(), b"/");
    assert!(root.is_dir());
    assert_eq!(root.f_size, 0);
    assert_eq!(fs.lookup(b"/"), Ok(FileRef::ROOT));
    assert_eq!(fs.lookup(b""), Ok(FileRef::ROOT));
}

#[test]
fn format_rejects_bad_sizes() {
    let mut d = disk(8);
    assert!(Fs::format(RamDisk::new(&mut d), 3).is_err());
    assert!(Fs::format(RamDisk::new(&mut d), 9).is_err());
    assert!(Fs::format(RamDisk::new(&mut d), 4).is_ok());
}

#[test]
fn create_write_read() {
    let mut d = disk(128);
    let mut fs = Fs::format(RamDisk::new(&mut d), 128).unwrap();
    let r = fs.create(b"/motd", FTYPE_REG).unwrap();
    assert_eq!(fs.create(b"motd", FTYPE_REG), Err(Error::FileExists));
    let text = b"This is /motd, the message of the day.\n";
    assert_eq!(fs.write(r, text, 0), Ok(text.len()));
    assert_eq!(read_all(&mut fs, r), text);
    assert_eq!(fs.lookup(b"//motd/"), Ok(r));
    // Offsets, short reads, reading past the end.
    let mut buf = [0u8; 4];
    assert_eq!(fs.read(r, &mut buf, 8), Ok(4));
    assert_eq!(&buf, b"/mot");
    assert_eq!(fs.read(r, &mut buf, text.len() as u32 - 2), Ok(2));
    assert_eq!(fs.read(r, &mut buf, 1000), Ok(0));
    // Overwrite in the middle, then extend across a block boundary.
    fs.write(r, b"IS", 5).unwrap();
    fs.write(r, b"xyz", 4095).unwrap();
    let all = read_all(&mut fs, r);
    assert_eq!(all.len(), 4098);
    assert_eq!(&all[..8], b"This IS ");
    assert!(all[text.len()..4095].iter().all(|&c| c == 0));
    assert_eq!(&all[4095..], b"xyz");
    // The data survives a remount.
    let _ = fs.into_device();
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    let r = fs.lookup(b"motd").unwrap();
    assert_eq!(read_all(&mut fs, r).len(), 4098);
}

#[test]
fn large_file_uses_indirect_block() {
    let mut d = disk(1200);
    let mut fs = Fs::format(RamDisk::new(&mut d), 1200).unwrap();
    let before = free_blocks(&mut fs);
    let r = fs.create(b"big", FTYPE_REG).unwrap();
    let data = pattern(20 * BLKSIZE + 123, 7);
    fs.write(r, &data, 0).unwrap();
    let f = fs.stat(r).unwrap();
    assert_ne!(f.f_indirect, 0);
    assert_eq!(f.nblocks(), Ok(21));
    // The root grew by a block, the file took 21 data blocks + 1 indirect.
    assert_eq!(free_blocks(&mut fs), before - 1 - 21 - 1);
    assert_eq!(read_all(&mut fs, r), data);
    // Truncate into the direct range: the indirect block goes too.
    fs.set_size(r, 5 * BLKSIZE as u32 + 1).unwrap();
    let f = fs.stat(r).unwrap();
    assert_eq!(f.f_indirect, 0);
    assert_eq!(free_blocks(&mut fs), before - 1 - 6);
    assert_eq!(read_all(&mut fs, r), &data[..5 * BLKSIZE + 1]);
    // Growing allocates nothing; the new part reads as zeros.
    fs.set_size(r, 12 * BLKSIZE as u32).unwrap();
    assert_eq!(free_blocks(&mut fs), before - 1 - 6);
    let all = read_all(&mut fs, r);
    assert_eq!(&all[..5 * BLKSIZE + 1], &data[..5 * BLKSIZE + 1]);
    assert!(
        all[5 * BLKSIZE + 1..].iter().all(|&c| c == 0),
        "no stale bytes"
    );
    fs.set_size(r, 0).unwrap();
    assert_eq!(free_blocks(&mut fs), before - 1);
}

#[test]
fn max_file_size() {
    let mut d = disk(1100);
    let mut fs = Fs::format(RamDisk::new(&mut d), 1100).unwrap();
    let r = fs.create(b"edge", FTYPE_REG).unwrap();
    assert_eq!(fs.write(r, b"z", MAXFILESIZE - 1), Ok(1));
    assert_eq!(fs.stat(r).unwrap().size(), Ok(MAXFILESIZE));
    assert_eq!(fs.write(r, b"z", MAXFILESIZE), Err(Error::Inval));
    assert_eq!(fs.write(r, b"zz", MAXFILESIZE - 1), Err(Error::Inval));
    assert_eq!(fs.write(r, b"z", u32::MAX), Err(Error::Inval));
    assert_eq!(fs.set_size(r, MAXFILESIZE + 1), Err(Error::Inval));
    let mut b = [0u8; 2];
    assert_eq!(fs.read(r, &mut b, MAXFILESIZE - 2), Ok(2));
    assert_eq!(b, [0, b'z']);
    // Only two blocks besides the root's: the last data block and the
    // indirect block.
    assert_eq!(free_blocks(&mut fs), 1100 - 3 - 1 - 2);
}

#[test]
fn directories() {
    let mut d = disk(256);
    let mut fs = Fs::format(RamDisk::new(&mut d), 256).unwrap();
    let dir = fs.create(b"/dir", FTYPE_DIR).unwrap();
    let sub = fs.create(b"/dir/sub", FTYPE_DIR).unwrap();
    let f = fs.create(b"/dir/sub/f", FTYPE_REG).unwrap();
    fs.write(f, b"hello", 0).unwrap();
    assert_eq!(fs.lookup(b"dir/sub/f"), Ok(f));
    assert_eq!(fs.lookup(b"/dir/sub"), Ok(sub));
    assert_eq!(fs.stat(dir).unwrap().f_size, BLKSIZE as i32);
    // A missing directory on the way, and a file used as a directory.
    assert_eq!(fs.lookup(b"/nope/f"), Err(Error::NotFound));
    assert_eq!(fs.create(b"/nope/f", FTYPE_REG), Err(Error::NotFound));
    assert_eq!(fs.lookup(b"/dir/sub/f/x"), Err(Error::NotFound));
    assert_eq!(fs.create(b"/dir/sub/f/x", FTYPE_REG), Err(Error::NotFound));
    // "." and ".." are names like any other, and never created.
    assert_eq!(fs.lookup(b"/dir/.."), Err(Error::NotFound));
    assert_eq!(fs.lookup(b"/dir/./sub"), Err(Error::NotFound));
    assert_eq!(fs.create(b"/dir/..", FTYPE_REG), Err(Error::BadPath));
    assert_eq!(fs.create(b"/.", FTYPE_DIR), Err(Error::BadPath));
    // More than a block of entries: the directory grows.
    for i in 0..40 {
        let name = std::format!("/dir/f{i}");
        fs.create(name.as_bytes(), FTYPE_REG).unwrap();
    }
    assert_eq!(fs.stat(dir).unwrap().f_size, 3 * BLKSIZE as i32);
    let mut pos = 0;
    let mut names = Vec::new();
    while let Some((_, e)) = fs.read_dir(dir, &mut pos).unwrap() {
        names.push(std::string::String::from_utf8(e.name().to_vec()).unwrap());
    }
    assert_eq!(names.len(), 41);
    assert_eq!(names[0], "sub");
    assert_eq!(names[40], "f39");
    assert_eq!(
        fs.read_dir(f, &mut 0),
        Err(Error::NotFound),
        "a regular file is not listable"
    );
    // Removing: non-empty directories refuse, slots are reused.
    assert_eq!(fs.remove(b"/dir/sub"), Err(Error::NotSupp));
    assert_eq!(fs.remove(b"/"), Err(Error::BadPath));
    let free = free_blocks(&mut fs);
    fs.remove(b"/dir/sub/f").unwrap();
    assert_eq!(free_blocks(&mut fs), free + 1);
    assert_eq!(fs.lookup(b"/dir/sub/f"), Err(Error::NotFound));
    assert_eq!(fs.remove(b"/dir/sub/f"), Err(Error::NotFound));
    fs.remove(b"/dir/sub").unwrap();
    assert_eq!(free_blocks(&mut fs), free + 2);
    fs.remove(b"/dir/f3").unwrap();
    let again = fs.create(b"/dir/again", FTYPE_REG).unwrap();
    assert_eq!(again, sub, "the first free slot is reused");
    assert_eq!(fs.stat(dir).unwrap().f_size, 3 * BLKSIZE as i32);
    // Writes and truncation are for regular files.
    assert_eq!(fs.write(dir, b"x", 0), Err(Error::Inval));
    assert_eq!(fs.set_size(dir, 0), Err(Error::Inval));
    // But a directory's raw entries can be read, as JOS's ls does.
    let mut raw = [0u8; FILE_SIZE];
    assert_eq!(fs.read(dir, &mut raw, 0), Ok(FILE_SIZE));
    assert_eq!(File::from_bytes(&raw).name(), b"again");
}

#[test]
fn open_modes() {
    let mut d = disk(64);
    let mut fs = Fs::format(RamDisk::new(&mut d), 64).unwrap();
    assert_eq!(fs.open(b"/a", O_RDWR), Err(Error::NotFound));
    let a = fs.open(b"/a", O_RDWR | O_CREAT).unwrap();
    fs.write(a, b"contents", 0).unwrap();
    assert_eq!(fs.open(b"/a", O_RDWR | O_CREAT), Ok(a));
    assert_eq!(fs.stat(a).unwrap().f_size, 8);
    assert_eq!(fs.open(b"/a", O_CREAT | O_EXCL), Err(Error::FileExists));
    assert_eq!(fs.open(b"/a", O_RDWR | O_TRUNC), Ok(a));
    assert_eq!(fs.stat(a).unwrap().f_size, 0);
    assert!(fs.block_is_free(fs.nblocks() - 1).unwrap());
    let dir = fs.open(b"/d", O_MKDIR).unwrap();
    assert!(fs.stat(dir).unwrap().is_dir());
    assert_eq!(fs.open(b"/d", O_MKDIR), Ok(dir));
    assert_eq!(fs.open(b"/d", O_MKDIR | O_EXCL), Err(Error::FileExists));
    assert_eq!(fs.open(b"/a", O_MKDIR), Err(Error::FileExists));
    assert_eq!(fs.open(b"/d", O_TRUNC), Err(Error::Inval));
    let inner = fs.open(b"/d/x", O_CREAT | O_WRONLY).unwrap();
    assert_eq!(fs.lookup(b"d/x"), Ok(inner));
}

#[test]
fn full_disk() {
    let mut d = disk(16);
    let mut fs = Fs::format(RamDisk::new(&mut d), 16).unwrap();
    let r = fs.create(b"fill", FTYPE_REG).unwrap();
    // 13 data blocks: one went to the root directory, 12 are left, of which
    // the file needs 11 data blocks + 1 indirect block for 11 blocks.
    let data = pattern(12 * BLKSIZE, 1);
    assert_eq!(fs.write(r, &data, 0), Err(Error::NoDisk));
    assert_eq!(free_blocks(&mut fs), 0);
    assert_eq!(fs.alloc_block(), Err(Error::NoDisk));
    let f = fs.stat(r).unwrap();
    assert_eq!(f.size(), Ok(11 * BLKSIZE as u32), "the written part stays");
    assert_eq!(read_all(&mut fs, r), &data[..11 * BLKSIZE]);
    assert_eq!(fs.create(b"another", FTYPE_REG).map(|_| ()), Ok(()));
    // The root has free slots, but a new directory block is impossible.
    for i in 0..14 {
        fs.create(std::format!("n{i}").as_bytes(), FTYPE_REG)
            .unwrap();
    }
    assert_eq!(fs.create(b"one-too-many", FTYPE_REG), Err(Error::NoDisk));
    fs.remove(b"fill").unwrap();
    assert_eq!(free_blocks(&mut fs), 12);
    fs.create(b"one-too-many", FTYPE_REG).unwrap();
}

#[test]
fn path_errors() {
    let mut d = disk(64);
    let mut fs = Fs::format(RamDisk::new(&mut d), 64).unwrap();
    let long_name = [b'n'; MAXNAMELEN];
    assert_eq!(fs.create(&long_name, FTYPE_REG), Err(Error::BadPath));
    assert_eq!(fs.lookup(&long_name), Err(Error::BadPath));
    fs.create(&long_name[1..], FTYPE_REG).unwrap();
    assert!(fs.lookup(&long_name[1..]).is_ok());
    let mut long_path = b"/".repeat(MAXPATHLEN - 2);
    long_path.push(b'x');
    assert_eq!(fs.create(&long_path, FTYPE_REG).map(|_| ()), Ok(()));
    long_path.insert(0, b'/');
    assert_eq!(fs.lookup(&long_path), Err(Error::BadPath));
    assert_eq!(fs.create(b"", FTYPE_REG), Err(Error::FileExists));
    assert_eq!(fs.create(b"a\0b", FTYPE_REG), Err(Error::BadPath));
    assert_eq!(fs.create(b"bad-type", 2), Err(Error::Inval));
}

/// Formats a 64-block disk with /d/f (5 blocks) and /g (1 block).
fn sample() -> Vec<u8> {
    let mut d = disk(64);
    let mut fs = Fs::format(RamDisk::new(&mut d), 64).unwrap();
    fs.create(b"/d", FTYPE_DIR).unwrap();
    let f = fs.create(b"/d/f", FTYPE_REG).unwrap();
    fs.write(f, &pattern(5 * BLKSIZE, 3), 0).unwrap();
    let g = fs.create(b"/g", FTYPE_REG).unwrap();
    fs.write(g, b"g", 0).unwrap();
    d
}

fn edit_super(d: &mut [u8], edit: impl FnOnce(&mut Super)) {
    let mut s = Super::from_bytes(&d[BLKSIZE..]).unwrap();
    edit(&mut s);
    s.write_to(&mut d[BLKSIZE..2 * BLKSIZE]).unwrap();
}

#[test]
fn corrupt_superblock() {
    let mut d = sample();
    edit_super(&mut d, |s| s.s_magic = !FS_MAGIC);
    assert_eq!(Fs::mount(RamDisk::new(&mut d)).err(), Some(Error::Inval));

    let mut d = sample();
    edit_super(&mut d, |s| s.s_nblocks = 65);
    assert_eq!(Fs::mount(RamDisk::new(&mut d)).err(), Some(Error::Inval));

    let mut d = sample();
    edit_super(&mut d, |s| s.s_nblocks = u32::MAX);
    assert_eq!(Fs::mount(RamDisk::new(&mut d)).err(), Some(Error::Inval));

    let mut d = sample();
    edit_super(&mut d, |s| s.s_root.f_type = FTYPE_REG);
    assert_eq!(Fs::mount(RamDisk::new(&mut d)).err(), Some(Error::Inval));

    let mut d = sample();
    edit_super(&mut d, |s| s.s_root.f_size = 100);
    assert_eq!(Fs::mount(RamDisk::new(&mut d)).err(), Some(Error::Inval));

    // The superblock marked free in the bitmap.
    let mut d = sample();
    d[2 * BLKSIZE] |= 2;
    assert_eq!(Fs::mount(RamDisk::new(&mut d)).err(), Some(Error::Inval));

    // A device shorter than a superblock's worth.
    let mut short = vec![0u8; BLKSIZE];
    assert_eq!(
        Fs::mount(RamDisk::new(&mut short)).err(),
        Some(Error::Inval)
    );
}

/// Returns the location of /d's entry and the block of /d/f's entry.
fn entry_of(d: &mut [u8], path: &[u8]) -> FileRef {
    let mut fs = Fs::mount(RamDisk::new(d)).unwrap();
    fs.lookup(path).unwrap()
}

fn edit_entry(d: &mut [u8], r: FileRef, edit: impl FnOnce(&mut File)) {
    let off = r.block() as usize * BLKSIZE + r.offset();
    let mut f = File::read_at(d, off).unwrap();
    edit(&mut f);
    f.write_at(d, off).unwrap();
}

#[test]
fn corrupt_entries() {
    // A block pointer past the end of the disk.
    let mut d = sample();
    let f = entry_of(&mut d, b"/d/f");
    edit_entry(&mut d, f, |e| e.f_direct[2] = 1000);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    let mut buf = vec![0u8; 5 * BLKSIZE];
    assert_eq!(fs.read(f, &mut buf, 0), Err(Error::Inval));
    assert_eq!(
        fs.read(f, &mut buf[..10], 0),
        Ok(10),
        "the good blocks still read"
    );
    assert_eq!(fs.write(f, b"x", 2 * BLKSIZE as u32), Err(Error::Inval));
    // Truncating clears the bad pointer without freeing anything.
    fs.set_size(f, 0).unwrap();
    assert_eq!(fs.stat(f).unwrap().f_direct, [0; NDIRECT]);

    // A pointer at the superblock or the bitmap.
    let mut d = sample();
    let f = entry_of(&mut d, b"/d/f");
    edit_entry(&mut d, f, |e| e.f_direct[0] = SUPER_BLOCKNO);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    assert_eq!(fs.write(f, b"x", 0), Err(Error::Inval));
    let mut d = sample();
    let f = entry_of(&mut d, b"/d/f");
    edit_entry(&mut d, f, |e| e.f_indirect = BITMAP_BLOCKNO);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    assert_eq!(fs.read(f, &mut [0u8; 1], 0), Err(Error::Inval));

    // Sizes past MAXFILESIZE, negative, or larger than the blocks.
    for size in [-1, i32::MAX, MAXFILESIZE as i32 + 1] {
        let mut d = sample();
        let f = entry_of(&mut d, b"/d/f");
        edit_entry(&mut d, f, |e| e.f_size = size);
        let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
        assert_eq!(fs.stat(f), Err(Error::Inval));
        assert_eq!(fs.lookup(b"/d/f"), Err(Error::Inval));
        assert_eq!(fs.read(f, &mut [0u8; 1], 0), Err(Error::Inval));
        assert_eq!(fs.write(f, b"x", 0), Err(Error::Inval));
    }
    let mut d = sample();
    let f = entry_of(&mut d, b"/d/f");
    edit_entry(&mut d, f, |e| e.f_size = 100 * BLKSIZE as i32);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    // Past the blocks there is nothing: holes read as zeros.
    let mut b = [1u8; 3];
    assert_eq!(fs.read(f, &mut b, 50 * BLKSIZE as u32), Ok(3));
    assert_eq!(b, [0; 3]);

    // A directory whose size is not whole blocks, or a name with no NUL.
    let mut d = sample();
    let dir = entry_of(&mut d, b"/d");
    edit_entry(&mut d, dir, |e| e.f_size = 1000);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    assert_eq!(fs.lookup(b"/d/f"), Err(Error::Inval));
    assert_eq!(fs.create(b"/d/new", FTYPE_REG), Err(Error::Inval));
    let mut d = sample();
    let g = entry_of(&mut d, b"/g");
    edit_entry(&mut d, g, |e| e.f_name = [b'g'; MAXNAMELEN]);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    assert_eq!(fs.lookup(b"/g"), Err(Error::NotFound));
    assert_eq!(fs.stat(g), Err(Error::Inval));
}

#[test]
fn directory_cycle_is_harmless() {
    // /d's block pointer made to point at the root's block: /d/d/d/... is
    // then a cycle, but every walk is bounded by the path.
    let mut d = sample();
    let dir = entry_of(&mut d, b"/d");
    let root_block = {
        let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
        fs.stat(FileRef::ROOT).unwrap().f_direct[0]
    };
    edit_entry(&mut d, dir, |e| e.f_direct[0] = root_block);
    let mut fs = Fs::mount(RamDisk::new(&mut d)).unwrap();
    let deep = b"/d".repeat(300);
    assert_eq!(fs.lookup(&deep), Ok(dir));
    assert_eq!(fs.lookup(&b"/d".repeat(600)), Err(Error::BadPath));
    assert_eq!(fs.lookup(b"/d/d/g").map(|_| ()), Ok(()));
}

/// A tiny deterministic generator for the fuzz test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_corruption_never_panics() {
    let clean = sample();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut mounted = 0;
    for _ in 0..400 {
        let mut d = clean.clone();
        // Scribble over metadata: the superblock's root, the bitmap and
        // the first few data blocks (directories, indirect blocks).
        for _ in 0..1 + rng.next() % 8 {
            let blk = 1 + (rng.next() % 8) as usize;
            let off = (rng.next() % BLKSIZE as u64) as usize;
            let val = rng.next() as u8;
            d[blk * BLKSIZE + off] = val;
            if rng.next().is_multiple_of(4) && off + 4 <= BLKSIZE {
                let v = (rng.next() % 80) as u32;
                d[blk * BLKSIZE + off..blk * BLKSIZE + off + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        let Ok(mut fs) = Fs::mount(RamDisk::new(&mut d)) else {
            continue;
        };
        mounted += 1;
        let mut buf = vec![0u8; 6 * BLKSIZE];
        for path in [&b"/d/f"[..], b"/g", b"/d", b"/", b"/new", b"/d/new"] {
            if let Ok(r) = fs.open(path, O_CREAT) {
                let _ = fs.read(r, &mut buf, 0);
                let _ = fs.write(r, &buf[..5000], 3000);
                let _ = fs.set_size(r, 100);
                let mut pos = 0;
                while let Ok(Some(_)) = fs.read_dir(r, &mut pos) {}
            }
            let _ = fs.rename(path, b"/d/moved");
            let _ = fs.rename(b"/d/moved", path);
            let _ = fs.rename(path, b"/g");
            let _ = fs.remove(path);
        }
    }
    assert!(mounted > 100, "only {mounted} corrupted images mounted");
}

#[test]
fn rename_files() {
    let mut d = disk(64);
    let mut fs = Fs::format(RamDisk::new(&mut d), 64).unwrap();
    let a = fs.create(b"/a", FTYPE_REG).unwrap();
    fs.write(a, b"contents of a", 0).unwrap();
    fs.create(b"/dir", FTYPE_DIR).unwrap();
    // Within a directory, then into another one.
    let mv = fs.rename(b"/a", b"/b").unwrap();
    assert_eq!(mv.from, a);
    assert_eq!(fs.lookup(b"/a"), Err(Error::NotFound));
    assert_eq!(fs.lookup(b"/b"), Ok(mv.to));
    assert_eq!(fs.stat(mv.to).unwrap().name(), b"b");
    assert_eq!(read_all(&mut fs, mv.to), b"contents of a");
    let mv = fs.rename(b"b", b"/dir/c").unwrap();
    assert_eq!(fs.lookup(b"/b"), Err(Error::NotFound));
    assert_eq!(fs.lookup(b"/dir/c"), Ok(mv.to));
    assert_eq!(read_all(&mut fs, mv.to), b"contents of a");
    // To itself: nothing happens.
    let same = fs.rename(b"/dir/c", b"dir//c/").unwrap();
    assert_eq!((same.from, same.to), (mv.to, mv.to));
    assert_eq!(read_all(&mut fs, mv.to), b"contents of a");
    // Over an existing file: it is replaced and its blocks come back.
    let x = fs.create(b"/x", FTYPE_REG).unwrap();
    fs.write(x, &pattern(3 * BLKSIZE, 7), 0).unwrap();
    let free = free_blocks(&mut fs);
    let over = fs.rename(b"/dir/c", b"/x").unwrap();
    assert_eq!(over.to, x, "the replaced file's slot is reused");
    assert_eq!(free_blocks(&mut fs), free + 3);
    assert_eq!(fs.stat(x).unwrap().name(), b"x");
    assert_eq!(read_all(&mut fs, x), b"contents of a");
    assert_eq!(fs.lookup(b"/dir/c"), Err(Error::NotFound));
    let mut pos = 0;
    let dir = fs.lookup(b"/dir").unwrap();
    assert_eq!(fs.read_dir(dir, &mut pos), Ok(None));
}

#[test]
fn rename_directories_and_errors() {
    let mut d = disk(64);
    let mut fs = Fs::format(RamDisk::new(&mut d), 64).unwrap();
    let dir = fs.create(b"/d", FTYPE_DIR).unwrap();
    fs.create(b"/d/sub", FTYPE_DIR).unwrap();
    let f = fs.create(b"/d/sub/f", FTYPE_REG).unwrap();
    fs.write(f, b"deep", 0).unwrap();
    fs.create(b"/e", FTYPE_DIR).unwrap();
    fs.create(b"/g", FTYPE_REG).unwrap();
    // A directory moves with everything in it.
    let mv = fs.rename(b"/d", b"/e/moved").unwrap();
    let free = free_blocks(&mut fs);
    assert_eq!(mv.from, dir);
    assert_eq!(
        fs.lookup(b"/e/moved/sub/f"),
        Ok(f),
        "the subtree's entries stay put"
    );
    assert_eq!(fs.lookup(b"/d"), Err(Error::NotFound));
    // Into itself, or below itself.
    assert_eq!(fs.rename(b"/e", b"/e/x"), Err(Error::Inval));
    assert_eq!(fs.rename(b"/e", b"/e/moved/sub/x"), Err(Error::Inval));
    assert_eq!(fs.rename(b"/e/moved", b"/e/moved/sub"), Err(Error::Inval));
    // Directories are never replaced, nor replace.
    assert_eq!(fs.rename(b"/g", b"/e"), Err(Error::FileExists));
    assert_eq!(fs.rename(b"/e/moved", b"/g"), Err(Error::FileExists));
    assert_eq!(fs.rename(b"/e/moved/sub", b"/e"), Err(Error::FileExists));
    // Missing, root, bad names and paths.
    assert_eq!(fs.rename(b"/nope", b"/x"), Err(Error::NotFound));
    assert_eq!(fs.rename(b"/g", b"/nope/x"), Err(Error::NotFound));
    assert_eq!(fs.rename(b"/g", b"/g/x"), Err(Error::NotFound));
    assert_eq!(fs.rename(b"/", b"/x"), Err(Error::BadPath));
    assert_eq!(fs.rename(b"/g", b"/"), Err(Error::BadPath));
    assert_eq!(fs.rename(b"/g", b""), Err(Error::BadPath));
    assert_eq!(fs.rename(b"/g", b"/e/.."), Err(Error::BadPath));
    assert_eq!(fs.rename(b"/g", b"/."), Err(Error::BadPath));
    let long_name = [b'n'; MAXNAMELEN];
    assert_eq!(fs.rename(b"/g", &long_name), Err(Error::BadPath));
    assert_eq!(fs.rename(&long_name, b"/g"), Err(Error::BadPath));
    assert_eq!(fs.rename(b"/g", b"/a\0b"), Err(Error::BadPath));
    // None of that changed anything.
    assert_eq!(free_blocks(&mut fs), free);
    assert!(fs.lookup(b"/g").is_ok());
    assert_eq!(read_all(&mut fs, f), b"deep");
    // The longest name that fits works.
    let r = fs.rename(b"/g", &long_name[1..]).unwrap();
    assert_eq!(fs.lookup(&long_name[1..]), Ok(r.to));
}

#[test]
fn rename_grows_the_directory() {
    let mut d = disk(64);
    let mut fs = Fs::format(RamDisk::new(&mut d), 64).unwrap();
    // The root's first block full: /d and 15 files.
    fs.create(b"/d", FTYPE_DIR).unwrap();
    for i in 1..BLKFILES {
        fs.create(std::format!("/f{i}").as_bytes(), FTYPE_REG)
            .unwrap();
    }
    fs.create(b"/d/x", FTYPE_REG).unwrap();
    let root = fs.stat(FileRef::ROOT).unwrap().f_size;
    assert_eq!(root, BLKSIZE as i32);
    fs.rename(b"/d/x", b"/x").unwrap();
    assert_eq!(
        fs.stat(FileRef::ROOT).unwrap().f_size,
        root + BLKSIZE as i32
    );
    assert!(fs.lookup(b"/x").is_ok());
    let mut pos = 0;
    let dir = fs.lookup(b"/d").unwrap();
    assert_eq!(fs.read_dir(dir, &mut pos), Ok(None));
}

#[test]
fn file_block_for_write_allocates_and_grows() {
    let mut d = disk(256);
    let mut fs = Fs::format(RamDisk::new(&mut d), 256).unwrap();
    let r = fs.create(b"/s", FTYPE_REG).unwrap();
    let free = free_blocks(&mut fs);
    let b = fs.file_block_for_write(r, 12).unwrap();
    // The block, and the indirect block that points at it.
    assert_eq!(free_blocks(&mut fs), free - 2);
    assert_eq!(fs.stat(r).unwrap().size().unwrap(), 13 * BLKSIZE as u32);
    // Asked again: the same block, nothing more allocated.
    assert_eq!(fs.file_block_for_write(r, 12).unwrap(), b);
    assert_eq!(free_blocks(&mut fs), free - 2);
    // A lower block does not shrink the file.
    fs.file_block_for_write(r, 0).unwrap();
    assert_eq!(fs.stat(r).unwrap().size().unwrap(), 13 * BLKSIZE as u32);
    let past = MAXFILESIZE / BLKSIZE as u32;
    assert_eq!(fs.file_block_for_write(r, past), Err(Error::Inval));
    fs.set_size(r, 0).unwrap();
    assert_eq!(free_blocks(&mut fs), free);
}
