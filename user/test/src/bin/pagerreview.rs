//! pagerreview: the external-pager mechanism's corner cases, one line each
//! (`pagerreview: <case>: OK` or `... BUG: <what>`). Started by the kernel,
//! it runs the cases that need no paging itself (pager cycles, a pager
//! changed under a waiting env, the file server's table) and spawns itself
//! from the file system, paged by the file server, for the others (`lost
//! reply`, a write to read-only program text, a system call on a program
//! page not yet present, an upcall whose code is not yet present, sfork
//! with data not yet present).
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, ENV_TYPE_FS, EnvId, envx};
use abi::error::Error;
use abi::fsipc::{FSREQ_PAGE, FSREQ_SYNC, FsreqPage, O_RDONLY, PageSeg, fsreq_fd};
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use jos::cprintf;
use jos::env::env_read;
use jos::file::{fsipc, fsipcbuf_as};
use jos::syscall::*;
use jos::{ipc_recv, ipc_send};
use user::child::fork_child;

jos::main!(umain);

/// Read-only program bytes, 4 pages: the middle ones are ours alone, and
/// no code touches them before a case does.
static PAD: [u8; 4 * PGSIZE] = [0x5a; 4 * PGSIZE];

/// Like PAD, with a line to print from its third page.
static TEXT: [u8; 4 * PGSIZE] = text();

const LINE: &[u8] = b"pagerreview: cputs: OK\n";

const fn text() -> [u8; 4 * PGSIZE] {
    let mut t = [b'.'; 4 * PGSIZE];
    let mut i = 0;
    while i < LINE.len() {
        t[2 * PGSIZE + i] = LINE[i];
        i += 1;
    }
    t
}

/// Addresses paged by our own test pagers (nothing is mapped there).
const LO: usize = 0x3000_0000;
const LO2: usize = 0x3100_0000;
const TMP: usize = 0x0b00_0000;

/// The address of PAD's third page (a page PAD alone covers).
fn pad_page() -> usize {
    (PAD.as_ptr() as usize + 2 * PGSIZE) & !(PGSIZE - 1)
}

/// Whether env `id` still exists.
fn alive(id: EnvId) -> bool {
    let e = env_read(envx(id));
    e.env_id == id && e.env_status != ENV_FREE
}

/// Spawns ourselves for `case`; whether it ended by itself (else it is
/// destroyed, after `hung` is printed): it hangs if it stays blocked
/// while the file server is idle, or runs over and over (a fault retried
/// for ever). Counted in the child's progress, not in our yields, which
/// are fast with other CPUs.
fn spawned(case: &str, hung: &str) -> bool {
    let id = match jos::spawnl!("/pagerreview", "pagerreview", case) {
        Ok(id) => id,
        Err(e) => {
            cprintf!("pagerreview: {}: BUG: spawn: {}\n", case, e);
            return false;
        }
    };
    let mut idle = 0;
    while alive(id) {
        let (e, fs) = (env_read(envx(id)), env_read(0));
        let blocked = e.env_status == ENV_NOT_RUNNABLE
            && fs.env_status == ENV_NOT_RUNNABLE
            && fs.env_ipc_recving != 0;
        idle = if blocked { idle + 1 } else { 0 };
        if idle > 1000 || e.env_runs > 3000 {
            cprintf!(
                "pagerreview: {}: BUG: {} (status {}, runs {}, pager fault {:08x})\n",
                case,
                hung,
                e.env_status,
                e.env_runs,
                e.env_pager_fault
            );
            let _ = sys_env_destroy(id);
            return false;
        }
        sys_yield();
    }
    true
}

fn parent() -> EnvId {
    env_read(envx(jos::env::thisenv_id())).env_parent_id
}

// ---------------------------------------------------------------------
// Cases run paged by the file server (spawned).

