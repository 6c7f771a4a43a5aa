//! System calls (JOS's lib/syscall.c): `int $0x30` with the number in EAX and
//! up to five arguments in EDX, ECX, EBX, EDI, ESI; the result comes back in
//! EAX (negative: an error). One safe wrapper per call, returning `Result`.
//!
//! Every pointer argument is checked by the kernel against our page table
//! before it is used, so the wrappers that take raw addresses are safe: a bad
//! address is an error (or, for `sys_cputs`, the end of this environment),
//! never a corruption of kernel memory.
use abi::env::EnvId;
use abi::error::{Error, Result};
use abi::mmu::PteFlags;
use abi::syscall::Syscall;
use abi::trap::{T_SYSCALL, Trapframe};
use core::arch::asm;

/// Makes system call `num`; returns the raw result from EAX.
///
/// ESI cannot be named as an inline-asm operand on i686, so the fifth
/// argument goes in through a scratch register swapped into ESI around the
/// trap.
///
/// # Safety
/// Pointer arguments must mean what the kernel expects for `num` (the kernel
/// checks them, but it may write through them, e.g. `sys_ipc_recv` maps a
/// page over `dstva`, `sys_page_alloc` replaces whatever was mapped).
#[inline(never)]
pub unsafe fn syscall(num: Syscall, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32) -> i32 {
    // SAFETY: forwarded; the caller upholds the contract for `num`.
    unsafe { syscall_raw(num.number(), a1, a2, a3, a4, a5) }
}

/// Makes system call number `num`, which need not be a valid one (the
/// fuzzer passes out-of-range numbers on purpose); returns EAX.
///
/// # Safety
/// As for [`syscall`].
#[inline(always)]
pub unsafe fn syscall_raw(num: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32) -> i32 {
    let ret: i32;
    // SAFETY: the kernel preserves every register but EAX; the memory the
    // call may write is the caller's concern (no `nomem`: it may write).
    unsafe {
        asm!(
            "xchg {a5}, %esi",
            "int ${t}",
            "xchg {a5}, %esi",
            t = const T_SYSCALL,
            a5 = inout(reg) a5 => _,
            inlateout("eax") num => ret,
            in("edx") a1,
            in("ecx") a2,
            in("ebx") a3,
            in("edi") a4,
            options(att_syntax),
        );
    }
    ret
}

/// Turns a raw result into Ok(value) or Err(error); an unknown negative code
/// is `Error::Unspecified`.
fn check(ret: i32) -> Result<u32> {
    if ret < 0 {
        Err(Error::from_code(ret).unwrap_or(Error::Unspecified))
    } else {
        Ok(ret as u32)
    }
}

/// Prints `s` on the console. Cannot fail: the kernel checks the buffer,
/// and `s` is ours.
pub fn sys_cputs(s: &[u8]) {
    // SAFETY: the kernel only reads [s, s + len).
    unsafe { syscall(Syscall::Cputs, s.as_ptr() as u32, s.len() as u32, 0, 0, 0) };
}

/// Prints `len` bytes at raw address `va`. Test programs pass bad pointers
/// on purpose: the kernel must catch them, and it destroys this environment
/// when it does (so this returns only if the range was readable).
pub fn sys_cputs_raw(va: usize, len: usize) {
    // SAFETY: the kernel checks the range before reading it; nothing is
    // written.
    unsafe { syscall(Syscall::Cputs, va as u32, len as u32, 0, 0, 0) };
}

/// Returns a console input character, or 0 if none is waiting.
/// Err only if the kernel reports one (it does not in JOS).
pub fn sys_cgetc() -> Result<i32> {
    // SAFETY: no pointers.
    check(unsafe { syscall(Syscall::Cgetc, 0, 0, 0, 0, 0) }).map(|c| c as i32)
}

/// Returns this environment's id. Cannot fail.
pub fn sys_getenvid() -> EnvId {
    // SAFETY: no pointers.
    unsafe { syscall(Syscall::Getenvid, 0, 0, 0, 0, 0) }
}

/// Destroys environment `envid` (0: this one, and then it does not return).
/// Err(BadEnv) if it does not exist or is neither us nor our child.
pub fn sys_env_destroy(envid: EnvId) -> Result<()> {
    // SAFETY: no pointers.
    check(unsafe { syscall(Syscall::EnvDestroy, envid as u32, 0, 0, 0, 0) }).map(|_| ())
}

