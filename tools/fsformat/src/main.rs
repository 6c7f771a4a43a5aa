//! `fsformat`: builds a JOS file-system image, or checks or lists one.
//!
//! ```text
//! fsformat fs.img NBLOCKS [--swap N] [--dir] file...
//!                                           make fs.img; the files go in the root
//! fsformat --check fs.img                   fsck: print problems, exit 1 if any
//! fsformat --list fs.img                    print every file: size, type, path
//! fsformat --repair fs.img                  fsck -y: fix what --check finds, then check again
//! fsformat --cat fs.img PATH                write file PATH of the image to stdout
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

use fsformat::{Dir, ImageBuilder, cat, check, list, repair};
use std::io::Write;
use std::path::Path;
use std::process::exit;

fn usage() -> ! {
    eprintln!("usage: fsformat fs.img NBLOCKS [--swap N] [--dir] files...");
    eprintln!("       fsformat --check fs.img");
    eprintln!("       fsformat --list fs.img");
    eprintln!("       fsformat --repair fs.img");
    eprintln!("       fsformat --cat fs.img PATH");
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
