//! Swapping: virtual memory larger than physical memory, as library policy.
//!
//! Each environment pages its own anonymous memory (the lazy heap and
//! private anonymous `mmap` areas) out to swap space kept by the file
//! server, and back in when it is touched. Nothing happens until the
//! kernel says memory is short: when `sys_page_alloc` (or a mapping that
//! needs a page table) fails with `E_NO_MEM` in one of those areas' fault
//! handlers, [`alloc`] evicts a few pages and tries again.
//!
//! - **Victims** are chosen with a clock over the swappable areas' present
//!   pages, from where the hand stopped last time: a page whose accessed
//!   (A) bit is set had a second chance and is passed over; a page with A
//!   clear is evicted. The bits are read through UVPT, and the hand clears
//!   them with `sys_vm_clear_ad` for each batch of pages it passes. Pages
//!   that are not ours alone (the zero page, pages shared after a fork,
//!   PTE_SHARE pages) are never evicted: that would free nothing.
//! - **Dirty pages are written once.** Clearing A clears D too, so the
//!   clock first copies a page's D bit into the swap map (a "soft dirty"
//!   bit). A page evicted when clean and already on swap is just unmapped;
//!   a dirty one, or one never written out, goes to its slot
//!   (`FSREQ_SWAPOUT`, the page itself is the IPC page).
//! - **The swap map** has one 32-bit entry per page of [0, SWAP_END) at
//!   [`SWAPMAP`]: 0, or the page's swap slot + 1 and the soft dirty bit. Its
//!   pages are made when first needed, from the frame of the page being
//!   evicted (so eviction never needs a free page).
//! - **Paging in**: the fault handler of a page whose entry names a slot
//!   allocates a page there (evicting if needed) and has the server read
//!   the slot into it (`FSREQ_SWAPIN`); the entry stays, the page clean.
//! - **Slots are freed** when their pages are unmapped (`munmap`, a heap
//!   that shrinks: [`forget_range`]) and at `exit` (all of them). The
//!   server frees the slots of environments that are gone without saying
//!   so (killed), so no slot outlives its owner.
//! - **`fork`** first brings every page back and gives up all slots
//!   ([`before_fork`]): slots belong to one environment, and a child
//!   sharing its parent's would need reference counts on slots.
//!
//! - **Opt-in.** Nothing of this is linked into a program that does not
//!   ask for it: [`enable`] (which `vm::mmap` calls for its private
//!   anonymous mappings, and a program whose heap should swap calls at
//!   the start of `umain`) registers the hooks and sets `PAGER`, the
//!   one way the heap's and mmap's fault handlers reach the pager. Before
//!   that, [`retry`] has nothing to evict (it waits for other envs to free
//!   memory, then gives up), no page is ever on swap, and fat LTO leaves
//!   the clock, the swap map and the hooks out of the program (about
//!   3 KB of text: see the README's Build profile).
//!
//! The file server never swaps (its memory is the block cache, which
//! gives up clean blocks on its own). Limits: sfork'd environments share
//! one swap map without locking (do not swap with sfork); stack, data and
//! copy-on-write copies are not swapped.
use super::areas::{Area, Kind, next_area};
use super::fault::Fault;
use crate::cell::EnvCell;
use crate::syscall::{sys_page_alloc, sys_page_map, sys_page_unmap, sys_vm_clear_ad};
use crate::uvpt::{page_refcount, pte_of, uvpd};
use abi::error::{Error, Result};
use abi::fsipc::{
    FDTABLE, FSREQ_SWAPFREE, FSREQ_SWAPIN, FSREQ_SWAPOUT, FSREQ_SWAPSTAT, SWAP_ALL, SWAP_NEW,
    swap_req,
};
use abi::memlayout::UXSTACKTOP;
use abi::mmu::{FEC_NOMEM, PGSIZE, PTE_RW, PTSIZE, Pte, PteFlags, pdx, round_down};
use abi::trap::UTrapframe;
use core::sync::atomic::{AtomicBool, Ordering};

/// The end of what swap covers: the pages of [0, SWAP_END), the heap's
/// and mmap's (`vm::mmap` checks that its region lies below).
pub const SWAP_END: usize = 0x9000_0000;
/// The name of the areas swap pages besides the heap, when writable and
/// anonymous: `vm::mmap` gives it to its private anonymous mappings.
pub const NAME_SWAPPABLE: &str = "mmap";
/// Where the swap map starts: entry i (4 bytes) is page i's.
pub const SWAPMAP: usize = 0xCFC0_0000;
/// The end of the swap map (it covers the pages of [0, SWAP_END)).
pub const SWAPMAP_END: usize = SWAPMAP + SWAP_END / PGSIZE * 4;
const _: () = assert!(SWAPMAP_END <= FDTABLE && SWAPMAP >= SWAP_END);

