//! pingpong: two environments pass a counter back and forth with IPC until
//! it reaches 10.
#![no_std]
#![no_main]

use abi::mmu::PteFlags;
use jos::syscall::sys_getenvid;
use jos::{cprintf, ipc_recv, ipc_send};

jos::main!(umain);

fn umain(_args: &[&str]) {
    let mut who = match jos::fork() {
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    if who != 0 {
        // Get the ball rolling.
        cprintf!("send 0 from {:x} to {:x}\n", sys_getenvid(), who);
        ipc_send(who, 0, None, PteFlags::empty());
    }
    loop {
        let m = match ipc_recv(None) {
            Ok(m) => m,
            Err(e) => panic!("ipc_recv: {e}"),
        };
        who = m.from;
        let i = m.value;
        cprintf!("{:x} got {} from {:x}\n", sys_getenvid(), i, who);
        if i == 10 {
            return;
        }
        ipc_send(who, i + 1, None, PteFlags::empty());
        if i + 1 == 10 {
            return;
        }
    }
}
