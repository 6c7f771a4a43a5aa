//! Host tests of the C layer over a simulated `sbrk` heap.
use super::*;
use talc::base::binning::Binning;

/// The arena's size: a simulated heap that grows by `step` bytes.
const ARENA: usize = 1 << 22;

/// A backend like the JOS library's: the heap grows at its end (extend)
/// or, if "someone else" took bytes at the break, starts a new heap after
/// them (claim); `prepare` fails on demand (out of memory).
#[derive(Debug)]
struct Sim {
    arena: usize,
    brk: usize,
    heap_end: usize,
    fail_prepare: bool,
    fail_grow: bool,
    prepared: usize,
}

// SAFETY: acquire uses only `talc` and the arena, never an allocator.
unsafe impl Source for Sim {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        let s = &mut talc.source;
        if s.fail_grow {
            return Err(());
        }
        let first = !talc.is_metadata_established();
        let meta = if first {
            talc::min_first_heap_size::<B>()
        } else {
            0
        };
        let want = layout
            .size()
            .checked_add(layout.align() + 256 + meta)
            .ok_or(())?;
        let want = want.next_multiple_of(4096);
        let s = &mut talc.source;
        let old = s.brk;
        if old - s.arena + want > ARENA {
            return Err(());
        }
        s.brk += want;
        let contiguous = s.heap_end != 0 && s.heap_end + 64 > old;
        let end = if contiguous {
            let he = NonNull::new(s.heap_end as *mut u8).ok_or(())?;
            // SAFETY: [old, old + want) is arena memory nobody uses.
            unsafe { talc.extend(he, (old + want) as *mut u8) }
        } else {
            // SAFETY: as above.
            unsafe { talc.claim(old as *mut u8, want) }.ok_or(())?
        };
        talc.source.heap_end = end.as_ptr() as usize;
        Ok(())
    }
}

impl Backend for Sim {
    fn prepare(&mut self, _addr: usize, len: usize) -> bool {
        self.prepared += len;
        !self.fail_prepare
    }
}

/// A fresh allocator over a leaked arena.
fn heap() -> CAlloc<Sim> {
    let arena = Box::leak(vec![0u64; ARENA / 8].into_boxed_slice()).as_mut_ptr() as usize;
    CAlloc::new(Sim {
        arena,
        brk: arena,
        heap_end: 0,
        fail_prepare: false,
        fail_grow: false,
        prepared: 0,
    })
}

#[test]
fn size_and_alignment_arithmetic() {
    assert_eq!(prefix(1), HDR);
    assert_eq!(prefix(MALLOC_ALIGN), HDR);
    assert_eq!(prefix(64), 64);
    assert_eq!(
        chunk_layout(10, 8).map(|l| (l.size(), l.align())),
        Some((10 + HDR, HDR))
    );
    assert_eq!(
        chunk_layout(10, 4096).map(|l| (l.size(), l.align())),
        Some((4106, 4096))
    );
    assert!(chunk_layout(10, 24).is_none(), "not a power of two");
    assert!(chunk_layout(usize::MAX - 3, 8).is_none(), "wraps");
    assert!(
        chunk_layout(isize::MAX as usize, 8).is_none(),
        "past isize::MAX"
    );
    assert!(posix_alignment_ok(WORD) && posix_alignment_ok(4096));
    assert!(!posix_alignment_ok(24) && !posix_alignment_ok(0) && !posix_alignment_ok(WORD / 2));
}

