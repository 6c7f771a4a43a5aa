//! Shared memory across machines (distributed shared memory): one range of
//! pages that programs on several machines read and write with plain loads
//! and stores, kept sequentially consistent page by page by Li and Hudak's
//! IVY protocol (the pure logic is `lib/dsm`; the README's "Shared memory
//! across machines" has the whole story).
//!
//! [`dsm_attach`] turns the calling program into three environments on
//! each machine, plus the application:
//!
//! ```text
//!   caller ──(becomes)──> daemon: the protocol (dsm::Node); owns the
//!     │                           machine's copy of every page and maps
//!     │                           it into the application, read-only,
//!     │                           writable or not at all
//!     ├─ fork ─> receiver: waits in recvfrom on the UDP socket, hands
//!     │                    each datagram to the daemon by IPC
//!     ├─ fork ─> ticker:   every 20 ms, an IPC to the daemon (timeouts)
//!     └─ fork ─> application: dsm_attach returns here; a fault in the
//!                range goes (through the library's fault dispatch, like
//!                every other trick) to `dsm_fault`, an IPC call to the
//!                daemon answered once the page is mapped as asked
//! ```
//!
//! The daemon must be the application's parent: JOS lets an environment
//! map pages only into itself and its children. It waits for the
//! application to end (calling [`Dsm::detach`] or not), then for every
//! peer to be done too (a `Bye` from each), answers a little longer, and
//! exits; the shell that ran the program waits for it.
//!
//! A peer that stops answering is reported by the daemon after a bounded
//! time; the application's next access to the range fails (every page is
//! taken away at once) and it exits with a message. A student may replace
//! [`dsm_fault`] with a handler of their own (`pgfault::add_region` on the
//! range, as `vm::cow` shows for copy-on-write): it must only ask the
//! daemon with the same call.
mod daemon;
pub mod sync;

pub use dsm::{NodeId, Stats};

use crate::ipc::ipc_call;
use crate::net::{NetAddr, bind, socket};
use crate::pgfault::add_region;
use crate::syscall::sys_page_unmap;
use crate::vm::fault::Fault;
use abi::env::EnvId;
use abi::error::{Error, Result};
use abi::memlayout::UTOP;
use abi::mmu::{FEC_WR, PGSIZE, PteFlags};
use abi::nsipc::{IPPROTO_UDP, PF_INET, SOCK_DGRAM};
use abi::trap::UTrapframe;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// The UDP port the daemons talk on.
pub const DSM_PORT: u16 = 4747;
/// Where a shared range may be: [DSM_BASE, DSM_BASE + DSM_MAX) (free in
/// every program: above the mmap areas, below the file server's disk map
/// end and the swap map).
pub const DSM_BASE: usize = 0xA000_0000;
/// The largest shared range.
pub const DSM_MAX: usize = 16 << 20;
/// The daemon's scratch pages (a datagram received, the statistics sent).
const RXVA: usize = DSM_BASE - PGSIZE;
const STATSVA: usize = DSM_BASE - 2 * PGSIZE;

/// What the application asks the daemon (the low bits of the IPC value;
/// the page's address in the high bits).
const OP_READ: u32 = 1;
const OP_WRITE: u32 = 2;
const OP_STATS: u32 = 3;
const OP_DETACH: u32 = 4;
/// The daemon's answers.
const ANS_DONE: u32 = 0;
const ANS_LOST: u32 = 1;

/// The range and the daemon, for the fault handler (the application's).
static LO: AtomicU32 = AtomicU32::new(0);
static HI: AtomicU32 = AtomicU32::new(0);
static DAEMON: AtomicI32 = AtomicI32::new(0);

/// The application's handle on a shared range.
pub struct Dsm {
    region: usize,
    len: usize,
    me: NodeId,
    nodes: usize,
    /// The daemon (0: one machine alone, plain memory).
    daemon: EnvId,
}

