//! testtime (JOS's lab-6 user/testtime.c): counts down from 5 to 0, one
//! number a second, on the kernel's clock (`sys_time_msec`), then drops
//! into the kernel monitor with a breakpoint, as JOS's does (MIT's grader
//! stops there). It checks that the clock never goes backwards (or wraps,
//! as JOS's sleep does) and that each sleep took a second: a failure is a
//! user panic, and the count-down line stops short.
#![no_std]
#![no_main]

use core::arch::asm;
use jos::cprintf;
use jos::syscall::{sys_time_msec, sys_yield};
use jos::time::sleep;

jos::main!(umain);

fn umain(_args: &[&str]) {
    // Wait for the console to calm down.
    for _ in 0..50 {
        sys_yield();
    }

    cprintf!("starting count down: ");
    for i in (0..=5).rev() {
        cprintf!("{} ", i);
        let before = sys_time_msec();
        let slept = sleep(1);
        let after = sys_time_msec();
        if after < before {
            panic!("sys_time_msec went backwards (or wrapped): {before} ms, then {after} ms");
        }
        if after - before < 1000 || slept < 1000 {
            panic!(
                "sleep(1) returned after {} ms ({} ms by its count)",
                after - before,
                slept
            );
        }
    }
    cprintf!("\n");
    // SAFETY: the breakpoint trap goes to the kernel monitor; `continue`
    // there resumes after the instruction, and the program exits.
    unsafe { asm!("int $3", options(att_syntax, nomem, nostack)) };
}
