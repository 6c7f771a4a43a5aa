// make: FS=1 NS=1
//! sockhog (review PoC, then test): the server's socket limits against one
//! program's children.
//!
//! 1. A child makes PER_ENV (16) sockets, forks a grandchild that keeps
//!    them, and exits: the sockets are now charged to the child's parent
//!    (us), so our own socket() is refused (E_MAX_OPEN) until the
//!    grandchild is gone. Before the fix they were charged to nobody.
//!    Verdict: `sockhog: OK` or `sockhog: BUG`.
//! 2. (Not stopped, shown:) four live children of one program, 16 sockets
//!    each, take all MAXSOCK (64) slots: another env's socket() gets
//!    E_MAX_OPEN while they live, and Ok once they are killed.
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::nsipc::*;
use jos::cprintf;
use jos::net::socket;
use jos::syscall::sys_env_destroy;

jos::main!(umain);

/// Makes up to 16 UDP sockets; returns how many.
fn make16() -> usize {
    let mut n = 0;
    while n < 16 && socket(PF_INET, SOCK_DGRAM, 0).is_ok() {
        n += 1;
    }
    n
}

fn sleep_forever() -> ! {
    loop {
        jos::time::sleep_msec(1000);
    }
}

/// Waits until env `id` is gone (or 2 s).
fn wait_gone(id: EnvId) {
    for _ in 0..200 {
        if jos::env::env_status(id) == abi::env::ENV_FREE {
            return;
        }
        jos::time::sleep_msec(10);
    }
}

fn umain(_args: &[&str]) {
    // 1. An owner gone, its sockets held by its child.
    let holder: EnvId = match jos::fork() {
        Ok(0) => {
            let n = make16();
            match jos::fork() {
                Ok(0) => {
                    // Holds them until its grandparent says go.
                    let _ = jos::ipc::ipc_recv(None);
                    jos::exit();
                }
                Ok(g) => {
                    cprintf!(
                        "sockhog: child made {} sockets, grandchild {:08x} holds them\n",
                        n,
                        g
                    );
                    // The grandchild's id for our parent, as the exit value of sorts.
                    let _ = jos::syscall::sys_ipc_send(
                        jos::env::thisenv().env_parent_id,
                        g as u32,
                        abi::memlayout::UTOP,
                        abi::mmu::PteFlags::empty(),
                    );
                    jos::exit();
                }
                Err(e) => panic!("fork: {e}"),
            }
        }
        Ok(child) => {
            let g = jos::ipc::ipc_recv(None)
                .map(|m| m.value as EnvId)
                .unwrap_or(0);
            wait_gone(child);
            g
        }
        Err(e) => panic!("fork: {e}"),
    };
    let r = socket(PF_INET, SOCK_STREAM, 0);
    cprintf!(
        "sockhog: our socket() while our exited child's 16 live on: {:?}\n",
        r
    );
    if let Ok(s) = r {
        let _ = jos::fd::close(s);
    }
    // Not our child (sys_env_destroy is the parent's): it exits when told.
    let _ =
        jos::syscall::sys_ipc_send(holder, 0, abi::memlayout::UTOP, abi::mmu::PteFlags::empty());
    wait_gone(holder);
    jos::time::sleep_msec(100);
    let r2 = socket(PF_INET, SOCK_STREAM, 0);
    cprintf!("sockhog: our socket() once the holder is gone: {:?}\n", r2);
    if let Ok(s) = r2 {
        let _ = jos::fd::close(s);
    }
    if r == Err(abi::error::Error::MaxOpen) && r2.is_ok() {
        cprintf!("sockhog: OK: an exited owner's sockets are charged to its parent\n");
    } else {
        cprintf!("sockhog: BUG: an exited owner's sockets are charged to nobody\n");
    }

    // 2. Four live children: not stopped by PER_ENV (see the server's
    //    sock.rs: the table is shared first come first served).
    let mut kids = [0; 4];
    for k in kids.iter_mut() {
        match jos::fork() {
            Ok(0) => {
                let n = make16();
                cprintf!(
                    "sockhog: child {:08x} holds {} sockets\n",
                    jos::env::thisenv_id(),
                    n
                );
                sleep_forever();
            }
            Ok(id) => *k = id,
            Err(e) => panic!("fork: {e}"),
        }
        jos::time::sleep_msec(300);
    }
    cprintf!(
        "sockhog: (not stopped) another env's socket() with 4 live children holding 16 each: {:?}\n",
        socket(PF_INET, SOCK_STREAM, 0).map(|_| ())
    );
    for k in kids {
        let _ = sys_env_destroy(k);
        wait_gone(k);
    }
    jos::time::sleep_msec(100);
    cprintf!(
        "sockhog: after the children are gone: {:?}\n",
        socket(PF_INET, SOCK_STREAM, 0).map(|_| ())
    );
    cprintf!("sockhog: done\n");
}