#[test]
fn malloc_free_and_coalescing() {
    let mut h = heap();
    let mut ps = Vec::new();
    for i in 0..500 {
        let n = 1 + (i * 37) % 3000;
        let p = h.malloc(n);
        assert!(!p.is_null() && (p as usize).is_multiple_of(MALLOC_ALIGN));
        // SAFETY: p holds n bytes.
        unsafe { p.write_bytes(i as u8, n) };
        ps.push((p, n, i as u8));
    }
    assert_eq!(h.check().unwrap().used_blocks, 500);
    for &(p, n, b) in ps.iter().rev().step_by(2) {
        // SAFETY: p holds n bytes, untouched by the others.
        assert!((0..n).all(|k| unsafe { p.add(k).read() } == b));
    }
    for (p, _, _) in ps {
        // SAFETY: p is live, forgotten after.
        unsafe { h.free(p) };
    }
    let st = h.check().unwrap();
    assert_eq!((st.used_blocks, st.free_blocks, st.heaps), (0, 1, 1));
    // malloc(0) is unique; free(null) does nothing.
    let (a, b) = (h.malloc(0), h.malloc(0));
    assert!(!a.is_null() && !b.is_null() && a != b);
    // SAFETY: live blocks; null is ignored.
    unsafe {
        h.free(a);
        h.free(b);
        h.free(null_mut());
    }
    assert_eq!(h.stats().used_blocks, 0);
}

#[test]
fn realloc_grows_shrinks_and_keeps_contents() {
    let mut h = heap();
    let p = h.malloc(10);
    // SAFETY: p holds 10 bytes, then each result holds what was asked.
    unsafe {
        for k in 0..10 {
            p.add(k).write(k as u8 + 1);
        }
        let _fence = h.malloc(100); // so growing in place is not always possible
        let q = h.realloc(p, 5000);
        assert!(!q.is_null() && (0..10).all(|k| q.add(k).read() == k as u8 + 1));
        let r = h.realloc(q, 3);
        assert_eq!(r, q, "shrinking stays in place");
        assert!((0..3).all(|k| r.add(k).read() == k as u8 + 1));
        let g = h.realloc(r, 64);
        assert!((0..3).all(|k| g.add(k).read() == k as u8 + 1));
        assert!(h.realloc(g, 0).is_null(), "realloc(p, 0) frees");
        let n = h.realloc(null_mut(), 20);
        assert!(!n.is_null(), "realloc(null, n) is malloc");
        h.free(n);
        h.free(_fence);
    }
    assert_eq!(h.stats().used_blocks, 0);
}

#[test]
fn realloc_keeps_a_large_alignment() {
    let mut h = heap();
    let mut p = null_mut();
    assert_eq!(h.posix_memalign(&mut p, 4096, 100), Ok(()));
    assert!((p as usize).is_multiple_of(4096));
    let _block = h.malloc(8);
    // SAFETY: p is live; only the result is used after.
    let q = unsafe { h.realloc(p, 20000) };
    assert!((q as usize).is_multiple_of(4096));
}

#[test]
fn posix_memalign_rules() {
    let mut h = heap();
    for shift in [3, 4, 6, 8, 12, 16] {
        let mut p = null_mut();
        assert_eq!(h.posix_memalign(&mut p, 1 << shift, 100), Ok(()));
        assert!((p as usize).is_multiple_of(1 << shift));
        // SAFETY: p holds 100 bytes; live.
        unsafe {
            p.write_bytes(7, 100);
            h.free(p);
        }
    }
    let mut p = null_mut();
    assert_eq!(h.posix_memalign(&mut p, 24, 10), Err(Error::Inval));
    assert_eq!(h.posix_memalign(&mut p, WORD / 2, 10), Err(Error::Inval));
    assert_eq!(
        h.posix_memalign(&mut p, 4096, usize::MAX - 100),
        Err(Error::NoMem)
    );
    assert_eq!(h.posix_memalign(&mut p, 4096, ARENA * 2), Err(Error::NoMem));
    assert!(p.is_null(), "*memptr unchanged on error");
    assert!(h.memalign(24, 10).is_null());
}

#[test]
fn calloc_zeroes_and_refuses_overflow() {
    let mut h = heap();
    let p = h.malloc(4000);
    // SAFETY: p holds 4000 bytes.
    unsafe {
        p.write_bytes(0xff, 4000);
        h.free(p);
    }
    let z = h.calloc(100, 40);
    // SAFETY: z holds 4000 bytes.
    assert!(!z.is_null() && (0..4000).all(|k| unsafe { z.add(k).read() } == 0));
    assert!(h.calloc(usize::MAX, 2).is_null());
    assert!(h.calloc(1 << 20, 1 << 20).is_null());
}

