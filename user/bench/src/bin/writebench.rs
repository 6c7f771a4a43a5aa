// make: FS=1
//! writebench: what writing files costs (the crash-safety figures of the
//! README). Three measures, in time-stamp cycles:
//!
//! - 1 MiB written to one file in 4 KiB writes, then one fsync;
//! - 64 files of 4 KiB each created, written and closed (a close is
//!   FSREQ_FLUSH: it makes the file durable);
//! - the 1 MiB read back (checked byte for byte), for comparison.
#![no_std]
#![no_main]

use abi::fsipc::{O_CREAT, O_MKDIR, O_RDONLY, O_TRUNC, O_WRONLY};
use jos::cprintf;
use jos::fd::{close, readn, write};
use jos::file::{fsync, open, remove};
use user::spin::rdtsc;

jos::main!(umain);

/// Byte `i` of the test file.
fn pattern(i: u32) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8)) as u8
}

/// Cycles to millions.
fn m(c: u64) -> u64 {
    c / 1_000_000
}

fn umain(_argv: &[&str]) {
    let mut buf = jos::alloc::vec![0u8; 4096];
    if let Ok(fd) = open("/wb", O_MKDIR) {
        let _ = close(fd);
    }
    const PAGES: u32 = 256;
    let fd = open("/wb/big", O_WRONLY | O_CREAT | O_TRUNC).unwrap_or_else(|e| panic!("{e}"));
    let t0 = rdtsc();
    for i in 0..PAGES {
        for (j, b) in buf.iter_mut().enumerate() {
            *b = pattern(i * 4096 + j as u32);
        }
        if write(fd, &buf) != Ok(4096) {
            panic!("writebench: write failed");
        }
    }
    let t1 = rdtsc();
    fsync(fd).unwrap_or_else(|e| panic!("fsync: {e}"));
    let t2 = rdtsc();
    let _ = close(fd);

    let t3 = rdtsc();
    for k in 0..64 {
        let path = jos::alloc::format!("/wb/small{k}");
        let fd = open(&path, O_WRONLY | O_CREAT | O_TRUNC).unwrap_or_else(|e| panic!("{e}"));
        if write(fd, &buf) != Ok(4096) {
            panic!("writebench: write failed");
        }
        let _ = close(fd);
    }
    let t4 = rdtsc();

    let fd = open("/wb/big", O_RDONLY).unwrap_or_else(|e| panic!("{e}"));
    let t5 = rdtsc();
    for i in 0..PAGES {
        if readn(fd, &mut buf) != Ok(4096)
            || buf
                .iter()
                .enumerate()
                .any(|(j, &b)| b != pattern(i * 4096 + j as u32))
        {
            panic!("writebench: read back wrong at page {i}");
        }
    }
    let t6 = rdtsc();
    let _ = close(fd);
    for k in 0..64 {
        let _ = remove(&jos::alloc::format!("/wb/small{k}"));
    }
    let _ = remove("/wb/big");
    cprintf!(
        "writebench: 1 MiB in 4 KiB writes {} Mcycles + fsync {} Mcycles; 64 x (create, write 4 KiB, close) {} Mcycles; 1 MiB read back {} Mcycles\n",
        m(t1 - t0),
        m(t2 - t1),
        m(t4 - t3),
        m(t6 - t5)
    );
}
