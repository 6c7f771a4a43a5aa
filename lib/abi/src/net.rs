//! The network's shared definitions (JOS's inc/ns.h, lab 6): the frame
//! limits of the E1000 system calls, the network server's request numbers
//! (`NSREQ_*`), the `jif_pkt` page that carries one frame between the
//! server and its input and output helpers, and the MAC address that the
//! kernel command-line word `mac=` sets (the driver programs it into the
//! card, the user library reads the same word, so both agree).
//!
//! How a frame moves (see lib/jos/src/net):
//!
//! ```text
//!   out: server --NSREQ_OUTPUT, a jif_pkt page--> output helper
//!               --sys_net_try_transmit--> kernel TX ring --> wire
//!   in:  wire --> kernel RX ring --sys_net_try_receive--> input helper
//!               --NSREQ_INPUT, a fresh jif_pkt page--> server
//! ```
use crate::mmu::PGSIZE;

/// The longest frame the system calls move: 1518 bytes (the Ethernet
/// header, 1500 of payload, a VLAN tag; no CRC, which the card adds and
/// strips).
pub const MAX_FRAME: usize = 1518;

/// Requests to the network server (JOS's `NSREQ_*`, same numbers). The
/// socket calls pass a page holding their arguments.
pub const NSREQ_ACCEPT: u32 = 1;
/// Bind a socket.
pub const NSREQ_BIND: u32 = 2;
/// Shut a socket down.
pub const NSREQ_SHUTDOWN: u32 = 3;
/// Close a socket.
pub const NSREQ_CLOSE: u32 = 4;
/// Connect a socket.
pub const NSREQ_CONNECT: u32 = 5;
/// Listen on a socket.
pub const NSREQ_LISTEN: u32 = 6;
/// Receive from a socket.
pub const NSREQ_RECV: u32 = 7;
/// Send on a socket.
pub const NSREQ_SEND: u32 = 8;
/// Make a socket.
pub const NSREQ_SOCKET: u32 = 9;
/// A frame that arrived: the input helper sends it to the server, on a
/// page holding a [`JifPkt`].
pub const NSREQ_INPUT: u32 = 10;
/// A frame to send: the server sends it to the output helper (the only
/// request that goes *from* the server), on a page holding a [`JifPkt`].
pub const NSREQ_OUTPUT: u32 = 11;
/// A tick of the server's timer (no page).
pub const NSREQ_TIMER: u32 = 12;

/// The head of a page carrying one frame (JOS's `struct jif_pkt { int
/// jp_len; char jp_data[]; }`): the length, then the frame's bytes from
/// offset [`JP_DATA`]. A length outside `1..=MAX_FRAME` is a bad packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JifPkt {
    /// The frame's length in bytes.
    pub jp_len: i32,
}

/// Where the frame's bytes start in a jif_pkt page.
pub const JP_DATA: usize = core::mem::size_of::<JifPkt>();

/// The most bytes a jif_pkt page can hold.
pub const JP_MAX: usize = PGSIZE - JP_DATA;

const _: () = assert!(MAX_FRAME <= JP_MAX);

/// The length of the frame a jif_pkt page says it holds, if it is one the
/// system calls take (1..=MAX_FRAME); None for a bad length.
pub fn jp_len_ok(jp_len: i32) -> Option<usize> {
    usize::try_from(jp_len)
        .ok()
        .filter(|n| (1..=MAX_FRAME).contains(n))
}

/// Where the network server receives requests and jif_pkt pages (JOS's
/// net/ns.h `REQVA`: below the file server's DISKMAP, above any heap a
/// program of less than 250 MiB grows).
pub const REQVA: usize = 0x0FFF_F000 - 20 * PGSIZE;
/// Where the output helper receives the server's NSREQ_OUTPUT pages.
pub const OUTPUT_PKT_VA: usize = REQVA - PGSIZE;
/// Where the input helper builds each NSREQ_INPUT page (a fresh one per
/// frame).
pub const INPUT_PKT_VA: usize = REQVA - 2 * PGSIZE;

/// An Ethernet (MAC) address.
pub type Mac = [u8; 6];

