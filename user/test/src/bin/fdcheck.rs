// make: FS=1
//! fdcheck: the file-descriptor layer's contracts, one by one, on each
//! device: bad descriptors and modes, the console's stat and truncate,
//! a pipe's size, end of file and closed reader, `dup` sharing a file's
//! offset and keeping a pipe open, `dup` over an open descriptor, running
//! out of descriptors, `close_all`. Each failure prints a line ending in
//! FAILED; the last line is `fdcheck: OK` if there was none. Runs with the
//! file server (`make run-fdcheck-nox`).
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::{MAXFD, O_RDONLY};
use core::sync::atomic::{AtomicU32, Ordering};
use jos::console::{iscons, opencons};
use jos::cprintf;
use jos::fd::{
    close, close_all, dup, fd_alloc, fd_lookup, fstat, ftruncate, read, readn, seek, stat, write,
};
use jos::file::open;
use jos::pipe::{PIPEBUF, pipe, pipeisclosed};

jos::main!(umain);

/// Failures so far.
static FAILURES: AtomicU32 = AtomicU32::new(0);

/// Prints `what ... FAILED` (with what we got) unless `ok`.
fn check(ok: bool, what: &str, got: impl core::fmt::Debug) {
    if !ok {
        cprintf!("fdcheck: {}: got {:?} FAILED\n", what, got);
        FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

/// Checks that `r` is exactly `want`.
fn expect<T: PartialEq + core::fmt::Debug>(what: &str, r: T, want: T) {
    check(r == want, what, r);
}

fn umain(_args: &[&str]) {
    let mut buf = [0u8; 64];

    // Started by the kernel: no descriptor is open.
    expect(
        "read of fd 0 before any open",
        read(0, &mut buf),
        Err(Error::Inval),
    );
    expect("close of a closed fd", close(3), Err(Error::Inval));
    expect(
        "lookup of fd MAXFD",
        fd_lookup(MAXFD).err(),
        Some(Error::Inval),
    );
    expect("dup of a closed fd", dup(5, 6), Err(Error::Inval));

    // The console.
    expect("opencons", opencons(), Ok(0));
    expect("iscons(0)", iscons(0), Ok(true));
    expect("dup(0, MAXFD)", dup(0, MAXFD), Err(Error::Inval));
    expect("dup(0, 0)", dup(0, 0), Ok(0));
    match fstat(0) {
        Ok(st) => check(
            st.name_str() == "<cons>" && st.size == 0,
            "fstat(cons)",
            st.name_str(),
        ),
        Err(e) => check(false, "fstat(cons)", e),
    }
    expect("ftruncate(cons)", ftruncate(0, 0), Err(Error::NotSupp));
    expect("pipeisclosed(cons)", pipeisclosed(0), Err(Error::Inval));
    expect("empty write to the console", write(0, b""), Ok(0));

    // A pipe: size, modes, end of file once the writers are gone.
    let p = pipe().expect("pipe");
    expect("pipe's descriptors", p, [1, 2]);
    expect("iscons(pipe)", iscons(p[0]), Ok(false));
    expect(
        "write to a pipe's read end",
        write(p[0], b"x"),
        Err(Error::Inval),
    );
    expect(
        "read from a pipe's write end",
        read(p[1], &mut buf),
        Err(Error::Inval),
    );
    expect("ftruncate(pipe)", ftruncate(p[1], 0), Err(Error::NotSupp));
    expect(
        "write 10 bytes to a pipe",
        write(p[1], b"0123456789"),
        Ok(10),
    );
    match fstat(p[0]) {
        Ok(st) => check(
            st.name_str() == "<pipe>" && st.size == 10,
            "fstat(pipe)",
            st.size,
        ),
        Err(e) => check(false, "fstat(pipe)", e),
    }
    expect("read them back", readn(p[0], &mut buf[..10]), Ok(10));
    expect("the bytes read", &buf[..10], b"0123456789");
    expect("pipeisclosed with a writer", pipeisclosed(p[0]), Ok(false));
    expect("dup of the write end", dup(p[1], 7), Ok(7));
    expect("close of one write end", close(p[1]), Ok(()));
    expect(
        "pipeisclosed with a dup'd writer",
        pipeisclosed(p[0]),
        Ok(false),
    );
    expect("write through the dup", write(7, b"abc"), Ok(3));
    expect("close of the last write end", close(7), Ok(()));
    expect("pipeisclosed with no writer", pipeisclosed(p[0]), Ok(true));
    expect("read what was left", read(p[0], &mut buf), Ok(3));
    expect("read at the end of file", read(p[0], &mut buf), Ok(0));
    expect("close of the read end", close(p[0]), Ok(()));

    // A writer whose reader is gone writes what fits, then nothing.
    let p = pipe().expect("pipe");
    expect("close of the only reader", close(p[0]), Ok(()));
    expect(
        "write with no reader",
        write(p[1], &[7u8; 100]),
        Ok(PIPEBUF),
    );
    expect("close of the writer", close(p[1]), Ok(()));

    // A file: dup shares the offset; modes; stat by path.
    let f = open("/newmotd", O_RDONLY).expect("open /newmotd");
    expect("dup(file, 10)", dup(f, 10), Ok(10));
    expect("read 5 through the file", readn(f, &mut buf[..5]), Ok(5));
    expect("read 5 through its dup", readn(10, &mut buf[5..10]), Ok(5));
    expect("the 10 bytes", &buf[..10], b"This is th");
    expect("seek through the dup", seek(10, 8), Ok(()));
    expect("read after it", readn(f, &mut buf[..3]), Ok(3));
    expect("the bytes after the seek", &buf[..3], b"the");
    expect(
        "write to a read-only file",
        write(f, b"x"),
        Err(Error::Inval),
    );
    expect(
        "ftruncate of a read-only file",
        ftruncate(10, 0),
        Err(Error::Inval),
    );
    let size = fstat(f).map(|st| st.size);
    expect("fstat(file).size", size, Ok(37));
    expect(
        "stat(path).size",
        stat("/newmotd").map(|st| st.size),
        Ok(37),
    );
    expect(
        "stat of a missing file",
        stat("/no-such").err(),
        Some(Error::NotFound),
    );
    // dup over an open descriptor closes it first: fd 0 (the console)
    // becomes the file.
    expect("dup over the console", dup(f, 0), Ok(0));
    expect("iscons(0) after", iscons(0), Ok(false));
    expect("close(file)", close(f), Ok(()));
    expect(
        "read through a dup after close",
        readn(10, &mut buf[..3]),
        Ok(3),
    );

    // Running out: every descriptor taken, then E_MAX_OPEN.
    let mut opened = 0;
    while opencons().is_ok() {
        opened += 1;
    }
    expect("descriptors opened until full", opened, MAXFD - 2);
    expect("opencons when full", opencons(), Err(Error::MaxOpen));
    expect("pipe when full", pipe(), Err(Error::MaxOpen));
    close_all();
    expect("fd_alloc after close_all", fd_alloc(), Ok(0));

    if FAILURES.load(Ordering::Relaxed) == 0 {
        cprintf!("fdcheck: OK\n");
    }
}
