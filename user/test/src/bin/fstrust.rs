// make: FS=1
//! fstrust: attacks on the trust between the file server and its clients
//! (issue 19), each case a subcommand (`fstrust forge`, ...; none: all):
//!
//! - `forge`: an unrelated sibling watches UENVS for the victim waiting
//!   for the server's reply and sends it forged FSREQ_OPEN replies carrying
//!   its own file's descriptor page. The victim's writes must land in its
//!   own file and its `spawn("/hello")` run hello: a reply is taken only
//!   from the env that was asked (`ipc_call`).
//! - `starve`: four clients send requests and never take a reply. An
//!   honest client's reads must cost about what they cost beside four
//!   plain spinners: the server never waits for a client.
//! - `dead`: a server that dies before it answers ends its caller's wait
//!   with E_BAD_ENV, instead of for ever; a third env cannot answer in its
//!   place; a caller stopped while it waits still gets its answer.
//! - `foreign`: another env's file id, presented with any descriptor of
//!   ours, gets E_INVAL for every request; a descriptor shared by fork
//!   works for the child, and no longer for the parent once it closed it.
//!
//! Each case prints `fstrust: CASE: OK (...)` or a line with FAILED.
#![no_std]
#![no_main]

use abi::env::{ENV_FREE, ENV_NOT_RUNNABLE, ENV_RUNNABLE, EnvId, envx};
use abi::error::Error;
use abi::fsipc::*;
use abi::mmu::{PGSIZE, PTE_RW, PteFlags};
use jos::cprintf;
use jos::env::{env_read, thisenv_id, wait};
use jos::fd::{close, read, readn, seek, write};
use jos::file::{fsipc, fsipcbuf_as, open};
use jos::ipc::{ipc_call, ipc_recv, ipc_recv_from, ipc_send};
use jos::syscall::{sys_env_destroy, sys_env_set_status, sys_ipc_try_send, sys_yield};
use user::child::fork_child;
use user::spin::rdtsc;

jos::main!(umain);

/// Whether env `id` still exists.
fn alive(id: EnvId) -> bool {
    let e = env_read(envx(id));
    e.env_id == id && e.env_status != ENV_FREE
}

/// The whole content of file `path` (at most `buf`'s size), or the error.
fn slurp<'a>(path: &str, buf: &'a mut [u8]) -> Result<&'a [u8], Error> {
    let fd = open(path, O_RDONLY)?;
    let n = readn(fd, buf);
    let _ = close(fd);
    Ok(&buf[..n?])
}

/// Makes `path` an empty file.
fn make_empty(path: &str) {
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC).expect("create");
    close(fd).expect("close");
}

// ---------------------------------------------------------------------
// forge

const VICTIM_FILE: &str = "/fstrust-v";
const ATTACKER_FILE: &str = "/fstrust-a";
const LINE: &[u8] = b"the victim's line\n";
const VICTIM_WRITES: usize = 16;

/// The victim: on the go, writes its file one line per request, then
/// spawns /hello three times and reads its own file back.
fn victim(parent: EnvId) {
    // (A closed receive: the attacker's messages are not our go.)
    let _ = ipc_recv_from(parent, None);
    let fd = open(VICTIM_FILE, O_RDWR | O_TRUNC).expect("victim: open");
    for _ in 0..VICTIM_WRITES {
        if write(fd, LINE) != Ok(LINE.len()) {
            cprintf!("fstrust: forge: victim: a write FAILED\n");
        }
    }
    close(fd).expect("victim: close");
    for _ in 0..3 {
        match jos::spawnl!("/hello", "hello") {
            Ok(h) => wait(h),
            Err(e) => cprintf!("fstrust: forge: victim: spawn /hello: {} FAILED\n", e),
        }
    }
}

/// The attacker: while the victim lives, every time UENVS shows it
/// receiving, sends it a forged open reply with our own file's Fd page
/// (what the server's reply to an FSREQ_OPEN is). Reports to the parent
/// how often it saw the victim receiving and how many forgeries were taken.
fn attacker(victim: EnvId, parent: EnvId) {
    let fd = open(ATTACKER_FILE, O_RDWR).expect("attacker: open");
    let page = jos::fd::index2fd(fd);
    let (mut windows, mut taken) = (0u32, 0u32);
    while alive(victim) {
        if env_read(envx(victim)).env_ipc_recving != 0 {
            windows += 1;
            if sys_ipc_try_send(victim, 0, page, PTE_RW | PteFlags::SHARE).is_ok() {
                taken += 1;
            }
        }
        // Our CPU's turn to others now and then (1 CPU).
        if windows.is_multiple_of(64) {
            sys_yield();
        }
    }
    ipc_send(parent, windows, None, PteFlags::empty());
    ipc_send(parent, taken, None, PteFlags::empty());
}

