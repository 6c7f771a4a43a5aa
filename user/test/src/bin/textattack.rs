// make: FS=1
//! textattack: no env may change the code or read-only data of another
//! running program (issue 19, item 1).
//!
//! A spawned program's read-only pages are the file server's cached
//! blocks. This program copies its own file to `/tvN` and spawns the copy
//! as a *victim* (`textattack victim`), which touches a page of read-only
//! data (PROBE, a pattern) and a function (`probe_fn`, which returns
//! GOOD), tells us it is ready and waits. We then rewrite, in the file,
//! the first bytes of `probe_fn` (to `mov $BAD, %eax; ret`) and the
//! probe page (to 0xEE), one way per case:
//!
//! - `control`: a plain `write()`, no mapping;
//! - `write`: a `write()` while we map those pages MAP_SHARED read-only;
//! - `store`: stores through a MAP_SHARED|PROT_WRITE mapping;
//! - `mapfirst`: the pages mapped MAP_SHARED|PROT_WRITE (and touched)
//!   before the victim is spawned, then stores through the mapping.
//!
//! The victim then compares the probe page with the pattern and calls
//! `probe_fn` again, and sends us what it found: its bytes and its code
//! must be as they were. The new bytes must be in the file (read back) and
//! in our mapping (MAP_SHARED keeps `read`, `write` and the mapping one
//! copy). Lines: `textattack: <case>: the victim's code and read-only data
//! unchanged, the file changed OK`; the whole run is made twice, and the
//! pages no one maps are counted before and after the second:
//! `textattack: no page leaked OK`; then `textattack: OK`.
#![no_std]
#![no_main]

use abi::env::EnvId;
use abi::fsipc::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC};
use abi::mmu::PGSIZE;
use core::hint::black_box;
use core::ptr::{read_volatile, write_volatile};
use jos::alloc::vec::Vec;
use jos::cprintf;
use jos::fd::{close, read, seek, write};
use jos::file::{open, remove};
use jos::ipc::{ipc_recv, ipc_send};
use jos::vm::mmap::{MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap};

jos::main!(umain);

/// What `probe_fn` returns as built.
const GOOD: u32 = 0x600D_C0DE;
/// What it returns once rewritten.
const BAD: u32 = 0xBAD0_BAD0;
/// The bytes written over `probe_fn`: `mov $BAD, %eax; ret`.
const PATCH: [u8; 6] = [0xB8, 0xD0, 0xBA, 0xD0, 0xBA, 0xC3];
/// The byte written over the probe page.
const SMASH: u8 = 0xEE;
/// Bytes of the probe page overwritten.
const SMASH_LEN: usize = 256;

/// Byte `i` of PROBE.
const fn pattern_byte(i: usize) -> u8 {
    (i.wrapping_mul(31) + 7) as u8
}

const fn pattern<const N: usize>() -> [u8; N] {
    let mut a = [0; N];
    let mut i = 0;
    while i < N {
        a[i] = pattern_byte(i);
        i += 1;
    }
    a
}

/// Read-only data spanning at least one whole page (in .rodata).
static PROBE: [u8; 3 * PGSIZE] = pattern();

/// The whole page inside PROBE.
fn probe_page() -> usize {
    (PROBE.as_ptr() as usize).next_multiple_of(PGSIZE)
}

/// Returns GOOD (unless its code was rewritten).
#[inline(never)]
fn probe_fn() -> u32 {
    black_box(GOOD)
}

/// How many bytes of the probe page differ from the pattern.
fn probe_diffs() -> u32 {
    let base = PROBE.as_ptr() as usize;
    let page = probe_page();
    (0..PGSIZE)
        .filter(|&k| {
            // SAFETY: page..page+PGSIZE lies inside PROBE, mapped
            // read-only data of ours (paged in by this read).
            let b = unsafe { read_volatile((page + k) as *const u8) };
            b != pattern_byte(black_box(page + k - base))
        })
        .count() as u32
}

/// The victim: touches the probe page and `probe_fn`, says it is ready,
/// waits for the word, looks again, sends back the differing bytes of the
/// probe page plus 0x10000 if `probe_fn` no longer returns GOOD.
fn victim() {
    let parent = jos::env::thisenv_read().env_parent_id;
    let f: fn() -> u32 = black_box(probe_fn);
    let before = probe_diffs() + if f() == GOOD { 0 } else { 0x10000 };
    ipc_send(parent, before, None, abi::mmu::PteFlags::empty());
    let _ = ipc_recv(None);
    let after = probe_diffs() + if f() == GOOD { 0 } else { 0x10000 };
    ipc_send(parent, after, None, abi::mmu::PteFlags::empty());
}

