//! The boot order (JOS's kern/init.c).
use crate::arch::{entry::switch_stack, gdt, picirq};
use crate::smp::{lapic, mpconfig, mpentry};
use crate::{boot_info, console, cpu, env, hold, monitor, pmap, sched, trap};
use abi::env::{ENV_TYPE_FS, ENV_TYPE_NS, ENV_TYPE_USER};
use abi::memlayout::kstacktop;

/// The boot CPU's first Rust code, called by `entry` with the loader's magic
/// number and the physical address of its information structure.
#[unsafe(no_mangle)]
pub extern "C" fn i386_init(magic: u32, info_pa: usize) -> ! {
    console::init();
    cprintf!("6828 decimal is {:o} octal!\n", 6828);

    let bi = boot_info::init(magic, info_pa);
    if bi.flag("panic") {
        panic!("panic requested on the command line");
    }
    match bi.arg("envlog") {
        None | Some("1") => {}
        Some("0") => env::set_env_log(false),
        Some(v) => cprintf!("envlog={}: expected 0 or 1; env lines stay on\n", v),
    }

    pmap::mem_init();

    // Leave the boot stack for CPU 0's kernel stack, which has an unmapped
    // guard below it (the boot stack has none).
    // SAFETY: kstacktop(0) is mapped by mem_init; nothing on the boot stack
    // is needed after the switch.
    unsafe { switch_stack(kstacktop(0), i386_init_stage2) }
}

/// The rest of the boot, on CPU 0's kernel stack.
extern "C" fn i386_init_stage2() -> ! {
    env::env_init();
    gdt::gdt_init_percpu();
    trap::trap_init_percpu();
    mpconfig::mp_init();
    cpu::set_cpus(mpconfig::apic_ids());
    lapic::lapic_init();
    picirq::pic_init();
    crate::fpu::fpu_init_percpu();
    // Let the keyboard interrupt in, after draining the controller so that
    // it raises new interrupts.
    console::intr();
    picirq::irq_enable(abi::trap::IRQ_KBD);
    // Lab 6's hardware: the PCI bus (the timer is the LAPIC's, above).
    crate::pci::pci_init();

    // The boot CPU takes the kernel lock before waking the others.
    let mut k = crate::klock::lock_kernel();
    // SAFETY: cpu_status is atomic.
    unsafe {
        (*cpu::thiscpu())
            .cpu_status
            .store(cpu::CPU_STARTED, core::sync::atomic::Ordering::SeqCst)
    };
    mpentry::boot_aps();

    let bi = boot_info::get();
    for (i, m) in bi.modules().iter().enumerate() {
        cprintf!(
            "boot module {}: {} [{:08x}, {:08x})\n",
            i,
            m.name(),
            m.start,
            m.end
        );
    }
    // The file-system server first (`fs=<module>`), so it is env 00001000
    // as in JOS's lab 5; then the network server (`ns=<module>`, 00001001
    // as in JOS's lab 6); then the program (`run=<module>`), which runs
    // once the servers serve (hold.rs).
    for (arg, env_type) in [("fs", ENV_TYPE_FS), ("ns", ENV_TYPE_NS)] {
        if let Some(name) = bi.arg(arg)
            && let Some(e) = create_from_module(&mut k, name, env_type)
        {
            hold::server_created(&mut k, e);
        }
    }
    if let Some(prog) = bi.arg("run")
        && let Some(e) = create_from_module(&mut k, prog, ENV_TYPE_USER)
    {
        hold::program_created(&mut k, e);
        crate::done::program_started();
    }
    // Every env the modules make exists: their memory is free now.
    pmap::free_boot_modules();
    if bi.arg("run").is_none() {
        // The other CPUs find nothing to run and halt: one monitor.
        monitor::claim();
        k.unlock_then(|| {
            loop {
                monitor::monitor(None);
            }
        });
    }
    sched::sched_yield(&mut k);
}

/// Creates an env of type `env_type` from the boot module named `name`;
/// returns it, or says why on the console and returns None.
fn create_from_module(
    k: &mut crate::klock::Kernel,
    name: &str,
    env_type: u32,
) -> Option<crate::klock::EnvRef> {
    let Some(m) = boot_info::get().module(name) else {
        cprintf!("run {}: no boot module named {}\n", name, name);
        return None;
    };
    // SAFETY: the module lies in physical memory below MAX_PHYS, reserved
    // from the allocator, and is only read.
    let image =
        unsafe { core::slice::from_raw_parts(pmap::kaddr(m.start) as *const u8, m.end - m.start) };
    env::env_create(k, image, env_type)
        .map_err(|e| cprintf!("run {}: {}\n", name, e))
        .ok()
}
