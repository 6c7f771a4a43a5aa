//! zeropage: the shared zero page behind lazily allocated memory.
//!
//! 1. Grows the lazy heap by 64 MiB and reads one byte of every page: each
//!    read maps the one shared zero page, so no data page is allocated;
//!    only page tables are new, and the zero page gains exactly one
//!    reference per page read.
//! 2. Writes one byte in each of 256 of those pages: each write gets a
//!    fresh page of its own (a distinct frame, writable, zero but for the
//!    byte), and the zero page loses one reference per page written.
//! 3. Shrinks the heap back: everything is unmapped, and the zero page's
//!    reference count is back where it started.
//! 4. Does the same with `map_zero` over 1 MiB at a fixed address (no
//!    faults for reads at all).
//! 5. Forks: the child's write to the zero page gets a fresh page, and its
//!    write to a page shared copy-on-write with the parent still gets a
//!    private copy (the zero page's COW handler passes those on to fork's).
//!
//! Each step prints what it measured; the last line is `zeropage: OK`, or
//! lines with `FAILED` say what went wrong.
#![no_std]
#![no_main]

use abi::mmu::{NPTENTRIES, PGSIZE, PteFlags, pdx, pgnum, round_up};
use core::ptr::{read_volatile, write_volatile};
use jos::cprintf;
use jos::uvpt::{pte_of, uvpd, uvpt};
use jos::vm::heap::sbrk;
use jos::vm::zero::{is_zero_page, map_zero, unmap_range, zero_page_pa, zero_refcount};
use jos::{ipc_recv, ipc_send};

jos::main!(umain);

/// Bytes of heap read through the zero page.
const HEAP_BYTES: usize = 64 << 20;
/// Pages written after the reads.
const WRITE_PAGES: usize = 256;
/// Where `map_zero` is tried: far above the heap's pages.
const MAP_VA: usize = 0x4000_0000;
/// Pages mapped there.
const MAP_PAGES: usize = 256;

/// What the page tables say about a range of addresses.
#[derive(Clone, Copy)]
struct Census {
    /// Pages mapping the zero page.
    zero: usize,
    /// Pages mapping any other frame: data pages.
    data: usize,
    /// Page tables present for the range.
    tables: usize,
}

/// Counts the pages mapped in [start, end) and the page tables covering it,
/// walking our page tables through UVPT.
fn census(start: usize, end: usize) -> Census {
    let mut c = Census {
        zero: 0,
        data: 0,
        tables: 0,
    };
    for d in pdx(start)..=pdx(end - 1) {
        if !uvpd(d).is_present() {
            continue;
        }
        c.tables += 1;
        let first = pgnum(start).max(d * NPTENTRIES);
        let last = pgnum(end - 1).min(d * NPTENTRIES + NPTENTRIES - 1);
        for pn in first..=last {
            let pte = uvpt(pn);
            if is_zero_page(pte) {
                c.zero += 1;
            } else if pte.is_present() {
                c.data += 1;
            }
        }
    }
    c
}

/// Prints `zeropage: FAILED: <what>` unless `ok`; returns 1 if it failed.
fn check(ok: bool, what: &str) -> u32 {
    if !ok {
        cprintf!("zeropage: FAILED: {}\n", what);
    }
    u32::from(!ok)
}

/// Reads the byte at `va`.
fn peek(va: usize) -> u8 {
    // SAFETY: `va` is in memory this program mapped (or lets the heap's
    // fault handler map) for the test; nothing else refers to it.
    unsafe { read_volatile(va as *const u8) }
}

/// Writes the byte at `va`.
fn poke(va: usize, b: u8) {
    // SAFETY: as in peek.
    unsafe { write_volatile(va as *mut u8, b) }
}

/// The byte written into page `i`, and its offset in the page.
fn mark(i: usize) -> (usize, u8) {
    ((i * 97) % PGSIZE, (i as u8) | 1)
}

