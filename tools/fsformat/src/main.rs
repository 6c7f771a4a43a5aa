//! `fsformat`: builds a JOS file-system image, or checks or lists one.
//!
//! ```text
//! fsformat fs.img NBLOCKS [--swap N] [--dir] file...
//!                                           make fs.img; the files go in the root
//! fsformat --check fs.img                   fsck: print problems, exit 1 if any
//! fsformat --list fs.img                    print every file: size, type, path
//! fsformat --repair fs.img                  fsck -y: fix what --check finds, then check again
//! fsformat --cat fs.img PATH                write file PATH of the image to stdout
//! fsformat --update fs.img NBLOCKS [--swap N] file...
//!                                           bring the build's files on fs.img up to
//!                                           date, keep the rest (make it if missing)
//! ```
//!
//! `--check`, `--list` and `--cat` see the image as the next mount will:
//! with a group committed in its log installed (in memory); `--repair`
//! installs it for good.
//!
//! As JOS's `fs/fsformat.c`, each file goes in the root under its last
//! path component. With `--dir`, an argument that is a directory is copied
//! as a subdirectory, recursively, its entries in name order; without it a
//! directory argument is an error, as in JOS. With `--swap N`, the image
//! also gets the file server's swap space, `/swap/00` ... (N files of
//! MAXFILESIZE, blocks allocated), after the files: without it the image
//! is byte for byte JOS's.
//!
//! `--update` is `make`'s for your disk (see `fsformat::update`): the files
//! given are the build's, and the names of those it put there are kept in
//! `fs.img.built` beside the image, so that a file no longer given is
//! removed. Without an image it makes one, as the first form does. It
//! leaves an image a running QEMU has open as it is (with a note), and
//! refuses (exit 1, the image unchanged) one that is not the build's
//! layout or not clean. The new image replaces the old by a rename.

use fsformat::update::{BuildFile, Layout, fresh, update};
use fsformat::{Dir, ImageBuilder, cat, check, inuse, list, repair};
use std::io::Write;
use std::path::Path;
use std::process::exit;

fn usage() -> ! {
    eprintln!("usage: fsformat fs.img NBLOCKS [--swap N] [--dir] files...");
    eprintln!("       fsformat --check fs.img");
    eprintln!("       fsformat --list fs.img");
    eprintln!("       fsformat --repair fs.img");
    eprintln!("       fsformat --cat fs.img PATH");
    eprintln!("       fsformat --update fs.img NBLOCKS [--swap N] files...");
    exit(2);
}

fn fail(msg: String) -> ! {
    eprintln!("fsformat: {msg}");
    exit(1);
}

/// Adds the host file or (with `dirs`) directory `path` to `dir`.
fn add(b: &mut ImageBuilder, dir: &mut Dir, path: &Path, dirs: bool) -> Result<(), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: no file name", path.display()))?
        .to_str()
        .ok_or_else(|| format!("{}: name is not UTF-8", path.display()))?;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() && dirs {
        let mut children: Vec<_> = std::fs::read_dir(path)
            .and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        children.sort();
        let mut sub = Dir::default();
        for c in &children {
            add(b, &mut sub, c, dirs)?;
        }
        b.add_dir(dir, name, sub)
    } else if meta.is_file() {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        b.add_file(dir, name, &data)
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Err(format!("{} is not a regular file", path.display()))
    }
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so
/// that `path` is always the old contents or the new (the temporary file is
/// this process's own: two updates at once, from two makes, each rename a
/// whole image). A symbolic link is followed (the file it names is
/// replaced), and the old file's permissions are kept.
fn replace_file(path: &str, bytes: &[u8]) -> Result<(), String> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
    let tmp = format!("{}.tmp{}", real.display(), std::process::id());
    let perms = std::fs::metadata(&real).map(|m| m.permissions()).ok();
    std::fs::write(&tmp, bytes)
        .and_then(|()| perms.map_or(Ok(()), |p| std::fs::set_permissions(&tmp, p)))
        .and_then(|()| std::fs::rename(&tmp, &real))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{path}: {e}")
        })
}

/// The list of the build's files kept beside an image: a comment, then
/// one name a line.
fn built_list(names: &[String]) -> String {
    let mut s = String::from("# the files make put on the image (fsformat --update)\n");
    for n in names {
        s.push_str(n);
        s.push('\n');
    }
    s
}

