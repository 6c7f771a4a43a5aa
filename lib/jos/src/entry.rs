//! Program start (JOS's lib/entry.S and lib/libmain.c).
//!
//! The kernel starts a program at `_start` with ESP at USTACKTOP (no
//! arguments: we push argc = 0, argv = NULL and cwd = NULL) or, when a
//! parent spawned it, with argc, argv and the parent's current directory
//! (a C string, see `cwd`) already on the stack, in that order from ESP up.
use crate::cell::EnvCell;
use crate::env;
use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.entry, "ax"
    .globl _start
_start:
    cmpl ${ustacktop}, %esp     /* started with arguments on the stack? */
    jne 1f
    pushl $0                    /* cwd */
    pushl $0                    /* argv */
    pushl $0                    /* argc */
1:  movl $0, %ebp               /* ends backtraces */
    call umain_entry
2:  jmp 2b                      /* umain_entry never returns */
"#,
    ustacktop = const abi::memlayout::USTACKTOP,
    options(att_syntax)
);

/// Set once by `libmain`: the program's name, for panic messages.
static BINARYNAME: EnvCell<&'static str> = EnvCell::new("<unknown>");

/// Returns the program's name (`<unknown>` before `libmain` set it).
pub fn binaryname() -> &'static str {
    BINARYNAME.get()
}

/// Changes the program's name that `panic!` messages show (JOS programs
/// assign `binaryname`). Cannot fail.
pub fn set_binaryname(name: &'static str) {
    BINARYNAME.set(name);
}

/// Records the program name and the current directory the parent passed
/// (none: `/`), calls `umain` with the arguments, then exits.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings that live
/// forever (what `_start` receives from the kernel or a parent), or `argc`
/// must be 0; `cwd` must be NULL or such a string.
pub unsafe fn libmain(
    name: &'static str,
    argc: i32,
    argv: *const *const u8,
    cwd: *const u8,
    umain: fn(&[&str]),
) -> ! {
    BINARYNAME.set(name);
    env::refresh_thisenv();
    if !cwd.is_null() {
        // SAFETY: the parent put a C string there (the caller's promise).
        crate::cwd::inherit(unsafe { cstr(cwd) });
    }
    // JOS's exit closes every file descriptor: the first thing it does.
    let _ = env::atexit(crate::fd::close_all);
    register_areas();
    const MAXARGS: usize = 16;
    let mut args = [""; MAXARGS];
    let n = (argc.max(0) as usize).min(MAXARGS);
    for (i, slot) in args.iter_mut().enumerate().take(n) {
        // SAFETY: whoever started us put argc valid C strings at argv.
        *slot = unsafe { cstr(*argv.add(i)) };
    }
    umain(&args[..n]);
    env::exit();
}

/// Borrows a NUL-terminated string.
///
/// # Safety
/// `p` must point to a NUL-terminated string that lives forever.
unsafe fn cstr(p: *const u8) -> &'static str {
    let mut n = 0;
    // SAFETY: the caller guarantees a terminator.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: [p, p + n) is the string's bytes.
    core::str::from_utf8(unsafe { core::slice::from_raw_parts(p, n) }).unwrap_or("?")
}

unsafe extern "C" {
    // Provided by user/user.ld; only their addresses are used.
    static etext: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __perenv_start: u8;
    static edata: u8;
    static __bss_start: u8;
    static end: u8;
}

/// Lists the program's own areas (text, rodata, data with .perenv, bss,
/// the first stack page) in `vm::areas`, with no handler: they
/// are in the map (`vm::maps`) but take no faults. Their pages need not be
/// present (a demand-paged program has its pager fill them). A table too
/// full to take one just leaves it out.
fn register_areas() {
    use crate::vm::areas::{Area, Kind, Prot, insert};
    use abi::memlayout::{USTACKTOP, UTEXT};
    use abi::mmu::PGSIZE;
    let page_up = |a: usize| a.next_multiple_of(PGSIZE);
    let parts = [
        (
            UTEXT,
            &raw const etext as usize,
            "text",
            Prot::RX,
            Kind::Text,
        ),
        (
            &raw const __rodata_start as usize,
            &raw const __rodata_end as usize,
            "rodata",
            Prot::R,
            Kind::Rodata,
        ),
        (
            &raw const __perenv_start as usize,
            &raw const edata as usize,
            "data",
            Prot::RW,
            Kind::Data,
        ),
        (
            &raw const __bss_start as usize,
            &raw const end as usize,
            "bss",
            Prot::RW,
            Kind::Bss,
        ),
        (
            USTACKTOP - PGSIZE,
            USTACKTOP,
            "stack",
            Prot::RW,
            Kind::Stack,
        ),
    ];
    for (start, stop, name, prot, kind) in parts {
        // An empty part (no bss) is Err(Inval): nothing to list.
        let _ = insert(Area::new(start, page_up(stop), name, prot, kind, None));
    }
}
