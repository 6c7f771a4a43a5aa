//! The GDT and the task state segments (JOS's gdt in env.c and trap_init_percpu).
//!
//! ```text
//!  selector  descriptor
//!  0x00      null
//!  0x08      kernel code  (GD_KT)   base 0, limit 4 GiB, DPL 0
//!  0x10      kernel data  (GD_KD)
//!  0x18      user code    (GD_UT)   DPL 3
//!  0x20      user data    (GD_UD)   DPL 3
//!  0x28+8i   TSS of CPU i (GD_TSS0 + 8i): ring-0 stack for traps from user mode
//!  0x68+8i   double-fault TSS of CPU i: a task with its own stack
//! ```
//! Segmentation is flat; only the privilege levels and the TSSs matter.
use abi::memlayout::NCPU;
use abi::trap::{GD_KD, GD_KT, GD_TSS0, GD_UD, GD_UT};
use core::arch::asm;

/// Number of GDT entries.
pub const NGDT: usize = 5 + 2 * NCPU;

/// Selector of CPU `cpu`'s double-fault TSS.
pub const fn gd_dftss(cpu: usize) -> u16 {
    GD_TSS0 + 8 * (NCPU + cpu) as u16
}

/// Selector of CPU `cpu`'s TSS.
pub const fn gd_tss(cpu: usize) -> u16 {
    GD_TSS0 + 8 * cpu as u16
}

/// The i386 task state segment (JOS's struct Taskstate).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Taskstate {
    pub ts_link: u32,
    pub ts_esp0: u32,
    pub ts_ss0: u16,
    pub ts_padding1: u16,
    pub ts_esp1: u32,
    pub ts_ss1: u16,
    pub ts_padding2: u16,
    pub ts_esp2: u32,
    pub ts_ss2: u16,
    pub ts_padding3: u16,
    pub ts_cr3: u32,
    pub ts_eip: u32,
    pub ts_eflags: u32,
    pub ts_eax: u32,
    pub ts_ecx: u32,
    pub ts_edx: u32,
    pub ts_ebx: u32,
    pub ts_esp: u32,
    pub ts_ebp: u32,
    pub ts_esi: u32,
    pub ts_edi: u32,
    pub ts_es: u16,
    pub ts_padding4: u16,
    pub ts_cs: u16,
    pub ts_padding5: u16,
    pub ts_ss: u16,
    pub ts_padding6: u16,
    pub ts_ds: u16,
    pub ts_padding7: u16,
    pub ts_fs: u16,
    pub ts_padding8: u16,
    pub ts_gs: u16,
    pub ts_padding9: u16,
    pub ts_ldt: u16,
    pub ts_padding10: u16,
    pub ts_t: u16,
    pub ts_iomb: u16,
}

const _: () = assert!(size_of::<Taskstate>() == 104);

impl Taskstate {
    /// An all-zero TSS.
    pub const fn zeroed() -> Taskstate {
        // SAFETY: every field is an integer; all-zero is a valid value.
        unsafe { core::mem::zeroed() }
    }
}

/// Segment descriptor types.
const STA_X: u8 = 0x8; // executable
const STA_W: u8 = 0x2; // writable (data)
const STA_R: u8 = 0x2; // readable (code)
const STS_T32A: u8 = 0x9; // available 32-bit TSS

/// A code or data descriptor: 4 GiB flat, 4 KiB granularity.
const fn seg(typ: u8, dpl: u8) -> u64 {
    let limit: u64 = 0xFFFFF; // in 4 KiB units
    (limit & 0xFFFF)
        | ((typ as u64 | 0x10 | (dpl as u64) << 5 | 0x80) << 40) // type, S, DPL, P
        | ((limit >> 16) & 0xF) << 48
        | 0xC << 52 // G (4 KiB units), D (32-bit)
}

/// A system descriptor (TSS) with byte granularity.
fn sys_seg(typ: u8, base: u32, limit: u32, dpl: u8) -> u64 {
    (limit as u64 & 0xFFFF)
        | (base as u64 & 0xFF_FFFF) << 16
        | ((typ as u64 | (dpl as u64) << 5 | 0x80) << 40)
        | ((limit as u64 >> 16) & 0xF) << 48
        | ((base as u64 >> 24) & 0xFF) << 56
}

#[repr(C, align(8))]
struct Gdt([u64; NGDT]);

/// The GDT, shared by all CPUs; each CPU fills in its own TSS slots.
static mut GDT: Gdt = {
    let mut g = [0u64; NGDT];
    g[(GD_KT >> 3) as usize] = seg(STA_X | STA_R, 0);
    g[(GD_KD >> 3) as usize] = seg(STA_W, 0);
    g[(GD_UT >> 3) as usize] = seg(STA_X | STA_R, 3);
    g[(GD_UD >> 3) as usize] = seg(STA_W, 3);
    Gdt(g)
};

#[repr(C, packed)]
struct Pseudodesc {
    limit: u16,
    base: u32,
}

/// Loads the GDT and reloads every segment register (JOS's env_init_percpu).
pub fn gdt_init_percpu() {
    let pd = Pseudodesc {
        limit: (size_of::<Gdt>() - 1) as u16,
        base: (&raw const GDT) as u32,
    };
    // SAFETY: the GDT's code and data descriptors are flat, so reloading the
    // segment registers does not move anything; the far jump reloads CS.
    unsafe {
        asm!(
            "lgdt ({pd})",
            "movw ${ud}, %ax", "movw %ax, %gs", "movw %ax, %fs",
            "movw ${kd}, %ax", "movw %ax, %es", "movw %ax, %ds", "movw %ax, %ss",
            "ljmp ${kt}, $2f",
            "2:",
            "xorl %eax, %eax",
            "lldt %ax",
            pd = in(reg) &pd,
            ud = const GD_UD | 3,
            kd = const GD_KD,
            kt = const GD_KT,
            out("eax") _,
            options(att_syntax),
        );
    }
}

/// Installs `ts` as CPU `cpu`'s TSS (at selector `sel`) in the GDT.
///
/// # Safety
/// `ts` must stay valid as long as the CPU can use it (forever), and the
/// slot must belong to the calling CPU.
pub unsafe fn set_tss(sel: u16, ts: *const Taskstate) {
    let d = sys_seg(STS_T32A, ts as u32, (size_of::<Taskstate>() - 1) as u32, 0);
    // SAFETY: each CPU only writes its own slots, once, at start-up.
    unsafe { GDT.0[(sel >> 3) as usize] = d };
}

/// Loads the task register with `sel`.
///
/// # Safety
/// `sel` must name an available TSS descriptor.
pub unsafe fn ltr(sel: u16) {
    // SAFETY: the caller guarantees the descriptor.
    unsafe { asm!("ltr {0:x}", in(reg) sel, options(att_syntax, nostack)) };
}
