//! The random system-call engine of `syscallfuzz` and `fuzzstorm`.
//!
//! [`Fuzz::step`] makes one system call with a pseudo-random number (valid
//! and invalid) and pseudo-random arguments: small integers, page 0,
//! unmapped and unaligned addresses, the edges of UTOP and ULIM, kernel
//! addresses, our own text and stack, bad and negative env ids, random
//! permission bits. The kernel must reject what is invalid and survive all
//! of it; a call that succeeds although it must fail is printed as
//! `<name>: UNEXPECTED: ...` and counted.
//!
//! The sequence comes from a seeded xorshift generator, so a failure can be
//! replayed. Calls that would legitimately end or stall the caller are not
//! made: destroying itself, blocking in `sys_ipc_recv` (only its invalid
//! form is used), changing its own status or registers, `sys_cputs` on a
//! bad pointer (the kernel destroys the caller, by design), and mapping or
//! unmapping over its own text, data or stack (changes to its own address
//! space go to a scratch region, [`SCRATCH`, `SCRATCH_END`)). Children
//! made by `sys_exofork` get a few random calls and are destroyed; now and
//! then one runs with random registers (it faults at once and the kernel
//! prints its trap frame).
//!
//! A caller that takes page faults (copy-on-write pages after `fork`) says
//! so with [`Fuzz::takes_faults`]: its own upcall and exception stack are
//! then left alone too. Children the caller attacks itself, with checks of
//! its own, can be kept out of the random calls with [`Fuzz::protect`].

use abi::env::{ENV_NOT_RUNNABLE, ENV_RUNNABLE, EnvId};
use abi::error::Error;
use abi::memlayout::{
    KERNBASE, UENVS, ULIM, UPAGES, USTACKTOP, UTEXT, UTOP, UVPT, UXSTACKTOP, UZERO,
};
use abi::mmu::{PGSIZE, PteFlags};
use abi::syscall::{NSYSCALLS, Syscall};
use abi::trap::{PushRegs, Trapframe};
use jos::rand::Rng;
use jos::syscall::{
    sys_env_destroy, sys_env_set_status, sys_env_set_trapframe, sys_exofork, sys_getenvid,
    sys_yield, syscall_raw,
};
use jos::{cprintf, snprintf};

/// Changes to our own address space happen only in [SCRATCH, SCRATCH_END).
pub const SCRATCH: usize = 0x1000_0000;
pub const SCRATCH_END: usize = 0x2000_0000;

/// How many env ids [`Fuzz::protect`] can hold.
const NPROTECT: usize = 8;

/// What the fuzzer knows about the world.
pub struct Fuzz {
    rng: Rng,
    /// What our lines start with (`syscallfuzz`, `fuzzstorm: fuzzer 3`).
    name: [u8; 32],
    me: EnvId,
    /// A child from sys_exofork, not yet destroyed (0: none).
    child: EnvId,
    /// Calls made, and how many of them failed.
    pub calls: u32,
    pub errors: u32,
    /// Calls that succeeded although they must fail.
    pub unexpected: u32,
    /// Children run with random registers so far, and at most.
    wild: u32,
    max_wild: u32,
    /// We take page faults: our upcall and exception stack must stay.
    faults: bool,
    /// Env ids the random calls never name (0: an empty entry).
    protected: [EnvId; NPROTECT],
}

/// A page-aligned address in the scratch region.
fn scratch_page(rng: &mut Rng) -> usize {
    SCRATCH + (rng.below(((SCRATCH_END - SCRATCH) / PGSIZE) as u32) as usize) * PGSIZE
}

/// An address that is never ours to lose: scratch pages (aligned or not),
/// page 0, the exception stack page, and addresses at or above UTOP.
fn safe_dst(rng: &mut Rng) -> usize {
    match rng.below(12) {
        0..=4 => scratch_page(rng),
        5 => scratch_page(rng) + 1 + rng.below(PGSIZE as u32 - 1) as usize,
        6 => 0,
        7 => UXSTACKTOP - PGSIZE,
        8 => rng.pick(&[UTOP, UENVS, UPAGES, UVPT, ULIM - PGSIZE, ULIM]),
        9 => rng.pick(&[KERNBASE, 0xf010_0000, 0xffff_f000, 0xffff_ffff]),
        10 => UTOP + (rng.next_u32() as usize % (usize::MAX - UTOP)),
        _ => rng.pick(&[PGSIZE - 1, UTOP - 1, ULIM - 4, UTOP + 1]),
    }
}

