//! Per-env limits on what the server keeps for its clients, so that one
//! env's use never becomes another's error (issue 19, item 6): without
//! them one env could take every open-file slot, pin any number of cached
//! blocks through MAP_SHARED mappings, or fill the whole swap space.
//!
//! Each is charged to the env whose request took it (the server learns it
//! from IPC, `env_ipc_from`), like Unix's RLIMIT_NOFILE:
//!
//! - **Open files**: at most [`FILES_PER_ENV`] (a quarter of the table),
//!   else E_MAX_OPEN. A file is charged to the env that opened it, once,
//!   however many envs share its descriptor afterwards (fork, spawn, dup),
//!   and for as long as anyone holds the descriptor (its Fd page is mapped
//!   by someone besides the server).
//! - **MAP_SHARED blocks** (FSREQ_MAP with FSMAP_SHARED): at most
//!   [`MAPS_PER_ENV`] blocks in the shared set charged to one env, else
//!   E_NO_MEM (a block of the set is a page of the server's that cannot be
//!   given up: memory is the resource). A block is charged to the env that
//!   first put it in the set, for as long as anyone maps it; mapping a
//!   block already in the set costs nothing.
//! - **Swap slots**: at most [`SLOTS_PER_ENV`], else E_NO_DISK, as for a
//!   full swap space (see `swap.rs`).
//!
//! - **Programs paged** (FSREQ_PAGE): at most `pager::PAGED_PER_ENV`
//!   children registered by one env and still in use, else E_MAX_OPEN;
//!   counted in pager.rs from its own table.
//!
//! A charge ends when the thing is let go by everyone, or when the env is
//! gone: the counts of an env id are forgotten once another env has its
//! Env slot. Open files and mapped blocks are let go without a request
//! (a client unmaps its page, or exits), so their counts may be too high:
//! when an env reaches its limit, its count is made again from what it
//! still holds, and only then is it refused. Swap slots are freed by
//! request or by the server (`swap.rs`), so theirs is exact.
//!
//! What the limits do not stop: many envs, each under its limits (a fork
//! bomb), can still fill the table, the shared set or the swap space
//! together, as on Unix, where limits are per process too.
use abi::env::{EnvId, NENV, envx};
use abi::error::{Error, Result};
use jos::alloc::vec::Vec;
use jos::cell::EnvCell;

/// Open files one env may hold: a quarter of the server's table
/// (MAXOPEN, 1024). An env has 32 descriptors (MAXFD); the shell with its
/// pipes and background jobs holds a few dozen at most.
pub const FILES_PER_ENV: u32 = 256;
/// MAP_SHARED blocks one env may keep in the shared set: 1 MiB, half as
/// many blocks as the block cache keeps on its own (bc.rs's CACHE_MAX).
/// Our programs map a few pages of small files.
pub const MAPS_PER_ENV: u32 = 256;
/// Swap slots one env may hold: 50 MiB of the 64.6 MiB (16544 slots), so
/// that `swaptest 48` (a 48 MiB sort in one env) still runs, while every
/// other env can always have the remaining 14.6 MiB.
pub const SLOTS_PER_ENV: u32 = 12800;

/// What one env is charged.
#[derive(Clone, Copy)]
struct Charges {
    /// The env these counts are for (0: none yet): another id in the same
    /// Env slot means that env is gone, and its counts with it.
    env: EnvId,
    /// Open files (may count files since closed: see the module's doc).
    files: u32,
    /// MAP_SHARED blocks (may count blocks since let go).
    maps: u32,
    /// Swap slots (exact).
    slots: u32,
}

const NONE: Charges = Charges {
    env: 0,
    files: 0,
    maps: 0,
    slots: 0,
};

/// The charges of every env, by Env slot.
static CHARGES: EnvCell<[Charges; NENV]> = EnvCell::new([NONE; NENV]);

/// Who opened each open-file slot (index: the server's slot).
static FILE_OPENER: EnvCell<[EnvId; crate::serv::MAXOPEN]> =
    EnvCell::new([0; crate::serv::MAXOPEN]);