fn forge() {
    make_empty(VICTIM_FILE);
    make_empty(ATTACKER_FILE);
    let me = thisenv_id();
    let v = fork_child(|| victim(me));
    let a = fork_child(|| attacker(v, me));
    ipc_send(v, 0, None, PteFlags::empty());
    wait(v);
    let windows = ipc_recv_from(a, None).expect("recv").value;
    let taken = ipc_recv_from(a, None).expect("recv").value;
    wait(a);
    let mut buf = [0u8; 2 * PGSIZE];
    let own = slurp(VICTIM_FILE, &mut buf).map(|b| b.len());
    let mut other = [0u8; PGSIZE];
    let theirs = slurp(ATTACKER_FILE, &mut other).map(|b| b.len());
    let want = VICTIM_WRITES * LINE.len();
    if taken != 0 || own != Ok(want) || theirs != Ok(0) {
        cprintf!(
            "fstrust: forge: {} forgeries taken, victim's file {:?} bytes (want {}), \
             attacker's {:?} FAILED\n",
            taken,
            own,
            want,
            theirs
        );
    } else {
        cprintf!(
            "fstrust: forge: OK (victim seen waiting {} times, 0 forgeries taken, \
             {} bytes in its own file)\n",
            windows,
            want
        );
    }
}

// ---------------------------------------------------------------------
// starve

/// Honest reads timed per case.
const READS: u32 = 40;

/// A starver: sends a request (a read with a bad file id, refused at
/// once) with a plain send, never receives, and does it again a moment
/// later, for ever.
fn starver(fs: EnvId) -> ! {
    loop {
        // SAFETY: the request page is ours.
        unsafe { fsipcbuf_as::<FsreqRead>() }.req_fileid = -1;
        let _ = jos::syscall::sys_ipc_send(fs, FSREQ_READ, jos::file::fsipcbuf(), PTE_RW);
        let t = rdtsc();
        while rdtsc() - t < 2_000_000 {
            core::hint::spin_loop();
        }
    }
}

/// Cycles per honest read of /newmotd from its start, median of READS.
fn honest_reads() -> u64 {
    let fd = open("/newmotd", O_RDONLY).expect("open /newmotd");
    let mut times = [0u64; READS as usize];
    let mut buf = [0u8; 64];
    for t in times.iter_mut() {
        seek(fd, 0).expect("seek");
        let t0 = rdtsc();
        let n = read(fd, &mut buf).expect("read");
        *t = rdtsc() - t0;
        if n == 0 {
            cprintf!("fstrust: starve: an honest read got nothing FAILED\n");
        }
    }
    close(fd).expect("close");
    times.sort_unstable();
    times[times.len() / 2]
}

/// Cycles per honest read beside four children running `f`.
fn beside(f: fn(EnvId) -> !) -> u64 {
    let fs = jos::file::fsenv().expect("fsenv");
    let kids: [EnvId; 4] = core::array::from_fn(|_| fork_child(|| f(fs)));
    // Let them all get going (and the starvers send).
    for _ in 0..20 {
        sys_yield();
    }
    let t = honest_reads();
    for k in kids {
        let _ = sys_env_destroy(k);
    }
    t
}

fn spinner(_fs: EnvId) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

fn starve() {
    let spinners = beside(spinner);
    let starvers = beside(starver);
    let tenths = starvers * 10 / spinners.max(1);
    // A generous bound: the reads beside starvers may queue behind their
    // requests (each answered at once), never behind a wait for them.
    if tenths > 40 {
        cprintf!(
            "fstrust: starve: an honest read takes {} cycles beside starvers, {} beside \
             spinners ({}.{}x) FAILED\n",
            starvers,
            spinners,
            tenths / 10,
            tenths % 10
        );
    } else {
        cprintf!(
            "fstrust: starve: OK (an honest read: {} cycles beside 4 starvers, {} beside 4 \
             spinners, {}.{}x)\n",
            starvers,
            spinners,
            tenths / 10,
            tenths % 10
        );
    }
}

// ---------------------------------------------------------------------
// dead

