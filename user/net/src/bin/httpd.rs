// make: FS=1 NS=1
//! httpd: JOS's web server on port 80: `GET /path` sends the file at
//! /path (200, with Content-Length and Content-Type), 404 for a missing
//! file or a directory, 400 for anything but GET; one connection at a
//! time, no keep-alive, a client silent for 2 s dropped. Prints
//! `Waiting for http connections...`.
//!
//! A file's bytes go without copying them through a buffer: the file is
//! mapped (read-only, MAP_PRIVATE: the file server's cache pages
//! themselves) and each page is lent to the network server by IPC page
//! transfer (`sendpage`). `httpd -c` reads and writes through a buffer
//! instead, as JOS's does (to compare the two: see the README).
#![no_std]
#![no_main]

use abi::error::{Error, Result};
use abi::fsipc::O_RDONLY;
use abi::mmu::PGSIZE;
use abi::nsipc::{IPPROTO_TCP, PF_INET, SOCK_STREAM};
use jos::cprintf;
use jos::fd::{close, fstat, read, write};
use jos::file::open;
use jos::net::{NetAddr, accept, bind, listen, recv_timeout, sendpage, socket};
use jos::vm::mmap::{MAP_PRIVATE, PROT_READ, mmap, munmap};

jos::main!(umain);

const PORT: u16 = 80;
/// Bytes of a request read (JOS's BUFFSIZE).
const BUFFSIZE: usize = 512;
const MAXPENDING: i32 = 5;
/// How long a request may take to come.
const REQUEST_WAIT_MS: u32 = 2000;
/// Pages of a file mapped at once.
const WINDOW: usize = 64;

/// Says what failed and exits (JOS's `die`).
fn die(m: &str) -> ! {
    cprintf!("{}\n", m);
    jos::exit();
}

/// Writes all of `b` to `sock`.
fn put(sock: usize, b: &[u8]) -> Result<()> {
    match write(sock, b)? {
        n if n == b.len() => Ok(()),
        _ => Err(Error::NotConn),
    }
}

/// Sends JOS's error page for `code`.
fn send_error(sock: usize, code: u32) -> Result<()> {
    let msg = match code {
        400 => "Bad Request",
        _ => "Not Found",
    };
    let mut buf = [0u8; 512];
    let n = jos::snprintf!(
        &mut buf,
        "HTTP/1.0 {code} {msg}\r\nServer: jhttpd/0.1\r\nConnection: close\r\nContent-type: text/html\r\n\r\n<html><body><p>{code} - {msg}</p></body></html>\r\n"
    );
    put(sock, &buf[..n])
}

/// Sends `size` bytes of file `fd` by read and write through a buffer.
fn send_copy(sock: usize, fd: usize) -> Result<()> {
    let mut buf = [0u8; PGSIZE];
    loop {
        match read(fd, &mut buf)? {
            0 => return Ok(()),
            n => put(sock, &buf[..n])?,
        }
    }
}

/// Sends `size` bytes of file `fd` from a read-only mapping, a page at a
/// time lent to the network server.
fn send_mapped(sock: usize, fd: usize, size: usize) -> Result<()> {
    let mut off = 0;
    while off < size {
        let len = (size - off).min(WINDOW * PGSIZE);
        let va = mmap(len, PROT_READ, MAP_PRIVATE, Some(fd), off)?;
        let mut r = Ok(());
        let mut p = 0;
        while p < len && r.is_ok() {
            let n = (len - p).min(PGSIZE);
            // SAFETY: [va, va + len) is our read-only mapping of the file,
            // all within its size; it stays mapped until munmap below.
            let page = unsafe { core::slice::from_raw_parts((va + p) as *const u8, n) };
            // Touch it first: a page is lent only once it is present.
            let _ = core::hint::black_box(page[0]);
            r = sendpage(sock, page).map(|_| ());
            p += n;
        }
        let _ = munmap(va, len);
        r?;
        off += len;
    }
    Ok(())
}

/// Sends the file at `url` with its headers, or 404.
fn send_file(sock: usize, url: &str, copy: bool) -> Result<()> {
    let fd = match open(url, O_RDONLY) {
        Ok(fd) => fd,
        Err(_) => return send_error(sock, 404),
    };
    let r = (|| {
        let st = fstat(fd)?;
        if st.isdir {
            return send_error(sock, 404);
        }
        let mut buf = [0u8; 256];
        let n = jos::snprintf!(
            &mut buf,
            "HTTP/1.0 200 OK\r\nServer: jhttpd/0.1\r\nContent-Length: {}\r\nContent-Type: text/html\r\n\r\n",
            st.size
        );
        put(sock, &buf[..n])?;
        if copy || st.size == 0 {
            send_copy(sock, fd)
        } else {
            send_mapped(sock, fd, st.size as usize)
        }
    })();
    let _ = close(fd);
    r
}

/// Reads one request from `sock` and answers it; closes it.
fn handle_client(sock: usize, copy: bool) {
    let mut buf = [0u8; BUFFSIZE];
    // A client that sends nothing for 2 s is dropped: the server is not
    // its to hold (JOS's read waits for ever).
    let n = recv_timeout(sock, &mut buf, REQUEST_WAIT_MS).unwrap_or(0);
    if n == 0 {
        let _ = close(sock);
        return;
    }
    let req = &buf[..n];
    let _ = match req.strip_prefix(b"GET ") {
        None => send_error(sock, 400),
        Some(rest) => {
            let end = rest
                .iter()
                .position(|&c| c == b' ' || c == b'\r' || c == b'\n')
                .unwrap_or(rest.len());
            match core::str::from_utf8(&rest[..end]) {
                Ok(url) if url.starts_with('/') => send_file(sock, url, copy),
                _ => send_error(sock, 404),
            }
        }
    };
    let _ = close(sock);
}

fn umain(args: &[&str]) {
    // Frames over a page (buffers) grow the stack.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("no stack growth: {e}");
    }
    run(args);
}

/// The program, once the stack can grow (a frame over a page).
#[inline(never)]
fn run(args: &[&str]) {
    let copy = args.iter().skip(1).any(|&a| a == "-c");
    let server = socket(PF_INET, SOCK_STREAM, IPPROTO_TCP)
        .unwrap_or_else(|_| die("Failed to create socket"));
    if bind(server, NetAddr::new([0; 4], PORT)).is_err() {
        die("Failed to bind the server socket");
    }
    if listen(server, MAXPENDING).is_err() {
        die("Failed to listen on server socket");
    }
    cprintf!("Waiting for http connections...\n");
    loop {
        let (client, _) =
            accept(server).unwrap_or_else(|_| die("Failed to accept client connection"));
        handle_client(client, copy);
    }
}
