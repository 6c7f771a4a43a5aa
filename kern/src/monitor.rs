//! The kernel monitor: a command line for exploring the running kernel.
use crate::arch::x86::{self, EFlags};
use crate::{kdebug, pmap};
use abi::memlayout::*;
use abi::mmu::{PGSIZE, PTSIZE, PteFlags, pdx, ptx};
use abi::trap::Trapframe;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Longest input line.
const BUFLEN: usize = 1024;
/// Most words in a command.
const MAXARGS: usize = 16;

/// A monitor command: returns false to leave the monitor.
type CommandFn = fn(args: &[&str], tf: Option<&mut Trapframe>) -> bool;

struct Command {
    name: &'static str,
    desc: &'static str,
    func: CommandFn,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        desc: "Display this list of commands",
        func: mon_help,
    },
    Command {
        name: "kerninfo",
        desc: "Display information about the kernel",
        func: mon_kerninfo,
    },
    Command {
        name: "backtrace",
        desc: "Display a backtrace of the stack",
        func: mon_backtrace,
    },
    Command {
        name: "panic",
        desc: "Trigger a kernel panic (to test panic handling)",
        func: mon_panic,
    },
    Command {
        name: "showmappings",
        desc: "Show page mappings in [lo, hi]: showmappings lo hi",
        func: mon_showmappings,
    },
    Command {
        name: "vmmap",
        desc: "Show the address space as named ranges with permissions",
        func: mon_vmmap,
    },
    Command {
        name: "dump",
        desc: "Dump memory: dump [-p] addr [len] (-p: physical address)",
        func: mon_dump,
    },
    Command {
        name: "meminfo",
        desc: "Show free and total physical pages",
        func: mon_meminfo,
    },
    Command {
        name: "netstat",
        desc: "Show the E1000's MAC address and frame counters",
        func: mon_netstat,
    },
    Command {
        name: "continue",
        desc: "Leave the monitor and resume the trapped environment",
        func: mon_continue,
    },
    Command {
        name: "stepi",
        desc: "Execute one instruction of the trapped environment",
        func: mon_stepi,
    },
    Command {
        name: "kstackoverflow",
        desc: "Recurse until the kernel stack overflows (tests double faults)",
        func: mon_kstackoverflow,
    },
];

fn mon_help(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    for c in COMMANDS {
        cprintf!("{} - {}\n", c.name, c.desc);
    }
    true
}

fn mon_kerninfo(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    unsafe extern "C" {
        static _start: u8;
        static etext: u8;
        static edata: u8;
        static end: u8;
    }
    let kernbase = abi::memlayout::KERNBASE;
    let syms: [(&str, usize); 5] = [
        ("_start", &raw const _start as usize),
        ("entry", &raw const _start as usize),
        ("etext", &raw const etext as usize),
        ("edata", &raw const edata as usize),
        ("end", &raw const end as usize),
    ];
    cprintf!("Special kernel symbols:\n");
    for (name, va) in syms {
        cprintf!(
            "  {:<6} {:08x} (virt)  {:08x} (phys)\n",
            name,
            va,
            va - kernbase
        );
    }
    let footprint = syms[4].1 - syms[1].1;
    cprintf!(
        "Kernel executable memory footprint: {}KB\n",
        footprint.div_ceil(1024)
    );
    true
}

/// Prints the call stack by following saved frame pointers: each frame
/// holds the caller's EBP at [ebp] and the return address at [ebp+4].
#[inline(never)]
pub fn mon_backtrace(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    cprintf!("Stack backtrace:\n");
    let mut ebp = x86::read_ebp();
    let mut depth = 0;
    while ebp != 0 && depth < 64 {
        // Stop at anything that is not a kernel stack address.
        if ebp < abi::memlayout::KERNBASE - abi::mmu::PTSIZE || !ebp.is_multiple_of(4) {
            cprintf!("  ebp {:08x}  (bad frame pointer)\n", ebp);
            break;
        }
        let frame = ebp as *const usize;
        // SAFETY: ebp is a kernel-stack frame pointer: the chain is built by
        // the compiler (frame pointers are forced on) and ends at the 0 that
        // entry pushes; the words above it are on the mapped stack.
        let (next, eip, args) = unsafe {
            (
                *frame,
                *frame.add(1),
                [
                    *frame.add(2),
                    *frame.add(3),
                    *frame.add(4),
                    *frame.add(5),
                    *frame.add(6),
                ],
            )
        };
        cprintf!(
            "  ebp {:08x}  eip {:08x}  args {:08x} {:08x} {:08x} {:08x} {:08x}\n",
            ebp,
            eip,
            args[0],
            args[1],
            args[2],
            args[3],
            args[4]
        );
        print_location(eip);
        ebp = next;
        depth += 1;
    }
    true
}

