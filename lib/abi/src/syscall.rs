//! System-call numbers (JOS's `SYS_*`).
//!
//! The calling convention is JOS's: `int $0x30` ([`crate::trap::T_SYSCALL`]),
//! the number in `eax`, up to five arguments in `edx`, `ecx`, `ebx`, `edi`,
//! `esi`, and the result in `eax` (negative: an [`crate::error::Error`] code).

/// A system call, numbered as in JOS.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syscall {
    /// `sys_cputs(s, len)`: print a string on the console.
    Cputs = 0,
    /// `sys_cgetc()`: read a character from the console, 0 if none.
    Cgetc = 1,
    /// `sys_getenvid()`: the current environment's id.
    Getenvid = 2,
    /// `sys_env_destroy(envid)`: destroy an environment.
    EnvDestroy = 3,
    /// `sys_page_alloc(envid, va, perm)`: map a fresh zeroed page.
    PageAlloc = 4,
    /// `sys_page_map(srcenv, srcva, dstenv, dstva, perm)`: share a page.
    PageMap = 5,
    /// `sys_page_unmap(envid, va)`: unmap a page.
    PageUnmap = 6,
    /// `sys_exofork()`: create a blank child environment.
    Exofork = 7,
    /// `sys_env_set_status(envid, status)`: make an environment runnable or not.
    EnvSetStatus = 8,
    /// `sys_env_set_trapframe(envid, tf)`: set an environment's registers.
    EnvSetTrapframe = 9,
    /// `sys_env_set_pgfault_upcall(envid, func)`: set the page-fault upcall.
    EnvSetPgfaultUpcall = 10,
    /// `sys_yield()`: give up the CPU.
    Yield = 11,
    /// `sys_ipc_try_send(envid, value, srcva, perm)`: send without blocking.
    IpcTrySend = 12,
    /// `sys_ipc_recv(dstva, from)`: block until a message arrives (from
    /// env `from` alone, if not 0: a closed receive).
    IpcRecv = 13,
    /// `sys_vm_clear_ad(va, len)`: clear the accessed and dirty bits of the
    /// caller's pages in a range (for working-set measurement).
    VmClearAd = 14,
    /// `sys_ipc_send(envid, value, srcva, perm)`: send, waiting until the
    /// receiver takes it (senders to one receiver are served in order).
    IpcSend = 15,
    /// `sys_env_set_pager(envid, pager, lo, hi, key)`: send the env's faults
    /// on absent pages in `[lo, hi)` to `pager` as IPC (demand paging).
    EnvSetPager = 16,
    /// `sys_ipc_call(envid, value, srcva, perm, dstva)`: send as
    /// `sys_ipc_send` does, then, in the same call, receive the answer from
    /// `envid` alone (a page at `dstva`).
    IpcCall = 17,
    /// `sys_page_check(envid, va, myva)`: whether `envid` maps at `va` the
    /// physical page the caller maps at `myva` (0, else E_INVAL).
    PageCheck = 18,
    /// `sys_cons_ctl(op)`: the console's controller and Ctrl-C
    /// ([`CONS_CTL_TAKE`], [`CONS_CTL_POLL`], [`CONS_CTL_RELEASE`],
    /// [`CONS_CTL_OWNER`]).
    ConsCtl = 19,
    /// `sys_env_destroy_tree(envid)`: destroy an env below the caller in
    /// the env tree and everything below it (a job, on Ctrl-C).
    EnvDestroyTree = 20,
    /// `sys_time_msec()`: milliseconds since boot, from the timer (JOS's
    /// lab 6).
    TimeMsec = 21,
    /// `sys_pager_map(envid, srcva, dstva, perm)`: `envid`'s pager maps a
    /// page of its own into `envid` at an absent page of the range it
    /// pages, ahead of the fault (fault-around, read-ahead).
    PagerMap = 22,
    /// `sys_net_try_transmit(va, len)`: copy the frame at `va` (1 to
    /// [`crate::net::MAX_FRAME`] bytes) into the E1000's transmit ring;
    /// E_AGAIN when the ring is full (nothing was taken: send again).
    NetTryTransmit = 23,
    /// `sys_net_try_receive(va, len)`: copy the next frame received into
    /// the buffer at `va`, returning its length; E_AGAIN when none waits.
    NetTryReceive = 24,
    /// `sys_kern_cmdline(va, len)`: copy the kernel's command line (as
    /// much as fits) to `va`, returning its whole length.
    KernCmdline = 25,
    /// `sys_net_receive(va, len)`: as `sys_net_try_receive`, but waits
    /// (not runnable, woken by the card's receive interrupt) while no
    /// frame is there; E_NOT_SUPP without a card or its interrupt line.
    NetReceive = 26,
    /// `sys_sleep_until(msec)`: wait until `sys_time_msec` reaches `msec`
    /// (not runnable meanwhile: woken by the clock).
    SleepUntil = 27,
}