/// Any address at all (for arguments the kernel only reads or checks).
fn any_addr(rng: &mut Rng) -> usize {
    let stack_local = 0u32;
    match rng.below(8) {
        0..=3 => safe_dst(rng),
        4 => UTEXT + rng.below(0x4000) as usize,
        5 => core::ptr::addr_of!(stack_local) as usize & !(PGSIZE - 1),
        6 => USTACKTOP - PGSIZE,
        _ => rng.next_u32() as usize,
    }
}

/// A permission word: often plausible, sometimes garbage.
fn perm(rng: &mut Rng) -> u32 {
    let pu = (PteFlags::P | PteFlags::U).bits();
    match rng.below(6) {
        0 => pu,
        1 => pu | PteFlags::W.bits(),
        2 => {
            pu | rng
                .pick(&[PteFlags::COW, PteFlags::SHARE, PteFlags::AVAIL])
                .bits()
        }
        3 => rng.below(0x1000),
        4 => rng.next_u32(),
        _ => rng.pick(&[
            0,
            PteFlags::P.bits(),
            PteFlags::U.bits(),
            pu | 0x80,
            pu | 0x100,
        ]),
    }
}

/// Whether `perm` is acceptable to sys_page_alloc/map: P and U set,
/// nothing outside PTE_SYSCALL.
pub fn valid_perm(perm: u32) -> bool {
    let pu = (PteFlags::P | PteFlags::U).bits();
    perm & pu == pu && perm & !PteFlags::SYSCALL.bits() == 0
}

impl Fuzz {
    /// A fuzzer for the calling environment whose lines start with `name`
    /// (cut to 31 bytes), drawing from `seed`; at most `max_wild` children
    /// run with random registers.
    pub fn new(name: &str, seed: u32, max_wild: u32) -> Fuzz {
        let mut f = Fuzz {
            rng: Rng::new(seed),
            name: [0; 32],
            me: sys_getenvid(),
            child: 0,
            calls: 0,
            errors: 0,
            unexpected: 0,
            wild: 0,
            max_wild,
            faults: false,
            protected: [0; NPROTECT],
        };
        snprintf!(&mut f.name, "{}", name);
        f
    }

    /// Says that the caller takes page faults (it forked, so its pages are
    /// copy-on-write): its upcall and exception stack are then never
    /// changed.
    pub fn takes_faults(&mut self) {
        self.faults = true;
    }

    /// Keeps `id` out of the random calls from now on (if there is room:
    /// returns false when all NPROTECT entries are taken).
    pub fn protect(&mut self, id: EnvId) -> bool {
        match self.protected.iter_mut().find(|p| **p == 0) {
            Some(p) => {
                *p = id;
                true
            }
            None => false,
        }
    }

    /// Lets the random calls name `id` again.
    pub fn unprotect(&mut self, id: EnvId) {
        for p in self.protected.iter_mut().filter(|p| **p == id) {
            *p = 0;
        }
    }

    /// What our lines start with.
    pub fn name(&self) -> &str {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(0);
        core::str::from_utf8(&self.name[..n]).unwrap_or("fuzz")
    }

    /// The generator, for callers that draw their own decisions from the
    /// same seed.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// An env id: ourselves, our child, or one that names nobody (or a
    /// protected env, replaced by one that names nobody).
    fn envid(&mut self) -> EnvId {
        let choices = [
            0,
            self.me,
            self.child,
            self.me + 1,
            self.me + 0x1000,
            -1,
            -self.me,
            i32::MAX,
            i32::MIN,
            0x3ff,
        ];
        let id = match self.rng.below(12) {
            0..=9 => choices[self.rng.below(choices.len() as u32) as usize],
            _ => self.rng.next_u32() as EnvId,
        };
        if id != 0 && self.protected.contains(&id) {
            -1
        } else {
            id
        }
    }

    /// Whether `id` names this environment.
    fn is_me(&self, id: EnvId) -> bool {
        id == 0 || id == self.me
    }

