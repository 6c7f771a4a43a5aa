// make: FS=1
//! demandpage: demand-paged spawn, measured. Spawns `pagein` twice, the
//! second while the first is still alive: each reports how many of its
//! program's pages are present (only those it touched) and how many of its
//! read-only pages are the same physical pages as the other copy's (text
//! shared through the file server's block cache, not copied). A third
//! copy touches all its data first, for comparison.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use abi::mmu::{PGSIZE, PteFlags};
use jos::cprintf;

jos::main!(umain);

fn umain(_args: &[&str]) {
    let size = match jos::file::open("/pagein", O_RDONLY).and_then(|fd| {
        let st = jos::fd::fstat(fd);
        let _ = jos::fd::close(fd);
        st
    }) {
        Ok(st) => st.size as usize,
        Err(e) => panic!("demandpage: /pagein: {e}"),
    };
    cprintf!(
        "demandpage: /pagein is {} bytes ({} pages) on disk\n",
        size,
        size.div_ceil(PGSIZE)
    );
    let first = match jos::spawnl!("/pagein", "pagein", "wait") {
        Ok(id) => id,
        Err(e) => panic!("demandpage: spawn: {e}"),
    };
    // Ready: it has counted its pages and waits.
    let m = jos::ipc_recv(None).expect("ipc_recv");
    assert_eq!(m.from, first);
    let second = match jos::spawnl!("/pagein", "pagein") {
        Ok(id) => id,
        Err(e) => panic!("demandpage: spawn: {e}"),
    };
    jos::env::wait(second);
    let third = match jos::spawnl!("/pagein", "pagein", "all") {
        Ok(id) => id,
        Err(e) => panic!("demandpage: spawn: {e}"),
    };
    jos::env::wait(third);
    jos::ipc_send(first, 0, None, PteFlags::empty());
    jos::env::wait(first);
    cprintf!("demandpage: done\n");
}
