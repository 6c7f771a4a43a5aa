//! The boot order (JOS's kern/init.c).
use crate::{boot_info, console, monitor, pmap};

/// The boot CPU's first Rust code, called by `entry` with the loader's magic
/// number and the physical address of its information structure.
#[unsafe(no_mangle)]
pub extern "C" fn i386_init(magic: u32, info_pa: usize) -> ! {
    console::init();
    cprintf!("6828 decimal is %o octal!\n", 6828);

    let bi = boot_info::init(magic, info_pa);
    if bi.flag("panic") {
        panic!("panic requested on the command line");
    }
    pmap::mem_init();

    for (i, m) in bi.modules().iter().enumerate() {
        cprintf!("boot module %d: %s [%08x, %08x)\n", i, m.name(), m.start, m.end);
    }
    if let Some(prog) = bi.arg("run") {
        match bi.module(prog) {
            Some(_) => cprintf!("run %s: environments are not implemented yet\n", prog),
            None => cprintf!("run %s: no boot module named %s\n", prog, prog),
        }
    }

    loop {
        monitor::monitor(None);
    }
}
