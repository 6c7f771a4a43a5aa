// make: FS=1
//! testdir: directories and renaming through the file server: a directory
//! read through an ordinary file descriptor gives its raw `File` records
//! (as JOS's `ls` reads them), `O_MKDIR` makes a directory, `O_CREAT`
//! works in one, `fstat` says what is a directory, and FSREQ_RENAME moves
//! files and directories with Unix's rules (a file open across a rename
//! stays open; one removed or replaced while open is gone). Run with the
//! file server: `make run-testdir-nox`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::{O_CREAT, O_MKDIR, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use jos::cprintf;
use jos::fd::{close, fstat, readn, write};
use jos::file::{open, remove};
use jos::rename::rename;
use josfs::{FILE_SIZE, File};

jos::main!(umain);

/// The bytes of `buf` up to its first NUL.
fn cstr(buf: &[u8]) -> &[u8] {
    &buf[..buf.iter().position(|&b| b == 0).unwrap_or(buf.len())]
}

/// The used entries of directory `path`, read record by record with
/// `readn` as JOS's ls does: (name, size, is a directory).
fn list(path: &str) -> jos::alloc::vec::Vec<(jos::alloc::vec::Vec<u8>, i32, bool)> {
    let fd = open(path, O_RDONLY).unwrap_or_else(|e| panic!("open {path}: {e}"));
    let mut out = jos::alloc::vec::Vec::new();
    let mut rec = [0u8; FILE_SIZE];
    loop {
        match readn(fd, &mut rec) {
            Ok(FILE_SIZE) => {}
            Ok(0) => break,
            Ok(n) => panic!("{path}: a short directory record ({n} bytes)"),
            Err(e) => panic!("read {path}: {e}"),
        }
        let f = File::from_bytes(&rec);
        if !f.is_free() {
            out.push((f.name().to_vec(), f.f_size, f.is_dir()));
        }
    }
    close(fd).expect("close");
    out
}

/// Writes `text` to a new (or emptied) file at `path`.
fn put(path: &str, text: &[u8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(write(fd, text), Ok(text.len()), "write {path}");
    close(fd).expect("close");
}

/// The contents of `path` (at most 256 bytes).
fn get(path: &str) -> Result<jos::alloc::vec::Vec<u8>, Error> {
    let fd = open(path, O_RDONLY)?;
    let mut buf = [0u8; 256];
    let n = readn(fd, &mut buf);
    close(fd).expect("close");
    Ok(buf[..n?].to_vec())
}

/// Checks `r`, the result of `what`, is error `want`.
fn expect_err(what: &str, r: Result<(), Error>, want: Error) {
    assert_eq!(r, Err(want), "{what}");
}

fn umain(_args: &[&str]) {
    // The root, read through a descriptor.
    let root = list("/");
    let motd = root.iter().find(|e| e.0 == b"motd").expect("no motd in /");
    let fd = open("/motd", O_RDONLY).expect("open /motd");
    let st = fstat(fd).expect("fstat /motd");
    close(fd).expect("close");
    assert!(!motd.2 && !st.isdir && motd.1 as u32 == st.size);
    let fd = open("/", O_RDONLY).expect("open /");
    let st = fstat(fd).expect("fstat /");
    close(fd).expect("close");
    assert!(st.isdir && cstr(&st.name) == b"/");
    cprintf!("read directory is good\n");

    // O_MKDIR, and files in the new directory.
    let fd = open("/tdir", O_MKDIR).expect("mkdir /tdir");
    let st = fstat(fd).expect("fstat /tdir");
    assert!(st.isdir && st.size == 0 && cstr(&st.name) == b"tdir");
    assert!(write(fd, b"x").is_err(), "a directory written");
    close(fd).expect("close");
    let fd = open("/tdir", O_RDWR).expect("open /tdir O_RDWR");
    assert_eq!(
        write(fd, b"x"),
        Err(Error::Inval),
        "the server wrote a directory"
    );
    close(fd).expect("close");
    assert!(list("/").iter().any(|e| e.0 == b"tdir" && e.2));
    cprintf!("mkdir is good\n");
    put("/tdir/f", b"hello");
    assert_eq!(get("/tdir/f").as_deref(), Ok(&b"hello"[..]));
    let inside = list("/tdir");
    assert!(inside.len() == 1 && inside[0].0 == b"f" && inside[0].1 == 5 && !inside[0].2);
    assert_eq!(get("/f"), Err(Error::NotFound));
    cprintf!("create in a subdirectory is good\n");

    // Renaming: a file open across the rename stays open.
    let fd = open("/tdir/f", O_RDONLY).expect("open /tdir/f");
    rename("/tdir/f", "/tdir/g").expect("rename /tdir/f /tdir/g");
    let mut buf = [0u8; 16];
    assert_eq!(readn(fd, &mut buf), Ok(5), "read after rename");
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(cstr(&fstat(fd).expect("fstat").name), b"g");
    close(fd).expect("close");
    assert_eq!(get("/tdir/f"), Err(Error::NotFound));
    // Over an existing file: replaced.
    put("/th", b"other");
    rename("/tdir/g", "/th").expect("rename /tdir/g /th");
    assert_eq!(get("/th").as_deref(), Ok(&b"hello"[..]));
    assert!(list("/tdir").is_empty());
    // A directory moves with what is in it, but never into itself.
    put("/tdir/inner", b"in");
    rename("/tdir", "/tdir2").expect("rename /tdir /tdir2");
    assert_eq!(get("/tdir2/inner").as_deref(), Ok(&b"in"[..]));
    expect_err("into itself", rename("/tdir2", "/tdir2/sub"), Error::Inval);
    expect_err(
        "over a directory",
        rename("/th", "/tdir2"),
        Error::FileExists,
    );
    expect_err(
        "a directory over a file",
        rename("/tdir2", "/th"),
        Error::FileExists,
    );
    expect_err("the root", rename("/", "/x"), Error::BadPath);
    expect_err("to the root", rename("/th", "/"), Error::BadPath);
    expect_err("to ..", rename("/th", "/tdir2/.."), Error::BadPath);
    expect_err("a missing file", rename("/nope", "/x"), Error::NotFound);
    expect_err(
        "a missing directory",
        rename("/th", "/nope/x"),
        Error::NotFound,
    );
    assert_eq!(rename("/th", "/th"), Ok(()), "to itself");
    cprintf!("rename is good\n");

    // A file removed while open is gone for its holders too, even when
    // its slot is reused.
    let fd = open("/th", O_RDONLY).expect("open /th");
    remove("/th").expect("remove /th");
    put("/th2", b"not yours");
    assert_eq!(readn(fd, &mut buf), Err(Error::Inval), "read after remove");
    let _ = close(fd);
    // And one replaced by a rename.
    put("/th3", b"old");
    let fd = open("/th3", O_RDONLY).expect("open /th3");
    rename("/th2", "/th3").expect("rename /th2 /th3");
    assert_eq!(readn(fd, &mut buf), Err(Error::Inval), "read after replace");
    let _ = close(fd);
    assert_eq!(get("/th3").as_deref(), Ok(&b"not yours"[..]));
    cprintf!("remove while open is good\n");

    expect_err("a full directory", remove("/tdir2"), Error::NotSupp);
    remove("/tdir2/inner").expect("remove /tdir2/inner");
    remove("/tdir2").expect("remove /tdir2");
    remove("/th3").expect("remove /th3");
    assert!(
        !list("/")
            .iter()
            .any(|e| e.0.starts_with(b"th") || e.0.starts_with(b"tdir"))
    );
    cprintf!("testdir: OK\n");
}
