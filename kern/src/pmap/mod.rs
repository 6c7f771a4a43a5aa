//! Physical memory and page tables (JOS's kern/pmap.c).
//!
//! Three layers:
//!
//! 1. **Physical pages.** One `PageInfo` per physical page (reference count
//!    and free-list link) in the `pages` array, which users can read at
//!    UPAGES. `page_alloc` / `page_free` / `page_decref` run in O(1) off a
//!    free list.
//! 2. **Page tables.** `pgdir_walk`, `page_insert`, `page_lookup`,
//!    `page_remove`, `boot_map_region`: the i386 two-level tables, which
//!    know nothing about policy (no COW here: those are just PTE bits).
//! 3. **The kernel address space** (`mem_init`): everything above UTOP, set
//!    up once in `kern_pgdir` and copied into every environment's directory.
//!
//! ```text
//!   a virtual address:  | PDX (10) | PTX (10) | offset (12) |
//!
//!   CR3 ──► page directory ──[PDX]──► page table ──[PTX]──► page + offset
//!           (1024 PDEs)               (1024 PTEs)
//! ```
//!
//! Every physical page is also visible to the kernel at KERNBASE + pa
//! (`kaddr`), which is how page tables are edited.
//!
//! Locking: the free list and the reference counts change only under
//! `ALLOC`; page tables belong to the kernel lock's holder.

mod check;

use crate::arch::x86::{self, Cr0};
use crate::boot_info;
use abi::env::{Env, NENV, PageInfo};
use abi::error::{Error, Result};
use abi::memlayout::*;
use abi::mmu::*;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use spin::Mutex;

/// Physical memory above this is not mapped at KERNBASE, so not used.
pub const MAX_PHYS: usize = 0usize.wrapping_sub(KERNBASE);

/// A page directory or page table: 1024 entries, page-aligned.
#[repr(C, align(4096))]
pub struct PageTable(pub [Pte; NPTENTRIES]);

/// A physical page, named by its page number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Page(usize);

impl Page {
    /// The page containing physical address `pa`; panics if there is no such page.
    pub fn from_pa(pa: usize) -> Page {
        let n = pgnum(pa);
        assert!(n < npages(), "Page::from_pa called with invalid pa {pa:#x}");
        Page(n)
    }

    /// The page's physical address.
    pub fn pa(self) -> usize {
        self.0 << PGSHIFT
    }

    /// The kernel virtual address where the page can be accessed.
    pub fn kva(self) -> usize {
        kaddr(self.pa())
    }

    /// The page's `PageInfo` record.
    fn info(self) -> *mut PageInfo {
        // SAFETY: `Page`s are only made for page numbers below npages.
        unsafe { PAGES.load(Ordering::Relaxed).add(self.0) }
    }

    /// Its reference count.
    pub fn refcount(self) -> u32 {
        // SAFETY: info() is inside the pages array; a racy read of a u16 is
        // only ever used as a snapshot.
        unsafe { (*self.info()).pp_ref }
    }

    /// Zeroes the page.
    pub fn zero(self) {
        // SAFETY: the page is ordinary RAM mapped at its kva, owned by the caller.
        unsafe { ptr::write_bytes(self.kva() as *mut u8, 0, PGSIZE) };
    }
}

/// The kernel virtual address of physical address `pa`; panics if `pa` is
/// beyond the memory mapped at KERNBASE.
pub fn kaddr(pa: usize) -> usize {
    assert!(pa < MAX_PHYS, "kaddr called with invalid pa {pa:#010x}");
    pa + KERNBASE
}

/// The physical address of kernel virtual address `kva`; panics if `kva` is
/// below KERNBASE.
pub fn paddr(kva: usize) -> usize {
    assert!(kva >= KERNBASE, "paddr called with invalid kva {kva:#010x}");
    kva - KERNBASE
}

// ---------------------------------------------------------------------------
// Global state, set once by mem_init.

static NPAGES: AtomicUsize = AtomicUsize::new(0);
static NPAGES_BASEMEM: AtomicUsize = AtomicUsize::new(0);
static PAGES: AtomicPtr<PageInfo> = AtomicPtr::new(ptr::null_mut());
static ENVS: AtomicPtr<Env> = AtomicPtr::new(ptr::null_mut());
static KERN_PGDIR: AtomicPtr<PageTable> = AtomicPtr::new(ptr::null_mut());
static PSE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
static ZERO_PAGE: AtomicUsize = AtomicUsize::new(0);