/// Shows a MAC address as `52:54:00:12:34:56` (`{}` formatting).
pub struct MacFmt(pub Mac);

impl core::fmt::Display for MacFmt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The MAC address without a `mac=` word: QEMU's default for its first
/// card, and the one JOS's programs hard-code.
pub const DEFAULT_MAC: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// Parses `52:54:00:12:34:56` (six two-digit hex bytes, `:` between);
/// None if it is not that, or a multicast address (the low bit of the
/// first byte set), which no card may take as its own.
pub fn parse_mac(s: &str) -> Option<Mac> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    if parts.next().is_some() || mac[0] & 1 != 0 {
        return None;
    }
    Some(mac)
}

/// The value of the word `key=value` in a kernel command line, if present
/// (the first such word).
pub fn cmdline_arg<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline.split_ascii_whitespace().find_map(|w| {
        let (k, v) = w.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Whether the bare word `flag` is in a kernel command line.
pub fn cmdline_flag(cmdline: &str, flag: &str) -> bool {
    cmdline.split_ascii_whitespace().any(|w| w == flag)
}

/// The MAC address a kernel command line gives (`mac=`): Ok(DEFAULT_MAC)
/// without the word, Err(the word's value) for a bad one (the kernel then
/// says so and uses DEFAULT_MAC, and so must its readers).
pub fn cmdline_mac(cmdline: &str) -> Result<Mac, &str> {
    match cmdline_arg(cmdline, "mac") {
        None => Ok(DEFAULT_MAC),
        Some(v) => parse_mac(v).ok_or(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_shown_as_typed() {
        use alloc::format;
        assert_eq!(format!("{}", MacFmt(DEFAULT_MAC)), "52:54:00:12:34:56");
        assert_eq!(
            format!("{}", MacFmt([0xfe, 0, 1, 0xab, 0x10, 9])),
            "fe:00:01:ab:10:09"
        );
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac("52:54:00:12:34:56"), Some(DEFAULT_MAC));
        assert_eq!(
            parse_mac("52:54:00:AB:cd:0f"),
            Some([0x52, 0x54, 0, 0xab, 0xcd, 0x0f])
        );
        for bad in [
            "",
            "52:54:00:12:34",
            "52:54:00:12:34:56:78",
            "52:54:00:12:34:5",
            "52:54:00:12:34:567",
            "52:54:00:12:34:5g",
            "52-54-00-12-34-56",
            "+2:54:00:12:34:56",
            "01:00:5e:00:00:01", // multicast
            "ff:ff:ff:ff:ff:ff",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn cmdline_words() {
        let c = "run=x  mac=52:54:00:12:34:57 TEST_NO_NS TESTOUTPUT_COUNT=5";
        assert_eq!(cmdline_arg(c, "run"), Some("x"));
        assert_eq!(cmdline_arg(c, "TESTOUTPUT_COUNT"), Some("5"));
        assert_eq!(cmdline_arg(c, "TEST_NO_NS"), None);
        assert!(cmdline_flag(c, "TEST_NO_NS"));
        assert!(!cmdline_flag(c, "TEST"));
        assert_eq!(cmdline_mac(c), Ok([0x52, 0x54, 0, 0x12, 0x34, 0x57]));
        assert_eq!(cmdline_mac("run=x"), Ok(DEFAULT_MAC));
        assert_eq!(cmdline_mac("mac=zz"), Err("zz"));
    }

    #[test]
    fn jif_pkt() {
        assert_eq!(JP_DATA, 4);
        assert_eq!(jp_len_ok(0), None);
        assert_eq!(jp_len_ok(-1), None);
        assert_eq!(jp_len_ok(1), Some(1));
        assert_eq!(jp_len_ok(1518), Some(1518));
        assert_eq!(jp_len_ok(1519), None);
        assert_eq!(
            (
                NSREQ_ACCEPT,
                NSREQ_SOCKET,
                NSREQ_INPUT,
                NSREQ_OUTPUT,
                NSREQ_TIMER
            ),
            (1, 9, 10, 11, 12)
        );
    }
}
