//! Environments (JOS's processes) and the physical-page record.
//!
//! The kernel keeps an array of [`NENV`] [`Env`]s and maps it read-only at
//! [`UENVS`]; the [`PageInfo`] array is mapped
//! read-only at [`UPAGES`]. User code reads both
//! (e.g. `envs[envx(sys_getenvid())]`, page reference counts), so their
//! layouts are part of the ABI.
//!
//! An environment id has three parts:
//!
//! ```text
//! +1+---------------21-----------------+--------10--------+
//! |0|          Uniqueifier             |   Environment    |
//! | |                                  |      Index       |
//! +------------------------------------+------------------+
//!                                       \--- envx(eid) --/
//! ```
//!
//! The index selects the slot in the `envs` array; the uniqueifier (a
//! generation counter starting at bit [`ENVGENSHIFT`]) distinguishes
//! environments that reuse a slot over time. The first id is `0x00001000`,
//! and id 0 means "the current environment" in system calls.

use crate::memlayout::{UENVS, UPAGES, UVPT};
use crate::mmu::PTSIZE;
use crate::trap::Trapframe;
use core::mem::{offset_of, size_of};

/// An environment id (JOS's `envid_t`). Never negative for a real
/// environment; 0 names the caller in system calls.
pub type EnvId = i32;

/// log2 of [`NENV`].
pub const LOG2NENV: u32 = 10;
/// Maximum number of environments.
pub const NENV: usize = 1 << LOG2NENV;
/// Bit at which the generation counter starts in an [`EnvId`]; with it the
/// first environment gets id `0x1000`.
pub const ENVGENSHIFT: u32 = 12;

const _: () = assert!(ENVGENSHIFT >= LOG2NENV);

/// Returns the index in the `envs` array of the environment with id `id`
/// (its low [`LOG2NENV`] bits).
///
/// Never fails: the result is always below [`NENV`]. Whether the slot still
/// holds that environment must be checked against `env_id`.
#[inline]
pub const fn envx(id: EnvId) -> usize {
    (id as u32 as usize) & (NENV - 1)
}

/// `env_status`: the slot is free.
pub const ENV_FREE: u32 = 0;
/// `env_status`: destroyed, to be freed when it is no longer running
/// on another CPU.
pub const ENV_DYING: u32 = 1;
/// `env_status`: waiting to run.
pub const ENV_RUNNABLE: u32 = 2;
/// `env_status`: running on a CPU (`env_cpunum`).
pub const ENV_RUNNING: u32 = 3;
/// `env_status`: blocked (e.g. in `sys_ipc_recv`) or not yet started.
pub const ENV_NOT_RUNNABLE: u32 = 4;

/// `env_type`: an ordinary user environment.
pub const ENV_TYPE_USER: u32 = 0;
/// `env_type`: the file-system server (granted I/O privilege).
pub const ENV_TYPE_FS: u32 = 1;
/// `env_type`: the network server (JOS's lab 6; no I/O privilege).
pub const ENV_TYPE_NS: u32 = 2;