/// A "server" that takes one request, then, if `answer_after` names an
/// env, waits for its go and answers; then exits.
fn one_shot(answer_after: Option<EnvId>) {
    let m = ipc_recv(None).expect("server: recv");
    if let Some(go) = answer_after {
        let _ = ipc_recv_from(go, None);
        let _ = sys_ipc_try_send(m.from, m.value + 1, abi::memlayout::UTOP, PteFlags::empty());
    }
}

fn dead() {
    let mut bad = 0;
    // A server that dies without answering: the call ends with E_BAD_ENV.
    let s = fork_child(|| one_shot(None));
    let r = ipc_call(s, 7, None, PteFlags::empty(), None).map(|m| m.value);
    if r != Err(Error::BadEnv) {
        cprintf!(
            "fstrust: dead: a call to a server that died: {:?} FAILED\n",
            r
        );
        bad += 1;
    }
    // Calling one that is gone fails at once; so does a closed receive.
    let r = ipc_call(s, 7, None, PteFlags::empty(), None).map(|m| m.value);
    let r2 = ipc_recv_from(s, None).map(|m| m.value);
    if r != Err(Error::BadEnv) || r2 != Err(Error::BadEnv) {
        cprintf!(
            "fstrust: dead: a call to no env: {:?}, {:?} FAILED\n",
            r,
            r2
        );
        bad += 1;
    }
    // A closed receive from a child that exits without sending.
    let s = fork_child(|| {});
    let r = ipc_recv_from(s, None).map(|m| m.value);
    if r != Err(Error::BadEnv) {
        cprintf!(
            "fstrust: dead: a closed receive from an env that exits: {:?} FAILED\n",
            r
        );
        bad += 1;
    }
    // A caller stopped by its parent while it waits, the answer sent
    // meanwhile, then let go: it has the answer. A third env's message
    // to it is refused all along.
    let me = thisenv_id();
    let s = fork_child(move || one_shot(Some(me)));
    let c = fork_child(move || {
        let r = ipc_call(s, 41, None, PteFlags::empty(), None).map(|m| (m.value, m.from));
        ipc_send(me, (r == Ok((42, s))) as u32, None, PteFlags::empty());
    });
    // Wait until c waits for its answer, then stop it.
    while env_read(envx(c)).env_ipc_recving == 0 || env_read(envx(c)).env_ipc_recv_from != s {
        sys_yield();
    }
    sys_env_set_status(c, ENV_NOT_RUNNABLE).expect("stop");
    let forged = sys_ipc_try_send(c, 42, abi::memlayout::UTOP, PteFlags::empty());
    ipc_send(s, 0, None, PteFlags::empty());
    wait(s);
    // Answered while stopped: it has the answer and stays stopped.
    let e = env_read(envx(c));
    let held = e.env_status == ENV_NOT_RUNNABLE && e.env_ipc_recving == 0;
    sys_env_set_status(c, ENV_RUNNABLE).expect("go");
    let ok = ipc_recv_from(c, None).map(|m| m.value);
    wait(c);
    if forged != Err(Error::IpcNotRecv) || !held || ok != Ok(1) {
        cprintf!(
            "fstrust: dead: third env's answer {:?}, stayed stopped {}, got its answer {:?} \
             FAILED\n",
            forged,
            held,
            ok
        );
        bad += 1;
    }
    if bad == 0 {
        cprintf!(
            "fstrust: dead: OK (a dead server's callers get E_BAD_ENV; a stopped caller keeps \
             its answer)\n"
        );
    }
}

// ---------------------------------------------------------------------
// foreign

const CHILD_FILE: &str = "/fstrust-f";
const SECRET: &[u8] = b"the child's own data\n";
/// Where FSREQ_MAP replies go.
const MAPPED: usize = 0x0b00_0000;