/// Blocks put in the shared set, and by whom (some may have left it:
/// they are pruned when the vector is full and when a count is made
/// again).
static MAP_HOLDER: EnvCell<Vec<(u32, EnvId)>> = EnvCell::new(Vec::new());

/// Runs `f` on the charges of `whom`, reset first if they were another
/// env's (gone: its Env slot was reused).
fn with_charges<R>(whom: EnvId, f: impl FnOnce(&mut Charges) -> R) -> R {
    CHARGES.with(|all| {
        let c = &mut all[envx(whom)];
        if c.env != whom {
            *c = Charges { env: whom, ..NONE };
        }
        f(c)
    })
}

/// Checks that `whom` may open one more file. `held(i)`: whether the file
/// in open-file slot `i` is still held by some env. Returns E_MAX_OPEN if
/// `whom` holds FILES_PER_ENV files it opened.
pub fn may_open(whom: EnvId, held: impl Fn(usize) -> bool) -> Result<()> {
    with_charges(whom, |c| {
        if c.files >= FILES_PER_ENV {
            c.files = FILE_OPENER
                .with(|o| (0..o.len()).filter(|&i| o[i] == whom && held(i)).count() as u32);
        }
        if c.files >= FILES_PER_ENV {
            return Err(Error::MaxOpen);
        }
        Ok(())
    })
}

/// Charges the file just opened in open-file slot `slot` to `whom`.
/// Cannot fail (call [`may_open`] first).
pub fn opened(whom: EnvId, slot: usize) {
    FILE_OPENER.with(|o| o[slot] = whom);
    with_charges(whom, |c| c.files += 1);
}

/// Whether block `b` of the shared set is still mapped by some client.
fn map_held(b: u32) -> bool {
    crate::fmap::is_shared(b) && crate::bc::pageref(crate::bc::diskaddr(b)) > 1
}

/// Charges block `b`, about to join the shared set (not in it yet), to
/// `whom`. E_NO_MEM if `whom` already holds MAPS_PER_ENV blocks of the set
/// it put there, or if the server has no memory to record it.
pub fn map_shared(whom: EnvId, b: u32) -> Result<()> {
    with_charges(whom, |c| {
        if c.maps >= MAPS_PER_ENV {
            c.maps = MAP_HOLDER.with(|v| {
                v.retain(|&(b, _)| map_held(b));
                v.iter().filter(|&&(_, e)| e == whom).count() as u32
            });
        }
        if c.maps >= MAPS_PER_ENV {
            return Err(Error::NoMem);
        }
        MAP_HOLDER.with(|v| -> Result<()> {
            // An entry for b is left from an earlier time it was shared:
            // b is not in the set now, so that charge is over.
            if let Some(e) = v.iter_mut().find(|(x, _)| *x == b) {
                *e = (b, whom);
                return Ok(());
            }
            if v.len() == v.capacity() {
                v.retain(|&(b, _)| map_held(b));
                v.try_reserve(v.len().max(16)).map_err(|_| Error::NoMem)?;
            }
            v.push((b, whom));
            Ok(())
        })?;
        c.maps += 1;
        Ok(())
    })
}

/// Checks that `whom` may have one more swap slot. E_NO_DISK if it holds
/// SLOTS_PER_ENV.
pub fn may_swap(whom: EnvId) -> Result<()> {
    with_charges(whom, |c| {
        if c.slots >= SLOTS_PER_ENV {
            Err(Error::NoDisk)
        } else {
            Ok(())
        }
    })
}

/// `whom` took a swap slot.
pub fn swap_taken(whom: EnvId) {
    with_charges(whom, |c| c.slots += 1);
}

/// A slot of `owner`'s was freed (by it, or by the server once it was
/// gone: then its counts may already belong to the next env of its Env
/// slot, and are left alone).
pub fn swap_given(owner: EnvId) {
    CHARGES.with(|all| {
        let c = &mut all[envx(owner)];
        if c.env == owner {
            c.slots = c.slots.saturating_sub(1);
        }
    });
}
