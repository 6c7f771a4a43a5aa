// make: FS=1
//! pagerattack: the external-pager mechanism (sys_env_set_pager) and the
//! file server's pager, attacked. We page a child ourselves and answer its
//! faults right, wrong, late and never; a third env tries to answer for
//! us; the child is stopped and resumed while it waits; its pager dies;
//! bad arguments; fake fault messages and bad FSREQ_PAGE requests to the
//! file server; paged children killed while they fault. Every case must
//! end as the kernel documents, the kernel and the server staying up.
#![no_std]
#![no_main]

use abi::env::{ENV_NOT_RUNNABLE, ENV_RUNNABLE, ENV_TYPE_FS, EnvId, PAGER_WAITING, envx};
use abi::error::{Error, Result};
use abi::fsipc::*;
use abi::memlayout::UTOP;
use abi::mmu::{FEC_PR, PGSIZE, PTE_RW, PteFlags};
use jos::cprintf;
use jos::env::{env_read, wait};
use jos::file::{fsipc, fsipcbuf_as};
use jos::syscall::*;
use jos::{fork, ipc_recv, ipc_send};

jos::main!(umain);

/// The range we page for our child.
const LO: usize = 0x3000_0000;
const HI: usize = LO + 16 * PGSIZE;
/// Where we build pages to send.
const TMP: usize = 0x0b00_0000;
const MAGIC: u32 = 0x5eed_f00d;

/// Counts failures.
struct Checks(u32);

impl Checks {
    fn ok(&mut self, what: &str, good: bool) {
        if !good {
            cprintf!("pagerattack: {} FAILED\n", what);
            self.0 += 1;
        }
    }
}

