//! Updating an image in place: `make` brings the build's files on your
//! disk (`obj/fs/fs.img`) up to date and keeps everything else on it.
//!
//! The build owns the files it puts in the root (the programs and the text
//! files of `user/files/`); a list of their names is kept beside the image
//! (`fs.img.built`, see `main.rs`), so that a program taken out of the build
//! is taken off the disk too. [`update`] adds the build's files that are
//! missing, replaces those whose bytes differ, removes those the previous
//! build put there and this one no longer does, and leaves every other file
//! and directory, and the swap files, as they were.
//!
//! It refuses, changing nothing, an image that is not one the build could
//! have made (not a JOS file system, another block count, log or swap
//! space: an old layout), one that `fsformat --check` does not find clean,
//! and one where a directory stands where the build puts a file. The work
//! is done on a copy, which is checked again before it is handed back.

use crate::{Dir, ImageBuilder, check, replay_log};
use josfs::fs::{Fs, RamDisk};
use josfs::log::LogRecord;
use josfs::path::check_name;
use josfs::{BLKSIZE, Error, FS_MAGIC, MAXFILESIZE, SUPER_BLOCKNO, Super};
use std::collections::HashSet;

/// The shape of the images the build makes: `fsformat IMG nblocks --swap
/// swap`, a log at the end of the disk (if it is large enough for one).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Blocks in the image.
    pub nblocks: u32,
    /// Swap files in `/swap` (0: no swap space).
    pub swap: usize,
}

/// One file the build puts in the root.
pub struct BuildFile {
    /// Its name in the root.
    pub name: String,
    /// Its contents.
    pub data: Vec<u8>,
}

/// What [`update`] did, name by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Updated {
    /// Build files that were not on the image.
    pub added: Vec<String>,
    /// Build files whose bytes on the image differed.
    pub replaced: Vec<String>,
    /// Files of the previous build that this one no longer makes.
    pub removed: Vec<String>,
    /// Build files already on the image byte for byte.
    pub unchanged: usize,
}

/// Checks that the build's file names are good root names and distinct.
fn check_names(files: &[BuildFile]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for f in files {
        check_name(f.name.as_bytes()).map_err(|_| format!("{}: bad file name", f.name))?;
        if !seen.insert(f.name.as_str()) {
            return Err(format!("{}: given twice", f.name));
        }
    }
    Ok(())
}

/// Returns a fresh image of `layout` holding `files` in the root (then the
/// swap space): the image `fsformat IMG NBLOCKS --swap N files...` makes.
/// Fails for a bad layout, a bad or repeated name, a file too large or a
/// full disk.
pub fn fresh(layout: Layout, files: &[BuildFile]) -> Result<Vec<u8>, String> {
    check_names(files)?;
    let mut b = ImageBuilder::new(layout.nblocks)?;
    let mut root = Dir::default();
    for f in files {
        b.add_file(&mut root, &f.name, &f.data)?;
    }
    if layout.swap > 0 {
        b.add_swap(&mut root, layout.swap)?;
    }
    b.finish(root)
}

/// Why an image is not one the build made, or None if its superblock, size
/// and log are as `layout` wants.
fn layout_problem(img: &[u8], layout: Layout) -> Option<String> {
    if img.len() < 2 * BLKSIZE {
        return Some(format!("{} bytes: not a JOS file system", img.len()));
    }
    let sb = &img[SUPER_BLOCKNO as usize * BLKSIZE..][..BLKSIZE];
    let sup = Super::from_bytes(sb).unwrap();
    if sup.s_magic != FS_MAGIC {
        return Some(format!(
            "no JOS file system on it (magic {:#010x})",
            sup.s_magic
        ));
    }
    let want = layout.nblocks as usize * BLKSIZE;
    if sup.s_nblocks != layout.nblocks || img.len() != want {
        return Some(format!(
            "an old layout: {} blocks ({} bytes); the build makes {} ({want} bytes)",
            sup.s_nblocks,
            img.len(),
            layout.nblocks
        ));
    }
    let block: &[u8; BLKSIZE] = sb.try_into().unwrap();
    match josfs::log::LogRecord::read(block, layout.nblocks) {
        Ok(log) if log == LogRecord::at_end(layout.nblocks) => None,
        Ok(Some(_)) | Err(_) => {
            Some("an old layout: its log is not where the build puts it".into())
        }
        Ok(None) => Some("an old layout: no log (made by an older fsformat)".into()),
    }
}