#[test]
fn out_of_memory_returns_null_and_keeps_blocks() {
    let mut h = heap();
    let p = h.malloc(64);
    // SAFETY: p holds 64 bytes.
    unsafe { p.write_bytes(0x33, 64) };
    for huge in [usize::MAX, usize::MAX - 4096, ARENA * 2] {
        assert!(h.malloc(huge).is_null());
    }
    // prepare fails (the pages cannot be made present): null, nothing kept.
    let before = h.stats();
    h.backend().fail_prepare = true;
    assert!(h.malloc(100).is_null());
    assert_eq!(h.stats().used_blocks, before.used_blocks);
    // realloc that cannot grow: null, and p as it was.
    h.backend().fail_grow = true;
    // SAFETY: p is live; on null it stays live.
    unsafe {
        assert!(h.realloc(p, 1 << 20).is_null());
        assert!((0..64).all(|k| p.add(k).read() == 0x33));
    }
    h.backend().fail_prepare = false;
    h.backend().fail_grow = false;
    // SAFETY: p is live.
    unsafe { h.free(p) };
    assert!(h.check().is_ok());
    assert!(h.backend().prepared > 0);
}

#[test]
fn a_foreign_gap_starts_a_second_heap() {
    let mut h = heap();
    let a = h.malloc(100);
    // Someone else takes bytes at the break.
    h.backend().brk += 4096 * 3 + 5;
    h.backend().heap_end = 1; // no longer contiguous
    let big = h.malloc(1 << 20);
    assert!(!big.is_null());
    assert_eq!(h.stats().heaps, 2);
    // SAFETY: live blocks.
    unsafe {
        h.free(a);
        h.free(big);
    }
    assert_eq!(
        h.check().map(|s| (s.used_blocks, s.free_blocks)),
        Ok((0, 2))
    );
}

#[test]
#[should_panic(expected = "not an allocated block")]
fn double_free_panics() {
    let mut h = heap();
    let _keep = h.malloc(16);
    let p = h.malloc(32);
    // SAFETY: p is live for the first free; the second is the bug caught.
    unsafe {
        h.free(p);
        h.free(p);
    }
}

#[test]
fn global_alloc_calls() {
    let mut h = heap();
    let l = Layout::from_size_align(300, 256).unwrap();
    let p = h.alloc_layout(l);
    assert!(!p.is_null() && (p as usize).is_multiple_of(256));
    // SAFETY: p holds 300 bytes; then what realloc_layout returns.
    unsafe {
        p.write_bytes(9, 300);
        let q = h.realloc_layout(p, l, 5000);
        assert!((q as usize).is_multiple_of(256) && (0..300).all(|k| q.add(k).read() == 9));
        let l2 = Layout::from_size_align(5000, 256).unwrap();
        let r = h.realloc_layout(q, l2, 10);
        assert_eq!(r, q);
        h.dealloc_layout(r, Layout::from_size_align(10, 256).unwrap());
    }
    let z = h.alloc_layout(Layout::from_size_align(0, 8).unwrap());
    // SAFETY: z is live with that layout.
    unsafe { h.dealloc_layout(z, Layout::from_size_align(0, 8).unwrap()) };
    assert_eq!(h.stats().used_blocks, 0);
}

#[test]
fn fixed_backend() {
    let arena = Box::leak(vec![0u64; 8192].into_boxed_slice());
    // SAFETY: the leaked arena is ours.
    let mut h = CAlloc::new(unsafe { Fixed::new(arena.as_mut_ptr().cast(), 8192 * 8) });
    let p = h.malloc(1000);
    assert!(!p.is_null());
    assert!(
        h.malloc(1 << 20).is_null(),
        "no more memory than the region"
    );
}
