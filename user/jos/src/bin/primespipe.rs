// make: FS=1
//! primespipe (JOS's user/primespipe.c): the concurrent prime sieve of
//! Doug McIlroy (the inventor of Unix pipes), over pipes: a generator
//! writes 2, 3, 4, ... into a pipe; each process in the chain reads its
//! first number, a prime, prints it, forks the next process with a new
//! pipe, and passes on every number its prime does not divide. It runs
//! until there are no environments left (fork fails, around prime 8000);
//! graders stop at the first 4-digit prime. See
//! <http://swtch.com/~rsc/thread/>.
#![no_std]
#![no_main]

use jos::cprintf;
use jos::fd::{close, readn, write};
use jos::pipe::pipe;

jos::main!(umain);

/// Reads one number from `fd`: Err(bytes read) if the pipe ends first.
/// Panics on a read error.
fn read_u32(fd: usize) -> Result<u32, usize> {
    let mut b = [0u8; 4];
    match readn(fd, &mut b) {
        Ok(4) => Ok(u32::from_ne_bytes(b)),
        Ok(n) => Err(n),
        Err(e) => panic!("readn {fd}: {e}"),
    }
}

/// One process of the chain, reading from `fd`; never returns.
fn primeproc(mut fd: usize) -> ! {
    // Each loop is one process: the child of a fork goes round again.
    loop {
        // Fetch a prime from our left neighbor.
        let p = read_u32(fd)
            .unwrap_or_else(|n| panic!("primeproc could not read initial prime: {n} bytes"));
        cprintf!("{}\n", p);

        // Fork a right neighbor to continue the chain.
        let pfd = pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
        let id = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
        if id == 0 {
            let _ = close(fd);
            let _ = close(pfd[1]);
            fd = pfd[0];
            continue;
        }
        let _ = close(pfd[0]);
        let wfd = pfd[1];

        // Filter out multiples of our prime.
        loop {
            let i = read_u32(fd).unwrap_or_else(|n| panic!("primeproc {p} readn {fd}: {n} bytes"));
            if !i.is_multiple_of(p) {
                match write(wfd, &i.to_ne_bytes()) {
                    Ok(4) => {}
                    Ok(n) => panic!("primeproc {p} write: {n} bytes"),
                    Err(e) => panic!("primeproc {p} write: {e}"),
                }
            }
        }
    }
}

fn umain(_args: &[&str]) {
    let p = pipe().unwrap_or_else(|e| panic!("pipe: {e}"));

    // Fork the first prime process in the chain.
    let id = jos::fork().unwrap_or_else(|e| panic!("fork: {e}"));
    if id == 0 {
        let _ = close(p[1]);
        primeproc(p[0]);
    }
    let _ = close(p[0]);

    // Feed all the integers through.
    for i in 2u32.. {
        match write(p[1], &i.to_ne_bytes()) {
            Ok(4) => {}
            Ok(n) => panic!("generator write: {n} bytes"),
            Err(e) => panic!("generator write: {e}"),
        }
    }
}