/// Checks that `/swap` holds exactly the swap files of `layout`, each of
/// `MAXFILESIZE` bytes, and returns their entries (to compare afterwards).
fn swap_entries(fs: &mut Fs<RamDisk>, layout: Layout) -> Result<Vec<[u8; 256]>, String> {
    if layout.swap == 0 {
        return Ok(Vec::new());
    }
    let old = |what: &str| format!("an old layout: {what}");
    let dir = fs.lookup(b"/swap").map_err(|_| old("no /swap directory"))?;
    if !fs.stat(dir).map_err(|e| format!("/swap: {e}"))?.is_dir() {
        return Err(old("/swap is not a directory"));
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((_, f)) = fs
        .read_dir(dir, &mut pos)
        .map_err(|e| format!("/swap: {e}"))?
    {
        let want = format!("{:02}", out.len());
        if f.name() != want.as_bytes() || f.is_dir() || f.size() != Ok(MAXFILESIZE) {
            return Err(old(&format!(
                "/swap/{} is not swap file {want} of {MAXFILESIZE} bytes",
                String::from_utf8_lossy(f.name())
            )));
        }
        out.push(f.to_bytes());
    }
    if out.len() != layout.swap {
        return Err(old(&format!(
            "{} swap files; the build makes {}",
            out.len(),
            layout.swap
        )));
    }
    Ok(out)
}

/// Brings image `img` up to date with the build: `files` are what the build
/// puts in the root now, `owned` the names it put there last time. Adds the
/// missing files, replaces those whose bytes differ, removes the regular
/// files named in `owned` but not in `files`, and touches nothing else
/// (other files and directories, the swap files). A group committed in the
/// log is installed first, as the next mount would. Returns what it did.
///
/// Fails, leaving `img` as it was, if `img` is not an image of `layout`
/// (not a JOS file system, another size, no log or swap space where the
/// build puts them), if `fsformat --check` finds a problem in it, if a
/// directory is where a build file goes, for a bad name in `files`, a file
/// of `MAXFILESIZE` bytes or more, or a full disk.
pub fn update(
    img: &mut Vec<u8>,
    layout: Layout,
    owned: &[String],
    files: &[BuildFile],
) -> Result<Updated, String> {
    check_names(files)?;
    if let Some(p) = layout_problem(img, layout) {
        return Err(p);
    }
    let mut work = img.clone();
    replay_log(&mut work)?;
    let problems = check(&work);
    if let Some(first) = problems.first() {
        return Err(format!(
            "not clean: {} problem(s), the first: {first} (fsformat --check lists them, \
             fsformat --repair fixes them)",
            problems.len()
        ));
    }
    let mut done = Updated::default();
    let mut fs = Fs::mount(RamDisk::new(&mut work)).map_err(|e| format!("mount: {e}"))?;
    let swap = swap_entries(&mut fs, layout)?;
    for f in files {
        let path = format!("/{}", f.name);
        if f.data.len() >= MAXFILESIZE as usize {
            return Err(format!("{}: too large", f.name));
        }
        let r = match fs.lookup(path.as_bytes()) {
            Ok(r) => {
                let e = fs.stat(r).map_err(|e| format!("{path}: {e}"))?;
                if e.is_dir() {
                    return Err(format!(
                        "{path} is a directory; the build puts a file there"
                    ));
                }
                let mut old = vec![0u8; e.size().map_err(|e| format!("{path}: {e}"))? as usize];
                let n = fs
                    .read(r, &mut old, 0)
                    .map_err(|e| format!("{path}: {e}"))?;
                if n == old.len() && old == f.data {
                    done.unchanged += 1;
                    continue;
                }
                fs.set_size(r, 0).map_err(|e| format!("{path}: {e}"))?;
                done.replaced.push(f.name.clone());
                r
            }
            Err(Error::NotFound) => {
                let r = fs
                    .create(path.as_bytes(), josfs::FTYPE_REG)
                    .map_err(|e| format!("{path}: {e}"))?;
                done.added.push(f.name.clone());
                r
            }
            Err(e) => return Err(format!("{path}: {e}")),
        };
        fs.write(r, &f.data, 0)
            .map_err(|e| format!("{path}: {e}"))?;
    }
    let now: HashSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    for name in owned {
        if now.contains(name.as_str()) || check_name(name.as_bytes()).is_err() {
            continue;
        }
        let path = format!("/{name}");
        // Gone already, or a directory the person made under that name:
        // not the build's any more.
        let Ok(r) = fs.lookup(path.as_bytes()) else {
            continue;
        };
        if fs.stat(r).map_err(|e| format!("{path}: {e}"))?.is_dir() {
            continue;
        }
        fs.remove(path.as_bytes())
            .map_err(|e| format!("{path}: {e}"))?;
        done.removed.push(name.clone());
    }
    if swap_entries(&mut fs, layout)? != swap {
        return Err("the swap files changed (a bug in fsformat --update)".into());
    }
    let problems = check(&work);
    if let Some(first) = problems.first() {
        return Err(format!(
            "the update would leave {} problem(s) (a bug in fsformat --update), the first: {first}",
            problems.len()
        ));
    }
    *img = work;
    Ok(done)
}

#[cfg(test)]
mod tests;
