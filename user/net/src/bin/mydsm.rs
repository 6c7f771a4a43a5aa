// make: FS=1 NS=1
//! mydsm: the README's own DSM fault handler (Shared memory across
//! machines, "Replacing the handler"), registered over the range after
//! dsm_attach: it prints each write fault and asks the daemon itself
//! (`dsm_request`). Each machine writes its node number into its word of
//! page 0, waits at a barrier (page 1), and reads the other's word.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use jos::cprintf;
use jos::dsm::sync::Barrier;
use jos::dsm::{DSM_BASE, dsm_attach_kargs, dsm_request};
use jos::pgfault::{Fault, add_region};

jos::main!(umain);

fn my_dsm_fault(utf: &mut abi::trap::UTrapframe) -> Fault {
    let (va, write) = (
        utf.utf_fault_va as usize,
        utf.utf_err & abi::mmu::FEC_WR != 0,
    );
    if write {
        cprintf!("write fault at {:#x}\n", va);
    }
    match dsm_request(va, write) {
        Ok(()) => Fault::Handled,
        Err(_) => Fault::Declined, // not in the range, or the memory is lost
    }
}

fn umain(_args: &[&str]) {
    let d = dsm_attach_kargs(DSM_BASE, 2 * 4096).expect("dsm_attach");
    add_region(d.base(), d.base() + d.len(), "my dsm", my_dsm_fault).expect("add_region");
    let me = d.node() as usize;
    let other = 1 - me.min(1);
    let words: &AtomicU32 = d.at(4 * me);
    words.store(100 + me as u32, Ordering::Relaxed);
    d.at::<Barrier>(4096).wait(d.nodes() as u32);
    let theirs: &AtomicU32 = d.at(4 * other);
    cprintf!(
        "mydsm: node {} reads {} from node {}\n",
        me,
        theirs.load(Ordering::Relaxed),
        other
    );
    d.at::<Barrier>(4096).wait(d.nodes() as u32);
    d.detach();
}