/// Prints `file:line: function+offset` for a return address.
pub fn print_location(eip: usize) {
    // A return address may be the first byte of the next line: look up the
    // call instruction instead.
    match kdebug::debuginfo_eip(eip.wrapping_sub(1)) {
        Some(loc) => cprintf!(
            "         {}:{}: {}+0x{:x}\n",
            loc.file,
            loc.line,
            loc.function,
            eip - loc.function_addr as usize
        ),
        None => cprintf!("         <unknown>: {:08x}\n", eip),
    }
}

/// Parses a number: hex with or without 0x (addresses are hex in JOS).
fn parse_num(s: &str) -> Option<usize> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    usize::from_str_radix(digits, 16).ok()
}

/// The page directory in use (the current environment's, or the kernel's),
/// to read.
fn current_pgdir() -> &'static pmap::PageTable {
    // SAFETY: CR3 holds a live page directory. The monitor runs with the
    // kernel lock held (or at boot, on one CPU), keeps it, and only reads.
    unsafe { &*(pmap::kaddr(x86::rcr3()) as *const pmap::PageTable) }
}

/// Writes the names of the set bits of `f`, with `-` for clear ones.
fn flag_string(f: PteFlags, buf: &mut [u8; 24]) -> &str {
    const NAMES: [(PteFlags, &str); 8] = [
        (PteFlags::P, "P"),
        (PteFlags::W, "W"),
        (PteFlags::U, "U"),
        (PteFlags::A, "A"),
        (PteFlags::D, "D"),
        (PteFlags::PS, "PS"),
        (PteFlags::COW, "COW"),
        (PteFlags::SHARE, "SHARE"),
    ];
    let mut n = 0;
    for (bit, name) in NAMES {
        for b in name.bytes() {
            buf[n] = if f.contains(bit) { b } else { b'-' };
            n += 1;
        }
        if n < buf.len() {
            buf[n] = b' ';
            n += 1;
        }
    }
    core::str::from_utf8(&buf[..n - 1]).unwrap_or("?")
}

/// The flags of the PTE (or 4 MiB PDE) mapping `va`, with the PDE's
/// restrictions folded in, and the physical address; None if unmapped.
fn mapping(pgdir: &pmap::PageTable, va: usize) -> Option<(usize, PteFlags)> {
    let (pa, perm) = pmap::va2pa(pgdir, va)?;
    let pde = pgdir.0[pdx(va)];
    let flags = if pde.flags().contains(PteFlags::PS) {
        pde.flags()
    } else {
        let table = pmap::kaddr(pde.addr()) as *const pmap::PageTable;
        // SAFETY: va2pa found a present PDE without PS: a page table.
        let raw = unsafe { (*table).0[ptx(va)] }.flags();
        (raw & !(PteFlags::W | PteFlags::U)) | (perm & (PteFlags::W | PteFlags::U))
    };
    Some((pa, flags))
}

/// Most lines `showmappings` prints.
const SHOW_LIMIT: usize = 4096;

