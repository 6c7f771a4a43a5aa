//! Whether a running QEMU has an image open: `make` must not rewrite the
//! disk under a file server that is using it.
//!
//! QEMU (since 2.10) marks each image it opens with open-file-description
//! locks on bytes 100.. and 200.. of the file (`RAW_LOCK_PERM_BASE`,
//! `RAW_LOCK_SHARED_BASE` in its block/file-posix.c), one byte per
//! permission it holds or refuses to share; even with `-snapshot` it holds
//! shared ones on the image beneath. Asking whether a write lock over those
//! bytes could be taken (`F_OFD_GETLK`, which takes nothing) tells whether
//! any QEMU holds one.

use std::fs::File;

/// The bytes QEMU locks: both bases and every permission bit after them.
const QEMU_LOCK_START: i64 = 100;
const QEMU_LOCK_LEN: i64 = 200;

/// Returns whether some process (a QEMU) holds a lock on `f`'s bytes
/// 100..300; false when it cannot tell (another OS, or the query failed).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub fn locked_by_qemu(f: &File) -> bool {
    use std::os::fd::AsRawFd;
    let mut l = Flock::query(libc_consts::F_WRLCK);
    // SAFETY: fcntl(F_OFD_GETLK) reads and writes one `struct flock`,
    // which `l` is (the 64-bit Linux layout), and does not keep the pointer;
    // the descriptor is open for the whole call.
    let r = unsafe { fcntl(f.as_raw_fd(), libc_consts::F_OFD_GETLK, &raw mut l) };
    r == 0 && l.l_type != libc_consts::F_UNLCK
}

/// Returns false: other systems are not checked.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub fn locked_by_qemu(_f: &File) -> bool {
    false
}

/// Takes a shared lock on `f`'s byte 100, as a QEMU holding the image
/// does, for as long as `f` stays open (tests use it to stand in for
/// QEMU). Returns whether it was taken.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub fn lock_as_qemu(f: &File) -> bool {
    use std::os::fd::AsRawFd;
    let mut l = Flock::query(libc_consts::F_RDLCK);
    l.l_len = 1;
    // SAFETY: as in `locked_by_qemu`; F_OFD_SETLK only reads `l`.
    unsafe { fcntl(f.as_raw_fd(), libc_consts::F_OFD_SETLK, &raw mut l) == 0 }
}

/// Linux's `struct flock` on 64-bit machines (x86-64, arm64: the generic
/// layout, `off_t` 64 bits).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[repr(C)]
struct Flock {
    l_type: i16,
    l_whence: i16,
    l_start: i64,
    l_len: i64,
    l_pid: i32,
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
impl Flock {
    /// A lock of type `l_type` on QEMU's bytes (l_pid must be 0 for OFD locks).
    fn query(l_type: i16) -> Flock {
        Flock {
            l_type,
            l_whence: 0, // SEEK_SET
            l_start: QEMU_LOCK_START,
            l_len: QEMU_LOCK_LEN,
            l_pid: 0,
        }
    }
}

/// The constants of Linux's <fcntl.h> this needs (the same on every
/// architecture).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod libc_consts {
    pub const F_OFD_GETLK: i32 = 36;
    pub const F_OFD_SETLK: i32 = 37;
    pub const F_RDLCK: i16 = 0;
    pub const F_WRLCK: i16 = 1;
    pub const F_UNLCK: i16 = 2;
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
unsafe extern "C" {
    /// The C library's fcntl(2) (std links it already).
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
}

#[cfg(all(test, target_os = "linux", target_pointer_width = "64"))]
mod tests {
    use super::*;

    #[test]
    fn a_qemu_style_lock_is_seen_and_goes_with_its_file() {
        let path = std::env::temp_dir().join(format!("fsformat-inuse-{}", std::process::id()));
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        let ours = File::open(&path).unwrap();
        assert!(!locked_by_qemu(&ours));
        {
            // OFD locks belong to the open file, not the process: a second
            // open stands in for QEMU's.
            let qemu = File::open(&path).unwrap();
            assert!(lock_as_qemu(&qemu));
            assert!(locked_by_qemu(&ours));
        }
        assert!(!locked_by_qemu(&ours));
        std::fs::remove_file(&path).unwrap();
    }
}
