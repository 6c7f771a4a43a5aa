//! nethostile: the network system calls (sys_net_try_transmit,
//! sys_net_try_receive, sys_kern_cmdline) given bad pointers and lengths
//! return errors, never panic the kernel, never end the caller, and never
//! take a frame they cannot deliver.
//!
//! Transmit: lengths 0, MAX_FRAME + 1 and 4 GiB are Inval; a frame at
//! address 0 (unmapped), in the kernel, at the top of user memory or
//! running off the end of a mapped page is Fault; one in a read-only page
//! is sent. Receive (nothing is sent to us, so none waits): a buffer we
//! cannot write (unmapped, read-only, the kernel's, running off a page) is
//! Fault even though no frame waits; a good buffer is Again. The command
//! line: a bad buffer is Fault, a short one gets a prefix and the whole
//! length. Last, the transmit ring is driven ten times round with
//! MAX_FRAME-byte frames (broadcast, ethertype 0x88B5, which QEMU's user
//! network ignores): every one is taken (E_AGAIN at most for a while).
//!
//! Each check prints `nethostile: <what> OK`; the end is `nethostile: OK`.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::memlayout::{KERNBASE, UENVS, ULIM, UTOP, UVPT};
use abi::mmu::{PGSIZE, PTE_RW, PTSIZE, PteFlags};
use abi::net::MAX_FRAME;
use jos::cprintf;
use jos::syscall::{
    sys_kern_cmdline, sys_net_try_receive_raw, sys_net_try_transmit, sys_net_try_transmit_raw,
    sys_page_alloc, sys_page_map, sys_yield,
};

jos::main!(umain);

/// A scratch page (mapped read-write here, and read-only at RO).
const RW: usize = 0x0b00_0000;
const RO: usize = RW + PGSIZE;
/// Unmapped: the page after RO.
const HOLE: usize = RO + PGSIZE;

fn expect<T: core::fmt::Debug>(what: &str, got: Result<T, Error>, want: Result<(), Error>) {
    let ok = match (&got, want) {
        (Ok(_), Ok(())) => true,
        (Err(e), Err(w)) => *e == w,
        _ => false,
    };
    if !ok {
        panic!("{}: got {:?}, expected {:?}", what, got, want);
    }
    cprintf!("nethostile: {} OK\n", what);
}

fn umain(_args: &[&str]) {
    let ro = PteFlags::P | PteFlags::U;
    sys_page_alloc(0, RW, PTE_RW).expect("sys_page_alloc");
    sys_page_map(0, RW, 0, RO, ro).expect("sys_page_map");
    // SAFETY: RW is our page, just mapped.
    let page = unsafe { core::slice::from_raw_parts_mut(RW as *mut u8, PGSIZE) };
    page[..6].fill(0xff); // broadcast: QEMU's user network ignores it
    page[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());

    let tx = |va: usize, len: usize| sys_net_try_transmit_raw(va, len);
    expect("transmit length 0", tx(RW, 0), Err(Error::Inval));
    expect(
        "transmit MAX_FRAME + 1",
        tx(RW, MAX_FRAME + 1),
        Err(Error::Inval),
    );
    expect("transmit 4 GiB - 1", tx(RW, usize::MAX), Err(Error::Inval));
    expect("transmit from address 0", tx(0, 60), Err(Error::Fault));
    expect(
        "transmit from the kernel",
        tx(KERNBASE + 0x100000, 60),
        Err(Error::Fault),
    );
    expect("transmit across UTOP", tx(UTOP - 30, 60), Err(Error::Fault));
    expect(
        "transmit off a page's end",
        tx(RO + PGSIZE - 30, 60),
        Err(Error::Fault),
    );
    expect(
        "transmit from an unmapped page",
        tx(HOLE, 60),
        Err(Error::Fault),
    );
    expect("transmit a read-only page", tx(RO, 60), Ok(()));
    // UVPT's last page is the directory's last entry, a kernel 4 MiB page
    // (no PTE_U): the failed check's address is no page a pager serves,
    // and must not be looked up as one (it panicked the kernel: pager.rs).
    expect(
        "transmit from UVPT's last page",
        tx(UVPT + PTSIZE - PGSIZE, 60),
        Err(Error::Fault),
    );
    expect("transmit across ULIM", tx(ULIM - 30, 60), Err(Error::Fault));

    let rx = |va: usize, len: usize| {
        // SAFETY: only the scratch pages, addresses we cannot write, or
        // the kernel's: nothing Rust references.
        unsafe { sys_net_try_receive_raw(va, len) }
    };
    expect(
        "receive into address 0",
        rx(0, MAX_FRAME),
        Err(Error::Fault),
    );
    expect(
        "receive into the kernel",
        rx(KERNBASE, MAX_FRAME),
        Err(Error::Fault),
    );
    expect(
        "receive into a read-only page",
        rx(RO, MAX_FRAME),
        Err(Error::Fault),
    );
    expect(
        "receive off a page's end",
        rx(RW + PGSIZE - 100, MAX_FRAME),
        Err(Error::Fault),
    );
    expect(
        "receive across 4 GiB",
        rx(usize::MAX - 10, MAX_FRAME),
        Err(Error::Fault),
    );
    expect("receive into UVPT", rx(UVPT, MAX_FRAME), Err(Error::Fault));
    expect(
        "receive into UENVS",
        rx(UENVS, MAX_FRAME),
        Err(Error::Fault),
    );
    expect(
        "receive, none waiting",
        rx(RW, MAX_FRAME),
        Err(Error::Again),
    );

    // The same address through sys_cputs (user_mem_assert, which also
    // asks the pager first), in a child it ends.
    match jos::fork() {
        Err(e) => panic!("fork: {}", e),
        Ok(0) => {
            jos::syscall::sys_cputs_raw(UVPT + PTSIZE - PGSIZE, 1);
            panic!("sys_cputs of UVPT's last page returned");
        }
        Ok(child) => jos::env::wait(child),
    }

    let mut short = [0u8; 4];
    let whole = sys_kern_cmdline(&mut short).expect("sys_kern_cmdline");
    let mut all = [0u8; 512];
    let n = sys_kern_cmdline(&mut all).expect("sys_kern_cmdline");
    if whole != n
        || n <= 4
        || all[..4] != short
        || !all[..n].windows(14).any(|w| w == b"run=nethostile")
    {
        panic!(
            "sys_kern_cmdline: {} then {} bytes: {:?}",
            whole,
            n,
            &all[..n.min(64)]
        );
    }
    cprintf!("nethostile: command line read whole and in part OK\n");
    // SAFETY: the kernel checks the range and writes nothing there.
    let r = unsafe {
        jos::syscall::syscall(abi::syscall::Syscall::KernCmdline, RO as u32, 64, 0, 0, 0)
    };
    let r = if r < 0 {
        Err(Error::from_code(r).unwrap_or(Error::Unspecified))
    } else {
        Ok(r)
    };
    expect("command line into a read-only page", r, Err(Error::Fault));

    // The transmit ring, ten times round, with the longest frames.
    let mut again = 0u32;
    for i in 0..10 * 32u32 {
        page[14..18].copy_from_slice(&i.to_be_bytes());
        loop {
            match sys_net_try_transmit(&page[..MAX_FRAME]) {
                Ok(()) => break,
                Err(Error::Again) => {
                    again += 1;
                    sys_yield();
                }
                Err(e) => panic!("transmit {}: {}", i, e),
            }
        }
    }
    cprintf!(
        "nethostile: 320 frames of {} bytes sent ({} times the ring was full) OK\n",
        MAX_FRAME,
        again
    );
    cprintf!("nethostile: OK\n");
}