/// Shares [region, region + len) with the machines at `peers` (IPv4
/// addresses, not ours; none: a range of plain local memory, so a program
/// runs the same on one machine). Each machine's node number is its
/// address's rank among all the addresses (ours is the `ip=` of the
/// kernel's command line); node 0 is the manager, and at the start it
/// holds every page, zero-filled.
///
/// Returns in the application (a new environment: see the module's
/// comment); the caller's environment becomes the daemon and never
/// returns from here unless the range cannot be shared. One range per
/// program, and no `fork` after it: a child would get copy-on-write
/// copies of the range's pages that the daemon neither knows nor takes
/// back (and the parent's next write would go to a private copy). Err(Inval) for a
/// range not page-aligned, empty, beyond [`DSM_MAX`] or outside
/// [DSM_BASE, DSM_BASE + DSM_MAX), more than 15 peers, ours among them or
/// no `ip=`; Err(NoMem) when memory or environments run out; a socket's
/// errors (E_BAD_ENV without a network server).
pub fn dsm_attach(region: usize, len: usize, peers: &[[u8; 4]]) -> Result<Dsm> {
    if !region.is_multiple_of(PGSIZE)
        || !len.is_multiple_of(PGSIZE)
        || len == 0
        || region < DSM_BASE
        || region
            .checked_add(len)
            .is_none_or(|end| end > DSM_BASE + DSM_MAX)
        || peers.len() >= dsm::MAX_NODES
    {
        return Err(Error::Inval);
    }
    if peers.is_empty() {
        return local(region, len);
    }
    let k = crate::kargs::kargs();
    let ours = k
        .arg("ip")
        .and_then(|a| crate::net::inet::inet_aton(a.split('/').next().unwrap_or("")))
        .ok_or(Error::Inval)?;
    // Every machine's address, in node order.
    let mut addrs: alloc::vec::Vec<[u8; 4]> = peers.to_vec();
    addrs.push(ours);
    addrs.sort_unstable();
    if addrs.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Inval);
    }
    let me = addrs.iter().position(|&a| a == ours).unwrap_or(0) as NodeId;
    // The daemon's frames (a message's buffer, the protocol's) take more
    // than the one stack page the kernel gives.
    crate::vm::stack::enable_stack_growth()?;
    let sock = socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP)?;
    if let Err(e) = bind(sock, NetAddr::new([0; 4], DSM_PORT)) {
        let _ = crate::fd::close(sock);
        return Err(e);
    }
    let daemon = crate::env::thisenv_id();
    let helpers = daemon::start_helpers(sock, daemon);
    let (rx, ticker) = match helpers {
        Ok(h) => h,
        Err(e) => {
            let _ = crate::fd::close(sock);
            return Err(e);
        }
    };
    match crate::fork() {
        Ok(0) => {
            let _ = crate::fd::close(sock);
            let parent = crate::env::thisenv_read().env_parent_id;
            application(region, len, me, addrs.len(), parent)
        }
        Ok(app) => daemon::run(daemon::Machine {
            region,
            npages: (len / PGSIZE) as u32,
            app,
            rx,
            ticker,
            sock,
            addrs,
            me,
            done: alloc::vec::Vec::new(),
            lost: None,
        }),
        Err(e) => {
            daemon::stop_helpers(rx, ticker);
            let _ = crate::fd::close(sock);
            Err(e)
        }
    }
}

/// [`dsm_attach`] with the peers of the kernel's command line: `peer=`,
/// one address or several separated by commas (none: one machine alone).
/// Err(Inval) for an address that does not parse.
pub fn dsm_attach_kargs(region: usize, len: usize) -> Result<Dsm> {
    let k = crate::kargs::kargs();
    let mut peers = alloc::vec::Vec::new();
    if let Some(list) = k.arg("peer") {
        for a in list.split(',') {
            peers.push(crate::net::inet::inet_aton(a).ok_or(Error::Inval)?);
        }
    }
    dsm_attach(region, len, &peers)
}

/// One machine alone: the range is plain zero-filled memory.
fn local(region: usize, len: usize) -> Result<Dsm> {
    for va in (region..region + len).step_by(PGSIZE) {
        if let Err(e) = crate::syscall::sys_page_alloc(0, va, abi::mmu::PTE_RW) {
            for v in (region..va).step_by(PGSIZE) {
                let _ = sys_page_unmap(0, v);
            }
            return Err(e);
        }
    }
    Ok(Dsm {
        region,
        len,
        me: 0,
        nodes: 1,
        daemon: 0,
    })
}

/// The application's side of dsm_attach, in the new child.
fn application(region: usize, len: usize, me: NodeId, nodes: usize, daemon: EnvId) -> Result<Dsm> {
    LO.store(region as u32, Ordering::Relaxed);
    HI.store((region + len) as u32, Ordering::Relaxed);
    DAEMON.store(daemon, Ordering::Relaxed);
    if let Err(e) = add_region(region, region + len, "dsm", dsm_fault) {
        crate::cprintf!("dsm: cannot take the range's faults: {}\n", e);
        crate::exit();
    }
    Ok(Dsm {
        region,
        len,
        me,
        nodes,
        daemon,
    })
}