/// An entry's slot field (slot + 1; 0: not on swap).
const ENTRY_SLOT: u32 = 0x00FF_FFFF;
/// An entry's soft dirty bit: written since the slot was last written.
const ENTRY_DIRTY: u32 = 1 << 31;

/// How many pages the clock passes in one batch (one `sys_vm_clear_ad`).
const BATCH: usize = 32;
/// How many pages one call of [`alloc`] evicts when memory is short.
const EVICT: usize = 8;

/// What this environment's swapping has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwapStats {
    /// Pages read back from swap.
    pub pageins: u32,
    /// Pages written to swap.
    pub pageouts: u32,
    /// Clean pages already on swap, evicted without writing.
    pub drops: u32,
    /// Pages on swap now (entries naming a slot).
    pub on_swap: u32,
}

#[derive(Clone, Copy)]
struct State {
    /// The clock hand: the next page it looks at.
    hand: usize,
    stats: SwapStats,
    /// Whether we ever asked the server for a slot.
    used: bool,
}

static STATE: EnvCell<State> = EnvCell::new(State {
    hand: 0,
    stats: SwapStats {
        pageins: 0,
        pageouts: 0,
        drops: 0,
        on_swap: 0,
    },
    used: false,
});

/// This environment's swapping so far.
pub fn stats() -> SwapStats {
    STATE.with(|s| s.stats)
}

/// Whether `a` is memory we page: the heap and private anonymous mappings.
fn swappable(a: &Area) -> bool {
    a.kind == Kind::Heap || (a.kind == Kind::Anonymous && a.name == NAME_SWAPPABLE && a.prot.write)
}

/// The address of page `va`'s swap-map entry.
fn entry_addr(va: usize) -> usize {
    SWAPMAP + va / PGSIZE * 4
}

/// Page `va`'s swap-map entry (0 if its map page was never made).
fn entry(va: usize) -> u32 {
    let a = entry_addr(va);
    if va >= SWAP_END || pte_of(a).is_none() {
        return 0;
    }
    // SAFETY: the map page holding the entry is mapped (checked above) and
    // the entry is aligned.
    unsafe { core::ptr::read_volatile(a as *const u32) }
}

/// Sets page `va`'s entry; its map page must be mapped.
fn set_entry(va: usize, v: u32) {
    let a = entry_addr(va);
    debug_assert!(pte_of(a).is_some());
    // SAFETY: the map page is mapped writable (we made it) and the entry
    // is aligned; nothing else refers to it.
    unsafe { core::ptr::write_volatile(a as *mut u32, v) };
}

/// The slot an entry names.
fn slot_of(e: u32) -> Option<u32> {
    match e & ENTRY_SLOT {
        0 => None,
        s => Some(s - 1),
    }
}

/// Sends swap request `req` on `slot` to the file server, with the page
/// at `page` (if any) and `perm`, and waits for its reply. Returns the
/// reply's value; its error, or E_BAD_ENV if there is no file server.
fn swap_ipc(req: u32, slot: u32, page: Option<usize>, perm: PteFlags) -> Result<u32> {
    crate::file::fs_call(swap_req(req, slot), page, perm, None)
}

/// Whether the page `pte` maps at `va` can be evicted: ours alone
/// (freeing it frees memory), writable or copy-on-write, not shared. (The
/// zero page never is: the kernel holds it and maps it at UZERO in every
/// address space, so its count is never 1.)
fn evictable(pte: Pte) -> bool {
    let f = pte.flags();
    !f.contains(PteFlags::SHARE)
        && f.intersects(PteFlags::W | PteFlags::COW)
        && page_refcount(pte.addr()) == Some(1)
}

