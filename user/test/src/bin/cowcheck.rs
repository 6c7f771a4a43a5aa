//! cowcheck: checks copy-on-write fork over several generations.
//!
//! Each generation fills two pages, A and B, with its own pattern and
//! forks. Then:
//! - the parent writes A: a page shared with the child is copied (the
//!   parent's physical page changes);
//! - the child must still see the pattern A had at the fork, not the
//!   parent's new data;
//! - the child's A is now mapped by the child alone (reference count 1), so
//!   the child's write must reuse it in place, not copy it;
//! - the child's B is still shared (reference count 2), so the child's
//!   write must copy it;
//! - read-only text is shared by both, never copied;
//! - the child then does all of this again with its own child, and so on;
//!   at the end each parent checks that its data shows none of the
//!   child's writes.
//!
//! Each check prints `cowcheck: [envid] depth N: <what> OK` (or `FAILED`);
//! the first environment ends with `cowcheck: all checks passed`.
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::mmu::{PGSIZE, PteFlags};
use core::ptr::{addr_of_mut, read_volatile, write_volatile};
use jos::syscall::sys_getenvid;
use jos::uvpt::{page_refcount, pte_of};
use jos::{cprintf, ipc_recv, ipc_send};

jos::main!(umain);

/// Generations of children below the first environment.
const GENS: u32 = 3;

/// One page of words, page-aligned.
#[repr(C, align(4096))]
struct Page([u32; PGSIZE / 4]);

/// Pages A and B (in .bss, so writable and private to the program).
static mut PAGES: [Page; 2] = [const { Page([0; PGSIZE / 4]) }; 2];

const A: usize = 0;
const B: usize = 1;

/// The address of page `i`.
fn page(i: usize) -> *mut u32 {
    // SAFETY: taking the address only; `i` is A or B.
    unsafe { addr_of_mut!(PAGES[i]).cast() }
}

/// Fills page `i` with a pattern derived from `tag`.
fn fill(i: usize, tag: u32) {
    for k in 0..PGSIZE / 4 {
        // SAFETY: inside page i; no references to PAGES exist.
        unsafe { write_volatile(page(i).add(k), tag ^ k as u32) };
    }
}

/// Whether page `i` holds the pattern of `tag`.
fn holds(i: usize, tag: u32) -> bool {
    // SAFETY: as in `fill`.
    (0..PGSIZE / 4).all(|k| unsafe { read_volatile(page(i).add(k)) } == tag ^ k as u32)
}

/// The PTE mapping the page at `va` (panics if none: our own pages are
/// always mapped).
fn pte(va: usize) -> abi::mmu::Pte {
    pte_of(va).unwrap_or_else(|| panic!("no page mapped at {va:#x}"))
}

/// A pattern tag unique to a generation and a role.
fn tag(depth: u32, role: u32) -> u32 {
    0x0c0f_0000 + (depth << 8) + role
}

const PRE_FORK: u32 = 1;
const PARENT_AFTER: u32 = 2;
const CHILD_AFTER: u32 = 3;

/// Prints the outcome of one check; returns 1 if it failed.
fn check(ok: bool, depth: u32, what: &str) -> u32 {
    let verdict = if ok { "OK" } else { "FAILED" };
    cprintf!(
        "cowcheck: [{:08x}] gen {}: {} {}\n",
        sys_getenvid(),
        depth,
        what,
        verdict
    );
    u32::from(!ok)
}

/// The child's half of generation `depth`; returns the number of failures in
/// it and in all later generations.
fn child_checks(depth: u32) -> u32 {
    let a = page(A) as usize;
    let b = page(B) as usize;
    // Wait until the parent has written A; the message carries the
    // physical address of its (read-only) text page.
    let m = match ipc_recv(None) {
        Ok(m) => m,
        Err(e) => panic!("ipc_recv: {e}"),
    };
    let mut fails = 0;
    let text = pte(umain as *const () as usize);
    fails += check(
        text.addr() == m.value as usize && !text.flags().contains(PteFlags::W),
        depth,
        "read-only text shared with the parent, not copied:",
    );
    fails += check(
        holds(A, tag(depth, PRE_FORK)) && holds(B, tag(depth, PRE_FORK)),
        depth,
        "child sees the data as of the fork, not the parent's later writes:",
    );

    let before = pte(a);
    let rc = page_refcount(before.addr());
    fill(A, tag(depth, CHILD_AFTER));
    let after = pte(a);
    fails += check(
        before.flags().contains(PteFlags::COW)
            && rc == Some(1)
            && after.addr() == before.addr()
            && after.flags().contains(PteFlags::W)
            && !after.flags().contains(PteFlags::COW)
            && holds(A, tag(depth, CHILD_AFTER)),
        depth,
        "page with reference count 1 made writable in place, not copied:",
    );

    let before = pte(b);
    let rc = page_refcount(before.addr());
    fill(B, tag(depth, CHILD_AFTER));
    let after = pte(b);
    fails += check(
        before.flags().contains(PteFlags::COW)
            && rc == Some(2)
            && after.addr() != before.addr()
            && after.flags().contains(PteFlags::W)
            && holds(B, tag(depth, CHILD_AFTER)),
        depth,
        "page shared with the parent copied on write:",
    );

    fails += generation(depth + 1);
    ipc_send(m.from, fails, None, PteFlags::empty());
    fails
}

/// Runs generation `depth` (forks a child and checks both sides); returns the
/// number of failed checks in it and in all later generations.
fn generation(depth: u32) -> u32 {
    if depth == GENS {
        return 0;
    }
    let a = page(A) as usize;
    fill(A, tag(depth, PRE_FORK));
    fill(B, tag(depth, PRE_FORK));
    let child: EnvId = match jos::fork() {
        Ok(0) => {
            child_checks(depth);
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };

    let mut fails = 0;
    let before = pte(a);
    let rc = page_refcount(before.addr());
    fill(A, tag(depth, PARENT_AFTER));
    let after = pte(a);
    fails += check(
        rc == Some(2)
            && after.addr() != before.addr()
            && after.flags().contains(PteFlags::W)
            && holds(A, tag(depth, PARENT_AFTER)),
        depth,
        "parent's write to a page shared with its child copied it:",
    );

    let text = pte(umain as *const () as usize);
    ipc_send(child, text.addr() as u32, None, PteFlags::empty());
    let m = match ipc_recv(None) {
        Ok(m) => m,
        Err(e) => panic!("ipc_recv: {e}"),
    };
    fails += m.value;
    fails += check(
        holds(A, tag(depth, PARENT_AFTER)) && holds(B, tag(depth, PRE_FORK)),
        depth,
        "parent sees none of its descendants' writes:",
    );
    fails
}

fn umain(_args: &[&str]) {
    let fails = generation(0);
    if fails == 0 {
        cprintf!("cowcheck: all checks passed\n");
    } else {
        cprintf!("cowcheck: {} checks FAILED\n", fails);
    }
}
