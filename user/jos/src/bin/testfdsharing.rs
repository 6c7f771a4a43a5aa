// make: FS=1
//! testfdsharing (JOS's user/testfdsharing.c): a file descriptor is shared
//! with a forked child (its Fd page is PTE_SHARE), offset included: the
//! child seeks and reads the file, and the parent, reading after it, finds
//! the offset the child left. Ends in the kernel monitor (a breakpoint).
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use core::arch::asm;
use jos::cprintf;
use jos::env::wait;
use jos::fd::{close, readn, seek};
use jos::file::open;

jos::main!(umain);

fn umain(_args: &[&str]) {
    let fd = open("motd", O_RDONLY).unwrap_or_else(|e| panic!("open motd: {e}"));
    let _ = seek(fd, 0);
    let mut buf = [0u8; 512];
    let n = match readn(fd, &mut buf) {
        Ok(n) if n > 0 => n,
        Ok(n) => panic!("readn: {n} bytes"),
        Err(e) => panic!("readn: {e}"),
    };

    let r = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    let mut buf2 = [0u8; 512];
    if r == 0 {
        let _ = seek(fd, 0);
        cprintf!("going to read in child (might page fault if your sharing is buggy)\n");
        let n2 = readn(fd, &mut buf2).unwrap_or_else(|e| panic!("readn in child: {e}"));
        if n2 != n {
            panic!("read in parent got {n}, read in child got {n2}");
        }
        if buf[..n] != buf2[..n] {
            panic!("read in parent got different bytes from read in child");
        }
        cprintf!("read in child succeeded\n");
        let _ = seek(fd, 0);
        let _ = close(fd);
        jos::exit();
    }
    wait(r);
    // The child's seek to 0 is ours too: the offset is shared.
    let n2 = readn(fd, &mut buf2).unwrap_or_else(|e| panic!("readn in parent: {e}"));
    if n2 != n {
        panic!("read in parent got {n}, then got {n2}");
    }
    cprintf!("read in parent succeeded\n");
    let _ = close(fd);

    // SAFETY: the breakpoint trap goes to the kernel monitor.
    unsafe { asm!("int $3", options(att_syntax, nomem, nostack)) };
}