/// Evicts the page `pte` maps at `va`: writes it to its slot if it is
/// dirty or not on swap yet, then unmaps it. Returns whether its frame was
/// freed (false if it became a page of the swap map instead).
fn page_out(va: usize, pte: Pte) -> Result<bool> {
    let e = entry(va);
    let dirty = pte.flags().contains(PteFlags::D) || e & ENTRY_DIRTY != 0;
    let slot = match slot_of(e) {
        Some(s) if !dirty => {
            STATE.with(|s| s.stats.drops += 1);
            s
        }
        old => {
            STATE.with(|s| s.used = true);
            let ro = PteFlags::P | PteFlags::U;
            let s = swap_ipc(FSREQ_SWAPOUT, old.unwrap_or(SWAP_NEW), Some(va), ro)?;
            STATE.with(|st| {
                st.stats.pageouts += 1;
                if old.is_none() {
                    st.stats.on_swap += 1;
                }
            });
            s
        }
    };
    let map_page = round_down(entry_addr(va), PGSIZE);
    let freed = if pte_of(map_page).is_some() {
        sys_page_unmap(0, va)?;
        true
    } else {
        // No map page here yet: the victim's frame becomes it.
        sys_page_map(0, va, 0, map_page, PTE_RW)?;
        sys_page_unmap(0, va)?;
        // SAFETY: map_page is mapped writable, ours alone.
        unsafe { core::ptr::write_bytes(map_page as *mut u8, 0, PGSIZE) };
        false
    };
    set_entry(va, slot + 1);
    Ok(freed)
}

/// What the heap and mmap reach only once [`enable`] ran: the pager's
/// entry points, through pointers, so that a program that never enables
/// swap never links them.
struct Pager {
    /// [`evict`].
    evict: fn(usize) -> Result<usize>,
    /// [`page_in_now`].
    page_in: fn(usize) -> Result<()>,
    /// [`forget_now`].
    forget_range: fn(usize, usize),
}

/// The pager, set by [`enable`] (None: swap is off in this program).
static PAGER: EnvCell<Option<&'static Pager>> = EnvCell::new(None);

/// The pager [`enable`] installs.
static THE_PAGER: Pager = Pager {
    evict,
    page_in: page_in_now,
    forget_range: forget_now,
};

/// Runs the clock until `want` pages were evicted or two full turns found
/// no more. Returns how many were evicted (0: nothing could be).
fn evict(want: usize) -> Result<usize> {
    EVICTING.store(true, Ordering::Relaxed);
    let r = clock(want);
    EVICTING.store(false, Ordering::Relaxed);
    r
}

/// [`evict`]'s clock.
fn clock(want: usize) -> Result<usize> {
    let mut evicted = 0;
    let mut wraps = 0;
    let mut hand = STATE.with(|s| s.hand);
    while evicted < want {
        let Some(a) = next_area(hand, swappable) else {
            // Past the last area: back to the first, twice at most (the
            // first turn may only clear accessed bits).
            wraps += 1;
            if wraps > 2 || hand == 0 {
                break;
            }
            hand = 0;
            continue;
        };
        let start = hand.max(a.start);
        let end = (start + BATCH * PGSIZE).min(a.end);
        hand = end;
        // No page table here: nothing mapped in the rest of its 4 MiB.
        if !uvpd(pdx(start)).is_present() {
            hand = round_down(start, PTSIZE) + PTSIZE;
            continue;
        }
        let mut accessed = false;
        for va in (start..end).step_by(PGSIZE) {
            let Some(pte) = pte_of(va) else { continue };
            if !evictable(pte) {
                continue;
            }
            if pte.flags().contains(PteFlags::A) {
                accessed = true;
                let e = entry(va);
                if pte.flags().contains(PteFlags::D) && e != 0 {
                    set_entry(va, e | ENTRY_DIRTY);
                }
            } else if evicted < want {
                page_out(va, pte)?;
                evicted += 1;
            }
        }
        if accessed {
            sys_vm_clear_ad(start, end - start)?;
        }
    }
    STATE.with(|s| s.hand = hand);
    Ok(evicted)
}

/// Runs `f` (which maps a page, e.g. `sys_page_alloc`) until it does not
/// fail with E_NO_MEM, evicting pages in between (or, with none of ours
/// to evict, waiting for other envs to free some). Returns f's result, or
/// Err(NoMem) when nothing frees up (out of memory and swap).
pub fn retry(mut f: impl FnMut() -> Result<()>) -> Result<()> {
    let mut waits = 0;
    loop {
        match f() {
            Err(Error::NoMem) => {
                let evicted = match PAGER.get() {
                    Some(pager) => (pager.evict)(EVICT)?,
                    None => 0,
                };
                if evicted == 0 {
                    // Nothing of ours to give up: another env holds the
                    // memory. Its own evictions free pages now and then;
                    // give it the CPU and look again, for a while.
                    waits += 1;
                    if waits > MAX_WAITS {
                        return Err(Error::NoMem);
                    }
                    crate::syscall::sys_yield();
                }
            }
            r => return r,
        }
    }
}

