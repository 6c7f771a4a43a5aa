//! What the command-line programs (cat, ls, wc, grep, cp, ...) share:
//! error messages with the program's name, writing a whole buffer,
//! reading a descriptor line by line, and the `from... to` arguments of
//! cp and mv.
use abi::error::Result;
use jos::alloc::string::String;
use jos::alloc::vec::Vec;
use jos::fd::{read, stat, write};

/// Prints `prog: message` and a newline to descriptor 2 if it is open
/// for writing, else to the console (JOS's programs run with only 0 and
/// 1 open). Use [`warn!`](crate::warn) to call it.
pub fn warn(args: core::fmt::Arguments) {
    // Formatted straight into the descriptor's buffer (no String: the
    // heap and its allocator stay out of programs that need neither);
    // nothing written to 2 means it is not open for writing.
    let name = jos::entry::binaryname();
    if jos::fprintf::vfprintf(2, format_args!("{}: {}\n", name, args)).is_err() {
        jos::cprintf!("{}: {}\n", name, args);
    }
}

/// `warn!("open {}: {}", path, e)` prints `prog: open path: error`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        $crate::cli::warn(format_args!($($arg)*))
    };
}

/// Writes all of `buf` to descriptor `fd`, however many writes that
/// takes. E_EOF if the other end stopped taking bytes (a pipe with no
/// reader), or write's error.
pub fn write_all(fd: usize, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        match write(fd, buf)? {
            0 => return Err(abi::error::Error::Eof),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// Reads descriptor `fd` to its end, calling `line` with each line (its
/// newline included, if it has one: the last may not) until it returns
/// false. Returns read's error, if any.
pub fn for_each_line(fd: usize, mut line: impl FnMut(&[u8]) -> bool) -> Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = read(fd, &mut buf)?;
        if n == 0 {
            if !pending.is_empty() {
                line(&pending);
            }
            return Ok(());
        }
        let mut chunk = &buf[..n];
        while let Some(i) = chunk.iter().position(|&c| c == b'\n') {
            let go_on = if pending.is_empty() {
                line(&chunk[..=i])
            } else {
                pending.extend_from_slice(&chunk[..=i]);
                let go_on = line(&pending);
                pending.clear();
                go_on
            };
            if !go_on {
                return Ok(());
            }
            chunk = &chunk[i + 1..];
        }
        pending.extend_from_slice(chunk);
    }
}

/// The last component of `path` ("/a/b/" gives "b"; "/" gives "").
pub fn basename(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// `dir` + "/" + `name` (no doubled slash).
pub fn join(dir: &str, name: &str) -> String {
    let mut p = String::from(dir.trim_end_matches('/'));
    p.push('/');
    p.push_str(name);
    p
}

/// The arguments of `cp` and `mv` (`argv`, the program's name first):
/// `prog from to`, or `prog path... dir` (each into `dir` under its own
/// name; also when `to` is an existing directory). Calls `f(from, to)`
/// once per source with the path it goes to. With fewer than two paths
/// it warns `usage` and calls nothing; with several sources and a `to`
/// that is not a directory, it warns `to: not a directory`.
pub fn for_each_source(argv: &[&str], usage: &str, mut f: impl FnMut(&str, &str)) {
    let args = argv.get(1..).unwrap_or(&[]);
    let Some((to, froms)) = args.split_last().filter(|(_, f)| !f.is_empty()) else {
        return warn(format_args!("{}", usage));
    };
    let to_dir = stat(to).map(|st| st.isdir).unwrap_or(false);
    if froms.len() > 1 && !to_dir {
        return warn(format_args!("{}: not a directory", to));
    }
    for from in froms {
        if to_dir {
            f(from, &join(to, basename(from)));
        } else {
            f(from, to);
        }
    }
}