/// Maps a fresh zeroed page at `va` in `envid`'s address space with `perm`
/// (must include P and U, nothing outside `PteFlags::SYSCALL`), replacing
/// any page mapped there.
///
/// Err(BadEnv) for a bad env, Err(Inval) for `va >= UTOP`, an unaligned `va`
/// or bad `perm`, Err(NoMem) when out of memory.
pub fn sys_page_alloc(envid: EnvId, va: usize, perm: PteFlags) -> Result<()> {
    // SAFETY: the kernel validates va; replacing a mapping is only unsafe for
    // the memory that was there, which Rust code here does not reference
    // (callers pick scratch addresses).
    check(unsafe {
        syscall(
            Syscall::PageAlloc,
            envid as u32,
            va as u32,
            perm.bits(),
            0,
            0,
        )
    })
    .map(|_| ())
}

/// Maps the page at `srcva` in `srcenv` at `dstva` in `dstenv` with `perm`
/// (W only if the source page is writable).
///
/// Err(BadEnv) for a bad env, Err(Inval) for an address at or above UTOP,
/// an unaligned address, an unmapped source page or a bad `perm`,
/// Err(NoMem) when a page table cannot be allocated.
pub fn sys_page_map(
    srcenv: EnvId,
    srcva: usize,
    dstenv: EnvId,
    dstva: usize,
    perm: PteFlags,
) -> Result<()> {
    // SAFETY: as for sys_page_alloc.
    check(unsafe {
        syscall(
            Syscall::PageMap,
            srcenv as u32,
            srcva as u32,
            dstenv as u32,
            dstva as u32,
            perm.bits(),
        )
    })
    .map(|_| ())
}

/// Unmaps the page at `va` in `envid` (nothing if none is mapped).
///
/// Err(BadEnv) for a bad env, Err(Inval) for `va >= UTOP` or unaligned.
pub fn sys_page_unmap(envid: EnvId, va: usize) -> Result<()> {
    // SAFETY: as for sys_page_alloc.
    check(unsafe { syscall(Syscall::PageUnmap, envid as u32, va as u32, 0, 0, 0) }).map(|_| ())
}

/// Creates a child environment with an empty user address space, not
/// runnable, whose registers are a copy of ours at this call. Returns the
/// child's id in the parent and 0 in the child. (The child's cached env id
/// is its parent's until `fork` fills it in, or `jos::env::thisenv_id`
/// notices it is not the child's own and asks the kernel.)
///
/// Always inlined (JOS's `sys_exofork` is inline too): the child starts on a
/// copy of the parent's stack taken *later*, after the parent has returned
/// from here and reused that stack, so the child must not depend on a
/// return address stored by a call into this function.
///
/// Err(NoFreeEnv) when no environment slot is free, Err(NoMem) when out of
/// memory.
#[inline(always)]
pub fn sys_exofork() -> Result<EnvId> {
    let ret: i32;
    // SAFETY: no pointers; the kernel returns 0 in the child's EAX and
    // preserves every other register in both.
    unsafe {
        asm!(
            "int ${t}",
            t = const T_SYSCALL,
            inlateout("eax") Syscall::Exofork.number() => ret,
            options(att_syntax, nostack),
        );
    }
    check(ret).map(|id| id as EnvId)
}

/// Sets `envid`'s status to `status` (`ENV_RUNNABLE` or `ENV_NOT_RUNNABLE`).
///
/// Err(BadEnv) for a bad env, Err(Inval) for any other status.
pub fn sys_env_set_status(envid: EnvId, status: u32) -> Result<()> {
    // SAFETY: no pointers.
    check(unsafe { syscall(Syscall::EnvSetStatus, envid as u32, status, 0, 0, 0) }).map(|_| ())
}