/// A request to the file server whose request page is a page of ours the
/// server itself pages and has not paged in yet: the call (`ipc_call`)
/// first waits for the page, then sends, then takes the reply. (A request
/// sent with a plain send is answered only if we are receiving by then:
/// the server never waits for a client, so the library always calls.)
fn lost_reply() {
    let fs = jos::file::fsenv().expect("fsenv");
    let page = pad_page();
    if jos::uvpt::pte_of(page).is_some() {
        cprintf!("pagerreview: lostreply: (page already present)\n");
    }
    // A read-only request page: the server answers E_INVAL, but answers.
    let m = jos::ipc::ipc_call(fs, FSREQ_SYNC, Some(page), PteFlags::P | PteFlags::U, None)
        .expect("call");
    // SAFETY: a read of our own static, paged in for the call.
    let v = unsafe { core::ptr::read_volatile(page as *const u8) };
    cprintf!(
        "pagerreview: lostreply: OK (reply {} from {:08x}, read {:02x})\n",
        m.value as i32,
        m.from,
        v
    );
}

/// A write to read-only program data, with no upcall: JOS kills us.
fn ro_write() {
    // SAFETY: not safe: a write to read-only memory, on purpose.
    unsafe { core::ptr::write_volatile(pad_page() as *mut u8, 1) };
    cprintf!("pagerreview: rowrite: BUG: wrote to read-only text\n");
}

/// sys_cputs of program bytes not yet present.
fn cputs() {
    let s = &TEXT[2 * PGSIZE..2 * PGSIZE + LINE.len()];
    // Nothing of TEXT's third page has been touched.
    if jos::uvpt::pte_of(s.as_ptr() as usize).is_some() {
        cprintf!("pagerreview: cputs: (page already present)\n");
    }
    sys_cputs(s);
}

/// A copy-on-write fault with the upcall's own code not present.
fn upcall() {
    jos::pgfault::install_upcall().expect("install_upcall");
    let up = jos::pgfault::pgfault_upcall_addr() & !(PGSIZE - 1);
    let natural = jos::uvpt::pte_of(up).is_none();
    // A program page may be absent at any time (not touched yet, or
    // given back): make it so, if it is not already.
    let _ = sys_page_unmap(0, up);
    sys_page_alloc(0, TMP, PTE_RW).expect("page_alloc");
    sys_page_map(0, TMP, 0, TMP, PteFlags::P | PteFlags::U | PteFlags::COW).expect("map");
    // SAFETY: TMP is our page, copy-on-write: the library's handler copies it.
    unsafe { core::ptr::write_volatile(TMP as *mut u32, 7) };
    cprintf!(
        "pagerreview: upcall: OK (upcall page {} absent)\n",
        if natural { "naturally" } else { "made" }
    );
}

/// Zeros (bss), 3 pages: the middle one is ours alone, untouched.
static mut SHARED: [u32; 3 * 1024] = [0; 3 * 1024];

/// sfork shares our memory, even the data and bss pages not paged in yet.
fn sfork_case() {
    let p = ((&raw mut SHARED as usize) + PGSIZE) & !(PGSIZE - 1);
    match jos::sfork() {
        Ok(0) => {
            // SAFETY: our own static (shared with our parent).
            unsafe { core::ptr::write_volatile(p as *mut u32, 42) };
        }
        Ok(id) => {
            jos::env::wait(id);
            // SAFETY: as above.
            let v = unsafe { core::ptr::read_volatile(p as *const u32) };
            if v == 42 {
                cprintf!("pagerreview: sfork: OK\n");
            } else {
                cprintf!(
                    "pagerreview: sfork: BUG: the child's write to a shared bss page is not ours (read {})\n",
                    v
                );
            }
        }
        Err(e) => panic!("sfork: {e}"),
    }
}

/// For `removed`: tells our parent we are ready and waits for its go,
/// twice (that code is then paged in), then reads PAD's page (not paged
/// in yet) and sends what it holds.
fn wait_read() {
    let p = parent();
    // Twice: all of the code from here to the report then ran once.
    for _ in 0..2 {
        ipc_send(p, 1, None, PteFlags::empty());
        let _ = ipc_recv(None);
    }
    // SAFETY: a read of our own static (not present yet).
    let v = unsafe { core::ptr::read_volatile(pad_page() as *const u8) };
    ipc_send(p, u32::from(v), None, PteFlags::empty());
}

