//! Dotted IPv4 addresses (JOS's lwIP `inet_aton` / `inet_ntoa`); the
//! parsing is abi's (host-tested).
use core::fmt;

pub use abi::nsipc::{inet_aton, inet_checksum};

/// Shows four address bytes as "a.b.c.d" (`{}` formatting).
pub struct Dotted(pub [u8; 4]);

impl fmt::Display for Dotted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}