    /// A destination address in `env`'s address space: anything for
    /// another environment, only harmless addresses for ourselves.
    fn dst_in(&mut self, env: EnvId) -> usize {
        if self.is_me(env) {
            let va = safe_dst(&mut self.rng);
            // Our exception stack is in use if we take faults.
            if self.faults && va == UXSTACKTOP - PGSIZE {
                UTOP
            } else {
                va
            }
        } else {
            any_addr(&mut self.rng)
        }
    }

    /// Makes one call and counts it.
    fn call(&mut self, num: u32, a: [u32; 5]) -> i32 {
        // SAFETY: the arguments were chosen (see the module comment) so that
        // nothing the kernel does with them can change memory this program
        // uses: writes to our own address space only touch scratch pages.
        let r = unsafe { syscall_raw(num, a[0], a[1], a[2], a[3], a[4]) };
        self.calls += 1;
        if r < 0 {
            self.errors += 1;
        }
        r
    }

    /// Reports a call that should have failed but did not.
    fn expect_error(&mut self, what: &str, r: i32, a: [u32; 5]) {
        if r >= 0 {
            self.unexpected += 1;
            cprintf!(
                "{}: UNEXPECTED: {}({:x}, {:x}, {:x}, {:x}, {:x}) returned {}\n",
                self.name(),
                what,
                a[0],
                a[1],
                a[2],
                a[3],
                a[4],
                r
            );
        }
    }

