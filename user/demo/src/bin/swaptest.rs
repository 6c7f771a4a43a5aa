// make: FS=1
//! swaptest: virtual memory larger than physical memory (issue 13).
//!
//! `swaptest [MIB [COPIES]]` (default 48 MiB, one copy): each copy, a
//! child of its own, maps MIB MiB of private anonymous memory, fills it
//! with pseudo-random numbers, sorts them in place (quicksort: its
//! partitions sweep memory from both ends, which a clock pager follows
//! well), and checks the result: in order, and the same numbers (sum and
//! xor). It prints its swap pager's page-ins, page-outs and clean drops.
//! Every two seconds it says how far it got: the phase (filling, sorting,
//! checking), the pages done (a page is sorted once all its numbers are in
//! their final place) and the page-ins and page-outs so far.
//! Booted with `mem=16M` (`make run-swaptest-nox FS=1 KARGS=mem=16M`),
//! 48 MiB is three times the machine. The parent waits for every copy
//! and prints how many swap slots are still in use in the system (0: no
//! slot leaked).
#![no_std]
#![no_main]

use abi::mmu::PGSIZE;
use jos::cprintf;
use jos::progress::Progress;
use jos::vm::mmap::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, mmap, munmap};
use jos::vm::swap;
use user::spin::rdtsc;

jos::main!(umain);

fn umain(args: &[&str]) {
    let mib: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(48);
    let copies: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    if mib == 0 || mib > 64 || copies == 0 || copies > 4 {
        cprintf!("usage: swaptest [MIB (1-64) [COPIES (1-4)]]\n");
        return;
    }
    let mut kids = [0; 4];
    for (c, kid) in kids.iter_mut().enumerate().take(copies as usize) {
        match jos::fork() {
            Ok(0) => {
                sort_test(mib, c as u32);
                return;
            }
            Ok(id) => *kid = id,
            Err(e) => panic!("swaptest: fork: {e}"),
        }
    }
    for &kid in kids.iter().take(copies as usize) {
        jos::env::wait(kid);
    }
    match swap::slots_in_use(false) {
        Ok(n) => cprintf!("swaptest: swap slots in use after the sorts: {}\n", n),
        Err(e) => cprintf!("swaptest: no swap count: {}\n", e),
    }
}

/// The next number of a xorshift generator.
fn next(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

/// The progress lines of one copy (see the module's comment).
struct Report {
    copy: u32,
    /// The pages of the array.
    pages: usize,
    clock: Progress,
    /// Numbers in their final place (sorting), or filled or checked.
    done: usize,
    /// Swaps since the clock was last read.
    steps: u32,
}

impl Report {
    /// Swaps between two looks at the clock: a look is a system call.
    const STEPS: u32 = 1 << 14;

    /// Prints a progress line if one is due: `swaptest C: T s, PHASE: D of
    /// N pages done; page-ins I, page-outs O`.
    fn poll(&mut self, phase: &str) {
        if !self.clock.due() {
            return;
        }
        let st = swap::stats();
        cprintf!(
            "swaptest {}: {} s, {}: {} of {} pages done; page-ins {}, page-outs {}\n",
            self.copy,
            self.clock.secs(),
            phase,
            self.done / NUMS_PER_PAGE,
            self.pages,
            st.pageins,
            st.pageouts
        );
    }

    /// Counts one swap of the sort; looks at the clock now and then.
    fn step(&mut self) {
        self.steps += 1;
        if self.steps == Self::STEPS {
            self.steps = 0;
            self.poll("sorting");
        }
    }
}

/// Numbers in a page.
const NUMS_PER_PAGE: usize = PGSIZE / 4;

/// Fills, sorts and checks `mib` MiB; `copy` seeds the numbers.
fn sort_test(mib: usize, copy: u32) {
    let len = mib << 20;
    let va = match mmap(
        len,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        None,
        0,
    ) {
        Ok(va) => va,
        Err(e) => panic!("swaptest: mmap {mib} MiB: {e}"),
    };
    // SAFETY: [va, va + len) is our private anonymous mapping, u32-aligned;
    // nothing else refers to it. Its pages come (and go) on demand.
    let a = unsafe { core::slice::from_raw_parts_mut(va as *mut u32, len / 4) };
    let t0 = rdtsc();
    let mut r = Report {
        copy,
        pages: len / PGSIZE,
        clock: Progress::start(),
        done: 0,
        steps: 0,
    };
    let mut x = 0x9E37_79B9 ^ (copy + 1).wrapping_mul(0x85EB_CA6B);
    let (mut sum, mut xor) = (0u32, 0u32);
    for page in a.chunks_mut(NUMS_PER_PAGE) {
        for v in page.iter_mut() {
            *v = next(&mut x);
            sum = sum.wrapping_add(*v);
            xor ^= *v;
        }
        r.done += page.len();
        r.poll("filling");
    }
    let filled = swap::stats();
    r.done = 0;
    quicksort(a, &mut r);
    // In order, and the same numbers: one sweep, a page at a time.
    r.done = 0;
    let (mut sorted, mut s2, mut x2, mut last) = (true, 0u32, 0u32, 0u32);
    for page in a.chunks(NUMS_PER_PAGE) {
        for &v in page {
            sorted &= last <= v;
            last = v;
            s2 = s2.wrapping_add(v);
            x2 ^= v;
        }
        r.done += page.len();
        r.poll("checking");
    }
    let mcycles = (rdtsc() - t0) / 1_000_000;
    let st = swap::stats();
    cprintf!(
        "swaptest {}: {} MiB sorted: {}; page-ins {}, page-outs {}, clean drops {} ({} page-outs while filling); {} Mcycles, {} s\n",
        copy,
        mib,
        if sorted && s2 == sum && x2 == xor {
            "OK"
        } else {
            "WRONG"
        },
        st.pageins,
        st.pageouts,
        st.drops,
        filled.pageouts,
        mcycles,
        r.clock.secs()
    );
    if let Err(e) = munmap(va, len) {
        cprintf!("swaptest {}: munmap: {}\n", copy, e);
    }
}

/// Sorts `a` in place: quicksort with a median-of-three pivot, recursing
/// into the smaller part and looping on the larger (stack depth log n),
/// insertion sort for short runs. Reports its progress through `r`.
fn quicksort(mut a: &mut [u32], r: &mut Report) {
    while a.len() > 16 {
        let n = a.len();
        let mid = n / 2;
        // Median of three to a[mid], then use it as the pivot.
        if a[mid] < a[0] {
            a.swap(mid, 0);
        }
        if a[n - 1] < a[0] {
            a.swap(n - 1, 0);
        }
        if a[n - 1] < a[mid] {
            a.swap(n - 1, mid);
        }
        let pivot = a[mid];
        // Hoare partition: two sweeps towards each other.
        let (mut i, mut j) = (0, n - 1);
        loop {
            while a[i] < pivot {
                i += 1;
            }
            while a[j] > pivot {
                j -= 1;
            }
            if i >= j {
                break;
            }
            a.swap(i, j);
            i += 1;
            j -= 1;
            r.step();
        }
        let (lo, hi) = a.split_at_mut(j + 1);
        if lo.len() < hi.len() {
            quicksort(lo, r);
            a = hi;
        } else {
            quicksort(hi, r);
            a = lo;
        }
    }
    for k in 1..a.len() {
        let v = a[k];
        let mut m = k;
        while m > 0 && a[m - 1] > v {
            a[m] = a[m - 1];
            m -= 1;
        }
        a[m] = v;
    }
    // These numbers are in their final place now.
    r.done += a.len();
}