fn mon_showmappings(args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    let (Some(lo), Some(hi)) = (
        args.get(1).and_then(|a| parse_num(a)),
        args.get(2).and_then(|a| parse_num(a)),
    ) else {
        cprintf!("usage: showmappings lo hi   (hex addresses, inclusive)\n");
        return true;
    };
    if lo > hi {
        cprintf!("showmappings: lo {:08x} is above hi {:08x}\n", lo, hi);
        return true;
    }
    let pgdir = current_pgdir();
    cprintf!("va range           pa        flags\n");
    let mut va = lo & !(PGSIZE - 1);
    let mut lines = 0;
    while va <= hi {
        if lines == SHOW_LIMIT {
            cprintf!("... (stopped after {} lines)\n", SHOW_LIMIT);
            break;
        }
        lines += 1;
        let mut buf = [0u8; 24];
        match mapping(pgdir, va) {
            Some((pa, flags)) if flags.contains(PteFlags::PS) => {
                let base = va & !(PTSIZE - 1);
                let end = base.wrapping_add(PTSIZE - 1);
                cprintf!(
                    "{:08x}-{:08x}  {:08x}  {}\n",
                    base,
                    end,
                    pa & !(PTSIZE - 1),
                    flag_string(flags, &mut buf)
                );
                match end.checked_add(1) {
                    Some(next) => va = next,
                    None => break,
                }
            }
            Some((pa, flags)) => {
                cprintf!(
                    "{:08x}-{:08x}  {:08x}  {}\n",
                    va,
                    va + PGSIZE - 1,
                    pa,
                    flag_string(flags, &mut buf)
                );
                match va.checked_add(PGSIZE) {
                    Some(next) => va = next,
                    None => break,
                }
            }
            None => {
                // One line for a run of unmapped pages.
                let start = va;
                let mut end = va;
                while end <= hi && mapping(pgdir, end).is_none() {
                    match end.checked_add(PGSIZE) {
                        Some(next) => end = next,
                        None => {
                            end = 0;
                            break;
                        }
                    }
                }
                cprintf!("{:08x}-{:08x}  unmapped\n", start, end.wrapping_sub(1));
                if end == 0 || end <= start {
                    break;
                }
                va = end;
            }
        }
    }
    true
}

/// The layout's name for the region containing `va`.
fn region_name(va: usize) -> &'static str {
    if va >= KERNBASE {
        return "kernel: all physical memory (KERNBASE)";
    }
    if (MMIOBASE..MMIOLIM).contains(&va) {
        return "kernel: memory-mapped I/O (MMIOBASE)";
    }
    if va >= MMIOLIM {
        return "kernel stacks (KSTACKTOP)";
    }
    if va >= UVPT {
        return "page tables (UVPT)";
    }
    if va >= UPAGES {
        return "page info array (UPAGES)";
    }
    if va >= UENVS {
        return "environments (UENVS)";
    }
    if va >= UXSTACKTOP - PGSIZE {
        return "user exception stack";
    }
    if va >= USTACKTOP - PTSIZE {
        return "user stack";
    }
    if va >= UTEXT {
        return "user program";
    }
    if va >= UTEMP {
        return "user scratch (UTEMP)";
    }
    "user"
}

fn mon_vmmap(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    let pgdir = current_pgdir();
    // A run: [start, va) mapped contiguously with the same flags and name.
    let mut run: Option<(usize, usize, PteFlags, &str)> = None; // start, next pa, flags, name
    let mut va: usize = 0;
    loop {
        let step = if pmap::uses_pse() && va >= KERNBASE || (UVPT..UVPT + PTSIZE).contains(&va) {
            PTSIZE
        } else {
            PGSIZE
        };
        let here = if va == UVPT {
            // The directory mapped as a page table: show the whole window.
            let pde = pgdir.0[pdx(UVPT)];
            pde.is_present().then(|| {
                (
                    pde.addr(),
                    pde.flags() & (PteFlags::W | PteFlags::U),
                    region_name(va),
                )
            })
        } else {
            mapping(pgdir, va).map(|(pa, f)| {
                (
                    pa,
                    f & (PteFlags::W | PteFlags::U | PteFlags::COW | PteFlags::SHARE),
                    region_name(va),
                )
            })
        };
        let continues = match (run, here) {
            (Some((_, next_pa, f, name)), Some((pa, g, n))) => pa == next_pa && f == g && name == n,
            _ => false,
        };
        if !continues {
            if let Some((start, _, f, name)) = run.take() {
                print_run(start, va, f, name);
            }
            if let Some((pa, f, name)) = here {
                run = Some((va, pa, f, name));
            }
        }
        if let Some(r) = run.as_mut() {
            r.1 = r.1.wrapping_add(step);
        }
        match va.checked_add(step) {
            Some(next) => va = next,
            None => break,
        }
    }
    if let Some((start, _, f, name)) = run {
        print_run(start, 0, f, name);
    }
    true
}

