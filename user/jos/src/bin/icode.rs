// make: FS=1
//! icode: reads /motd, then spawns /init with two arguments (JOS's
//! user/icode.c: what JOS's kernel starts in lab 5).
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::cprintf;
use jos::fd::{close, read};
use jos::file::open;
use jos::syscall::sys_cputs;

jos::main!(umain);

fn umain(_args: &[&str]) {
    cprintf!("icode startup\n");
    cprintf!("icode: open /motd\n");
    let fd = match open("/motd", O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => panic!("icode: open /motd: {e}"),
    };
    cprintf!("icode: read /motd\n");
    let mut buf = [0u8; 512];
    while let Ok(n @ 1..) = read(fd, &mut buf) {
        sys_cputs(&buf[..n]);
    }
    cprintf!("icode: close /motd\n");
    let _ = close(fd);
    cprintf!("icode: spawn /init\n");
    if let Err(e) = jos::spawnl!("/init", "init", "initarg1", "initarg2") {
        panic!("icode: spawn /init: {e}");
    }
    cprintf!("icode: exiting\n");
}
