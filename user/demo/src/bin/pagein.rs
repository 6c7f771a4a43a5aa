//! pagein: a spawned program reports how much of itself is in memory
//! (demand paging: only the pages it touched) and how many of its
//! read-only pages another running copy shares with it. Spawned by
//! `demandpage`; with the argument `wait` it tells its parent it is ready
//! and stays alive until the parent says go (with `late`, it then touches
//! everything and sends its parent a word); with `all` it first reads its
//! whole table and writes its whole buffer. The table (128 KiB of
//! read-only data) and the buffer (64 KiB of bss) are what a program
//! carries but may never touch.
#![no_std]
#![no_main]

use abi::mmu::{PGSIZE, PteFlags};
use jos::cprintf;
use jos::env::thisenv_read;
use jos::uvpt::{page_refcount, pte_of};

jos::main!(umain);

/// 128 KiB of read-only data (32 pages), in .rodata.
static TABLE: [u32; 32 * 1024] = {
    let mut t = [0u32; 32 * 1024];
    let mut i = 0;
    while i < t.len() {
        t[i] = (i as u32).wrapping_mul(2_654_435_761);
        i += 1;
    }
    t
};

/// 64 KiB of zeros (16 pages), in .bss.
static mut BUFFER: [u8; 64 * 1024] = [0; 64 * 1024];

/// Touches all of TABLE and BUFFER; returns a checksum so nothing is
/// optimised away.
fn touch_all() -> u32 {
    let mut sum = 0u32;
    for w in TABLE.iter().step_by(PGSIZE / 4) {
        // SAFETY: reading our own static through a volatile load.
        sum = sum.wrapping_add(unsafe { core::ptr::read_volatile(w) });
    }
    // SAFETY: as above.
    sum = sum.wrapping_add(unsafe { core::ptr::read_volatile(&TABLE[TABLE.len() - 1]) });
    let buf = &raw mut BUFFER;
    // Every page: one byte a page from the start, and the last byte (the
    // arrays need not be page-aligned, so they may end in one more page).
    for i in (0..64 * 1024).step_by(PGSIZE).chain([64 * 1024 - 1]) {
        // SAFETY: i is inside BUFFER; nothing else refers to it.
        unsafe { core::ptr::write_volatile((buf as *mut u8).add(i), 1) };
    }
    sum
}

fn umain(args: &[&str]) {
    if args.get(1) == Some(&"all") {
        cprintf!(
            "pagein: touched everything (checksum {:08x})\n",
            touch_all()
        );
    }
    let e = thisenv_read();
    let (lo, hi) = (e.env_pager_lo as usize, e.env_pager_hi as usize);
    if e.env_pager == 0 {
        cprintf!("pagein: not paged on demand (started by the kernel?)\n");
        return;
    }
    let total = (hi - lo) / PGSIZE;
    let mut present = 0;
    let mut readonly = 0;
    let mut shared = 0;
    for va in (lo..hi).step_by(PGSIZE) {
        let Some(pte) = pte_of(va) else { continue };
        present += 1;
        if !pte.flags().intersects(PteFlags::W | PteFlags::COW) {
            readonly += 1;
            // The file server's cache maps it once and we do: more is
            // another copy of the program.
            if page_refcount(pte.addr()).unwrap_or(0) >= 3 {
                shared += 1;
            }
        }
    }
    cprintf!(
        "pagein {:08x}: {} of {} program pages present, {} of them read-only, {} shared with another copy\n",
        e.env_id,
        present,
        total,
        readonly,
        shared
    );
    // TABLE and BUFFER alone: how much of what `all` touches is here (the
    // rest of the count above depends on which code ran, and where the
    // linker put it).
    let count = |start: usize, len: usize| {
        let (lo, hi) = (
            start & !(PGSIZE - 1),
            (start + len).next_multiple_of(PGSIZE),
        );
        let present = (lo..hi).step_by(PGSIZE).filter(|&va| pte_of(va).is_some());
        (present.count(), (hi - lo) / PGSIZE)
    };
    let (tp, tt) = count(TABLE.as_ptr() as usize, size_of_val(&TABLE));
    let (bp, bt) = count(&raw const BUFFER as usize, 64 * 1024);
    cprintf!(
        "pagein {:08x}: table {} of {} pages present, buffer {} of {}\n",
        e.env_id,
        tp,
        tt,
        bp,
        bt
    );
    if args.get(1) == Some(&"wait") || args.get(1) == Some(&"late") {
        jos::ipc_send(e.env_parent_id, 0, None, PteFlags::empty());
        let _ = jos::ipc_recv(None);
    }
    if args.get(1) == Some(&"late") {
        // Paged in only now (after the parent renamed or removed our file,
        // in pagerattack); tell the parent we got through.
        let sum = touch_all();
        jos::ipc_send(e.env_parent_id, sum | 1, None, PteFlags::empty());
    }
}