/// Asks the daemon for the page at `va` in the shared range, for reading
/// or for `write`, and waits until it is mapped so. Err(Inval) if `va` is
/// outside the range (or the range is not shared), Err(Fault) if the
/// shared memory is lost (a peer stopped answering, or the daemon is
/// gone). What a fault handler of the range calls ([`dsm_fault`], or a
/// student's own).
pub fn dsm_request(va: usize, write: bool) -> Result<()> {
    let (lo, hi) = (LO.load(Ordering::Relaxed), HI.load(Ordering::Relaxed));
    if !(lo as usize..hi as usize).contains(&va) {
        return Err(Error::Inval);
    }
    let op = if write { OP_WRITE } else { OP_READ };
    let page = (va & !(PGSIZE - 1)) as u32;
    match ipc_call(
        DAEMON.load(Ordering::Relaxed),
        page | op,
        None,
        PteFlags::empty(),
        None,
    ) {
        Ok(m) if m.value == ANS_DONE => Ok(()),
        _ => Err(Error::Fault),
    }
}

/// The fault handler of the shared range (the application's): asks the
/// daemon for the page ([`dsm_request`]), for reading or writing as the
/// fault was, and retries the access. Declines a fault outside the
/// range. If the shared memory is lost, says so and exits.
pub fn dsm_fault(utf: &mut UTrapframe) -> Fault {
    let va = utf.utf_fault_va as usize;
    match dsm_request(va, utf.utf_err & FEC_WR != 0) {
        Ok(()) => Fault::Handled,
        Err(Error::Inval) => Fault::Declined,
        Err(_) => {
            crate::cprintf!(
                "dsm: shared memory lost (a peer stopped answering) at {:#x}: exiting\n",
                va
            );
            crate::exit();
        }
    }
}

impl Dsm {
    /// The range's first address.
    pub fn base(&self) -> usize {
        self.region
    }

    /// The range's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty (never: for clippy's sake).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// This machine's node number (0: the manager).
    pub fn node(&self) -> NodeId {
        self.me
    }

    /// The number of machines sharing the range.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// A reference to a `T` at byte `offset` of the range (a lock, a
    /// barrier, a counter: anything all machines agree to place there).
    /// Panics if it does not fit or is misaligned (a caller's bug).
    pub fn at<T: sync::Shared>(&self, offset: usize) -> &T {
        let va = self.region.wrapping_add(offset);
        assert!(
            offset
                .checked_add(core::mem::size_of::<T>())
                .is_some_and(|end| end <= self.len)
                && va.is_multiple_of(core::mem::align_of::<T>()),
            "dsm: object at {offset:#x} outside the range"
        );
        // SAFETY: inside the range (checked), aligned; every bit pattern of
        // a `Shared` type (atomics) is valid, and the range stays mapped
        // (or faults in) for as long as `self` lives.
        unsafe { &*(va as *const T) }
    }

    /// The daemon's statistics now (all zeros on one machine alone).
    pub fn stats(&self) -> Stats {
        self.ask(OP_STATS)
    }

    /// Ends this machine's use of the range: the daemon tells the peers
    /// (it serves them until all are done too) and returns its final
    /// statistics. The range is then left as it is: reads of pages still
    /// here work; touching others ends the program.
    pub fn detach(self) -> Stats {
        self.ask(OP_DETACH)
    }

    /// Asks the daemon `op`; its answer is the statistics page.
    fn ask(&self, op: u32) -> Stats {
        if self.daemon == 0 {
            return Stats::default();
        }
        match ipc_call(self.daemon, op, None, PteFlags::empty(), Some(STATSVA)) {
            Ok(m) if !m.perm.is_empty() => {
                // SAFETY: the daemon's page of statistics, just mapped at
                // STATSVA (a Stats is plain integers: any bytes are valid).
                let s = unsafe { core::ptr::read(STATSVA as *const Stats) };
                let _ = sys_page_unmap(0, STATSVA);
                s
            }
            _ => Stats::default(),
        }
    }
}

/// Prints `stats` as every DSM program reports them, prefixed by `who`.
pub fn print_stats(who: &str, node: NodeId, s: &Stats) {
    crate::cprintf!(
        "{}: node {}: read faults {}, write faults {}, read ahead {}, pages sent {}, invalidations {}, retransmissions {}\n",
        who,
        node,
        s.read_faults,
        s.write_faults,
        s.read_ahead,
        s.pages_sent,
        s.invalidations,
        s.retransmissions
    );
}

// The scratch pages sit just below the range, which ends below UTOP.
const _: () = assert!(STATSVA < RXVA && RXVA + PGSIZE == DSM_BASE && DSM_BASE + DSM_MAX < UTOP);
