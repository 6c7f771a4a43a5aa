//! Printing a Trapframe in JOS's format (print_trapframe).
use crate::arch::x86;
use abi::mmu::{FEC_PR, FEC_U, FEC_WR};
use abi::trap::{T_PGFLT, Trapframe, trapname};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The trap frame of the trap being handled, so print_trapframe knows when
/// CR2 is about this frame.
pub static LAST_TF: AtomicUsize = AtomicUsize::new(0);

/// Prints every register of `tf`, decoding the trap and page-fault error.
pub fn print_trapframe(tf: &Trapframe) {
    cprintf!(
        "TRAP frame at {:#010x} from CPU {}\n",
        tf as *const Trapframe as usize,
        crate::cpu::cpunum()
    );
    print_regs(tf);
    cprintf!("  es   0x----{:04x}\n", tf.tf_es);
    cprintf!("  ds   0x----{:04x}\n", tf.tf_ds);
    cprintf!("  trap 0x{:08x} {}\n", tf.tf_trapno, trapname(tf.tf_trapno));
    let is_last = LAST_TF.load(Ordering::Relaxed) == tf as *const Trapframe as usize;
    if is_last && tf.tf_trapno == T_PGFLT {
        cprintf!("  cr2  0x{:08x}\n", x86::rcr2());
    }
    cprintf!("  err  0x{:08x}", tf.tf_err);
    if tf.tf_trapno == T_PGFLT {
        let e = tf.tf_err;
        cprintf!(
            " [{}, {}, {}]\n",
            if e & FEC_U != 0 { "user" } else { "kernel" },
            if e & FEC_WR != 0 { "write" } else { "read" },
            if e & FEC_PR != 0 {
                "protection"
            } else {
                "not-present"
            }
        );
    } else {
        cprintf!("\n");
    }
    cprintf!("  eip  0x{:08x}\n", tf.tf_eip);
    cprintf!("  cs   0x----{:04x}\n", tf.tf_cs);
    cprintf!("  flag 0x{:08x}\n", tf.tf_eflags);
    if tf.tf_cs & 3 != 0 {
        cprintf!("  esp  0x{:08x}\n", tf.tf_esp);
        cprintf!("  ss   0x----{:04x}\n", tf.tf_ss);
    }
}

/// Prints the general registers.
pub fn print_regs(tf: &Trapframe) {
    let r = &tf.tf_regs;
    cprintf!("  edi  0x{:08x}\n", r.reg_edi);
    cprintf!("  esi  0x{:08x}\n", r.reg_esi);
    cprintf!("  ebp  0x{:08x}\n", r.reg_ebp);
    cprintf!("  oesp 0x{:08x}\n", r.reg_oesp);
    cprintf!("  ebx  0x{:08x}\n", r.reg_ebx);
    cprintf!("  edx  0x{:08x}\n", r.reg_edx);
    cprintf!("  ecx  0x{:08x}\n", r.reg_ecx);
    cprintf!("  eax  0x{:08x}\n", r.reg_eax);
}
