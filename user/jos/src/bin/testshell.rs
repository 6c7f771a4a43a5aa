// make: FS=1
//! testshell: runs `sh -x < testshell.sh` into a pipe and compares what it
//! prints, byte for byte, with testshell.key (JOS's user/testshell.c).
//! Prints `shell ran correctly`, or both texts from the line where they
//! part; then stops at a breakpoint, as JOS's does (`continue` in the
//! monitor lets it exit).
//!
//! The key's lsfd lines say the pipe holds 32 bytes (full) when lsfd
//! stats it, right after its line before: lsfd writes into the full pipe
//! a byte each time we take one, so its line's last byte fills it again.
//! That order of turns is the round robin's: we take a byte and block in
//! our IPC call for the key's byte; lsfd runs next (after our shell's
//! waiting envs) and refills the pipe, then the server answers us. The
//! race: a timer tick that stops lsfd between its last byte and its
//! fstat (about 400 instructions) lets the server and then us run first,
//! and lsfd sees 31 bytes. JOS has that window too; a trace of env
//! switches had the tick there in every failure. It was wide under a
//! loaded host: it is the first run of that code, which QEMU translates
//! then (the first lsfd's window took ~350 us of host time, ~80 us once
//! lsfd no longer freed a String in it, ~15 us in the second lsfd), and
//! ticks come often while QEMU's thread waits for the host CPU and the
//! guest's clock runs on. We used to yield before every byte to paper
//! over it (without, one failure in six runs under load); now lsfd writes
//! as JOS's does (fprintf!), and a tick stops only an env that has run
//! for a whole tick period (kern/src/sched.rs, sched_tick), which lsfd,
//! just resumed, has not.
//!
//! The key holds on one CPU only (MIT's grader runs it so). With two,
//! lsfd and we run side by side, and QEMU (`-accel tcg,thread=single`)
//! runs the CPUs in turns: how full the pipe is when lsfd looks depends
//! on those turns (traced: we waited on an empty pipe on one CPU while
//! lsfd, on the other, saw 18 bytes). The per-byte yield did not help
//! there either.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::cprintf;
use jos::fd::{close, dup, read, seek};
use jos::file::open;
use jos::syscall::sys_cputs;

jos::main!(umain);

fn umain(_argv: &[&str]) {
    let _ = close(0);
    let _ = close(1);
    let _ = jos::console::opencons();
    let _ = jos::console::opencons();

    let rfd = open("testshell.sh", O_RDONLY).unwrap_or_else(|e| panic!("open testshell.sh: {e}"));
    let [pread, wfd] = jos::pipe::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));

    cprintf!("running sh -x < testshell.sh | cat\n");
    let r = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    if r == 0 {
        let _ = dup(rfd, 0);
        let _ = dup(wfd, 1);
        let _ = close(rfd);
        let _ = close(wfd);
        let r = jos::spawnl!("/sh", "sh", "-x").unwrap_or_else(|e| panic!("spawn: {e}"));
        let _ = close(0);
        let _ = close(1);
        jos::env::wait(r);
        jos::env::exit();
    }
    let _ = close(rfd);
    let _ = close(wfd);

    let kfd = open("testshell.key", O_RDONLY)
        .unwrap_or_else(|e| panic!("open testshell.key for reading: {e}"));
    let mut nloff = 0;
    let mut off = 0;
    loop {
        let (mut c1, mut c2) = ([0u8], [0u8]);
        let n1 = read(pread, &mut c1).unwrap_or_else(|e| panic!("reading testshell.out: {e}"));
        let n2 = read(kfd, &mut c2).unwrap_or_else(|e| panic!("reading testshell.key: {e}"));
        if n1 == 0 && n2 == 0 {
            break;
        }
        if n1 != 1 || n2 != 1 || c1 != c2 {
            wrong(pread, kfd, nloff);
        }
        if c1[0] == b'\n' {
            nloff = off + 1;
        }
        off += 1;
    }
    cprintf!("shell ran correctly\n");
    // SAFETY: the breakpoint trap enters the kernel monitor; `continue`
    // there resumes us after the instruction.
    unsafe { core::arch::asm!("int $3", options(att_syntax, nomem, nostack)) };
}

/// Prints what was expected and what came, from offset `off` (the start
/// of the line that differs), and exits.
fn wrong(rfd: usize, kfd: usize, off: u32) -> ! {
    let mut buf = [0u8; 100];
    let _ = seek(rfd, off);
    let _ = seek(kfd, off);
    cprintf!("shell produced incorrect output.\n");
    cprintf!("expected:\n===\n");
    while let Ok(n @ 1..) = read(kfd, &mut buf[..99]) {
        sys_cputs(&buf[..n]);
    }
    cprintf!("===\ngot:\n===\n");
    while let Ok(n @ 1..) = read(rfd, &mut buf[..99]) {
        sys_cputs(&buf[..n]);
    }
    cprintf!("===\n");
    jos::env::exit();
}
