//! Program start (JOS's lib/entry.S and lib/libmain.c).
//!
//! The kernel starts a program at `_start` with ESP at USTACKTOP (no
//! arguments: we push argc = 0 and argv = NULL) or, when a parent passed
//! arguments, with argc and argv already on the stack.
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

/// Records the program name, calls `umain` with the arguments, then exits.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings that live
/// forever (what `_start` receives from the kernel or a parent), or `argc`
/// must be 0.
pub unsafe fn libmain(
    name: &'static str,
    argc: i32,
    argv: *const *const u8,
    umain: fn(&[&str]),
) -> ! {
    BINARYNAME.set(name);
    env::refresh_thisenv();
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
