// make: FS=1
//! init: checks that its initialised data and bss arrived intact (here:
//! paged in on demand from the file server), prints its arguments, then
//! opens the console as fds 0 and 1 and runs the shell for ever (JOS's
//! user/init.c).
#![no_std]
#![no_main]

use core::fmt::Write;
use jos::cprintf;

jos::main!(umain);

/// JOS's `data`: 5000 + 1000 bytes of initialised data, two strings.
#[repr(C)]
struct Data {
    msg1: [u8; 5000],
    msg2: [u8; 1000],
}

/// Copies `s` into a zeroed array of `N` bytes (const).
const fn padded<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let mut i = 0;
    while i < s.len() {
        a[i] = s[i];
        i += 1;
    }
    a
}

/// Writable, so it is in .data (a copy-on-write page for a spawned init).
static mut DATA: Data = Data {
    msg1: padded(b"this is initialized data"),
    msg2: padded(b"so is this"),
};

const BSS_SIZE: usize = 6000;
/// 6000 bytes of bss.
static mut BSS: [u8; BSS_SIZE] = [0; BSS_SIZE];

/// JOS's checksum: the XOR of i * s[i] (s[i] a signed char).
fn sum(s: &[u8]) -> i32 {
    s.iter().enumerate().fold(0, |tot, (i, &c)| {
        tot ^ (i as i32).wrapping_mul(c as i8 as i32)
    })
}

fn umain(args: &[&str]) {
    cprintf!("init: running\n");
    // SAFETY: one thread; nothing else refers to DATA or BSS.
    let (data, bss) = unsafe {
        (
            core::slice::from_raw_parts((&raw const DATA).cast::<u8>(), size_of::<Data>()),
            core::slice::from_raw_parts((&raw const BSS).cast::<u8>(), BSS_SIZE),
        )
    };
    let want = 0xf989e;
    let x = sum(data);
    if x != want {
        cprintf!(
            "init: data is not initialized: got sum {:08x} wanted {:08x}\n",
            x,
            want
        );
    } else {
        cprintf!("init: data seems okay\n");
    }
    let x = sum(bss);
    if x != 0 {
        cprintf!("bss is not initialized: wanted sum 0 got {:08x}\n", x);
    } else {
        cprintf!("init: bss seems okay\n");
    }
    // One line, one system call where it fits (no interleaving with other
    // output), written on the stack: init's first heap allocation (the
    // allocator's and the lazy heap's code run for the first time) took 4
    // ms of the boot to `$ ` under QEMU's translation, for one line.
    let mut w = jos::printf::Writer::new();
    let _ = write!(w, "init: args:");
    for a in args {
        let _ = write!(w, " '{a}'");
    }
    let _ = writeln!(w);
    w.flush();

    cprintf!("init: running sh\n");
    // Started by the kernel or icode: no file descriptors open yet.
    let _ = jos::fd::close(0);
    match jos::console::opencons() {
        Ok(0) => {}
        Ok(r) => panic!("first opencons used fd {r}"),
        Err(e) => panic!("opencons: {e}"),
    }
    if let Err(e) = jos::fd::dup(0, 1) {
        panic!("dup: {e}");
    }
    loop {
        cprintf!("init: starting sh\n");
        match jos::spawnl!("/sh", "sh") {
            Ok(r) => jos::env::wait(r),
            Err(e) => cprintf!("init: spawn sh: {}\n", e),
        }
    }
}