/// Every request that takes a file id, with `id` and our descriptor
/// `fdnum` named as the one holding it. Returns how many succeeded.
fn try_all(id: i32, fdnum: usize) -> u32 {
    let mut ok = 0;
    for req in [
        FSREQ_READ,
        FSREQ_WRITE,
        FSREQ_SET_SIZE,
        FSREQ_STAT,
        FSREQ_FLUSH,
        FSREQ_MAP,
    ] {
        // SAFETY: the request page is ours until the reply.
        let page = unsafe { fsipcbuf_as::<[u8; PGSIZE]>() };
        page.fill(0);
        page[..4].copy_from_slice(&id.to_le_bytes());
        match req {
            // FsreqRead's count; FsreqWrite's count and bytes.
            FSREQ_READ | FSREQ_WRITE => page[4..8].copy_from_slice(&4u32.to_le_bytes()),
            // FsreqSetSize: 3 bytes.
            FSREQ_SET_SIZE => page[4..8].copy_from_slice(&3u32.to_le_bytes()),
            // FsreqMap: offset 0, MAP_SHARED writable.
            FSREQ_MAP => page[8..12].copy_from_slice(&(FSMAP_SHARED | FSMAP_WRITE).to_le_bytes()),
            _ => {}
        }
        if req == FSREQ_WRITE {
            page[8..12].copy_from_slice(b"EVIL");
        }
        if fsipc(fsreq_fd(req, FDTABLE + fdnum * PGSIZE), Some(MAPPED)).is_ok() {
            cprintf!(
                "fstrust: foreign: request {} on file id {:x} through fd {} succeeded\n",
                req,
                id,
                fdnum
            );
            ok += 1;
        }
        let _ = jos::syscall::sys_page_unmap(0, MAPPED);
    }
    ok
}

fn fileid(fd: usize) -> i32 {
    jos::fd::fd_lookup(fd).expect("fd").fd_file_id
}

fn foreign() {
    let me = thisenv_id();
    // A child's file: its id reaches us (as an attacker could guess it).
    let c = fork_child(move || {
        let fd = open(CHILD_FILE, O_RDWR | O_CREAT | O_TRUNC).expect("child: open");
        write(fd, SECRET).expect("child: write");
        seek(fd, 0).expect("child: seek");
        ipc_send(me, fileid(fd) as u32, None, PteFlags::empty());
        let _ = ipc_recv_from(me, None);
        // Our file, size and offset are as we left them.
        let mut buf = [0u8; 64];
        let n = read(fd, &mut buf).unwrap_or(0);
        ipc_send(me, (&buf[..n] == SECRET) as u32, None, PteFlags::empty());
    });
    let id = ipc_recv_from(c, None).expect("recv").value as i32;
    // Our own descriptors, each holding some Fd page.
    let mine = open("/newmotd", O_RDONLY).expect("open /newmotd");
    let other = open(CHILD_FILE, O_RDONLY).expect("open child's file");
    let mut taken = 0;
    for fdnum in 0..MAXFD {
        taken += try_all(id, fdnum);
    }
    // SAFETY: the request page is ours until the reply.
    unsafe { fsipcbuf_as::<FsreqFileid>() }.req_fileid = id;
    if fsipc(FSREQ_STAT, None) != Err(Error::Inval) {
        taken += 1;
    }
    ipc_send(c, 0, None, PteFlags::empty());
    let intact = ipc_recv_from(c, None).expect("recv").value == 1;
    wait(c);
    let _ = close(other);
    let _ = close(mine);

    // Shared by fork: the child may use it; once we closed ours, we may
    // not, through any descriptor.
    let fd = open(CHILD_FILE, O_RDONLY).expect("open");
    let shared = fileid(fd);
    let d = fork_child(move || {
        let _ = ipc_recv_from(me, None);
        let mut buf = [0u8; 64];
        seek(fd, 0).expect("seek");
        let n = read(fd, &mut buf).unwrap_or(0);
        ipc_send(me, (&buf[..n] == SECRET) as u32, None, PteFlags::empty());
    });
    close(fd).expect("close");
    let again = open("/newmotd", O_RDONLY).expect("open");
    let after_close = (0..MAXFD).map(|n| try_all(shared, n)).sum::<u32>();
    ipc_send(d, 0, None, PteFlags::empty());
    let child_reads = ipc_recv_from(d, None).expect("recv").value == 1;
    wait(d);
    let _ = close(again);
    if taken == 0 && intact && after_close == 0 && child_reads {
        cprintf!(
            "fstrust: foreign: OK (another env's file id refused through all {} descriptors; \
             a forked child reads the shared one, the closer no longer)\n",
            MAXFD
        );
    } else {
        cprintf!(
            "fstrust: foreign: {} foreign requests taken, child's file intact {}, {} after \
             close, child reads {} FAILED\n",
            taken,
            intact,
            after_close,
            child_reads
        );
    }
}

fn umain(args: &[&str]) {
    // Buffers of a page or two on the stack.
    jos::vm::enable_default_guards().expect("guards");
    match args.get(1).copied() {
        Some("forge") => forge(),
        Some("starve") => starve(),
        Some("dead") => dead(),
        Some("foreign") => foreign(),
        _ => {
            forge();
            dead();
            foreign();
            starve();
        }
    }
    cprintf!("fstrust: done\n");
}