/// Replaces `envid`'s saved registers with `tf` (the kernel forces user
/// privilege and interrupts on).
///
/// Err(BadEnv) for a bad env.
pub fn sys_env_set_trapframe(envid: EnvId, tf: &Trapframe) -> Result<()> {
    // SAFETY: the kernel only reads *tf.
    check(unsafe {
        syscall(
            Syscall::EnvSetTrapframe,
            envid as u32,
            tf as *const Trapframe as u32,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// Sets `envid`'s page-fault upcall entry point to `upcall` (see
/// `pgfault::set_pgfault_handler`).
///
/// Err(BadEnv) for a bad env.
pub fn sys_env_set_pgfault_upcall(envid: EnvId, upcall: usize) -> Result<()> {
    // SAFETY: the address is only used as a user EIP; the kernel checks it
    // when it runs the upcall.
    check(unsafe {
        syscall(
            Syscall::EnvSetPgfaultUpcall,
            envid as u32,
            upcall as u32,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// For a pager: maps our page at `srcva` into `envid`, an env we page, at
/// `dstva` with `perm`, as the answer to a fault there would, but before
/// the fault (fault-around, read-ahead: one fault, several pages). Only at
/// a page `envid` does not have, inside the range we page for it.
///
/// Err(BadEnv) if `envid` does not exist or we are not its pager;
/// Err(Inval) for a `dstva` outside the range, unaligned or already
/// mapped, no page at `srcva`, or a `perm` that `sys_page_map` would
/// refuse (writable from a read-only page); Err(NoMem) for a page table.
pub fn sys_pager_map(envid: EnvId, srcva: usize, dstva: usize, perm: PteFlags) -> Result<()> {
    // SAFETY: no pointers into our memory: the kernel checks both pages.
    check(unsafe {
        syscall(
            Syscall::PagerMap,
            envid as u32,
            srcva as u32,
            dstva as u32,
            perm.bits(),
            0,
        )
    })
    .map(|_| ())
}

/// Makes `pager` the pager of `envid` (self or a child) for its faults on
/// absent pages in `[lo, hi)`, which then arrive at the pager as IPC
/// messages (see kern/src/pager.rs), with `key` in the Env for the pager
/// to read; `pager` 0 removes it.
///
/// Err(BadEnv) for a bad env or pager; Err(Inval) for an unaligned or
/// empty range, one past UTOP, or an env as its own pager.
pub fn sys_env_set_pager(envid: EnvId, pager: EnvId, lo: usize, hi: usize, key: u32) -> Result<()> {
    // SAFETY: no pointers: the range is only compared with fault addresses.
    check(unsafe {
        syscall(
            Syscall::EnvSetPager,
            envid as u32,
            pager as u32,
            lo as u32,
            hi as u32,
            key,
        )
    })
    .map(|_| ())
}

/// Gives up the CPU to another runnable environment. Cannot fail.
pub fn sys_yield() {
    // SAFETY: no pointers.
    unsafe { syscall(Syscall::Yield, 0, 0, 0, 0, 0) };
}

/// Tries to send `value` (and, if `srcva < UTOP`, the page at `srcva` with
/// `perm`) to `envid`.
///
/// Err(IpcNotRecv) if `envid` is not blocked in `sys_ipc_recv`, Err(BadEnv)
/// if it does not exist, Err(Inval) for a bad `srcva`/`perm`, Err(NoMem)
/// when the page cannot be mapped.
pub fn sys_ipc_try_send(envid: EnvId, value: u32, srcva: usize, perm: PteFlags) -> Result<()> {
    // SAFETY: the kernel only maps our page into the receiver.
    check(unsafe {
        syscall(
            Syscall::IpcTrySend,
            envid as u32,
            value,
            srcva as u32,
            perm.bits(),
            0,
        )
    })
    .map(|_| ())
}

/// Sends `value` (and, if `srcva < UTOP`, the page at `srcva` with `perm`)
/// to `envid`, waiting until it receives: senders to one receiver are served
/// in the order they started waiting.
///
/// Err(BadEnv) if `envid` does not exist or goes away while we wait,
/// Err(Inval) for a bad `srcva`/`perm` or a send to ourselves, Err(NoMem)
/// when the page cannot be mapped.
pub fn sys_ipc_send(envid: EnvId, value: u32, srcva: usize, perm: PteFlags) -> Result<()> {
    // SAFETY: the kernel only maps our page into the receiver.
    check(unsafe {
        syscall(
            Syscall::IpcSend,
            envid as u32,
            value,
            srcva as u32,
            perm.bits(),
            0,
        )
    })
    .map(|_| ())
}

/// Blocks until a message arrives; a page sent with it is mapped at `dstva`
/// if `dstva < UTOP` (pass UTOP for no page). The message itself is read
/// from `thisenv` afterwards (see `ipc::ipc_recv`).
///
/// Err(Inval) for an unaligned `dstva` below UTOP.
pub fn sys_ipc_recv(dstva: usize) -> Result<()> {
    // SAFETY: the kernel may map a page at dstva, which the caller chose
    // for that purpose.
    check(unsafe { syscall(Syscall::IpcRecv, dstva as u32, 0, 0, 0, 0) }).map(|_| ())
}

/// A closed receive: blocks until a message from `from` (only) arrives;
/// others' messages wait in their senders' queue. A page sent with it is
/// mapped at `dstva` if `dstva < UTOP`. The message is read from
/// `thisenv` afterwards.
///
/// Err(BadEnv) if `from` does not exist, or is freed before it sends;
/// Err(Inval) for an unaligned `dstva` below UTOP or `from` ourselves.
pub fn sys_ipc_recv_from(dstva: usize, from: EnvId) -> Result<()> {
    // SAFETY: the kernel may map a page at dstva, which the caller chose
    // for that purpose.
    check(unsafe { syscall(Syscall::IpcRecv, dstva as u32, from as u32, 0, 0, 0) }).map(|_| ())
}

/// A call: sends `value` (and, if `srcva < UTOP`, the page at `srcva`
/// with `perm`) to `envid` as `sys_ipc_send` does, then waits, in the same
/// system call, for the answer from `envid` alone (a page in it mapped at
/// `dstva` if below UTOP). The answer is read from `thisenv` afterwards.
///
/// Err(BadEnv) if `envid` does not exist or is freed before it answers,
/// Err(Inval) for a bad `srcva`/`perm`/`dstva` or a call to ourselves,
/// Err(NoMem) when the page cannot be mapped.
pub fn sys_ipc_call(
    envid: EnvId,
    value: u32,
    srcva: usize,
    perm: PteFlags,
    dstva: usize,
) -> Result<()> {
    // SAFETY: the kernel maps our page into the receiver and may map the
    // answer's page at dstva, which the caller chose for that purpose.
    check(unsafe {
        syscall(
            Syscall::IpcCall,
            envid as u32,
            value,
            srcva as u32,
            perm.bits(),
            dstva as u32,
        )
    })
    .map(|_| ())
}

/// Whether env `envid` maps at `va` the physical page we map at `myva`
/// (a server checking that a client holds a page it shared with it).
///
/// Ok(()) if so; Err(Inval) if not, or if either address is unmapped,
/// unaligned or not below UTOP; Err(BadEnv) if there is no such env.
pub fn sys_page_check(envid: EnvId, va: usize, myva: usize) -> Result<()> {
    // SAFETY: no memory is read or written by the kernel for us.
    check(unsafe {
        syscall(
            Syscall::PageCheck,
            envid as u32,
            va as u32,
            myva as u32,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// Returns the milliseconds since boot (JOS's lab-6 `sys_time_msec`),
/// counted by the kernel in timer ticks: 10 ms steps, and a tick that the
/// host was too busy to deliver is not counted. It wraps after 49 days.
/// Cannot fail.
pub fn sys_time_msec() -> u32 {
    // SAFETY: no pointers.
    unsafe { syscall(Syscall::TimeMsec, 0, 0, 0, 0, 0) as u32 }
}

/// Sleeps (not runnable) until `sys_time_msec()` reaches `msec`; returns
/// at once if it has (a time up to 24 days ahead is the future). Wakes at
/// most a clock tick (10 ms) late. Cannot fail.
pub fn sys_sleep_until(msec: u32) {
    // SAFETY: no pointers.
    unsafe { syscall(Syscall::SleepUntil, msec, 0, 0, 0, 0) };
}

/// Clears the accessed and dirty bits of our pages in [va, va + len) and
/// flushes their TLB entries, so that reading the PTEs through UVPT later
/// shows which pages were touched since. Returns how many mapped pages were
/// cleared.
///
/// Err(Inval) for a range that reaches UTOP (or wraps around).
pub fn sys_vm_clear_ad(va: usize, len: usize) -> Result<u32> {
    // SAFETY: no memory is read or written, only PTE bits change.
    check(unsafe { syscall(Syscall::VmClearAd, va as u32, len as u32, 0, 0, 0) })
}

/// The console's controller (`op` one of abi::syscall's CONS_CTL_*): TAKE
/// makes us the env a typed Ctrl-C is kept for; POLL returns 1 if one was
/// typed for us since we last asked (taking it), else 0; RELEASE gives the
/// role up (to the controller before us, if still there); OWNER returns 1
/// if we are the controller, else 0. Err(Inval) for another op. See
/// [`crate::job`].
pub fn sys_cons_ctl(op: u32) -> Result<u32> {
    // SAFETY: no pointers.
    check(unsafe { syscall(Syscall::ConsCtl, op, 0, 0, 0, 0) })
}

/// Destroys `envid` and every env below it in the env tree (its children,
/// theirs, ..., and those whose creator has gone since), at once. Returns
/// how many were destroyed; Err(BadEnv) if `envid` does not exist or is
/// not below us (we ourselves are not).
pub fn sys_env_destroy_tree(envid: EnvId) -> Result<u32> {
    // SAFETY: no pointers.
    check(unsafe { syscall(Syscall::EnvDestroyTree, envid as u32, 0, 0, 0, 0) })
}

/// Sends one Ethernet frame (1 to abi::net::MAX_FRAME bytes, from the
/// destination address on; the card adds the CRC) through the E1000:
/// the kernel copies it into its transmit ring. Err(Again) when the ring
/// is full (nothing was taken: send it again, e.g. after `sys_yield`),
/// Err(Inval) for a bad length, Err(NotSupp) without a card.
pub fn sys_net_try_transmit(frame: &[u8]) -> Result<()> {
    // SAFETY: the kernel only reads [frame, frame + len).
    check(unsafe {
        syscall(
            Syscall::NetTryTransmit,
            frame.as_ptr() as u32,
            frame.len() as u32,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// Raw `sys_net_try_transmit(va, len)`, for tests that pass bad
/// addresses: Err(Fault) for memory we cannot read.
pub fn sys_net_try_transmit_raw(va: usize, len: usize) -> Result<()> {
    // SAFETY: the kernel checks the range and only reads it.
    check(unsafe { syscall(Syscall::NetTryTransmit, va as u32, len as u32, 0, 0, 0) }).map(|_| ())
}

/// Copies the next frame the E1000 received into `buf` and returns its
/// length (the CRC stripped). Err(Again) when none waits, Err(Inval) when
/// `buf` is shorter than the frame (it stays first in line: a buffer of
/// abi::net::MAX_FRAME bytes always takes it), Err(NotSupp) without a
/// card.
///
/// `buf`'s pages are written first: the kernel does not take page faults
/// for us, so a copy-on-write page (a buffer on the stack after `fork`)
/// must be copied by our handler before the kernel writes it.
pub fn sys_net_try_receive(buf: &mut [u8]) -> Result<usize> {
    net_receive(Syscall::NetTryReceive, buf)
}

/// The two receive calls (`call`: NetTryReceive or NetReceive) into `buf`,
/// its pages written first.
fn net_receive(call: Syscall, buf: &mut [u8]) -> Result<usize> {
    touch_pages(buf);
    // SAFETY: the kernel writes at most buf.len() bytes at buf.
    check(unsafe { syscall(call, buf.as_mut_ptr() as u32, buf.len() as u32, 0, 0, 0) })
        .map(|n| n as usize)
}

/// Raw `sys_net_try_receive(va, len)`, for tests that pass bad
/// addresses: Err(Fault) for memory we cannot write (nothing is taken).
///
/// # Safety
/// The kernel writes up to `len` bytes at `va` if we may write there:
/// nothing Rust references may live there.
pub unsafe fn sys_net_try_receive_raw(va: usize, len: usize) -> Result<usize> {
    // SAFETY: the caller's contract.
    check(unsafe { syscall(Syscall::NetTryReceive, va as u32, len as u32, 0, 0, 0) })
        .map(|n| n as usize)
}

/// Copies the next frame the E1000 received into `buf` and returns its
/// length, as [`sys_net_try_receive`], but waits in the kernel (not
/// runnable, no CPU used) while none is there: the card's receive
/// interrupt wakes us. Err(Inval) when `buf` is shorter than the frame
/// (it stays first in line), Err(NotSupp) without a card or when the
/// kernel does not use its interrupt (poll with sys_net_try_receive then).
/// Stopped by our parent while waiting, we wait again once resumed.
pub fn sys_net_receive(buf: &mut [u8]) -> Result<usize> {
    net_receive(Syscall::NetReceive, buf)
}

/// Copies as much of the kernel's command line as fits into `buf` and
/// returns its whole length (more than `buf.len()`: it was cut short).
/// Cannot fail (`buf`'s pages are written first, as for
/// [`sys_net_try_receive`]).
pub fn sys_kern_cmdline(buf: &mut [u8]) -> Result<usize> {
    touch_pages(buf);
    // SAFETY: the kernel writes at most buf.len() bytes at buf.
    check(unsafe {
        syscall(
            Syscall::KernCmdline,
            buf.as_mut_ptr() as u32,
            buf.len() as u32,
            0,
            0,
            0,
        )
    })
    .map(|n| n as usize)
}

/// Writes a byte of each page of `buf` with its own value, so that our
/// page-fault handler makes every page writable (copies a copy-on-write
/// page, maps a lazy one) before the kernel writes there: the kernel
/// takes no page faults for us.
fn touch_pages(buf: &mut [u8]) {
    let mut at = 0;
    while at < buf.len() {
        // SAFETY: a byte of our own buffer, written with its own value.
        unsafe {
            let p = buf.as_mut_ptr().add(at);
            p.write_volatile(p.read_volatile());
        }
        // The first byte of the next page.
        at = ((buf.as_ptr() as usize + at) | (abi::mmu::PGSIZE - 1)) + 1 - buf.as_ptr() as usize;
    }
}
