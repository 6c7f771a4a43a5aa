// make: FS=1
//! mmapcat: prints files through read-only memory mappings (issue 13):
//! `mmapcat FILE...` prints what `cat FILE...` prints, but each file is
//! mapped MAP_PRIVATE and PROT_READ and written to descriptor 1 straight
//! from the mapping (its pages come from the file server's block cache on
//! first touch, one fault per page). Writing to a file (`mmapcat a > b`)
//! copies from the mapping into the file request page: the mapping's
//! faults then take the fault path's own request page.
#![no_std]
#![no_main]

use abi::fsipc::O_RDONLY;
use jos::fd::{close, fstat};
use jos::file::open;
use jos::vm::mmap::{MAP_PRIVATE, PROT_READ, mmap, munmap};
use user::cli::write_all;
use user::warn;

jos::main!(umain);

/// Opens the file at `path` and maps all of it read-only; returns the
/// mapping's address and size, None for an empty file (a mapping of 0
/// bytes is an error), or the error.
fn map_file(path: &str) -> abi::error::Result<Option<(usize, usize)>> {
    let fd = open(path, O_RDONLY)?;
    let r = fstat(fd).and_then(|st| match st.size as usize {
        0 => Ok(None),
        n => mmap(n, PROT_READ, MAP_PRIVATE, Some(fd), 0).map(|va| Some((va, n))),
    });
    // The mapping holds the file by a descriptor of its own.
    let _ = close(fd);
    r
}

/// Prints the file at `path` through a mapping of it. Returns false if the
/// output went away (so the caller stops).
fn mmapcat(path: &str) -> bool {
    let (va, size) = match map_file(path) {
        Ok(Some(m)) => m,
        Ok(None) => return true,
        Err(e) => {
            warn!("can't open {}: {}", path, e);
            return true;
        }
    };
    // SAFETY: [va, va + size) is our read-only mapping of the file, whole
    // pages of which are faulted in as they are read; nothing writes it.
    let bytes = unsafe { core::slice::from_raw_parts(va as *const u8, size) };
    let r = write_all(1, bytes);
    if let Err(e) = munmap(va, size) {
        warn!("munmap {}: {}", path, e);
    }
    match r {
        Ok(()) => true,
        Err(abi::error::Error::Eof) => false,
        Err(e) => {
            warn!("write error copying {}: {}", path, e);
            false
        }
    }
}

fn umain(argv: &[&str]) {
    if argv.len() <= 1 {
        warn!("usage: mmapcat FILE...");
        return;
    }
    for path in &argv[1..] {
        if !mmapcat(path) {
            return;
        }
    }
}