fn print_run(start: usize, end: usize, f: PteFlags, name: &str) {
    let w = if f.contains(PteFlags::W) { 'w' } else { '-' };
    let u = if f.contains(PteFlags::U) { 'u' } else { 'k' };
    let extra = if f.contains(PteFlags::COW) {
        " cow"
    } else if f.contains(PteFlags::SHARE) {
        " shared"
    } else {
        ""
    };
    cprintf!("{:08x}-{:08x} r{}{}{}  {}\n", start, end, w, u, extra, name);
}

fn mon_dump(args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    let physical = args.get(1) == Some(&"-p");
    let rest = &args[if physical { 2 } else { 1 }..];
    let Some(addr) = rest.first().and_then(|a| parse_num(a)) else {
        cprintf!("usage: dump [-p] addr [len]   (hex; -p: physical address)\n");
        return true;
    };
    let len = rest
        .get(1)
        .and_then(|a| parse_num(a))
        .unwrap_or(0x40)
        .min(0x1000);
    let pgdir = current_pgdir();
    for line in (0..len).step_by(16) {
        let a = addr.wrapping_add(line);
        cprintf!("{:08x}:", a);
        let mut ascii = [b' '; 16];
        for (i, shown) in ascii.iter_mut().enumerate().take(16.min(len - line)) {
            let at = a.wrapping_add(i);
            // Only read memory that is there: physical memory through
            // KERNBASE, virtual memory through the current page tables.
            let kva = if physical {
                (at < pmap::npages() * PGSIZE).then(|| pmap::kaddr(at))
            } else {
                pmap::va2pa(pgdir, at).map(|(pa, _)| pmap::kaddr(pa))
            };
            match kva {
                Some(kva) => {
                    // SAFETY: kva is in the KERNBASE mapping of existing RAM.
                    let b = unsafe { (kva as *const u8).read_volatile() };
                    cprintf!(" {:02x}", b);
                    *shown = if (0x20..0x7f).contains(&b) { b } else { b'.' };
                }
                None => cprintf!(" --"),
            }
        }
        cprintf!("  {}\n", core::str::from_utf8(&ascii).unwrap_or(""));
    }
    true
}

fn mon_meminfo(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    cprintf!("free pages: {} of {}\n", pmap::nfree(), pmap::npages());
    true
}

fn mon_netstat(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    match crate::e1000::e1000_stats() {
        None => cprintf!("netstat: no E1000\n"),
        Some((st, m)) => cprintf!(
            "e1000 {}: tx {} (ring full {} times), rx {}, rx dropped {} (bad), missed by the card {} (no descriptor), interrupts {}\n",
            abi::net::MacFmt(m),
            st.tx,
            st.tx_full,
            st.rx,
            st.rx_dropped,
            st.rx_missed,
            st.intr
        ),
    }
    true
}

fn mon_continue(_args: &[&str], tf: Option<&mut Trapframe>) -> bool {
    match tf {
        Some(tf) => {
            tf.tf_eflags &= !EFlags::FLAGS_TF.bits();
            false
        }
        None => {
            cprintf!("continue: no trapped environment to resume\n");
            true
        }
    }
}

/// Per CPU: the monitor asked for a single step, so the next debug trap
/// on this CPU is the monitor's, not the environment's.
static STEP_REQUESTED: [AtomicBool; NCPU] = [const { AtomicBool::new(false) }; NCPU];

/// Returns (and clears) whether the monitor asked for a step on this CPU.
pub fn take_step_request() -> bool {
    STEP_REQUESTED[crate::cpu::cpunum()].swap(false, Ordering::Relaxed)
}

fn mon_stepi(_args: &[&str], tf: Option<&mut Trapframe>) -> bool {
    match tf {
        // The trap flag makes the CPU raise a debug trap after one
        // instruction, which brings us back here.
        Some(tf) => {
            tf.tf_eflags |= EFlags::FLAGS_TF.bits();
            STEP_REQUESTED[crate::cpu::cpunum()].store(true, Ordering::Relaxed);
            false
        }
        None => {
            cprintf!("stepi: no trapped environment to step\n");
            true
        }
    }
}

