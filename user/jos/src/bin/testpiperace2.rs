// make: FS=1
//! testpiperace2 (JOS's user/testpiperace2.c): the parent asks
//! `pipeisclosed` over and over while a child dups the read end to fd 10
//! and closes it again 200 times, yielding in between so the parent sees
//! it half way. The parent holds both ends, so the pipe must never look
//! closed ("race didn't happen").
#![no_std]
#![no_main]

use abi::env::{ENV_RUNNABLE, ENV_RUNNING};
use jos::cprintf;
use jos::env::env_status;
use jos::fd::{close, dup, fd_lookup, fd2data};
use jos::pipe::{pipe, pipeisclosed};
use jos::syscall::{sys_env_destroy, sys_yield};

jos::main!(umain);

fn umain(_args: &[&str]) {
    cprintf!("testing for pipeisclosed race...\n");
    let p = pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    let pid = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    if pid == 0 {
        // Dup, then close; yield in between so that the parent sees us
        // between the two.
        let _ = close(p[1]);
        for i in 0..200 {
            if i % 10 == 0 {
                cprintf!("{}.", i);
            }
            let _ = dup(p[0], 10);
            sys_yield();
            let _ = close(10);
            sys_yield();
        }
        jos::exit();
    }
    // We hold both p[0] and p[1], so the pipe is never closed. The count of
    // p[0]'s Fd page goes between 2 and 3 as the child dups and closes,
    // the pipe page's between 3 and 4: reading one count, then the child
    // acting, then the other could give equal counts, a wrong "closed".
    // (JOS loops while the child is ENV_RUNNABLE; with several CPUs it
    // may also be running.)
    while matches!(env_status(pid), ENV_RUNNABLE | ENV_RUNNING) {
        if pipeisclosed(p[0]) == Ok(true) {
            cprintf!("\nRACE: pipe appears closed\n");
            let _ = sys_env_destroy(pid);
            jos::exit();
        }
    }
    cprintf!("child done with loop\n");
    if pipeisclosed(p[0]) == Ok(true) {
        panic!("somehow the other end of p[0] got closed!");
    }
    let fd = fd_lookup(p[0]).unwrap_or_else(|e| panic!("cannot look up p[0]: {e}"));
    let _ = fd2data(fd);
    cprintf!("race didn't happen\n");
}