// ---------------------------------------------------------------------
// Cases run by the kernel-started copy (our own pagers).

/// A copy buffer (ours is a kernel-started program: all of it is there).
static mut BUF: [u8; PGSIZE] = [0; PGSIZE];

/// Copies `from` to a new file `to`, or fills `to` with `fill` (as many
/// bytes as `from` has). Returns the bytes written.
fn copy_file(from: &str, to: &str, fill: Option<u8>) -> usize {
    use abi::fsipc::{O_CREAT, O_TRUNC, O_WRONLY};
    let src = jos::file::open(from, O_RDONLY).expect("open source");
    let dst = jos::file::open(to, O_CREAT | O_TRUNC | O_WRONLY).expect("create");
    // SAFETY: ours alone (no other reference to BUF is live).
    let buf = unsafe { core::slice::from_raw_parts_mut((&raw mut BUF).cast::<u8>(), PGSIZE) };
    let mut n = 0;
    loop {
        let m = jos::fd::read(src, buf).expect("read");
        if m == 0 {
            break;
        }
        if let Some(b) = fill {
            buf[..m].fill(b);
        }
        jos::fd::write(dst, &buf[..m]).expect("write");
        n += m;
    }
    let _ = jos::fd::close(src);
    let _ = jos::fd::close(dst);
    n
}

/// The program file of a running child is removed and a new file takes
/// its place: the child must not be paged from the new file (pager.rs:
/// "a removed file's blocks are refused").
fn removed() {
    copy_file("/pagerreview", "/prcopy", None);
    let c = match jos::spawnl!("/prcopy", "pagerreview", "waitread") {
        Ok(id) => id,
        Err(e) => panic!("spawn /prcopy: {e}"),
    };
    // Ready (twice): the code it runs until its report is paged in.
    for i in 0..2 {
        let m = ipc_recv(None).expect("recv");
        assert_eq!((m.from, m.value), (c, 1));
        if i == 0 {
            ipc_send(c, 0, None, PteFlags::empty());
        }
    }
    jos::file::remove("/prcopy").expect("remove");
    copy_file("/pagerreview", "/other", Some(0xee));
    // Its report, unless it died of its fault (a declined page): a
    // watcher says so then. Made before the go: made after, it could take
    // the dead child's Env slot and its saved trap number with it.
    let watcher = fork_child(|| {
        while alive(c) {
            sys_yield();
        }
        ipc_send(parent(), 0x100, None, PteFlags::empty());
    });
    ipc_send(c, 0, None, PteFlags::empty());
    let m = ipc_recv(None).expect("recv");
    let got = (m.from == c).then_some(m.value);
    let _ = sys_env_destroy(watcher);
    match got {
        Some(0xee) => cprintf!(
            "pagerreview: removed: BUG: a child whose program was removed is paged from the file that took its directory entry (read ee)\n"
        ),
        Some(v) => cprintf!("pagerreview: removed: OK (read {:02x})\n", v),
        None => {
            // Dead: of the page fault on a declined page, or of running
            // what is not its program any more. (Its freed Env still holds
            // the registers of its last trap: no env was made since.)
            let t = env_read(envx(c)).env_tf.tf_trapno;
            if t == abi::trap::T_PGFLT {
                cprintf!("pagerreview: removed: OK (declined)\n");
            } else {
                cprintf!(
                    "pagerreview: removed: BUG: a child whose program was removed ran another file's bytes (killed by trap {})\n",
                    t
                );
            }
        }
    }
    let _ = sys_env_destroy(c);
}