/// Steps 1 to 3: the lazy heap. Returns the number of failed checks.
fn heap_steps() -> u32 {
    let mut fails = 0;
    let n = HEAP_BYTES / PGSIZE;
    let zpa = zero_page_pa();
    let rc0 = zero_refcount();
    let brk = sbrk(0).unwrap_or_else(|e| panic!("sbrk(0): {e}"));
    let base = round_up(brk, PGSIZE).expect("break below 4 GiB");
    let grow = base - brk + HEAP_BYTES;
    if let Err(e) = sbrk(grow as isize) {
        panic!("sbrk({grow}): {e}");
    }
    let end = base + HEAP_BYTES;
    let c0 = census(base, end);
    cprintf!(
        "zeropage: sbrk'd {} MiB at {:08x}: {} pages mapped, zero page at pa {:08x} with {} references\n",
        HEAP_BYTES >> 20,
        base,
        c0.zero + c0.data,
        zpa,
        rc0
    );
    fails += check(c0.zero + c0.data == 0, "sbrk mapped pages");

    // 1. Read one byte per page.
    let mut sum = 0usize;
    for i in 0..n {
        sum += usize::from(peek(base + i * PGSIZE + mark(i).0));
    }
    let c1 = census(base, end);
    let rc1 = zero_refcount();
    cprintf!(
        "zeropage: read {} pages, {} data pages allocated\n",
        n,
        c1.data
    );
    cprintf!(
        "zeropage: {} pages map the zero page, its references went up by {}; {} new page-table pages\n",
        c1.zero,
        rc1 - rc0,
        c1.tables - c0.tables
    );
    fails += check(sum == 0, "the heap did not read as zeros");
    fails += check(c1.data == 0, "reading allocated data pages");
    fails += check(c1.zero == n, "not every page read maps the zero page");
    fails += check(rc1 - rc0 == n, "zero page references != pages read");

    // 2. Write one byte in each of the first WRITE_PAGES pages.
    for i in 0..WRITE_PAGES {
        let (off, b) = mark(i);
        poke(base + i * PGSIZE + off, b);
    }
    let c2 = census(base, end);
    let rc2 = zero_refcount();
    cprintf!(
        "zeropage: wrote {} pages, {} pages allocated\n",
        WRITE_PAGES,
        c2.data - c1.data
    );
    fails += check(
        c2.data - c1.data == WRITE_PAGES,
        "not one page per page written",
    );
    fails += check(
        c2.zero == n - WRITE_PAGES,
        "written pages still map the zero page",
    );
    fails += check(
        rc1 - rc2 == WRITE_PAGES,
        "zero page references not down by the pages written",
    );
    fails += check(c2.tables == c1.tables, "writing allocated page tables");
    let mut frames = [0usize; WRITE_PAGES];
    let mut contents_ok = true;
    let mut perms_ok = true;
    for (i, frame) in frames.iter_mut().enumerate() {
        let page = base + i * PGSIZE;
        let pte = pte_of(page).unwrap_or_else(|| panic!("page {page:#x} not mapped"));
        *frame = pte.addr();
        perms_ok &= pte.flags().contains(PteFlags::W) && !pte.flags().contains(PteFlags::COW);
        let (off, b) = mark(i);
        contents_ok &= (0..PGSIZE).all(|k| peek(page + k) == if k == off { b } else { 0 });
    }
    frames.sort_unstable();
    let distinct = frames.windows(2).all(|w| w[0] != w[1]) && !frames.contains(&zpa);
    cprintf!(
        "zeropage: written pages: distinct frames {}, writable {}, zero but for the byte written {}\n",
        if distinct { "yes" } else { "NO" },
        if perms_ok { "yes" } else { "NO" },
        if contents_ok { "yes" } else { "NO" }
    );
    fails += check(distinct && perms_ok && contents_ok, "written pages");

    // 3. Give it all back.
    if let Err(e) = sbrk(-(grow as isize)) {
        panic!("sbrk(-{grow}): {e}");
    }
    let c3 = census(base, end);
    let rc3 = zero_refcount();
    cprintf!(
        "zeropage: shrank the heap: {} pages mapped, zero page references {} ({} at the start)\n",
        c3.zero + c3.data,
        rc3,
        rc0
    );
    fails += check(c3.zero + c3.data == 0, "pages left after shrinking");
    fails += check(rc3 == rc0, "zero page references not restored");
    fails
}