/// How many times [`retry`] yields, with nothing to evict, before it
/// gives up.
const MAX_WAITS: u32 = 100_000;

/// Set while [`evict`] runs (a fault in it must not run it again).
static EVICTING: AtomicBool = AtomicBool::new(false);

/// Turns swapping on for this environment, once: registers swap with the
/// library's hook lists ([`before_fork`] before each fork, `fork::atfork`;
/// [`release`] at exit, `env::atexit`; [`pager_declined`] before a fault
/// is declared unhandled, `pgfault::add_unhandled_hook`) and makes the
/// heap's and private anonymous mappings' pages swappable. `vm::mmap`
/// calls it before its first mapping; a program whose heap should swap
/// calls it at the start of `umain`, from ordinary code (not a fault
/// handler). A fork child inherits it.
///
/// Err(NoMem) if a list is full or the upcall cannot be installed; the
/// hooks registered before the error stay, and a later call tries again.
pub fn enable() -> Result<()> {
    if PAGER.get().is_some() {
        return Ok(());
    }
    crate::fork::atfork(before_fork)?;
    crate::env::atexit(release)?;
    crate::pgfault::add_unhandled_hook(pager_declined)?;
    // Heap pages it pages out must fault back in: the heap's handler.
    super::heap::make_lazy()?;
    PAGER.set(Some(&THE_PAGER));
    Ok(())
}

/// The hook for the page-fault dispatcher, before it gives up on a fault:
/// a page our pager (demand paging, `spawn`) declined for want of memory
/// (FEC_NOMEM: the file server had no page left for a block of our
/// program, envs like us having taken them all). Waiting would not help
/// if we hold that memory: evict a few of our own pages and return
/// Handled, which retries the instruction (it goes to the pager again).
/// Returns Declined for any other fault, for a fault nested in a handler
/// or while evicting (the handler may itself be evicting, and the code
/// for that may be what is missing), and when nothing could be evicted:
/// then the dispatcher lets other envs run and retries
/// (`vm::fault::pager_declined`), a bounded number of times.
pub fn pager_declined(utf: &mut UTrapframe) -> Fault {
    let nested = (UXSTACKTOP - PGSIZE..UXSTACKTOP).contains(&(utf.utf_esp as usize));
    if utf.utf_err & FEC_NOMEM == 0 || nested || EVICTING.load(Ordering::Relaxed) {
        return Fault::Declined;
    }
    match evict(EVICT) {
        Ok(n) if n > 0 => Fault::Handled,
        _ => Fault::Declined,
    }
}

/// Maps a fresh zeroed page at `va` with `perm`, evicting pages to make
/// room when memory is short (see [`retry`]).
pub fn alloc(va: usize, perm: PteFlags) -> Result<()> {
    retry(|| sys_page_alloc(0, va, perm))?;
    touch(va);
    Ok(())
}

/// Reads the page at `va`, which sets its accessed bit: a page just made
/// for a fault must not be the clock's next victim before the faulting
/// instruction has even used it (two pages one instruction needs would
/// evict each other for ever). The page must be mapped, readable.
pub fn touch(va: usize) {
    // SAFETY: the page at va was just mapped, readable.
    unsafe { core::ptr::read_volatile(round_down(va, PGSIZE) as *const u8) };
}

/// Whether the page at `va` is on swap and not mapped: a fault there is
/// [`page_in`]'s.
pub fn swapped_out(va: usize) -> bool {
    PAGER.get().is_some() && pte_of(va).is_none() && slot_of(entry(va)).is_some()
}

/// Reads page `va` back from swap into a fresh page (writable), evicting
/// others if memory is short. Err(NoMem) if no page can be had, the
/// server's error if the read fails; Err(Inval) if `va` is not on swap
/// (always, if swap is not enabled).
pub fn page_in(va: usize) -> Result<()> {
    match PAGER.get() {
        Some(pager) => (pager.page_in)(va),
        None => Err(Error::Inval),
    }
}