/// Two envs each other's pager: refused, or at least never running while
/// it waits.
fn cycle() {
    let me = jos::env::thisenv_id();
    // a: takes b's fault, then faults itself (b is its pager).
    let a = fork_child(|| {
        let _ = ipc_recv(None);
        // SAFETY: a paged address (b pages it), on purpose.
        unsafe { core::ptr::read_volatile(LO2 as *const u32) };
    });
    // b: faults on LO (a pages it) when told.
    let b = fork_child(|| {
        let _ = ipc_recv(None);
        // SAFETY: a paged address (a pages it), on purpose.
        unsafe { core::ptr::read_volatile(LO as *const u32) };
    });
    let _ = me;
    sys_env_set_pager(b, a, LO, LO + PGSIZE, 0).expect("set b");
    if sys_env_set_pager(a, b, LO2, LO2 + PGSIZE, 0) == Err(Error::Inval) {
        cprintf!("pagerreview: cycle: OK (refused)\n");
    } else {
        ipc_send(b, 0, None, PteFlags::empty());
        for _ in 0..200 {
            sys_yield();
        }
        let (ea, eb) = (env_read(envx(a)), env_read(envx(b)));
        let r0 = ea.env_runs + eb.env_runs;
        for _ in 0..200 {
            sys_yield();
        }
        let (ea2, eb2) = (env_read(envx(a)), env_read(envx(b)));
        let r1 = ea2.env_runs + eb2.env_runs;
        if r1 > r0 + 10 {
            cprintf!(
                "pagerreview: cycle: BUG: each other's pager, they run for ever ({} runs in 200 yields)\n",
                r1 - r0
            );
        } else {
            cprintf!("pagerreview: cycle: OK (deadlock, both waiting)\n");
        }
    }
    let _ = sys_env_destroy(a);
    let _ = sys_env_destroy(b);
}

/// A parent changes the pager of a child waiting for it, and exits: the
/// child must not wait for ever for an answer nobody can give.
fn set_while_waiting() {
    let m = fork_child(|| {
        let c = fork_child(|| {
            let _ = ipc_recv(None);
            // SAFETY: a paged address (our parent pages it), on purpose.
            let v = unsafe { core::ptr::read_volatile(LO as *const u32) };
            cprintf!("pagerreview: setwait: OK (read {})\n", v);
        });
        let me = jos::env::thisenv_id();
        sys_env_set_pager(c, me, LO, LO + PGSIZE, 0).expect("set");
        ipc_send(c, 0, None, PteFlags::empty());
        let m = ipc_recv(None).expect("recv");
        assert_eq!(m.from, c);
        // The fault is ours to answer; instead, the page mapped by hand
        // and no pager any more (in this order: with other CPUs, c may
        // run again as soon as its wait ends).
        sys_page_alloc(c, LO, PTE_RW).expect("alloc");
        sys_env_set_pager(c, 0, 0, 0, 0).expect("unset");
        ipc_send(parent(), c as u32, None, PteFlags::empty());
    });
    let c = ipc_recv(None).expect("recv").value as EnvId;
    jos::env::wait(m);
    // Its pager is gone for good (set to none): if it still waits for an
    // answer, nobody can ever give it, and nobody can free it.
    let e = env_read(envx(c));
    if e.env_id == c && e.env_pager == 0 && e.env_pager_fault != 0 {
        cprintf!(
            "pagerreview: setwait: BUG: {:08x} waits for ever for a pager it no longer has (fault {:08x}, recving {})\n",
            c,
            e.env_pager_fault,
            e.env_ipc_recving
        );
    } else {
        jos::env::wait(c);
    }
}

