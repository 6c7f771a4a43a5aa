//! User panics: `[envid] user panic in <prog> at <file>:<line>: <msg>`,
//! then the environment exits.
use crate::{entry, env, printf::Writer, syscall};
use core::fmt::Write;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    // Formatting into a fixed buffer cannot fail or allocate.
    let mut w = Writer::new();
    let _ = writeln!(
        w,
        "[{:08x}] user panic in {} at {}:{}: {}",
        syscall::sys_getenvid(),
        entry::binaryname(),
        file,
        line,
        info.message()
    );
    w.flush();
    env::exit();
}