/// Number of physical pages the kernel manages.
pub fn npages() -> usize {
    NPAGES.load(Ordering::Relaxed)
}

/// The kernel's page directory (the template for every address space).
pub fn kern_pgdir() -> *mut PageTable {
    KERN_PGDIR.load(Ordering::Relaxed)
}

/// The Env array (NENV entries), mapped read-only for users at UENVS.
pub fn envs_array() -> *mut Env {
    ENVS.load(Ordering::Relaxed)
}

/// The PageInfo array.
pub fn pages_array() -> *mut PageInfo {
    PAGES.load(Ordering::Relaxed)
}

/// The shared zero page (mapped read-only at UZERO everywhere). Its
/// reference count includes one for the kernel, so it is never freed.
pub fn zero_page() -> Page {
    Page::from_pa(ZERO_PAGE.load(Ordering::Relaxed))
}

/// Whether the kernel maps physical memory with 4 MiB pages.
pub fn uses_pse() -> bool {
    PSE.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Boot-time allocation.

/// Memory for the boot allocator: the PageInfo array and the Env array.
/// It lives inside the kernel image so the loaders put boot modules after it
/// and the early (4 MiB) mapping covers it.
const BOOT_HEAP_SIZE: usize =
    (MAX_PHYS / PGSIZE) * size_of::<PageInfo>() + NENV * size_of::<Env>() + 2 * PGSIZE;

#[repr(C, align(4096))]
struct BootHeap([u8; BOOT_HEAP_SIZE]);

static mut BOOT_HEAP: BootHeap = BootHeap([0; BOOT_HEAP_SIZE]);
static BOOT_HEAP_USED: AtomicUsize = AtomicUsize::new(0);

/// Allocates `n` zeroed bytes, page-aligned, that are never freed. Only for
/// use before the page allocator exists; panics if the boot heap runs out.
fn boot_alloc(n: usize) -> *mut u8 {
    let used = BOOT_HEAP_USED.load(Ordering::Relaxed);
    let size = round_up(n, PGSIZE).expect("boot_alloc: size overflows");
    assert!(
        used + size <= BOOT_HEAP_SIZE,
        "boot_alloc: out of memory ({n} bytes)"
    );
    BOOT_HEAP_USED.store(used + size, Ordering::Relaxed);
    // SAFETY: [used, used + size) of the heap has not been handed out before.
    unsafe { (&raw mut BOOT_HEAP.0).cast::<u8>().add(used) }
}

/// One past the last byte the boot allocator has handed out (a kernel address).
fn boot_alloc_end() -> usize {
    (&raw const BOOT_HEAP) as usize + BOOT_HEAP_USED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Physical memory detection.

/// Sizes physical memory from the boot memory map; prints the usual line.
///
/// `mem=<size>` on the command line uses no memory above that size (to run
/// programs larger than memory without much of it), but never less than
/// the boot modules need: they stay where the loader put them.
fn i386_detect_memory() {
    let bi = boot_info::get();
    let mut limit = MAX_PHYS as u64;
    match bi.mem_limit() {
        None => {}
        Some(Err(bad)) => cprintf!("mem={}: not a size (like 16M); ignored\n", bad),
        Some(Ok(want)) => {
            let modules = bi.modules().iter().map(|m| m.end as u64).max().unwrap_or(0);
            let need = (modules.max(EXTPHYSMEM as u64 + PTSIZE as u64) + PGSIZE as u64 - 1)
                & !(PGSIZE as u64 - 1);
            if want < need {
                cprintf!(
                    "mem={}K: too little for the kernel and its modules; using {}K\n",
                    want / 1024,
                    need / 1024
                );
            }
            limit = limit.min(want.max(need));
        }
    }
    let (mut top, mut base, mut ext) = (0u64, 0u64, 0u64);
    for r in bi.regions().iter().filter(|r| r.kind == 1) {
        let end = (r.base + r.len).min(limit);
        if r.base >= end {
            continue;
        }
        top = top.max(end);
        if r.base < IOPHYSMEM as u64 {
            base += end.min(IOPHYSMEM as u64) - r.base;
        }
        if end > EXTPHYSMEM as u64 {
            ext += end - r.base.max(EXTPHYSMEM as u64);
        }
    }
    assert!(
        top > EXTPHYSMEM as u64,
        "the boot memory map shows no extended memory"
    );
    NPAGES.store(top as usize / PGSIZE, Ordering::Relaxed);
    NPAGES_BASEMEM.store(base as usize / PGSIZE, Ordering::Relaxed);
    cprintf!(
        "Physical memory: {}K available, base = {}K, extended = {}K\n",
        (base + ext) / 1024,
        base / 1024,
        ext / 1024
    );
}

/// Whether physical page `pa` is usable RAM that nothing else owns.
fn page_is_free_at_boot(pa: usize) -> bool {
    usable_at_boot(pa) && !in_boot_module(pa)
}

/// Whether any byte of physical page `pa` belongs to a boot module.
fn in_boot_module(pa: usize) -> bool {
    boot_info::get()
        .modules()
        .iter()
        .any(|m| pa + PGSIZE > m.start && pa < m.end)
}

/// Whether physical page `pa` is usable RAM that neither the hardware, the
/// kernel nor its boot heap owns (boot modules aside).
fn usable_at_boot(pa: usize) -> bool {
    unsafe extern "C" {
        static end: u8;
    }
    let bi = boot_info::get();
    let usable = bi
        .regions()
        .iter()
        .any(|r| r.kind == 1 && r.base <= pa as u64 && (pa + PGSIZE) as u64 <= r.base + r.len);
    let kernel_end = paddr(boot_alloc_end().max(&raw const end as usize));
    usable
        && pa != 0 // real-mode IDT and BIOS data
        && pa != MPENTRY_PADDR // the AP boot trampoline
        && !(IOPHYSMEM..EXTPHYSMEM).contains(&pa) // I/O hole
        && !(EXTPHYSMEM..kernel_end).contains(&pa) // kernel image and boot heap
}

// ---------------------------------------------------------------------------
// The page allocator.

/// The free list: a chain through `pp_link` (kernel addresses of PageInfo).
/// Every free page has a non-zero link, so the last one points at
/// `LIST_END`; that is how a double free is caught.
struct FreeList {
    head: usize,
    nfree: usize,
}

const LIST_END: u32 = 1;

static ALLOC: Mutex<FreeList> = Mutex::new(FreeList { head: 0, nfree: 0 });

/// Puts every unreserved page on the free list (JOS's page_init).
fn page_init() {
    let mut fl = ALLOC.lock();
    // Build the list backwards so low pages come out first.
    for n in (0..npages()).rev() {
        let pg = Page(n);
        // SAFETY: pg.info() is inside the freshly zeroed pages array.
        unsafe {
            (*pg.info()).pp_ref = 0;
            (*pg.info()).pp_link = 0;
            if page_is_free_at_boot(pg.pa()) {
                (*pg.info()).pp_link = if fl.head == 0 {
                    LIST_END
                } else {
                    fl.head as u32
                };
                fl.head = pg.info() as usize;
                fl.nfree += 1;
            }
        }
    }
}

/// Gives the boot modules' memory to the page allocator, once every env
/// made from them exists (their segments were copied into the envs' own
/// pages, so nothing refers to the modules any more; Linux frees its initrd
/// the same way). Under `mem=16M` the modules' full ELF files would
/// otherwise keep most of the machine. Returns how many pages it freed.
/// Boot only: no boot module may be used after it.
pub fn free_boot_modules() -> usize {
    let mut fl = ALLOC.lock();
    let mut freed = 0;
    // Only the modules' own pages are looked at (not all of memory: 32 768
    // pages of 128 MiB took 1.4 million instructions, as long as the file
    // server's start-up checks). Modules may share a page: the first pass
    // over it frees it, and `in_earlier` skips it in a later module.
    let mods = boot_info::get().modules();
    for (i, m) in mods.iter().enumerate() {
        let first = m.start / PGSIZE;
        let last = m.end.div_ceil(PGSIZE).min(npages());
        for n in first..last {
            let pa = n * PGSIZE;
            let in_earlier = mods[..i]
                .iter()
                .any(|o| pa + PGSIZE > o.start && pa < o.end);
            if !in_earlier && usable_at_boot(pa) {
                page_free_locked(&mut fl, Page(n));
                freed += 1;
            }
        }
    }
    freed
}

/// Flags for `page_alloc`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Alloc {
    /// The page's old contents are fine.
    Any,
    /// Fill the page with zeros.
    Zero,
}

/// Allocates a physical page (reference count 0). Returns None when
/// memory is exhausted.
pub fn page_alloc(flags: Alloc) -> Option<Page> {
    let pg = {
        let mut fl = ALLOC.lock();
        if fl.head == 0 {
            return None;
        }
        let info = fl.head as *mut PageInfo;
        // SAFETY: the free list only holds pointers into the pages array.
        unsafe {
            let next = (*info).pp_link;
            fl.head = if next == LIST_END { 0 } else { next as usize };
            (*info).pp_link = 0;
        }
        fl.nfree -= 1;
        Page((info as usize - pages_array() as usize) / size_of::<PageInfo>())
    };
    if flags == Alloc::Zero {
        pg.zero();
    }
    Some(pg)
}

/// Returns a page to the free list. Panics (a kernel bug) if the page is
/// still referenced or already free.
pub fn page_free(pg: Page) {
    let mut fl = ALLOC.lock();
    page_free_locked(&mut fl, pg);
}

fn page_free_locked(fl: &mut FreeList, pg: Page) {
    let info = pg.info();
    // SAFETY: info is inside the pages array; ALLOC is held.
    unsafe {
        assert!(
            (*info).pp_ref == 0,
            "page_free: page {:#x} is still referenced",
            pg.pa()
        );
        assert!(
            (*info).pp_link == 0,
            "page_free: page {:#x} is already free",
            pg.pa()
        );
        (*info).pp_link = if fl.head == 0 {
            LIST_END
        } else {
            fl.head as u32
        };
    }
    fl.head = info as usize;
    fl.nfree += 1;
}

/// Adds a reference to `pg`. Returns Err(NoMem) if the count is full (a
/// user mapping one page 2^32 - 1 times gets an error, not a panic).
/// Panics if the page is free (a kernel bug).
pub fn try_page_incref(pg: Page) -> Result<()> {
    let _fl = ALLOC.lock();
    // SAFETY: info is inside the pages array; ALLOC is held.
    unsafe {
        let info = pg.info();
        assert!(
            (*info).pp_link == 0,
            "page_incref: page {:#x} is free",
            pg.pa()
        );
        (*info).pp_ref = (*info).pp_ref.checked_add(1).ok_or(Error::NoMem)?;
    }
    Ok(())
}

/// Adds a reference to `pg`, for the kernel's own uses (page tables, the
/// zero page). Panics if the count overflows or the page is free.
pub fn page_incref(pg: Page) {
    try_page_incref(pg).expect("page_incref: reference count overflow");
}

/// Drops a reference to `pg`, freeing it when none are left.
pub fn page_decref(pg: Page) {
    let mut fl = ALLOC.lock();
    // SAFETY: info is inside the pages array; ALLOC is held.
    let left = unsafe {
        let info = pg.info();
        assert!(
            (*info).pp_ref > 0,
            "page_decref: page {:#x} has no references",
            pg.pa()
        );
        (*info).pp_ref -= 1;
        (*info).pp_ref
    };
    if left == 0 {
        page_free_locked(&mut fl, pg);
    }
}

/// The number of free pages.
pub fn nfree() -> usize {
    ALLOC.lock().nfree
}

/// Calls `f` with every free page (for the self checks).
pub(crate) fn for_each_free(mut f: impl FnMut(Page)) {
    let fl = ALLOC.lock();
    let mut p = fl.head;
    while p != 0 {
        f(Page((p - pages_array() as usize) / size_of::<PageInfo>()));
        // SAFETY: the free list only holds pointers into the pages array.
        let next = unsafe { (*(p as *const PageInfo)).pp_link };
        p = if next == LIST_END { 0 } else { next as usize };
    }
}

/// Takes the whole free list away (for self checks that need allocation to
/// fail); `restore_free_list` gives it back.
pub(crate) fn steal_free_list() -> (usize, usize) {
    let mut fl = ALLOC.lock();
    let saved = (fl.head, fl.nfree);
    fl.head = 0;
    fl.nfree = 0;
    saved
}

/// Frees everything on the current list into the saved list and makes that
/// the free list again.
pub(crate) fn restore_free_list(saved: (usize, usize)) {
    let mut fl = ALLOC.lock();
    let (mut head, mut n) = (fl.head, fl.nfree);
    fl.head = saved.0;
    fl.nfree = saved.1;
    while head != 0 {
        let info = head as *mut PageInfo;
        // SAFETY: list pointers point into the pages array; ALLOC is held.
        let next = unsafe {
            let next = (*info).pp_link;
            (*info).pp_link = 0;
            next
        };
        page_free_locked(
            &mut fl,
            Page((head - pages_array() as usize) / size_of::<PageInfo>()),
        );
        head = if next == LIST_END { 0 } else { next as usize };
        n -= 1;
    }
    debug_assert_eq!(n, 0);
}

// ---------------------------------------------------------------------------
// Page tables.

/// Returns a pointer to the PTE for `va` in `pgdir`, creating the page table
/// if `create` is set. Returns None if the table is missing and `create` is
/// not set, if allocation fails, or if `va` is covered by a 4 MiB page.
pub fn pgdir_walk(pgdir: &mut PageTable, va: usize, create: bool) -> Option<*mut Pte> {
    let pde = &mut pgdir.0[pdx(va)];
    if !pde.is_present() {
        if !create {
            return None;
        }
        let pg = page_alloc(Alloc::Zero)?;
        page_incref(pg);
        // Page-table entries restrict further; the directory allows all.
        *pde = Pte::new(pg.pa(), PteFlags::P | PteFlags::W | PteFlags::U);
    } else if pde.flags().contains(PteFlags::PS) {
        return None;
    }
    let table = kaddr(pde.addr()) as *mut PageTable;
    // SAFETY: a present PDE without PS points at a page table.
    Some(unsafe { &raw mut (*table).0[ptx(va)] })
}

/// Maps page `pg` at `va` in `pgdir` with permissions `perm | P`, replacing
/// any mapping there (re-inserting the same page is fine). Returns
/// Err(NoMem) if a page table could not be allocated.
pub fn page_insert(pgdir: &mut PageTable, pg: Page, va: usize, perm: PteFlags) -> Result<()> {
    let pte = pgdir_walk(pgdir, va, true).ok_or(Error::NoMem)?;
    // Take the new reference first: if pg is already mapped here, removing
    // the old mapping must not free it.
    try_page_incref(pg)?;
    // SAFETY: pte points into a page table of pgdir.
    if unsafe { (*pte).is_present() } {
        page_remove(pgdir, va);
    }
    // SAFETY: as above.
    unsafe { *pte = Pte::new(pg.pa(), perm | PteFlags::P) };
    tlb_invalidate(pgdir, va);
    Ok(())
}

/// Returns the page mapped at `va` and a pointer to its PTE, or None if
/// nothing is mapped there.
pub fn page_lookup(pgdir: &mut PageTable, va: usize) -> Option<(Page, *mut Pte)> {
    let pte = pgdir_walk(pgdir, va, false)?;
    // SAFETY: pte points into a page table of pgdir.
    let e = unsafe { *pte };
    e.is_present().then(|| (Page::from_pa(e.addr()), pte))
}

/// Unmaps whatever is at `va` (nothing happens if nothing is).
pub fn page_remove(pgdir: &mut PageTable, va: usize) {
    if let Some((pg, pte)) = page_lookup(pgdir, va) {
        // SAFETY: pte points into a page table of pgdir.
        unsafe { *pte = Pte::empty() };
        tlb_invalidate(pgdir, va);
        page_decref(pg);
    }
}

/// Drops the TLB entry for `va` if `pgdir` is the address space in use.
pub fn tlb_invalidate(pgdir: &PageTable, va: usize) {
    if x86::rcr3() == paddr(pgdir as *const PageTable as usize) {
        x86::invlpg(va);
    }
}

/// Maps [va, va + size) to [pa, pa + size) with `perm | P` in `pgdir`,
/// without touching reference counts: for the static kernel mappings.
/// Panics if a page table cannot be allocated (boot cannot continue).
pub fn boot_map_region(pgdir: &mut PageTable, va: usize, size: usize, pa: usize, perm: PteFlags) {
    assert!(va.is_multiple_of(PGSIZE) && pa.is_multiple_of(PGSIZE) && size.is_multiple_of(PGSIZE));
    for off in (0..size).step_by(PGSIZE) {
        let pte = pgdir_walk(pgdir, va + off, true).expect("boot_map_region: out of memory");
        // SAFETY: pte points into a page table of pgdir.
        unsafe { *pte = Pte::new(pa + off, perm | PteFlags::P) };
    }
}

/// Like `boot_map_region` with 4 MiB pages (needs CR4.PSE); all three
/// arguments must be 4 MiB-aligned.
fn boot_map_region_large(pgdir: &mut PageTable, va: usize, size: usize, pa: usize, perm: PteFlags) {
    assert!(va.is_multiple_of(PTSIZE) && pa.is_multiple_of(PTSIZE) && size.is_multiple_of(PTSIZE));
    for off in (0..size).step_by(PTSIZE) {
        pgdir.0[pdx(va + off)] = Pte::new(pa + off, perm | PteFlags::P | PteFlags::PS);
    }
}

/// Translates `va` in `pgdir` to a physical address (following 4 MiB pages
/// too); None if unmapped. Also returns the effective permissions (the PDE's
/// and PTE's bits combined).
pub fn va2pa(pgdir: &PageTable, va: usize) -> Option<(usize, PteFlags)> {
    let pde = pgdir.0[pdx(va)];
    if !pde.is_present() {
        return None;
    }
    if pde.flags().contains(PteFlags::PS) {
        let base = pde.raw() as usize & !(PTSIZE - 1);
        return Some((base + (va & (PTSIZE - 1)), pde.flags()));
    }
    // SAFETY: a present non-PS PDE points at a page table.
    let pte = unsafe { (*(kaddr(pde.addr()) as *const PageTable)).0[ptx(va)] };
    if !pte.is_present() {
        return None;
    }
    let perm = pte.flags() & (pde.flags() | !(PteFlags::W | PteFlags::U));
    Some((pte.addr() + pgoff(va), perm))
}

/// The next free address in the MMIO window.
static MMIO_NEXT: Mutex<usize> = Mutex::new(MMIOBASE);

/// Maps device memory [pa, pa + size) uncached into the MMIO window
/// [MMIOBASE, MMIOLIM) and returns its address. Panics if the window is
/// full (a kernel configuration error).
pub fn mmio_map_region(pa: usize, size: usize) -> usize {
    let mut next = MMIO_NEXT.lock();
    let base = *next;
    let size = round_up(pa % PGSIZE + size, PGSIZE).expect("mmio_map_region: size overflows");
    assert!(base + size <= MMIOLIM, "mmio_map_region: MMIO window full");
    let pa_page = round_down(pa, PGSIZE);
    // SAFETY: kern_pgdir's MMIO window is only written here, under
    // MMIO_NEXT's lock; everything else only reads kern_pgdir.
    let kern = unsafe { &mut *kern_pgdir() };
    boot_map_region(
        kern,
        base,
        size,
        pa_page,
        PteFlags::W | PteFlags::PCD | PteFlags::PWT,
    );
    *next = base + size;
    base + pa % PGSIZE
}

// ---------------------------------------------------------------------------
// The kernel address space.

/// Per-CPU kernel stacks, mapped at KSTACKTOP - i * (KSTKSIZE + KSTKGAP).
#[repr(C, align(4096))]
pub struct KernelStacks(pub [[u8; KSTKSIZE]; NCPU]);

/// The kernel stacks themselves.
pub static mut PERCPU_KSTACKS: KernelStacks = KernelStacks([[0; KSTKSIZE]; NCPU]);

/// Sets up physical memory and the kernel's address space, runs the self
/// checks, and switches to `kern_pgdir` (JOS's mem_init).
pub fn mem_init() {
    i386_detect_memory();

    // The kernel page directory.
    let pgdir_ptr = boot_alloc(PGSIZE) as *mut PageTable;
    KERN_PGDIR.store(pgdir_ptr, Ordering::Relaxed);
    // SAFETY: boot, one CPU: the directory was just allocated and zeroed,
    // and is only reached here while it is built.
    let pgdir = unsafe { &mut *pgdir_ptr };
    // UVPT: the directory is its own page table there, so user code can read
    // every PTE of its address space at UVPT and every PDE at UVPD.
    pgdir.0[pdx(UVPT)] = Pte::new(paddr(pgdir_ptr as usize), PteFlags::U | PteFlags::P);

    let pages = boot_alloc(npages() * size_of::<PageInfo>()) as *mut PageInfo;
    PAGES.store(pages, Ordering::Relaxed);
    let envs = boot_alloc(NENV * size_of::<Env>()) as *mut Env;
    ENVS.store(envs, Ordering::Relaxed);

    page_init();
    check::check_page_free_list(true);
    check::check_page_alloc();
    check::check_page();
    check::check_string();

    // UPAGES and UENVS: read-only for users, and the kernel uses its own
    // KERNBASE aliases to write them.
    let user_ro = PteFlags::U;
    let pages_size = round_up(npages() * size_of::<PageInfo>(), PGSIZE).unwrap();
    boot_map_region(pgdir, UPAGES, pages_size, paddr(pages as usize), user_ro);
    let envs_size = round_up(NENV * size_of::<Env>(), PGSIZE).unwrap();
    boot_map_region(pgdir, UENVS, envs_size, paddr(envs as usize), user_ro);

    // The zero page: read-only for users at UZERO in every address space.
    // Nobody ever writes it (CR0.WP keeps the kernel out too).
    let zero = page_alloc(Alloc::Zero).expect("no memory for the zero page");
    page_incref(zero);
    ZERO_PAGE.store(zero.pa(), Ordering::Relaxed);
    boot_map_region(pgdir, UZERO, PGSIZE, zero.pa(), user_ro);

    // Kernel stacks, each with an unmapped guard gap below it.
    for cpu in 0..NCPU {
        let top = kstacktop(cpu);
        // SAFETY: only the address of the stack is taken.
        let stack = unsafe { (&raw const PERCPU_KSTACKS.0[cpu]) as usize };
        boot_map_region(pgdir, top - KSTKSIZE, KSTKSIZE, paddr(stack), PteFlags::W);
    }

    // All of physical memory at KERNBASE, with 4 MiB pages if the CPU has them.
    let (_, _, _, edx) = x86::cpuid(1);
    if edx & (1 << 3) != 0 {
        PSE.store(true, Ordering::Relaxed);
        // SAFETY: enabling PSE only changes how PS entries are read; none exist yet.
        unsafe { x86::lcr4(x86::rcr4() | x86::Cr4::CR4_ENABLE_PSE) };
        boot_map_region_large(pgdir, KERNBASE, MAX_PHYS, 0, PteFlags::W);
    } else {
        boot_map_region(pgdir, KERNBASE, MAX_PHYS, 0, PteFlags::W);
    }

    check::check_kern_pgdir();

    // SAFETY: kern_pgdir maps the kernel at KERNBASE exactly as the entry
    // directory did, plus everything else.
    unsafe { x86::lcr3(paddr(pgdir_ptr as usize)) };
    check::check_page_free_list(false);

    // The final CR0: paging, write-protect in ring 0, no FPU emulation.
    let cr0 = (x86::rcr0()
        | Cr0::CR0_PROTECTED_MODE
        | Cr0::CR0_ENABLE_PAGING
        | Cr0::CR0_ALIGNMENT_MASK
        | Cr0::CR0_WRITE_PROTECT
        | Cr0::CR0_MONITOR_COPROCESSOR)
        - (Cr0::CR0_TASK_SWITCHED | Cr0::CR0_EMULATE_COPROCESSOR);
    // SAFETY: the new CR0 keeps paging on with the same directory.
    unsafe { x86::lcr0(cr0) };

    check::check_page_installed_pgdir();
}