/// FSREQ_PAGE again and again for one child must not use up the server's
/// table.
fn slots() {
    let kid = fork_child(|| {
        loop {
            sys_yield();
        }
    });
    sys_env_set_status(kid, ENV_NOT_RUNNABLE).expect("stop");
    let fd = jos::file::open("/hello", O_RDONLY).expect("open /hello");
    let fileid = jos::fd::fd_lookup(fd).expect("fd").fd_file_id;
    let mut ok = 0;
    let mut err = None;
    for _ in 0..300 {
        match register(fd, fileid, kid) {
            Ok(()) => ok += 1,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let _ = jos::fd::close(fd);
    match jos::spawnl!("/hello", "hello") {
        Ok(id) => {
            jos::env::wait(id);
            cprintf!(
                "pagerreview: slots: OK ({} registrations for one child)\n",
                ok
            );
        }
        Err(e) => cprintf!(
            "pagerreview: slots: BUG: one stopped child took the server's table ({} registrations, then {:?}); spawn: {}\n",
            ok,
            err,
            e
        ),
    }
    let _ = sys_env_destroy(kid);
}

/// FSREQ_PAGE for child `kid` of /hello's first 100 bytes, through open
/// descriptor `fd` (server file id `fileid`).
fn register(fd: usize, fileid: i32, kid: EnvId) -> Result<(), Error> {
    // SAFETY: the request page is ours until the reply.
    let req = unsafe { fsipcbuf_as::<FsreqPage>() };
    req.req_fileid = fileid;
    req.req_envid = kid;
    req.req_nseg = 1;
    req.req_segs[0] = PageSeg {
        va: 0x80_0000,
        memsz: 100,
        filesz: 100,
        offset: 0,
        writable: 0,
        exec: 0,
    };
    fsipc(fsreq_fd(FSREQ_PAGE, jos::fd::index2fd(fd)), None).map(|_| ())
}

/// Many stopped children, each registered once, must not take the
/// server's table (256 programs) from everyone else: one env gets a
/// quarter of it at most (E_MAX_OPEN past that), and spawn still works.
fn kids() {
    const KIDS: usize = 300;
    let fd = jos::file::open("/hello", O_RDONLY).expect("open /hello");
    let fileid = jos::fd::fd_lookup(fd).expect("fd").fd_file_id;
    let mut kids = [0; KIDS];
    let (mut made, mut ok, mut err) = (0, 0, None);
    for k in kids.iter_mut() {
        // A child made stopped, with no memory: never made runnable.
        *k = match sys_exofork() {
            Ok(0) => jos::env::exit(),
            Ok(id) => id,
            Err(e) => {
                err = Some(e);
                break;
            }
        };
        made += 1;
        match register(fd, fileid, *k) {
            Ok(()) => ok += 1,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let _ = jos::fd::close(fd);
    // Another env spawns (this one is at its limit): it sends its result.
    let me = jos::env::thisenv_id();
    let other = fork_child(|| {
        let r = jos::spawnl!("/hello", "hello");
        if let Ok(id) = r {
            jos::env::wait(id);
        }
        let code = match r {
            Ok(_) => 0,
            Err(e) => e as i32 as u32,
        };
        ipc_send(me, code, None, PteFlags::empty());
    });
    let spawned = match jos::ipc::ipc_recv_from(other, None) {
        Ok(m) if m.value == 0 => Ok(()),
        Ok(m) => Err(m.value as i32),
        Err(e) => Err(e as i32),
    };
    if spawned.is_ok() && ok < made && err == Some(Error::MaxOpen) {
        cprintf!(
            "pagerreview: kids: OK ({} children registered, then {:?})\n",
            ok,
            err
        );
    } else {
        cprintf!(
            "pagerreview: kids: BUG: {} stopped children, {} registered, then {:?}; spawn: {:?}\n",
            made,
            ok,
            err,
            spawned
        );
    }
    for &k in &kids[..made] {
        let _ = sys_env_destroy(k);
    }
}

fn umain(args: &[&str]) {
    match args.get(1).copied() {
        Some("lostreply") => return lost_reply(),
        Some("rowrite") => return ro_write(),
        Some("cputs") => return cputs(),
        Some("upcall") => return upcall(),
        Some("sfork") => return sfork_case(),
        Some("waitread") => return wait_read(),
        _ => {}
    }
    if jos::ipc_find_env(ENV_TYPE_FS).is_none() {
        panic!("pagerreview needs the file server");
    }
    cycle();
    set_while_waiting();
    slots();
    kids();
    spawned("lostreply", "never got the server's reply");
    if spawned("rowrite", "a write to read-only text never ends") {
        cprintf!("pagerreview: rowrite: OK (killed)\n");
    }
    spawned("cputs", "sys_cputs of a page not yet present never ends");
    spawned("upcall", "never ended");
    spawned("sfork", "never ended");
    // Last: it changes the file system.
    removed();
    cprintf!("pagerreview: done\n");
}