/// A child that waits for a go, then reads the word at `va` and sends it
/// to us; it never returns here.
fn reader(va: usize) -> EnvId {
    match fork() {
        Ok(0) => {
            let _ = ipc_recv(None);
            // SAFETY: not safe in general: `va` is paged by our parent (or
            // faults on purpose); a volatile read so it really happens.
            let v = unsafe { core::ptr::read_volatile(va as *const u32) };
            ipc_send(
                env_read(envx(jos::env::thisenv_id())).env_parent_id,
                v,
                None,
                PteFlags::empty(),
            );
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    }
}

/// Waits for the fault message of `child` (dropping anything else).
fn fault_of(child: EnvId) -> u32 {
    loop {
        let m = ipc_recv(None).expect("ipc_recv");
        if m.from == child {
            return m.value;
        }
    }
}

/// A page holding MAGIC at TMP.
fn magic_page() {
    sys_page_alloc(0, TMP, PTE_RW).expect("page_alloc");
    // SAFETY: TMP was just mapped.
    unsafe { core::ptr::write_volatile(TMP as *mut u32, MAGIC) };
}

fn umain(_args: &[&str]) {
    let mut c = Checks(0);
    let me = jos::env::thisenv_id();

    // 1. Bad arguments.
    let child = reader(LO);
    let bad = |p, lo, hi| sys_env_set_pager(child, p, lo, hi, 0);
    c.ok(
        "own pager",
        sys_env_set_pager(child, child, LO, HI, 0) == Err(Error::Inval),
    );
    c.ok("unaligned", bad(me, LO + 1, HI) == Err(Error::Inval));
    c.ok("empty range", bad(me, HI, LO) == Err(Error::Inval));
    c.ok("past UTOP", bad(me, LO, UTOP + PGSIZE) == Err(Error::Inval));
    c.ok(
        "no such pager",
        bad(0x7fff_f3ff, LO, HI) == Err(Error::BadEnv),
    );
    let fs = jos::ipc_find_env(ENV_TYPE_FS).expect("no file server");
    c.ok(
        "pager for a stranger",
        sys_env_set_pager(fs, me, LO, HI, 0) == Err(Error::BadEnv),
    );

    // 2. An honest answer; the key shows in the Env.
    c.ok(
        "set pager",
        sys_env_set_pager(child, me, LO, HI, 7) == Ok(()),
    );
    c.ok("key", env_read(envx(child)).env_pager_key == 7);
    ipc_send(child, 0, None, PteFlags::empty());
    let msg = fault_of(child);
    c.ok(
        "fault message",
        msg & !(PGSIZE as u32 - 1) == LO as u32 && msg & PAGER_WAITING != 0 && msg & FEC_PR == 0,
    );
    // 3. Someone else answers for us: refused while the child waits.
    let third = match fork() {
        Ok(0) => {
            // Even with the right value: only the pager answers.
            let r = sys_ipc_try_send(child, msg, UTOP, PteFlags::empty());
            let code = match r {
                Err(Error::IpcNotRecv) => 1,
                _ => 0,
            };
            ipc_send(
                env_read(envx(jos::env::thisenv_id())).env_parent_id,
                code,
                None,
                PteFlags::empty(),
            );
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    let m = ipc_recv(None).expect("ipc_recv");
    c.ok("third party refused", m.from == third && m.value == 1);
    wait(third);
    // 4. A wrong answer (writable from a read-only page) is our error;
    //    the child still waits. Then stop and resume it: it faults again.
    magic_page();
    sys_page_map(0, TMP, 0, TMP, PteFlags::P | PteFlags::U).expect("page_map");
    // sys_pager_map: a page sent ahead of a fault, only by the env's own
    // pager, only inside its range, only where the env has none, never
    // writable from a read-only page.
    let ro = PteFlags::P | PteFlags::U;
    let ahead = LO + 3 * PGSIZE;
    c.ok(
        "pager_map: not its pager",
        sys_pager_map(fs, TMP, 0x80_0000, ro) == Err(Error::BadEnv),
    );
    c.ok(
        "pager_map: ourselves",
        sys_pager_map(0, TMP, ahead, ro) == Err(Error::BadEnv),
    );
    c.ok(
        "pager_map: below the range",
        sys_pager_map(child, TMP, LO - PGSIZE, ro) == Err(Error::Inval),
    );
    c.ok(
        "pager_map: past the range",
        sys_pager_map(child, TMP, HI, ro) == Err(Error::Inval),
    );
    c.ok(
        "pager_map: unaligned",
        sys_pager_map(child, TMP, ahead + 4, ro) == Err(Error::Inval),
    );
    c.ok(
        "pager_map: writable from read-only",
        sys_pager_map(child, TMP, ahead, PTE_RW) == Err(Error::Inval),
    );
    c.ok(
        "pager_map: no page of ours",
        sys_pager_map(child, TMP + PGSIZE, ahead, ro) == Err(Error::Inval),
    );
    c.ok(
        "pager_map: ahead of a fault",
        sys_pager_map(child, TMP, ahead, ro) == Ok(())
            && sys_page_check(child, ahead, TMP) == Ok(()),
    );
    c.ok(
        "pager_map: a page the env has stays",
        sys_pager_map(child, TMP, ahead, ro) == Err(Error::Inval),
    );
    c.ok(
        "writable from read-only",
        sys_ipc_try_send(child, msg, TMP, PTE_RW) == Err(Error::Inval),
    );
    // An answer must name the fault (its message as the value): anything
    // else of ours is not taken for it.
    c.ok(
        "answer without the fault message",
        sys_ipc_try_send(child, 0, TMP, PteFlags::P | PteFlags::U) == Err(Error::IpcNotRecv),
    );
    c.ok(
        "still waiting",
        env_read(envx(child)).env_pager_fault == msg,
    );
    c.ok(
        "stop",
        sys_env_set_status(child, ENV_NOT_RUNNABLE) == Ok(()),
    );
    c.ok(
        "stopped: no longer waits",
        env_read(envx(child)).env_pager_fault == 0,
    );
    c.ok("resume", sys_env_set_status(child, ENV_RUNNABLE) == Ok(()));
    let msg2 = fault_of(child);
    c.ok("faults again", msg2 == msg);
    c.ok(
        "answer",
        sys_ipc_try_send(child, msg2, TMP, PteFlags::P | PteFlags::U) == Ok(()),
    );
    let m = ipc_recv(None).expect("ipc_recv");
    c.ok("child read our page", m.from == child && m.value == MAGIC);
    wait(child);
    let _ = sys_page_unmap(0, TMP);

    // 5. Declined: the fault goes to the child's own handler, which
    //    reports it; the child exits.
    let child = reader(LO + PGSIZE);
    sys_env_set_pager(child, me, LO, HI, 0).expect("set pager");
    ipc_send(child, 0, None, PteFlags::empty());
    let msg = fault_of(child);
    c.ok(
        "decline",
        sys_ipc_try_send(child, msg, UTOP, PteFlags::empty()) == Ok(()),
    );
    wait(child);

    // 6. The pager dies while the child waits for it.
    let pager = match fork() {
        Ok(0) => {
            let _ = ipc_recv(None);
            loop {
                sys_yield();
            }
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    let child = reader(LO + 2 * PGSIZE);
    sys_env_set_pager(child, pager, LO, HI, 0).expect("set pager");
    ipc_send(child, 0, None, PteFlags::empty());
    // Until the pager has its fault message and the child waits for it.
    while env_read(envx(child)).env_pager_fault == 0 || env_read(envx(child)).env_ipc_recving == 0 {
        sys_yield();
    }
    c.ok("pager killed", sys_env_destroy(pager) == Ok(()));
    wait(child);
    wait(pager);

    // 7. Made-up fault messages to the file server: not faults to it.
    // (A call: the server answers once, and only a caller waiting for it
    // gets the answer.)
    let r = jos::ipc::ipc_call(fs, LO as u32 | PAGER_WAITING, None, PteFlags::empty(), None);
    c.ok("fake fault sent", r.is_ok());
    c.ok(
        "fake fault refused",
        r.is_ok_and(|m| m.from == fs && m.value as i32 == Error::Inval.code()),
    );

    // 8. Bad FSREQ_PAGE requests.
    let fd = jos::file::open("/hello", O_RDONLY).expect("open /hello");
    let fileid = jos::fd::fd_lookup(fd).expect("fd").fd_file_id;
    let page_req = |envid: EnvId, seg: PageSeg, fileid: i32| -> Result<u32> {
        // SAFETY: the request page is ours until the reply.
        let req = unsafe { fsipcbuf_as::<FsreqPage>() };
        req.req_fileid = fileid;
        req.req_envid = envid;
        req.req_nseg = 1;
        req.req_segs[0] = seg;
        fsipc(fsreq_fd(FSREQ_PAGE, jos::fd::index2fd(fd)), None)
    };
    let good = PageSeg {
        va: 0x80_0000,
        memsz: 100,
        filesz: 100,
        offset: 0,
        writable: 0,
        exec: 0,
    };
    c.ok(
        "not our child",
        page_req(fs, good, fileid) == Err(Error::BadEnv),
    );
    let kid = match fork() {
        Ok(0) => loop {
            sys_yield();
        },
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    };
    c.ok(
        "a running child",
        page_req(kid, good, fileid) == Err(Error::BadEnv),
    );
    sys_env_set_status(kid, ENV_NOT_RUNNABLE).expect("stop");
    let segs = [
        PageSeg { va: 0, ..good },
        PageSeg {
            filesz: 200,
            ..good
        },
        PageSeg {
            offset: 1 << 30,
            ..good
        },
        PageSeg {
            va: 0xffff_f000,
            memsz: 0x2000,
            ..good
        },
        PageSeg { offset: 1, ..good },
    ];
    for (i, s) in segs.iter().enumerate() {
        c.ok(
            if i == 0 {
                "segment in page 0"
            } else {
                "bad segment"
            },
            page_req(kid, *s, fileid) == Err(Error::Inval),
        );
    }
    c.ok(
        "stale file id",
        page_req(kid, good, fileid ^ 0x4000_0000) == Err(Error::Inval),
    );
    c.ok("good request", page_req(kid, good, fileid).is_ok());
    let _ = jos::fd::close(fd);
    sys_env_destroy(kid).expect("destroy");

    // 9. Paged children killed at once, in the middle of their first
    //    faults: nothing is left behind (grade.py checks every env freed).
    for _ in 0..20 {
        match jos::spawnl!("/hello", "hello") {
            Ok(id) => {
                sys_yield();
                let _ = sys_env_destroy(id);
            }
            Err(_) => c.ok("spawn hello", false),
        }
    }
    // And the server still pages: a child runs to the end.
    match jos::spawnl!("/hello", "hello") {
        Ok(id) => wait(id),
        Err(_) => c.ok("spawn after the kills", false),
    }
    // 10. A running program's file renamed: it is paged on from the
    //     entry's new place. Removed: it gets no more pages (not those of
    //     whatever file takes the entry next); its next fault is its own.
    let late = || match jos::spawnl!("/pagein", "pagein", "late") {
        Ok(id) => {
            let m = ipc_recv(None).expect("ipc_recv");
            assert_eq!(m.from, id);
            id
        }
        Err(e) => panic!("spawn pagein: {e}"),
    };
    let child = late();
    c.ok(
        "rename",
        jos::rename::rename("/pagein", "/pagein.moved") == Ok(()),
    );
    ipc_send(child, 0, None, PteFlags::empty());
    let m = ipc_recv(None).expect("ipc_recv");
    c.ok(
        "renamed program paged on",
        m.from == child && m.value & 1 == 1,
    );
    wait(child);
    c.ok(
        "rename back",
        jos::rename::rename("/pagein.moved", "/pagein") == Ok(()),
    );
    let child = late();
    c.ok("remove", jos::file::remove("/pagein") == Ok(()));
    ipc_send(child, 0, None, PteFlags::empty());
    loop {
        let e = env_read(envx(child));
        if e.env_id != child || e.env_status == abi::env::ENV_FREE {
            break;
        }
        if e.env_ipc_send_to == me {
            let _ = ipc_recv(None);
            c.ok("removed program got no more pages", false);
            break;
        }
        sys_yield();
    }
    wait(child);

    if c.0 == 0 {
        cprintf!("pagerattack: OK\n");
    } else {
        cprintf!("pagerattack: {} FAILED\n", c.0);
    }
}