/// `sys_cons_ctl` op: the caller becomes the console's controller: a
/// Ctrl-C typed is then kept for it instead of queued as a character.
pub const CONS_CTL_TAKE: u32 = 0;
/// `sys_cons_ctl` op: 1 if a Ctrl-C was typed for the caller (which must
/// be the controller) since it last asked, taking it; else 0.
pub const CONS_CTL_POLL: u32 = 1;
/// `sys_cons_ctl` op: the caller stops being the controller, if it is
/// (the env that was the controller before it, if still there, is again).
pub const CONS_CTL_RELEASE: u32 = 2;
/// `sys_cons_ctl` op: 1 if the caller is the controller, else 0.
pub const CONS_CTL_OWNER: u32 = 3;

/// The number of system calls; valid numbers are `0..NSYSCALLS`.
pub const NSYSCALLS: u32 = 28;

impl Syscall {
    /// Every system call, in numerical order (`ALL[n]` has number `n`).
    pub const ALL: [Syscall; NSYSCALLS as usize] = [
        Syscall::Cputs,
        Syscall::Cgetc,
        Syscall::Getenvid,
        Syscall::EnvDestroy,
        Syscall::PageAlloc,
        Syscall::PageMap,
        Syscall::PageUnmap,
        Syscall::Exofork,
        Syscall::EnvSetStatus,
        Syscall::EnvSetTrapframe,
        Syscall::EnvSetPgfaultUpcall,
        Syscall::Yield,
        Syscall::IpcTrySend,
        Syscall::IpcRecv,
        Syscall::VmClearAd,
        Syscall::IpcSend,
        Syscall::EnvSetPager,
        Syscall::IpcCall,
        Syscall::PageCheck,
        Syscall::ConsCtl,
        Syscall::EnvDestroyTree,
        Syscall::TimeMsec,
        Syscall::PagerMap,
        Syscall::NetTryTransmit,
        Syscall::NetTryReceive,
        Syscall::KernCmdline,
        Syscall::NetReceive,
        Syscall::SleepUntil,
    ];

    /// Returns the system call numbered `n`, or `None` if `n` is not below
    /// [`NSYSCALLS`].
    pub const fn from_u32(n: u32) -> Option<Syscall> {
        if n < NSYSCALLS {
            Some(Self::ALL[n as usize])
        } else {
            None
        }
    }

    /// Returns the system call's number, as passed in `eax`.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// Returns the C name of the system call, e.g. `"sys_page_alloc"`.
    pub const fn name(self) -> &'static str {
        match self {
            Syscall::Cputs => "sys_cputs",
            Syscall::Cgetc => "sys_cgetc",
            Syscall::Getenvid => "sys_getenvid",
            Syscall::EnvDestroy => "sys_env_destroy",
            Syscall::PageAlloc => "sys_page_alloc",
            Syscall::PageMap => "sys_page_map",
            Syscall::PageUnmap => "sys_page_unmap",
            Syscall::Exofork => "sys_exofork",
            Syscall::EnvSetStatus => "sys_env_set_status",
            Syscall::EnvSetTrapframe => "sys_env_set_trapframe",
            Syscall::EnvSetPgfaultUpcall => "sys_env_set_pgfault_upcall",
            Syscall::Yield => "sys_yield",
            Syscall::IpcTrySend => "sys_ipc_try_send",
            Syscall::IpcRecv => "sys_ipc_recv",
            Syscall::VmClearAd => "sys_vm_clear_ad",
            Syscall::IpcSend => "sys_ipc_send",
            Syscall::EnvSetPager => "sys_env_set_pager",
            Syscall::IpcCall => "sys_ipc_call",
            Syscall::PageCheck => "sys_page_check",
            Syscall::ConsCtl => "sys_cons_ctl",
            Syscall::EnvDestroyTree => "sys_env_destroy_tree",
            Syscall::TimeMsec => "sys_time_msec",
            Syscall::PagerMap => "sys_pager_map",
            Syscall::NetTryTransmit => "sys_net_try_transmit",
            Syscall::NetTryReceive => "sys_net_try_receive",
            Syscall::KernCmdline => "sys_kern_cmdline",
            Syscall::NetReceive => "sys_net_receive",
            Syscall::SleepUntil => "sys_sleep_until",
        }
    }
}

const _: () = assert!(Syscall::SleepUntil as u32 + 1 == NSYSCALLS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jos_numbering() {
        assert_eq!(Syscall::Cputs as u32, 0);
        assert_eq!(Syscall::Getenvid as u32, 2);
        assert_eq!(Syscall::PageAlloc as u32, 4);
        assert_eq!(Syscall::Exofork as u32, 7);
        assert_eq!(Syscall::EnvSetTrapframe as u32, 9);
        assert_eq!(Syscall::EnvSetPgfaultUpcall as u32, 10);
        assert_eq!(Syscall::Yield as u32, 11);
        assert_eq!(Syscall::IpcRecv as u32, 13);
    }

    #[test]
    fn from_u32_round_trips() {
        for n in 0..NSYSCALLS {
            let s = Syscall::from_u32(n).unwrap();
            assert_eq!(s.number(), n);
            assert!(s.name().starts_with("sys_"));
        }
        assert_eq!(Syscall::from_u32(NSYSCALLS), None);
        assert_eq!(Syscall::from_u32(u32::MAX), None);
        assert_eq!(Syscall::from_u32(0x30), None);
    }
}