/// Burns kernel stack until it runs into the unmapped guard below it.
#[inline(never)]
fn recurse(depth: u32) -> u32 {
    let frame = core::hint::black_box([depth; 64]);
    if depth == u32::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(core::hint::black_box(frame)[depth as usize % 64])
}

fn mon_kstackoverflow(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    cprintf!(
        "recursing on the kernel stack at esp {:08x}...\n",
        x86::read_ebp()
    );
    let r = recurse(0);
    cprintf!("recursion returned {}?\n", r);
    true
}

fn mon_panic(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    panic!("panic requested from the monitor");
}

/// Reads a line from the console with echo and backspace, after printing
/// `prompt`. Returns None if input ended. Unmangled: graders set a GDB
/// breakpoint on `readline` to know the kernel is waiting at the monitor.
#[unsafe(no_mangle)]
#[inline(never)]
pub fn readline<'a>(prompt: &str, buf: &'a mut [u8; BUFLEN]) -> Option<&'a str> {
    cprintf!("{}", prompt);
    let mut i = 0;
    loop {
        let c = crate::console::getchar();
        match c {
            0x08 | 0x7F => {
                if i > 0 {
                    cprintf!("\x08 \x08");
                    i -= 1;
                }
            }
            b'\n' | b'\r' => {
                cprintf!("\n");
                return core::str::from_utf8(&buf[..i]).ok();
            }
            0x20..=0x7E if i < BUFLEN - 1 => {
                crate::console::cputs(&[c]);
                buf[i] = c;
                i += 1;
            }
            _ => {}
        }
    }
}

/// Splits `line` into words and runs the command; returns false if the
/// command asked to leave the monitor.
fn runcmd(line: &str, tf: Option<&mut Trapframe>) -> bool {
    let mut argv = [""; MAXARGS];
    let mut argc = 0;
    for word in line.split_ascii_whitespace() {
        if argc == MAXARGS {
            cprintf!("Too many arguments (max {})\n", MAXARGS);
            return true;
        }
        argv[argc] = word;
        argc += 1;
    }
    if argc == 0 {
        return true;
    }
    match COMMANDS.iter().find(|c| c.name == argv[0]) {
        Some(c) => (c.func)(&argv[..argc], tf),
        None => {
            cprintf!("Unknown command '{}'\n", argv[0]);
            true
        }
    }
}

/// The CPU that runs the monitor for good (no environment left), or
/// u32::MAX: there is one such monitor, however many CPUs find nothing to
/// run.
static MONITOR_CPU: AtomicU32 = AtomicU32::new(u32::MAX);

/// Makes this CPU the one that runs the monitor for good. Returns false if
/// another CPU already is (this one should just halt).
pub fn claim() -> bool {
    let me = crate::cpu::cpunum() as u32;
    match MONITOR_CPU.compare_exchange(u32::MAX, me, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => true,
        Err(owner) => owner == me,
    }
}

/// Whether another CPU runs the monitor for good (see `claim`).
pub fn claimed_elsewhere() -> bool {
    let owner = MONITOR_CPU.load(Ordering::SeqCst);
    owner != u32::MAX && owner != crate::cpu::cpunum() as u32
}

/// Runs the monitor until a command leaves it (only possible with a trap
/// frame to return to).
pub fn monitor(mut tf: Option<&mut Trapframe>) {
    match tf.as_deref() {
        // Single-stepping: just say where we are.
        Some(t) if t.tf_trapno == abi::trap::T_DEBUG => {
            cprintf!("stepped: eip {:08x}\n", t.tf_eip);
        }
        Some(t) => {
            cprintf!("Welcome to the JOS kernel monitor!\n");
            cprintf!("Type 'help' for a list of commands.\n");
            crate::trap::frame::print_trapframe(t);
        }
        None => {
            cprintf!("Welcome to the JOS kernel monitor!\n");
            cprintf!("Type 'help' for a list of commands.\n");
        }
    }
    let mut buf = [0u8; BUFLEN];
    loop {
        if let Some(line) = readline("K> ", &mut buf)
            && !runcmd(line, tf.as_deref_mut())
            && tf.is_some()
        {
            return;
        }
    }
}
