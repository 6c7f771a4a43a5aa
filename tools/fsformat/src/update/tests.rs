//! `update`: a person's files survive, the build's come up to date.

use super::*;
use crate::list;
use josfs::{FTYPE_DIR, O_CREAT, log::LogHeader};

/// The layout of the tests: large enough for a log, two swap files.
const LAYOUT: Layout = Layout {
    nblocks: 4096,
    swap: 2,
};

fn bf(name: &str, data: &[u8]) -> BuildFile {
    BuildFile {
        name: name.into(),
        data: data.to_vec(),
    }
}

fn big(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

/// The first build: motd, prog (indirect blocks), old.
fn first_build() -> Vec<BuildFile> {
    vec![
        bf("motd", b"hello\n"),
        bf("prog", &big(40 * BLKSIZE + 3, 1)),
        bf("old", &big(3000, 2)),
    ]
}

fn names(files: &[BuildFile]) -> Vec<String> {
    files.iter().map(|f| f.name.clone()).collect()
}

/// Returns file `path` of `img`, or None if it is not there.
fn read(img: &[u8], path: &str) -> Option<Vec<u8>> {
    crate::cat(&mut img.to_vec(), path).ok()
}

/// A person's work on the first build's image: a file in the root, a
/// directory with a file, an edit of nothing the build owns.
fn used_image() -> Vec<u8> {
    let mut img = fresh(LAYOUT, &first_build()).unwrap();
    let mut fs = Fs::mount(RamDisk::new(&mut img)).unwrap();
    let r = fs.open(b"/mine", O_CREAT).unwrap();
    fs.write(r, &big(20 * BLKSIZE + 11, 9), 0).unwrap();
    fs.create(b"/dir", FTYPE_DIR).unwrap();
    let r = fs.open(b"/dir/notes", O_CREAT).unwrap();
    fs.write(r, b"my notes\n", 0).unwrap();
    assert!(check(&img).is_empty());
    img
}

/// The blocks of the swap files, which nothing may move or rewrite.
fn swap_bytes(img: &mut [u8]) -> Vec<u8> {
    let mut fs = Fs::mount(RamDisk::new(img)).unwrap();
    let mut out = Vec::new();
    for k in 0..LAYOUT.swap {
        let r = fs.lookup(format!("/swap/{k:02}").as_bytes()).unwrap();
        out.extend_from_slice(&fs.stat(r).unwrap().to_bytes());
    }
    out
}

#[test]
fn fresh_is_what_fsformat_makes() {
    let files = first_build();
    let mut b = ImageBuilder::new(LAYOUT.nblocks).unwrap();
    let mut root = Dir::default();
    for f in &files {
        b.add_file(&mut root, &f.name, &f.data).unwrap();
    }
    b.add_swap(&mut root, LAYOUT.swap).unwrap();
    assert!(fresh(LAYOUT, &files).unwrap() == b.finish(root).unwrap());
    assert!(fresh(LAYOUT, &[bf("a", b"1"), bf("a", b"2")]).is_err());
}

#[test]
fn keeps_your_files_and_brings_the_build_up_to_date() {
    let mut img = used_image();
    let mine = read(&img, "/mine").unwrap();
    let swap = swap_bytes(&mut img);
    // The next build: motd changed (shorter), prog the same, old gone,
    // new added.
    let next = vec![
        bf("motd", b"hi\n"),
        bf("prog", &big(40 * BLKSIZE + 3, 1)),
        bf("new", &big(12 * BLKSIZE, 3)),
    ];
    let done = update(&mut img, LAYOUT, &names(&first_build()), &next).unwrap();
    assert_eq!(
        done,
        Updated {
            added: vec!["new".into()],
            replaced: vec!["motd".into()],
            removed: vec!["old".into()],
            unchanged: 1,
        }
    );
    assert_eq!(check(&img), Vec::<String>::new());
    for f in &next {
        assert!(
            read(&img, &format!("/{}", f.name)).unwrap() == f.data,
            "{}",
            f.name
        );
    }
    assert_eq!(read(&img, "/old"), None);
    assert!(
        read(&img, "/mine").unwrap() == mine,
        "your file, byte for byte"
    );
    assert_eq!(read(&img, "/dir/notes").unwrap(), b"my notes\n");
    assert_eq!(swap_bytes(&mut img), swap, "swap files untouched");
    // Nothing left to do: the same bytes.
    let before = img.clone();
    let again = update(&mut img, LAYOUT, &names(&next), &next).unwrap();
    assert_eq!(again.unchanged, 3);
    assert!(again.added.is_empty() && again.replaced.is_empty() && again.removed.is_empty());
    assert!(img == before);
}

#[test]
fn a_replaced_file_frees_its_blocks() {
    // Growing and shrinking a program many times leaks nothing: the free
    // count comes back to where it was.
    let files = first_build();
    let mut img = fresh(LAYOUT, &files).unwrap();
    let start = list(&mut img.clone()).unwrap();
    for round in 0..20u8 {
        let n = if round % 2 == 0 { 300 * BLKSIZE } else { 5 };
        let next = vec![bf("motd", &big(n, round)), bf("prog", &files[1].data)];
        update(&mut img, LAYOUT, &names(&files), &next).unwrap();
        assert!(check(&img).is_empty());
    }
    update(&mut img, LAYOUT, &["motd".into()], &files).unwrap();
    assert_eq!(list(&mut img.clone()).unwrap(), start);
    assert!(check(&img).is_empty());
    // The image is as full as the fresh one: the same free blocks.
    let free = |img: &mut Vec<u8>| {
        let mut fs = Fs::mount(RamDisk::new(img)).unwrap();
        (0..LAYOUT.nblocks)
            .filter(|&b| fs.block_is_free(b).unwrap())
            .count()
    };
    assert_eq!(free(&mut img), free(&mut fresh(LAYOUT, &files).unwrap()));
}

#[test]
fn removes_only_what_the_build_put_there() {
    let mut img = used_image();
    // A list naming a directory (one you made where a program was), a file
    // already gone and names that are not names: nothing is removed.
    let owned = vec!["dir".to_string(), "../x".into(), "".into(), "gone".into()];
    let done = update(&mut img, LAYOUT, &owned, &first_build()).unwrap();
    assert!(done.removed.is_empty());
    assert_eq!(read(&img, "/dir/notes").unwrap(), b"my notes\n");
    assert!(read(&img, "/mine").is_some());
    assert!(check(&img).is_empty());
}

#[test]
fn refuses_what_it_cannot_update_and_changes_nothing() {
    let files = first_build();
    let owned = names(&files);
    let refuse = |mut img: Vec<u8>, layout: Layout, files: &[BuildFile], what: &str| {
        let before = img.clone();
        let e = update(&mut img, layout, &owned, files).unwrap_err();
        assert!(e.contains(what), "{e:?} should say {what:?}");
        assert!(img == before, "refused, yet changed: {what}");
    };
    let img = used_image();
    // Not a JOS file system at all.
    refuse(vec![0; 64 * BLKSIZE], LAYOUT, &files, "no JOS file system");
    refuse(vec![7; 100], LAYOUT, &files, "not a JOS file system");
    // An old layout: another block count, a disk without a log, another
    // number of swap files, no swap at all.
    let other = Layout {
        nblocks: 3072,
        swap: 2,
    };
    refuse(
        fresh(other, &files).unwrap(),
        LAYOUT,
        &files,
        "old layout: 3072 blocks",
    );
    let mut nolog = img.clone();
    nolog[BLKSIZE + josfs::log::LOG_RECORD_OFFSET..][..12].fill(0);
    refuse(nolog, LAYOUT, &files, "no log");
    let three = Layout { swap: 3, ..LAYOUT };
    refuse(
        img.clone(),
        three,
        &files,
        "2 swap files; the build makes 3",
    );
    let none = Layout { swap: 0, ..LAYOUT };
    refuse(fresh(none, &files).unwrap(), LAYOUT, &files, "no /swap");
    // Not clean: a block in use that no file uses.
    let mut leaky = img.clone();
    let (blk, byte, bit) = josfs::bitmap_position(LAYOUT.nblocks - 300);
    josfs::bitmap_set(
        (&mut leaky[blk as usize * BLKSIZE..][..BLKSIZE])
            .try_into()
            .unwrap(),
        byte,
        bit,
        false,
    );
    refuse(leaky, LAYOUT, &files, "not clean: 1 problem(s)");
    // A directory where the build puts a file.
    refuse(
        img.clone(),
        LAYOUT,
        &[bf("dir", b"x")],
        "/dir is a directory",
    );
    refuse(
        img.clone(),
        LAYOUT,
        &[bf("swap", b"x")],
        "/swap is a directory",
    );
    // Bad build files: a bad name, one given twice, one too large, more
    // than the disk holds.
    refuse(img.clone(), LAYOUT, &[bf("a/b", b"x")], "bad file name");
    refuse(
        img.clone(),
        LAYOUT,
        &[bf("a", b"1"), bf("a", b"2")],
        "given twice",
    );
    refuse(
        img.clone(),
        LAYOUT,
        &[bf("huge", &vec![0; MAXFILESIZE as usize])],
        "too large",
    );
    let many: Vec<BuildFile> = (0..20)
        .map(|i| bf(&format!("f{i}"), &big(1000 * BLKSIZE, i as u8)))
        .collect();
    refuse(img, LAYOUT, &many, "no free space on disk");
}

#[test]
fn installs_a_committed_group_first() {
    // A group committed in the log, not yet installed (a crash after the
    // commit point): the update installs it, as the next mount would, and
    // empties the log, so that no later mount installs stale blocks over
    // the update.
    let mut img = used_image();
    let r = {
        let mut fs = Fs::mount(RamDisk::new(&mut img)).unwrap();
        let r = fs.lookup(b"/dir/notes").unwrap();
        let f = fs.stat(r).unwrap();
        f.f_direct[0]
    };
    let log = LogRecord::at_end(LAYOUT.nblocks).unwrap();
    let mut newer = [0u8; BLKSIZE];
    newer[..9].copy_from_slice(b"MY NOTES\n");
    img[log.slot(0) as usize * BLKSIZE..][..BLKSIZE].copy_from_slice(&newer);
    let mut h = LogHeader::EMPTY;
    h.n = 1;
    h.home[0] = r;
    img[log.start as usize * BLKSIZE..][..BLKSIZE].copy_from_slice(&h.to_block());
    update(&mut img, LAYOUT, &names(&first_build()), &first_build()).unwrap();
    assert_eq!(read(&img, "/dir/notes").unwrap(), b"MY NOTES\n");
    let hdr: &[u8; BLKSIZE] = img[log.start as usize * BLKSIZE..][..BLKSIZE]
        .try_into()
        .unwrap();
    assert_eq!(LogHeader::from_block(hdr).n, 0, "the log is empty");
}
