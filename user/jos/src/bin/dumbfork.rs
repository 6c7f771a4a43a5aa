//! dumbfork: a fork without copy-on-write. The parent copies every page of
//! its program and its stack into a blank child, then both print, yielding
//! in between: the parent 10 times, the child 20 times.
#![no_std]
#![no_main]

use abi::env::{ENV_RUNNABLE, EnvId};
use abi::memlayout::{USTACKTOP, UTEMP, UTEXT};
use abi::mmu::{PGSIZE, PTE_RW, round_down};
use jos::cprintf;
use jos::syscall::{
    sys_env_set_status, sys_exofork, sys_page_alloc, sys_page_map, sys_page_unmap, sys_yield,
};

jos::main!(umain);

unsafe extern "C" {
    /// The end of the program's image (bss included), from user.ld.
    static end: u8;
}

/// Gives `dstenv` a fresh page at `addr` holding a copy of our page there,
/// going through a temporary mapping at UTEMP. Panics on any error.
fn duppage(dstenv: EnvId, addr: usize) {
    if let Err(e) = sys_page_alloc(dstenv, addr, PTE_RW) {
        panic!("sys_page_alloc: {e}");
    }
    if let Err(e) = sys_page_map(dstenv, addr, 0, UTEMP, PTE_RW) {
        panic!("sys_page_map: {e}");
    }
    // SAFETY: `addr` is one of our mapped pages and UTEMP the child's new
    // page, mapped just above; they are different pages.
    unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, UTEMP as *mut u8, PGSIZE) };
    if let Err(e) = sys_page_unmap(0, UTEMP) {
        panic!("sys_page_unmap: {e}");
    }
}

/// Creates a child with a full copy of our program and stack. Returns the
/// child's id in the parent, 0 in the child. Panics on any error.
fn dumbfork() -> EnvId {
    let envid = match sys_exofork() {
        Ok(id) => id,
        Err(e) => panic!("sys_exofork: {e}"),
    };
    if envid == 0 {
        // The child: `thisenv()` asks the kernel, nothing to fix.
        return 0;
    }
    // The parent: copy the program (text, data, bss)...
    let image_end = &raw const end as usize;
    for addr in (UTEXT..image_end).step_by(PGSIZE) {
        duppage(envid, addr);
    }
    // ...and the stack we are running on.
    let here = 0u8;
    let stack = round_down(&raw const here as usize, PGSIZE);
    for addr in (stack..USTACKTOP).step_by(PGSIZE) {
        duppage(envid, addr);
    }
    if let Err(e) = sys_env_set_status(envid, ENV_RUNNABLE) {
        panic!("sys_env_set_status: {e}");
    }
    envid
}

fn umain(_args: &[&str]) {
    let who = dumbfork();
    let (n, name) = if who != 0 {
        (10, "parent")
    } else {
        (20, "child")
    };
    for i in 0..n {
        cprintf!("{}: I am the {}!\n", i, name);
        sys_yield();
    }
}