    /// Makes one random call.
    pub fn step(&mut self) {
        let num = match self.rng.below(20) {
            0 => NSYSCALLS + self.rng.below(10),
            1 => self.rng.next_u32(),
            _ => self.rng.below(NSYSCALLS),
        };
        let Some(sc) = Syscall::from_u32(num) else {
            let a: [u32; 5] = core::array::from_fn(|_| self.rng.next_u32());
            let r = self.call(num, a);
            if r != Error::Inval.code() {
                self.unexpected += 1;
                cprintf!(
                    "{}: UNEXPECTED: syscall {} returned {}\n",
                    self.name(),
                    num,
                    r
                );
            }
            return;
        };
        match sc {
            Syscall::Cputs => {
                // Only a valid buffer: a bad one ends us, by design.
                let s = b"";
                self.call(num, [s.as_ptr() as u32, 0, 0, 0, 0]);
            }
            Syscall::Cgetc | Syscall::Getenvid | Syscall::Yield | Syscall::TimeMsec => {
                self.call(num, [0; 5]);
            }
            Syscall::EnvDestroy => {
                let id = self.envid();
                if self.is_me(id) {
                    return;
                }
                let r = self.call(num, [id as u32, 0, 0, 0, 0]);
                if id == self.child && r >= 0 {
                    self.child = 0;
                }
            }
            Syscall::PageAlloc => {
                let env = self.envid();
                let va = self.dst_in(env);
                let p = perm(&mut self.rng);
                let a = [env as u32, va as u32, p, 0, 0];
                let r = self.call(num, a);
                if va >= UTOP || !va.is_multiple_of(PGSIZE) || !valid_perm(p) {
                    self.expect_error("sys_page_alloc", r, a);
                }
            }
            Syscall::PageMap => {
                let src = self.envid();
                let srcva = any_addr(&mut self.rng);
                let dst = self.envid();
                let dstva = self.dst_in(dst);
                let p = perm(&mut self.rng);
                let a = [src as u32, srcva as u32, dst as u32, dstva as u32, p];
                let r = self.call(num, a);
                // The zero page at UZERO is the one source above UTOP, and
                // only read-only.
                let zero_ok = srcva == UZERO && p & PteFlags::W.bits() == 0;
                if (srcva >= UTOP && !zero_ok)
                    || dstva >= UTOP
                    || !(srcva | dstva).is_multiple_of(PGSIZE)
                    || !valid_perm(p)
                {
                    self.expect_error("sys_page_map", r, a);
                }
            }
            Syscall::PageUnmap => {
                let env = self.envid();
                let va = self.dst_in(env);
                let a = [env as u32, va as u32, 0, 0, 0];
                let r = self.call(num, a);
                if va >= UTOP || !va.is_multiple_of(PGSIZE) {
                    self.expect_error("sys_page_unmap", r, a);
                }
            }
            Syscall::Exofork => self.exofork(),
            Syscall::IpcSend | Syscall::IpcCall => {
                // A blocking send (or call) to a real env could wait
                // forever: only those that must fail at once (to ourselves,
                // or to a bad id). A call's fifth argument is where the
                // answer's page would go.
                let to = self.rng.pick(&[0, 0x7fff_ffff, 0xffff_ffff, 0x1fff]);
                let dstva = if sc == Syscall::IpcCall {
                    any_addr(&mut self.rng) as u32
                } else {
                    0
                };
                let a = [
                    to,
                    self.rng.next_u32(),
                    any_addr(&mut self.rng) as u32,
                    perm(&mut self.rng),
                    dstva,
                ];
                let r = self.call(num, a);
                self.expect_error(sc.name(), r, a);
            }
            Syscall::EnvSetPager => {
                // Never on ourselves: our own faults must stay ours.
                let env = self.envid();
                if self.is_me(env) {
                    return;
                }
                let pager = self.envid();
                let lo = any_addr(&mut self.rng);
                let hi = any_addr(&mut self.rng);
                let a = [
                    env as u32,
                    pager as u32,
                    lo as u32,
                    hi as u32,
                    self.rng.next_u32(),
                ];
                let r = self.call(num, a);
                if pager != 0 && (!(lo | hi).is_multiple_of(PGSIZE) || lo >= hi || hi > UTOP) {
                    self.expect_error("sys_env_set_pager", r, a);
                }
            }
            Syscall::PagerMap => {
                // Only into an env we page (our child, if we made ourselves
                // its pager), at a page it lacks: harmless either way.
                let env = self.envid();
                let srcva = any_addr(&mut self.rng);
                let dstva = any_addr(&mut self.rng);
                let p = perm(&mut self.rng);
                let a = [env as u32, srcva as u32, dstva as u32, p, 0];
                let r = self.call(num, a);
                if srcva >= UTOP
                    || dstva >= UTOP
                    || !(srcva | dstva).is_multiple_of(PGSIZE)
                    || !valid_perm(p)
                    || self.is_me(env)
                {
                    self.expect_error("sys_pager_map", r, a);
                }
            }
            Syscall::VmClearAd => {
                // Clearing accessed/dirty bits of our own pages is harmless.
                let va = any_addr(&mut self.rng);
                let big = self.rng.next_u32();
                let len = self.rng.pick(&[0, 1, PGSIZE as u32, 0x10_0000, big]) as usize;
                let a = [va as u32, len as u32, 0, 0, 0];
                let r = self.call(num, a);
                if va.checked_add(len).is_none_or(|end| end > UTOP) {
                    self.expect_error("sys_vm_clear_ad", r, a);
                }
            }
            Syscall::EnvSetStatus => {
                let env = self.envid();
                if self.is_me(env) {
                    return;
                }
                let status = self.rng.pick(&[0, 1, 2, 3, 4, 5, 0xffff_ffff]);
                // A runnable child would run with a bogus address space:
                // only other statuses for it.
                if env == self.child && status == ENV_RUNNABLE {
                    return;
                }
                let a = [env as u32, status, 0, 0, 0];
                let r = self.call(num, a);
                if status != ENV_RUNNABLE && status != ENV_NOT_RUNNABLE {
                    self.expect_error("sys_env_set_status", r, a);
                }
            }
            Syscall::EnvSetTrapframe => {
                let env = self.envid();
                if self.is_me(env) {
                    return;
                }
                let tf = self.random_trapframe();
                self.call(num, [env as u32, &raw const tf as u32, 0, 0, 0]);
            }
            Syscall::EnvSetPgfaultUpcall => {
                // Harmless for us if we never page-fault.
                let env = self.envid();
                let func = any_addr(&mut self.rng);
                if self.faults && self.is_me(env) {
                    return;
                }
                self.call(num, [env as u32, func as u32, 0, 0, 0]);
            }
            Syscall::IpcTrySend => {
                let env = self.envid();
                let a = [
                    env as u32,
                    self.rng.next_u32(),
                    any_addr(&mut self.rng) as u32,
                    perm(&mut self.rng),
                    0,
                ];
                self.call(num, a);
            }
            Syscall::IpcRecv => {
                // Only invalid forms: unaligned below UTOP (from anyone or
                // anybody), or a closed receive from no env or ourselves
                // (0x7fffffff and 0xffffffff never name an env; our own id
                // is refused). A valid one would wait forever.
                let from = self.rng.pick(&[0, 0x7fff_ffff, 0xffff_ffff]);
                let va = if from == 0 || self.rng.below(2) == 0 {
                    scratch_page(&mut self.rng) + 1 + self.rng.below(PGSIZE as u32 - 1) as usize
                } else {
                    scratch_page(&mut self.rng)
                };
                let a = [va as u32, from, 0, 0, 0];
                let r = self.call(num, a);
                self.expect_error("sys_ipc_recv", r, a);
            }
            Syscall::ConsCtl => {
                // Taking the console's controller role is harmless (a
                // Ctrl-C would then stop our own children); an op past
                // OWNER is refused; polling never says yes untyped.
                let op = self.rng.below(6);
                let a = [op, 0, 0, 0, 0];
                let r = self.call(num, a);
                if op > abi::syscall::CONS_CTL_OWNER {
                    self.expect_error("sys_cons_ctl", r, a);
                }
                if op == abi::syscall::CONS_CTL_POLL && r != 0 {
                    // Reported as unexpected, whatever it was.
                    self.expect_error("sys_cons_ctl(POLL)", r.abs().max(1), a);
                }
            }
            Syscall::EnvDestroyTree => {
                // Only below us: ourselves (or 0) never, nor our parent
                // (outside our tree); our child and its children at once.
                let parent = jos::env::thisenv().env_parent_id;
                let id = if self.rng.below(4) == 0 {
                    parent
                } else {
                    self.envid()
                };
                let a = [id as u32, 0, 0, 0, 0];
                let r = self.call(num, a);
                if self.is_me(id) || id == parent {
                    self.expect_error("sys_env_destroy_tree", r, a);
                } else if id == self.child && r >= 0 {
                    self.child = 0;
                }
            }
            Syscall::NetTryTransmit => {
                // Only reads: any address (UENVS, UPAGES and UVPT are
                // readable: only a range reaching ULIM must fail). The
                // frames that get out are garbage to QEMU's user network,
                // which drops them.
                let va = any_addr(&mut self.rng);
                let len = self.rng.below(2000) as usize;
                let a = [va as u32, len as u32, 0, 0, 0];
                let r = self.call(num, a);
                if len == 0
                    || len > abi::net::MAX_FRAME
                    || va.checked_add(len).is_none_or(|end| end > ULIM)
                {
                    self.expect_error("sys_net_try_transmit", r, a);
                }
            }
            Syscall::NetTryReceive | Syscall::KernCmdline => {
                // They write: into a buffer of ours, or where we may not
                // write at all (the kernel's half), never into our state.
                let mut scratch = [0u8; 1600];
                let ours = self.rng.below(2) == 0;
                let (va, len) = if ours {
                    let len = self.rng.below(scratch.len() as u32 + 1) as usize;
                    (scratch.as_mut_ptr() as usize, len)
                } else {
                    let va = UTOP + self.rng.below((usize::MAX - UTOP) as u32) as usize;
                    (va, 1 + self.rng.below(0x1_0000) as usize)
                };
                let a = [va as u32, len as u32, 0, 0, 0];
                let r = self.call(num, a);
                core::hint::black_box(&mut scratch);
                if !ours {
                    self.expect_error(sc.name(), r, a);
                }
            }
            Syscall::NetReceive => {
                // Waits while no frame is there: only where we may not
                // write (the kernel's half), which fails before any wait.
                let va = UTOP + self.rng.below((usize::MAX - UTOP) as u32) as usize;
                let a = [va as u32, 1 + self.rng.below(0x1_0000), 0, 0, 0];
                let r = self.call(num, a);
                self.expect_error(sc.name(), r, a);
            }
            Syscall::SleepUntil => {
                // Any time in the past (at once), or a few ticks ahead (a
                // random future time could sleep for days): 0 either way.
                let now = jos::syscall::sys_time_msec();
                let until = if self.rng.below(2) == 0 {
                    now.wrapping_sub(self.rng.below(0x8000_0000))
                } else {
                    now.wrapping_add(self.rng.below(30))
                };
                let r = self.call(num, [until, 0, 0, 0, 0]);
                if r != 0 {
                    self.unexpected += 1;
                    cprintf!(
                        "{}: UNEXPECTED: sys_sleep_until returned {}\n",
                        self.name(),
                        r
                    );
                }
            }
            Syscall::PageCheck => {
                // Only reads page tables: any env, any addresses.
                let env = self.envid();
                let va = any_addr(&mut self.rng);
                let myva = any_addr(&mut self.rng);
                let a = [env as u32, va as u32, myva as u32, 0, 0];
                let r = self.call(num, a);
                if va >= UTOP || myva >= UTOP || !(va | myva).is_multiple_of(PGSIZE) {
                    self.expect_error("sys_page_check", r, a);
                }
            }
        }
    }

