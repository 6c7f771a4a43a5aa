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
use x86::Ring;
use x86::dtables::{self, DescriptorTablePointer};
use x86::segmentation::{
    self, BuildDescriptor, CodeSegmentType, DataSegmentType, Descriptor, DescriptorBuilder,
    GateDescriptorBuilder, SegmentDescriptorBuilder, SegmentSelector,
};

/// The i386 task state segment (JOS's struct Taskstate), from the `x86`
/// crate: all 104 bytes, with the cr3/eip/esp/segment fields the
/// double-fault task needs, and `new()` sets the I/O map base past the end
/// (no I/O bitmap). The struct is packed, so read its fields by value.
pub use x86::bits32::task::TaskStateSegment as Taskstate;

const _: () = assert!(size_of::<Taskstate>() == 104);

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

/// A code or data descriptor: base 0, limit 4 GiB (0xFFFFF in 4 KiB
/// units), 32-bit, present, at privilege `dpl`.
fn flat(b: DescriptorBuilder, dpl: Ring) -> Descriptor {
    b.limit_granularity_4kb().db().present().dpl(dpl).finish()
}

#[repr(C, align(8))]
struct Gdt([Descriptor; NGDT]);

/// The GDT, shared by all CPUs; the boot CPU fills in the flat segments,
/// each CPU its own TSS slots.
static mut GDT: Gdt = Gdt([Descriptor::NULL; NGDT]);

/// The flat segments are written once, by the first CPU to load the GDT.
static FLAT_SEGMENTS: spin::Once = spin::Once::new();

/// Loads the GDT and reloads every segment register (JOS's env_init_percpu).
pub fn gdt_init_percpu() {
    FLAT_SEGMENTS.call_once(|| {
        let code = CodeSegmentType::ExecuteRead;
        let data = DataSegmentType::ReadWrite;
        let segs = [
            (
                GD_KT,
                flat(
                    DescriptorBuilder::code_descriptor(0, 0xFFFFF, code),
                    Ring::Ring0,
                ),
            ),
            (
                GD_KD,
                flat(
                    DescriptorBuilder::data_descriptor(0, 0xFFFFF, data),
                    Ring::Ring0,
                ),
            ),
            (
                GD_UT,
                flat(
                    DescriptorBuilder::code_descriptor(0, 0xFFFFF, code),
                    Ring::Ring3,
                ),
            ),
            (
                GD_UD,
                flat(
                    DescriptorBuilder::data_descriptor(0, 0xFFFFF, data),
                    Ring::Ring3,
                ),
            ),
        ];
        for (sel, d) in segs {
            // SAFETY: this runs once, on the boot CPU, before any other
            // CPU starts or loads the GDT.
            unsafe { GDT.0[(sel >> 3) as usize] = d };
        }
    });
    let pd = DescriptorTablePointer::<Descriptor> {
        limit: (size_of::<Gdt>() - 1) as u16,
        base: (&raw const GDT).cast(),
    };
    let sel = SegmentSelector::from_raw;
    // SAFETY: the GDT's code and data descriptors are flat, so reloading the
    // segment registers does not move anything; load_cs reloads CS with a
    // far return to the next instruction.
    unsafe {
        dtables::lgdt(&pd);
        segmentation::load_gs(sel(GD_UD | 3));
        segmentation::load_fs(sel(GD_UD | 3));
        segmentation::load_es(sel(GD_KD));
        segmentation::load_ds(sel(GD_KD));
        segmentation::load_ss(sel(GD_KD));
        segmentation::load_cs(sel(GD_KT));
        dtables::load_ldtr(sel(0));
    }
}

/// Installs `ts` as CPU `cpu`'s TSS (at selector `sel`) in the GDT: an
/// available 32-bit TSS, byte granular, DPL 0.
///
/// # Safety
/// `ts` must stay valid as long as the CPU can use it (forever), and the
/// slot must belong to the calling CPU.
pub unsafe fn set_tss(sel: u16, ts: *const Taskstate) {
    let limit = (size_of::<Taskstate>() - 1) as u64;
    let d =
        <DescriptorBuilder as GateDescriptorBuilder<u32>>::tss_descriptor(ts as u64, limit, true)
            .present()
            .dpl(Ring::Ring0)
            .finish();
    // SAFETY: each CPU only writes its own slots, once, at start-up.
    unsafe { GDT.0[(sel >> 3) as usize] = d };
}

/// Loads the task register with `sel`.
///
/// # Safety
/// `sel` must name an available TSS descriptor.
pub unsafe fn ltr(sel: u16) {
    // SAFETY: the caller guarantees the descriptor.
    unsafe { x86::task::load_tr(SegmentSelector::from_raw(sel)) };
}