/// `fsformat --update IMG NBLOCKS [--swap N] files...`: see the module
/// comment and `fsformat::update`.
fn update_cmd(args: &[String]) {
    let img = &args[0];
    let nblocks: u32 = args[1].parse().unwrap_or_else(|_| usage());
    let mut paths = &args[2..];
    let mut swap = 0;
    if paths.first().is_some_and(|a| a == "--swap") {
        swap = paths
            .get(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| usage());
        paths = &paths[2..];
    }
    let layout = Layout { nblocks, swap };
    let files: Vec<BuildFile> = paths
        .iter()
        .map(|p| {
            let name = Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_else(|| fail(format!("{p}: no file name")));
            let data = std::fs::read(p).unwrap_or_else(|e| fail(format!("{p}: {e}")));
            BuildFile {
                name: name.to_string(),
                data,
            }
        })
        .collect();
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let list_path = format!("{img}.built");
    let file = match std::fs::File::open(img) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = fresh(layout, &files).unwrap_or_else(|e| fail(e));
            replace_file(img, &bytes).unwrap_or_else(|e| fail(e));
            replace_file(&list_path, built_list(&names).as_bytes()).unwrap_or_else(|e| fail(e));
            println!("{img}: a clean disk ({} files)", files.len());
            return;
        }
        Err(e) => fail(format!("{img}: {e}")),
    };
    if inuse::locked_by_qemu(&file) {
        eprintln!(
            "fsformat: {img} is in use by a running QEMU: not updated \
             (quit it, then run make again)"
        );
        return;
    }
    let mut bytes = std::fs::read(img).unwrap_or_else(|e| fail(format!("{img}: {e}")));
    drop(file);
    let owned: Vec<String> = match std::fs::read_to_string(&list_path) {
        Ok(s) => s
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "fsformat: no {list_path}: files an older build put on {img} and this one \
                 does not make stay there"
            );
            Vec::new()
        }
        Err(e) => fail(format!("{list_path}: {e}")),
    };
    let before = bytes.clone();
    let done = update(&mut bytes, layout, &owned, &files)
        .unwrap_or_else(|e| fail(format!("{img}: not updated: {e}")));
    if bytes != before {
        replace_file(img, &bytes).unwrap_or_else(|e| fail(e));
    } else {
        // Up to date: said so by the time, as make reads it.
        std::fs::File::options()
            .write(true)
            .open(img)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .unwrap_or_else(|e| fail(format!("{img}: {e}")));
    }
    if owned != names {
        replace_file(&list_path, built_list(&names).as_bytes()).unwrap_or_else(|e| fail(e));
    }
    let mut said = Vec::new();
    for (what, v) in [
        ("added", &done.added),
        ("replaced", &done.replaced),
        ("removed", &done.removed),
    ] {
        if !v.is_empty() {
            said.push(format!("{what} {}", v.join(" ")));
        }
    }
    if !said.is_empty() {
        println!(
            "{img}: {}; {} unchanged, your files kept",
            said.join("; "),
            done.unchanged
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--cat") if args.len() == 3 => {
            let mut img =
                std::fs::read(&args[1]).unwrap_or_else(|e| fail(format!("{}: {e}", args[1])));
            let data =
                cat(&mut img, &args[2]).unwrap_or_else(|e| fail(format!("{}: {e}", args[1])));
            std::io::stdout()
                .write_all(&data)
                .unwrap_or_else(|e| fail(format!("stdout: {e}")));
        }
        Some("--repair") if args.len() == 2 => {
            let mut img =
                std::fs::read(&args[1]).unwrap_or_else(|e| fail(format!("{}: {e}", args[1])));
            let fixed = repair(&mut img).unwrap_or_else(|e| fail(format!("{}: {e}", args[1])));
            for p in &fixed {
                println!("{}: {p}", args[1]);
            }
            if !fixed.is_empty() {
                std::fs::write(&args[1], &img)
                    .unwrap_or_else(|e| fail(format!("{}: {e}", args[1])));
            }
            let left = check(&img);
            for p in &left {
                println!("{}: still: {p}", args[1]);
            }
            if !left.is_empty() {
                eprintln!("{}: {} problem(s) left", args[1], left.len());
                exit(1);
            }
            println!("{}: clean ({} repair(s))", args[1], fixed.len());
        }
        Some("--update") if args.len() >= 3 => update_cmd(&args[1..]),
        Some("--check") | Some("--list") if args.len() == 2 => {
            let mut img =
                std::fs::read(&args[1]).unwrap_or_else(|e| fail(format!("{}: {e}", args[1])));
            if args[0] == "--list" {
                fsformat::replay_log(&mut img)
                    .unwrap_or_else(|e| fail(format!("{}: {e}", args[1])));
                for f in list(&mut img).unwrap_or_else(|e| fail(format!("{}: {e}", args[1]))) {
                    let kind = if f.is_dir { "dir" } else { "file" };
                    println!("{:>8} {kind:<4} {}", f.size, f.path);
                }
                return;
            }
            let problems = check(&img);
            for p in &problems {
                println!("{}: {p}", args[1]);
            }
            if !problems.is_empty() {
                eprintln!("{}: {} problem(s)", args[1], problems.len());
                exit(1);
            }
            println!("{}: clean", args[1]);
        }
        Some(img) if args.len() >= 2 && !img.starts_with("--") => {
            let nblocks: u32 = args[1].parse().unwrap_or_else(|_| usage());
            let mut files = &args[2..];
            let mut swap = 0;
            if files.first().is_some_and(|a| a == "--swap") {
                swap = files
                    .get(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage());
                files = &files[2..];
            }
            let dirs = files.first().is_some_and(|a| a == "--dir");
            if dirs {
                files = &files[1..];
            }
            let mut b = ImageBuilder::new(nblocks).unwrap_or_else(|e| fail(e));
            let mut root = Dir::default();
            for f in files {
                add(&mut b, &mut root, Path::new(f), dirs).unwrap_or_else(|e| fail(e));
            }
            if swap > 0 {
                b.add_swap(&mut root, swap).unwrap_or_else(|e| fail(e));
            }
            let bytes = b.finish(root).unwrap_or_else(|e| fail(e));
            std::fs::write(img, bytes).unwrap_or_else(|e| fail(format!("{img}: {e}")));
        }
        _ => usage(),
    }
}