/// Reads the little-endian u32 at `off` of `b`.
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// The file offset of our virtual address `va`, from the ELF program
/// headers in `head` (the file's first page).
fn file_offset(head: &[u8], va: usize) -> Option<usize> {
    let phoff = u32_at(head, 28) as usize;
    let phnum = u16::from_le_bytes([head[44], head[45]]) as usize;
    (0..phnum).find_map(|i| {
        let ph = phoff + i * 32;
        let (ty, off, vaddr, filesz) = (
            u32_at(head, ph),
            u32_at(head, ph + 4) as usize,
            u32_at(head, ph + 8) as usize,
            u32_at(head, ph + 16) as usize,
        );
        (ty == 1 && (vaddr..vaddr + filesz).contains(&va)).then(|| off + va - vaddr)
    })
}

/// Copies /textattack to `to`; returns the copy's first page (on the
/// heap: the stack is one page).
fn copy_self(to: &str) -> Result<Vec<u8>, &'static str> {
    let src = open("/textattack", O_RDONLY).map_err(|_| "open /textattack")?;
    let dst = open(to, O_RDWR | O_CREAT | O_TRUNC).map_err(|_| "create the copy")?;
    let mut head = jos::alloc::vec![0u8; PGSIZE];
    let mut buf = jos::alloc::vec![0u8; PGSIZE];
    let mut first = true;
    loop {
        let n = read(src, &mut buf).map_err(|_| "read /textattack")?;
        if n == 0 {
            break;
        }
        if first {
            head[..n].copy_from_slice(&buf[..n]);
            first = false;
        }
        let mut put = 0;
        while put < n {
            put += write(dst, &buf[put..n]).map_err(|_| "write the copy")?;
        }
    }
    let _ = close(src);
    let _ = close(dst);
    Ok(head)
}

/// The ways of rewriting the victim's file.
#[derive(Clone, Copy, PartialEq)]
enum Case {
    Control,
    Write,
    Store,
    MapFirst,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Control => "control (write, no mapping)",
            Case::Write => "write while mapped MAP_SHARED",
            Case::Store => "store through MAP_SHARED|PROT_WRITE",
            Case::MapFirst => "mapped before the spawn, then a store",
        }
    }
}

/// Writes `bytes` at `off` of open file `fd` with `write()`.
fn write_at(fd: usize, off: usize, bytes: &[u8]) -> Result<(), &'static str> {
    seek(fd, off as u32).map_err(|_| "seek")?;
    match write(fd, bytes) {
        Ok(n) if n == bytes.len() => Ok(()),
        _ => Err("write"),
    }
}

/// Whether the file `fd` holds `bytes` at `off` (read back).
fn file_holds(fd: usize, off: usize, bytes: &[u8]) -> bool {
    let mut buf = [0u8; SMASH_LEN];
    seek(fd, off as u32).is_ok()
        && read(fd, &mut buf[..bytes.len()]).is_ok_and(|n| n == bytes.len())
        && buf[..bytes.len()] == *bytes
}

/// Waits for a message from `victim`; returns its value.
fn from_victim(victim: EnvId) -> Result<u32, &'static str> {
    match ipc_recv(None) {
        Ok(m) if m.from == victim => Ok(m.value),
        Ok(_) => Err("a message from someone else"),
        Err(_) => Err("ipc_recv"),
    }
}