    /// Creates a child (if we have none), or destroys the one we have; now
    /// and then runs a fresh child with random registers instead.
    fn exofork(&mut self) {
        if self.child == 0 && self.wild < self.max_wild && self.rng.below(50) == 0 {
            self.wild += 1;
            return self.run_wild_child();
        }
        if self.child != 0 {
            let r = sys_env_destroy(self.child);
            self.calls += 1;
            if r.is_err() {
                self.errors += 1;
            }
            self.child = 0;
            return;
        }
        self.calls += 1;
        match sys_exofork() {
            // The child: it never runs (we never make it runnable with a
            // real address space), but if it ever did, it would stop here.
            Ok(0) => jos::exit(),
            Ok(id) => self.child = id,
            Err(_) => self.errors += 1,
        }
    }

    /// Creates a child with no memory at all, gives it random registers
    /// and lets it run: whatever it does, the kernel must confine it to user
    /// mode (it should fault at once and be destroyed).
    fn run_wild_child(&mut self) {
        self.calls += 1;
        let id = match sys_exofork() {
            Ok(0) => jos::exit(),
            Ok(id) => id,
            Err(_) => {
                self.errors += 1;
                return;
            }
        };
        let tf = self.random_trapframe();
        cprintf!(
            "{}: running {:08x} at eip {:08x}, cs {:04x}, eflags {:08x}\n",
            self.name(),
            id,
            tf.tf_eip,
            tf.tf_cs,
            tf.tf_eflags
        );
        let setup =
            sys_env_set_trapframe(id, &tf).and_then(|()| sys_env_set_status(id, ENV_RUNNABLE));
        self.calls += 2;
        if let Err(e) = setup {
            self.errors += 1;
            cprintf!(
                "{}: UNEXPECTED: setting up child {:08x}: {}\n",
                self.name(),
                id,
                e
            );
            self.unexpected += 1;
        }
        // Let it run (and die), then make sure it is gone.
        for _ in 0..4 {
            sys_yield();
        }
        self.calls += 4;
        let _ = sys_env_destroy(id);
        self.calls += 1;
    }

    /// Registers full of random values.
    fn random_trapframe(&mut self) -> Trapframe {
        let mut tf = Trapframe::zeroed();
        let r = &mut self.rng;
        tf.tf_regs = PushRegs {
            reg_edi: r.next_u32(),
            reg_esi: r.next_u32(),
            reg_ebp: r.next_u32(),
            reg_oesp: r.next_u32(),
            reg_ebx: r.next_u32(),
            reg_edx: r.next_u32(),
            reg_ecx: r.next_u32(),
            reg_eax: r.next_u32(),
        };
        tf.tf_es = r.next_u32() as u16;
        tf.tf_ds = r.next_u32() as u16;
        tf.tf_trapno = r.next_u32();
        tf.tf_err = r.next_u32();
        tf.tf_eip = r.next_u32();
        tf.tf_cs = r.next_u32() as u16;
        tf.tf_eflags = r.next_u32();
        tf.tf_esp = r.next_u32();
        tf.tf_ss = r.next_u32() as u16;
        tf
    }

    /// Destroys the sys_exofork child we still have, if any.
    pub fn finish(&mut self) {
        if self.child != 0 {
            let _ = sys_env_destroy(self.child);
            self.child = 0;
        }
    }
}
