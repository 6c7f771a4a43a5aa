//! badptr: pointers a user passes never become the kernel's pointers.
//!
//! A null pointer with length 0 (`sys_cputs(NULL, 0)`, which is what an
//! `int $0x30` with every register zero is) used to panic the kernel:
//! `user_mem_check` accepts any pointer for length 0, and the kernel then
//! built a Rust slice from it. Page 0 is an ordinary user page if a program
//! maps it, so even a non-zero length at address 0 is legal. Checks:
//! - `int $0x30` with eax, edx, ecx, ebx, edi, esi all zero returns 0;
//! - `sys_cputs` with length 0 at 0, at a kernel address, at an unmapped
//!   address and at the top of memory: nothing printed, no error;
//! - with page 0 mapped, `sys_cputs(0, n)` prints what is there, and
//!   `sys_env_set_trapframe` takes a frame stored at address 0.
//!
//! Each check prints `badptr: <what> OK`; the end is `badptr: OK`.
#![no_std]
#![no_main]

use abi::memlayout::{KERNBASE, USTACKTOP};
use abi::mmu::{PTE_RW, PteFlags};
use abi::trap::{T_SYSCALL, Trapframe};
use jos::cprintf;
use jos::syscall::{
    sys_cputs_raw, sys_env_destroy, sys_page_alloc, sys_page_map, sys_page_unmap, sys_yield,
};

jos::main!(umain);

/// Where page 0's page is also mapped, so we can fill it without writing
/// through a null pointer. Both mappings are PTE_SHARE, so fork leaves them
/// one page (not two copy-on-write ones).
const WINDOW: usize = 0x0a00_0000;
const WINDOW_PERM: PteFlags = PTE_RW.union(PteFlags::SHARE);
const TEXT: &[u8] = b"badptr: printed from address 0\n";

/// `int $0x30` with every argument register (and eax) zero.
fn zero_syscall() -> i32 {
    let ret: i32;
    // SAFETY: system call 0 is sys_cputs; with length 0 it reads nothing.
    // esi is saved around the call (it cannot be an operand on i686).
    unsafe {
        core::arch::asm!(
            "pushl %esi",
            "xorl %esi, %esi",
            "int ${t}",
            "popl %esi",
            t = const T_SYSCALL,
            inlateout("eax") 0 => ret,
            in("edx") 0,
            in("ecx") 0,
            in("ebx") 0,
            in("edi") 0,
            options(att_syntax),
        );
    }
    ret
}

/// Where the child sent by a frame at address 0 goes.
extern "C" fn landed() -> ! {
    cprintf!("badptr: a frame read from address 0 started the child\n");
    jos::exit();
}

fn umain(_args: &[&str]) {
    let r = zero_syscall();
    if r != 0 {
        panic!("int $0x30 with zero registers returned {r}");
    }
    cprintf!("badptr: int $0x30 with every register zero OK\n");

    for va in [0, KERNBASE, 0x0f00_0000, usize::MAX] {
        sys_cputs_raw(va, 0);
    }
    cprintf!("badptr: sys_cputs of length 0 at null, kernel, unmapped and top addresses OK\n");

    // Page 0, filled through WINDOW.
    if let Err(e) = sys_page_alloc(0, WINDOW, WINDOW_PERM) {
        panic!("sys_page_alloc: {e}");
    }
    if let Err(e) = sys_page_map(0, WINDOW, 0, 0, WINDOW_PERM) {
        panic!("sys_page_map to page 0: {e}");
    }
    // SAFETY: WINDOW is our page; the text fits in it.
    unsafe {
        core::ptr::copy_nonoverlapping(TEXT.as_ptr(), WINDOW as *mut u8, TEXT.len());
    }
    sys_cputs_raw(0, TEXT.len());
    cprintf!("badptr: sys_cputs from a mapped page 0 OK\n");

    // A child waiting in a loop; new registers for it from address 0.
    let child = match jos::fork() {
        Ok(0) => loop {
            sys_yield();
        },
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    let mut tf = Trapframe::zeroed();
    tf.tf_eip = landed as *const () as usize as u32;
    tf.tf_esp = (USTACKTOP - 64) as u32;
    // SAFETY: the frame fits in WINDOW, our page (page 0 is the same page).
    unsafe { (WINDOW as *mut Trapframe).write_unaligned(tf) };
    // SAFETY: the kernel reads a Trapframe at address 0, which is mapped.
    let r = unsafe {
        jos::syscall::syscall_raw(
            abi::syscall::Syscall::EnvSetTrapframe as u32,
            child as u32,
            0,
            0,
            0,
            0,
        )
    };
    if r != 0 {
        let _ = sys_env_destroy(child);
        panic!("sys_env_set_trapframe from address 0 returned {r}");
    }
    jos::env::wait(child);
    cprintf!("badptr: sys_env_set_trapframe with a frame at address 0 OK\n");

    for va in [0, WINDOW] {
        if let Err(e) = sys_page_unmap(0, va) {
            panic!("sys_page_unmap: {e}");
        }
    }
    cprintf!("badptr: OK\n");
}