/// Step 4: `map_zero`. Returns the number of failed checks.
fn map_zero_step() -> u32 {
    let mut fails = 0;
    let end = MAP_VA + MAP_PAGES * PGSIZE;
    let rc0 = zero_refcount();
    if let Err(e) = map_zero(MAP_VA, MAP_PAGES * PGSIZE) {
        panic!("map_zero: {e}");
    }
    let rc1 = zero_refcount();
    let sum: usize = (0..MAP_PAGES)
        .map(|i| usize::from(peek(MAP_VA + i * PGSIZE)))
        .sum();
    let c1 = census(MAP_VA, end);
    poke(MAP_VA + 7 * PGSIZE + 5, 0x5a);
    let c2 = census(MAP_VA, end);
    let rc2 = zero_refcount();
    let kept = peek(MAP_VA + 7 * PGSIZE + 5) == 0x5a;
    if let Err(e) = unmap_range(MAP_VA, MAP_PAGES * PGSIZE) {
        panic!("unmap_range: {e}");
    }
    let c3 = census(MAP_VA, end);
    let rc3 = zero_refcount();
    cprintf!(
        "zeropage: map_zero {} pages: {} more zero page references, reads allocated {} pages, one write {}\n",
        MAP_PAGES,
        rc1 - rc0,
        c1.data,
        c2.data
    );
    cprintf!(
        "zeropage: unmapped them: {} pages mapped, zero page references {} ({} before)\n",
        c3.zero + c3.data,
        rc3,
        rc0
    );
    fails += check(rc1 - rc0 == MAP_PAGES && c1.zero == MAP_PAGES, "map_zero");
    fails += check(sum == 0 && c1.data == 0, "reads of map_zero pages");
    fails += check(
        c2.data == 1 && c2.zero == MAP_PAGES - 1 && rc1 - rc2 == 1,
        "one write to map_zero pages",
    );
    fails += check(kept, "the byte written");
    fails += check(c3.zero + c3.data == 0 && rc3 == rc0, "unmap_range");
    fails
}

/// Step 5: fork with zero-page and copy-on-write pages. Returns the number
/// of failed checks (the child's included).
fn fork_step() -> u32 {
    let mut fails = 0;
    let brk = sbrk(0).unwrap_or_else(|e| panic!("sbrk(0): {e}"));
    let base = round_up(brk, PGSIZE).expect("break below 4 GiB");
    if let Err(e) = sbrk((base - brk + 2 * PGSIZE) as isize) {
        panic!("sbrk: {e}");
    }
    let zero_va = base; // read only: maps the zero page
    let data_va = base + PGSIZE; // written: a data page
    peek(zero_va);
    poke(data_va, 0x11);
    let child = match jos::fork() {
        Ok(0) => {
            let mut f = 0;
            f += check(
                pte_of(zero_va).is_some_and(is_zero_page),
                "child: zero page",
            );
            let shared = pte_of(data_va).map(|p| p.addr());
            poke(zero_va, 0x22);
            poke(data_va, 0x33);
            let z = pte_of(zero_va).expect("mapped");
            let d = pte_of(data_va).expect("mapped");
            f += check(
                !is_zero_page(z) && z.flags().contains(PteFlags::W) && peek(zero_va) == 0x22,
                "child: write to the zero page",
            );
            f += check(
                Some(d.addr()) != shared
                    && d.flags().contains(PteFlags::W)
                    && peek(data_va) == 0x33,
                "child: write to a page shared with the parent",
            );
            let parent = jos::env::thisenv_read().env_parent_id;
            ipc_send(parent, f, None, PteFlags::empty());
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    let m = ipc_recv(None).unwrap_or_else(|e| panic!("ipc_recv: {e}"));
    fails += check(m.from == child, "message from the child");
    fails += m.value;
    fails += check(
        pte_of(zero_va).is_some_and(is_zero_page) && peek(zero_va) == 0 && peek(data_va) == 0x11,
        "parent: sees none of the child's writes",
    );
    cprintf!(
        "zeropage: fork: the child's writes to the zero page and to a copy-on-write page {}\n",
        if m.value == 0 { "OK" } else { "FAILED" }
    );
    fails
}

fn umain(_args: &[&str]) {
    // This program relies on the library's guards (the stack grows on
    // demand, null pointers are reported): it asks for them.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("enable_default_guards: {e}");
    }
    let fails = heap_steps() + map_zero_step() + fork_step();
    if fails == 0 {
        cprintf!("zeropage: OK\n");
    } else {
        cprintf!("zeropage: {} checks FAILED\n", fails);
    }
}
