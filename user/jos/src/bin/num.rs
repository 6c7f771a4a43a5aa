// make: FS=1
//! num: copies files (or descriptor 0) to descriptor 1, numbering the
//! lines (`%5d ` before each, counting on across files), as JOS's
//! user/num.c.
#![no_std]
#![no_main]

use abi::error::Error;
use abi::fsipc::O_RDONLY;
use jos::alloc::vec::Vec;
use jos::fd::{close, read};
use jos::file::open;
use jos::printf::format_into;
use user::cli::write_all;
use user::warn;

jos::main!(umain);

/// Where numbering is: at the beginning of a line, and lines so far.
struct Num {
    bol: bool,
    line: u32,
}

impl Num {
    /// Copies descriptor `f` (named `name` in messages), numbered.
    /// Returns false if the output went away.
    fn num(&mut self, f: usize, name: &str) -> bool {
        let mut buf = [0u8; 512];
        loop {
            let n = match read(f, &mut buf) {
                Ok(0) => return true,
                Ok(n) => n,
                Err(e) => {
                    warn!("error reading {}: {}", name, e);
                    return true;
                }
            };
            let mut out: Vec<u8> = Vec::with_capacity(2 * n);
            for &c in &buf[..n] {
                if self.bol {
                    self.line += 1;
                    let mut no = [0u8; 16];
                    let k = format_into(&mut no, format_args!("{:5} ", self.line));
                    out.extend_from_slice(&no[..k]);
                    self.bol = false;
                }
                out.push(c);
                if c == b'\n' {
                    self.bol = true;
                }
            }
            match write_all(1, &out) {
                Ok(()) => {}
                // The reader went away (`num f | head`): stop quietly.
                Err(Error::Eof) => return false,
                Err(e) => {
                    warn!("write error copying {}: {}", name, e);
                    return false;
                }
            }
        }
    }
}

fn umain(argv: &[&str]) {
    let mut num = Num { bol: true, line: 0 };
    if argv.len() <= 1 {
        num.num(0, "<stdin>");
        return;
    }
    for path in &argv[1..] {
        match open(path, O_RDONLY) {
            Ok(f) => {
                let go_on = num.num(f, path);
                let _ = close(f);
                if !go_on {
                    return;
                }
            }
            Err(e) => warn!("can't open {}: {}", path, e),
        }
    }
}
