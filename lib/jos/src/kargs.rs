//! The kernel's command-line words, read by user programs: the network's
//! settings (`mac=`), and the switches MIT's grader gives as C flags,
//! which the GNUmakefile turns into words (`INIT_CFLAGS=-DTEST_NO_NS`
//! becomes `TEST_NO_NS`, `NET_CFLAGS=-DTESTOUTPUT_COUNT=5` becomes
//! `TESTOUTPUT_COUNT=5`), so that a test changes them without a rebuild.
//!
//!     let k = jos::kargs::kargs();
//!     let n = k.arg("TESTOUTPUT_COUNT").and_then(|v| v.parse().ok()).unwrap_or(10);
//!
//! The words are the kernel's (`sys_kern_cmdline`), the same for every
//! env; the parsing is abi::net's, the kernel's too.
use crate::syscall::sys_kern_cmdline;
use abi::net::Mac;

/// The most of the command line read (the kernel keeps 256 bytes).
const KARGS_MAX: usize = 512;

/// A copy of the kernel's command line.
pub struct Kargs {
    buf: [u8; KARGS_MAX],
    len: usize,
}

/// Reads the kernel's command line. Cannot fail: a line the kernel could
/// not copy (it cannot happen: the buffer is ours) reads as empty.
pub fn kargs() -> Kargs {
    let mut k = Kargs {
        buf: [0; KARGS_MAX],
        len: 0,
    };
    k.len = sys_kern_cmdline(&mut k.buf).map_or(0, |n| n.min(KARGS_MAX));
    k
}

impl Kargs {
    /// The whole line ("" if it is not UTF-8, which the kernel's is).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The value of the word `key=value`, if there is one.
    pub fn arg(&self, key: &str) -> Option<&str> {
        abi::net::cmdline_arg(self.as_str(), key)
    }

    /// Whether the bare word `flag` is there.
    pub fn flag(&self, flag: &str) -> bool {
        abi::net::cmdline_flag(self.as_str(), flag)
    }

    /// The value of `key=N` as a number, if there and a number.
    pub fn arg_u32(&self, key: &str) -> Option<u32> {
        self.arg(key)?.parse().ok()
    }

    /// The E1000's MAC address, as the kernel set it: `mac=`'s, else (no
    /// word, or a bad one, which the kernel reported at boot) QEMU's
    /// default 52:54:00:12:34:56.
    pub fn mac(&self) -> Mac {
        abi::net::cmdline_mac(self.as_str()).unwrap_or(abi::net::DEFAULT_MAC)
    }
}
