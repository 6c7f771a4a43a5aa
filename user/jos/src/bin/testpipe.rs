// make: FS=1
//! testpipe (JOS's user/testpipe.c): a reader sees the end of file once
//! the writer closes its end ("pipe read closed properly"), and a writer
//! stops once the reader is gone ("pipe write closed properly"). Runs with
//! the file server first, as in JOS's lab 5 (`make run-testpipe-nox`).
#![no_std]
#![no_main]

use jos::cprintf;
use jos::entry::set_binaryname;
use jos::env::{thisenv_id, wait};
use jos::fd::{close, readn, write};
use jos::pipe::pipe;

jos::main!(umain);

const MSG: &[u8] = b"Now is the time for all good men to come to the aid of their party.";

fn umain(_args: &[&str]) {
    set_binaryname("pipereadeof");
    let p = pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    let pid = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    if pid == 0 {
        cprintf!("[{:08x}] pipereadeof close {}\n", thisenv_id(), p[1]);
        let _ = close(p[1]);
        cprintf!("[{:08x}] pipereadeof readn {}\n", thisenv_id(), p[0]);
        let mut buf = [0u8; 100];
        let n = readn(p[0], &mut buf[..99]).unwrap_or_else(|e| panic!("read: {e}"));
        if &buf[..n] == MSG {
            cprintf!("\npipe read closed properly\n");
        } else {
            let got = core::str::from_utf8(&buf[..n]).unwrap_or("(not UTF-8)");
            cprintf!("\ngot {} bytes: {}\n", n, got);
        }
        jos::exit();
    }
    cprintf!("[{:08x}] pipereadeof close {}\n", thisenv_id(), p[0]);
    let _ = close(p[0]);
    cprintf!("[{:08x}] pipereadeof write {}\n", thisenv_id(), p[1]);
    match write(p[1], MSG) {
        Ok(n) if n == MSG.len() => {}
        Ok(n) => panic!("write: {n} bytes"),
        Err(e) => panic!("write: {e}"),
    }
    let _ = close(p[1]);
    wait(pid);

    set_binaryname("pipewriteeof");
    let p = pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    let pid = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    if pid == 0 {
        let _ = close(p[0]);
        loop {
            cprintf!(".");
            if write(p[1], b"x") != Ok(1) {
                break;
            }
        }
        cprintf!("\npipe write closed properly\n");
        jos::exit();
    }
    let _ = close(p[0]);
    let _ = close(p[1]);
    wait(pid);

    cprintf!("pipe tests passed\n");
}
