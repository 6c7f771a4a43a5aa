//! The server's addresses, from the kernel's command line: `ip=a.b.c.d`,
//! `mask=a.b.c.d` (or `ip=a.b.c.d/n`), `gw=a.b.c.d`, `mac=xx:xx:xx:xx:xx:xx`.
//! A word that does not parse is ignored, with a message, and the default
//! stays: QEMU's user network (10.0.2.15/24 via 10.0.2.2, and QEMU's first
//! card's MAC, 52:54:00:12:34:56).
use abi::net::parse_mac;
use abi::nsipc::{inet_aton, mask_prefix, parse_cidr};
use jos::cprintf;

/// The addresses.
#[derive(Clone, Copy)]
pub struct Config {
    pub ip: [u8; 4],
    pub prefix: u8,
    pub gw: [u8; 4],
    pub mac: [u8; 6],
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ip: [10, 0, 2, 15],
            prefix: 24,
            gw: [10, 0, 2, 2],
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
        }
    }
}

impl Config {
    /// The configuration from the words of the kernel's command line.
    pub fn from_cmdline() -> Config {
        let mut c = Config::default();
        crate::helpers::for_each_karg(|w| c.word(w));
        c
    }

    /// Takes one command-line word (others than ours are ignored).
    pub fn word(&mut self, w: &str) {
        let Some((k, v)) = w.split_once('=') else {
            return;
        };
        let ok = match k {
            "ip" => parse_cidr(v, self.prefix)
                .map(|(ip, p)| {
                    self.ip = ip;
                    self.prefix = p;
                })
                .is_some(),
            "mask" => inet_aton(v)
                .and_then(mask_prefix)
                .map(|p| self.prefix = p)
                .is_some(),
            "gw" => inet_aton(v).map(|g| self.gw = g).is_some(),
            "mac" => parse_mac(v).map(|m| self.mac = m).is_some(),
            _ => true,
        };
        if !ok {
            cprintf!("ns: ignoring {}: not an address\n", w);
        }
    }
}