/// [`page_in`] once swap is enabled.
fn page_in_now(va: usize) -> Result<()> {
    let va = round_down(va, PGSIZE);
    let slot = slot_of(entry(va)).ok_or(Error::Inval)?;
    read_slot(va, slot, |va| alloc(va, PTE_RW))?;
    // On swap and clean: evicted again unwritten unless written first.
    set_entry(va, slot + 1);
    Ok(())
}

/// Maps a page at `va` with `get` (which maps it writable) and has the
/// server read `slot` into it; unmaps it again if the read fails. Returns
/// get's error or the server's.
fn read_slot(va: usize, slot: u32, get: impl FnOnce(usize) -> Result<()>) -> Result<()> {
    get(va)?;
    if let Err(e) = swap_ipc(FSREQ_SWAPIN, slot, Some(va), PTE_RW) {
        let _ = sys_page_unmap(0, va);
        return Err(e);
    }
    STATE.with(|s| s.stats.pageins += 1);
    Ok(())
}

/// Frees the swap slots of the pages in [start, end) (they are being
/// unmapped) and clears their entries. Errors from the server are ignored
/// (the server frees an env's slots when it is gone anyway). Does nothing
/// if swap is not enabled (no page can be on swap then).
pub fn forget_range(start: usize, end: usize) {
    if let Some(pager) = PAGER.get() {
        (pager.forget_range)(start, end);
    }
}

/// [`forget_range`] once swap is enabled.
fn forget_now(start: usize, end: usize) {
    let end = end.min(SWAP_END);
    let mut va = round_down(start, PGSIZE);
    while va < end {
        let map_page = round_down(entry_addr(va), PGSIZE);
        if pte_of(map_page).is_none() {
            // A whole map page of entries (1024 pages) never made.
            va = (va / (PGSIZE * 1024) + 1) * PGSIZE * 1024;
            continue;
        }
        if let Some(slot) = slot_of(entry(va)) {
            let _ = swap_ipc(FSREQ_SWAPFREE, slot, None, PteFlags::empty());
            set_entry(va, 0);
            STATE.with(|s| s.stats.on_swap = s.stats.on_swap.saturating_sub(1));
        }
        va += PGSIZE;
    }
}

/// Frees every slot we have (at exit). Does nothing if we never swapped.
/// Needs no memory and cannot fail: an env that never swapped (a forked
/// child always starts so) only reads its state, which may still be on a
/// copy-on-write page with memory full; if the state cannot be written,
/// the slots are left for the server, which frees those of envs gone.
pub fn release() {
    if !STATE.get().used {
        return;
    }
    if STATE.try_with(|s| core::mem::replace(&mut s.used, false)) == Ok(true) {
        let _ = swap_ipc(FSREQ_SWAPFREE, SWAP_ALL, None, PteFlags::empty());
        let _ = STATE.try_with(|s| s.stats.on_swap = 0);
    }
}

/// Before `fork`: reads every page on swap back in (without evicting:
/// the child must get all of them), frees all our slots and unmaps the
/// swap map, so the child starts with none. Err(NoMem) if the pages do
/// not fit in memory (fork fails then; nothing is lost).
pub fn before_fork() -> Result<()> {
    if STATE.with(|s| s.stats.on_swap) == 0 && !STATE.with(|s| s.used) {
        return Ok(());
    }
    let mut va = 0;
    while let Some(a) = next_area(va, swappable) {
        for p in (a.start.max(va)..a.end).step_by(PGSIZE) {
            if swapped_out(p) {
                let slot = slot_of(entry(p)).ok_or(Error::Inval)?;
                read_slot(p, slot, |p| sys_page_alloc(0, p, PTE_RW))?;
                // Written since the slot was: nothing on swap holds it now.
                set_entry(p, 0);
                STATE.with(|s| s.stats.on_swap = s.stats.on_swap.saturating_sub(1));
            }
        }
        va = a.end;
    }
    release();
    for m in (SWAPMAP..SWAPMAP_END).step_by(PGSIZE) {
        if pte_of(m).is_some() {
            sys_page_unmap(0, m)?;
        }
    }
    Ok(())
}

/// How many swap slots are in use in the whole system (the server frees
/// those of environments that are gone first); with `total`, how many
/// there are. Errors from the server (E_BAD_ENV with no file server).
pub fn slots_in_use(total: bool) -> Result<u32> {
    swap_ipc(
        FSREQ_SWAPSTAT,
        if total { SWAP_ALL } else { 0 },
        None,
        PteFlags::empty(),
    )
}