/// An environment, as the kernel keeps it and user code reads it at `UENVS`.
///
/// Pointer-valued fields are 32-bit kernel virtual addresses, so the layout
/// is the same on the i386 target and on a 64-bit host.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    /// Saved registers while the environment is not running.
    pub env_tf: Trapframe,
    /// Kernel virtual address of the next free `Env` on the free list, or 0.
    pub env_link: u32,
    /// Unique environment identifier.
    pub env_id: EnvId,
    /// `env_id` of this environment's parent.
    pub env_parent_id: EnvId,
    /// Kind of environment (`ENV_TYPE_*`).
    pub env_type: u32,
    /// Status (`ENV_*`).
    pub env_status: u32,
    /// Number of times the environment has been run.
    pub env_runs: u32,
    /// The CPU the environment is running on (meaningful when running).
    pub env_cpunum: i32,
    /// Kernel virtual address of the environment's page directory.
    pub env_pgdir: u32,
    /// User address of the page-fault upcall entry point, or 0.
    pub env_pgfault_upcall: u32,
    /// Whether the environment is blocked in `sys_ipc_recv` (0 or 1).
    pub env_ipc_recving: u32,
    /// Where the receiver wants a sent page mapped (`>= UTOP`: no page).
    pub env_ipc_dstva: u32,
    /// The value sent by the last sender.
    pub env_ipc_value: u32,
    /// The id of the last sender.
    pub env_ipc_from: EnvId,
    /// Permissions of the page received, or 0 if none was.
    pub env_ipc_perm: u32,
    /// While blocked in `sys_ipc_send`: the receiver's id (0: not sending).
    pub env_ipc_send_to: EnvId,
    /// While blocked in `sys_ipc_send`: the value to send.
    pub env_ipc_send_value: u32,
    /// While blocked in `sys_ipc_send`: the page to send (`>= UTOP`: none).
    pub env_ipc_send_va: u32,
    /// While blocked in `sys_ipc_send`: the permissions for that page.
    pub env_ipc_send_perm: u32,
    /// The environment's pager (`sys_env_set_pager`), or 0: a page fault
    /// on a page not present in `[env_pager_lo, env_pager_hi)` (or any
    /// fault there while the env has no upcall) goes to the pager as an
    /// IPC message, and the env waits for the page it sends back.
    pub env_pager: EnvId,
    /// Start of the paged range (page-aligned).
    pub env_pager_lo: u32,
    /// End of the paged range (page-aligned, exclusive).
    pub env_pager_hi: u32,
    /// A word for the pager, chosen by whoever set it (e.g. which program
    /// the env runs); fork children inherit it with the pager.
    pub env_pager_key: u32,
    /// While waiting for the pager: the message it was sent (the fault's
    /// page | its error code bits | [`PAGER_WAITING`]); 0 otherwise. The
    /// pager's answer carries it back as its value, so an answer is never
    /// taken for another fault (the pager may also answer from here,
    /// before it has received the message).
    pub env_pager_fault: u32,
    /// A page the pager declined (address + 1, + 2 more if for want of
    /// memory), whose next fault goes to the env's own upcall instead; 0
    /// if none.
    pub env_pager_declined: u32,
    /// A *closed* receive: while receiving (`sys_ipc_recv(dstva, from)`,
    /// or the answer half of `sys_ipc_call`), the only env whose message
    /// is taken; 0 for an open receive (anyone's message). While an
    /// `sys_ipc_call`'s request waits in the callee's queue, the callee.
    /// A closed receive from an env that is freed ends with E_BAD_ENV.
    pub env_ipc_recv_from: EnvId,
    /// 1 while a closed receiver is stopped by its parent
    /// (`sys_env_set_status(NOT_RUNNABLE)`): its wait goes on, and the
    /// answer, when it comes, is kept for it until it is made runnable.
    pub env_ipc_held: u32,
}

/// Set in `env_pager_fault` (and in the message a pager receives) while an
/// env waits for its pager: the low bits are the fault's error code
/// (`FEC_PR`, `FEC_WR`, `FEC_U`), the high 20 bits the faulting page.
pub const PAGER_WAITING: u32 = 0x800;

/// Added to the fault message in a pager's answer without a page: it
/// declines for want of memory, not for good. The env's upcall then sees
/// the fault with [`FEC_NOMEM`](crate::mmu::FEC_NOMEM) in its error code.
pub const PAGER_NOMEM: u32 = 0x400;

impl Env {
    /// Returns an all-zero environment: a free slot (`ENV_FREE`).
    pub const fn zeroed() -> Self {
        Env {
            env_tf: Trapframe::zeroed(),
            env_link: 0,
            env_id: 0,
            env_parent_id: 0,
            env_type: ENV_TYPE_USER,
            env_status: ENV_FREE,
            env_runs: 0,
            env_cpunum: 0,
            env_pgdir: 0,
            env_pgfault_upcall: 0,
            env_ipc_recving: 0,
            env_ipc_dstva: 0,
            env_ipc_value: 0,
            env_ipc_from: 0,
            env_ipc_perm: 0,
            env_ipc_send_to: 0,
            env_ipc_send_value: 0,
            env_ipc_send_va: 0,
            env_ipc_send_perm: 0,
            env_pager: 0,
            env_pager_lo: 0,
            env_pager_hi: 0,
            env_pager_key: 0,
            env_pager_fault: 0,
            env_pager_declined: 0,
            env_ipc_recv_from: 0,
            env_ipc_held: 0,
        }
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::zeroed()
    }
}

