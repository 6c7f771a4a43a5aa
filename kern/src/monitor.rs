//! The kernel monitor: a command line for exploring the running kernel.
use crate::arch::x86;
use crate::kdebug;
use abi::trap::Trapframe;

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
    Command { name: "help", desc: "Display this list of commands", func: mon_help },
    Command { name: "kerninfo", desc: "Display information about the kernel", func: mon_kerninfo },
    Command { name: "backtrace", desc: "Display a backtrace of the stack", func: mon_backtrace },
    Command { name: "panic", desc: "Trigger a kernel panic (to test panic handling)", func: mon_panic },
];

fn mon_help(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
    for c in COMMANDS {
        cprintf!("%s - %s\n", c.name, c.desc);
    }
    true
}

unsafe extern "C" {
    static _start: u8;
    static etext: u8;
    static edata: u8;
    static end: u8;
}

fn mon_kerninfo(_args: &[&str], _tf: Option<&mut Trapframe>) -> bool {
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
        cprintf!("  %-6s %08x (virt)  %08x (phys)\n", name, va, va - kernbase);
    }
    let footprint = syms[4].1 - syms[1].1;
    cprintf!("Kernel executable memory footprint: %dKB\n", footprint.div_ceil(1024));
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
        if ebp < abi::memlayout::KERNBASE - abi::mmu::PTSIZE || ebp % 4 != 0 {
            cprintf!("  ebp %08x  (bad frame pointer)\n", ebp);
            break;
        }
        let frame = ebp as *const usize;
        // SAFETY: ebp is a kernel-stack frame pointer: the chain is built by
        // the compiler (frame pointers are forced on) and ends at the 0 that
        // entry pushes; the words above it are on the mapped stack.
        let (next, eip, args) = unsafe {
            (*frame, *frame.add(1), [*frame.add(2), *frame.add(3), *frame.add(4), *frame.add(5), *frame.add(6)])
        };
        cprintf!(
            "  ebp %08x  eip %08x  args %08x %08x %08x %08x %08x\n",
            ebp, eip, args[0], args[1], args[2], args[3], args[4]
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
            "         %s:%d: %s+0x%x\n",
            loc.file,
            loc.line,
            loc.function,
            eip - loc.function_addr as usize
        ),
        None => cprintf!("         <unknown>: %08x\n", eip),
    }
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
    cprintf!("%s", prompt);
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
            cprintf!("Too many arguments (max %d)\n", MAXARGS);
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
            cprintf!("Unknown command '%s'\n", argv[0]);
            true
        }
    }
}

/// Runs the monitor until a command leaves it (only possible with a trap
/// frame to return to).
pub fn monitor(mut tf: Option<&mut Trapframe>) {
    cprintf!("Welcome to the JOS kernel monitor!\n");
    cprintf!("Type 'help' for a list of commands.\n");
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
