//! Dotted IPv4 addresses (JOS's lwIP `inet_aton` / `inet_ntoa`).
use core::fmt;

/// Parses "a.b.c.d" (each part 0-255); returns the four bytes, or None if
/// `s` is not such an address.
pub fn inet_aton(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *b = p.parse::<u16>().ok().filter(|&v| v <= 255)? as u8;
    }
    parts.next().is_none().then_some(out)
}

/// Shows four address bytes as "a.b.c.d" (`{}` formatting).
pub struct Dotted(pub [u8; 4]);

impl fmt::Display for Dotted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}
