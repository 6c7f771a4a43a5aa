//! pingpongs: pingpong over `sfork`: the counter is a global variable that
//! both environments share, only the stack is private. Each also prints
//! its own `thisenv`, which must differ between the two.
#![no_std]
#![no_main]

use abi::mmu::PteFlags;
use core::sync::atomic::{AtomicU32, Ordering};
use jos::syscall::sys_getenvid;
use jos::{cprintf, ipc_recv, ipc_send, thisenv};

jos::main!(umain);

/// The shared counter.
static VAL: AtomicU32 = AtomicU32::new(0);

fn umain(_args: &[&str]) {
    let mut who = match jos::sfork() {
        Ok(id) => id,
        Err(e) => panic!("sfork: {e}"),
    };
    if who != 0 {
        cprintf!(
            "i am {:08x}; thisenv is {:#010x}\n",
            sys_getenvid(),
            thisenv() as *const _ as usize
        );
        // Get the ball rolling.
        cprintf!("send 0 from {:x} to {:x}\n", sys_getenvid(), who);
        ipc_send(who, 0, None, PteFlags::empty());
    }
    loop {
        who = match ipc_recv(None) {
            Ok(m) => m.from,
            Err(e) => panic!("ipc_recv: {e}"),
        };
        let me = thisenv();
        cprintf!(
            "{:x} got {} from {:x} (thisenv is {:#010x} {:x})\n",
            sys_getenvid(),
            VAL.load(Ordering::SeqCst),
            who,
            me as *const _ as usize,
            me.env_id
        );
        if VAL.load(Ordering::SeqCst) == 10 {
            return;
        }
        let v = VAL.fetch_add(1, Ordering::SeqCst) + 1;
        ipc_send(who, 0, None, PteFlags::empty());
        if v == 10 {
            return;
        }
    }
}
