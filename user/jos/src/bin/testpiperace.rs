// make: FS=1
//! testpiperace (JOS's user/testpiperace.c): a child checks 200 times
//! that its pipe is open while the parent dups the read end to fd 10 over
//! and over (each dup closes fd 10 first), so the reference counts that
//! `pipeisclosed` compares keep moving under it. The pipe must never look
//! closed ("RACE: pipe appears closed"), and the counts must end right
//! ("race didn't happen").
#![no_std]
#![no_main]

use abi::env::{ENV_RUNNABLE, ENV_RUNNING, envx};
use jos::cprintf;
use jos::env::env_status;
use jos::fd::{dup, fd_lookup, fd2data};
use jos::pipe::{pipe, pipeisclosed};
use jos::syscall::sys_yield;
use jos::uvpt::pageref;

jos::main!(umain);

fn umain(_args: &[&str]) {
    cprintf!("testing for dup race...\n");
    let p = pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    let max = 200;
    let pid = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    if pid == 0 {
        let _ = jos::fd::close(p[1]);
        // The count of p[0]'s Fd page now goes between 2 and 3 as the
        // parent dups and closes it, the pipe page's between 3 and 4 (p[1]
        // is the parent's alone). If the two counts were caught between a
        // close's (or a dup's) two steps, they could read as equal: closed.
        for _ in 0..max {
            if pipeisclosed(p[0]) == Ok(true) {
                cprintf!("RACE: pipe appears closed\n");
                jos::exit();
            }
            sys_yield();
        }
        // Do something to be not runnable besides exiting.
        let _ = jos::ipc_recv(None);
        jos::exit();
    }
    cprintf!("pid is {}\n", pid);
    cprintf!("kid is {}\n", envx(pid));
    let _ = dup(p[0], 10);
    // (JOS waits while the kid is ENV_RUNNABLE; with several CPUs it may
    // also be running.)
    while matches!(env_status(pid), ENV_RUNNABLE | ENV_RUNNING) {
        let _ = dup(p[0], 10);
    }
    cprintf!("child done with loop\n");
    if pipeisclosed(p[0]) == Ok(true) {
        panic!("somehow the other end of p[0] got closed!");
    }
    let fd = fd_lookup(p[0]).unwrap_or_else(|e| panic!("cannot look up p[0]: {e}"));
    // p[0] and p[1] here, fd 10 here, p[0] in the kid.
    if pageref(fd2data(fd)) != 3 + 1 {
        cprintf!("\nchild detected race\n");
    } else {
        cprintf!("\nrace didn't happen\n");
    }
}
