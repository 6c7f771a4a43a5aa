//! perenvexec (found by review): the library's cached env id (`.perenv`)
//! is right in children that do not start by returning from the
//! `sys_exofork` wrapper, and fork refuses what it cannot do.
//!
//! 1. exec-like start: sys_exofork, copy our image into the child page by
//!    page (as dumbfork does, .perenv included, so the copy holds *our*
//!    id), give it a fresh stack and start it with sys_env_set_trapframe at
//!    `child_main`: its `thisenv_id()` must be its own, and `ipc_recv` must
//!    report the message we sent (it reads its own Env record).
//! 2. fork() from inside a page-fault handler (on the exception stack)
//!    fails with `invalid parameter` (the child could not return there).
//! 3. sfork, then fork and sfork again from the sforked child: each env
//!    sees its own id.
//!
//! Each check prints `perenvexec: <what> OK` (or FAILED); the end is
//! `perenvexec: OK`.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_RUNNABLE, EnvId, envx};
use abi::error::Error;
use abi::memlayout::{USTACKTOP, UTEMP, UTEXT};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use abi::trap::{Trapframe, UTrapframe};
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use jos::cprintf;
use jos::env::{env_read, env_status, thisenv_id};
use jos::pgfault::{Fault, add_region};
use jos::syscall::{
    sys_env_set_status, sys_env_set_trapframe, sys_exofork, sys_getenvid, sys_page_alloc,
    sys_page_map, sys_page_unmap,
};
use user::spin::Clock;

jos::main!(umain);

unsafe extern "C" {
    static end: u8;
}

const SHARED: usize = 0x0a00_0000;
const FAULTY: usize = 0x0c00_0000;

fn word(i: usize) -> &'static AtomicU32 {
    // SAFETY: SHARED is mapped (PTE_SHARE) before any child exists.
    unsafe { &*(SHARED as *const AtomicU32).add(i) }
}

fn duppage(dst: EnvId, addr: usize) {
    sys_page_alloc(dst, addr, PTE_RW).unwrap();
    sys_page_map(dst, addr, 0, UTEMP, PTE_RW).unwrap();
    // SAFETY: distinct mapped pages.
    unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, UTEMP as *mut u8, PGSIZE) };
    sys_page_unmap(0, UTEMP).unwrap();
}

extern "C" fn child_main() -> ! {
    let ok_id = thisenv_id() == sys_getenvid();
    word(1).store(1, SeqCst);
    let ok_msg = match jos::ipc_recv(None) {
        Ok(m) => m.value == 1234 && m.from == env_read(envx(sys_getenvid())).env_parent_id,
        Err(_) => false,
    };
    word(3).store(if ok_id && ok_msg { 1 } else { 2 }, SeqCst);
    jos::exit();
}

fn in_handler(_utf: &mut UTrapframe) -> Fault {
    sys_page_alloc(0, FAULTY, PTE_RW).unwrap();
    let r = jos::fork();
    if r == Ok(0) {
        // A child that got here would have no stack to return on.
        jos::exit();
    }
    word(2).store(if r == Err(Error::Inval) { 1 } else { 2 }, SeqCst);
    Fault::Handled
}

/// Counts a wrong cached id in word 4.
fn check_id() {
    if thisenv_id() != sys_getenvid() {
        word(4).fetch_add(1, SeqCst);
    }
}

fn report(what: &str, ok: bool) {
    cprintf!(
        "perenvexec: {} {}\n",
        what,
        if ok { "OK" } else { "FAILED" }
    );
}

fn umain(_args: &[&str]) {
    sys_page_alloc(0, SHARED, PTE_RW | PteFlags::SHARE).unwrap();
    let me = sys_getenvid();
    let clock = Clock::calibrate(envx(me));

    // 1. exec-like start.
    let child = match sys_exofork() {
        Ok(0) => panic!("the child never returns here"),
        Ok(id) => id,
        Err(e) => panic!("exofork: {e}"),
    };
    let image_end = &raw const end as usize;
    for addr in (UTEXT..image_end).step_by(PGSIZE) {
        duppage(child, addr);
    }
    sys_page_map(0, SHARED, child, SHARED, PTE_RW | PteFlags::SHARE).unwrap();
    sys_page_alloc(child, USTACKTOP - PGSIZE, PTE_RW).unwrap();
    let mut tf = Trapframe::zeroed();
    tf.tf_eip = child_main as *const () as usize as u32;
    tf.tf_esp = (USTACKTOP - 64) as u32;
    sys_env_set_trapframe(child, &tf).unwrap();
    sys_env_set_status(child, ENV_RUNNABLE).unwrap();
    clock.wait_yielding(3000, || word(1).load(SeqCst) == 1);
    clock.wait_yielding(3000, || env_read(envx(child)).env_ipc_recving != 0);
    jos::ipc_send(child, 1234, None, PteFlags::empty());
    clock.wait_yielding(3000, || env_status(child) == ENV_FREE);
    let exec_ok = word(3).load(SeqCst) == 1;
    report(
        "an exec-like start (set_trapframe) knows its own id",
        exec_ok,
    );

    // 2. fork inside a fault handler.
    add_region(FAULTY, FAULTY + PGSIZE, "faulty", in_handler).unwrap();
    // SAFETY: FAULTY's handler maps it.
    unsafe { (FAULTY as *mut u32).write_volatile(1) };
    let fork_ok = word(2).load(SeqCst) == 1;
    report(
        "fork in a page-fault handler fails with invalid parameter",
        fork_ok,
    );

    // 3. sfork chains.
    let mut kids = [0; 3];
    match jos::sfork() {
        Ok(0) => {
            check_id();
            for (i, grandchild) in [jos::fork(), jos::sfork()].into_iter().enumerate() {
                match grandchild {
                    Ok(0) => {
                        check_id();
                        jos::exit();
                    }
                    Ok(id) => word(5 + i).store(id as u32, SeqCst),
                    Err(e) => panic!("fork: {e}"),
                }
            }
            check_id();
            jos::exit();
        }
        Ok(id) => kids[0] = id,
        Err(e) => panic!("sfork: {e}"),
    }
    clock.wait_yielding(3000, || env_status(kids[0]) == ENV_FREE);
    clock.wait_yielding(3000, || {
        word(5).load(SeqCst) != 0 && word(6).load(SeqCst) != 0
    });
    kids[1] = word(5).load(SeqCst) as EnvId;
    kids[2] = word(6).load(SeqCst) as EnvId;
    for k in kids {
        clock.wait_yielding(3000, || env_status(k) == ENV_FREE);
    }
    check_id();
    let sfork_ok = word(4).load(SeqCst) == 0;
    report("sfork chains: each env sees its own id", sfork_ok);
    let _ = sys_page_unmap(0, SHARED);
    if exec_ok && fork_ok && sfork_ok {
        cprintf!("perenvexec: OK\n");
    }
}
