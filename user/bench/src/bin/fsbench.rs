// make: FS=1
//! fsbench: what a file-system request costs an honest client, in
//! time-stamp-counter cycles (median of 7 runs of 200 operations each):
//! a 64-byte read at offset 0 (seek + FSREQ_READ), a stat (FSREQ_STAT),
//! and an open + close of /newmotd. `make bench` runs it with the file
//! server; the figures are for comparing trees on one machine.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::cprintf;
use jos::fd::{close, fstat, read, seek};
use jos::file::open;
use user::spin::rdtsc;

jos::main!(umain);

/// Operations per run.
const ITERS: u64 = 200;

/// Median over 7 runs of the cycles per call of `f`.
fn measure(mut f: impl FnMut()) -> u64 {
    let mut runs = [0u64; 7];
    for r in runs.iter_mut() {
        let t0 = rdtsc();
        for _ in 0..ITERS {
            f();
        }
        *r = (rdtsc() - t0) / ITERS;
    }
    runs.sort_unstable();
    runs[3]
}

fn umain(_args: &[&str]) {
    let fd = open("/newmotd", O_RDONLY).expect("open /newmotd");
    let mut buf = [0u8; 64];
    let read64 = measure(|| {
        seek(fd, 0).expect("seek");
        read(fd, &mut buf).expect("read");
    });
    cprintf!("fsbench: file read (64 bytes): {} cycles\n", read64);
    let st = measure(|| {
        fstat(fd).expect("stat");
    });
    cprintf!("fsbench: file stat: {} cycles\n", st);
    close(fd).expect("close");
    let oc = measure(|| {
        let fd = open("/newmotd", O_RDONLY).expect("open");
        close(fd).expect("close");
    });
    cprintf!("fsbench: open + close: {} cycles\n", oc);
    cprintf!("fsbench: done\n");
}