// The C JOS layout (bool env_ipc_recving padded to 4 bytes), then our
// additions (send queue, pager, closed receive).
const _: () = assert!(size_of::<Env>() == 172);
const _: () = assert!(offset_of!(Env, env_link) == 68);
const _: () = assert!(offset_of!(Env, env_id) == 72);
const _: () = assert!(offset_of!(Env, env_parent_id) == 76);
const _: () = assert!(offset_of!(Env, env_status) == 84);
const _: () = assert!(offset_of!(Env, env_pgfault_upcall) == 100);
const _: () = assert!(offset_of!(Env, env_ipc_recving) == 104);
const _: () = assert!(offset_of!(Env, env_ipc_value) == 112);
const _: () = assert!(offset_of!(Env, env_ipc_from) == 116);
const _: () = assert!(offset_of!(Env, env_ipc_perm) == 120);
// The whole array fits in the one page table mapped at UENVS.
const _: () = assert!(NENV * size_of::<Env>() <= UPAGES - UENVS);

/// The kernel's record of one physical page (JOS's `struct PageInfo`),
/// mapped read-only at `UPAGES` so user code can read reference counts.
/// Record `i` describes the physical page at `i * PGSIZE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// Kernel virtual address of the next `PageInfo` on the free list, or 0
    /// (also 0 for every allocated page).
    pub pp_link: u32,
    /// Number of mappings of this page (plus kernel-internal references).
    /// 32 bits (JOS has 16): the shared zero page can be mapped hundreds of
    /// thousands of times.
    pub pp_ref: u32,
}

const _: () = assert!(size_of::<PageInfo>() == 8);
const _: () = assert!(offset_of!(PageInfo, pp_ref) == 4);

/// The most physical memory whose `PageInfo` array still fits in the
/// read-only window at `UPAGES` (one page table: 512 Ki records, 2 GiB).
pub const MAX_PHYS_PAGES: usize = (UVPT - UPAGES) / size_of::<PageInfo>();

const _: () = assert!(MAX_PHYS_PAGES == PTSIZE / 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envx_takes_the_low_bits() {
        assert_eq!(envx(0x1000), 0);
        assert_eq!(envx(0x1001), 1);
        assert_eq!(envx(0x13FF), 0x3FF);
        // A reused slot gets a new id but the same index.
        assert_eq!(envx(0x2005), envx(0x1005));
        assert_eq!(envx(0x7FFF_FFFF), NENV - 1);
        // Negative ids are invalid but must not index out of bounds.
        assert!(envx(-1) < NENV);
        assert!(envx(i32::MIN) < NENV);
    }

    #[test]
    fn first_env_id() {
        // The kernel's generation step (env_alloc): a never-used slot has
        // env_id 0, so the first env in slot 0 gets id 0x1000.
        let next_id = |old: EnvId, slot: usize| {
            let mut generation = old.wrapping_add(1 << ENVGENSHIFT) & !((NENV as i32) - 1);
            if generation <= 0 {
                generation = 1 << ENVGENSHIFT;
            }
            generation | slot as EnvId
        };
        assert_eq!(next_id(0, 0), 0x1000);
        assert_eq!(next_id(0x1000, 0), 0x2000);
        assert_eq!(next_id(0, 5), 0x1005);
        assert_eq!(envx(next_id(0x1005, 5)), 5);
    }

    #[test]
    fn zeroed_env_is_free() {
        let e = Env::zeroed();
        assert_eq!(e.env_status, ENV_FREE);
        assert_eq!(e.env_id, 0);
        assert_eq!(e, Env::default());
        assert_eq!(e.env_tf, Trapframe::default());
    }

    #[test]
    fn status_values_are_jos() {
        assert_eq!(
            [
                ENV_FREE,
                ENV_DYING,
                ENV_RUNNABLE,
                ENV_RUNNING,
                ENV_NOT_RUNNABLE
            ],
            [0, 1, 2, 3, 4]
        );
        assert_eq!((ENV_TYPE_USER, ENV_TYPE_FS), (0, 1));
    }

    #[test]
    fn page_info_array_fits_at_upages() {
        assert_eq!(size_of::<PageInfo>(), 8);
        // 2 GiB of physical memory is the most the UPAGES window can describe.
        assert_eq!(MAX_PHYS_PAGES, 512 * 1024);
        assert_eq!(MAX_PHYS_PAGES * crate::mmu::PGSIZE, 2 << 30);
    }
}
