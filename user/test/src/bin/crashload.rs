// make: FS=1
//! crashload: a write-heavy workload to kill the machine under (grade.py's
//! crash test), and a file-write benchmark.
//!
//! `crashload` runs rounds until it is killed. Round r writes three new
//! files `/crash/r<r>.<k>` (k = 0, 1, 2; sizes up to 85 000 bytes, so some
//! need an indirect block), fsyncs the first, rewrites `/crash/rw` (opened
//! with O_TRUNC) and fsyncs it, appends 777 bytes to `/crash/app`, calls
//! `sync`, and removes the files of round r - 2 (so blocks are freed and
//! handed out again, as in the crash that corrupted main's images). Every
//! byte is [`pattern`]`(seed, offset)`, so the host can tell exactly what a
//! file must hold. After each completed fsync or sync it prints what is now
//! durable:
//!
//! ```text
//! crashload: durable /crash/r3.0 41234          (fsync: that file, that size)
//! crashload: durable /crash/rw 3 12345          (fsync: rw holds round 3's bytes)
//! crashload: synced 3 app 2331                  (sync: round 3's files, app's first 2331 bytes)
//! crashload: removing round 1                   (its files may be gone from now on)
//! ```
#![no_std]
#![no_main]

use abi::fsipc::{O_CREAT, O_MKDIR, O_TRUNC, O_WRONLY};
use jos::cprintf;
use jos::fd::{close, seek};
use jos::file::{fsync, open, remove, sync};
use user::cli::write_all;

jos::main!(umain);

/// Byte `i` of the file with seed `seed` (the host's crash test computes
/// the same).
fn pattern(seed: u32, i: u32) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8) ^ seed.wrapping_mul(2_654_435_761)) as u8
}

/// The seed and size of `/crash/r<r>.<k>`.
fn rfile(r: u32, k: u32) -> (u32, u32) {
    (
        r * 16 + k,
        1 + (r * 7919 + k * 3571) % 40000 + if k == 2 { 45000 } else { 0 },
    )
}

/// The seed and size of `/crash/rw` in round r.
fn rwfile(r: u32) -> (u32, u32) {
    (100_000 + r, 5000 + (r * 97) % 20000)
}

/// Seed of `/crash/app` (one pattern over the whole file), and the bytes
/// one round appends.
const APP_SEED: u32 = 7;
const APP_CHUNK: u32 = 777;

/// Writes `size` bytes of pattern `seed` from file offset `from` to
/// `fd`, in writes of varying sizes. Panics on an error (the workload has
/// no use going on).
fn fill(fd: usize, seed: u32, from: u32, size: u32, buf: &mut [u8]) {
    let mut off = from;
    let mut step = 1000 + seed % 3000;
    while off < from + size {
        let n = step.min(from + size - off).min(buf.len() as u32);
        for (j, b) in buf[..n as usize].iter_mut().enumerate() {
            *b = pattern(seed, off + j as u32);
        }
        if let Err(e) = write_all(fd, &buf[..n as usize]) {
            panic!("write: {e}");
        }
        off += n;
        step = 500 + (step * 7) % 4000;
    }
}

/// Creates (or empties) `path` and writes `size` bytes of pattern `seed`;
/// with `durable`, fsyncs it and says so. Returns nothing; panics on error.
fn write_file(path: &str, seed: u32, size: u32, buf: &mut [u8], durable: Option<&str>) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC).unwrap_or_else(|e| panic!("{path}: {e}"));
    fill(fd, seed, 0, size, buf);
    if let Some(what) = durable {
        fsync(fd).unwrap_or_else(|e| panic!("fsync {path}: {e}"));
        cprintf!("crashload: durable {}\n", what);
    }
    let _ = close(fd);
}

fn workload() {
    let mut buf = jos::alloc::vec![0u8; 4096];
    if let Ok(fd) = open("/crash", O_MKDIR) {
        let _ = close(fd);
    }
    cprintf!("crashload: start\n");
    let mut app = 0u32;
    let _ = remove("/crash/app");
    for r in 1.. {
        for k in 0..3 {
            let (seed, size) = rfile(r, k);
            let path = jos::alloc::format!("/crash/r{r}.{k}");
            let what = jos::alloc::format!("{path} {size}");
            write_file(&path, seed, size, &mut buf, (k == 0).then_some(&what));
        }
        let (seed, size) = rwfile(r);
        let what = jos::alloc::format!("/crash/rw {r} {size}");
        write_file("/crash/rw", seed, size, &mut buf, Some(&what));
        let fd = open("/crash/app", O_WRONLY | O_CREAT).unwrap_or_else(|e| panic!("app: {e}"));
        seek(fd, app).unwrap_or_else(|e| panic!("seek: {e}"));
        fill(fd, APP_SEED, app, APP_CHUNK, &mut buf);
        app += APP_CHUNK;
        let _ = close(fd);
        sync().unwrap_or_else(|e| panic!("sync: {e}"));
        cprintf!("crashload: synced {} app {}\n", r, app);
        if r > 2 {
            cprintf!("crashload: removing round {}\n", r - 2);
            for k in 0..3 {
                let path = jos::alloc::format!("/crash/r{}.{k}", r - 2);
                remove(&path).unwrap_or_else(|e| panic!("remove {path}: {e}"));
            }
        }
    }
}

fn umain(_argv: &[&str]) {
    workload();
}