/// One case on file `path`: returns Err(what went wrong).
fn run_case(case: Case, path: &str) -> Result<(), &'static str> {
    let head = copy_self(path)?;
    let code_off = file_offset(&head, probe_fn as *const () as usize).ok_or("probe_fn's offset")?;
    let data_off = file_offset(&head, probe_page()).ok_or("the probe page's offset")?;
    let fd = open(path, O_RDWR).map_err(|_| "open the copy")?;
    let code_page = code_off - code_off % PGSIZE;
    // The two pages, mapped at once where the case wants it.
    let map = |prot| -> Result<(usize, usize), &'static str> {
        let c = mmap(PGSIZE, prot, MAP_SHARED, Some(fd), code_page).map_err(|_| "mmap")?;
        let d = mmap(PGSIZE, prot, MAP_SHARED, Some(fd), data_off).map_err(|_| "mmap")?;
        // SAFETY: both are our mappings of the file, a page each, inside
        // the file: touching them maps the server's pages.
        unsafe {
            read_volatile(c as *const u8);
            read_volatile(d as *const u8);
        }
        Ok((c + code_off % PGSIZE, d))
    };
    let mut mapped = None;
    if case == Case::MapFirst {
        mapped = Some(map(PROT_READ | PROT_WRITE)?);
    }
    let victim = jos::spawn::spawn(path, &[path, "victim"]).map_err(|_| "spawn the victim")?;
    let ready = from_victim(victim)?;
    if ready != 0 {
        return Err("the victim saw wrong bytes before any attack");
    }
    match case {
        Case::Control => {
            write_at(fd, code_off, &PATCH)?;
            write_at(fd, data_off, &[SMASH; SMASH_LEN])?;
        }
        Case::Write => {
            mapped = Some(map(PROT_READ)?);
            write_at(fd, code_off, &PATCH)?;
            write_at(fd, data_off, &[SMASH; SMASH_LEN])?;
        }
        Case::Store | Case::MapFirst => {
            if mapped.is_none() {
                mapped = Some(map(PROT_READ | PROT_WRITE)?);
            }
            let (c, d) = mapped.unwrap_or((0, 0));
            // SAFETY: c and d are inside our writable shared mappings.
            unsafe {
                for (k, &b) in PATCH.iter().enumerate() {
                    write_volatile((c + k) as *mut u8, b);
                }
                for k in 0..SMASH_LEN {
                    write_volatile((d + k) as *mut u8, SMASH);
                }
            }
        }
    }
    ipc_send(victim, 0, None, abi::mmu::PteFlags::empty());
    let seen = from_victim(victim)?;
    jos::env::wait(victim);
    // The attack itself reached the file, and our mapping sees it.
    let file_ok = file_holds(fd, code_off, &PATCH) && file_holds(fd, data_off, &[SMASH; SMASH_LEN]);
    let map_ok = mapped.is_none_or(|(c, d)| {
        // SAFETY: our mappings, still in place.
        unsafe {
            (0..PATCH.len()).all(|k| read_volatile((c + k) as *const u8) == PATCH[k])
                && (0..SMASH_LEN).all(|k| read_volatile((d + k) as *const u8) == SMASH)
        }
    });
    if let Some((c, d)) = mapped {
        let _ = munmap(c - c % PGSIZE, PGSIZE);
        let _ = munmap(d, PGSIZE);
    }
    let _ = close(fd);
    let _ = remove(path);
    if seen & 0x10000 != 0 {
        cprintf!(
            "textattack: {}: the victim's code was rewritten (probe_fn returned {:#x})\n",
            case.name(),
            BAD
        );
    }
    if seen & 0xffff != 0 {
        cprintf!(
            "textattack: {}: {} bytes of the victim's read-only data changed\n",
            case.name(),
            seen & 0xffff
        );
    }
    if seen != 0 {
        return Err("the running victim's pages changed under it");
    }
    if !file_ok {
        return Err("the file does not hold the new bytes");
    }
    if !map_ok {
        return Err("the shared mapping does not show the new bytes");
    }
    Ok(())
}

/// Every case once; returns how many failed.
fn run_all() -> u32 {
    let mut failures = 0;
    for (i, case) in [Case::Control, Case::Write, Case::Store, Case::MapFirst]
        .into_iter()
        .enumerate()
    {
        let path = ["/tv0", "/tv1", "/tv2", "/tv3"][i];
        match run_case(case, path) {
            Ok(()) => cprintf!(
                "textattack: {}: the victim's code and read-only data unchanged, the file changed OK\n",
                case.name()
            ),
            Err(e) => {
                cprintf!("textattack: {}: {} FAILED\n", case.name(), e);
                failures += 1;
            }
        }
    }
    failures
}

fn umain(args: &[&str]) {
    if args.get(1) == Some(&"victim") {
        return victim();
    }
    // SAFETY: PROBE is ours; a volatile read keeps it in the binary.
    let _ = unsafe { read_volatile(PROBE.as_ptr()) };
    let mut failures = run_all();
    let before = jos::uvpt::unreferenced_pages();
    failures += run_all();
    let after = jos::uvpt::unreferenced_pages();
    if before == after {
        cprintf!("textattack: no page leaked OK\n");
    } else {
        cprintf!(
            "textattack: {} pages free before the second run, {} after FAILED\n",
            before,
            after
        );
        failures += 1;
    }
    if failures == 0 {
        cprintf!("textattack: OK\n");
    }
}
